//! Recordings of the public market stream: reading them line by line,
//! telling their two layouts apart, and loading them into a [`Tape`] of
//! decoded market events that `eval` and `backtest` replay.
//!
//! Two layouts are read, per line:
//! - **recorder**: `<local receive time, ns since the epoch> <message JSON>`,
//!   the layout `gapmm-hot record` writes (and hftbacktest's collector);
//! - **archive**: one message JSON per line, no local time (Bybit's public
//!   archive, `*.data` / `*.data.zip`).
//!
//! Files may be plain text, gzip (`.gz`, also several concatenated streams)
//! or a zip holding one file; [`lines::Recording`] tells them apart by their
//! magic bytes.
//!
//! - [`lines`]: the line reader ([`Recording`]).
//! - [`tape`]: decoding whole recordings into a [`Tape`], several files
//!   interleaved by time.
//! - [`own`]: taking a trading engine's own orders out of a recording it
//!   made while trading.
//!
//! Contract: not on the hot path. Loading allocates (the tape grows with the
//! recording) and blocks on file I/O; nothing here reads a clock. Bad input
//! is a typed error naming the file and the line, never a panic.

pub mod lines;
pub mod own;
pub mod tape;

use std::fmt;

pub use lines::{Recording, ReplayError};
pub use tape::{Event, EventKind, Tape, TapeError, TapeErrorKind, TapeSpec, TapeStats, TradeEvent};

/// Which layout a line is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Layout {
    /// `<local ns> <json>` (the recorder's, and hftbacktest's collector's).
    Recorder,
    /// `<json>` only (Bybit's public archive).
    Archive,
}

impl Layout {
    /// A short name for messages.
    pub const fn as_str(self) -> &'static str {
        match self {
            Layout::Recorder => "recorder (<ns> <json>)",
            Layout::Archive => "archive (<json>)",
        }
    }
}

/// One recording line split into its parts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Line<'a> {
    /// The local receive time (recorder layout only).
    pub local_ns: Option<u64>,
    /// The message JSON (starts with `{`).
    pub json: &'a [u8],
}

impl Line<'_> {
    /// The line's layout.
    pub fn layout(&self) -> Layout {
        if self.local_ns.is_some() {
            Layout::Recorder
        } else {
            Layout::Archive
        }
    }
}

/// Why a line is in neither layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineError {
    /// The leading time is not a number of nanoseconds that fits in 64 bits.
    BadTime,
    /// The leading time is not followed by a space and a message.
    NoMessage,
    /// The line starts with neither a digit (recorder) nor `{` (archive).
    Unrecognised,
}

impl fmt::Display for LineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LineError::BadTime => "the leading receive time is not a 64-bit number of nanoseconds",
            LineError::NoMessage => {
                "the receive time is not followed by a space and a JSON message"
            }
            LineError::Unrecognised => {
                "the line is neither `<ns> <json>` (recorder) nor `<json>` (archive)"
            }
        })
    }
}

impl std::error::Error for LineError {}

/// Splits one line (without its terminator) into its receive time, if any,
/// and its message. Leading and trailing spaces around the parts are
/// allowed; nothing else is checked about the JSON.
pub fn split_line(line: &[u8]) -> Result<Line<'_>, LineError> {
    let line = trim(line);
    match line.first() {
        Some(b'{') => Ok(Line {
            local_ns: None,
            json: line,
        }),
        Some(b'0'..=b'9') => {
            let digits = line.iter().take_while(|b| b.is_ascii_digit()).count();
            let mut ns: u64 = 0;
            for &d in line.get(..digits).unwrap_or(&[]) {
                ns = ns
                    .checked_mul(10)
                    .and_then(|v| v.checked_add(u64::from(d - b'0')))
                    .ok_or(LineError::BadTime)?;
            }
            let rest = line.get(digits..).unwrap_or(&[]);
            match rest.first() {
                Some(b' ' | b'\t') => {}
                Some(_) => return Err(LineError::BadTime),
                None => return Err(LineError::NoMessage),
            }
            let json = trim(rest);
            if json.first() != Some(&b'{') {
                return Err(LineError::NoMessage);
            }
            Ok(Line {
                local_ns: Some(ns),
                json,
            })
        }
        _ => Err(LineError::Unrecognised),
    }
}

fn trim(mut s: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = s {
        s = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = s {
        s = rest;
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn both_layouts_split() {
        let l = split_line(b"1721749183854663000 {\"topic\":\"x\"}").unwrap();
        assert_eq!(l.local_ns, Some(1_721_749_183_854_663_000));
        assert_eq!(l.json, b"{\"topic\":\"x\"}");
        assert_eq!(l.layout(), Layout::Recorder);
        let l = split_line(b"  {\"a\":1} ").unwrap();
        assert_eq!((l.local_ns, l.json), (None, &b"{\"a\":1}"[..]));
        assert_eq!(l.layout(), Layout::Archive);
    }

    #[test]
    fn malformed_lines_say_what_is_wrong() {
        assert_eq!(split_line(b"123"), Err(LineError::NoMessage));
        assert_eq!(split_line(b"123 "), Err(LineError::NoMessage));
        assert_eq!(split_line(b"123 nope"), Err(LineError::NoMessage));
        assert_eq!(split_line(b"12x {}"), Err(LineError::BadTime));
        assert_eq!(
            split_line(b"99999999999999999999999 {}"),
            Err(LineError::BadTime)
        );
        assert_eq!(split_line(b"[1,2]"), Err(LineError::Unrecognised));
        assert_eq!(split_line(b""), Err(LineError::Unrecognised));
    }

    proptest! {
        /// Any bytes: a typed answer, never a panic; an accepted line's
        /// message always starts with `{` and its time round-trips.
        #[test]
        fn split_line_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..64),
                                   ns in any::<u64>()) {
            if let Ok(l) = split_line(&bytes) {
                prop_assert_eq!(l.json.first(), Some(&b'{'));
            }
            let line = format!("{ns} {{\"k\":1}}");
            prop_assert_eq!(split_line(line.as_bytes()).unwrap().local_ns, Some(ns));
        }
    }
}
