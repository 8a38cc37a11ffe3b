//! The operations endpoint: Prometheus text exposition (format 0.0.4) of
//! the status board and the hop histograms, over plain HTTP/1.1.
//!
//! Contract: monitor thread only, never a hot thread. [`render`] is sans-I/O
//! (it reads the board's relaxed atomics and the collectors' totals and
//! allocates the text); [`MetricsServer::serve_pending`] accepts the
//! connections already waiting, answers each (one request, then close) and
//! returns; a client that sends nothing is given up on after
//! [`CLIENT_TIMEOUT`], so the monitor loop is never held longer than that.
//! Clock: wall milliseconds ([`crate::time::wall_ms`]) for the message age;
//! latencies are the histograms' nanoseconds, exposed in seconds.

use std::fmt::Write as _;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::Duration;

use crate::engine::metrics::{Hop, HopCollector};
use crate::engine::status::{get, getu, Board};
use crate::units::Step;

/// How long one client may take to send its request or read the answer.
pub const CLIENT_TIMEOUT: Duration = Duration::from_millis(200);

/// The `Content-Type` of the text exposition format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// What [`render`] reads besides the board.
pub struct View<'a> {
    /// The symbol quoted (the `symbol` label).
    pub symbol: &'a str,
    /// Price and quantity steps (the board holds ticks and lots).
    pub steps: (Step, Step),
    /// The stages' hop collectors; each hop is taken from the one holding
    /// its samples.
    pub hops: &'a [&'a HopCollector],
    /// Wall-clock now, ms.
    pub wall_now_ms: u64,
    /// Seconds since start.
    pub uptime_s: f64,
}

struct Out<'a> {
    text: String,
    labels: &'a str,
}

impl Out<'_> {
    fn head(&mut self, name: &str, kind: &str, help: &str) {
        let _ = writeln!(self.text, "# HELP {name} {help}");
        let _ = writeln!(self.text, "# TYPE {name} {kind}");
    }
    fn sample(&mut self, name: &str, extra: &str, v: impl std::fmt::Display) {
        let sep = if extra.is_empty() { "" } else { "," };
        let _ = writeln!(self.text, "{name}{{{}{sep}{extra}}} {v}", self.labels);
    }
    fn one(&mut self, name: &str, kind: &str, help: &str, v: impl std::fmt::Display) {
        self.head(name, kind, help);
        self.sample(name, "", v);
    }
}

