//! Whole recordings decoded into a [`Tape`]: every order-book message and
//! every public trade of one symbol, in the order they were received, with
//! their local and exchange times.
//!
//! Decoding uses the live engine's own public decoder
//! ([`crate::codec::public::PublicDecoder`]), so a recording is read exactly
//! as the feed stage reads the wire. Book messages keep their levels in one
//! arena; [`Tape::book`] hands them back as the decoder's
//! [`BookUpdate`], which [`crate::book::Book::apply`] takes as it is.
//!
//! Several files are interleaved by local time (a k-way merge that keeps
//! each file's own order, so e.g. a book archive and a trade archive of the
//! same day become one stream). All files must be in one layout. Archive
//! lines have no local time: their exchange time (`ts`) stands in for it.
//!
//! Lines that carry no market data (subscribe acks, pongs, topics the
//! decoder does not cover, other symbols) are counted and skipped. Anything
//! else that does not decode stops the load with a [`TapeError`] naming the
//! file, the line and what was wrong.
//!
//! Contract: loading allocates and blocks on I/O; [`Tape::book`] and the
//! event accessors allocate nothing.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fmt;
use std::path::{Path, PathBuf};

use super::{split_line, Layout, LineError, Recording, ReplayError};
use crate::codec::public::{BookKind, BookUpdate, Level, PublicDecoder, PublicError, PublicEvent};
use crate::ids::{Seq, Symbol, UpdateId};
use crate::time::ExchMs;
use crate::units::{Lots, Side, Step, Ticks};

/// What a tape is decoded with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TapeSpec {
    /// The instrument's tick size.
    pub price_step: Step,
    /// The instrument's quantity step.
    pub qty_step: Step,
    /// The symbol to keep; `None` takes the first market message's.
    pub symbol: Option<Symbol>,
}

/// One public trade.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TradeEvent {
    /// The taker's side (`S`): a `Sell` taker hits bids.
    pub taker: Side,
    /// Price.
    pub price: Ticks,
    /// Size.
    pub qty: Lots,
}

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    /// An order-book message; its levels are in the tape's arena.
    Book {
        /// Snapshot (replaces the book) or delta.
        snapshot: bool,
        /// Depth from the topic.
        depth: u16,
        /// Update id `u`.
        u: UpdateId,
        /// Cross sequence `seq`.
        seq: Seq,
        /// First level in the arena (bids, then asks).
        start: u32,
        /// Number of bid levels.
        bids: u32,
        /// Number of ask levels.
        asks: u32,
    },
    /// One trade.
    Trade(TradeEvent),
}

/// One market event with its times and source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Event {
    /// Local receive time, ns since the epoch (an archive line's exchange
    /// time in ns).
    pub local_ns: u64,
    /// Exchange time: the book message's `ts`, the trade's own `T`.
    pub exch: ExchMs,
    /// Index of the source file in the paths given to [`Tape::load`].
    pub file: u16,
    /// Line number in that file (1-based; saturates at `u32::MAX`).
    pub line: u32,
    /// The event.
    pub kind: EventKind,
}

/// Counts of what a load read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TapeStats {
    /// Lines read (non-empty).
    pub lines: u64,
    /// Order-book messages kept.
    pub books: u64,
    /// Of which snapshots.
    pub snapshots: u64,
    /// Trade messages kept.
    pub trade_msgs: u64,
    /// Trades kept (a message may carry several).
    pub trades: u64,
    /// Acks, pongs and other replies skipped.
    pub replies: u64,
    /// Messages on topics the decoder does not cover, skipped.
    pub other_topics: u64,
    /// Messages for another symbol, skipped.
    pub other_symbols: u64,
}

/// Why a recording could not be loaded.
#[derive(Debug)]
pub enum TapeErrorKind {
    /// The file could not be opened or read.
    Read(ReplayError),
    /// The line is in neither layout.
    Line(LineError),
    /// The line is a market message that does not decode.
    Decode(PublicError),
    /// The line's layout differs from the first line's.
    MixedLayouts {
        /// The layout of the first line read.
        first: Layout,
    },
    /// No order-book message and no trade for the symbol anywhere.
    NoMarketData,
    /// No paths were given.
    NoFiles,
    /// More files than a tape can name.
    TooManyFiles,
}

