//! SQL literals for the multi-statement bodies of [`MySqlSagaLog`](super::MySqlSagaLog).
//!
//! A write's statements go to the server as one text-protocol request (prepared statements cannot
//! hold several statements), so values are written as literals. Every string and byte value is a
//! hexadecimal literal (`x'…'`, with `_utf8mb4` for text): only `[0-9a-f]` ever comes from a value,
//! so no value can change the statement whatever it contains, and no escaping mode (such as
//! `NO_BACKSLASH_ESCAPES`) matters.

use std::fmt::Write as _;

/// Appends `x'<hex>'`.
pub(super) fn bytes(out: &mut String, b: &[u8]) {
    out.reserve(b.len() * 2 + 3);
    out.push_str("x'");
    for byte in b {
        // Writing to a String cannot fail.
        let _ = write!(out, "{byte:02x}");
    }
    out.push('\'');
}

/// Appends a `utf8mb4` string literal.
pub(super) fn text(out: &mut String, s: &str) {
    out.push_str("_utf8mb4 ");
    bytes(out, s.as_bytes());
}

/// Appends a string literal or `NULL`.
pub(super) fn opt_text(out: &mut String, s: Option<&str>) {
    match s {
        Some(s) => text(out, s),
        None => out.push_str("NULL"),
    }
}

/// Appends a byte literal or `NULL`.
pub(super) fn opt_bytes(out: &mut String, b: Option<&[u8]>) {
    match b {
        Some(b) => bytes(out, b),
        None => out.push_str("NULL"),
    }
}

/// Appends an integer.
pub(super) fn int(out: &mut String, v: i64) {
    let _ = write!(out, "{v}");
}

/// Appends an integer or `NULL`.
pub(super) fn opt_int(out: &mut String, v: Option<i64>) {
    match v {
        Some(v) => int(out, v),
        None => out.push_str("NULL"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_become_hex_only() {
        let mut s = String::new();
        text(&mut s, "a'; DROP TABLE x; --\\");
        assert_eq!(s, "_utf8mb4 x'61273b2044524f50205441424c4520783b202d2d5c'");
        let mut s = String::new();
        opt_bytes(&mut s, Some(&[0, 255]));
        s.push(',');
        opt_text(&mut s, None);
        s.push(',');
        bytes(&mut s, &[]);
        s.push(',');
        opt_int(&mut s, Some(-3));
        assert_eq!(s, "x'00ff',NULL,x'',-3");
    }
}
