//! gapmm-soak: the real `gapmm-hot` binary against an in-process simulator for
//! minutes on end, with random faults and a taker account trading against the
//! engine's quotes, then an audit of what the exchange saw against what the
//! engine counted.
//!
//! The run: a synthetic BTCUSDT spot market at `--rate` events per second; one
//! fault at a time (connections dropped or silenced, a skipped update id, a
//! feed stall, 10006 and HTTP 503 answers, slow answers), the next only once
//! the engine has shown it recovered (quoting again, and the reconnect or
//! resync the fault calls for on its metrics endpoint); an IOC taker crossing
//! one to three levels every `--taker-every-ms`; the engine's resident memory
//! sampled every second. At the end the engine is stopped with SIGINT and the
//! soak prints, and checks:
//! - faults injected and survived (recovered within `--recover-s`);
//! - fills on the exchange against the engine's journal and final report
//!   (by execution id: none lost, none counted twice);
//! - duplicate orders: orders the exchange accepted while the engine already
//!   had one open on that side (the exchange's own count, not a sample);
//! - the largest position the exchange saw against the limit plus one order;
//! - resident memory after the warm-up and at the end (growth under 5 %);
//! - no order of the engine's left open after the stop.
//!
//! Exit status 0 when every check holds, 1 when one fails, 2 when the run
//! itself could not be made. Not a test: it runs for minutes (see
//! BENCHMARKS.md for the figures and the command).

mod chaos;
mod probe;
mod taker;

use chaos::{between, Evidence, Kind, Planned, Rng};
use clap::Parser;
use gapmm::ids::Category;
use gapmm::sim::exchange::{AccountConfig, ExchangeConfig, SymbolConfig};
use gapmm::sim::market::{MarketModel, SyntheticParams};
use gapmm::sim::{Fault, Sim, SimConfig, SimHandle};
use gapmm::units::Step;
use probe::Scrape;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The engine's account on the simulator (its default keys).
const ENGINE_KEY: &str = "simkey";

#[derive(Parser, Debug)]
#[command(
    name = "gapmm-soak",
    about = "Soak run: gapmm-hot against the simulator with random faults and a taker flow"
)]
struct Args {
    /// Seconds of trading (after start-up).
    #[arg(long, default_value_t = 600)]
    seconds: u64,
    /// Synthetic market events per second. About nine in ten become a book message on the
    /// engine's topic (the rest change nothing in its 50 levels, or fall in a feed stall), so the
    /// default gives 10,000 messages a second or more; the report prints the rate measured.
    #[arg(long, default_value_t = 11_500)]
    rate: u32,
    /// Seed of the market, the faults and the taker.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Mean pause (ms) between a recovery and the next fault (drawn from half to one and a half times it).
    #[arg(long, default_value_t = 3_000)]
    fault_gap_ms: u64,
    /// Fault kinds to draw from, comma-separated (default: all): drop-public, drop-private,
    /// drop-trade, drop-rest, mute-public, mute-private, mute-trade, u-gap, stall, 10006, 5xx, slow.
    #[arg(long, default_value = "")]
    faults: String,
    /// A taker order every this many milliseconds.
    #[arg(long, default_value_t = 200)]
    taker_every_ms: u64,
    /// The engine's position limit in BTC (passed as --max-position).
    #[arg(long, default_value = "0.01")]
    max_position: String,
    /// The engine's order size in BTC (passed as --min-order-size).
    #[arg(long, default_value = "0.001")]
    order_size: String,
    /// Seconds after start-up at which the starting resident memory is taken.
    #[arg(long, default_value_t = 20)]
    warmup_s: u64,
    /// Largest resident-memory growth (percent, from the warm-up to the end) that passes.
    #[arg(long, default_value_t = 5.0)]
    max_rss_growth_pct: f64,
    /// Seconds the engine has to show it recovered from a fault.
    #[arg(long, default_value_t = 30)]
    recover_s: u64,
    /// The gapmm-hot binary (default: the one next to this binary).
    #[arg(long)]
    engine: Option<PathBuf>,
    /// Keep the scratch directory (journal, engine output) after a passing run.
    #[arg(long)]
    keep: bool,
    /// Further gapmm-hot arguments, after `--` (default: `--idle park`).
    #[arg(last = true)]
    engine_args: Vec<String>,
}

