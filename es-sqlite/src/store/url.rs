//! What a `sqlite:` URL names: a file, or memory.

use std::path::PathBuf;

use crate::error::SqliteError;

/// The forms a URL of a SQLite store takes, for error messages.
const FORMS: &str = "sqlite://relative/path, sqlite:///absolute/path or sqlite::memory:";

/// The file `url` names, `None` for memory.
///
/// `sqlite://data/app.db` is relative to the working directory,
/// `sqlite:///var/lib/app.db` absolute, and `sqlite::memory:` in memory;
/// `sqlite:app.db` is read like `sqlite://app.db`.
pub(crate) fn parse(url: &str) -> Result<Option<PathBuf>, SqliteError> {
    let invalid = |reason: &str| SqliteError::Url { url: url.to_owned(), reason: format!("{reason}; write {FORMS}") };
    let Some(rest) = url.strip_prefix("sqlite:") else {
        return Err(invalid("it does not start with `sqlite:`"));
    };
    if rest == ":memory:" || rest == "//:memory:" {
        return Ok(None);
    }
    if rest.contains(['?', '#']) {
        return Err(invalid("it has options, which a SQLite store takes from its builder"));
    }
    let path = rest.strip_prefix("//").unwrap_or(rest);
    if path.is_empty() || path == "/" {
        return Err(invalid("it names no file"));
    }
    Ok(Some(PathBuf::from(path)))
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn a_url_names_a_file_relative_or_absolute_or_memory() {
        let file = |url| parse(url).unwrap().map(|p| p.display().to_string());
        assert_eq!(file("sqlite://data/app.db").as_deref(), Some("data/app.db"));
        assert_eq!(file("sqlite:///var/lib/app.db").as_deref(), Some("/var/lib/app.db"));
        assert_eq!(file("sqlite:app.db").as_deref(), Some("app.db"));
        assert_eq!(file("sqlite::memory:"), None);
    }

    #[test]
    fn a_url_that_names_no_file_is_refused_with_the_forms_that_work() {
        for url in ["postgres://db/app", "sqlite://", "sqlite:///", "sqlite://app.db?mode=ro"] {
            let message = parse(url).unwrap_err().to_string();
            assert!(message.contains(url) && message.contains("sqlite::memory:"), "{message}");
        }
    }
}
