//! Simulator wire benchmarks (custom harness; prints percentiles for BENCHMARKS.md).
//!
//! - `sim_public_throughput_one_subscriber`: one plain-WS subscriber to `orderbook.50.BTCUSDT` in
//!   the as-fast-as-possible pace; messages per second received (target ≥ 50,000/s). The answer is
//!   validated first: every delta's `u` must be the previous `u + 1`.
//! - `echo_wire_to_wire_vs_tcp_pingpong`: the built-in echo client answers every market message
//!   (paced: one every 200 µs) with a WS-trade request; the simulator measures message-written →
//!   request-read on its own TSC clock. Compared, in the same run, with a bare TCP ping-pong of the
//!   same sizes (both ends blocking in `read`, like the simulator sleeping in epoll).
//!
//! Run: `cargo bench --bench sim_wire` (env `SIM_WIRE_MSGS`, `SIM_WIRE_REACTIONS` to resize).

use gapmm::ids::Category;
use gapmm::sim::exchange::ExchangeConfig;
use gapmm::sim::market::{MarketModel, SyntheticParams};
use gapmm::sim::measure::{self, EchoConfig, PingPongCores};
use gapmm::sim::{Pace, Sim, SimConfig};
use std::net::TcpStream;
use std::time::{Duration, Instant};
use tungstenite::protocol::WebSocketConfig;
use tungstenite::Message;

fn env_usize(k: &str, d: usize) -> usize {
    std::env::var(k)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(d)
}

fn scan_u(t: &str) -> Option<u64> {
    measure::scan_u(t.as_bytes())
}

fn throughput(n: usize) -> (f64, usize) {
    let mut cfg = SimConfig::new(ExchangeConfig::standard(
        3,
        MarketModel::Synthetic(SyntheticParams::default()),
    ));
    cfg.pace = Pace::Flood;
    let sim = Sim::start(cfg).expect("sim");
    let s = TcpStream::connect(sim.addr()).expect("connect");
    s.set_nodelay(true).expect("nodelay");
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let url = format!("ws://{}/v5/public/linear", sim.addr());
    let (mut ws, _) = tungstenite::client::client_with_config(
        url.as_str(),
        s,
        Some(WebSocketConfig::default().read_buffer_size(16 * 1024)),
    )
    .expect("handshake");
    ws.send(Message::text(
        r#"{"op":"subscribe","args":["orderbook.50.BTCUSDT"]}"#,
    ))
    .expect("subscribe");
    let read = |ws: &mut tungstenite::WebSocket<TcpStream>| -> String {
        match ws.read().expect("frame") {
            Message::Text(t) => t.as_str().to_string(),
            _ => String::new(),
        }
    };
    // Validate: snapshot then consecutive deltas.
    let mut last = loop {
        let t = read(&mut ws);
        if t.contains("\"snapshot\"") {
            break scan_u(&t).expect("snapshot u");
        }
    };
    for _ in 0..10_000 {
        let t = read(&mut ws);
        let u = scan_u(&t).expect("delta u");
        assert_eq!(u, last + 1, "feed skipped an update id");
        last = u;
    }
    let t0 = Instant::now();
    let mut bytes = 0usize;
    for _ in 0..n {
        bytes += read(&mut ws).len();
    }
    let secs = t0.elapsed().as_secs_f64();
    drop(ws);
    sim.shutdown().expect("shutdown");
    (n as f64 / secs, bytes / n.max(1))
}

fn echo(reactions: usize) -> (hdrhistogram::Histogram<u64>, usize) {
    let mut cfg = SimConfig::new(ExchangeConfig::standard(
        3,
        MarketModel::Synthetic(SyntheticParams::default()),
    ));
    cfg.pace = Pace::Every(Duration::from_micros(200));
    cfg.rate_limit_scale = 100_000;
    let sim = Sim::start(cfg).expect("sim");
    let echo = measure::start_echo(
        sim.addr(),
        sim.api_key(),
        sim.api_secret(),
        &EchoConfig {
            category: Category::Linear,
            symbol: "BTCUSDT".into(),
            depth: 50,
            core: None,
        },
    )
    .expect("echo client");
    // Warm-up, then a clean measurement window.
    let warm = Instant::now();
    while echo.stats.sent.load(std::sync::atomic::Ordering::Relaxed) < 2_000
        && warm.elapsed() < Duration::from_secs(30)
    {
        std::thread::sleep(Duration::from_millis(20));
    }
    sim.reset_reactions().expect("reset");
    let t0 = Instant::now();
    let hist = loop {
        std::thread::sleep(Duration::from_millis(100));
        let (h, _) = sim.reactions().expect("reactions");
        let h = h
            .into_iter()
            .find(|(k, _)| k == "ws-trade/echo")
            .map(|(_, h)| h);
        if let Some(h) = h {
            if h.len() as usize >= reactions || t0.elapsed() > Duration::from_secs(120) {
                break h;
            }
        }
    };
    echo.stop().expect("echo stop");
    sim.shutdown().expect("shutdown");
    // The echo request: order.cancel with an echo-n-u id (about this size on the wire).
    let req_len = r#"{"reqId":"echo-12345-1234567","header":{"X-BAPI-TIMESTAMP":"1764000000000"},"op":"order.cancel","args":[{"category":"linear","symbol":"BTCUSDT","orderLinkId":"echo-12345-1234567"}]}"#.len();
    (hist, req_len)
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` passes nothing special: keep it short then.
    let quick = !std::env::args().any(|a| a == "--bench");
    let n = env_usize("SIM_WIRE_MSGS", if quick { 20_000 } else { 300_000 });
    let reactions = env_usize("SIM_WIRE_REACTIONS", if quick { 500 } else { 20_000 });

    let (rate, avg_len) = throughput(n);
    println!("sim_public_throughput_one_subscriber: {rate:.0} msgs/s over {n} messages (avg frame {avg_len} B; target >= 50000)");

    let (h, req_len) = echo(reactions);
    println!(
        "{}",
        measure::summary("echo_wire_to_wire (sim-measured, paced 200us)", &h)
    );
    let iters = reactions.max(1_000);
    let pp = measure::tcp_pingpong(
        avg_len.max(1),
        req_len,
        2_000,
        iters,
        Duration::ZERO,
        PingPongCores::default(),
    )
    .expect("ping-pong")
    .round_trip;
    println!(
        "{}",
        measure::summary(
            &format!("tcp_pingpong back-to-back ({avg_len} B out, {req_len} B back)"),
            &pp
        )
    );
    let paced = measure::tcp_pingpong(
        avg_len.max(1),
        req_len,
        200,
        iters,
        Duration::from_micros(200),
        PingPongCores::default(),
    )
    .expect("ping-pong")
    .round_trip;
    println!(
        "{}",
        measure::summary("tcp_pingpong paced 200us (same sizes)", &paced)
    );
    let p50 = |h: &hdrhistogram::Histogram<u64>| h.value_at_quantile(0.5) as f64 / 1000.0;
    println!(
        "echo_wire_to_wire_vs_tcp_pingpong: p50 {:.1} us (echo) vs {:.1} us (TCP, paced like the feed) vs {:.1} us (TCP back-to-back)",
        p50(&h),
        p50(&paced),
        p50(&pp)
    );
}
