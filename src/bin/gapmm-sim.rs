//! gapmm-sim: a local Bybit v5 exchange on 127.0.0.1 (REST + public/private/trade WebSockets).
//!
//! Prints its base URLs and the simulator's own API key and secret, then runs until Ctrl+C
//! (SIGINT/SIGTERM set a flag; the main thread waits on it in 100 ms naps, the server thread sleeps in
//! epoll). `--echo` starts the built-in echo client and prints reaction-time percentiles on exit.

use clap::Parser;
use gapmm::ids::Category;
use gapmm::sim::exchange::ExchangeConfig;
use gapmm::sim::market::{MarketModel, ReplayConfig, SyntheticParams};
use gapmm::sim::measure::{self, EchoConfig};
use gapmm::sim::{ConnKind, Fault, Pace, Sim, SimConfig};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    STOP.store(true, Ordering::SeqCst);
}

fn install_signals() {
    for sig in [libc::SIGINT, libc::SIGTERM] {
        // SAFETY: a zeroed sigaction with a handler that only stores to an atomic (async-signal-safe).
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = on_signal as *const () as usize;
            libc::sigemptyset(&mut sa.sa_mask);
            libc::sigaction(sig, &sa, std::ptr::null_mut());
        }
    }
}

#[derive(Parser, Debug)]
#[command(
    name = "gapmm-sim",
    about = "Local Bybit v5 exchange simulator (loopback only)"
)]
struct Args {
    /// TCP port on 127.0.0.1 (0 = pick a free one).
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Serve https/wss with a self-signed certificate (written to --cert-out if given).
    #[arg(long)]
    tls: bool,
    /// Where to write the DER certificate when --tls is on.
    #[arg(long)]
    cert_out: Option<PathBuf>,
    /// Seed of the synthetic market and order ids.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Keep only these symbols (comma list, e.g. BTCUSDT,XRPUSDT); default: all standard ones.
    #[arg(long, value_delimiter = ',')]
    symbols: Vec<String>,
    /// Synthetic market events per second (0 = as fast as the pace allows).
    #[arg(long, default_value_t = 1000)]
    rate: u32,
    /// Pace: `natural`, `flood` (as fast as possible), `paused` or `every:<micros>` (one event per interval).
    #[arg(long, default_value = "natural")]
    pace: String,
    /// No synthetic flow at all.
    #[arg(long)]
    quiet: bool,
    /// Replay a recording (Bybit archive .data or .zip) instead of the synthetic flow.
    #[arg(long)]
    replay: Option<PathBuf>,
    /// Symbol the replay applies to.
    #[arg(long, default_value = "XRPUSDT")]
    replay_symbol: String,
    /// Replay category (spot or linear).
    #[arg(long, default_value = "linear")]
    replay_category: String,
    /// Replay speed multiplier (0 = as fast as possible).
    #[arg(long, default_value_t = 1.0)]
    replay_speed: f64,
    /// Multiply Bybit's default per-UID rate limits.
    #[arg(long, default_value_t = 1)]
    rate_limit_scale: u32,
    /// Benchmark only: poll sockets without sleeping (spins one core), so a client's `write` does
    /// not pay for waking the simulator, as against a remote exchange.
    #[arg(long)]
    busy_poll: bool,
    /// Most connections held at once; a new one beyond it closes the one silent the longest.
    #[arg(long, default_value_t = 4096)]
    max_connections: usize,
    /// Seconds an HTTP connection may stay silent (idle keep-alive or unfinished request).
    #[arg(long, default_value_t = 60)]
    http_idle_s: u64,
    /// Seconds a WebSocket may stay silent (no message, no ping) before it is closed.
    #[arg(long, default_value_t = 600)]
    ws_idle_s: u64,
    /// Start the built-in echo client (WS trade) on this linear symbol's orderbook.50 topic.
    #[arg(long)]
    echo: Option<String>,
    /// Faults applied at start-up: stall:MS, delay:MS, reject:N, http5xx:N (repeatable).
    #[arg(long)]
    fault: Vec<String>,
    /// Push book topics at Bybit's per-depth intervals (1: 10 ms, 50: 20 ms, 200: 100 ms,
    /// 1000: 200 ms), coalescing changes, instead of one message per book change.
    #[arg(long)]
    bybit_intervals: bool,
    /// Exit after this many seconds (0 = run until Ctrl+C).
    #[arg(long, default_value_t = 0)]
    seconds: u64,
}

