//! `es check`: every stored event decodes with the application's types, and
//! no stream misses a version.

use std::collections::BTreeMap;
use std::io::Write;

use es_core::admin::{AggregateKind, ScannedEvent, printable};
use serde::Serialize;

use crate::error::Error;
use crate::output::{Output, table};
use crate::store::Store;

/// Events read per page.
const PAGE: usize = 1000;

#[derive(Debug, Default, Serialize)]
struct Report {
    events: u64,
    streams: u64,
    problems: Vec<Problem>,
}

#[derive(Debug, Serialize)]
struct Problem {
    stream_id: String,
    version: u64,
    problem: String,
}

/// What `check` has seen so far.
#[derive(Default)]
struct Checker {
    report: Report,
    /// The stream being read and the version its next event should have.
    stream: Option<(String, u64)>,
    /// Events of aggregate types nothing registered: type → (count, first stream, its version).
    unregistered: BTreeMap<String, (u64, String, u64)>,
}

impl Checker {
    fn check(&mut self, aggregates: &[Box<dyn AggregateKind>], row: ScannedEvent) {
        self.report.events += 1;
        let expected = match &self.stream {
            Some((stream_id, next)) if *stream_id == row.stream_id => *next,
            _ => {
                self.report.streams += 1;
                1
            }
        };
        if row.version != expected {
            let missing = if row.version == expected + 1 {
                format!("version {expected} is missing")
            } else {
                format!("versions {expected} to {} are missing", row.version - 1)
            };
            self.problem(&row, missing);
        }
        self.stream = Some((row.stream_id.clone(), row.version + 1));
        match aggregates.iter().find(|a| a.name() == row.aggregate_type) {
            Some(aggregate) => {
                if let Err(e) = aggregate.check(&row.event) {
                    self.problem(&row, es_core::ErrorReport::new(&e).to_string());
                }
            }
            None => {
                let seen = self.unregistered.entry(row.aggregate_type).or_insert((0, row.stream_id, row.version));
                seen.0 += 1;
            }
        }
    }

    fn problem(&mut self, row: &ScannedEvent, problem: String) {
        self.report.problems.push(Problem { stream_id: row.stream_id.clone(), version: row.version, problem });
    }

    fn finish(mut self) -> Report {
        for (aggregate_type, (count, stream_id, version)) in self.unregistered {
            let problem = format!(
                "{count} event(s) of aggregate type `{aggregate_type}`, which no registered aggregate has \
                 (first in this stream); register it with `.aggregate::<T>()`"
            );
            self.report.problems.push(Problem { stream_id, version, problem });
        }
        self.report
    }
}

/// `es check`; fails with [`Error::CheckFailed`] after printing the report
/// when it found a problem.
pub(crate) async fn run(
    store: &Store,
    aggregates: &[Box<dyn AggregateKind>],
    out: &mut Output<'_>,
) -> Result<(), Error> {
    if aggregates.is_empty() {
        return Err(Error::NeedsApplication { command: "check", needs: "aggregates" });
    }
    let mut checker = Checker::default();
    let mut after: Option<(String, u64)> = None;
    loop {
        let page = store.admin.scan(after.as_ref().map(|(s, v)| (s.as_str(), *v)), PAGE).await?;
        let Some(last) = page.last() else { break };
        after = Some((last.stream_id.clone(), last.version));
        for event in page {
            checker.check(aggregates, event);
        }
    }
    let report = checker.finish();
    out.emit(&report, |w, r| write_report(w, r))?;
    match report.problems.len() {
        0 => Ok(()),
        problems => Err(Error::CheckFailed { problems }),
    }
}

fn write_report(w: &mut dyn Write, r: &Report) -> std::io::Result<()> {
    if !r.problems.is_empty() {
        let rows: Vec<Vec<String>> = r
            .problems
            .iter()
            .map(|p| {
                vec![printable(&p.stream_id).into_owned(), p.version.to_string(), printable(&p.problem).into_owned()]
            })
            .collect();
        table(w, &["STREAM", "VERSION", "PROBLEM"], &rows)?;
    }
    writeln!(w, "checked {} events in {} streams: {} problem(s)", r.events, r.streams, r.problems.len())
}
