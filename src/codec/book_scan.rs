//! The feed's fast path: one forward pass over an `orderbook.{depth}.{symbol}`
//! message laid out exactly as Bybit sends it.
//!
//! The general decoder ([`super::public::PublicDecoder`]) copies the frame,
//! builds a simd-json tape and walks it, which accepts any key order and any
//! JSON spelling. Bybit's book pushes always come in one layout:
//!
//! ```text
//! {"topic":"orderbook.50.BTCUSDT","type":"delta","ts":1,"data":{"s":"BTCUSDT",
//!  "b":[["p","q"],...],"a":[["p","q"],...],"u":1,"seq":1},"cts":1}
//! ```
//!
//! (`,"cts":…` is optional). [`scan_book`] matches that layout byte for byte
//! and converts the decimal strings straight to ticks and lots, with no copy
//! and no tape. It **declines** (returns `None`) on anything else — another
//! key order, whitespace, escapes or non-ASCII bytes in a string, extra keys,
//! numbers with leading zeros or more than 19 digits, a level the steps
//! reject, more levels than the limit, trailing bytes — and the caller then
//! runs the general decoder, which handles every layout and names the error.
//! So this path has no error of its own, and what it accepts the general
//! decoder decodes to the same event (a property test in this module holds
//! it to that).
//!
//! Contract: sans-I/O; allocates nothing (levels are pushed only while the
//! output vector has spare capacity, else it declines); never panics; reads
//! no clock. Output vectors may hold partial levels after a decline; the
//! general decoder clears them.

use super::public::{BookKind, Level};
use crate::units::Step;

/// What the scan read besides the levels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct BookHead {
    pub kind: BookKind,
    pub depth: u16,
    pub ts: u64,
    pub u: u64,
    pub seq: u64,
    pub cts: Option<u64>,
}

/// The steps and limits a scan converts and checks with.
#[derive(Debug, Clone, Copy)]
pub(super) struct ScanSpec<'a> {
    /// The symbol's bytes; only printable ASCII without `"` or `\` (a
    /// [`crate::ids::Symbol`] guarantees that).
    pub symbol: &'a [u8],
    pub price: Step,
    pub qty: Step,
    pub max_levels: usize,
}

struct Cursor<'a> {
    b: &'a [u8],
    i: usize,
}

impl<'a> Cursor<'a> {
    #[inline]
    fn lit(&mut self, s: &[u8]) -> Option<()> {
        let end = self.i.checked_add(s.len())?;
        if self.b.get(self.i..end)? == s {
            self.i = end;
            Some(())
        } else {
            None
        }
    }

    #[inline]
    fn byte(&mut self) -> Option<u8> {
        let c = *self.b.get(self.i)?;
        self.i += 1;
        Some(c)
    }

    /// A JSON integer in canonical form: 1–19 digits, no leading zero.
    #[inline]
    fn uint(&mut self) -> Option<u64> {
        let start = self.i;
        let mut v: u64 = 0;
        while let Some(&c) = self.b.get(self.i) {
            if !c.is_ascii_digit() {
                break;
            }
            // A 20th digit would overflow before the length check below.
            v = v.checked_mul(10)?.checked_add(u64::from(c - b'0'))?;
            self.i += 1;
            if self.i - start > 19 {
                return None;
            }
        }
        let n = self.i - start;
        if n == 0 || (n > 1 && self.b.get(start) == Some(&b'0')) {
            return None;
        }
        Some(v)
    }

