//! `gapmm-compare`: one command that starts gapmm-sim in-process (fixed seed, paced ticks, plain
//! TCP on 127.0.0.1) and measures, one after another on the same simulator, the wire-to-wire
//! reaction time of: the floor, gapmm-hot (`--transport ws` and `rest`, as a subprocess) and the
//! tokio baselines (multi/current thread × ws/rest, in-process on their own runtime threads).
//!
//! Like for like: every client variant decides on the same ticks under the same gating (the
//! newest target only, one unanswered request per side, Bybit's default rate budget through
//! [`gapmm::oms::RateBudget`]) and tags each request with the tick it reacts to (WS `reqId`, REST
//! `orderLinkId`), so the rows count the same kind of decision and n is comparable. The floor is
//! the cheapest possible reply: a busy-polling reader on gapmm-hot's core that writes a pre-built
//! `order.cancel`, answering about as often as the amend budget lets the others send. The table
//! ends with the bar the rows are held to (n within 2×; gapmm-hot's p50 and p99 at most half of
//! the best async variant's over the same transport).
//!
//! Each variant runs until the simulator has written `--warmup` + `--ticks` book messages to it; the
//! reaction histograms are reset after the warm-up and read right after the last measured tick.
//! Output: a Markdown table on stdout, `target/compare/summary.csv`, `target/compare/summary.md`,
//! `target/compare/latency.png`, and the gapmm-hot logs (`target/compare/hot-*.log`).
//!
//! ```text
//! cargo build --release --bins --workspace && target/release/gapmm-compare
//! ```

use clap::Parser;
use gapmm::engine::topology::{available_cores, pin_current};
use gapmm::ids::Category;
use gapmm::oms::{Endpoint, RateLimits};
use gapmm::sim::exchange::ExchangeConfig;
use gapmm::sim::market::{MarketModel, SyntheticParams};
use gapmm::sim::measure::{start_echo, EchoConfig};
use gapmm::sim::{Pace, Sim, SimConfig, SimHandle};
use gapmm_async::{run_blocking, Config, RunStats, RuntimeKind, Transport};
use gapmm_compare::{median_spread, plot, ratio, table, write_csv, Ratios, Row};
use hdrhistogram::Histogram;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Side-by-side wire-to-wire latency comparison against the in-process gapmm-sim.
#[derive(Parser, Debug)]
#[command(name = "gapmm-compare")]
struct Args {
    /// Measured ticks (book messages) per variant.
    #[arg(long, default_value_t = 10_000)]
    ticks: u64,
    /// Ticks run before the histograms are reset (connection set-up, first creates, warm caches).
    #[arg(long, default_value_t = 500)]
    warmup: u64,
    /// Microseconds between ticks (Pace::Every); keep it above the slowest reaction, and slow
    /// enough that the scaled rate budget seldom holds a decision back.
    #[arg(long = "pace-us", default_value_t = 2_000)]
    pace_us: u64,
    /// Multiplies every client's rate budget (gapmm-hot `--sim-budget-scale`, the async
    /// variants' gate): with Bybit's 10 amends/s most decisions would wait for the budget and
    /// be no reaction at all. Capped at 128 requests/s per endpoint.
    #[arg(long = "budget-scale", default_value_t = 10)]
    budget_scale: u32,
    /// Seed of the simulator's synthetic market.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Repeat the whole sequence this many times; ratios are reported as median (min-max).
    #[arg(long, default_value_t = 1)]
    rounds: u32,
    /// The gapmm-hot binary.
    #[arg(long = "hot-bin", default_value = "target/release/gapmm-hot")]
    hot_bin: PathBuf,
    /// gapmm-hot's `--warm-us`: while idle it rehearses the send path this often (WS transport),
    /// as its latency benchmark runs it (README); 0 = off, the engine's default. Three rounds
    /// with 50 showed no clear change (BENCHMARKS.md).
    #[arg(long = "hot-warm-us", default_value_t = 0)]
    hot_warm_us: u64,
    /// Skip gapmm-hot.
    #[arg(long = "no-hot")]
    no_hot: bool,
    /// Skip the async REST variants.
    #[arg(long = "no-async-rest")]
    no_async_rest: bool,
    /// Multiply the simulator's per-UID rate limits (Bybit's defaults at 1).
    #[arg(long = "rate-limit-scale", default_value_t = 1000)]
    rate_limit_scale: u32,
    /// Ticks the floor answers per second (the others it reads and skips): about as many as
    /// the clients react to at the default pace, so its n is comparable.
    #[arg(long = "floor-per-sec", default_value_t = 20)]
    floor_per_sec: u32,
    /// The floor answers every tick (for paces slow enough that nothing is held).
    #[arg(long = "floor-every-tick")]
    floor_every_tick: bool,
    /// The simulator busy-polls its core instead of sleeping in epoll, so no client's `write`
    /// pays for waking it (on this VM an inter-processor interrupt, ~15 µs): as against a
    /// remote exchange, where a write ends at the NIC.
    #[arg(long = "sim-busy-poll")]
    sim_busy_poll: bool,
    /// Output directory.
    #[arg(long, default_value = "target/compare")]
    out: PathBuf,
}

