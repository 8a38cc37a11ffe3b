//! `--metrics`: during a run against the simulator, `GET /metrics` on the
//! address the engine prints answers valid Prometheus text (every sample
//! line `name{labels} value` with a number, every family declared by
//! `# TYPE` before its samples) that shows the run: book messages, hop
//! latencies, position and budget. A non-loopback address is refused unless
//! allowed.

mod engine_support;
mod sim_common;

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use engine_support::{start_sim, Engine};

fn get(addr: &str, path: &str) -> (String, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    write!(s, "GET {path} HTTP/1.1\r\nHost: {addr}\r\n\r\n").unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    (head.to_string(), body.to_string())
}

/// One sample: metric name, label text, value.
type Sample = (String, String, f64);

/// Parses the exposition text: family → kind, and every sample.
fn parse(text: &str) -> (HashMap<String, String>, Vec<Sample>) {
    let mut kinds = HashMap::new();
    let mut samples = Vec::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap();
            assert!(
                ["counter", "gauge", "summary"].contains(&kind),
                "unknown kind: {line}"
            );
            assert!(
                kinds.insert(name.to_string(), kind.to_string()).is_none(),
                "{line}"
            );
            continue;
        }
        if line.starts_with("# HELP ") || line.is_empty() {
            continue;
        }
        let (series, value) = line.rsplit_once(' ').unwrap();
        let value: f64 = value
            .parse()
            .unwrap_or_else(|_| panic!("not a number: {line}"));
        let (name, labels) = match series.split_once('{') {
            Some((n, l)) => (n, l.strip_suffix('}').expect(line)),
            None => (series, ""),
        };
        assert!(
            name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
            "bad metric name: {line}"
        );
        for pair in labels.split(',').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').expect(line);
            assert!(
                k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
                "{line}"
            );
            assert!(
                v.starts_with('"') && v.ends_with('"') && v.len() >= 2,
                "{line}"
            );
        }
        let family = ["_sum", "_count"]
            .iter()
            .find_map(|s| {
                name.strip_suffix(s)
                    .filter(|f| kinds.get(*f).is_some_and(|k| k == "summary"))
            })
            .unwrap_or(name);
        assert!(
            kinds.contains_key(family),
            "sample before its # TYPE: {line}"
        );
        samples.push((name.to_string(), labels.to_string(), value));
    }
    (kinds, samples)
}

#[test]
fn metrics_endpoint_serves_valid_prometheus_text_during_a_run() {
    let sim = start_sim(11, 500, &[]);
    let engine = Engine::spawn(
        &sim,
        "metrics",
        &[
            "--metrics",
            "127.0.0.1:0",
            "--gamma",
            "0",
            "--max-position",
            "1",
        ],
        &[],
    );
    let line = engine.wait_line("the metrics address", Duration::from_secs(20), |l| {
        l.starts_with("metrics: http://")
    });
    let addr = line
        .trim_start_matches("metrics: http://")
        .trim_end_matches("/metrics")
        .trim()
        .to_string();
    // Wait until the engine quotes (its status line says LIVE with a working
    // quote), so the figures below describe a run, not a start.
    engine.wait_status("a working quote", Duration::from_secs(20), |s| {
        s.live && (s.working.0.is_some() || s.working.1.is_some())
    });
    let (head, body) = get(&addr, "/metrics");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(head.contains("text/plain; version=0.0.4"), "{head}");
    let (kinds, samples) = parse(&body);
    let value = |name: &str| {
        samples
            .iter()
            .find(|(n, _, _)| n == name)
            .map(|s| s.2)
            .unwrap_or_else(|| panic!("no {name} in:\n{body}"))
    };
    assert!(value("gapmm_book_messages_total") > 0.0);
    assert_eq!(value("gapmm_book_tradable"), 1.0);
    // Present (it may be 0 at this instant: a start-up burst spends it).
    assert!(value("gapmm_rate_budget_remaining") >= 0.0);
    assert!(value("gapmm_last_message_age_seconds") >= 0.0);
    assert!(value("gapmm_requests_total") >= 1.0);
    assert_eq!(
        kinds.get("gapmm_hop_latency_seconds").map(String::as_str),
        Some("summary")
    );
    assert!(
        samples
            .iter()
            .any(|(n, l, v)| n == "gapmm_hop_latency_seconds"
                && l.contains("hop=\"parse\"")
                && l.contains("quantile=\"0.5\"")
                && *v > 0.0),
        "no parse p50 in:\n{body}"
    );
    assert!(samples
        .iter()
        .all(|(_, l, _)| l.contains("symbol=\"BTCUSDT\"")));
    // Only /metrics is served.
    let (head, _) = get(&addr, "/");
    assert!(head.starts_with("HTTP/1.1 404"), "{head}");
    let end = engine.interrupt(Duration::from_secs(30));
    assert!(end.status.success(), "{}", end.stderr);
}

#[test]
fn a_metrics_address_other_hosts_reach_is_refused_unless_allowed() {
    let sim = start_sim(12, 100, &[]);
    let engine = Engine::spawn(
        &sim,
        "metrics-any",
        &["--metrics", "0.0.0.0:0", "--duration", "1"],
        &[],
    );
    let end = engine.finish(Duration::from_secs(30));
    assert!(!end.status.success());
    assert!(
        end.stderr.contains("GAPMM_METRICS") && end.stderr.contains("GAPMM_METRICS_ANY_HOST"),
        "{}",
        end.stderr
    );
}
