//! Engine configuration: command-line flags, environment variables and `.env`.
//!
//! Precedence: flag > environment > `.env` file > default. Every value is read
//! as text and validated here, so a bad value is reported as
//! `VARIABLE=value: what is wrong`, naming the variable the operator set.
//! Secrets (`BYBIT_API_KEY`, `BYBIT_API_SECRET`) are read only from the
//! environment or `.env` ([`KeyVars`]), never from a flag (a flag would show
//! the secret in the process list and the shell's history), and are never
//! shown: [`KeyVars`]' and [`Config`]'s `Debug` redact them.
//!
//! Contract: start-up only; allocates freely; never on a hot thread.

use std::fmt;
use std::time::Duration;

use crate::ids::{Category, Symbol};
use crate::units::Step;

/// Where the engine trades.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Venue {
    /// The embedded simulator on loopback (default; no keys, no money).
    Sim,
    /// Bybit testnet.
    Testnet,
    /// Bybit mainnet: real money.
    Mainnet,
}

impl Venue {
    /// Whether orders reach a real exchange.
    pub const fn is_live(self) -> bool {
        !matches!(self, Venue::Sim)
    }
}

/// How orders are sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// WebSocket trade API (`/v5/trade`), the default.
    Ws,
    /// REST over a keep-alive HTTP/1.1 connection.
    Rest,
}

/// What a hot thread does when it finds no work.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdlePolicy {
    /// Busy-poll with a PAUSE hint (lowest latency; burns the core).
    Spin,
    /// Busy-poll but yield the core to the scheduler between polls.
    Yield,
    /// Sleep in the poller until a socket is ready (laptop-friendly).
    Park,
}

