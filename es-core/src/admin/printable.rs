//! How every tool shows stored text.

use std::borrow::Cow;
use std::fmt::Write as _;

/// `text` with its control characters escaped: `\n`, `\r` and `\t` as
/// such, every other control character and every bidirectional formatting
/// character as `\u{…}`. Stored ids, names and errors come from users and
/// may hold anything; shown as they are, a newline would break a table and
/// an escape sequence or a right-to-left override could make a terminal or
/// a page show something else than what is stored. The command line's
/// tables and tails and the console's pages show stored text through it.
///
/// ```
/// use es_core::admin::printable;
///
/// assert_eq!(printable("acc-1"), "acc-1");
/// assert_eq!(printable("a\nb\u{1b}[31m"), "a\\nb\\u{1b}[31m");
/// assert_eq!(printable("evil\u{202e}gnp.exe"), "evil\\u{202e}gnp.exe");
/// ```
pub fn printable(text: &str) -> Cow<'_, str> {
    if !text.chars().any(needs_escape) {
        return Cow::Borrowed(text);
    }
    let mut escaped = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\n' => escaped.push_str("\\n"),
            '\r' => escaped.push_str("\\r"),
            '\t' => escaped.push_str("\\t"),
            c if needs_escape(c) => {
                let _ = write!(escaped, "\\u{{{:x}}}", u32::from(c));
            }
            c => escaped.push(c),
        }
    }
    Cow::Owned(escaped)
}

fn needs_escape(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// How much of a payload or state the tools show before cutting it: the
/// command line's text output and the console's pages, each with a way to
/// see it whole.
pub const SHOWN_BYTES: usize = 4096;

/// `text` cut to at most `limit` bytes, at a character boundary; the
/// second part tells whether anything was left out.
///
/// ```
/// use es_core::admin::cut;
///
/// assert_eq!(cut("héllo", 10), ("héllo", false));
/// assert_eq!(cut("héllo", 2), ("h", true)); // `é` is two bytes
/// ```
pub fn cut(text: &str, limit: usize) -> (&str, bool) {
    if text.len() <= limit {
        return (text, false);
    }
    let end = (0..=limit).rev().find(|&i| text.is_char_boundary(i)).unwrap_or(0);
    (&text[..end], true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_without_control_characters_is_not_copied() {
        assert!(matches!(printable("ü-λ 42"), Cow::Borrowed(_)));
    }

    #[test]
    fn every_control_character_is_escaped() {
        assert_eq!(printable("\u{0}\u{7f}\u{9b}\t"), "\\u{0}\\u{7f}\\u{9b}\\t");
        assert_eq!(printable("\u{2066}x\u{2069}"), "\\u{2066}x\\u{2069}");
    }
}
