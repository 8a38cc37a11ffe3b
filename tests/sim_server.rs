//! The simulator's servers over real loopback sockets: REST routing, auth and rate limits, the
//! public/private/trade WebSocket protocols, fault injection, TLS and the measuring point.
//! Every server uses an ephemeral port; waits are socket reads with timeouts.

mod sim_common;

use gapmm::ids::Category;
use gapmm::sim::exchange::ExchangeConfig;
use gapmm::sim::market::{MarketModel, SyntheticParams};
use gapmm::sim::{ConnKind, Fault, Pace, Sim, SimConfig, SimHandle};
use serde_json::{json, Value};
use sim_common::*;
use std::time::{Duration, Instant};

fn quiet() -> SimHandle {
    Sim::start(SimConfig::new(ExchangeConfig::standard(
        7,
        MarketModel::Quiet,
    )))
    .unwrap()
}

fn flowing(per_sec: u32) -> SimHandle {
    let params = SyntheticParams {
        events_per_sec: per_sec,
        ..SyntheticParams::default()
    };
    Sim::start(SimConfig::new(ExchangeConfig::standard(
        7,
        MarketModel::Synthetic(params),
    )))
    .unwrap()
}

#[test]
fn rest_time_garbage_and_unknown_paths_get_envelopes_and_the_server_keeps_serving() {
    let sim = quiet();
    let mut good = Http::new(sim.addr(), None);
    let t = good.get("/v5/market/time", "");
    assert_eq!(t.status, 200);
    let v = t.json();
    assert_eq!(v["retCode"], 0);
    assert!(v["time"].as_u64().unwrap() > 1_600_000_000_000);

    // Garbage request line → 400 with Bybit's envelope, connection closed.
    let mut bad = Http::new(sim.addr(), None);
    bad.send_raw(b"\x00\x01garbage\r\n\r\n");
    let r = bad.read_resp().expect("an error reply");
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["retCode"], 10001);
    assert!(
        bad.read_resp().is_none(),
        "connection is closed after a framing error"
    );

    // Oversized header block.
    let mut big = Http::new(sim.addr(), None);
    big.send_raw(
        format!(
            "GET /v5/market/time HTTP/1.1\r\nX-Pad: {}\r\n\r\n",
            "a".repeat(20_000)
        )
        .as_bytes(),
    );
    let r = big.read_resp().expect("an error reply");
    assert_eq!(
        (r.status, r.json()["retMsg"].as_str().unwrap()),
        (400, "request header too large")
    );

    // Unknown path and wrong method on a live keep-alive connection.
    let r = good.get("/v5/nope", "");
    assert_eq!((r.status, r.json()["retCode"].as_i64()), (404, Some(10001)));
    good.send_raw(b"POST /v5/market/time HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}");
    assert_eq!(good.read_resp().unwrap().status, 405);
    // Bad JSON body on a private endpoint.
    let r = good.signed(
        "POST",
        "/v5/order/create",
        "{not json",
        sim.api_key(),
        sim.api_secret(),
    );
    assert_eq!(r.json()["retCode"], 10001);

    // Pipelined: two requests in one write, two responses in order.
    good.send_raw(b"GET /v5/market/time HTTP/1.1\r\n\r\nGET /v5/nope HTTP/1.1\r\n\r\n");
    assert_eq!(good.read_resp().unwrap().status, 200);
    assert_eq!(good.read_resp().unwrap().status, 404);
    assert!(sim.stats().bad_requests >= 4);
    sim.shutdown().unwrap();
}