/// The exposition text for the board and the collectors' run totals.
pub fn render(board: &Board, view: &View<'_>) -> String {
    let labels = format!("symbol=\"{}\"", view.symbol.escape_default());
    let mut o = Out {
        text: String::with_capacity(8 * 1024),
        labels: &labels,
    };
    let (f, s, r) = (&board.feed, &board.strategy, &board.orders);
    let (price, qty) = (view.steps.0.to_f64(), view.steps.1.to_f64());
    let counter = "counter";
    let gauge = "gauge";

    o.one(
        "gapmm_uptime_seconds",
        gauge,
        "Seconds since the engine started.",
        view.uptime_s,
    );
    o.one(
        "gapmm_book_messages_total",
        counter,
        "Book messages applied.",
        getu(&f.messages) as f64,
    );
    o.one(
        "gapmm_decode_errors_total",
        counter,
        "Public frames that failed to decode.",
        getu(&f.decode_errors) as f64,
    );
    o.one(
        "gapmm_resyncs_total",
        counter,
        "Book resynchronisations (u gap, crossed book).",
        getu(&f.resyncs) as f64,
    );
    o.head("gapmm_reconnects_total", counter, "Reconnects per link.");
    o.sample(
        "gapmm_reconnects_total",
        "link=\"public\"",
        getu(&f.reconnects) as f64,
    );
    o.sample(
        "gapmm_reconnects_total",
        "link=\"orders\"",
        getu(&r.reconnects) as f64,
    );
    o.one(
        "gapmm_book_tradable",
        gauge,
        "1 while the book is valid and fresh (quotes allowed), 0 while quotes are pulled.",
        if f.tradable.load(std::sync::atomic::Ordering::Relaxed) {
            1.0
        } else {
            0.0
        },
    );
    o.one(
        "gapmm_book_last_update_id",
        gauge,
        "Update id u of the last book message applied.",
        getu(&f.last_u) as f64,
    );
    let last = getu(&f.last_exch_ms);
    o.head(
        "gapmm_last_message_age_seconds",
        gauge,
        "Wall time now minus the exchange time of the last book message (absent before the first).",
    );
    if last > 0 {
        let age = view.wall_now_ms.saturating_sub(last) as f64 / 1e3;
        o.sample("gapmm_last_message_age_seconds", "", age);
    }
    o.head(
        "gapmm_quote_price",
        gauge,
        "Wanted and working prices (absent when none).",
    );
    for (which, side, t) in [
        ("wanted", "bid", get(&s.bid)),
        ("wanted", "ask", get(&s.ask)),
        ("working", "bid", get(&r.working_bid)),
        ("working", "ask", get(&r.working_ask)),
    ] {
        if t != 0 {
            let l = format!("kind=\"{which}\",side=\"{side}\"");
            // Exact decimals from the steps, not a float's rendering.
            o.sample("gapmm_quote_price", &l, view.steps.0.display(t));
        }
    }
    o.one(
        "gapmm_fills_total",
        counter,
        "Fills received.",
        getu(&r.fills) as f64,
    );
    o.one(
        "gapmm_requests_total",
        counter,
        "Order requests sent (creates, amends, cancels).",
        getu(&r.actions) as f64,
    );
    o.one(
        "gapmm_rejects_total",
        counter,
        "Requests the exchange rejected.",
        getu(&r.rejects) as f64,
    );
    o.one(
        "gapmm_position",
        gauge,
        "Net position in the base coin (contracts for linear).",
        view.steps.1.display(get(&r.position)),
    );
    o.head("gapmm_pnl", gauge, "PnL in the quote coin.");
    o.sample(
        "gapmm_pnl",
        "kind=\"realised\"",
        get(&r.realised) as f64 * price * qty,
    );
    o.sample(
        "gapmm_pnl",
        "kind=\"unrealised\"",
        get(&r.unrealised) as f64 * price * qty,
    );
    o.one(
        "gapmm_rate_budget_remaining",
        gauge,
        "Order requests the local rate budget allows now (smallest over the order endpoints).",
        get(&r.budget_remaining) as f64,
    );
    o.head(
        "gapmm_rate_limit_status",
        gauge,
        "X-Bapi-Limit-Status of the latest order response that carried it.",
    );
    if r.budget_exchange_seen
        .load(std::sync::atomic::Ordering::Relaxed)
    {
        o.sample(
            "gapmm_rate_limit_status",
            "",
            get(&r.budget_exchange) as f64,
        );
    }

    let name = "gapmm_hop_latency_seconds";
    o.head(
        name,
        "summary",
        "Per-hop latency over the run (see tuning.md for the hops).",
    );
    for hop in Hop::ALL {
        let Some(h) = view
            .hops
            .iter()
            .map(|c| c.total_histogram(hop))
            .max_by_key(|h| h.len())
            .filter(|h| !h.is_empty())
        else {
            continue;
        };
        for q in [0.5, 0.9, 0.99, 0.999] {
            let l = format!("hop=\"{}\",quantile=\"{q}\"", hop.name());
            o.sample(name, &l, h.value_at_quantile(q) as f64 / 1e9);
        }
        let l = format!("hop=\"{}\"", hop.name());
        let sum = h.mean() * h.len() as f64 / 1e9;
        o.sample(&format!("{name}_sum"), &l, sum);
        o.sample(&format!("{name}_count"), &l, h.len() as f64);
    }
    o.text
}

/// The listening socket of `--metrics`.
pub struct MetricsServer {
    listener: TcpListener,
}

impl MetricsServer {
    /// Binds `addr` (non-blocking accept).
    pub fn bind(addr: SocketAddr) -> io::Result<MetricsServer> {
        let listener = TcpListener::bind(addr)?;
        listener.set_nonblocking(true)?;
        Ok(MetricsServer { listener })
    }