/// The raw flags and variables, as text. `gapmm-hot --help` documents these.
#[derive(Debug, Clone, clap::Args)]
pub struct EngineArgs {
    /// Venue: sim (embedded simulator, default), testnet or mainnet.
    #[arg(global = true, long, env = "GAPMM_VENUE", default_value = "sim")]
    pub venue: String,
    /// Required (with keys and a typed YES) before any order on testnet or mainnet.
    #[arg(global = true, long, env = "GAPMM_LIVE", default_value_t = false)]
    pub live: bool,
    /// Symbol to quote.
    #[arg(global = true, long, env = "TRADING_SYMBOL", default_value = "BTCUSDT")]
    pub symbol: String,
    /// Market type: spot or linear.
    #[arg(
        global = true,
        long = "market-type",
        env = "MARKET_TYPE",
        default_value = "spot"
    )]
    pub market_type: String,
    /// Price increment; must agree with the exchange's instruments-info.
    #[arg(
        global = true,
        long = "tick-size",
        env = "TICK_SIZE",
        default_value = "0.10"
    )]
    pub tick_size: String,
    /// Maximum absolute net position in base units.
    #[arg(
        global = true,
        long = "max-position",
        env = "MAX_POSITION_SIZE",
        default_value = "0.01"
    )]
    pub max_position: String,
    /// Quote size per side in base units (raised to the exchange minimum if below it).
    #[arg(
        global = true,
        long = "min-order-size",
        env = "MIN_ORDER_SIZE",
        default_value = "0.001"
    )]
    pub min_order_size: String,
    /// Minimum seconds between order updates per side (0 = as fast as the rate budget allows).
    #[arg(
        global = true,
        long = "min-update-interval",
        env = "MIN_UPDATE_INTERVAL",
        default_value = "0.0"
    )]
    pub min_update_interval: String,
    /// Order transport: ws (WebSocket trade API) or rest.
    #[arg(
        global = true,
        long,
        env = "GAPMM_ORDER_TRANSPORT",
        default_value = "ws"
    )]
    pub transport: String,
    /// Order-book depth topic: 1, 50, 200 or 1000.
    #[arg(global = true, long, env = "GAPMM_DEPTH", default_value = "50")]
    pub depth: String,
    /// CPU cores for the hot threads: "auto", or a list such as "1" (one thread runs every
    /// stage), "0,1" (feed+strategy | orders) or "0,1,2" (one stage per core).
    #[arg(global = true, long, env = "GAPMM_CORES", default_value = "auto")]
    pub cores: String,
    /// Idle policy of hot threads: spin, yield or park.
    #[arg(global = true, long, env = "GAPMM_IDLE", default_value = "spin")]
    pub idle: String,
    /// While idle, rehearse the send path (decision, encoding, a framed write
    /// to a private loopback socket, never to the exchange) every this many
    /// µs so a real order finds it warm; 0 = off (default). Used with the spin policy
    /// and the WS order transport.
    #[arg(
        global = true,
        long = "warm-us",
        env = "GAPMM_WARM_US",
        default_value = "0"
    )]
    pub warm_us: String,
    /// Distance in ticks of the tight quote from the (reservation) mid.
    #[arg(
        global = true,
        long = "tight-ticks",
        env = "GAPMM_TIGHT_TICKS",
        default_value = "1"
    )]
    pub tight_ticks: String,
    /// Distance in ticks of the wide quote from the (reservation) mid.
    #[arg(
        global = true,
        long = "wide-ticks",
        env = "GAPMM_WIDE_TICKS",
        default_value = "100"
    )]
    pub wide_ticks: String,
    /// Inventory risk aversion gamma; "auto" picks the value that keeps the growing side wide at max position, 0 reproduces the original.
    #[arg(global = true, long, env = "GAPMM_GAMMA", default_value = "auto")]
    pub gamma: String,
    /// Alpha adjustment in ticks per unit of (0.5 - gap score); 0 disables it.
    #[arg(
        global = true,
        long = "alpha-ticks",
        env = "GAPMM_ALPHA_TICKS",
        default_value = "0",
        allow_hyphen_values = true
    )]
    pub alpha_ticks: String,
    /// Pull quotes when no market message arrived for this many milliseconds.
    #[arg(
        global = true,
        long = "stale-ms",
        env = "GAPMM_STALE_MS",
        default_value = "3000"
    )]
    pub stale_ms: String,
    /// Heartbeat: every WebSocket pings this often (ms), and one that
    /// receives nothing for 2.5 times as long is dropped and reconnected.
    #[arg(
        global = true,
        long = "ping-ms",
        env = "GAPMM_PING_MS",
        default_value = "20000"
    )]
    pub ping_ms: String,
    /// Pull quotes when exchange time lags local time by more than this many milliseconds.
    #[arg(
        global = true,
        long = "max-lag-ms",
        env = "GAPMM_MAX_LAG_MS",
        default_value = "5000"
    )]
    pub max_lag_ms: String,
    /// recv_window sent with signed requests, in milliseconds.
    #[arg(
        global = true,
        long = "recv-window",
        env = "GAPMM_RECV_WINDOW",
        default_value = "5000"
    )]
    pub recv_window: String,
    /// Journal file (JSON Lines of every order action and fill).
    #[arg(
        global = true,
        long,
        env = "GAPMM_JOURNAL",
        default_value = "gapmm-journal.jsonl"
    )]
    pub journal: String,
    /// Simulator only: use TLS (wss/https) towards the embedded simulator.
    #[arg(
        global = true,
        long = "sim-tls",
        env = "GAPMM_SIM_TLS",
        default_value_t = false
    )]
    pub sim_tls: bool,
    /// Simulator only: trade an already running gapmm-sim at this base URL (e.g.
    /// http://127.0.0.1:9000) instead of starting one in-process.
    #[arg(global = true, long = "sim-url", env = "GAPMM_SIM_URL")]
    pub sim_url: Option<String>,
    /// Simulator only: market-model seed.
    #[arg(
        global = true,
        long = "sim-seed",
        env = "GAPMM_SIM_SEED",
        default_value = "7"
    )]
    pub sim_seed: String,
    /// Simulator only: synthetic market events per second.
    #[arg(
        global = true,
        long = "sim-rate",
        env = "GAPMM_SIM_RATE",
        default_value = "200"
    )]
    pub sim_rate: String,
    /// Simulator only, benchmark only: the embedded simulator busy-polls its
    /// core instead of sleeping, so a request's `write` does not include waking
    /// it (see tuning.md). Burns a core; never needed to trade.
    #[arg(
        global = true,
        long = "sim-busy-poll",
        env = "GAPMM_SIM_BUSY_POLL",
        default_value_t = false
    )]
    pub sim_busy_poll: bool,
    /// Simulator only, benchmark only: multiply the order manager's rate
    /// budget (Bybit's per-UID limits) by this, for a simulator started with
    /// its limits scaled as much (gapmm-compare does); each limit is capped
    /// at 128 requests a second. 1 = Bybit's limits.
    #[arg(
        global = true,
        long = "sim-budget-scale",
        env = "GAPMM_SIM_BUDGET_SCALE",
        default_value = "1"
    )]
    pub sim_budget_scale: String,
    /// Serve Prometheus metrics at `http://ADDR/metrics` from the monitor
    /// thread (empty: off). Loopback only unless `--metrics-any-host`.
    #[arg(global = true, long, env = "GAPMM_METRICS", default_value = "")]
    pub metrics: String,
    /// Allow `--metrics` on an address other hosts can reach.
    #[arg(
        global = true,
        long = "metrics-any-host",
        env = "GAPMM_METRICS_ANY_HOST",
        default_value_t = false
    )]
    pub metrics_any_host: bool,
}