    /// The body of a string whose opening quote was consumed, up to and
    /// including the closing quote: printable ASCII only, no escapes.
    #[inline]
    fn plain_str(&mut self) -> Option<&'a [u8]> {
        let start = self.i;
        loop {
            match self.byte()? {
                b'"' => return self.b.get(start..self.i - 1),
                b'\\' => return None,
                c if !(0x20..0x7f).contains(&c) => return None,
                _ => {}
            }
        }
    }

    /// `[["p","q"],…]` after its `[`, through the closing `]`.
    #[inline]
    fn levels(&mut self, spec: &ScanSpec<'_>, out: &mut Vec<Level>) -> Option<()> {
        out.clear();
        if self.lit(b"]").is_some() {
            return Some(());
        }
        loop {
            if out.len() >= spec.max_levels || out.len() == out.capacity() {
                return None;
            }
            self.lit(b"[\"")?;
            let p = self.plain_str()?;
            self.lit(b",\"")?;
            let q = self.plain_str()?;
            self.lit(b"]")?;
            let price = spec.price.ticks(p).ok()?;
            let qty = spec.qty.lots(q).ok()?;
            out.push(Level { price, qty });
            match self.byte()? {
                b',' => {}
                b']' => return Some(()),
                _ => return None,
            }
        }
    }
}