/// A load error: where, and what.
#[derive(Debug)]
pub struct TapeError {
    /// The file.
    pub file: PathBuf,
    /// The line (1-based; 0 when the error is about the file as a whole).
    pub line: u64,
    /// What was wrong.
    pub kind: TapeErrorKind,
}

impl fmt::Display for TapeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if self.line > 0 {
            write!(f, " line {}", self.line)?;
        }
        f.write_str(": ")?;
        match &self.kind {
            TapeErrorKind::Read(e) => write!(f, "{e}"),
            TapeErrorKind::Line(e) => write!(f, "{e}"),
            TapeErrorKind::Decode(e) => write!(f, "market message does not decode: {e}"),
            TapeErrorKind::MixedLayouts { first } => write!(
                f,
                "the line is not in the recording's layout ({}); files of both layouts cannot be interleaved",
                first.as_str()
            ),
            TapeErrorKind::NoMarketData => {
                f.write_str("no order-book message or trade for the symbol")
            }
            TapeErrorKind::NoFiles => f.write_str("no recording given"),
            TapeErrorKind::TooManyFiles => f.write_str("more than 65535 recordings"),
        }
    }
}

impl std::error::Error for TapeError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.kind {
            TapeErrorKind::Read(e) => Some(e),
            TapeErrorKind::Line(e) => Some(e),
            TapeErrorKind::Decode(e) => Some(e),
            _ => None,
        }
    }
}

/// A decoded recording. See the module docs.
#[derive(Debug, Clone)]
pub struct Tape {
    symbol: Symbol,
    price_step: Step,
    qty_step: Step,
    layout: Layout,
    files: Vec<PathBuf>,
    events: Vec<Event>,
    levels: Vec<Level>,
    stats: TapeStats,
}

/// One file's part of a load.
struct Part {
    events: Vec<Event>,
    levels: Vec<Level>,
}

impl Tape {
    /// Loads and interleaves `paths` (see the module docs).
    pub fn load<P: AsRef<Path>>(paths: &[P], spec: &TapeSpec) -> Result<Tape, TapeError> {
        let first = paths.first().ok_or_else(|| TapeError {
            file: PathBuf::new(),
            line: 0,
            kind: TapeErrorKind::NoFiles,
        })?;
        if paths.len() > usize::from(u16::MAX) {
            return Err(TapeError {
                file: first.as_ref().to_path_buf(),
                line: 0,
                kind: TapeErrorKind::TooManyFiles,
            });
        }
        let mut loader = Loader::new(spec);
        let mut parts = Vec::with_capacity(paths.len());
        for (i, p) in paths.iter().enumerate() {
            let path = p.as_ref();
            let rec = Recording::open(path).map_err(|e| TapeError {
                file: path.to_path_buf(),
                line: 0,
                kind: TapeErrorKind::Read(e),
            })?;
            parts.push(loader.read(rec, i as u16, path)?);
        }
        loader.finish(
            paths.iter().map(|p| p.as_ref().to_path_buf()).collect(),
            parts,
        )
    }

    /// Loads one recording from bytes already in memory (tests, benches).
    pub fn from_bytes(name: &str, bytes: &[u8], spec: &TapeSpec) -> Result<Tape, TapeError> {
        let owned: Box<dyn std::io::BufRead + Send> =
            Box::new(std::io::Cursor::new(bytes.to_vec()));
        let mut loader = Loader::new(spec);
        let path = PathBuf::from(name);
        let part = loader.read(Recording::from_reader(owned), 0, &path)?;
        loader.finish(vec![path], vec![part])
    }