#[test]
fn rest_auth_failures_carry_bybit_codes() {
    let sim = quiet();
    let (key, secret) = (sim.api_key().to_string(), sim.api_secret().to_string());
    let mut h = Http::new(sim.addr(), None);
    let body = r#"{"category":"linear","symbol":"BTCUSDT","orderLinkId":"x-1"}"#;
    // Bad signature.
    let ts = now_ms();
    h.send_raw(&Http::signed_raw(
        "POST",
        "/v5/order/cancel",
        body,
        &key,
        &"0".repeat(64),
        ts,
        5000,
    ));
    let v = h.read_resp().unwrap().json();
    assert_eq!(v["retCode"], 10004, "{v}");
    // Expired timestamp (older than recv_window), correctly signed.
    let old = now_ms() - 10_000;
    let sig = gapmm::sim::auth::sign_rest(&secret, old, &key, 5000, body.as_bytes());
    h.send_raw(&Http::signed_raw(
        "POST",
        "/v5/order/cancel",
        body,
        &key,
        &sig,
        old,
        5000,
    ));
    let v = h.read_resp().unwrap().json();
    assert_eq!(v["retCode"], 10002);
    assert!(v["retMsg"].as_str().unwrap().contains("req_timestamp["));
    // More than one second ahead fails too.
    let ahead = now_ms() + 2_000;
    let sig = gapmm::sim::auth::sign_rest(&secret, ahead, &key, 5000, body.as_bytes());
    h.send_raw(&Http::signed_raw(
        "POST",
        "/v5/order/cancel",
        body,
        &key,
        &sig,
        ahead,
        5000,
    ));
    assert_eq!(h.read_resp().unwrap().json()["retCode"], 10002);
    // Unknown key.
    let r = h.signed("POST", "/v5/order/cancel", body, "not-a-key", &secret);
    assert_eq!(r.json()["retCode"], 10003);
    // GET signs the raw query string.
    let r = h.signed(
        "GET",
        "/v5/order/realtime",
        "category=linear&symbol=BTCUSDT",
        &key,
        &secret,
    );
    let v = r.json();
    assert_ne!(v["retCode"], 10004, "{v}");
    assert_eq!(r.header("X-Bapi-Limit"), Some("50"));
    sim.shutdown().unwrap();
}

