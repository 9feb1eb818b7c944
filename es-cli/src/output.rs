//! How results are printed: aligned tables for people, JSON for scripts.

use std::io::{self, Write};
use std::time::{Duration, SystemTime};

use serde::Serialize;

use crate::error::Error;

/// Where a command prints, and in which form.
pub(crate) struct Output<'a> {
    out: &'a mut dyn Write,
    json: bool,
}

impl<'a> Output<'a> {
    pub(crate) fn new(out: &'a mut dyn Write, json: bool) -> Self {
        Output { out, json }
    }

    /// Prints `value` as pretty JSON with `--json`, else as `human` writes it.
    pub(crate) fn emit<T: Serialize>(
        &mut self,
        value: &T,
        human: impl FnOnce(&mut dyn Write, &T) -> io::Result<()>,
    ) -> Result<(), Error> {
        if self.json {
            let text =
                serde_json::to_string_pretty(value).map_err(|source| Error::Json { what: "the output", source })?;
            writeln!(self.out, "{text}")?;
        } else {
            human(self.out, value)?;
        }
        Ok(())
    }

    /// Prints one item of a growing listing: a JSON line with `--json`, else
    /// as `human` writes it. Flushed, so a follower sees it at once.
    pub(crate) fn line<T: Serialize>(
        &mut self,
        value: &T,
        human: impl FnOnce(&mut dyn Write, &T) -> io::Result<()>,
    ) -> Result<(), Error> {
        if self.json {
            let text = serde_json::to_string(value).map_err(|source| Error::Json { what: "the output", source })?;
            writeln!(self.out, "{text}")?;
        } else {
            human(self.out, value)?;
        }
        self.out.flush()?;
        Ok(())
    }
}

/// Writes `rows` under `header` in columns two spaces apart.
pub(crate) fn table(out: &mut dyn Write, header: &[&str], rows: &[Vec<String>]) -> io::Result<()> {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let header: Vec<String> = header.iter().map(|h| (*h).to_owned()).collect();
    for row in std::iter::once(&header).chain(rows) {
        let mut line = String::new();
        for (i, (cell, width)) in row.iter().zip(&widths).enumerate() {
            if i > 0 {
                line.push_str("  ");
            }
            line.push_str(cell);
            if i + 1 < row.len() {
                line.extend(std::iter::repeat_n(' ', width - cell.chars().count()));
            }
        }
        writeln!(out, "{line}")?;
    }
    Ok(())
}

/// A time for people: RFC 3339 in UTC, to the second.
pub(crate) fn time(at: SystemTime) -> String {
    humantime::format_rfc3339_seconds(at).to_string()
}

/// A time for scripts: RFC 3339 in UTC, to the microsecond.
pub(crate) fn time_exact(at: SystemTime) -> String {
    humantime::format_rfc3339_micros(at).to_string()
}

/// A duration for people, to the second ("1h 2m 5s", "0s").
pub(crate) fn duration(d: Duration) -> String {
    humantime::format_duration(Duration::from_secs(d.as_secs())).to_string()
}

/// `value`, or `-` when there is none.
pub(crate) fn or_dash(value: Option<String>) -> String {
    value.unwrap_or_else(|| "-".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_line_up_and_the_last_is_not_padded() {
        let mut out = Vec::new();
        let rows = vec![vec!["acc-1".to_owned(), "3".to_owned()], vec!["a".to_owned(), "12".to_owned()]];
        table(&mut out, &["STREAM", "VERSION"], &rows).unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), "STREAM  VERSION\nacc-1   3\na       12\n");
    }

    #[test]
    fn durations_are_shown_to_the_second() {
        assert_eq!(duration(Duration::from_millis(3_723_400)), "1h 2m 3s");
        assert_eq!(duration(Duration::from_millis(400)), "0s");
    }
}
