//! `GET /v5/execution/list`, the fills record a restarted engine reconciles
//! against: the request bytes and their signature, the decoder (typed errors,
//! never a panic on damaged bodies), and the simulator's endpoint — directly
//! (property: the list equals what was pushed on `execution`) and over real
//! loopback sockets (two accounts, pagination, time filter, bad limits).
//! Waits are socket reads with timeouts; nothing sleeps.

mod sim_common;

use std::collections::BTreeSet;
use std::time::Instant;

use gapmm::codec::private::{ExecType, Execution, PrivateDecoder, PrivateError, PrivateEvent};
use gapmm::codec::rest::{
    encode_query_value, ExecutionPage, InstrumentSpec, RestCodec, RestDecoder, RestError,
};
use gapmm::codec::sign::Credentials;
use gapmm::ids::{Category, Symbol};
use gapmm::sim::exchange::{
    AccountConfig, Exchange, ExchangeConfig, Op, PrivateBatch, PrivateTopic, Reply,
};
use gapmm::sim::market::MarketModel;
use gapmm::sim::{Sim, SimConfig, SimHandle};
use gapmm::time::ExchMs;
use gapmm::units::{Decimal, Lots, Side, Step, Ticks, UnitError};
use proptest::prelude::*;
use serde_json::{json, Value};
use sim_common::*;

fn btc_linear() -> InstrumentSpec {
    InstrumentSpec::new(
        Symbol::from_str("BTCUSDT").unwrap(),
        Category::Linear,
        Step::parse("0.1").unwrap(),
        Step::parse("0.001").unwrap(),
    )
}

fn codec(key: &str, secret: &str) -> RestCodec {
    RestCodec::new(
        Credentials::new(key, secret).unwrap().signer(),
        "127.0.0.1",
        5000,
    )
    .unwrap()
}

// ---------------------------------------------------------------------------
// Request
// ---------------------------------------------------------------------------

/// Splits a request into (request-line target, X-BAPI-SIGN value).
fn target_and_sig(req: &[u8]) -> (String, String) {
    let t = std::str::from_utf8(req).unwrap();
    let line = t.lines().next().unwrap();
    let target = line
        .strip_prefix("GET ")
        .and_then(|l| l.strip_suffix(" HTTP/1.1"))
        .unwrap()
        .to_string();
    let sig = t
        .lines()
        .find_map(|l| l.strip_prefix("X-BAPI-SIGN: "))
        .unwrap()
        .to_string();
    (target, sig)
}

fn expected_sig(key: &str, secret: &str, ts: &str, query: &str) -> String {
    let mut sig = [0u8; 64];
    Credentials::new(key, secret).unwrap().signer().sign_rest(
        ts.as_bytes(),
        b"5000",
        query.as_bytes(),
        &mut sig,
    );
    String::from_utf8(sig.to_vec()).unwrap()
}

#[test]
fn execution_list_request_is_sorted_signed_and_sends_cursors_safely() {
    let c = codec("k1", "s1");
    let i = btc_linear();
    let mut out = Vec::new();

    c.execution_list(&mut out, ExchMs(1716800399000), &i, None, None)
        .unwrap();
    let (target, sig) = target_and_sig(&out);
    let q = "category=linear&limit=100&symbol=BTCUSDT";
    assert_eq!(target, format!("/v5/execution/list?{q}"));
    assert_eq!(sig, expected_sig("k1", "s1", "1716800399000", q));
    assert!(out.ends_with(b"\r\n\r\n"), "a GET has no body");

    // startTime and a Bybit (pre-encoded) cursor go out unchanged, `""` is no cursor.
    let pre = "page_args%3Dfd4300ae%26symbol%3D6%26";
    c.execution_list(
        &mut out,
        ExchMs(5),
        &i,
        Some(ExchMs(1716000000000)),
        Some(pre),
    )
    .unwrap();
    let (target, sig) = target_and_sig(&out);
    let q =
        format!("category=linear&cursor={pre}&limit=100&startTime=1716000000000&symbol=BTCUSDT");
    assert_eq!(target, format!("/v5/execution/list?{q}"));
    assert_eq!(sig, expected_sig("k1", "s1", "5", &q));
    c.execution_list(&mut out, ExchMs(5), &i, None, Some(""))
        .unwrap();
    assert!(!std::str::from_utf8(&out).unwrap().contains("cursor"));

    // A raw cursor with reserved bytes is percent-encoded, and the signature
    // covers the encoded text actually sent.
    c.execution_list(&mut out, ExchMs(5), &i, None, Some("a&b=c d#%zz+é%41"))
        .unwrap();
    let (target, sig) = target_and_sig(&out);
    let q = "category=linear&cursor=a%26b%3Dc%20d%23%25zz%2B%C3%A9%41&limit=100&symbol=BTCUSDT";
    assert_eq!(target, format!("/v5/execution/list?{q}"));
    assert_eq!(sig, expected_sig("k1", "s1", "5", q));
}