    /// The symbol.
    pub fn symbol(&self) -> Symbol {
        self.symbol
    }
    /// The tick size it was decoded with.
    pub fn price_step(&self) -> Step {
        self.price_step
    }
    /// The quantity step it was decoded with.
    pub fn qty_step(&self) -> Step {
        self.qty_step
    }
    /// The files' layout.
    pub fn layout(&self) -> Layout {
        self.layout
    }
    /// The files, in the order given.
    pub fn files(&self) -> &[PathBuf] {
        &self.files
    }
    /// Every event, in local-time order.
    pub fn events(&self) -> &[Event] {
        &self.events
    }
    /// What the load read.
    pub fn stats(&self) -> TapeStats {
        self.stats
    }
    /// Seconds from the first event to the last, by local time.
    pub fn span_secs(&self) -> f64 {
        match (self.events.first(), self.events.last()) {
            (Some(a), Some(b)) => b.local_ns.saturating_sub(a.local_ns) as f64 / 1e9,
            _ => 0.0,
        }
    }

    /// The order-book message of `ev` as the live decoder produces it
    /// (`None` for a trade).
    #[inline]
    pub fn book(&self, ev: &Event) -> Option<BookUpdate<'_>> {
        let EventKind::Book {
            snapshot,
            depth,
            u,
            seq,
            start,
            bids,
            asks,
        } = ev.kind
        else {
            return None;
        };
        let s = start as usize;
        let m = s + bids as usize;
        let e = m + asks as usize;
        Some(BookUpdate {
            kind: if snapshot {
                BookKind::Snapshot
            } else {
                BookKind::Delta
            },
            depth,
            symbol: self.symbol,
            u,
            seq,
            ts: ev.exch,
            cts: None,
            bids: self.levels.get(s..m).unwrap_or(&[]),
            asks: self.levels.get(m..e).unwrap_or(&[]),
        })
    }

    /// Levels held in the arena.
    pub(crate) fn levels_len(&self) -> usize {
        self.levels.len()
    }

    /// The same recording with other events and level arena (a rewrite of
    /// this one: [`Tape::without_own`]).
    pub(crate) fn with_events(&self, events: Vec<Event>, levels: Vec<Level>) -> Tape {
        Tape {
            events,
            levels,
            ..self.clone_meta()
        }
    }

    fn clone_meta(&self) -> Tape {
        Tape {
            symbol: self.symbol,
            price_step: self.price_step,
            qty_step: self.qty_step,
            layout: self.layout,
            files: self.files.clone(),
            events: Vec::new(),
            levels: Vec::new(),
            stats: self.stats,
        }
    }

    /// Where an event came from, for messages: `file line N`.
    pub fn origin(&self, ev: &Event) -> String {
        let f = self
            .files
            .get(usize::from(ev.file))
            .map(|p| p.display().to_string())
            .unwrap_or_default();
        format!("{f} line {}", ev.line)
    }
}

struct Loader {
    spec: TapeSpec,
    symbol: Option<Symbol>,
    decoder: Option<PublicDecoder>,
    layout: Option<Layout>,
    stats: TapeStats,
}

impl Loader {
    fn new(spec: &TapeSpec) -> Loader {
        Loader {
            spec: *spec,
            symbol: spec.symbol,
            decoder: spec
                .symbol
                .map(|s| PublicDecoder::new(s, spec.price_step, spec.qty_step)),
            layout: None,
            stats: TapeStats::default(),
        }
    }