const SYMBOL: &str = "BTCUSDT";

#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    Echo,
    Hot(Transport),
    Async(RuntimeKind, Transport),
}

impl Kind {
    fn label(self) -> &'static str {
        match self {
            Kind::Echo => "floor (busy echo)",
            Kind::Hot(Transport::Ws) => "gapmm-hot ws",
            Kind::Hot(Transport::Rest) => "gapmm-hot rest",
            Kind::Async(RuntimeKind::Multi, Transport::Ws) => "tokio multi ws",
            Kind::Async(RuntimeKind::Current, Transport::Ws) => "tokio current ws",
            Kind::Async(RuntimeKind::Multi, Transport::Rest) => "tokio multi rest",
            Kind::Async(RuntimeKind::Current, Transport::Rest) => "tokio current rest",
        }
    }
    fn transport(self) -> Transport {
        match self {
            Kind::Echo => Transport::Ws,
            Kind::Hot(t) | Kind::Async(_, t) => t,
        }
    }
    /// The simulator's variant name (None: whatever gapmm-hot files under the channel).
    fn sim_variant(self) -> Option<&'static str> {
        match self {
            Kind::Echo => Some("echo"),
            Kind::Hot(_) => None,
            Kind::Async(RuntimeKind::Multi, Transport::Ws) => Some("asyncmt"),
            Kind::Async(RuntimeKind::Current, Transport::Ws) => Some("asyncct"),
            Kind::Async(RuntimeKind::Multi, Transport::Rest) => Some("asyncmtrest"),
            Kind::Async(RuntimeKind::Current, Transport::Rest) => Some("asyncctrest"),
        }
    }
}

fn channel(t: Transport) -> &'static str {
    match t {
        Transport::Ws => "ws-trade",
        Transport::Rest => "rest",
    }
}

fn main() {
    if let Err(e) = run() {
        eprintln!("gapmm-compare: {e}");
        std::process::exit(1);
    }
}

fn new_hist() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 60_000_000_000, 3).unwrap_or_else(|_| unreachable!())
}