    /// The bound address (the port chosen when asked for port 0).
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Answers every connection already waiting: `GET /metrics` gets the
    /// text `body` renders (rendered once, however many are waiting), any
    /// other request a 404. Returns how many were answered.
    pub fn serve_pending(&mut self, mut body: impl FnMut() -> String) -> usize {
        let mut text: Option<String> = None;
        let mut n = 0;
        loop {
            match self.listener.accept() {
                Ok((stream, _)) => {
                    let _ = answer(stream, &mut text, &mut body);
                    n += 1;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                // WouldBlock (none left) or a failed accept: try next time.
                Err(_) => return n,
            }
        }
    }
}

fn answer(
    mut stream: TcpStream,
    text: &mut Option<String>,
    body: &mut impl FnMut() -> String,
) -> io::Result<()> {
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(CLIENT_TIMEOUT))?;
    stream.set_write_timeout(Some(CLIENT_TIMEOUT))?;
    let mut buf = [0u8; 2048];
    let mut len = 0;
    while !buf[..len].windows(4).any(|w| w == b"\r\n\r\n") && len < buf.len() {
        match stream.read(&mut buf[len..])? {
            0 => break,
            k => len += k,
        }
    }
    let line = buf[..len].split(|&b| b == b'\r').next().unwrap_or(&[]);
    let mut parts = line.split(|&b| b == b' ');
    let (method, path) = (parts.next(), parts.next());
    let path = path.map(|p| p.split(|&b| b == b'?').next().unwrap_or(p));
    let (status, content) = match (method, path) {
        (Some(b"GET"), Some(b"/metrics")) => {
            ("200 OK", text.get_or_insert_with(&mut *body).as_str())
        }
        (Some(b"GET"), _) => ("404 Not Found", "only /metrics is served\n"),
        _ => ("405 Method Not Allowed", "only GET /metrics is served\n"),
    };
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {CONTENT_TYPE}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        content.len()
    );
    stream.write_all(head.as_bytes())?;
    stream.write_all(content.as_bytes())?;
    stream.flush()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::metrics::hop_channel;
    use std::sync::atomic::Ordering::Relaxed;

    fn steps() -> (Step, Step) {
        (
            Step::parse("0.01").unwrap(),
            Step::parse("0.000001").unwrap(),
        )
    }

    #[test]
    fn board_figures_appear_in_their_units_with_the_symbol_label() {
        let board = Board::default();
        board.orders.position.store(1_500_000, Relaxed);
        board.orders.fills.store(7, Relaxed);
        board.orders.working_bid.store(6_000_000, Relaxed);
        board.feed.tradable.store(true, Relaxed);
        board.feed.last_exch_ms.store(1_000, Relaxed);
        let (_, col) = hop_channel(1);
        let text = render(
            &board,
            &View {
                symbol: "BTCUSDT",
                steps: steps(),
                hops: &[&col],
                wall_now_ms: 3_500,
                uptime_s: 2.0,
            },
        );
        assert!(
            text.contains("gapmm_position{symbol=\"BTCUSDT\"} 1.500000\n"),
            "{text}"
        );
        assert!(text.contains("gapmm_fills_total{symbol=\"BTCUSDT\"} 7\n"));
        assert!(text.contains("gapmm_book_tradable{symbol=\"BTCUSDT\"} 1\n"));
        assert!(text.contains("gapmm_last_message_age_seconds{symbol=\"BTCUSDT\"} 2.5\n"));
        assert!(text.contains(
            "gapmm_quote_price{symbol=\"BTCUSDT\",kind=\"working\",side=\"bid\"} 60000.00\n"
        ));
        // No working ask, no wanted quotes, no hop samples yet: absent, not 0.
        assert!(!text.contains("side=\"ask\""));
        assert!(!text.contains("gapmm_hop_latency_seconds{"));
    }

    #[test]
    fn hop_quantiles_come_from_the_collector_that_holds_the_samples() {
        let board = Board::default();
        let (mut rec, mut col) = hop_channel(2);
        let (_, empty) = hop_channel(1);
        for ns in [1_000u64, 2_000, 3_000, 4_000] {
            rec.record(Hop::TickToWire, ns);
        }
        rec.rotate(1);
        col.collect(1);
        let text = render(
            &board,
            &View {
                symbol: "X",
                steps: steps(),
                hops: &[&empty, &col],
                wall_now_ms: 0,
                uptime_s: 0.0,
            },
        );
        assert!(
            text.contains("gapmm_hop_latency_seconds_count{symbol=\"X\",hop=\"tick_to_wire\"} 4\n"),
            "{text}"
        );
        let p50 = text
            .lines()
            .find(|l| l.contains("hop=\"tick_to_wire\",quantile=\"0.5\""))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap();
        assert!((p50 - 2e-6).abs() < 0.01e-6, "p50 {p50}");
        // Before the first book message there is no age to show.
        assert!(!text.contains("gapmm_last_message_age_seconds{"));
    }
}