    fn read(&mut self, mut rec: Recording, file: u16, path: &Path) -> Result<Part, TapeError> {
        let err = |line: u64, kind| TapeError {
            file: path.to_path_buf(),
            line,
            kind,
        };
        let mut part = Part {
            events: Vec::new(),
            levels: Vec::new(),
        };
        loop {
            let reached = rec.line_no() + 1;
            let (line_no, raw) = match rec.next_numbered() {
                None => break,
                Some(Ok(l)) => l,
                Some(Err(e)) => return Err(err(reached, TapeErrorKind::Read(e))),
            };
            self.stats.lines += 1;
            let line = split_line(raw).map_err(|e| err(line_no, TapeErrorKind::Line(e)))?;
            match self.layout {
                None => self.layout = Some(line.layout()),
                Some(first) if first != line.layout() => {
                    return Err(err(line_no, TapeErrorKind::MixedLayouts { first }))
                }
                Some(_) => {}
            }
            if self.decoder.is_none() {
                match topic_symbol(line.json) {
                    Some(sym) => {
                        self.symbol = Some(sym);
                        self.decoder = Some(PublicDecoder::new(
                            sym,
                            self.spec.price_step,
                            self.spec.qty_step,
                        ));
                    }
                    None => {
                        // Acks and pongs before the first market message.
                        self.stats.replies += 1;
                        continue;
                    }
                }
            }
            let Some(dec) = self.decoder.as_mut() else {
                continue;
            };
            let at = u32::try_from(line_no).unwrap_or(u32::MAX);
            match dec.decode(line.json) {
                Ok(PublicEvent::Book(b)) => {
                    let local_ns = line.local_ns.unwrap_or(b.ts.0.saturating_mul(1_000_000));
                    let start = part.levels.len() as u32;
                    part.levels.extend_from_slice(b.bids);
                    part.levels.extend_from_slice(b.asks);
                    self.stats.books += 1;
                    let snapshot = b.kind == BookKind::Snapshot;
                    self.stats.snapshots += u64::from(snapshot);
                    part.events.push(Event {
                        local_ns,
                        exch: b.ts,
                        file,
                        line: at,
                        kind: EventKind::Book {
                            snapshot,
                            depth: b.depth,
                            u: b.u,
                            seq: b.seq,
                            start,
                            bids: b.bids.len() as u32,
                            asks: b.asks.len() as u32,
                        },
                    });
                }
                Ok(PublicEvent::Trades(t)) => {
                    let local_ns = line.local_ns.unwrap_or(t.ts.0.saturating_mul(1_000_000));
                    self.stats.trade_msgs += 1;
                    for tr in t.trades {
                        self.stats.trades += 1;
                        part.events.push(Event {
                            local_ns,
                            exch: tr.time,
                            file,
                            line: at,
                            kind: EventKind::Trade(TradeEvent {
                                taker: tr.taker_side,
                                price: tr.price,
                                qty: tr.qty,
                            }),
                        });
                    }
                }
                Ok(_) => self.stats.replies += 1,
                Err(PublicError::UnknownTopic) => self.stats.other_topics += 1,
                Err(PublicError::WrongSymbol) => self.stats.other_symbols += 1,
                Err(e) => return Err(err(line_no, TapeErrorKind::Decode(e))),
            }
        }
        Ok(part)
    }

    fn finish(self, files: Vec<PathBuf>, parts: Vec<Part>) -> Result<Tape, TapeError> {
        let (Some(symbol), Some(layout)) = (self.symbol, self.layout) else {
            return Err(TapeError {
                file: files.first().cloned().unwrap_or_default(),
                line: 0,
                kind: TapeErrorKind::NoMarketData,
            });
        };
        if self.stats.books + self.stats.trades == 0 {
            return Err(TapeError {
                file: files.first().cloned().unwrap_or_default(),
                line: 0,
                kind: TapeErrorKind::NoMarketData,
            });
        }
        let (events, levels) = merge(parts);
        Ok(Tape {
            symbol,
            price_step: self.spec.price_step,
            qty_step: self.spec.qty_step,
            layout,
            files,
            events,
            levels,
            stats: self.stats,
        })
    }
}

/// Interleaves the parts by local time; ties and each part's own order are
/// kept (a k-way merge: never a sort that could reorder one file's events).
fn merge(mut parts: Vec<Part>) -> (Vec<Event>, Vec<Level>) {
    if parts.len() == 1 {
        if let Some(p) = parts.pop() {
            return (p.events, p.levels);
        }
    }
    let total: usize = parts.iter().map(|p| p.events.len()).sum();
    let mut events = Vec::with_capacity(total);
    let mut levels = Vec::with_capacity(parts.iter().map(|p| p.levels.len()).sum());
    let mut base = Vec::with_capacity(parts.len());
    for p in &parts {
        base.push(levels.len() as u32);
        levels.extend_from_slice(&p.levels);
    }
    let mut next = vec![0usize; parts.len()];
    let mut heap = BinaryHeap::new();
    for (i, p) in parts.iter().enumerate() {
        if let Some(e) = p.events.first() {
            heap.push(Reverse((e.local_ns, i)));
        }
    }
    while let Some(Reverse((_, i))) = heap.pop() {
        let k = next[i];
        let mut e = parts[i].events[k];
        if let EventKind::Book { ref mut start, .. } = e.kind {
            *start += base[i];
        }
        events.push(e);
        next[i] = k + 1;
        if let Some(n) = parts[i].events.get(k + 1) {
            heap.push(Reverse((n.local_ns, i)));
        }
    }
    (events, levels)
}