fn main() -> ExitCode {
    let a = Args::parse();
    match soak(&a) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("gapmm-soak: {e}");
            ExitCode::from(2)
        }
    }
}

/// The spot symbol the soak trades.
fn symbol() -> SymbolConfig {
    SymbolConfig::btcusdt_spot()
}

fn start_sim(a: &Args) -> Result<SimHandle, String> {
    let params = SyntheticParams {
        events_per_sec: a.rate,
        ..SyntheticParams::default()
    };
    let mut ex = ExchangeConfig::standard(a.seed, MarketModel::Synthetic(params));
    // One symbol, so every market event is a message on the engine's topic.
    ex.symbols = vec![symbol()];
    ex.accounts.push(AccountConfig {
        uid: 2001,
        api_key: taker::KEY.into(),
        api_secret: taker::SECRET.into(),
        balances: vec![
            ("USDT".into(), "100000000000".into()),
            ("BTC".into(), "1000000".into()),
        ],
    });
    Sim::start(SimConfig::new(ex)).map_err(|e| format!("simulator: {e}"))
}

/// A running engine and what it writes.
struct Engine {
    child: Child,
    lines: Receiver<String>,
    stderr: Arc<Mutex<Vec<String>>>,
    stdout: Option<std::thread::JoinHandle<String>>,
    journal: PathBuf,
}

fn engine_path(a: &Args) -> Result<PathBuf, String> {
    if let Some(p) = &a.engine {
        return Ok(p.clone());
    }
    let me = std::env::current_exe().map_err(|e| format!("own path: {e}"))?;
    let p = me.with_file_name("gapmm-hot");
    if p.exists() {
        Ok(p)
    } else {
        Err(format!(
            "{} not found: build it (cargo build --release --bins) or pass --engine",
            p.display()
        ))
    }
}

fn spawn_engine(a: &Args, sim: &SimHandle, dir: &Path) -> Result<Engine, String> {
    let journal = dir.join("journal.jsonl");
    let mut c = Command::new(engine_path(a)?);
    // Only what the soak sets: no developer's .env or variables (the engine
    // runs in the scratch directory, and these are removed).
    for (k, _) in std::env::vars() {
        if gapmm::engine::config::is_config_var(&k) {
            c.env_remove(k);
        }
    }
    let s = symbol();
    c.current_dir(dir)
        .args(["--sim-url", &sim.http_url()])
        .args(["--symbol", &s.symbol, "--market-type", "spot"])
        .args(["--tick-size", &s.tick_size])
        .args(["--max-position", &a.max_position])
        .args(["--min-order-size", &a.order_size])
        .args(["--metrics", "127.0.0.1:0"])
        // Silent links are found in 2.5 s rather than 50.
        .args(["--ping-ms", "1000"])
        .arg("--journal")
        .arg(&journal);
    if a.engine_args.is_empty() {
        c.args(["--idle", "park"]);
    } else {
        c.args(&a.engine_args);
    }
    c.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = c.spawn().map_err(|e| format!("spawn gapmm-hot: {e}"))?;
    let mut out = child.stdout.take().ok_or("no stdout")?;
    let err = child.stderr.take().ok_or("no stderr")?;
    let stdout = Some(std::thread::spawn(move || {
        let mut s = String::new();
        let _ = out.read_to_string(&mut s);
        s
    }));
    let (tx, lines) = mpsc::channel();
    let stderr = Arc::new(Mutex::new(Vec::new()));
    let all = stderr.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(err).lines() {
            let Ok(line) = line else { break };
            if let Ok(mut v) = all.lock() {
                v.push(line.clone());
            }
            let _ = tx.send(line);
        }
    });
    Ok(Engine {
        child,
        lines,
        stderr,
        stdout,
        journal,
    })
}

impl Engine {
    fn text(&self) -> String {
        self.stderr.lock().map(|v| v.join("\n")).unwrap_or_default()
    }