#[test]
fn query_value_encoding_keeps_safe_text_borrowed() {
    assert!(matches!(
        encode_query_value("1716%3A42"),
        std::borrow::Cow::Borrowed("1716%3A42")
    ));
    assert_eq!(encode_query_value("%").as_ref(), "%25");
    assert_eq!(encode_query_value("%4").as_ref(), "%254");
    assert_eq!(encode_query_value("?\"\n").as_ref(), "%3F%22%0A");
}

// ---------------------------------------------------------------------------
// Decoder
// ---------------------------------------------------------------------------

fn row(sym: &str, exec_id: &str, exec_type: &str, price: &str, qty: &str, fee: &str) -> String {
    format!(
        r#"{{"symbol":"{sym}","orderId":"o-{exec_id}","orderLinkId":"l-{exec_id}","side":"Buy","orderPrice":"60001.5","orderQty":"0.002","leavesQty":"0.001","orderType":"Limit","execFee":"{fee}","execId":"{exec_id}","execPrice":"{price}","execQty":"{qty}","execType":"{exec_type}","execValue":"60.0015","execTime":"1716800399334","isMaker":true,"feeRate":"0.0001","seq":77}}"#
    )
}

fn page(cursor: &str, rows: &[String]) -> Vec<u8> {
    format!(
        r#"{{"retCode":0,"retMsg":"OK","result":{{"nextPageCursor":"{cursor}","category":"linear","list":[{}]}},"retExtInfo":{{}},"time":1716800399338}}"#,
        rows.join(",")
    )
    .into_bytes()
}

fn decode(body: &[u8]) -> Result<ExecutionPage, RestError> {
    RestDecoder::new().decode_executions(&mut body.to_vec(), &btc_linear())
}

#[test]
fn execution_rows_decode_with_types_cursor_and_skips() {
    let p = decode(&page(
        "1716800399334%3A9",
        &[
            row("BTCUSDT", "e1", "Trade", "60001.5", "0.001", "0.0012"),
            row("BTCUSDT", "e2", "Funding", "60001.53", "0.0015", "-0.5"),
            row("ETHUSDT", "e3", "Trade", "3000.01", "0.01", "0.1"),
        ],
    ))
    .unwrap();
    assert_eq!(p.next_cursor.as_deref(), Some("1716800399334%3A9"));
    assert_eq!(
        (p.executions.len(), p.skipped),
        (2, 1),
        "other symbols are skipped"
    );
    let e = &p.executions[0];
    assert_eq!(
        (
            e.exec_id.as_str(),
            e.order_id.as_str(),
            e.order_link_id.as_str()
        ),
        ("e1", "o-e1", "l-e1")
    );
    assert_eq!(
        e.category,
        Some(Category::Linear),
        "the result's category applies"
    );
    assert_eq!(
        (e.side, e.exec_type, e.is_maker),
        (Side::Buy, ExecType::Trade, true)
    );
    assert_eq!((e.exec_price, e.exec_qty), (Ticks(600015), Lots(1)));
    assert_eq!(e.exec_fee, Some(Decimal::parse(b"0.0012").unwrap()));
    assert_eq!(e.fee_rate, Some(Decimal::parse(b"0.0001").unwrap()));
    assert_eq!(e.exec_time, ExchMs(1716800399334));
    assert_eq!(e.leaves_qty, Some(Lots(1)));
    assert!(!e.fast);
    // A funding row is kept (typed) so the caller can skip it; its off-grid
    // price does not fail the page.
    let f = &p.executions[1];
    assert_eq!((f.exec_type, f.exec_price), (ExecType::Funding, Ticks(0)));
    assert_eq!(f.exec_fee, Some(Decimal::parse(b"-0.5").unwrap()));

    // Last page: "" → None.
    assert_eq!(decode(&page("", &[])).unwrap().next_cursor, None);
}

