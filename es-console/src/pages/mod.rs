//! The pages, each server-rendered with maud, which escapes every value it
//! is given: what the store holds is shown as text, never as markup.

mod authorized;
pub(crate) mod layout;
pub(crate) mod projections;
pub(crate) mod stream;
pub(crate) mod streams;
pub(crate) mod tail;

pub(crate) mod freeze;
pub(crate) mod upcast;

use std::time::SystemTime;

pub(crate) use es_core::admin::printable as shown;

/// How many rows a page lists.
pub(crate) const PAGE_SIZE: u64 = 50;

/// A time as RFC 3339 in UTC, to the millisecond.
pub(crate) fn time(at: SystemTime) -> String {
    humantime::format_rfc3339_millis(at).to_string()
}

/// A path segment holding any text, such as a stream id with slashes.
pub(crate) fn segment(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => out.push(char::from(byte)),
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

/// The page of stream `id`.
pub(crate) fn stream_href(id: &str) -> String {
    format!("/streams/{}", segment(id))
}

/// JSON, indented, its control characters escaped as every stored text
/// is shown.
pub(crate) fn pretty<T: serde::Serialize + ?Sized>(value: &T) -> String {
    let text = serde_json::to_string_pretty(value).unwrap_or_else(|e| format!("(not printable: {e})"));
    text.lines().map(shown).collect::<Vec<_>>().join("\n")
}

#[cfg(test)]
mod tests {
    #[test]
    fn segments_escape_everything_but_unreserved_characters() {
        assert_eq!(super::segment("acc-1/a b?c%"), "acc-1%2Fa%20b%3Fc%25");
        assert_eq!(super::segment("é"), "%C3%A9");
    }
}