/// What was wrong with the configuration: the variable and the reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The environment variable (or flag) at fault.
    pub var: &'static str,
    /// What was wrong, including the offending value unless it is a secret.
    pub reason: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "configuration error in {}: {}", self.var, self.reason)
    }
}

impl std::error::Error for ConfigError {}

fn bad(var: &'static str, value: &str, why: impl fmt::Display) -> ConfigError {
    ConfigError {
        var,
        reason: format!("{var}={value:?}: {why}"),
    }
}

/// API credentials. `Debug` and `Display` never show the secret, and show
/// only the first four characters of the key.
#[derive(Clone)]
pub struct ApiKeys {
    /// API key.
    pub key: String,
    /// API secret.
    pub secret: String,
}

impl fmt::Debug for ApiKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The first 4 characters tell keys apart; a key so short that they
        // would be most of it is not shown at all.
        if self.key.chars().count() > 12 {
            let shown: String = self.key.chars().take(4).collect();
            write!(f, "ApiKeys {{ key: \"{shown}…\", secret: <redacted> }}")
        } else {
            f.write_str("ApiKeys { key: <redacted>, secret: <redacted> }")
        }
    }
}

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// Venue.
    pub venue: Venue,
    /// Whether this configuration may trade (false for public-data modes,
    /// which skip the key and `--live` checks).
    pub trading: bool,
    /// Live flag given.
    pub live: bool,
    /// Keys (required for testnet/mainnet; the simulator supplies its own).
    pub keys: Option<ApiKeys>,
    /// Symbol.
    pub symbol: Symbol,
    /// spot or linear.
    pub category: Category,
    /// Configured tick size (checked against instruments-info at start-up).
    pub tick_size: Step,
    /// The configured tick size as the operator wrote it (for error messages).
    pub tick_size_text: String,
    /// Maximum position, base units as text (converted with the qty step once known).
    pub max_position: String,
    /// Quote size, base units as text.
    pub min_order_size: String,
    /// Minimum interval between order updates per side.
    pub min_update_interval: Duration,
    /// Order transport.
    pub transport: Transport,
    /// Book depth topic.
    pub depth: u16,
    /// Cores for hot threads (`None` = automatic layout).
    pub cores: Option<Vec<usize>>,
    /// Idle policy.
    pub idle: IdlePolicy,
    /// Send-path rehearsal period (zero = off).
    pub warm_every: Duration,
    /// Tight edge in ticks.
    pub tight_ticks: u32,
    /// Wide edge in ticks.
    pub wide_ticks: u32,
    /// Gamma (`None` = automatic from max position).
    pub gamma: Option<f64>,
    /// Alpha ticks per unit score deviation.
    pub alpha_ticks: f64,
    /// Feed staleness limit.
    pub stale: Duration,
    /// WebSocket heartbeat interval (dead after 2.5 of them in silence).
    pub ping: Duration,
    /// Exchange-time lag limit.
    pub max_lag: Duration,
    /// recv_window in ms.
    pub recv_window_ms: u32,
    /// Journal path.
    pub journal: std::path::PathBuf,
    /// TLS towards the simulator.
    pub sim_tls: bool,
    /// External simulator base URL (`http[s]://host:port`), if any.
    pub sim_url: Option<String>,
    /// Simulator seed.
    pub sim_seed: u64,
    /// Simulator event rate.
    pub sim_rate: u32,
    /// The embedded simulator busy-polls (benchmark only).
    pub sim_busy_poll: bool,
    /// Multiplier of the order manager's rate budget (simulator only).
    pub sim_budget_scale: u32,
    /// Where the metrics endpoint listens (`None`: off).
    pub metrics: Option<std::net::SocketAddr>,
}

