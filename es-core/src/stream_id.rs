//! The one rule every store applies to stream ids.

use std::fmt;

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

/// What is wrong with `stream_id` under the rule every store applies: not
/// empty, at most [`MAX_STREAM_ID_LEN`] bytes, no NUL character.
pub(crate) fn problem(stream_id: &str) -> Option<StreamIdProblem> {
    if stream_id.is_empty() {
        Some(StreamIdProblem::Empty)
    } else if stream_id.len() > MAX_STREAM_ID_LEN {
        Some(StreamIdProblem::TooLong { len: stream_id.len() })
    } else if stream_id.contains('\0') {
        Some(StreamIdProblem::ContainsNul)
    } else {
        None
    }
}

/// The start of `stream_id`, escaped, with `…` when cut.
pub(crate) fn shown(stream_id: &str) -> String {
    let mut shown: String = stream_id.chars().take(SHOWN_CHARS).flat_map(char::escape_debug).collect();
    if stream_id.chars().nth(SHOWN_CHARS).is_some() {
        shown.push('…');
    }
    shown
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn shows_a_short_escaped_id() {
        assert_eq!(shown(&"x".repeat(5000)), format!("{}…", "x".repeat(SHOWN_CHARS)));
        assert_eq!(shown("a\0b"), r"a\0b");
    }
}
