//! [`ErrorReport`]: an error and its causes, for people to read.

use std::error::Error;
use std::fmt;

/// An error with its chain of causes ([`Error::source`]), each text once:
/// a cause whose text the lines before already carry is left out, so an
/// error that names its cause in its own message does not say it twice.
///
/// `{}` writes it on one line, the causes after `: `; `{:#}` writes one
/// cause per line, after `caused by: `. The CLI, the console, projection
/// stop reasons and parked events all print errors this way; use it for
/// the errors of your own code too.
///
/// ```
/// use es_core::ErrorReport;
///
/// #[derive(Debug, thiserror::Error)]
/// #[error("cannot load the order")]
/// struct Load(#[source] std::io::Error);
///
/// let error = Load(std::io::Error::other("disk full"));
/// assert_eq!(ErrorReport::new(&error).to_string(), "cannot load the order: disk full");
/// assert_eq!(format!("{:#}", ErrorReport::new(&error)), "cannot load the order\n  caused by: disk full");
/// ```
#[derive(Debug, Clone, Copy)]
pub struct ErrorReport<'a>(&'a (dyn Error + 'static));

impl<'a> ErrorReport<'a> {
    /// The report of `error`.
    pub fn new(error: &'a (dyn Error + 'static)) -> Self {
        ErrorReport(error)
    }
}

impl fmt::Display for ErrorReport<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut said = self.0.to_string();
        f.write_str(&said)?;
        let mut next = self.0.source();
        while let Some(cause) = next {
            let text = cause.to_string();
            if !said.contains(&text) {
                match f.alternate() {
                    true => write!(f, "\n  caused by: {text}")?,
                    false => write!(f, ": {text}")?,
                }
                said.push_str(&text);
            }
            next = cause.source();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("outer: {0}")]
    struct Repeats(#[source] Inner);

    #[derive(Debug, thiserror::Error)]
    #[error("inner")]
    struct Inner(#[source] std::io::Error);

    #[test]
    fn each_cause_is_said_once() {
        let error = Repeats(Inner(std::io::Error::other("root")));
        assert_eq!(ErrorReport::new(&error).to_string(), "outer: inner: root");
        assert_eq!(format!("{:#}", ErrorReport::new(&error)), "outer: inner\n  caused by: root");
    }
}