fn parse_num<T: std::str::FromStr>(var: &'static str, v: &str) -> Result<T, ConfigError>
where
    T::Err: fmt::Display,
{
    v.trim().parse::<T>().map_err(|e| bad(var, v, e))
}

fn parse_positive_decimal(var: &'static str, v: &str) -> Result<String, ConfigError> {
    let d = crate::units::Decimal::parse(v.trim().as_bytes()).map_err(|e| bad(var, v, e))?;
    if d.mantissa <= 0 {
        return Err(bad(var, v, "must be greater than zero"));
    }
    Ok(v.trim().to_string())
}

/// The API keys as found in the environment (after `.env` is loaded):
/// `BYBIT_API_KEY` and `BYBIT_API_SECRET`. `Debug` shows only whether each
/// is set.
#[derive(Clone, Default)]
pub struct KeyVars {
    /// `BYBIT_API_KEY`.
    pub key: Option<String>,
    /// `BYBIT_API_SECRET`.
    pub secret: Option<String>,
}

impl KeyVars {
    /// The variables, which no flag sets.
    pub const VARS: [&'static str; 2] = ["BYBIT_API_KEY", "BYBIT_API_SECRET"];

    /// Reads both variables from the process environment.
    pub fn from_env() -> KeyVars {
        let var = |n| std::env::var(n).ok();
        KeyVars {
            key: var(Self::VARS[0]),
            secret: var(Self::VARS[1]),
        }
    }
}

impl fmt::Debug for KeyVars {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shown = |v: &Option<String>| if v.is_some() { "<set>" } else { "<unset>" };
        f.debug_struct("KeyVars")
            .field("key", &shown(&self.key))
            .field("secret", &shown(&self.secret))
            .finish()
    }
}

impl Config {
    /// Validates raw arguments, with the keys from the environment.
    pub fn from_args(a: &EngineArgs) -> Result<Config, ConfigError> {
        Config::parse(a, &KeyVars::from_env(), true)
    }

    /// The configuration for a mode that only reads public market data
    /// (`gapmm-hot stream`): a live venue needs neither keys nor `--live`,
    /// and nothing may trade with it ([`Config::trading`] is false).
    pub fn from_args_public(a: &EngineArgs) -> Result<Config, ConfigError> {
        Config::parse(a, &KeyVars::from_env(), false)
    }

    /// Validates raw arguments and keys (`trading`: see
    /// [`Config::from_args_public`]).
    pub fn parse(a: &EngineArgs, k: &KeyVars, trading: bool) -> Result<Config, ConfigError> {
        let venue = match a.venue.trim() {
            "sim" => Venue::Sim,
            "testnet" => Venue::Testnet,
            "mainnet" => Venue::Mainnet,
            v => return Err(bad("GAPMM_VENUE", v, "expected sim, testnet or mainnet")),
        };
        let keys = match (&k.key, &k.secret) {
            (Some(k), Some(s)) if !k.trim().is_empty() && !s.trim().is_empty() => Some(ApiKeys {
                key: k.trim().to_string(),
                secret: s.trim().to_string(),
            }),
            (Some(k), _) if !k.trim().is_empty() => {
                return Err(ConfigError {
                    var: "BYBIT_API_SECRET",
                    reason: "BYBIT_API_SECRET is missing while BYBIT_API_KEY is set".into(),
                })
            }
            (_, Some(s)) if !s.trim().is_empty() => {
                return Err(ConfigError {
                    var: "BYBIT_API_KEY",
                    reason: "BYBIT_API_KEY is missing while BYBIT_API_SECRET is set".into(),
                })
            }
            _ => None,
        };
        if venue.is_live() && trading {
            if keys.is_none() {
                return Err(ConfigError {
                    var: "BYBIT_API_KEY",
                    reason: format!(
                        "venue {:?} needs BYBIT_API_KEY and BYBIT_API_SECRET (in .env or the environment)",
                        venue
                    ),
                });
            }
            if !a.live {
                return Err(ConfigError {
                    var: "GAPMM_LIVE",
                    reason: "trading a real exchange needs the explicit --live flag (or GAPMM_LIVE=true)".into(),
                });
            }
        }
        let symbol_text = a.symbol.trim();
        if symbol_text.is_empty()
            || !symbol_text
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
        {
            return Err(bad(
                "TRADING_SYMBOL",
                &a.symbol,
                "expected an upper-case symbol such as BTCUSDT",
            ));
        }
        let symbol =
            Symbol::from_str(symbol_text).map_err(|e| bad("TRADING_SYMBOL", &a.symbol, e))?;
        let category = Category::parse(a.market_type.trim().as_bytes())
            .ok_or_else(|| bad("MARKET_TYPE", &a.market_type, "expected spot or linear"))?;
        let tick_size =
            Step::parse(a.tick_size.trim()).map_err(|e| bad("TICK_SIZE", &a.tick_size, e))?;
        let max_position = parse_positive_decimal("MAX_POSITION_SIZE", &a.max_position)?;
        let min_order_size = parse_positive_decimal("MIN_ORDER_SIZE", &a.min_order_size)?;
        let interval: f64 = parse_num("MIN_UPDATE_INTERVAL", &a.min_update_interval)?;
        if !(0.0..=3600.0).contains(&interval) {
            return Err(bad(
                "MIN_UPDATE_INTERVAL",
                &a.min_update_interval,
                "expected seconds between 0 and 3600",
            ));
        }
        let transport = match a.transport.trim() {
            "ws" => Transport::Ws,
            "rest" => Transport::Rest,
            v => return Err(bad("GAPMM_ORDER_TRANSPORT", v, "expected ws or rest")),
        };
        let depth: u16 = parse_num("GAPMM_DEPTH", &a.depth)?;
        if ![1, 50, 200, 1000].contains(&depth) {
            return Err(bad("GAPMM_DEPTH", &a.depth, "expected 1, 50, 200 or 1000"));
        }
        let cores = match a.cores.trim() {
            "auto" | "" => None,
            list => {
                let mut v = Vec::new();
                for part in list.split(',') {
                    v.push(parse_num::<usize>("GAPMM_CORES", part).map_err(|_| {
                        bad(
                            "GAPMM_CORES",
                            list,
                            "expected auto or a comma-separated list of core ids",
                        )
                    })?);
                }
                if v.is_empty() || v.len() > 3 {
                    return Err(bad("GAPMM_CORES", list, "expected one to three core ids"));
                }
                Some(v)
            }
        };
        let idle = match a.idle.trim() {
            "spin" => IdlePolicy::Spin,
            "yield" => IdlePolicy::Yield,
            "park" => IdlePolicy::Park,
            v => return Err(bad("GAPMM_IDLE", v, "expected spin, yield or park")),
        };
        let tight_ticks: u32 = parse_num("GAPMM_TIGHT_TICKS", &a.tight_ticks)?;
        let wide_ticks: u32 = parse_num("GAPMM_WIDE_TICKS", &a.wide_ticks)?;
        if tight_ticks == 0 {
            return Err(bad(
                "GAPMM_TIGHT_TICKS",
                &a.tight_ticks,
                "need at least 1 tick from the mid",
            ));
        }
        if wide_ticks < tight_ticks || wide_ticks > 100_000 {
            return Err(bad(
                "GAPMM_WIDE_TICKS",
                &a.wide_ticks,
                format!(
                    "need 1 <= GAPMM_TIGHT_TICKS ({tight_ticks}) <= GAPMM_WIDE_TICKS <= 100000"
                ),
            ));
        }
        let gamma = match a.gamma.trim() {
            "auto" => None,
            v => {
                let g: f64 = parse_num("GAPMM_GAMMA", v)?;
                if !g.is_finite() || g < 0.0 {
                    return Err(bad(
                        "GAPMM_GAMMA",
                        v,
                        "expected auto or a non-negative number",
                    ));
                }
                Some(g)
            }
        };
        let alpha_ticks: f64 = parse_num("GAPMM_ALPHA_TICKS", &a.alpha_ticks)?;
        if !alpha_ticks.is_finite() || alpha_ticks.abs() > 1e6 {
            return Err(bad(
                "GAPMM_ALPHA_TICKS",
                &a.alpha_ticks,
                "expected a finite number",
            ));
        }
        let stale_ms: u64 = parse_num("GAPMM_STALE_MS", &a.stale_ms)?;
        let max_lag_ms: u64 = parse_num("GAPMM_MAX_LAG_MS", &a.max_lag_ms)?;
        if stale_ms == 0 {
            return Err(bad("GAPMM_STALE_MS", &a.stale_ms, "must be positive"));
        }
        let ping_ms: u64 = parse_num("GAPMM_PING_MS", &a.ping_ms)?;
        if !(100..=60_000).contains(&ping_ms) {
            return Err(bad(
                "GAPMM_PING_MS",
                &a.ping_ms,
                "must be between 100 and 60000 (Bybit expects a ping every 20 s)",
            ));
        }
        let recv_window_ms: u32 = parse_num("GAPMM_RECV_WINDOW", &a.recv_window)?;
        if !(100..=60_000).contains(&recv_window_ms) {
            return Err(bad(
                "GAPMM_RECV_WINDOW",
                &a.recv_window,
                "expected 100..=60000 ms",
            ));
        }
        Ok(Config {
            venue,
            trading,
            live: a.live,
            keys,
            symbol,
            category,
            tick_size,
            tick_size_text: a.tick_size.trim().to_string(),
            max_position,
            min_order_size,
            min_update_interval: Duration::from_secs_f64(interval),
            transport,
            depth,
            cores,
            idle,
            warm_every: if idle == IdlePolicy::Spin {
                Duration::from_micros(parse_num("GAPMM_WARM_US", &a.warm_us)?)
            } else {
                Duration::ZERO
            },
            tight_ticks,
            wide_ticks,
            gamma,
            alpha_ticks,
            stale: Duration::from_millis(stale_ms),
            ping: Duration::from_millis(ping_ms),
            max_lag: Duration::from_millis(max_lag_ms),
            recv_window_ms,
            journal: a.journal.trim().into(),
            sim_tls: a.sim_tls,
            sim_url: match a.sim_url.as_deref().map(str::trim) {
                None | Some("") => None,
                // Keys from .env sign the simulator's requests too: a
                // simulator is only ever on this machine, and no other host
                // gets them without --venue, --live and a typed YES.
                Some(u) if (u.starts_with("http://") || u.starts_with("https://")) => {
                    let host = crate::net::url::Url::parse(u)
                        .map(|p| p.host().to_string())
                        .map_err(|e| bad("GAPMM_SIM_URL", u, e))?;
                    let host = host.trim_start_matches('[').trim_end_matches(']');
                    let loopback = host == "localhost"
                        || host
                            .parse::<std::net::IpAddr>()
                            .is_ok_and(|ip| ip.is_loopback());
                    if !loopback {
                        return Err(bad(
                            "GAPMM_SIM_URL",
                            u,
                            "a simulator URL must be on loopback (127.0.0.1, ::1 or localhost)",
                        ));
                    }
                    Some(u.trim_end_matches('/').to_string())
                }
                Some(u) => {
                    return Err(bad(
                        "GAPMM_SIM_URL",
                        u,
                        "expected http://host:port or https://host:port",
                    ))
                }
            },
            sim_seed: parse_num("GAPMM_SIM_SEED", &a.sim_seed)?,
            sim_rate: parse_num("GAPMM_SIM_RATE", &a.sim_rate)?,
            sim_busy_poll: a.sim_busy_poll,
            sim_budget_scale: budget_scale(&a.sim_budget_scale, venue)?,
            metrics: metrics_addr(&a.metrics, a.metrics_any_host)?,
        })
    }
}

/// Whether an environment variable configures gapmm-hot: `GAPMM_*`,
/// `BYBIT_*` and the original's names. A harness that runs the engine with
/// exactly the settings it passes removes these from the child's
/// environment.
pub fn is_config_var(name: &str) -> bool {
    name.starts_with("GAPMM_")
        || name.starts_with("BYBIT_")
        || [
            "TRADING_SYMBOL",
            "MARKET_TYPE",
            "TICK_SIZE",
            "MAX_POSITION_SIZE",
            "MIN_ORDER_SIZE",
            "MIN_UPDATE_INTERVAL",
        ]
        .contains(&name)
}

/// `GAPMM_SIM_BUDGET_SCALE`: 1 to 1000, and only 1 on a real venue (its
/// limits are Bybit's, whatever a benchmark would like).
fn budget_scale(v: &str, venue: Venue) -> Result<u32, ConfigError> {
    let k: u32 = parse_num("GAPMM_SIM_BUDGET_SCALE", v)?;
    if !(1..=1000).contains(&k) {
        return Err(bad("GAPMM_SIM_BUDGET_SCALE", v, "expected 1 to 1000"));
    }
    if k != 1 && venue.is_live() {
        return Err(bad(
            "GAPMM_SIM_BUDGET_SCALE",
            v,
            "the simulator only: a real venue's limits are Bybit's",
        ));
    }
    Ok(k)
}

/// `GAPMM_METRICS`: empty is off; otherwise `ip:port`, on loopback unless
/// `any_host` (the endpoint shows position and PnL, and has no auth).
fn metrics_addr(v: &str, any_host: bool) -> Result<Option<std::net::SocketAddr>, ConfigError> {
    let v = v.trim();
    if v.is_empty() {
        return Ok(None);
    }
    let addr: std::net::SocketAddr = v
        .parse()
        .map_err(|_| bad("GAPMM_METRICS", v, "expected ip:port, e.g. 127.0.0.1:9464"))?;
    if !addr.ip().is_loopback() && !any_host {
        return Err(bad(
            "GAPMM_METRICS",
            v,
            "not a loopback address; set GAPMM_METRICS_ANY_HOST=true to serve other hosts",
        ));
    }
    Ok(Some(addr))
}

/// Loads `.env` from the working directory if present (never overriding
/// variables already set in the environment).
pub fn load_dotenv() -> Result<(), ConfigError> {
    match dotenvy::dotenv() {
        Ok(_) => Ok(()),
        Err(e) if e.not_found() => Ok(()),
        // The error text may quote a line of the file, which can hold a secret.
        Err(_) => Err(ConfigError {
            var: ".env",
            reason: "the .env file could not be parsed (check its KEY=value lines)".into(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct T {
        #[command(flatten)]
        a: EngineArgs,
    }

    #[test]
    fn debug_never_shows_a_short_key_whole() {
        // Found by the `config` fuzz target: a 4-character key was shown
        // entire as its "prefix".
        for key in ["abcd", "abcdefgh", "abcdefghijkl"] {
            let k = ApiKeys {
                key: key.into(),
                secret: "s3cr3t-value".into(),
            };
            let shown = format!("{k:?}");
            assert!(!shown.contains(key) && !shown.contains("s3cr3t"), "{shown}");
        }
        let long = ApiKeys {
            key: "XXXXfB6pUBS8NREtxy".into(),
            secret: "s3cr3t-value".into(),
        };
        assert_eq!(
            format!("{long:?}"),
            "ApiKeys { key: \"XXXX…\", secret: <redacted> }"
        );
    }

    #[test]
    fn env_example_lists_every_variable_with_its_default() {
        use clap::CommandFactory;
        let example: Vec<(String, String)> = include_str!("../../.env.example")
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
            .collect();
        let cmd = T::command();
        // The keys are read from the environment only (no flag).
        let mut vars: Vec<String> = KeyVars::VARS.iter().map(|v| v.to_string()).collect();
        for (k, v) in &example {
            if KeyVars::VARS.contains(&k.as_str()) {
                assert_eq!(v, "", "{k}: .env.example must not hold a value");
            }
        }
        for a in cmd.get_arguments() {
            let Some(var) = a.get_env().and_then(|v| v.to_str()) else {
                continue;
            };
            vars.push(var.to_string());
            // A harness that clears the configuration clears this one too.
            assert!(
                is_config_var(var),
                "{var} is not recognised by is_config_var"
            );
            let listed = example.iter().find(|(k, _)| k == var);
            let Some((_, value)) = listed else {
                panic!(".env.example does not list {var}");
            };
            let default: Vec<String> = a
                .get_default_values()
                .iter()
                .map(|d| d.to_string_lossy().into_owned())
                .collect();
            let want = default.first().cloned().unwrap_or_default();
            assert_eq!(
                value, &want,
                "{var}: .env.example says {value:?}, the default is {want:?}"
            );
        }
        for (k, _) in &example {
            assert!(
                vars.contains(k),
                ".env.example lists {k}, which no flag reads"
            );
        }
        // The original's variables are among them.
        for v in [
            "BYBIT_API_KEY",
            "BYBIT_API_SECRET",
            "TRADING_SYMBOL",
            "MARKET_TYPE",
            "TICK_SIZE",
            "MAX_POSITION_SIZE",
            "MIN_ORDER_SIZE",
            "MIN_UPDATE_INTERVAL",
        ] {
            assert!(vars.iter().any(|x| x == v), "{v}");
        }
    }

    fn args(extra: &[&str]) -> EngineArgs {
        let mut v = vec!["t"];
        v.extend_from_slice(extra);
        T::try_parse_from(v).unwrap().a
    }

    #[test]
    fn defaults_are_the_simulator_with_the_original_values() {
        // Environment variables could leak in from the test runner; these
        // names are specific enough that CI does not set them.
        let c = Config::parse(&args(&[]), &KeyVars::default(), true).unwrap();
        assert_eq!(c.venue, Venue::Sim);
        assert_eq!(c.symbol.as_str(), "BTCUSDT");
        assert_eq!(c.category, Category::Spot);
        assert_eq!(c.tick_size, Step::parse("0.1").unwrap());
        assert_eq!(c.depth, 50);
        assert_eq!(c.transport, Transport::Ws);
        assert_eq!((c.tight_ticks, c.wide_ticks), (1, 100));
    }

    #[test]
    fn quote_distances_are_blamed_on_the_variable_that_is_wrong() {
        let e =
            Config::parse(&args(&["--tight-ticks", "0"]), &KeyVars::default(), true).unwrap_err();
        assert_eq!(e.var, "GAPMM_TIGHT_TICKS", "{e}");
        let e = Config::parse(
            &args(&["--tight-ticks", "5", "--wide-ticks", "3"]),
            &KeyVars::default(),
            true,
        )
        .unwrap_err();
        assert_eq!(e.var, "GAPMM_WIDE_TICKS", "{e}");
        assert!(e.to_string().contains("GAPMM_TIGHT_TICKS (5)"), "{e}");
    }

    #[test]
    fn public_data_needs_no_keys_but_trading_does() {
        for venue in ["testnet", "mainnet"] {
            let a = args(&["--venue", venue]);
            let e = Config::parse(&a, &KeyVars::default(), true).unwrap_err();
            assert_eq!(e.var, "BYBIT_API_KEY", "{venue}");
            let c = Config::parse(&a, &KeyVars::default(), false).unwrap();
            assert!(!c.trading);
            assert!(c.keys.is_none());
        }
        assert!(
            Config::parse(&args(&[]), &KeyVars::default(), true)
                .unwrap()
                .trading
        );
    }

    #[test]
    fn bad_values_name_their_variable() {
        for (flags, var) in [
            (&["--tick-size", "abc"][..], "TICK_SIZE"),
            (&["--market-type", "futures"][..], "MARKET_TYPE"),
            (&["--depth", "25"][..], "GAPMM_DEPTH"),
            (&["--max-position=-1"][..], "MAX_POSITION_SIZE"),
            (
                &["--min-update-interval", "soon"][..],
                "MIN_UPDATE_INTERVAL",
            ),
            (&["--venue", "binance"][..], "GAPMM_VENUE"),
            (&["--symbol", "btc usdt"][..], "TRADING_SYMBOL"),
            (&["--cores", "a,b"][..], "GAPMM_CORES"),
        ] {
            let e = Config::parse(&args(flags), &KeyVars::default(), true).unwrap_err();
            assert_eq!(e.var, var, "{flags:?}");
            assert!(e.to_string().contains(var), "{e}");
        }
    }

    #[test]
    fn live_venues_need_keys_and_the_live_flag_and_never_echo_the_secret() {
        let e =
            Config::parse(&args(&["--venue", "mainnet"]), &KeyVars::default(), true).unwrap_err();
        assert_eq!(e.var, "BYBIT_API_KEY");
        let keys = KeyVars {
            key: Some("AKEY1234".into()),
            secret: Some("s3cr3t-value".into()),
        };
        let testnet = ["--venue", "testnet"];
        let e = Config::parse(&args(&testnet), &keys, true).unwrap_err();
        assert_eq!(e.var, "GAPMM_LIVE");
        let mut live = testnet.to_vec();
        live.push("--live");
        let c = Config::parse(&args(&live), &keys, true).unwrap();
        for shown in [format!("{c:?}"), format!("{keys:?}")] {
            assert!(!shown.contains("s3cr3t-value"), "{shown}");
            assert!(!shown.contains("AKEY1234"), "{shown}");
        }
    }

    /// A flag would put the secret in the process list: there is none.
    #[test]
    fn keys_are_not_taken_from_flags() {
        for flag in ["--api-key", "--api-secret"] {
            assert!(T::try_parse_from(["t", flag, "x"]).is_err(), "{flag}");
        }
    }

    /// Keys from .env sign the simulator's requests: only a simulator on
    /// this machine may receive them.
    #[test]
    fn a_simulator_url_must_be_on_loopback() {
        for ok in [
            "http://127.0.0.1:9000",
            "https://localhost:9443/",
            "http://[::1]:9000",
        ] {
            let c = Config::parse(&args(&["--sim-url", ok]), &KeyVars::default(), true);
            assert!(c.is_ok(), "{ok}: {c:?}");
        }
        for bad in [
            "http://10.0.0.5:9000",
            "https://api.bybit.com",
            "http://sim.example:80",
        ] {
            let e =
                Config::parse(&args(&["--sim-url", bad]), &KeyVars::default(), true).unwrap_err();
            assert_eq!(e.var, "GAPMM_SIM_URL", "{bad}");
        }
    }
}
