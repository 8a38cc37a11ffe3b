//! A short run of `gapmm-soak` (the real engine, the simulator, random faults
//! and a taker): the soak's own checks must all hold, and it must have
//! injected faults and seen fills, or the checks prove nothing. The
//! 10-minute run and its figures are in BENCHMARKS.md.

use std::process::Command;

#[test]
fn a_short_soak_passes_every_check() {
    let out = Command::new(env!("CARGO_BIN_EXE_gapmm-soak"))
        .args(["--seconds", "25", "--rate", "2000", "--seed", "3"])
        .args(["--fault-gap-ms", "800", "--taker-every-ms", "100"])
        .args(["--warmup-s", "5"])
        // A short run's memory is still settling; the 5 % bar is for the long run.
        .args(["--max-rss-growth-pct", "50"])
        .arg("--engine")
        .arg(env!("CARGO_BIN_EXE_gapmm-hot"))
        .output()
        .expect("run gapmm-soak");
    let report = String::from_utf8_lossy(&out.stdout);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "gapmm-soak failed ({:?}):\n{report}\n{err}",
        out.status
    );
    assert!(report.contains("verdict: PASS"), "{report}");
    let total = report
        .lines()
        .find_map(|l| l.trim().strip_prefix("total"))
        .expect("a faults total line");
    let (injected, survived) = total.split_once('/').expect("injected / survived");
    let injected: u64 = injected.trim().parse().unwrap();
    assert!(injected >= 5, "too few faults for a soak: {report}");
    assert_eq!(survived.trim().parse::<u64>().unwrap(), injected);
    let fills = report
        .lines()
        .find_map(|l| l.strip_prefix("fills: exchange "))
        .and_then(|l| l.split(';').next())
        .and_then(|n| n.trim().parse::<u64>().ok())
        .expect("a fills line");
    assert!(fills > 0, "no fills: {report}");
}