    /// The URL the engine serves its metrics at (from its start-up line).
    fn metrics_url(&self, limit: Duration) -> Result<String, String> {
        let deadline = Instant::now() + limit;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(l) => {
                    if let Some(url) = l.strip_prefix("metrics: ") {
                        return Ok(url.trim().to_string());
                    }
                }
                Err(_) => {
                    return Err(format!(
                        "gapmm-hot printed no metrics address; its output:\n{}",
                        self.text()
                    ))
                }
            }
        }
    }

    fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// SIGINT, then the exit (killed past `limit`).
    fn stop(&mut self, limit: Duration) -> Result<bool, String> {
        let pid = self.child.id() as libc::pid_t;
        // SAFETY: kill(2) on the pid of our own child, not yet reaped.
        if unsafe { libc::kill(pid, libc::SIGINT) } != 0 {
            return Err("kill(SIGINT) failed".into());
        }
        let deadline = Instant::now() + limit;
        loop {
            match self.child.try_wait() {
                Ok(Some(st)) => {
                    if let Some(h) = self.stdout.take() {
                        let _ = h.join();
                    }
                    // The reader thread ends at EOF: drain what it sent.
                    while self.lines.recv_timeout(Duration::from_secs(5)).is_ok() {}
                    return Ok(st.success());
                }
                Ok(None) if Instant::now() < deadline => {
                    // Polling the exit status, bounded by `limit`.
                    std::thread::sleep(Duration::from_millis(20));
                }
                _ => {
                    let _ = self.child.kill();
                    let _ = self.child.wait();
                    return Ok(false);
                }
            }
        }
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Where the fault schedule stands.
enum Phase {
    /// No fault in force; the next at this instant.
    Idle(Instant),
    /// A fault is in force until the instant.
    Holding(Planned, Instant, Scrape),
    /// The fault ended; waiting for the evidence of recovery until the deadline.
    Recovering(Planned, Instant, Instant, Scrape),
}

#[derive(Debug, Default, Clone, Copy)]
struct Tally {
    injected: u64,
    survived: u64,
    /// Slowest recovery (from the fault's end).
    worst: Duration,
}

fn recovered(p: &Planned, base: &Scrape, now: &Scrape) -> bool {
    let shown = match p.evidence {
        Evidence::None => true,
        Evidence::PublicReconnect => now.public_reconnects > base.public_reconnects,
        Evidence::OrdersReconnect => now.orders_reconnects > base.orders_reconnects,
        Evidence::Resync => now.resyncs > base.resyncs,
    };
    shown && now.quoting()
}

fn soak(a: &Args) -> Result<bool, String> {
    let s = symbol();
    let tick = Step::parse(&s.tick_size).map_err(|e| format!("tick: {e:?}"))?;
    let lot = Step::parse(&s.qty_step).map_err(|e| format!("lot: {e:?}"))?;
    let limit_lots = lot
        .count(a.max_position.as_bytes())
        .map_err(|e| format!("--max-position {}: {e:?}", a.max_position))?;
    let order_lots = lot
        .count(a.order_size.as_bytes())
        .map_err(|e| format!("--order-size {}: {e:?}", a.order_size))?;
    let dir = std::env::temp_dir().join(format!("gapmm-soak-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;

    let sim = start_sim(a)?;
    let mut engine = spawn_engine(a, &sim, &dir)?;
    let url = engine.metrics_url(Duration::from_secs(30))?;
    let agent = probe::agent(Duration::from_secs(2));
    let started = Instant::now();
    // First quotes.
    loop {
        if probe::scrape(&agent, &url).is_ok_and(|s| s.quoting()) {
            break;
        }
        if !engine.alive() || started.elapsed() > Duration::from_secs(60) {
            return Err(format!(
                "the engine never quoted; its output:\n{}",
                engine.text()
            ));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    eprintln!(
        "gapmm-soak: engine quoting after {:.1} s; {} s of soak at {} events/s, seed {}",
        started.elapsed().as_secs_f64(),
        a.seconds,
        a.rate,
        a.seed
    );
    let pid = engine.child.id();
    let stop_taker = AtomicBool::new(false);
    let market = taker::Market {
        symbol: &s.symbol,
        category: Category::Spot,
        tick,
        lot,
    };

    let kinds = Kind::parse_list(&a.faults)?;
    let mut rng = Rng::new(a.seed);
    let gap = a.fault_gap_ms.max(2);
    let pause = |rng: &mut Rng| Duration::from_millis(between(rng, gap / 2, gap + gap / 2));
    let t0 = Instant::now();
    let end = t0 + Duration::from_secs(a.seconds);
    let stats0 = sim.stats();
    let mut phase = Phase::Idle(t0 + pause(&mut rng));
    let mut tally: BTreeMap<Kind, Tally> = BTreeMap::new();
    let mut failures: Vec<String> = Vec::new();
    let (mut rss_start, mut rss_max, mut rss_end) = (None, 0u64, 0u64);
    let mut last_rss = t0 - Duration::from_secs(1);
    let mut scrape_errors = 0u64;
    let mut last = Scrape::default();
    let mut died = false;

    let taker_report = std::thread::scope(|scope| {
        let taker = scope.spawn(|| {
            taker::run(
                &sim,
                &market,
                Duration::from_millis(a.taker_every_ms.max(1)),
                a.seed,
                &stop_taker,
            )
        });
        loop {
            let now = Instant::now();
            if !engine.alive() {
                died = true;
                break;
            }
            match probe::scrape(&agent, &url) {
                Ok(sc) => last = sc,
                Err(_) => scrape_errors += 1,
            }
            if now.duration_since(last_rss) >= Duration::from_secs(1) {
                last_rss = now;
                if let Some(k) = probe::rss_kib(pid) {
                    rss_max = rss_max.max(k);
                    rss_end = k;
                    if rss_start.is_none() && now.duration_since(t0).as_secs() >= a.warmup_s {
                        rss_start = Some(k);
                    }
                }
            }
            phase = match phase {
                Phase::Idle(_) if now >= end => break,
                Phase::Idle(at) if now >= at => {
                    let p = chaos::draw(&mut rng, &kinds);
                    if sim.fault(p.fault).is_err() {
                        failures.push("the simulator stopped".into());
                        break;
                    }
                    eprintln!(
                        "[{:>7.1}s] fault: {} ({:?})",
                        secs_since(t0),
                        p.kind,
                        p.fault
                    );
                    tally.entry(p.kind).or_default().injected += 1;
                    Phase::Holding(p, now + p.hold, last)
                }
                Phase::Holding(p, until, base) if now >= until => {
                    if let Some(f) = p.end {
                        let _ = sim.fault(f);
                    }
                    Phase::Recovering(p, now, now + Duration::from_secs(a.recover_s), base)
                }
                Phase::Recovering(p, from, deadline, base) => {
                    if recovered(&p, &base, &last) {
                        let t = tally.entry(p.kind).or_default();
                        t.survived += 1;
                        t.worst = t.worst.max(now - from);
                        eprintln!(
                            "[{:>7.1}s] recovered from {} in {:.2} s",
                            secs_since(t0),
                            p.kind,
                            (now - from).as_secs_f64()
                        );
                        Phase::Idle(now + pause(&mut rng))
                    } else if now >= deadline {
                        failures.push(format!(
                            "{} at {:.1} s: not recovered within {} s (last scrape {last:?})",
                            p.kind,
                            from.duration_since(t0).as_secs_f64(),
                            a.recover_s
                        ));
                        Phase::Idle(now + pause(&mut rng))
                    } else {
                        Phase::Recovering(p, from, deadline, base)
                    }
                }
                other => other,
            };
            // The probe's own pace: 10 scrapes a second.
            std::thread::sleep(Duration::from_millis(100));
        }
        stop_taker.store(true, Ordering::Relaxed);
        taker.join().unwrap_or_default()
    });
    let _ = sim.fault(Fault::Delay(Duration::ZERO));
    let soaked = t0.elapsed();
    let stats1 = sim.stats();
    if died {
        failures.push(format!(
            "gapmm-hot exited during the soak; its output:\n{}",
            engine.text()
        ));
    }

    // Let the fills in flight arrive before the stop: the engine's count
    // reaching the exchange's, or 15 s.
    let audit_now = |sim: &SimHandle| {
        sim.audit(ENGINE_KEY, Category::Spot, &s.symbol)
            .ok()
            .flatten()
    };
    let settle = Instant::now();
    while !died && settle.elapsed() < Duration::from_secs(15) {
        let ex = audit_now(&sim).map(|x| x.book.execs.len() as u64);
        if probe::scrape(&agent, &url).is_ok_and(|m| Some(m.fills) == ex) {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    if let Some(k) = probe::rss_kib(pid) {
        rss_end = k;
        rss_max = rss_max.max(k);
    }
    let clean_exit = if died {
        false
    } else {
        engine.stop(Duration::from_secs(60))?
    };
    let text = engine.text();
    let audit = audit_now(&sim).ok_or("the simulator has no audit of the engine's account")?;

    // The engine's own count: the final report and the journal.
    let report_line = text
        .lines()
        .find(|l| l.starts_with("fills ") && l.contains("final position"));
    let field = |name: &str| -> Option<i64> {
        let l = report_line?;
        let at = l.find(name)? + name.len();
        l[at..].split_whitespace().next()?.parse().ok()
    };
    let (report_fills, report_pos) = (field("fills "), field("final position "));
    let confirmed_flat =
        report_line.is_some_and(|l| l.contains("none (confirmed by the exchange)"));
    let journal = std::fs::read_to_string(&engine.journal).unwrap_or_default();
    let tally_journal = journal_fills(&journal);
    let exchange_ids: HashSet<&str> = audit.exec_ids.iter().map(String::as_str).collect();
    let lost = exchange_ids
        .iter()
        .filter(|id| !tally_journal.ids.contains(**id))
        .count();
    let doubled = tally_journal.doubled;
    let unknown = tally_journal
        .ids
        .iter()
        .filter(|id| !exchange_ids.contains(id.as_str()))
        .count();
    let ex_fills = audit.exec_ids.len() as u64;
    let b = &audit.book;

    // The report.
    let secs = soaked.as_secs_f64();
    let msgs = stats1.public_out.saturating_sub(stats0.public_out);
    println!("gapmm-soak report");
    println!(
        "run: {:.0} s at {} events/s, seed {}; market messages sent {} ({:.0}/s); engine book messages {}",
        secs,
        a.rate,
        a.seed,
        msgs,
        msgs as f64 / secs.max(1e-9),
        last.book_messages
    );
    println!(
        "taker: {} orders sent, {} accepted, {} refused, {} unanswered",
        taker_report.sent, taker_report.accepted, taker_report.refused, taker_report.failed
    );
    let (mut inj, mut surv) = (0, 0);
    println!("faults (kind: injected / survived, slowest recovery):");
    for (k, t) in &tally {
        inj += t.injected;
        surv += t.survived;
        println!(
            "  {k:<17} {:>4} / {:<4} {:>6.2} s",
            t.injected,
            t.survived,
            t.worst.as_secs_f64()
        );
    }
    println!("  total             {inj:>4} / {surv:<4}");
    println!(
        "fills: exchange {ex_fills}; journal {} distinct ({} lines: the fast push, then the full one); final report {}; lost {lost}; counted twice {doubled}; unknown to the exchange {unknown}",
        tally_journal.ids.len(),
        tally_journal.lines,
        report_fills.map_or("missing".to_string(), |n| n.to_string())
    );
    println!(
        "orders: {} placed; {} placed beside an open order on the same side (duplicates); most open on one side {}; open after the stop {}",
        b.placed,
        b.placed_beside_open,
        b.max_open_per_side,
        b.open_per_side[0] + b.open_per_side[1]
    );
    println!(
        "position: largest {} BTC; limit {} + one order {} = {} BTC; final: traded {} (exchange), held {} (engine, after base-coin fees)",
        lot.display(b.max_abs_net_lots),
        a.max_position,
        a.order_size,
        lot.display(limit_lots + order_lots),
        signed(lot, b.net_lots),
        report_pos.map_or("missing".to_string(), |p| signed(lot, p))
    );
    let growth = rss_start.map(|s0| (rss_end as f64 - s0 as f64) / s0 as f64 * 100.0);
    println!(
        "memory: RSS after {} s {} KiB, at the end {} KiB ({}), peak {} KiB",
        a.warmup_s,
        rss_start.map_or("-".to_string(), |k| k.to_string()),
        rss_end,
        growth.map_or("-".to_string(), |g| format!("{g:+.2} %")),
        rss_max
    );
    if scrape_errors > 0 {
        println!("metrics scrapes that failed: {scrape_errors}");
    }

    // The checks.
    if inj != surv {
        failures.push(format!("{} of {inj} faults not survived", inj - surv));
    }
    if b.placed_beside_open > 0 || b.max_open_per_side > 1 {
        failures.push(format!("{} duplicate orders", b.placed_beside_open));
    }
    if lost > 0 || doubled > 0 || unknown > 0 {
        failures.push(format!(
            "fills: {lost} lost, {doubled} counted twice, {unknown} unknown"
        ));
    }
    if report_fills != Some(ex_fills as i64) {
        failures.push(format!(
            "the final report counts {report_fills:?} fills, the exchange {ex_fills}"
        ));
    }
    if b.max_abs_net_lots > limit_lots + order_lots {
        failures.push("position went beyond the limit plus one order".into());
    }
    match growth {
        Some(g) if g < a.max_rss_growth_pct => {}
        Some(g) => failures.push(format!("RSS grew {g:.2} %")),
        None => failures.push(format!(
            "the run was shorter than the {} s warm-up: no starting RSS",
            a.warmup_s
        )),
    }
    if !clean_exit || !confirmed_flat || b.open_per_side != [0, 0] {
        failures.push(format!(
            "the stop was not clean (exit ok {clean_exit}, report confirmed flat {confirmed_flat}, open after {:?})",
            b.open_per_side
        ));
    }
    if ex_fills == 0 {
        failures.push("no fills: the soak did not exercise fill counting".into());
    }
    let pass = failures.is_empty();
    if pass {
        println!("verdict: PASS");
        if !a.keep {
            let _ = std::fs::remove_dir_all(&dir);
        }
    } else {
        println!("verdict: FAIL");
        for f in &failures {
            println!("  - {f}");
        }
        let _ = std::fs::write(dir.join("engine-stderr.txt"), &text);
        println!("journal and engine output kept in {}", dir.display());
    }
    Ok(pass)
}

/// The journal's fills: each execution may be written twice, once from the
/// fast push (no fee) and once from the full one (with the fee); a third
/// line, or two of one kind, is a fill counted twice.
struct JournalFills {
    lines: u64,
    ids: HashSet<String>,
    doubled: u64,
}

fn journal_fills(text: &str) -> JournalFills {
    let mut seen: HashMap<String, (u32, u32)> = HashMap::new();
    let mut lines = 0;
    for line in text.lines() {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        if v["t"] != "fill" {
            continue;
        }
        lines += 1;
        let Some(id) = v["exec_id"].as_str() else {
            continue;
        };
        let e = seen.entry(id.to_string()).or_default();
        if v.get("fee").is_some() {
            e.1 += 1;
        } else {
            e.0 += 1;
        }
    }
    let doubled = seen
        .values()
        .map(|&(fast, full)| u64::from(fast.saturating_sub(1) + full.saturating_sub(1)))
        .sum();
    JournalFills {
        lines,
        ids: seen.into_keys().collect(),
        doubled,
    }
}

fn secs_since(t0: Instant) -> f64 {
    t0.elapsed().as_secs_f64()
}

/// Signed lots as a base quantity.
fn signed(lot: Step, n: i64) -> String {
    if n < 0 {
        format!("-{}", lot.display(-n))
    } else {
        lot.display(n).to_string()
    }
}
