//! Drives the real `gapmm-hot` binary against an in-process simulator: starts a
//! [`Sim`], spawns the binary with `--sim-url`, reads its stderr on a thread into a
//! channel, and queries the exchange's own view (open orders over signed REST,
//! the book) for assertions. Every wait is bounded; nothing sleeps to synchronise.
#![allow(dead_code)]

use crate::sim_common::Http;
use gapmm::ids::Category;
use gapmm::sim::exchange::{AccountConfig, ExchangeConfig};
use gapmm::sim::market::{MarketModel, SyntheticParams};
use gapmm::sim::{Levels, Sim, SimConfig, SimHandle};
use gapmm::units::Step;
use serde_json::Value;
use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The engine's account (the simulator's default keys).
pub const KEY: &str = "simkey";
/// Its secret.
pub const SECRET: &str = "simsecret";
/// A second account the tests trade with to move the market.
pub const TAKER_KEY: &str = "takerkey";
/// Its secret.
pub const TAKER_SECRET: &str = "takersecret";

/// Price step of the simulator's BTCUSDT.
pub fn tick() -> Step {
    Step::parse("0.1").unwrap()
}

/// Quantity step of the simulator's BTCUSDT spot.
pub fn lot() -> Step {
    Step::parse("0.000001").unwrap()
}

/// A simulator with synthetic flow at `events_per_sec`, the engine's account and a
/// taker account; extra accounts as (key, secret).
pub fn start_sim(seed: u64, events_per_sec: u32, extra: &[(&str, &str)]) -> SimHandle {
    start_sim_on(seed, events_per_sec, extra, 0)
}

/// [`start_sim`] on a given port (0: any free port).
pub fn start_sim_on(
    seed: u64,
    events_per_sec: u32,
    extra: &[(&str, &str)],
    port: u16,
) -> SimHandle {
    let params = SyntheticParams {
        events_per_sec,
        ..SyntheticParams::default()
    };
    let mut ex = ExchangeConfig::standard(seed, MarketModel::Synthetic(params));
    let balances = vec![
        ("USDT".to_string(), "1000000".to_string()),
        ("BTC".to_string(), "10".to_string()),
    ];
    let accounts = [(TAKER_KEY, TAKER_SECRET)]
        .into_iter()
        .chain(extra.iter().copied());
    // The taker builds walls larger than the synthetic market's depth.
    let taker = vec![
        ("USDT".to_string(), "10000000000".to_string()),
        ("BTC".to_string(), "100000".to_string()),
    ];
    for (uid, (k, s)) in (2001..).zip(accounts) {
        ex.accounts.push(AccountConfig {
            uid,
            api_key: k.to_string(),
            api_secret: s.to_string(),
            balances: if k == TAKER_KEY {
                taker.clone()
            } else {
                balances.clone()
            },
        });
    }
    let mut cfg = SimConfig::new(ex);
    cfg.port = port;
    Sim::start(cfg).expect("simulator starts")
}

