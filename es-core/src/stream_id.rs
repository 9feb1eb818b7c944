//! The one rule every store applies to stream ids.

use std::fmt;

use crate::error::StoreError;

/// The longest stream id a store accepts, in bytes of UTF-8.
///
/// Well under what a PostgreSQL B-tree index entry may hold (about 2,700
/// bytes, counted before compression), so that any accepted id can be
/// indexed however incompressible it is.
pub const MAX_STREAM_ID_LEN: usize = 1024;

/// How much of a refused stream id an error shows, in characters.
const SHOWN_CHARS: usize = 64;

/// What is wrong with a refused stream id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum StreamIdProblem {
    /// The id is the empty string.
    Empty,
    /// The id is longer than [`MAX_STREAM_ID_LEN`] bytes.
    TooLong {
        /// Its length in bytes.
        len: usize,
    },
    /// The id contains the NUL character, which PostgreSQL text cannot hold.
    ContainsNul,
}

impl fmt::Display for StreamIdProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StreamIdProblem::Empty => f.write_str("it is empty"),
            StreamIdProblem::TooLong { len } => {
                write!(f, "it is {len} bytes long, more than the limit of {MAX_STREAM_ID_LEN} bytes")
            }
            StreamIdProblem::ContainsNul => f.write_str("it contains the NUL character (\\0)"),
        }
    }
}

/// Checks `stream_id` against the rule every store applies: not empty, at
/// most [`MAX_STREAM_ID_LEN`] bytes, no NUL character. Stores call it before
/// touching storage, so that every backend refuses the same ids with
/// [`StoreError::InvalidStreamId`].
///
/// ```
/// use es_core::{StoreError, validate_stream_id};
///
/// assert!(validate_stream_id("account-42").is_ok());
/// assert!(matches!(validate_stream_id(""), Err(StoreError::InvalidStreamId { .. })));
/// ```
pub fn validate_stream_id(stream_id: &str) -> Result<(), StoreError> {
    let problem = if stream_id.is_empty() {
        StreamIdProblem::Empty
    } else if stream_id.len() > MAX_STREAM_ID_LEN {
        StreamIdProblem::TooLong { len: stream_id.len() }
    } else if stream_id.contains('\0') {
        StreamIdProblem::ContainsNul
    } else {
        return Ok(());
    };
    Err(StoreError::InvalidStreamId { stream_id: shown(stream_id), problem })
}

/// The start of `stream_id`, escaped, with `…` when cut.
fn shown(stream_id: &str) -> String {
    let mut shown: String = stream_id.chars().take(SHOWN_CHARS).flat_map(char::escape_debug).collect();
    if stream_id.chars().nth(SHOWN_CHARS).is_some() {
        shown.push('…');
    }
    shown
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problem(stream_id: &str) -> Option<StreamIdProblem> {
        match validate_stream_id(stream_id) {
            Ok(()) => None,
            Err(StoreError::InvalidStreamId { problem, .. }) => Some(problem),
            Err(other) => panic!("unexpected error {other:?}"),
        }
    }

    #[test]
    fn accepts_ids_up_to_the_limit() {
        assert_eq!(problem("a"), None);
        assert_eq!(problem(&"x".repeat(MAX_STREAM_ID_LEN)), None);
        // The limit counts bytes: 512 two-byte characters fit, 513 do not.
        assert_eq!(problem(&"é".repeat(MAX_STREAM_ID_LEN / 2)), None);
        assert_eq!(problem(&"é".repeat(MAX_STREAM_ID_LEN / 2 + 1)), Some(StreamIdProblem::TooLong { len: 1026 }));
    }

    #[test]
    fn refuses_empty_long_and_nul_ids() {
        assert_eq!(problem(""), Some(StreamIdProblem::Empty));
        assert_eq!(problem(&"x".repeat(MAX_STREAM_ID_LEN + 1)), Some(StreamIdProblem::TooLong { len: 1025 }));
        assert_eq!(problem("a\0b"), Some(StreamIdProblem::ContainsNul));
    }

    #[test]
    fn the_message_shows_a_short_escaped_id_and_the_problem() {
        let long = validate_stream_id(&"x".repeat(5000)).unwrap_err().to_string();
        assert!(long.len() < 300, "{long}");
        assert!(long.contains(&format!("{}…", "x".repeat(SHOWN_CHARS))), "{long}");
        assert!(long.contains("5000 bytes long, more than the limit of 1024 bytes"), "{long}");
        let nul = validate_stream_id("a\0b").unwrap_err().to_string();
        assert!(nul.contains(r"`a\0b`") && nul.contains("NUL"), "{nul}");
    }
}
