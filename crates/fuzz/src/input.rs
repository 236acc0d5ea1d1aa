//! Ways the targets read their bytes.

use std::borrow::Cow;

/// The bytes as text, the way the code under test gets them (invalid UTF-8 replaced).
pub(crate) fn text(data: &[u8]) -> Cow<'_, str> {
    String::from_utf8_lossy(data)
}

/// The first line and the rest (the rest empty when there is no newline).
pub(crate) fn two_lines(s: &str) -> (&str, &str) {
    s.split_once('\n').unwrap_or((s, ""))
}

/// A selector byte and the bytes after it (`0` and nothing for empty input).
pub(crate) fn pick(data: &[u8]) -> (u8, &[u8]) {
    match data.split_first() {
        Some((first, rest)) => (*first, rest),
        None => (0, data),
    }
}
