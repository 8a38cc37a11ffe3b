//! Stream mode: decode order-book messages, keep the book, and print one JSON
//! line per book message with the update id and every analytics field.
//!
//! Used by `gapmm-hot stream` over a recording (Bybit's archive format) and
//! over a live venue. Prices and quantities are printed as JSON numbers,
//! formatted exactly from ticks and lots with the instrument's precision (no
//! float round trip); ratios (`spread_bps`, `imbalance`,
//! `gap_prob_resistance_up`) are floats.
//!
//! Contract: per message, decoding, applying and computing allocate nothing;
//! the output line is written into a reused buffer and handed to the caller's
//! writer (which may block: stream mode is not on a trading thread).

use std::fmt;
use std::io::Write;

use crate::analytics::{self, MarketMetrics};
use crate::book::{Book, BookConfig, BookError};
use crate::codec::public::{PublicDecoder, PublicError, PublicEvent};
use crate::ids::Symbol;
use crate::units::{Step, UnitError};

/// Why a message could not be turned into a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamError {
    /// The frame did not decode.
    Decode(PublicError),
    /// The book rejected the message (gap, crossed, overflow); the book is now invalid.
    Book(BookError),
}

impl fmt::Display for StreamError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StreamError::Decode(e) => write!(f, "undecodable message: {e}"),
            StreamError::Book(e) => write!(f, "book rejected message: {e}"),
        }
    }
}

impl std::error::Error for StreamError {}

/// What one message produced.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum StreamOutcome {
    /// A book message was applied and a line was written.
    Line(MarketMetrics),
    /// A book message was applied but the book has no two-sided valid state yet.
    NoQuote,
    /// Not a book message (trade, ack, pong); nothing printed.
    Skipped,
}

/// Book + decoder + output formatting for one symbol.
pub struct StreamPrinter {
    decoder: PublicDecoder,
    book: Book,
    price: Step,
    half_price: Step,
    qty: Step,
    line: Vec<u8>,
}

impl StreamPrinter {
    /// A printer for `symbol` with the instrument's price and quantity steps.
    pub fn new(symbol: Symbol, price: Step, qty: Step) -> Result<StreamPrinter, UnitError> {
        // Half a tick, for the exact mid: units×5 at one more decimal place.
        let half_price = Step::new(price.units() * 5, price.scale() + 1)?;
        Ok(StreamPrinter {
            decoder: PublicDecoder::new(symbol, price, qty),
            book: Book::new(BookConfig::default()),
            price,
            half_price,
            qty,
            line: Vec::with_capacity(1024),
        })
    }

    /// The book being maintained.
    pub fn book(&self) -> &Book {
        &self.book
    }

    /// Decodes and applies one frame; on a book message with a two-sided valid
    /// book, writes one JSON line to `out`.
    pub fn on_frame(
        &mut self,
        frame: &[u8],
        out: &mut impl Write,
    ) -> std::io::Result<Result<StreamOutcome, StreamError>> {
        let ev = match self.decoder.decode(frame) {
            Ok(ev) => ev,
            Err(e) => return Ok(Err(StreamError::Decode(e))),
        };
        let PublicEvent::Book(update) = ev else {
            return Ok(Ok(StreamOutcome::Skipped));
        };
        let ts = update.ts;
        if let Err(e) = self.book.apply(&update) {
            return Ok(Err(StreamError::Book(e)));
        }
        let Some(m) = analytics::compute(&self.book, ts) else {
            return Ok(Ok(StreamOutcome::NoQuote));
        };
        self.line.clear();
        self.format(&m);
        out.write_all(&self.line)?;
        Ok(Ok(StreamOutcome::Line(m)))
    }

    fn format(&mut self, m: &MarketMetrics) {
        let (price, half, qty) = (self.price, self.half_price, self.qty);
        let l = &mut self.line;
        l.extend_from_slice(b"{\"u\":");
        push_u64(l, m.update_id.0);
        l.extend_from_slice(b",\"timestamp\":");
        push_u64(l, m.timestamp.0);
        l.extend_from_slice(b",\"bid\":");
        push_decimal(l, price, m.bid.0);
        l.extend_from_slice(b",\"ask\":");
        push_decimal(l, price, m.ask.0);
        l.extend_from_slice(b",\"mid_price\":");
        push_decimal(l, half, m.mid.0);
        l.extend_from_slice(b",\"spread\":");
        push_decimal(l, price, m.spread.0);
        l.extend_from_slice(b",\"spread_bps\":");
        push_f64(l, m.spread_bps);
        l.extend_from_slice(b",\"imbalance\":");
        push_f64(l, m.imbalance);
        l.extend_from_slice(b",\"bid_depth_5\":");
        push_decimal(l, qty, m.bid_depth_5.0);
        l.extend_from_slice(b",\"ask_depth_5\":");
        push_decimal(l, qty, m.ask_depth_5.0);
        l.extend_from_slice(b",\"gap_prob_resistance_up\":");
        push_f64(l, m.gap_prob_resistance_up);
        l.extend_from_slice(b",\"gap_distance_up\":");
        push_u64(l, u64::from(m.gap_distance_up));
        l.extend_from_slice(b",\"gap_distance_dn\":");
        push_u64(l, u64::from(m.gap_distance_dn));
        l.extend_from_slice(b",\"liquidity_up\":");
        push_decimal(l, qty, m.liquidity_up.0);
        l.extend_from_slice(b",\"liquidity_dn\":");
        push_decimal(l, qty, m.liquidity_dn.0);
        l.extend_from_slice(b"}\n");
    }
}

fn push_u64(l: &mut Vec<u8>, v: u64) {
    let mut b = itoa::Buffer::new();
    l.extend_from_slice(b.format(v).as_bytes());
}

/// Writes `count × step` as a JSON number, trimming trailing fractional zeros.
fn push_decimal(l: &mut Vec<u8>, step: Step, count: i64) {
    let mut buf = [0u8; 48];
    let n = step.write(count, &mut buf);
    let mut s = &buf[..n];
    if s.contains(&b'.') {
        while let [rest @ .., b'0'] = s {
            s = rest;
        }
        if let [rest @ .., b'.'] = s {
            s = rest;
        }
    }
    l.extend_from_slice(s);
}

/// Writes a finite float as a JSON number (non-finite values become 0).
fn push_f64(l: &mut Vec<u8>, v: f64) {
    let v = if v.is_finite() { v } else { 0.0 };
    // Rust's `Display` for f64 prints the shortest round-trip digits and never
    // an exponent, so the result is always a valid JSON number.
    let _ = write!(l, "{v}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_print_as_plain_json_numbers() {
        let mut l = Vec::new();
        push_decimal(&mut l, Step::parse("0.10").unwrap(), 164935);
        l.push(b' ');
        push_decimal(&mut l, Step::parse("1").unwrap(), 6203);
        l.push(b' ');
        push_decimal(&mut l, Step::parse("0.00005").unwrap(), 39066);
        l.push(b' ');
        push_decimal(&mut l, Step::parse("0.001").unwrap(), 0);
        assert_eq!(std::str::from_utf8(&l).unwrap(), "16493.5 6203 1.9533 0");
    }
}