/// Scans one book message in Bybit's layout into `bids` / `asks`; `None`
/// when the frame is anything else (the caller then decodes it in general).
pub(super) fn scan_book(
    frame: &[u8],
    spec: &ScanSpec<'_>,
    bids: &mut Vec<Level>,
    asks: &mut Vec<Level>,
) -> Option<BookHead> {
    let mut c = Cursor { b: frame, i: 0 };
    c.lit(b"{\"topic\":\"orderbook.")?;
    let depth = u16::try_from(c.uint()?).ok()?;
    c.lit(b".")?;
    c.lit(spec.symbol)?;
    c.lit(b"\",\"type\":\"")?;
    let kind = if c.lit(b"snapshot\"").is_some() {
        BookKind::Snapshot
    } else {
        c.lit(b"delta\"")?;
        BookKind::Delta
    };
    c.lit(b",\"ts\":")?;
    let ts = c.uint()?;
    c.lit(b",\"data\":{\"s\":\"")?;
    c.lit(spec.symbol)?;
    c.lit(b"\",\"b\":[")?;
    c.levels(spec, bids)?;
    c.lit(b",\"a\":[")?;
    c.levels(spec, asks)?;
    c.lit(b",\"u\":")?;
    let u = c.uint()?;
    c.lit(b",\"seq\":")?;
    let seq = c.uint()?;
    c.lit(b"}")?;
    let cts = if c.lit(b",\"cts\":").is_some() {
        Some(c.uint()?)
    } else {
        None
    };
    c.lit(b"}")?;
    (c.i == frame.len()).then_some(BookHead {
        kind,
        depth,
        ts,
        u,
        seq,
        cts,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::public::{Limits, PublicDecoder, PublicEvent};
    use crate::ids::Symbol;
    use proptest::prelude::*;

    const MAX_LEVELS: usize = 6;

    fn dec() -> PublicDecoder {
        PublicDecoder::with_limits(
            Symbol::new(b"BTCUSDT").unwrap(),
            Step::parse("0.10").unwrap(),
            Step::parse("0.001").unwrap(),
            Limits {
                max_frame_bytes: 8192,
                max_levels_per_side: MAX_LEVELS,
                max_trades: 4,
                max_topics: 4,
            },
        )
    }

    /// Decodes with the fast path and with the general decoder alone.
    fn both(frame: &[u8]) -> (Option<String>, Result<String, String>) {
        let mut d = dec();
        let fast = d.scan_only(frame).map(|b| format!("{b:?}"));
        let general = match d.decode_general(frame) {
            Ok(PublicEvent::Book(b)) => Ok(format!("{b:?}")),
            Ok(other) => Ok(format!("{other:?}")),
            Err(e) => Err(e.to_string()),
        };
        (fast, general)
    }

    const REAL: &[u8] = br#"{"topic":"orderbook.50.BTCUSDT","type":"delta","ts":1687940967466,"data":{"s":"BTCUSDT","b":[["30247.20","30.028"],["30245.40","0.224"],["30242.10","0"]],"a":[["30248.70","0"],["30249.30","0.892"]],"u":177400507,"seq":66544703342},"cts":1687940967464}"#;

    /// Found by `damaged_frames_never_diverge` on a fresh-clone CI run: a
    /// digit inserted into a 19-digit number overflowed the accumulator (a
    /// panic in debug, a wrapped value in release) before the length check.
    #[test]
    fn integers_too_long_for_u64_are_declined_not_wrapped() {
        for n in [
            "18446744073709551616",
            "99999999999999999999",
            "123456789012345678901234",
        ] {
            let f = String::from_utf8(REAL.to_vec())
                .unwrap()
                .replace("177400507", n);
            let (fast, general) = both(f.as_bytes());
            assert!(fast.is_none(), "{n}: the fast path took {fast:?}");
            assert!(general.is_err(), "{n}: {general:?}");
        }
        let f = String::from_utf8(REAL.to_vec())
            .unwrap()
            .replace("177400507", "9999999999999999999");
        assert!(both(f.as_bytes()).0.is_some(), "19 digits still fit");
    }

    #[test]
    fn takes_bybits_layout_and_agrees_with_the_general_decoder() {
        let (fast, general) = both(REAL);
        assert!(
            fast.is_some(),
            "the canonical layout must take the fast path"
        );
        assert_eq!(fast, general.ok());
        // Through `decode`, the same event.
        let mut d = dec();
        let ev = d.decode(REAL).unwrap();
        let PublicEvent::Book(b) = ev else {
            panic!("{ev:?}")
        };
        assert_eq!(b.u.0, 177_400_507);
        assert_eq!(b.bids.len(), 3);
        assert_eq!(b.asks[1].qty.0, 892);
    }

    #[test]
    fn declines_what_it_does_not_recognise_and_the_general_decoder_answers() {
        let cases: [&[u8]; 7] = [
            // whitespace
            br#"{"topic": "orderbook.50.BTCUSDT","type":"delta","ts":1,"data":{"s":"BTCUSDT","b":[],"a":[],"u":1,"seq":1}}"#,
            // other key order
            br#"{"type":"delta","topic":"orderbook.50.BTCUSDT","ts":1,"data":{"s":"BTCUSDT","b":[],"a":[],"u":1,"seq":1}}"#,
            // escaped digit in a price
            br#"{"topic":"orderbook.50.BTCUSDT","type":"delta","ts":1,"data":{"s":"BTCUSDT","b":[["\u0031","1"]],"a":[],"u":1,"seq":1}}"#,
            // price off the grid (the general decoder names it)
            br#"{"topic":"orderbook.50.BTCUSDT","type":"delta","ts":1,"data":{"s":"BTCUSDT","b":[["1.05","1"]],"a":[],"u":1,"seq":1}}"#,
            // another symbol
            br#"{"topic":"orderbook.50.ETHUSDT","type":"delta","ts":1,"data":{"s":"ETHUSDT","b":[],"a":[],"u":1,"seq":1}}"#,
            // too many levels
            br#"{"topic":"orderbook.50.BTCUSDT","type":"delta","ts":1,"data":{"s":"BTCUSDT","b":[["1","1"],["1","1"],["1","1"],["1","1"],["1","1"],["1","1"],["1","1"]],"a":[],"u":1,"seq":1}}"#,
            // trailing bytes
            br#"{"topic":"orderbook.50.BTCUSDT","type":"delta","ts":1,"data":{"s":"BTCUSDT","b":[],"a":[],"u":1,"seq":1}} "#,
        ];
        for (i, f) in cases.iter().enumerate() {
            let (fast, _) = both(f);
            assert_eq!(fast, None, "case {i} must decline");
        }
        // The escaped digit and the whitespace cases are still valid books.
        let mut d = dec();
        assert!(matches!(d.decode(cases[0]), Ok(PublicEvent::Book(_))));
        assert!(matches!(d.decode(cases[2]), Ok(PublicEvent::Book(_))));
        assert!(d.decode(cases[3]).is_err());
        assert!(d.decode(cases[5]).is_err());
    }

    fn decimal() -> impl Strategy<Value = String> {
        prop_oneof![
            // On both grids (price step 0.1, qty step 0.001).
            12 => (0u64..10_000_000, 0u8..3).prop_map(|(v, pad)| {
                let s = format!("{}.{}", v / 10, v % 10);
                s + &"0".repeat(usize::from(pad))
            }),
            6 => (0u64..1_000_000).prop_map(|v| v.to_string()),
            // Anything else a feed could carry.
            1 => "[0-9.\\-eE+a ]{0,8}",
            1 => Just(String::new()),
        ]
    }

    /// A number token and whether it is in the canonical form the fast path
    /// takes (plain digits, no leading zero, at most 19 of them).
    fn number() -> impl Strategy<Value = (String, bool)> {
        prop_oneof![
            6 => any::<u64>().prop_map(|v| (v.to_string(), v < 10_000_000_000_000_000_000)),
            6 => (0u64..1000).prop_map(|v| (v.to_string(), true)),
            1 => (0u64..1000).prop_map(|v| (format!("0{v}"), false)),
            1 => Just(("1.5".to_string(), false)),
            1 => Just(("-1".to_string(), false)),
            1 => Just(("\"12\"".to_string(), false)),
        ]
    }

    prop_compose! {
        /// A book frame in Bybit's layout with random contents, and whether
        /// every number in it is canonical.
        fn book_frame()(
            depth in prop_oneof![
                6 => Just(("50".to_string(), true)),
                3 => (0u32..70_000).prop_map(|d| (d.to_string(), true)),
                1 => Just(("050".to_string(), false)),
            ],
            sym in prop_oneof![9 => Just("BTCUSDT"), 1 => Just("ETHUSDT")],
            snapshot in any::<bool>(),
            ts in number(),
            bids in prop::collection::vec((decimal(), decimal()), 0..5),
            asks in prop::collection::vec((decimal(), decimal()), 0..5),
            many in prop::collection::vec((decimal(), decimal()), 6..9),
            use_many in prop::bool::weighted(0.1),
            u in number(),
            seq in number(),
            cts in prop::option::of(number()),
        ) -> (String, bool) {
            let side = |v: &[(String, String)]| {
                v.iter().map(|(p, q)| format!("[\"{p}\",\"{q}\"]")).collect::<Vec<_>>().join(",")
            };
            let mut f = format!(
                "{{\"topic\":\"orderbook.{}.{sym}\",\"type\":\"{}\",\"ts\":{},\"data\":{{\"s\":\"{sym}\",\"b\":[{}],\"a\":[{}],\"u\":{},\"seq\":{}}}",
                depth.0,
                if snapshot { "snapshot" } else { "delta" },
                ts.0,
                side(if use_many { &many } else { &bids }),
                side(&asks),
                u.0,
                seq.0,
            );
            let mut canonical = depth.1 && ts.1 && u.1 && seq.1;
            if let Some(c) = &cts {
                f.push_str(&format!(",\"cts\":{}", c.0));
                canonical &= c.1;
            }
            f.push('}');
            (f, canonical)
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4000))]

        /// Whatever the fast path accepts, the general decoder decodes to the
        /// same event; and every frame in the canonical layout that the
        /// general decoder accepts takes the fast path.
        #[test]
        fn fast_path_agrees_with_the_general_decoder((f, canonical) in book_frame()) {
            let (fast, general) = both(f.as_bytes());
            if let Some(x) = &fast {
                prop_assert_eq!(Some(x), general.as_ref().ok());
            }
            if canonical && general.is_ok() {
                prop_assert!(fast.is_some(), "a valid canonical frame was declined: {}", f);
            }
        }

        /// Single-byte damage anywhere: the fast path never accepts what the
        /// general decoder rejects or reads differently.
        #[test]
        fn damaged_frames_never_diverge(
            (f, _) in book_frame(),
            at in any::<prop::sample::Index>(),
            b in prop_oneof![Just(b' '), Just(b'"'), Just(b','), Just(b']'), Just(b'}'), Just(b'1'), Just(b'\\'), Just(0xc3u8), any::<u8>()],
            cut in any::<bool>(),
        ) {
            let mut bytes = f.into_bytes();
            let i = at.index(bytes.len());
            if cut {
                bytes.truncate(i);
            } else {
                bytes[i] = b;
            }
            let (fast, general) = both(&bytes);
            if let Some(x) = &fast {
                prop_assert_eq!(Some(x), general.as_ref().ok());
            }
        }
    }
}