#[test]
fn bad_execution_bodies_are_typed_errors() {
    let off_grid = page(
        "",
        &[row("BTCUSDT", "e1", "Trade", "60001.55", "0.001", "0")],
    );
    assert_eq!(
        decode(&off_grid),
        Err(RestError::Record(PrivateError::Unit {
            field: "execPrice",
            err: UnitError::NotOnGrid
        }))
    );
    let off_lot = page(
        "",
        &[row("BTCUSDT", "e1", "Trade", "60001.5", "0.0015", "0")],
    );
    assert_eq!(
        decode(&off_lot),
        Err(RestError::Record(PrivateError::Unit {
            field: "execQty",
            err: UnitError::NotOnGrid
        }))
    );
    let no_id = page(
        "",
        &[row("BTCUSDT", "e1", "Trade", "60001.5", "0.001", "0")],
    );
    let no_id = String::from_utf8(no_id)
        .unwrap()
        .replace(r#""execId":"e1","#, "");
    assert_eq!(
        decode(no_id.as_bytes()),
        Err(RestError::Record(PrivateError::Missing("execId")))
    );
    let no_time = String::from_utf8(page("", &[row("BTCUSDT", "e", "Trade", "1", "1", "0")]))
        .unwrap()
        .replace(r#""execTime":"1716800399334","#, "");
    assert_eq!(
        decode(no_time.as_bytes()),
        Err(RestError::Record(PrivateError::Missing("execTime")))
    );
    let err = br#"{"retCode":10001,"retMsg":"params error","result":{},"retExtInfo":{},"time":1}"#;
    match decode(err) {
        Err(RestError::Api { code, msg }) => {
            assert_eq!((code, msg.as_str()), (10001, "params error"))
        }
        other => panic!("expected an API error, got {other:?}"),
    }
    assert_eq!(
        decode(br#"{"retCode":0,"result":{"nextPageCursor":""}}"#),
        Err(RestError::Missing("list"))
    );
    assert_eq!(decode(b"{\"retCode\":0,"), Err(RestError::Json));
}

// ---------------------------------------------------------------------------
// The simulator, driven directly
// ---------------------------------------------------------------------------

const UID: u64 = 1001;

struct Direct {
    ex: Exchange,
    now: u64,
    pb: PrivateBatch,
    pushed: Vec<Execution>,
}

impl Direct {
    fn new() -> Direct {
        Direct {
            ex: Exchange::new(ExchangeConfig::standard(42, MarketModel::Quiet)).unwrap(),
            now: 1_700_000_000_000,
            pb: PrivateBatch::default(),
            pushed: Vec::new(),
        }
    }
    fn req(&mut self, op: Op, p: Value) -> Reply {
        self.now += 1;
        self.ex.request(Some(UID), op, &p, self.now)
    }
    /// Collects the `execution` pushes (decoded with the engine's decoder).
    fn drain(&mut self) {
        self.ex.drain_private(&mut self.pb);
        let mut d = PrivateDecoder::new(btc_linear());
        for (uid, topic, frame) in self.pb.iter() {
            if uid != UID || topic != PrivateTopic::Execution {
                continue;
            }
            match d.decode(&mut frame.to_vec()).unwrap() {
                PrivateEvent::Executions(p) => self.pushed.extend_from_slice(p.records),
                other => panic!("execution frame decoded as {other:?}"),
            }
        }
    }
    /// The REST list through the Bybit envelope and the engine's decoder.
    fn list(&mut self, params: Value) -> Result<ExecutionPage, RestError> {
        let r = self.req(Op::ExecutionList, params);
        let body = json!({"retCode": r.ret_code, "retMsg": r.ret_msg, "result": r.result,
            "retExtInfo": r.ret_ext_info, "time": self.now});
        RestDecoder::new().decode_executions(&mut body.to_string().into_bytes(), &btc_linear())
    }
}

fn by_id(v: &[Execution]) -> Vec<Execution> {
    let mut v = v.to_vec();
    v.sort_by(|a, b| a.exec_id.as_str().cmp(b.exec_id.as_str()));
    v
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// Whatever fills happen, the list is exactly the pushed executions
    /// (every field equal), newest first, and pages of any size visit each once.
    #[test]
    fn list_equals_the_pushed_executions(
        orders in prop::collection::vec((any::<bool>(), 1i64..30, 1i64..6), 1..8),
        takes in prop::collection::vec(1i64..8, 1..6),
        limit in 1usize..4,
    ) {
        let mut orders = orders;
        orders[0].0 = false; // one ask, and the first take buys: at least one fill
        let mut t = Direct::new();
        let tick = Step::parse("0.1").unwrap();
        let lot = Step::parse("0.001").unwrap();
        for (i, &(buy, off, lots)) in orders.iter().enumerate() {
            let (side, px) = if buy { ("Buy", 600_000 - off) } else { ("Sell", 600_000 + off) };
            let r = t.req(Op::Create, json!({"category":"linear","symbol":"BTCUSDT","side":side,
                "orderType":"Limit","qty":lot.display(lots).to_string(),
                "price":tick.display(px).to_string(),"timeInForce":"PostOnly",
                "orderLinkId":format!("p{i}")}));
            prop_assert_eq!(r.ret_code, 0, "{:?}", r);
        }
        for (j, &q) in takes.iter().enumerate() {
            t.now += 1;
            let side = if j % 2 == 0 { Side::Buy } else { Side::Sell };
            prop_assert!(t.ex.inject_take(Category::Linear, "BTCUSDT", side, q, t.now));
        }
        t.drain();
        prop_assert!(!t.pushed.is_empty());
        let all = t.list(json!({"category":"linear","symbol":"BTCUSDT","limit":"100"})).unwrap();
        prop_assert_eq!(all.next_cursor, None);
        prop_assert_eq!(by_id(&all.executions), by_id(&t.pushed));
        prop_assert!(all.executions.windows(2).all(|w| w[0].exec_time >= w[1].exec_time));

        let mut seen = Vec::new();
        let mut cursor: Option<String> = None;
        for _ in 0..=t.pushed.len() {
            let mut q = json!({"category":"linear","symbol":"BTCUSDT","limit":limit.to_string()});
            if let Some(c) = &cursor {
                q["cursor"] = json!(c);
            }
            let p = t.list(q).unwrap();
            prop_assert!(p.executions.len() <= limit);
            seen.extend(p.executions);
            cursor = p.next_cursor;
            if cursor.is_none() {
                break;
            }
        }
        prop_assert_eq!(cursor, None, "pagination ends");
        prop_assert_eq!(&seen, &all.executions, "pages concatenate to the full list");
    }

    #[test]
    fn arbitrary_bodies_never_panic(body in prop::collection::vec(any::<u8>(), 0..400)) {
        let _ = decode(&body);
    }

    #[test]
    fn damaged_bodies_never_panic(cut in 0usize..2000, flips in prop::collection::vec((0usize..2000, any::<u8>()), 0..6)) {
        let mut b = page("c", &[
            row("BTCUSDT", "e1", "Trade", "60001.5", "0.001", "0.0012"),
            row("BTCUSDT", "e2", "Settle", "1", "1", ""),
        ]);
        for (at, v) in flips {
            let n = b.len();
            b[at % n] = v;
        }
        b.truncate(cut.min(b.len()));
        let _ = decode(&b);
    }
}

#[test]
fn direct_list_validates_parameters_and_filters() {
    let mut t = Direct::new();
    for (i, px) in ["60000.1", "60000.2"].iter().enumerate() {
        let r = t.req(
            Op::Create,
            json!({"category":"linear","symbol":"BTCUSDT","side":"Sell",
            "orderType":"Limit","qty":"0.001","price":px,"timeInForce":"PostOnly",
            "orderLinkId":format!("s{i}")}),
        );
        assert_eq!(r.ret_code, 0);
        t.now += 10;
        assert!(t
            .ex
            .inject_take(Category::Linear, "BTCUSDT", Side::Buy, 1, t.now));
    }
    t.drain();
    assert_eq!(t.pushed.len(), 2);
    let (old, new) = (t.pushed[0], t.pushed[1]);
    assert!(old.exec_time < new.exec_time);
    let ids = |p: ExecutionPage| -> Vec<String> {
        p.executions
            .iter()
            .map(|e| e.exec_id.as_str().to_string())
            .collect()
    };
    let all = t.list(json!({"category":"linear"})).unwrap();
    assert_eq!(
        ids(all),
        [new.exec_id.as_str(), old.exec_id.as_str()],
        "newest first"
    );
    let from_new = t
        .list(json!({"category":"linear","startTime":new.exec_time.0.to_string()}))
        .unwrap();
    assert_eq!(ids(from_new), [new.exec_id.as_str()]);
    let until_old = t
        .list(json!({"category":"linear","startTime":"0","endTime":old.exec_time.0.to_string()}))
        .unwrap_err();
    assert!(
        matches!(until_old, RestError::Api { code: 10001, .. }),
        "a range over 7 days is refused"
    );
    let until_old = t
        .list(json!({"category":"linear","endTime":old.exec_time.0.to_string()}))
        .unwrap();
    assert_eq!(ids(until_old), [old.exec_id.as_str()]);
    assert_eq!(
        ids(t.list(json!({"category":"spot"})).unwrap()),
        Vec::<String>::new(),
        "category filters"
    );
    assert_eq!(
        ids(t
            .list(json!({"category":"linear","symbol":"XRPUSDT"}))
            .unwrap()),
        Vec::<String>::new(),
        "symbol filters"
    );
    for bad in [
        json!({"category":"linear","limit":"0"}),
        json!({"category":"linear","limit":"101"}),
        json!({"category":"linear","limit":"x"}),
        json!({"category":"linear","cursor":"garbage"}),
        json!({"category":"linear","startTime":"9","endTime":"8"}),
        json!({"symbol":"BTCUSDT"}),
    ] {
        match t.list(bad.clone()) {
            Err(RestError::Api { code: 10001, .. }) => {}
            other => panic!("{bad} gave {other:?}"),
        }
    }
    assert!(
        t.list(json!({"category":"linear","limit":"100"})).is_ok()
            && t.list(json!({"category":"linear","limit":"1"})).is_ok()
    );
}

// ---------------------------------------------------------------------------
// Over loopback sockets
// ---------------------------------------------------------------------------

const A: (&str, &str) = ("simkey", "simsecret");
const B: (&str, &str) = ("otherkey", "othersecret");

fn two_accounts() -> SimHandle {
    let mut cfg = ExchangeConfig::standard(7, MarketModel::Quiet);
    cfg.accounts.push(AccountConfig {
        uid: 2002,
        api_key: B.0.into(),
        api_secret: B.1.into(),
        balances: vec![
            ("USDT".into(), "1000000".into()),
            ("BTC".into(), "10".into()),
        ],
    });
    Sim::start(SimConfig::new(cfg)).unwrap()
}

/// A private stream subscribed to `execution`.
fn exec_stream(sim: &SimHandle, (key, secret): (&str, &str)) -> Ws {
    let mut p = ws(sim.addr(), "/v5/private", None);
    ws_auth(&mut p, key, secret);
    assert_eq!(recv(&mut p)["success"], true);
    send(&mut p, r#"{"op":"subscribe","args":["execution"]}"#);
    assert_eq!(recv(&mut p)["success"], true);
    p
}

/// Reads `execution` pushes until `n` records arrived, decoded by the engine's decoder.
fn pushed(p: &mut Ws, n: usize) -> Vec<Execution> {
    let mut d = PrivateDecoder::new(btc_linear());
    let mut out = Vec::new();
    let deadline = Instant::now() + TIMEOUT;
    while out.len() < n {
        assert!(
            Instant::now() < deadline,
            "only {} of {n} executions pushed",
            out.len()
        );
        let mut f = recv_text(p)
            .expect("a push before the timeout")
            .into_bytes();
        if let PrivateEvent::Executions(x) = d.decode(&mut f).unwrap() {
            out.extend_from_slice(x.records);
        }
    }
    assert_eq!(out.len(), n, "no extra executions");
    out
}

fn post(h: &mut Http, (key, secret): (&str, &str), path: &str, body: Value) {
    let r = h
        .signed("POST", path, &body.to_string(), key, secret)
        .json();
    assert_eq!(r["retCode"], 0, "{path} {body}: {r}");
}

/// A resting PostOnly sells of `A` at 60000.0 + k ticks, then `B` buys them with one market order.
fn fills(h: &mut Http, first_link: usize, n: usize) {
    for k in 0..n {
        let px = Step::parse("0.1")
            .unwrap()
            .display(600_000 + k as i64)
            .to_string();
        post(
            h,
            A,
            "/v5/order/create",
            json!({"category":"linear","symbol":"BTCUSDT",
            "side":"Sell","orderType":"Limit","qty":"0.001","price":px,
            "timeInForce":"PostOnly","orderLinkId":format!("a-{}", first_link + k)}),
        );
    }
    post(
        h,
        B,
        "/v5/order/create",
        json!({"category":"linear","symbol":"BTCUSDT",
        "side":"Buy","orderType":"Market","qty":format!("0.00{n}"),
        "timeInForce":"IOC","orderLinkId":format!("b-{first_link}")}),
    );
}

/// Every page of `/v5/execution/list` built by [`RestCodec`] and decoded by [`RestDecoder`].
fn list_via_codec(h: &mut Http, who: (&str, &str), start: Option<ExchMs>) -> Vec<Execution> {
    let c = codec(who.0, who.1);
    let mut dec = RestDecoder::new();
    let mut all = Vec::new();
    let mut cursor: Option<String> = None;
    let mut req = Vec::new();
    loop {
        c.execution_list(
            &mut req,
            ExchMs(now_ms()),
            &btc_linear(),
            start,
            cursor.as_deref(),
        )
        .unwrap();
        h.send_raw(&req);
        let resp = h.read_resp().expect("a response");
        assert_eq!(resp.status, 200);
        let mut body = resp.body;
        let p = dec.decode_executions(&mut body, &btc_linear()).unwrap();
        all.extend(p.executions);
        cursor = p.next_cursor;
        if cursor.is_none() {
            return all;
        }
    }
}

/// Raw signed pages of `limit` rows, following `nextPageCursor` as returned.
fn pages_raw(h: &mut Http, limit: usize) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let mut cursor = String::new();
    loop {
        let mut q = format!("category=linear&limit={limit}&symbol=BTCUSDT");
        if !cursor.is_empty() {
            q = format!("category=linear&cursor={cursor}&limit={limit}&symbol=BTCUSDT");
        }
        let r = h.signed("GET", "/v5/execution/list", &q, A.0, A.1).json();
        assert_eq!(r["retCode"], 0, "{r}");
        let rows = r["result"]["list"].as_array().unwrap();
        assert!(rows.len() <= limit);
        out.push(
            rows.iter()
                .map(|e| e["execId"].as_str().unwrap().to_string())
                .collect(),
        );
        cursor = r["result"]["nextPageCursor"].as_str().unwrap().to_string();
        if cursor.is_empty() {
            return out;
        }
        assert!(out.len() < 100, "pagination does not end");
    }
}

fn server_ms(h: &mut Http) -> u64 {
    h.get("/v5/market/time", "").json()["time"]
        .as_u64()
        .unwrap()
}

#[test]
fn sim_lists_each_accounts_own_pushed_fills_over_sockets() {
    let sim = two_accounts();
    let mut h = Http::new(sim.addr(), None);
    let mut pa = exec_stream(&sim, A);
    let mut pb = exec_stream(&sim, B);

    fills(&mut h, 0, 3);
    let mut a_pushed = pushed(&mut pa, 3);
    let mut b_pushed = pushed(&mut pb, 3);
    let t1 = a_pushed.iter().map(|e| e.exec_time).max().unwrap();
    // A later batch, strictly after the first in exchange time (poll the server clock).
    let deadline = Instant::now() + TIMEOUT;
    while server_ms(&mut h) <= t1.0 {
        assert!(Instant::now() < deadline, "server clock does not advance");
    }
    fills(&mut h, 3, 2);
    let a_late = pushed(&mut pa, 2);
    b_pushed.extend(pushed(&mut pb, 2));
    a_pushed.extend_from_slice(&a_late);
    assert!(a_pushed.iter().all(|e| e.is_maker) && b_pushed.iter().all(|e| !e.is_maker));

    // The list is exactly A's pushes, field for field, newest first.
    let a_list = list_via_codec(&mut h, A, None);
    assert_eq!(by_id(&a_list), by_id(&a_pushed));
    assert!(a_list.windows(2).all(|w| w[0].exec_time >= w[1].exec_time));
    assert!(a_list
        .iter()
        .all(|e| e.order_link_id.as_str().starts_with("a-")));
    // B's fills are B's only.
    let b_list = list_via_codec(&mut h, B, None);
    assert_eq!(by_id(&b_list), by_id(&b_pushed));
    let a_ids: BTreeSet<_> = a_list.iter().map(|e| e.exec_id).collect();
    assert!(b_list.iter().all(|e| !a_ids.contains(&e.exec_id)));

    // startTime keeps only the later batch; a start after every fill gives none.
    let late = list_via_codec(&mut h, A, Some(ExchMs(t1.0 + 1)));
    assert_eq!(by_id(&late), by_id(&a_late));
    let last = a_pushed.iter().map(|e| e.exec_time).max().unwrap();
    assert!(list_via_codec(&mut h, A, Some(ExchMs(last.0 + 1))).is_empty());

    // Pages of 1..=3 rows visit every fill exactly once, in list order.
    let order: Vec<String> = a_list
        .iter()
        .map(|e| e.exec_id.as_str().to_string())
        .collect();
    for limit in 1..=3 {
        let pages = pages_raw(&mut h, limit);
        assert_eq!(pages.len(), order.len().div_ceil(limit), "limit {limit}");
        assert_eq!(pages.concat(), order, "limit {limit}");
    }

    // Out-of-range limits are Bybit's parameter error.
    for l in ["0", "101"] {
        let r = h
            .signed(
                "GET",
                "/v5/execution/list",
                &format!("category=linear&limit={l}"),
                A.0,
                A.1,
            )
            .json();
        assert_eq!(r["retCode"], 10001, "limit {l}: {r}");
    }
    // Unauthenticated: refused like the other private GETs.
    let r = h.get("/v5/execution/list", "category=linear").json();
    assert_ne!(r["retCode"], 0);
    let mut raw = Vec::new();
    codec(A.0, "wrong")
        .execution_list(&mut raw, ExchMs(now_ms()), &btc_linear(), None, None)
        .unwrap();
    h.send_raw(&raw);
    assert_eq!(
        h.read_resp().unwrap().json()["retCode"],
        10004,
        "bad signature"
    );
}