/// The symbol of an `orderbook.{depth}.{symbol}` or `publicTrade.{symbol}`
/// message, read from its `topic` without decoding it.
pub fn topic_symbol(json: &[u8]) -> Option<Symbol> {
    const KEY: &[u8] = b"\"topic\":\"";
    let at = json.windows(KEY.len()).position(|w| w == KEY)? + KEY.len();
    let rest = json.get(at..)?;
    let end = rest.iter().position(|&b| b == b'"')?;
    let topic = rest.get(..end)?;
    let sym = if let Some(t) = topic.strip_prefix(b"orderbook.") {
        let dot = t.iter().position(|&b| b == b'.')?;
        t.get(dot + 1..)?
    } else {
        topic.strip_prefix(b"publicTrade.")?
    };
    Symbol::new(sym).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> TapeSpec {
        TapeSpec {
            price_step: Step::parse("0.1").unwrap(),
            qty_step: Step::parse("0.001").unwrap(),
            symbol: None,
        }
    }

    const SNAP: &str = r#"{"topic":"orderbook.50.BTCUSDT","type":"snapshot","ts":1000,"data":{"s":"BTCUSDT","b":[["100.0","1.5"]],"a":[["100.2","2"]],"u":1,"seq":10},"cts":999}"#;
    const DELTA: &str = r#"{"topic":"orderbook.50.BTCUSDT","type":"delta","ts":1001,"data":{"s":"BTCUSDT","b":[["100.1","0.5"]],"a":[],"u":2,"seq":11},"cts":1000}"#;
    const TRADE: &str = r#"{"topic":"publicTrade.BTCUSDT","type":"snapshot","ts":1002,"data":[{"T":1001,"s":"BTCUSDT","S":"Sell","v":"0.2","p":"100.1","L":"MinusTick","i":"a","BT":false},{"T":1002,"s":"BTCUSDT","S":"Buy","v":"0.3","p":"100.2","L":"PlusTick","i":"b","BT":false}]}"#;

    #[test]
    fn a_recorder_file_becomes_books_and_trades_in_order() {
        let text = format!(
            "5 {{\"success\":true,\"op\":\"subscribe\",\"conn_id\":\"c\"}}\n10 {SNAP}\n\n20 {DELTA}\n30 {TRADE}\n"
        );
        let t = Tape::from_bytes("r", text.as_bytes(), &spec()).unwrap();
        assert_eq!(t.symbol().as_str(), "BTCUSDT");
        assert_eq!(t.layout(), Layout::Recorder);
        let ev = t.events();
        assert_eq!(ev.len(), 4);
        assert_eq!(
            ev.iter().map(|e| (e.local_ns, e.line)).collect::<Vec<_>>(),
            vec![(10, 2), (20, 4), (30, 5), (30, 5)]
        );
        let b = t.book(&ev[1]).unwrap();
        assert_eq!(b.kind, BookKind::Delta);
        assert_eq!(
            b.bids,
            &[Level {
                price: Ticks(1001),
                qty: Lots(500)
            }]
        );
        assert!(b.asks.is_empty());
        assert_eq!(ev[2].exch, ExchMs(1001));
        assert_eq!(
            ev[3].kind,
            EventKind::Trade(TradeEvent {
                taker: Side::Buy,
                price: Ticks(1002),
                qty: Lots(300)
            })
        );
        let s = t.stats();
        assert_eq!(
            (s.books, s.snapshots, s.trade_msgs, s.trades, s.replies),
            (2, 1, 1, 2, 1)
        );
    }

    #[test]
    fn archive_lines_take_their_exchange_time() {
        let text = format!("{SNAP}\n{DELTA}\n");
        let t = Tape::from_bytes("a", text.as_bytes(), &spec()).unwrap();
        assert_eq!(t.layout(), Layout::Archive);
        assert_eq!(t.events()[1].local_ns, 1_001_000_000);
    }

    #[test]
    fn bad_lines_are_named_errors() {
        let cases: [(String, u64, &str); 4] = [
            (
                format!("10 {SNAP}\n20 {{\"topic\":\"orderbook.50.BTCUSDT\",\"type\":\"delta\"\n"),
                2,
                "decode",
            ),
            (format!("10 {SNAP}\n{DELTA}\n"), 2, "layout"),
            (
                format!("10 {SNAP}\n20 {}\n", DELTA.replace("100.1", "100.15")),
                2,
                "bad price",
            ),
            (format!("10 {SNAP}\nxx\n"), 2, "neither"),
        ];
        for (text, line, what) in cases {
            let e = Tape::from_bytes("bad", text.as_bytes(), &spec()).unwrap_err();
            assert_eq!(e.line, line, "{e}");
            let msg = e.to_string();
            assert!(msg.contains(&format!("bad line {line}")), "{msg}");
            assert!(msg.contains(what), "{msg} lacks {what}");
        }
    }

    #[test]
    fn other_symbols_and_topics_are_skipped_and_counted() {
        let other = SNAP.replace("BTCUSDT", "ETHUSDT");
        let tick = r#"{"topic":"tickers.BTCUSDT","type":"snapshot","ts":1,"data":{}}"#;
        let text = format!("{SNAP}\n{other}\n{tick}\n");
        let t = Tape::from_bytes("x", text.as_bytes(), &spec()).unwrap();
        assert_eq!(t.events().len(), 1);
        assert_eq!((t.stats().other_symbols, t.stats().other_topics), (1, 1));
    }

    #[test]
    fn no_market_data_is_an_error() {
        let e = Tape::from_bytes("e", b"{\"op\":\"pong\"}\n", &spec()).unwrap_err();
        assert!(matches!(e.kind, TapeErrorKind::NoMarketData), "{e}");
    }

    #[test]
    fn merge_interleaves_by_time_and_keeps_each_files_order() {
        let ev = |t: u64, line: u32, start: u32| Event {
            local_ns: t,
            exch: ExchMs(0),
            file: 0,
            line,
            kind: EventKind::Book {
                snapshot: false,
                depth: 1,
                u: UpdateId(0),
                seq: Seq(0),
                start,
                bids: 1,
                asks: 0,
            },
        };
        let lv = |p: i64| Level {
            price: Ticks(p),
            qty: Lots(1),
        };
        let a = Part {
            // Out of order inside the file: kept as it is.
            events: vec![ev(10, 1, 0), ev(5, 2, 1), ev(30, 3, 2)],
            levels: vec![lv(1), lv(2), lv(3)],
        };
        let b = Part {
            events: vec![ev(10, 1, 0), ev(20, 2, 1)],
            levels: vec![lv(4), lv(5)],
        };
        let (events, levels) = merge(vec![a, b]);
        let got: Vec<(u64, u32, i64)> = events
            .iter()
            .map(|e| match e.kind {
                EventKind::Book { start, .. } => {
                    (e.local_ns, e.line, levels[start as usize].price.0)
                }
                _ => unreachable!(),
            })
            .collect();
        assert_eq!(
            got,
            vec![(10, 1, 1), (5, 2, 2), (10, 1, 4), (20, 2, 5), (30, 3, 3)]
        );
    }

    #[test]
    fn topic_symbols_are_read_from_both_topics() {
        assert_eq!(topic_symbol(SNAP.as_bytes()).unwrap().as_str(), "BTCUSDT");
        assert_eq!(topic_symbol(TRADE.as_bytes()).unwrap().as_str(), "BTCUSDT");
        assert!(topic_symbol(b"{\"op\":\"pong\"}").is_none());
    }
}