fn run() -> Result<(), String> {
    let a = Args::parse();
    println!(
        "gapmm-sim in-process (seed {}, one tick every {} µs, {} linear, a fresh simulator per variant), {} warm-up + {} measured ticks per variant, {} round(s)",
        a.seed, a.pace_us, SYMBOL, a.warmup, a.ticks, a.rounds
    );
    let mut kinds = vec![Kind::Echo];
    if !a.no_hot {
        kinds.push(Kind::Hot(Transport::Ws));
        kinds.push(Kind::Hot(Transport::Rest));
    }
    kinds.push(Kind::Async(RuntimeKind::Multi, Transport::Ws));
    kinds.push(Kind::Async(RuntimeKind::Current, Transport::Ws));
    if !a.no_async_rest {
        kinds.push(Kind::Async(RuntimeKind::Multi, Transport::Rest));
        kinds.push(Kind::Async(RuntimeKind::Current, Transport::Rest));
    }
    std::fs::create_dir_all(&a.out).map_err(|e| format!("{}: {e}", a.out.display()))?;
    let mut merged: Vec<Option<Histogram<u64>>> = vec![None; kinds.len()];
    let mut per_round: Vec<Vec<Option<Row>>> = Vec::new();
    let started = Instant::now();
    // Enumerated once, before any pinning (the OS reports the caller's current mask).
    let cores = available_cores();
    let machine = machine();
    for round in 1..=a.rounds {
        let mut rows = Vec::new();
        for (i, &k) in kinds.iter().enumerate() {
            let t0 = Instant::now();
            // Threads (and child processes) inherit the affinity of the thread
            // that starts them: the simulator gets the first core, every client
            // variant the second, so no variant competes with the exchange for
            // its core and each variant gets the same single core.
            if let Some(&c) = cores.first() {
                pin_current(c);
            }
            let res = start_sim(&a).and_then(|sim| {
                if let Some(&c) = cores.get(1) {
                    pin_current(c);
                }
                let r = measure(&sim, &a, k, round, cores.get(1).copied());
                let _ = sim.shutdown();
                r
            });
            match res {
                Ok(h) => {
                    let row = Row::from_hist(k.label(), &h);
                    println!(
                        "round {round}: {:<20} n={:>6} p50={:>7.1}µs p99={:>8.1}µs ({:.1}s)",
                        k.label(),
                        row.n,
                        row.p50 as f64 / 1e3,
                        row.p99 as f64 / 1e3,
                        t0.elapsed().as_secs_f64()
                    );
                    match &mut merged[i] {
                        Some(m) => {
                            let _ = m.add(&h);
                        }
                        slot @ None => *slot = Some(h),
                    }
                    rows.push(Some(row));
                }
                Err(e) => {
                    println!("round {round}: {:<20} SKIPPED: {e}", k.label());
                    rows.push(None);
                }
            }
        }
        per_round.push(rows);
    }
    // Ratios per round, then the merged table.
    let floor_idx = 0;
    let hot_idx = |t: Transport| kinds.iter().position(|k| *k == Kind::Hot(t));
    let mut rows = Vec::new();
    let mut ratios = Vec::new();
    let mut series = Vec::new();
    for (i, &k) in kinds.iter().enumerate() {
        let Some(h) = &merged[i] else { continue };
        rows.push(Row::from_hist(k.label(), h));
        series.push((k.label().to_string(), h.clone()));
        let mut r = Ratios::default();
        for round in &per_round {
            let me = round.get(i).and_then(|x| x.as_ref());
            let floor = round.get(floor_idx).and_then(|x| x.as_ref());
            let hot = hot_idx(k.transport())
                .and_then(|j| round.get(j))
                .and_then(|x| x.as_ref());
            if let (Some(me), Some(f)) = (me, floor) {
                r.to_floor.extend(ratio(me.p50, f.p50));
            }
            if let (Some(me), Some(h)) = (me, hot) {
                if k != Kind::Echo {
                    r.to_hot.extend(ratio(me.p50, h.p50));
                }
            }
        }
        ratios.push(r);
    }
    let mut t = table(&rows, &ratios);
    if rows.iter().any(|r| r.variant.starts_with("gapmm-hot")) {
        t.push_str(
            "\nEvery client variant gates its requests the same way (the newest target only, one \
             unanswered request per side, the same rate budget scaled by `--budget-scale`; what the \
             gate holds is sent later and is no reaction) and tags a request with the tick it reacts \
             to (WS `reqId`; REST a header, or the async variants' `orderLinkId`). A reaction is the \
             first request a tick caused (a batch of both sides and two single requests count once). \
             The floor is a busy-polling reader on gapmm-hot's core that writes a pre-built \
             `order.cancel` for `--floor-per-sec` ticks a second.\n",
        );
    }
    t.push_str(&verdict(&kinds, &merged));
    let head = format!(
        "gapmm-compare: seed {}, pace {} µs, {} warm-up + {} measured ticks per variant, {} round(s), {} linear; {}\n",
        a.seed, a.pace_us, a.warmup, a.ticks, a.rounds, SYMBOL, machine
    );
    println!("\n{head}\n{t}");
    if a.rounds > 1 {
        for (row, r) in rows.iter().zip(&ratios) {
            if let Some((m, lo, hi)) = median_spread(&r.to_hot) {
                println!(
                    "{}: p50 / gapmm-hot median {m:.2}, spread {lo:.2}-{hi:.2}",
                    row.variant
                );
            }
        }
    }
    let csv_path = a.out.join("summary.csv");
    write_csv(&csv_path, &rows).map_err(|e| format!("{}: {e}", csv_path.display()))?;
    let md = a.out.join("summary.md");
    std::fs::write(&md, format!("{head}\n{t}")).map_err(|e| format!("{}: {e}", md.display()))?;
    let png = a.out.join("latency.png");
    match plot(&png, &series) {
        Ok(true) => println!("plot: {}", png.display()),
        Ok(false) => println!(
            "plot: {} (no font found: drawn without labels)",
            png.display()
        ),
        Err(e) => println!("plot failed: {e}"),
    }
    println!(
        "csv: {}  table: {}  total {:.0}s",
        csv_path.display(),
        md.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// The issue's bar, checked on the merged histograms: n within 2× across
/// the rows, and gapmm-hot's p50 and p99 at most half of the best async
/// variant's over the same transport.
fn verdict(kinds: &[Kind], merged: &[Option<Histogram<u64>>]) -> String {
    let mut out = String::from("\n");
    let ns: Vec<u64> = merged.iter().flatten().map(|h| h.len()).collect();
    if let (Some(&lo), Some(&hi)) = (ns.iter().min(), ns.iter().max()) {
        out.push_str(&format!(
            "n: {lo} to {hi} ({:.2}x): {}\n",
            hi as f64 / lo.max(1) as f64,
            if hi <= 2 * lo {
                "comparable"
            } else {
                "NOT within 2x"
            }
        ));
    }
    for t in [Transport::Ws, Transport::Rest] {
        let of = |want: &dyn Fn(Kind) -> bool| {
            kinds
                .iter()
                .zip(merged)
                .filter(|(k, _)| want(**k))
                .filter_map(|(_, h)| h.as_ref())
                .map(|h| (h.value_at_quantile(0.5), h.value_at_quantile(0.99)))
                .collect::<Vec<_>>()
        };
        let hot = of(&|k| k == Kind::Hot(t));
        let asyncs = of(&|k| matches!(k, Kind::Async(_, tt) if tt == t));
        let (Some(&(h50, h99)), Some(b50), Some(b99)) = (
            hot.first(),
            asyncs.iter().map(|x| x.0).min(),
            asyncs.iter().map(|x| x.1).min(),
        ) else {
            continue;
        };
        let name = channel(t);
        out.push_str(&format!(
            "{name}: gapmm-hot p50 {:.1} µs vs best async {:.1} µs ({:.2}x), p99 {:.1} vs {:.1} µs ({:.2}x): {}\n",
            h50 as f64 / 1e3,
            b50 as f64 / 1e3,
            b50 as f64 / h50.max(1) as f64,
            h99 as f64 / 1e3,
            b99 as f64 / 1e3,
            b99 as f64 / h99.max(1) as f64,
            if 2 * h50 <= b50 && 2 * h99 <= b99 {
                "at most half"
            } else {
                "NOT at most half"
            }
        ));
    }
    out
}

/// A fresh simulator with the same seed and pacing for every variant: each one sees the same
/// market, and a book topic reopened by the next client restarts its `u` at 1, which would
/// otherwise meet the previous client's write stamps for the same `u` values in the simulator's
/// stamp ring.
fn start_sim(a: &Args) -> Result<SimHandle, String> {
    let mut ex =
        ExchangeConfig::standard(a.seed, MarketModel::Synthetic(SyntheticParams::default()));
    ex.symbols
        .retain(|s| s.symbol == SYMBOL && s.category == Category::Linear);
    let mut cfg = SimConfig::new(ex);
    cfg.pace = Pace::Every(Duration::from_micros(a.pace_us.max(1)));
    // Bybit's per-UID order limits (10 amends/s on linear) would reject nearly every request of the
    // async variants, which have no rate budget; gapmm-hot keeps its own budget regardless.
    cfg.rate_limit_scale = a.rate_limit_scale;
    cfg.busy_poll = a.sim_busy_poll;
    Sim::start(cfg).map_err(|e| format!("starting the simulator: {e}"))
}

/// `nproc`, CPU model and kernel, for the record.
fn machine() -> String {
    let nproc = std::thread::available_parallelism().map_or(0, |n| n.get());
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_string())
        .unwrap_or_default();
    format!("{nproc} CPUs, {cpu}, Linux {kernel}")
}

/// Waits until the simulator has written `n` more public messages than `base`, or `timeout`.
fn wait_public(sim: &SimHandle, target: u64, timeout: Duration, alive: &dyn Fn() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if sim.stats().public_out >= target {
            return true;
        }
        if Instant::now() >= deadline || !alive() {
            return false;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// Runs one variant and returns its measured histogram. `client_core` is the
/// core every client variant runs on (the floor pins its reader there).
fn measure(
    sim: &SimHandle,
    a: &Args,
    k: Kind,
    round: u32,
    client_core: Option<usize>,
) -> Result<Histogram<u64>, String> {
    let pace = Duration::from_micros(a.pace_us.max(1));
    let budget = |ticks: u64| pace * (ticks as u32) * 3 + Duration::from_secs(15);
    let base = sim.stats().public_out;
    let warm_target = base + a.warmup;
    let end_target = warm_target + a.ticks;
    let ch = channel(k.transport());

    // Start the variant.
    let stop = Arc::new(AtomicBool::new(false));
    let mut echo = None;
    let mut child: Option<Child> = None;
    let mut thread = None;
    match k {
        Kind::Echo => {
            echo = Some(
                start_echo(
                    sim.addr(),
                    sim.api_key(),
                    sim.api_secret(),
                    &EchoConfig {
                        category: Category::Linear,
                        symbol: SYMBOL.into(),
                        depth: 50,
                        // gapmm-hot's placement: the second core, busy-polling.
                        core: client_core,
                        spin: true,
                        // About as many answers as a client under the amend budget sends.
                        min_gap: if a.floor_every_tick {
                            Duration::ZERO
                        } else {
                            floor_gap(a.floor_per_sec, a.budget_scale)
                        },
                    },
                )
                .map_err(|e| format!("echo client: {e}"))?,
            );
        }
        Kind::Hot(t) => {
            if !a.hot_bin.exists() {
                return Err(format!(
                    "{} not found (build it: cargo build --release --bins --workspace)",
                    a.hot_bin.display()
                ));
            }
            let secs = (budget(a.warmup + a.ticks)).as_secs_f64();
            let log = a.out.join(format!(
                "hot-{}-r{round}.log",
                if t == Transport::Ws { "ws" } else { "rest" }
            ));
            let f = std::fs::File::create(&log).map_err(|e| format!("{}: {e}", log.display()))?;
            // Each run gets its own, fresh journal (the engine recovers its journal at start-up).
            let journal = log.with_extension("journal.jsonl");
            let _ = std::fs::remove_file(&journal);
            let f2 = f.try_clone().map_err(|e| e.to_string())?;
            child = Some(
                Command::new(&a.hot_bin)
                    .env("GAPMM_VENUE", "sim")
                    .args([
                        "--sim-url",
                        &sim.http_url(),
                        "--transport",
                        if t == Transport::Ws { "ws" } else { "rest" },
                        "--duration",
                        &format!("{secs:.0}"),
                        "--symbol",
                        SYMBOL,
                        "--market-type",
                        "linear",
                        "--tick-size",
                        "0.1",
                        "--sim-budget-scale",
                        &a.budget_scale.to_string(),
                        "--warm-us",
                        &a.hot_warm_us.to_string(),
                    ])
                    .arg("--journal")
                    .arg(&journal)
                    .stdin(Stdio::null())
                    .stdout(Stdio::from(f))
                    .stderr(Stdio::from(f2))
                    .spawn()
                    .map_err(|e| format!("spawning {}: {e}", a.hot_bin.display()))?,
            );
        }
        Kind::Async(rt, t) => {
            let cfg = Config {
                http_url: sim.http_url(),
                ws_url: sim.ws_url(),
                api_key: sim.api_key().to_string(),
                api_secret: sim.api_secret().to_string(),
                symbol: SYMBOL.into(),
                category: Category::Linear,
                tick_size: "0.1".into(),
                qty_step: "0.001".into(),
                qty: "0.001".into(),
                depth: 50,
                variant: k.sim_variant().unwrap_or("async").to_string(),
                transport: t,
                max_ticks: None,
                duration: Some(budget(a.warmup + a.ticks)),
                budget_scale: a.budget_scale,
            };
            let stop2 = stop.clone();
            thread = Some(
                std::thread::Builder::new()
                    .name("async-variant".into())
                    .spawn(move || {
                        run_blocking(cfg, rt, stop2, Arc::new(RunStats::default()))
                            .map_err(|e| e.to_string())
                    })
                    .map_err(|e| e.to_string())?,
            );
        }
    }

    let child_cell = std::cell::RefCell::new(child);
    let alive = || match child_cell.borrow_mut().as_mut() {
        Some(c) => matches!(c.try_wait(), Ok(None)),
        None => thread.as_ref().is_none_or(|t| !t.is_finished()),
    };
    let warmed = wait_public(sim, warm_target, budget(a.warmup), &alive);
    let result = if warmed {
        sim.reset_reactions().map_err(|e| e.to_string())?;
        if wait_public(sim, end_target, budget(a.ticks), &alive) {
            Ok(())
        } else {
            Err("the variant stopped or stalled before its last tick".to_string())
        }
    } else {
        Err(
            "the variant never received its warm-up ticks (did it start and subscribe?)"
                .to_string(),
        )
    };
    let (hists, _, _) = sim.reactions().map_err(|e| e.to_string())?;

    // Stop the variant.
    if let Some(e) = echo {
        let _ = e.stop();
    }
    stop.store(true, Ordering::Relaxed);
    if let Some(t) = thread {
        match t.join() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(format!("async variant failed: {e}")),
            Err(_) => return Err("async variant panicked".into()),
        }
    }
    if let Some(mut c) = child_cell.into_inner() {
        stop_child(&mut c);
        let log = a.out.join(format!(
            "hot-{}-r{round}.log",
            if k.transport() == Transport::Ws {
                "ws"
            } else {
                "rest"
            }
        ));
        print_tail(&log, 40);
    }
    result?;

    let mut out = new_hist();
    let mut found = false;
    for (key, h) in &hists {
        let Some((c, v)) = key.split_once('/') else {
            continue;
        };
        let mine = match k.sim_variant() {
            Some(name) => v == name,
            None => true,
        };
        if c == ch && mine {
            let _ = out.add(h);
            found = true;
        }
    }
    if !found || out.is_empty() {
        return Err(format!(
            "no reactions recorded under {ch}/{} (keys seen: {:?})",
            k.sim_variant().unwrap_or("*"),
            hists.iter().map(|h| h.0.as_str()).collect::<Vec<_>>()
        ));
    }
    Ok(out)
}

/// How often the floor answers: `--floor-per-sec`, at most as often as
/// the scaled amend budget lets the clients send.
fn floor_gap(per_sec: u32, scale: u32) -> Duration {
    let budget = RateLimits::bybit_default(Category::Linear)
        .scaled(scale)
        .of(Endpoint::Amend)
        .clamp(1, gapmm::oms::budget::MAX_LIMIT as u32);
    Duration::from_secs(1) / per_sec.clamp(1, budget)
}

/// Asks a child to stop with SIGINT (it prints its per-hop histograms), then waits; SIGKILL after 10 s.
fn stop_child(c: &mut Child) {
    if matches!(c.try_wait(), Ok(None)) {
        if let Ok(pid) = i32::try_from(c.id()) {
            // SAFETY: kill(2) on the pid of our own child process, which has not been reaped yet.
            unsafe {
                libc::kill(pid, libc::SIGINT);
            }
        }
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if !matches!(c.try_wait(), Ok(None)) {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = c.kill();
    let _ = c.wait();
}

fn print_tail(path: &Path, n: usize) {
    if let Ok(s) = std::fs::read_to_string(path) {
        let lines: Vec<&str> = s.lines().collect();
        println!(
            "--- {} (last {} lines) ---",
            path.display(),
            n.min(lines.len())
        );
        for l in lines.iter().skip(lines.len().saturating_sub(n)) {
            println!("  {l}");
        }
    }
}