fn parse_pace(s: &str) -> Result<Pace, String> {
    match s {
        "natural" => Ok(Pace::Natural),
        "flood" => Ok(Pace::Flood),
        "paused" => Ok(Pace::Paused),
        _ => s
            .strip_prefix("every:")
            .and_then(|us| us.parse::<u64>().ok())
            .map(|us| Pace::Every(Duration::from_micros(us.max(1))))
            .ok_or_else(|| format!("bad --pace {s}: natural | flood | paused | every:<micros>")),
    }
}

fn parse_fault(s: &str) -> Result<Fault, String> {
    let (k, v) = s.split_once(':').unwrap_or((s, ""));
    let n: u64 = v.parse().unwrap_or(0);
    Ok(match k {
        "stall" => Fault::Stall(Duration::from_millis(n)),
        "delay" => Fault::Delay(Duration::from_millis(n)),
        "reject" => Fault::Reject10006(n as u32),
        "http5xx" => Fault::Http5xx(n as u32),
        "drop" => Fault::Drop(ConnKind::parse(v).ok_or("drop:<public|private|trade|rest>")?),
        _ => return Err(format!("unknown fault {s}")),
    })
}

fn main() {
    if let Err(e) = run() {
        eprintln!("gapmm-sim: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), String> {
    let a = Args::parse();
    let market = if let Some(path) = a.replay.clone() {
        let category = Category::parse(a.replay_category.as_bytes())
            .ok_or("--replay-category: spot | linear")?;
        MarketModel::Replay(ReplayConfig {
            path,
            symbol: a.replay_symbol.clone(),
            category,
            speed: a.replay_speed,
        })
    } else if a.quiet {
        MarketModel::Quiet
    } else {
        MarketModel::Synthetic(SyntheticParams {
            events_per_sec: a.rate,
            ..SyntheticParams::default()
        })
    };
    let mut ex = ExchangeConfig::standard(a.seed, market);
    ex.paced = a.bybit_intervals;
    if !a.symbols.is_empty() {
        ex.symbols
            .retain(|s| a.symbols.iter().any(|w| w.eq_ignore_ascii_case(&s.symbol)));
    }
    let mut cfg = SimConfig::new(ex);
    cfg.port = a.port;
    cfg.tls = a.tls;
    cfg.pace = parse_pace(&a.pace)?;
    cfg.rate_limit_scale = a.rate_limit_scale;
    cfg.busy_poll = a.busy_poll;
    cfg.max_connections = a.max_connections;
    cfg.http_idle = Duration::from_secs(a.http_idle_s);
    cfg.ws_idle = Duration::from_secs(a.ws_idle_s);
    install_signals();
    let sim = Sim::start(cfg).map_err(|e| e.to_string())?;
    println!("gapmm-sim listening");
    println!("  REST      {}", sim.http_url());
    println!(
        "  public    {}/v5/public/spot  {}/v5/public/linear",
        sim.ws_url(),
        sim.ws_url()
    );
    println!("  private   {}/v5/private", sim.ws_url());
    println!("  trade     {}/v5/trade", sim.ws_url());
    println!("  api key   {}", sim.api_key());
    println!("  secret    {}", sim.api_secret());
    if let (Some(der), Some(path)) = (sim.cert_der(), a.cert_out.as_ref()) {
        std::fs::write(path, der).map_err(|e| format!("writing {}: {e}", path.display()))?;
        println!("  cert      {} (DER)", path.display());
    }
    for f in &a.fault {
        sim.fault(parse_fault(f)?).map_err(|e| e.to_string())?;
    }
    let echo = match &a.echo {
        Some(sym) if !sim.is_tls() => Some(
            measure::start_echo(
                sim.addr(),
                sim.api_key(),
                sim.api_secret(),
                &EchoConfig {
                    category: Category::Linear,
                    symbol: sym.clone(),
                    depth: 50,
                    core: None,
                    spin: false,
                    min_gap: std::time::Duration::ZERO,
                },
            )
            .map_err(|e| e.to_string())?,
        ),
        Some(_) => return Err("--echo needs plain TCP (no --tls)".into()),
        None => None,
    };
    let started = std::time::Instant::now();
    while !STOP.load(Ordering::SeqCst)
        && (a.seconds == 0 || started.elapsed().as_secs() < a.seconds)
    {
        std::thread::sleep(Duration::from_millis(100));
    }
    if let Some(e) = echo {
        let _ = e.stop();
    }
    let (hists, unattributed, _) = sim.reactions().map_err(|e| e.to_string())?;
    for (k, h) in &hists {
        println!("{}", measure::summary(k, h));
    }
    if unattributed > 0 {
        println!("unattributed reactions: {unattributed}");
    }
    println!("{:?}", sim.stats());
    sim.shutdown().map_err(|e| e.to_string())
}
