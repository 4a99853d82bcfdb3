//! Bounding text derived from messages before it reaches a log line, an error or a dead-letter reason.
//!
//! A message can carry up to [`max_message_size`](super::Transport::max_message_size) bytes of text
//! (a command name, a header, a payload that a decoder quotes in its error). Copying that into every log
//! line and dead-letter record multiplies it; so everything the transport and the participant runtime log
//! or record about a message goes through [`Bounded`] (or [`bounded`]): at most [`MAX_BOUNDED_LEN`]
//! bytes, cut on a char boundary and marked with [`CUT_MARKER`].

use std::fmt::{self, Write};

/// The most bytes a bounded text takes, [`CUT_MARKER`] included.
pub const MAX_BOUNDED_LEN: usize = 256;

/// What a text that was cut ends with.
pub const CUT_MARKER: &str = "…";

/// Displays its value cut to at most [`MAX_BOUNDED_LEN`] bytes, on a char boundary, ending with
/// [`CUT_MARKER`] when it was cut. Formatting the value stops as soon as the limit is passed, so bounding a
/// huge value neither allocates nor formats more than the limit. Use it for `tracing` fields:
/// `error = %Bounded(&e)`.
///
/// ```
/// use saga::transport::{Bounded, CUT_MARKER, MAX_BOUNDED_LEN};
/// let long = "x".repeat(10_000);
/// let shown = Bounded(&long).to_string();
/// assert_eq!(shown.len(), MAX_BOUNDED_LEN);
/// assert!(shown.ends_with(CUT_MARKER));
/// assert_eq!(Bounded("short").to_string(), "short");
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Bounded<T>(pub T);

impl<T: fmt::Display> fmt::Display for Bounded<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = Limited::default();
        // `Limited` refuses writes past the limit, which ends the inner formatting early; that refusal is
        // the cut, not an error.
        let _ = write!(out, "{}", self.0);
        f.write_str(&out.text)
    }
}

/// `value` formatted and cut like [`Bounded`] does it; for dead-letter reasons and error texts.
#[must_use]
pub fn bounded(value: impl fmt::Display) -> String {
    let mut out = Limited::default();
    let _ = write!(out, "{value}");
    out.text
}

/// A writer that keeps at most [`MAX_BOUNDED_LEN`] bytes and fails every write past them.
#[derive(Default)]
struct Limited {
    text: String,
    cut: bool,
}

impl Write for Limited {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        if self.cut {
            return Err(fmt::Error);
        }
        if self.text.len() + s.len() <= MAX_BOUNDED_LEN {
            self.text.push_str(s);
            return Ok(());
        }
        let keep = MAX_BOUNDED_LEN - CUT_MARKER.len();
        if self.text.len() > keep {
            let end = floor_char_boundary(&self.text, keep);
            self.text.truncate(end);
        } else {
            let end = floor_char_boundary(s, keep - self.text.len());
            self.text.push_str(&s[..end]);
        }
        self.text.push_str(CUT_MARKER);
        self.cut = true;
        Err(fmt::Error)
    }
}

/// The largest char boundary of `s` at or below `index`.
fn floor_char_boundary(s: &str, index: usize) -> usize {
    let mut i = index.min(s.len());
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_text_is_kept_whole() {
        assert_eq!(bounded("hello"), "hello");
        let exact = "a".repeat(MAX_BOUNDED_LEN);
        assert_eq!(bounded(&exact), exact);
    }

    #[test]
    fn long_text_is_cut_on_a_char_boundary_with_a_marker() {
        for unit in ["a", "é", "日", "🦀"] {
            let long = unit.repeat(1000);
            let cut = bounded(&long);
            assert!(cut.len() <= MAX_BOUNDED_LEN, "{unit}: {} bytes", cut.len());
            assert!(cut.len() > MAX_BOUNDED_LEN - CUT_MARKER.len() - 4);
            assert!(cut.ends_with(CUT_MARKER));
            assert!(long.starts_with(cut.trim_end_matches(CUT_MARKER)));
        }
        assert_eq!(
            bounded("a".repeat(MAX_BOUNDED_LEN + 1)).len(),
            MAX_BOUNDED_LEN
        );
    }

    #[test]
    fn formatting_stops_at_the_limit() {
        struct Endless(std::cell::Cell<usize>);
        impl fmt::Display for Endless {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                loop {
                    f.write_str("xy")?;
                    self.0.set(self.0.get() + 1);
                }
            }
        }
        let endless = Endless(std::cell::Cell::new(0));
        let shown = Bounded(&endless).to_string();
        assert!(shown.ends_with(CUT_MARKER));
        assert!(
            endless.0.get() <= MAX_BOUNDED_LEN / 2,
            "{}",
            endless.0.get()
        );
    }
}
