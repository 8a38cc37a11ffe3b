//! `gapmm-hbt-ref`: backtests the "touch" rule with hftbacktest 0.9.4 and
//! with gap-mm's own backtester on a gap-mm recording and prints the two
//! side by side (a table, or one JSON object with `--json`). `--hbt-only`
//! runs hftbacktest alone and prints its result as one JSON object (the
//! conversion time is in it, `convert_s`, and on stderr).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, ValueEnum};
use gapmm_hbt_ref::{compare, run_reference, ExchangeModel, QueueModel, RefParams, Replace};

#[derive(Debug, Clone, Copy, ValueEnum)]
enum QueueArg {
    /// hftbacktest's RiskAdverseQueueModel.
    RiskAverse,
    /// ProbQueueModel with PowerProbQueueFunc3 (exponent --n).
    Prob3,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum ExchangeArg {
    /// NoPartialFillExchange: the whole order fills once the queue is used up.
    NoPartial,
    /// PartialFillExchange: trades fill what passes our queue position.
    Partial,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum ReplaceArg {
    /// Cancel, then a new order once the cancel is confirmed.
    Cancel,
    /// hftbacktest's modify.
    Modify,
}

/// Reference check: the touch rule backtested by hftbacktest 0.9.4 and by
/// gap-mm's own backtester on the same recording, side by side.
#[derive(Debug, Parser)]
#[command(name = "gapmm-hbt-ref", version)]
struct Args {
    /// Recording: `<local ns> <Bybit v5 public WS JSON>` lines, gzip or plain.
    file: PathBuf,
    /// Price step.
    #[arg(long)]
    tick: f64,
    /// Quantity step.
    #[arg(long)]
    lot: f64,
    /// Quote size (base units, a multiple of --lot).
    #[arg(long)]
    qty: f64,
    /// Position limit (base units): no bid at or above it, no ask at or below its negative.
    #[arg(long)]
    max_position: f64,
    /// Order entry latency (µs).
    #[arg(long, default_value_t = 1000)]
    entry_latency_us: u32,
    /// Order response latency (µs).
    #[arg(long, default_value_t = 1000)]
    response_latency_us: u32,
    /// Queue position model.
    #[arg(long, value_enum, default_value = "risk-averse")]
    queue: QueueArg,
    /// Exponent of the prob3 queue model.
    #[arg(long, default_value_t = 3.0)]
    n: f64,
    /// Exchange model.
    #[arg(long, value_enum, default_value = "no-partial")]
    exchange: ExchangeArg,
    /// How a working order is moved to a new price.
    #[arg(long, value_enum, default_value = "cancel")]
    replace: ReplaceArg,
    /// Maker fee rate (0.0001 = 1 bp).
    #[arg(long, default_value_t = 0.0001, allow_negative_numbers = true)]
    maker_fee: f64,
    /// Taker fee rate.
    #[arg(long, default_value_t = 0.0005, allow_negative_numbers = true)]
    taker_fee: f64,
    /// Print one JSON object with both results (and every run's times)
    /// instead of the table.
    #[arg(long)]
    json: bool,
    /// Run hftbacktest alone and print its result as one JSON object (the
    /// output before the side-by-side check).
    #[arg(long)]
    hbt_only: bool,
    /// Runs of each backtest (the faster one's time is reported).
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u32).range(1..))]
    runs: u32,
    /// Indent the JSON.
    #[arg(long)]
    pretty: bool,
}

fn to_json<T: serde::Serialize>(v: &T, pretty: bool) -> Result<String, serde_json::Error> {
    if pretty {
        serde_json::to_string_pretty(v)
    } else {
        serde_json::to_string(v)
    }
}

fn main() -> ExitCode {
    let a = Args::parse();
    let p = RefParams {
        entry_latency_ns: i64::from(a.entry_latency_us) * 1000,
        response_latency_ns: i64::from(a.response_latency_us) * 1000,
        queue: match a.queue {
            QueueArg::RiskAverse => QueueModel::RiskAverse,
            QueueArg::Prob3 => QueueModel::PowerProb3 { n: a.n },
        },
        exchange: match a.exchange {
            ExchangeArg::NoPartial => ExchangeModel::NoPartialFill,
            ExchangeArg::Partial => ExchangeModel::PartialFill,
        },
        replace: match a.replace {
            ReplaceArg::Cancel => Replace::CancelNew,
            ReplaceArg::Modify => Replace::Modify,
        },
        maker_fee: a.maker_fee,
        taker_fee: a.taker_fee,
        ..RefParams::new(a.tick, a.lot, a.qty, a.max_position)
    };
    if !a.hbt_only {
        return match compare(&a.file, &p, a.runs as usize) {
            Ok(c) => {
                if a.json {
                    match to_json(&c, a.pretty) {
                        Ok(s) => println!("{s}"),
                        Err(e) => {
                            eprintln!("gapmm-hbt-ref: {e}");
                            return ExitCode::FAILURE;
                        }
                    }
                } else {
                    print!("{}", c.table(&p));
                }
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("gapmm-hbt-ref: {}: {e}", a.file.display());
                ExitCode::FAILURE
            }
        };
    }
    match run_reference(&a.file, &p) {
        Ok(r) => {
            eprintln!(
                "gapmm-hbt-ref: convert {:.3} s, build {:.3} s, backtest {:.3} s ({} rows)",
                r.convert_s, r.build_s, r.run_s, r.events
            );
            match to_json(&r, a.pretty) {
                Ok(s) => {
                    println!("{s}");
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("gapmm-hbt-ref: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        Err(e) => {
            eprintln!("gapmm-hbt-ref: {}: {e}", a.file.display());
            ExitCode::FAILURE
        }
    }
}