#[test]
fn burst_over_the_rate_limit_gets_10006_with_headers() {
    let sim = quiet();
    let (key, secret) = (sim.api_key().to_string(), sim.api_secret().to_string());
    let mut h = Http::new(sim.addr(), None);
    let mut codes = Vec::new();
    let mut last = None;
    for i in 0..12 {
        let body = format!(r#"{{"category":"linear","symbol":"BTCUSDT","orderLinkId":"rl-{i}"}}"#);
        let r = h.signed("POST", "/v5/order/cancel", &body, &key, &secret);
        assert_eq!(r.header("X-Bapi-Limit"), Some("10"));
        codes.push(r.json()["retCode"].as_i64().unwrap());
        last = Some(r);
    }
    // 10/s for linear cancel: the first ten pass the limiter, then 10006 "Too many visits!".
    assert!(codes[..10].iter().all(|&c| c != 10006), "{codes:?}");
    assert_eq!(&codes[10..], &[10006, 10006]);
    let last = last.unwrap();
    assert_eq!(last.json()["retMsg"], "Too many visits!");
    assert_eq!(last.header("X-Bapi-Limit-Status"), Some("0"));
    let reset: u64 = last
        .header("X-Bapi-Limit-Reset-Timestamp")
        .unwrap()
        .parse()
        .unwrap();
    assert!(reset > now_ms() - 1000 && reset <= now_ms() + 1000);
    // Spot has its own bucket (20/s).
    let r = h.signed(
        "POST",
        "/v5/order/cancel",
        r#"{"category":"spot","symbol":"BTCUSDT","orderLinkId":"s-1"}"#,
        &key,
        &secret,
    );
    assert_eq!(
        (r.header("X-Bapi-Limit"), r.header("X-Bapi-Limit-Status")),
        (Some("20"), Some("19"))
    );
    assert!(sim.stats().rate_limited >= 2);
    sim.shutdown().unwrap();
}

#[test]
fn public_feed_acks_pongs_errors_then_snapshot_and_consecutive_deltas() {
    let sim = flowing(500);
    let mut lin = ws(sim.addr(), "/v5/public/linear", None);
    send(
        &mut lin,
        r#"{"op":"subscribe","args":["orderbook.50.BTCUSDT"]}"#,
    );
    let ack = recv(&mut lin);
    assert_eq!(ack["success"], true);
    assert_eq!(ack["ret_msg"], "");
    assert_eq!(ack["req_id"], "");
    assert_eq!(ack["op"], "subscribe");
    let snap = recv(&mut lin);
    assert_eq!(snap["type"], "snapshot");
    assert_eq!(snap["topic"], "orderbook.50.BTCUSDT");
    let mut u = snap["data"]["u"].as_u64().unwrap();
    for _ in 0..20 {
        let d = recv(&mut lin);
        assert_eq!(d["type"], "delta", "{d}");
        let du = d["data"]["u"].as_u64().unwrap();
        assert_eq!(du, u + 1, "u is consecutive");
        u = du;
    }
    // Unknown topic: success false with the topic in ret_msg.
    send(
        &mut lin,
        r#"{"op":"subscribe","req_id":"r9","args":["orderbook.7.NOPE"]}"#,
    );
    let err = recv_until(&mut lin, |v| v.get("success").is_some());
    assert_eq!(err["success"], false);
    assert_eq!(err["req_id"], "r9");
    assert!(err["ret_msg"]
        .as_str()
        .unwrap()
        .contains("orderbook.7.NOPE"));
    send(&mut lin, r#"{"op":"ping","req_id":"p1"}"#);
    let p = recv_until(&mut lin, |v| v.get("ret_msg") == Some(&json!("pong")));
    assert_eq!(
        p,
        json!({"success": true, "ret_msg": "pong", "conn_id": p["conn_id"], "req_id": "p1", "op": "ping"})
    );
    // Garbage frame: an error reply, the connection and feed continue.
    send(&mut lin, "this is not json");
    let e = recv_until(&mut lin, |v| v.get("success") == Some(&json!(false)));
    assert!(e["ret_msg"].as_str().unwrap().starts_with("error:"));
    recv_until(&mut lin, |v| v["type"] == "delta");
    // Unsubscribe stops the topic.
    send(
        &mut lin,
        r#"{"op":"unsubscribe","args":["orderbook.50.BTCUSDT"]}"#,
    );
    recv_until(&mut lin, |v| {
        v.get("op") == Some(&json!("unsubscribe")) && v["success"] == true
    });

    // Spot shapes: ret_msg "subscribe", req_id echoed; spot pong has no req_id when none was sent.
    let mut spot = ws(sim.addr(), "/v5/public/spot", None);
    send(
        &mut spot,
        r#"{"op":"subscribe","req_id":"10001","args":["orderbook.1.BTCUSDT"]}"#,
    );
    let ack = recv(&mut spot);
    assert_eq!(
        (ack["ret_msg"].as_str(), ack["req_id"].as_str()),
        (Some("subscribe"), Some("10001"))
    );
    send(&mut spot, r#"{"op":"ping"}"#);
    let p = recv_until(&mut spot, |v| v.get("ret_msg") == Some(&json!("pong")));
    assert!(p.get("req_id").is_none());
    sim.shutdown().unwrap();
}

#[test]
fn ws_trade_auth_errors_reqid_rules_and_header() {
    let sim = quiet();
    let (key, secret) = (sim.api_key().to_string(), sim.api_secret().to_string());
    let mut t = ws(sim.addr(), "/v5/trade", None);
    // Before auth, order ops are refused.
    send(
        &mut t,
        &format!(
            r#"{{"reqId":"a-1","header":{{"X-BAPI-TIMESTAMP":"{}"}},"op":"order.cancel","args":[{{"category":"linear","symbol":"BTCUSDT","orderLinkId":"x"}}]}}"#,
            now_ms()
        ),
    );
    assert_eq!(recv(&mut t)["retCode"], 10003);
    // Bad signature, then a good auth (REST-style reply).
    send(
        &mut t,
        &format!(
            r#"{{"op":"auth","args":["{key}",{},"{}"]}}"#,
            now_ms() + 5000,
            "ab".repeat(32)
        ),
    );
    assert_eq!(recv(&mut t)["retCode"], 10004);
    let past = now_ms() - 1;
    send(
        &mut t,
        &format!(
            r#"{{"op":"auth","args":["{key}",{past},"{}"]}}"#,
            gapmm::sim::auth::sign_ws(&secret, past)
        ),
    );
    assert_ne!(recv(&mut t)["retCode"], 0, "expires in the past is refused");
    ws_auth(&mut t, &key, &secret);
    let a = recv(&mut t);
    assert_eq!(
        (a["retCode"].as_i64(), a["op"].as_str()),
        (Some(0), Some("auth"))
    );
    assert!(a["connId"].is_string());
    let req = |rid: &str, ts: u64| {
        format!(
            r#"{{"reqId":"{rid}","header":{{"X-BAPI-TIMESTAMP":"{ts}","X-BAPI-RECV-WINDOW":"5000"}},"op":"order.cancel","args":[{{"category":"linear","symbol":"BTCUSDT","orderLinkId":"nope"}}]}}"#
        )
    };
    send(&mut t, &req("r-1", now_ms()));
    let r = recv(&mut t);
    assert_eq!(r["reqId"], "r-1");
    assert_eq!(r["op"], "order.cancel");
    assert_eq!(r["header"]["X-Bapi-Limit"], "10");
    assert_eq!(r["header"]["X-Bapi-Limit-Status"], "9");
    assert!(r["header"]["Traceid"].is_string() && r["header"]["Timenow"].is_string());
    assert!(r.get("data").is_some() && r.get("retExtInfo").is_some());
    // Duplicate reqId → 20006; stale header timestamp → 10002; unknown op → 10404.
    send(&mut t, &req("r-1", now_ms()));
    assert_eq!(recv(&mut t)["retCode"], 20006);
    send(&mut t, &req("r-2", now_ms() - 60_000));
    assert_eq!(recv(&mut t)["retCode"], 10002);
    send(
        &mut t,
        &format!(
            r#"{{"reqId":"r-3","header":{{"X-BAPI-TIMESTAMP":"{}"}},"op":"order.explode","args":[{{}}]}}"#,
            now_ms()
        ),
    );
    let r = recv(&mut t);
    assert_eq!(
        (r["retCode"].as_i64(), r["reqId"].as_str()),
        (Some(10404), Some("r-3"))
    );
    send(&mut t, "{{{{");
    assert_eq!(recv(&mut t)["retCode"], 10001);
    send(&mut t, r#"{"op":"ping"}"#);
    let p = recv(&mut t);
    assert_eq!(
        (p["op"].as_str(), p["retCode"].as_i64()),
        (Some("pong"), Some(0))
    );
    sim.shutdown().unwrap();
}

#[test]
fn private_stream_auth_subscribe_and_pong() {
    let sim = quiet();
    let mut p = ws(sim.addr(), "/v5/private", None);
    send(&mut p, r#"{"op":"subscribe","args":["order"]}"#);
    assert_eq!(
        recv(&mut p)["success"],
        false,
        "subscribing before auth fails"
    );
    ws_auth(&mut p, sim.api_key(), sim.api_secret());
    let a = recv(&mut p);
    assert_eq!(
        (a["success"].as_bool(), a["op"].as_str()),
        (Some(true), Some("auth"))
    );
    send(
        &mut p,
        r#"{"op":"subscribe","req_id":"s","args":["order","execution","execution.fast","position","wallet"]}"#,
    );
    let s = recv(&mut p);
    assert_eq!(s["success"], true, "{s}");
    assert_eq!(s["req_id"], "s");
    send(&mut p, r#"{"op":"subscribe","args":["orderz"]}"#);
    assert_eq!(recv(&mut p)["success"], false);
    send(&mut p, r#"{"op":"ping","req_id":"k"}"#);
    let pong = recv(&mut p);
    assert_eq!(
        (pong["op"].as_str(), pong["req_id"].as_str()),
        (Some("pong"), Some("k"))
    );
    assert!(pong["args"][0].as_str().unwrap().parse::<u64>().is_ok());
    sim.shutdown().unwrap();
}

#[test]
fn faults_drop_skip_restart_malformed_reject_5xx_stall_delay() {
    let sim = flowing(1000);
    let mut lin = ws(sim.addr(), "/v5/public/linear", None);
    send(
        &mut lin,
        r#"{"op":"subscribe","args":["orderbook.50.BTCUSDT"]}"#,
    );
    recv_until(&mut lin, |v| v["type"] == "snapshot");
    let mut last_u = recv_until(&mut lin, |v| v["type"] == "delta")["data"]["u"]
        .as_u64()
        .unwrap();

    sim.fault(Fault::SkipU).unwrap();
    let mut skipped = false;
    for _ in 0..50 {
        let u = recv_until(&mut lin, |v| v["type"] == "delta")["data"]["u"]
            .as_u64()
            .unwrap();
        if u == last_u + 2 {
            skipped = true;
            break;
        }
        assert_eq!(u, last_u + 1);
        last_u = u;
    }
    assert!(skipped, "a u was skipped");

    sim.fault(Fault::Restart).unwrap();
    let snap = recv_until(&mut lin, |v| v["type"] == "snapshot");
    assert_eq!(snap["data"]["u"], 1);

    sim.fault(Fault::Malformed(ConnKind::Public)).unwrap();
    let deadline = Instant::now() + TIMEOUT;
    let mut saw_bad = false;
    while Instant::now() < deadline && !saw_bad {
        let t = recv_text(&mut lin).unwrap();
        saw_bad = serde_json::from_str::<Value>(&t).is_err();
    }
    assert!(saw_bad, "a malformed frame arrived");

    // Stall: frames already in flight arrive at once, then nothing for the stall's length. The
    // largest gap between consecutive arrivals spans the stall (and nothing else here is that slow:
    // the feed runs at 1000 events/s).
    recv_text(&mut lin).unwrap();
    sim.fault(Fault::Stall(Duration::from_millis(300))).unwrap();
    let t0 = Instant::now();
    let mut prev = t0;
    let mut max_gap = Duration::ZERO;
    while max_gap < Duration::from_millis(250) && t0.elapsed() < Duration::from_secs(3) {
        recv_text(&mut lin).unwrap();
        let now = Instant::now();
        max_gap = max_gap.max(now - prev);
        prev = now;
    }
    assert!(
        max_gap >= Duration::from_millis(250),
        "no data during the stall (largest gap {max_gap:?})"
    );

    // Forced 10006 and HTTP 5xx for the next N requests.
    let mut h = Http::new(sim.addr(), None);
    sim.fault(Fault::Reject10006(1)).unwrap();
    let body = r#"{"category":"linear","symbol":"BTCUSDT","orderLinkId":"f-1"}"#;
    assert_eq!(
        h.signed(
            "POST",
            "/v5/order/cancel",
            body,
            sim.api_key(),
            sim.api_secret()
        )
        .json()["retCode"],
        10006
    );
    assert_ne!(
        h.signed(
            "POST",
            "/v5/order/cancel",
            body,
            sim.api_key(),
            sim.api_secret()
        )
        .json()["retCode"],
        10006
    );
    sim.fault(Fault::Http5xx(2)).unwrap();
    assert_eq!(h.get("/v5/market/time", "").status, 503);
    assert_eq!(h.get("/v5/market/time", "").status, 503);
    assert_eq!(h.get("/v5/market/time", "").status, 200);

    // Delay: responses arrive no earlier than the delay.
    sim.fault(Fault::Delay(Duration::from_millis(150))).unwrap();
    let t0 = Instant::now();
    assert_eq!(h.get("/v5/market/time", "").status, 200);
    assert!(t0.elapsed() >= Duration::from_millis(150));
    sim.fault(Fault::Delay(Duration::ZERO)).unwrap();

    // Drop all public connections: the client sees the connection end; REST is unaffected.
    sim.fault(Fault::Drop(ConnKind::Public)).unwrap();
    let deadline = Instant::now() + TIMEOUT;
    let mut closed = false;
    while Instant::now() < deadline {
        if recv_text(&mut lin).is_none() {
            closed = true;
            break;
        }
    }
    assert!(closed);
    assert_eq!(h.get("/v5/market/time", "").status, 200);
    sim.shutdown().unwrap();
}

#[test]
fn tls_serves_https_and_wss_with_the_generated_certificate() {
    let mut cfg = SimConfig::new(ExchangeConfig::standard(
        7,
        MarketModel::Synthetic(SyntheticParams {
            events_per_sec: 200,
            ..Default::default()
        }),
    ));
    cfg.tls = true;
    let sim = Sim::start(cfg).unwrap();
    assert!(sim.http_url().starts_with("https://127.0.0.1:"));
    assert!(sim.ws_url().starts_with("wss://"));
    let cert = sim.cert_der().unwrap().to_vec();
    let mut h = Http::new(sim.addr(), Some(&cert));
    assert_eq!(h.get("/v5/market/time", "").json()["retCode"], 0);
    let mut w = ws(sim.addr(), "/v5/public/linear", Some(&cert));
    send(
        &mut w,
        r#"{"op":"subscribe","args":["orderbook.50.BTCUSDT"]}"#,
    );
    recv_until(&mut w, |v| v["type"] == "snapshot");
    recv_until(&mut w, |v| v["type"] == "delta");
    sim.shutdown().unwrap();
}

/// Runs the echo client (`spin` as given) against a simulator (`busy_poll` as given) and checks
/// that its reactions are measured and all attributed.
fn echo_reactions_are_measured(busy_poll: bool, spin: bool) {
    let mut cfg = SimConfig::new(ExchangeConfig::standard(
        7,
        MarketModel::Synthetic(SyntheticParams::default()),
    ));
    cfg.pace = Pace::Every(Duration::from_millis(2));
    cfg.rate_limit_scale = 1000;
    cfg.busy_poll = busy_poll;
    let sim = Sim::start(cfg).unwrap();
    let echo = gapmm::sim::measure::start_echo(
        sim.addr(),
        sim.api_key(),
        sim.api_secret(),
        &gapmm::sim::EchoConfig {
            category: Category::Linear,
            symbol: "BTCUSDT".into(),
            depth: 50,
            core: None,
            spin,
            min_gap: std::time::Duration::ZERO,
        },
    )
    .unwrap();
    // The server records a reaction when it reads the request, before it replies; so once the
    // client holds 50 replies, 50 reactions are in.
    let replies = echo.stats.wait_replies(50, Duration::from_secs(20));
    assert!(replies >= 50, "echo replies: {replies}");
    let (h, unattributed, _) = sim.reactions().unwrap();
    let (_, hist) = h.iter().find(|(k, _)| k == "ws-trade/echo").unwrap();
    assert!(hist.len() >= 50, "reactions: {}", hist.len());
    assert_eq!(
        unattributed, 0,
        "every echo (the snapshot's too) is attributed"
    );
    assert!(
        hist.value_at_quantile(0.5) > 1_000,
        "a loopback round trip takes more than 1 us"
    );
    assert!(hist.value_at_quantile(0.5) < 1_000_000_000);
    // Every request sent was answered for one market message.
    let sent = echo.stats.sent.load(std::sync::atomic::Ordering::Relaxed);
    let ticks = echo.stats.ticks.load(std::sync::atomic::Ordering::Relaxed);
    assert!(
        sent >= replies && sent <= ticks,
        "sent {sent}, replies {replies}, ticks {ticks}"
    );
    // Stopping ends the thread cleanly (the spinning one notices the flag without a timeout).
    echo.stop().unwrap();
    sim.shutdown().unwrap();
}

#[test]
fn echo_client_reactions_are_measured_per_variant() {
    echo_reactions_are_measured(false, false);
}

#[test]
fn spinning_echo_client_works_against_a_busy_polling_simulator() {
    echo_reactions_are_measured(true, true);
}

#[test]
fn garbage_websocket_bytes_drop_only_that_connection() {
    use std::io::{Read, Write};
    let sim = flowing(500);
    let mut other = ws(sim.addr(), "/v5/public/linear", None);
    // A raw upgrade, then bytes that are not a valid (masked) WebSocket frame.
    let mut raw = std::net::TcpStream::connect(sim.addr()).unwrap();
    raw.set_read_timeout(Some(TIMEOUT)).unwrap();
    raw.write_all(b"GET /v5/public/linear HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n").unwrap();
    let mut head = Vec::new();
    let mut b = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        assert_eq!(raw.read(&mut b).unwrap(), 1);
        head.push(b[0]);
    }
    let head = String::from_utf8(head).unwrap();
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    assert!(
        head.contains("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo="),
        "RFC 6455 accept key"
    );
    raw.write_all(&[0xff; 64]).unwrap();
    // The server closes that socket (EOF or reset) ...
    let mut sink = [0u8; 256];
    loop {
        match raw.read(&mut sink) {
            Ok(0) | Err(_) => break,
            Ok(_) => continue,
        }
    }
    // ... and keeps serving the other client.
    send(&mut other, r#"{"op":"ping","req_id":"still-here"}"#);
    let p = recv_until(&mut other, |v| v.get("ret_msg") == Some(&json!("pong")));
    assert_eq!(p["req_id"], "still-here");
    sim.shutdown().unwrap();
}

#[test]
fn resubscribing_after_the_last_unsubscribe_starts_with_a_fresh_snapshot() {
    let sim = flowing(1000);
    let mut w = ws(sim.addr(), "/v5/public/linear", None);
    for round in 0..2 {
        send(
            &mut w,
            r#"{"op":"subscribe","args":["orderbook.200.BTCUSDT"]}"#,
        );
        let snap = recv_until(&mut w, |v| v["type"] == "snapshot");
        let u0 = snap["data"]["u"].as_u64().unwrap();
        for k in 1..=5 {
            let d = recv_until(&mut w, |v| v["type"] == "delta");
            assert_eq!(d["data"]["u"].as_u64().unwrap(), u0 + k, "round {round}");
        }
        send(
            &mut w,
            r#"{"op":"unsubscribe","args":["orderbook.200.BTCUSDT"]}"#,
        );
        recv_until(&mut w, |v| v.get("op") == Some(&json!("unsubscribe")));
    }
    sim.shutdown().unwrap();
}

#[test]
fn a_reopened_topic_is_not_timed_from_the_old_topics_stamps() {
    let sim = quiet();
    sim.set_pace(Pace::Paused).unwrap();
    let mut t = ws(sim.addr(), "/v5/trade", None);
    ws_auth(&mut t, sim.api_key(), sim.api_secret());
    assert_eq!(recv(&mut t)["retCode"], 0);
    let mut w = ws(sim.addr(), "/v5/public/linear", None);
    let sub = r#"{"op":"subscribe","args":["orderbook.50.BTCUSDT"]}"#;
    // First life of the topic: its snapshot is stamped; the only subscriber leaves, which closes it.
    send(&mut w, sub);
    let u_old = recv_until(&mut w, |v| v["type"] == "snapshot")["data"]["u"]
        .as_u64()
        .unwrap();
    send(
        &mut w,
        r#"{"op":"unsubscribe","args":["orderbook.50.BTCUSDT"]}"#,
    );
    recv_until(&mut w, |v| v.get("op") == Some(&json!("unsubscribe")));
    // Not a synchronisation: this ages the old stamp so that timing from it would be obvious.
    std::thread::sleep(Duration::from_millis(300));
    // Second life: the sequence starts over at the same `u`.
    let t0 = Instant::now();
    send(&mut w, sub);
    let u = recv_until(&mut w, |v| v["type"] == "snapshot")["data"]["u"]
        .as_u64()
        .unwrap();
    assert_eq!(u, u_old, "a reopened topic restarts its u sequence");
    let rid = format!("echo-1-{u}");
    send(
        &mut t,
        &format!(
            r#"{{"reqId":"{rid}","header":{{"X-BAPI-TIMESTAMP":"{}"}},"op":"order.cancel","args":[{{"category":"linear","symbol":"BTCUSDT","orderLinkId":"{rid}"}}]}}"#,
            now_ms()
        ),
    );
    recv_until(&mut t, |v| v["reqId"] == rid.as_str());
    // The new snapshot was written after `t0` and the request read before its reply arrived, so
    // the reaction measured from the new snapshot fits inside this window; one measured from the
    // first life's snapshot would be at least 300 ms.
    let window = t0.elapsed().as_nanos() as u64;
    let (h, unattributed, _) = sim.reactions().unwrap();
    let (_, hist) = h.iter().find(|(k, _)| k == "ws-trade/echo").unwrap();
    assert_eq!((hist.len(), unattributed), (1, 0));
    assert!(
        hist.min() <= window,
        "reaction {} ns timed from a stale stamp (window {window} ns)",
        hist.min()
    );
    sim.shutdown().unwrap();
}

#[test]
fn batch_over_the_limit_fails_only_the_overflow_items() {
    let sim = quiet();
    let (key, secret) = (sim.api_key().to_string(), sim.api_secret().to_string());
    let mut h = Http::new(sim.addr(), None);
    let items: Vec<String> = (0..12)
        .map(|i| format!(r#"{{"symbol":"BTCUSDT","orderLinkId":"b-{i}"}}"#))
        .collect();
    let body = format!(r#"{{"category":"linear","request":[{}]}}"#, items.join(","));
    let r = h.signed("POST", "/v5/order/cancel-batch", &body, &key, &secret);
    let v = r.json();
    assert_eq!(v["retCode"], 0, "{v}");
    let ext = v["retExtInfo"]["list"].as_array().unwrap();
    let list = v["result"]["list"].as_array().unwrap();
    assert_eq!((ext.len(), list.len()), (12, 12));
    // Ten units per second: items 0..10 reach the exchange, 10 and 11 fail with 10006.
    assert!(ext[..10].iter().all(|e| e["code"] != 10006), "{ext:?}");
    assert!(ext[10..].iter().all(|e| e["code"] == 10006));
    assert_eq!(list[11]["orderLinkId"], "b-11");
    assert_eq!(list[11]["orderId"], "");
    assert_eq!(r.header("X-Bapi-Limit-Status"), Some("0"));
    sim.shutdown().unwrap();
}

#[test]
fn public_trades_are_pushed_to_subscribers() {
    let sim = flowing(2000);
    let mut w = ws(sim.addr(), "/v5/public/linear", None);
    send(
        &mut w,
        r#"{"op":"subscribe","req_id":"t","args":["publicTrade.BTCUSDT"]}"#,
    );
    assert_eq!(recv(&mut w)["success"], true);
    let t = recv_until(&mut w, |v| v["topic"] == "publicTrade.BTCUSDT");
    let first = &t["data"][0];
    assert_eq!(first["s"], "BTCUSDT");
    assert!(first["S"] == "Buy" || first["S"] == "Sell");
    assert!(first["p"].is_string() && first["v"].is_string());
    sim.shutdown().unwrap();
}

#[test]
fn delayed_response_with_connection_close_is_delivered_then_closed() {
    let sim = quiet();
    sim.fault(Fault::Delay(Duration::from_millis(50))).unwrap();
    let mut h = Http::new(sim.addr(), None);
    h.send_raw(b"GET /v5/market/time HTTP/1.1\r\nConnection: close\r\n\r\n");
    let r = h.read_resp().expect("the delayed reply");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("Connection"), Some("close"));
    assert!(h.read_resp().is_none(), "then EOF");
    sim.shutdown().unwrap();
}