/// A unique scratch directory for one engine run.
pub fn scratch(name: &str) -> PathBuf {
    static N: AtomicU32 = AtomicU32::new(0);
    let d = std::env::temp_dir().join(format!(
        "gapmm-enginetest-{}-{}-{}",
        std::process::id(),
        name,
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A `gapmm-hot` command with a clean configuration environment, run in `dir`
/// (so no `.env` of the developer's is picked up).
pub fn command(dir: &PathBuf) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_gapmm-hot"));
    for (k, _) in std::env::vars() {
        if gapmm::engine::config::is_config_var(&k) {
            c.env_remove(k);
        }
    }
    c.current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    c
}

/// Output of a finished run.
pub struct Finished {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

/// Runs a command to completion (bounded).
pub fn run_to_end(mut c: Command, limit: Duration) -> Finished {
    let mut child = c.spawn().expect("spawn gapmm-hot");
    let out = reader(child.stdout.take().unwrap());
    let err = reader(child.stderr.take().unwrap());
    let status = wait_exit(&mut child, limit);
    Finished {
        status,
        stdout: out.join().unwrap(),
        stderr: err.join().unwrap(),
    }
}

fn reader(mut r: impl Read + Send + 'static) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut s = String::new();
        let _ = r.read_to_string(&mut s);
        s
    })
}

/// Waits for the child to exit, killing it (and failing) past `limit`.
fn wait_exit(child: &mut Child, limit: Duration) -> ExitStatus {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(s) = child.try_wait().unwrap() {
            return s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("gapmm-hot did not exit within {limit:?}");
        }
        // Polling the exit status (bounded above), not synchronising on time.
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A running engine.
pub struct Engine {
    child: Child,
    lines: Receiver<String>,
    /// Every stderr line so far.
    pub stderr: Arc<Mutex<Vec<String>>>,
    stdout: Option<std::thread::JoinHandle<String>>,
    /// The journal file.
    pub journal: PathBuf,
    /// The scratch directory.
    pub dir: PathBuf,
}

impl Engine {
    /// Spawns `gapmm-hot --sim-url <sim> --idle park --journal <tmp> <args>`
    /// (`--idle park` unless `args` choose the idle policy).
    pub fn spawn(sim: &SimHandle, name: &str, args: &[&str], envs: &[(&str, &str)]) -> Engine {
        let dir = scratch(name);
        let journal = dir.join("journal.jsonl");
        let mut c = command(&dir);
        c.arg("--sim-url").arg(sim.http_url());
        if !args.contains(&"--idle") {
            c.arg("--idle").arg("park");
        }
        c.env("GAPMM_JOURNAL", &journal).args(args);
        for (k, v) in envs {
            c.env(k, v);
        }
        Engine::start(c, journal, dir)
    }

    /// Spawns `gapmm-hot <args>` exactly as a user would, in a scratch
    /// directory: no simulator URL (the engine starts its embedded
    /// simulator), default idle policy, default journal file in that
    /// directory.
    pub fn spawn_plain(name: &str, args: &[&str]) -> Engine {
        let dir = scratch(name);
        let journal = dir.join("gapmm-journal.jsonl");
        let mut c = command(&dir);
        c.args(args);
        Engine::start(c, journal, dir)
    }

    fn start(mut c: Command, journal: PathBuf, dir: PathBuf) -> Engine {
        let mut child = c.spawn().expect("spawn gapmm-hot");
        let stdout = Some(reader(child.stdout.take().unwrap()));
        let err = child.stderr.take().unwrap();
        let (tx, lines) = mpsc::channel();
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let all = stderr.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines() {
                let Ok(line) = line else { break };
                all.lock().unwrap().push(line.clone());
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Engine {
            child,
            lines,
            stderr,
            stdout,
            journal,
            dir,
        }
    }

    /// The next stderr line satisfying `pred`, or a panic naming `what` after `limit`.
    pub fn wait_line(
        &self,
        what: &str,
        limit: Duration,
        mut pred: impl FnMut(&str) -> bool,
    ) -> String {
        let deadline = Instant::now() + limit;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(l) if pred(&l) => return l,
                Ok(_) => continue,
                Err(RecvTimeoutError::Timeout) => {
                    panic!(
                        "no line with {what} within {limit:?}; stderr:\n{}",
                        self.stderr_text()
                    )
                }
                Err(RecvTimeoutError::Disconnected) => {
                    panic!(
                        "gapmm-hot ended before {what}; stderr:\n{}",
                        self.stderr_text()
                    )
                }
            }
        }
    }

    /// The next status line satisfying `pred`.
    pub fn wait_status(
        &self,
        what: &str,
        limit: Duration,
        mut pred: impl FnMut(&Status) -> bool,
    ) -> Status {
        let mut found = None;
        self.wait_line(what, limit, |l| match Status::parse(l) {
            Some(s) if pred(&s) => {
                found = Some(s);
                true
            }
            _ => false,
        });
        found.unwrap()
    }

    /// Everything written to stderr so far.
    pub fn stderr_text(&self) -> String {
        self.stderr.lock().unwrap().join("\n")
    }

    /// Sends SIGINT (Ctrl+C) and waits for the exit; returns the status, stdout and stderr.
    pub fn interrupt(self, limit: Duration) -> Finished {
        let pid = self.child.id() as libc::pid_t;
        // SAFETY: kill(2) on the pid of a child we spawned and have not reaped yet.
        let rc = unsafe { libc::kill(pid, libc::SIGINT) };
        assert_eq!(rc, 0, "kill(SIGINT)");
        self.finish(limit)
    }

    /// Kills the engine with SIGKILL, as a crash would: no cancel-all, no
    /// last journal flush. Returns once it is reaped.
    pub fn crash(mut self) {
        self.child.kill().expect("SIGKILL");
        let _ = self.child.wait();
    }

    /// Waits for the engine to stop by itself (`--duration`).
    pub fn finish(mut self, limit: Duration) -> Finished {
        let status = wait_exit(&mut self.child, limit);
        // Drain the rest of stderr (the reader thread ends at EOF).
        while self.lines.recv_timeout(Duration::from_secs(5)).is_ok() {}
        Finished {
            status,
            stdout: self.stdout.take().unwrap().join().unwrap(),
            stderr: self.stderr_text(),
        }
    }

    /// The journal's JSON lines written so far (a torn last line is skipped).
    pub fn journal(&self) -> Vec<Value> {
        read_journal(&self.journal)
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        // Keep the journal of a failed test for inspection.
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// Parses a journal file.
pub fn read_journal(p: &PathBuf) -> Vec<Value> {
    let text = std::fs::read_to_string(p).unwrap_or_default();
    text.lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

/// One parsed status line.
#[derive(Debug, Clone, PartialEq)]
pub struct Status {
    pub secs: u64,
    pub live: bool,
    pub signal: String,
    pub conf: String,
    pub score: f64,
    /// Wanted (bid, ask) in ticks (None = no quote).
    pub quote: (Option<i64>, Option<i64>),
    /// Working (bid, ask) in ticks (None = no order).
    pub working: (Option<i64>, Option<i64>),
    /// Position in lots.
    pub pos: i64,
    pub fills: u64,
}

fn px(s: &str) -> Option<i64> {
    let s = s.trim();
    if s == "-" {
        None
    } else {
        Some(tick().count(s.as_bytes()).expect("price on the tick grid"))
    }
}

/// A signed base quantity (`-0.003000`) in lots.
fn signed_lots(s: &str) -> Option<i64> {
    match s.strip_prefix('-') {
        Some(abs) => lot().count(abs.as_bytes()).ok().map(|n| -n),
        None => lot().count(s.as_bytes()).ok(),
    }
}

fn pair(s: &str, label: &str) -> Option<(Option<i64>, Option<i64>)> {
    let rest = s.trim().strip_prefix(label)?;
    let (a, b) = rest.split_once(" / ")?;
    Some((px(a), px(b)))
}

impl Status {
    /// `[    1s] LIVE DOWN   /MED  score 0.596 | quote A / B | working A / B | pos P | pnl … | fills N | …`
    pub fn parse(l: &str) -> Option<Status> {
        let l = l.strip_prefix('[')?;
        let (secs, rest) = l.split_once("s]")?;
        let parts: Vec<&str> = rest.split(" | ").collect();
        let head: Vec<&str> = parts.first()?.split_whitespace().collect();
        // head: LIVE DOWN /MED score 0.596  (or "DOWN /MED" spacing variants)
        let joined = head.join(" ");
        let (state_sig, score) = joined.split_once(" score ")?;
        let mut it = state_sig.split_whitespace();
        let live = it.next()? == "LIVE";
        let sig_conf: String = it.collect::<Vec<_>>().join("");
        let (signal, conf) = sig_conf.split_once('/')?;
        let field = |name: &str| parts.iter().find(|p| p.trim().starts_with(name)).copied();
        let pos = field("pos ")?.trim().strip_prefix("pos ")?;
        let fills = field("fills ")?.trim().strip_prefix("fills ")?;
        Some(Status {
            secs: secs.trim().parse().ok()?,
            live,
            signal: signal.to_string(),
            conf: conf.to_string(),
            score: score.trim().parse().ok()?,
            quote: pair(field("quote ")?, "quote ")?,
            working: pair(field("working ")?, "working ")?,
            pos: signed_lots(pos.trim())?,
            fills: fills.trim().parse().ok()?,
        })
    }
}

/// One open order as the exchange lists it.
#[derive(Debug, Clone, PartialEq)]
pub struct Open {
    pub side: String,
    pub price: i64,
    /// Resting size in lots.
    pub leaves: i64,
    pub link_id: String,
    pub order_id: String,
    pub status: String,
}

/// A signed REST client towards the simulator.
pub struct Rest {
    http: Http,
    key: String,
    secret: String,
}

impl Rest {
    pub fn new(sim: &SimHandle, key: &str, secret: &str) -> Rest {
        Rest {
            http: Http::new(sim.addr(), None),
            key: key.into(),
            secret: secret.into(),
        }
    }

    /// The account's open BTCUSDT spot orders (exchange truth), every page.
    pub fn open_orders(&mut self) -> Vec<Open> {
        let mut all = Vec::new();
        let mut cursor = String::new();
        loop {
            let mut q = "category=spot&symbol=BTCUSDT&openOnly=0&limit=50".to_string();
            if !cursor.is_empty() {
                q.push_str("&cursor=");
                q.push_str(&cursor);
            }
            let v = self
                .http
                .signed("GET", "/v5/order/realtime", &q, &self.key, &self.secret)
                .json();
            assert_eq!(v["retCode"], 0, "open orders: {v}");
            all.extend(v["result"]["list"].as_array().unwrap().iter().map(|o| {
                Open {
                    side: o["side"].as_str().unwrap().to_string(),
                    price: tick()
                        .count(o["price"].as_str().unwrap().as_bytes())
                        .unwrap(),
                    leaves: lot()
                        .count(o["leavesQty"].as_str().unwrap_or("0").as_bytes())
                        .unwrap_or(0),
                    link_id: o["orderLinkId"].as_str().unwrap_or("").to_string(),
                    order_id: o["orderId"].as_str().unwrap_or("").to_string(),
                    status: o["orderStatus"].as_str().unwrap_or("").to_string(),
                }
            }));
            cursor = v["result"]["nextPageCursor"]
                .as_str()
                .unwrap_or("")
                .to_string();
            if cursor.is_empty() {
                return all;
            }
        }
    }

    /// The account's BTC wallet balance in lots (exchange truth for the spot position).
    pub fn btc_lots(&mut self) -> i64 {
        let v = self
            .http
            .signed(
                "GET",
                "/v5/account/wallet-balance",
                "accountType=UNIFIED&coin=BTC",
                &self.key,
                &self.secret,
            )
            .json();
        assert_eq!(v["retCode"], 0, "wallet: {v}");
        let coins = v["result"]["list"][0]["coin"].as_array().expect("coins");
        let btc = coins.iter().find(|c| c["coin"] == "BTC").expect("BTC");
        let bal = btc["walletBalance"].as_str().expect("walletBalance");
        lot().count_floor(bal.as_bytes()).expect("balance")
    }

    /// The account's net BTCUSDT spot fills in lots (buys minus sells), from
    /// the exchange's execution list (first 100 rows: short tests only).
    pub fn net_filled_lots(&mut self) -> (i64, usize) {
        let v = self
            .http
            .signed(
                "GET",
                "/v5/execution/list",
                "category=spot&limit=100&symbol=BTCUSDT",
                &self.key,
                &self.secret,
            )
            .json();
        assert_eq!(v["retCode"], 0, "execution list: {v}");
        let rows = v["result"]["list"].as_array().expect("list");
        assert!(rows.len() < 100, "more fills than one page");
        let net = rows
            .iter()
            .filter(|r| r["execType"] == "Trade")
            .map(|r| {
                let q = lot()
                    .count(r["execQty"].as_str().unwrap().as_bytes())
                    .unwrap();
                if r["side"] == "Buy" {
                    q
                } else {
                    -q
                }
            })
            .sum();
        (net, rows.len())
    }

    /// Places a spot limit order; returns the reply.
    pub fn limit(&mut self, side: &str, price: i64, qty_lots: i64, tif: &str, link: &str) -> Value {
        let body = format!(
            r#"{{"category":"spot","symbol":"BTCUSDT","side":"{side}","orderType":"Limit","qty":"{}","price":"{}","timeInForce":"{tif}","orderLinkId":"{link}"}}"#,
            lot().display(qty_lots),
            tick().display(price)
        );
        self.http
            .signed("POST", "/v5/order/create", &body, &self.key, &self.secret)
            .json()
    }

    /// Cancels a spot order by its orderLinkId; returns the reply.
    pub fn cancel(&mut self, link: &str) -> Value {
        let body = format!(r#"{{"category":"spot","symbol":"BTCUSDT","orderLinkId":"{link}"}}"#);
        self.http
            .signed("POST", "/v5/order/cancel", &body, &self.key, &self.secret)
            .json()
    }
}

/// (bids, asks) of the exchange's BTCUSDT spot book, best first, as (ticks, lots).
pub fn book(sim: &SimHandle, depth: usize) -> Levels {
    sim.book_levels("BTCUSDT", Category::Spot, depth)
        .unwrap()
        .expect("BTCUSDT spot book")
}

/// Count of open orders per side: (buys, sells).
pub fn per_side(orders: &[Open]) -> (usize, usize) {
    (
        orders.iter().filter(|o| o.side == "Buy").count(),
        orders.iter().filter(|o| o.side == "Sell").count(),
    )
}

/// Journal records of one type.
pub fn of_type<'a>(j: &'a [Value], t: &str) -> Vec<&'a Value> {
    j.iter().filter(|r| r["t"] == t).collect()
}
