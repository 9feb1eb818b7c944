//! Subjects and header values built from what the store holds.
//!
//! A NATS subject is a list of tokens separated by `.`; a token cannot be
//! empty or carry `.`, `*`, `>` or whitespace, and non-ASCII is better
//! avoided. Aggregate types and stream ids may hold any of these, so each
//! becomes one token by percent-encoding: ASCII letters, digits, `-` and
//! `_` stay as they are, every other byte of the UTF-8 text (`%` itself
//! included) becomes `%XX` (two uppercase hex digits). The empty text, which
//! no other text encodes to, is the token `%`. [`decode_token`] reverses it.

use std::borrow::Cow;

use percent_encoding::{AsciiSet, CONTROLS, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};

use crate::error::ConfigError;

/// The bytes a subject token escapes: all but letters, digits, `-`, `_`.
const TOKEN: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_');

/// The bytes a header value escapes: control characters (a line break
/// would end the header) and `%`; non-ASCII is always escaped.
const HEADER: &AsciiSet = &CONTROLS.add(b'%');

/// The token for an empty text.
const EMPTY_TOKEN: &str = "%";

/// `text` as one subject token.
///
/// ```
/// use es_nats::{decode_token, subject_token};
///
/// assert_eq!(subject_token("acc-1"), "acc-1");
/// assert_eq!(subject_token("eu.acc 1"), "eu%2Eacc%201");
/// assert_eq!(subject_token("ü"), "%C3%BC");
/// assert_eq!(subject_token(""), "%");
/// assert_eq!(decode_token("eu%2Eacc%201").as_deref(), Some("eu.acc 1"));
/// ```
pub fn subject_token(text: &str) -> Cow<'_, str> {
    if text.is_empty() {
        return Cow::Borrowed(EMPTY_TOKEN);
    }
    utf8_percent_encode(text, TOKEN).into()
}

/// The text a subject token was made from, or `None` when `token` is not
/// one [`subject_token`] makes.
pub fn decode_token(token: &str) -> Option<String> {
    if token == EMPTY_TOKEN {
        return Some(String::new());
    }
    let text = percent_decode_str(token).decode_utf8().ok()?;
    (subject_token(&text) == token).then(|| text.into_owned())
}

/// `text` as a header value: control characters, `%` and non-ASCII are
/// percent-encoded, so any percent-decoder gives the text back.
pub(crate) fn header_value(text: &str) -> String {
    // Through `Cow`: a copy when nothing is escaped, not a formatting pass.
    Cow::from(utf8_percent_encode(text, HEADER)).into_owned()
}

/// A subject prefix: one or more tokens, without wildcards.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Prefix(String);

impl Prefix {
    pub(crate) fn new(prefix: &str) -> Result<Self, ConfigError> {
        let valid = |token: &str| {
            !token.is_empty() && token.chars().all(|c| c.is_ascii_graphic() && !matches!(c, '*' | '>' | '.'))
        };
        if prefix.split('.').all(valid) {
            Ok(Prefix(prefix.to_owned()))
        } else {
            Err(ConfigError::InvalidPrefix { prefix: prefix.to_owned() })
        }
    }

    /// The subject of an event of `aggregate_type`'s stream `stream_id`.
    pub(crate) fn subject(&self, aggregate_type: &str, stream_id: &str) -> String {
        format!("{}.{}.{}", self.0, subject_token(aggregate_type), subject_token(stream_id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_carry_no_character_a_subject_cannot() {
        for text in ["a.b", "a*b", "a>b", "a b", "a\tb", "a\nb", "ü", "", "%", "%25", "a~b"] {
            let token = subject_token(text);
            assert!(!token.is_empty(), "{text:?}");
            assert!(token.chars().all(|c| c.is_ascii_alphanumeric() || "-_%".contains(c)), "{text:?} → {token}");
            assert_eq!(decode_token(&token).as_deref(), Some(text), "{text:?} → {token}");
        }
    }

    #[test]
    fn distinct_texts_make_distinct_tokens() {
        let texts = ["", "%", "%25", "a.b", "a%2Eb", "a_b", "a-b"];
        let tokens: std::collections::HashSet<_> = texts.iter().map(|t| subject_token(t)).collect();
        assert_eq!(tokens.len(), texts.len());
    }

    #[test]
    fn tokens_no_encoder_makes_do_not_decode() {
        assert_eq!(decode_token("a.b"), None);
        assert_eq!(decode_token("%2x"), None);
        assert_eq!(decode_token("%61"), None, "`a` is never escaped");
    }

    #[test]
    fn header_values_keep_printable_ascii_and_escape_the_rest() {
        assert_eq!(header_value("acc-1.eu x"), "acc-1.eu x");
        assert_eq!(header_value("a\r\nb%ü"), "a%0D%0Ab%25%C3%BC");
    }

    #[test]
    fn a_prefix_is_tokens_without_wildcards() {
        assert!(Prefix::new("es.events").is_ok());
        for bad in ["", "es.", ".es", "es.*", "es.>", "es events", "es..x"] {
            assert!(Prefix::new(bad).is_err(), "{bad:?}");
        }
        let prefix = Prefix::new("es").unwrap();
        assert_eq!(prefix.subject("account", "eu.1"), "es.account.eu%2E1");
    }
}
