//! Property tests: decoders never panic on arbitrary, truncated or mutated
//! input; encoders round-trip through an independent JSON parser; the HTTP
//! response parser gives the same answer however the bytes are split.

mod common;

use gapmm::codec::private::{PrivateDecoder, PrivateEvent};
use gapmm::codec::rest::{
    parse_response, write_amend_json, write_create_json, Amend, InstrumentSpec, NewOrder, OrderRef,
    OrderType, RestCodec, RestDecoder, TimeInForce,
};
use gapmm::codec::sign::Credentials;
use gapmm::codec::trade::{TradeCodec, TradeDecoder};
use gapmm::ids::{Category, OrderLinkId, ReqId, Symbol};
use gapmm::time::ExchMs;
use gapmm::units::{Lots, Side, Step, Ticks};
use proptest::prelude::*;

fn fixtures() -> Vec<Vec<u8>> {
    let mut v = Vec::new();
    for sub in ["bybit/examples", "bybit/real"] {
        let dir = common::shared_dir().join(sub);
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|x| x == "json") {
                v.push(std::fs::read(p).unwrap());
            }
        }
    }
    v.sort();
    v
}

fn linear() -> InstrumentSpec {
    InstrumentSpec::new(
        Symbol::from_str("BTCUSDT").unwrap(),
        Category::Linear,
        Step::parse("0.1").unwrap(),
        Step::parse("0.001").unwrap(),
    )
}

/// Runs every decoder on `bytes`; only panics would fail.
fn run_all(bytes: &[u8]) {
    let i = linear();
    let mut pd = PrivateDecoder::new(i);
    let _ = pd.decode(&mut bytes.to_vec());
    let mut td = TradeDecoder::new();
    let _ = td.decode(&mut bytes.to_vec());
    let mut rd = RestDecoder::new();
    let _ = rd.decode_ack(&mut bytes.to_vec());
    let _ = rd.decode_batch(&mut bytes.to_vec());
    let _ = rd.decode_cancel_all(&mut bytes.to_vec());
    let _ = rd.decode_orders(&mut bytes.to_vec(), &i);
    let _ = rd.decode_positions(&mut bytes.to_vec(), &i);
    let _ = rd.decode_wallet(&mut bytes.to_vec());
    let _ = rd.decode_instruments(&mut bytes.to_vec(), Category::Spot);
    let _ = rd.decode_instruments(&mut bytes.to_vec(), Category::Linear);
    let _ = rd.decode_server_time(&mut bytes.to_vec());
    let _ = parse_response(&mut bytes.to_vec());
}

fn step_strategy() -> impl Strategy<Value = Step> {
    (prop::sample::select(vec![1u64, 2, 5, 25]), 0u8..=8)
        .prop_map(|(u, s)| Step::new(u, s).unwrap())
}

fn order_strategy() -> impl Strategy<Value = NewOrder> {
    (
        any::<bool>(),
        1i64..10_000_000_000,
        1i64..1_000_000_000,
        "[A-Za-z0-9_-]{0,36}",
        prop::sample::select(vec![
            TimeInForce::Gtc,
            TimeInForce::Ioc,
            TimeInForce::Fok,
            TimeInForce::PostOnly,
        ]),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(buy, px, q, l, tif, ro, market)| NewOrder {
            side: if buy { Side::Buy } else { Side::Sell },
            order_type: if market {
                OrderType::Market
            } else {
                OrderType::Limit
            },
            price: Ticks(px),
            qty: Lots(q),
            link_id: OrderLinkId::from_str(&l).unwrap(),
            tif,
            reduce_only: ro,
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn decoders_survive_arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        run_all(&bytes);
    }

    #[test]
    fn decoders_survive_truncated_and_mutated_fixtures(
        idx in any::<prop::sample::Index>(),
        cut in any::<prop::sample::Index>(),
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..6),
    ) {
        let all = fixtures();
        let f = &all[idx.index(all.len())];
        let mut m = f.clone();
        for (at, b) in flips {
            let n = m.len();
            m[at.index(n)] = b;
        }
        run_all(&m);
        run_all(&f[..cut.index(f.len() + 1)]);
    }

    #[test]
    fn create_body_round_trips_through_serde_json(
        o in order_strategy(), ps in step_strategy(), qs in step_strategy(), spot in any::<bool>()
    ) {
        let i = InstrumentSpec::new(
            Symbol::from_str("XYZUSDT").unwrap(),
            if spot { Category::Spot } else { Category::Linear },
            ps, qs,
        );
        let mut out = Vec::new();
        write_create_json(&mut out, &i, &o, true, false).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        prop_assert_eq!(v["category"].as_str().unwrap(), i.category.as_str());
        prop_assert_eq!(v["symbol"].as_str().unwrap(), "XYZUSDT");
        prop_assert_eq!(v["side"].as_str().unwrap(), o.side.as_str());
        prop_assert_eq!(v["timeInForce"].as_str().unwrap(), o.tif.as_str());
        prop_assert_eq!(qs.lots(v["qty"].as_str().unwrap().as_bytes()).unwrap(), o.qty);
        match o.order_type {
            OrderType::Limit => prop_assert_eq!(ps.ticks(v["price"].as_str().unwrap().as_bytes()).unwrap(), o.price),
            OrderType::Market => prop_assert!(v.get("price").is_none()),
        }
        match v.get("orderLinkId") {
            Some(l) => prop_assert_eq!(l.as_str().unwrap(), o.link_id.as_str()),
            None => prop_assert!(o.link_id.is_empty()),
        }
        prop_assert_eq!(v.get("isLeverage").is_some(), spot);
        prop_assert_eq!(v.get("reduceOnly").is_some(), !spot && o.reduce_only);
    }

    #[test]
    fn signed_request_and_trade_frame_round_trip(o in order_strategy(), ts in 1u64..4_000_000_000_000, px in proptest::option::of(1i64..1_000_000)) {
        let signer = Credentials::new("KEY123", "sec").unwrap().signer();
        let i = linear();
        let rest = RestCodec::new(signer.clone(), "api.bybit.com", 5000).unwrap();
        let mut out = Vec::new();
        rest.create_order(&mut out, ExchMs(ts), &i, &o).unwrap();
        let pos = out.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
        let head = std::str::from_utf8(&out[..pos]).unwrap();
        let body = &out[pos + 4..];
        let cl: usize = head.lines().find_map(|l| l.strip_prefix("Content-Length: ")).unwrap().parse().unwrap();
        prop_assert_eq!(cl, body.len());
        let mut sig = [0u8; 64];
        signer.sign_rest(ts.to_string().as_bytes(), b"5000", body, &mut sig);
        let sig_line = format!("X-BAPI-SIGN: {}", std::str::from_utf8(&sig).unwrap());
        prop_assert!(head.lines().any(|l| l == sig_line));
        let ts_line = format!("X-BAPI-TIMESTAMP: {ts}");
        prop_assert!(head.lines().any(|l| l == ts_line));

        let trade = TradeCodec::new(signer, 5000);
        let req = ReqId::from_str("r-1").unwrap();
        trade.create(&mut out, &req, ExchMs(ts), &i, &o).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        let want_ts = ts.to_string();
        prop_assert_eq!(v["header"]["X-BAPI-TIMESTAMP"].as_str().unwrap(), want_ts.as_str());
        prop_assert_eq!(v["args"][0]["symbol"].as_str().unwrap(), "BTCUSDT");
        prop_assert_eq!(i.qty_step.lots(v["args"][0]["qty"].as_str().unwrap().as_bytes()).unwrap(), o.qty);

        let a = Amend { id: OrderRef::LinkId(OrderLinkId::from_str("x").unwrap()), price: px.map(Ticks), qty: Some(o.qty) };
        out.clear();
        write_amend_json(&mut out, &i, &a, true).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        prop_assert_eq!(v.get("price").map(|p| i.price_step.ticks(p.as_str().unwrap().as_bytes()).unwrap()), a.price);
    }

    #[test]
    fn order_push_values_round_trip(
        px in 1i64..100_000_000, q in 1i64..1_000_000, filled_frac in 0i64..=100,
        link in "[A-Za-z0-9_-]{0,36}", buy in any::<bool>(), n in 1usize..5,
    ) {
        let i = linear();
        let cum = q * filled_frac / 100;
        let rec = serde_json::json!({
            "category": "linear", "symbol": "BTCUSDT", "orderId": "abc-1", "orderLinkId": link,
            "side": if buy { "Buy" } else { "Sell" }, "orderType": "Limit", "timeInForce": "PostOnly",
            "orderStatus": if cum == q { "Filled" } else if cum > 0 { "PartiallyFilled" } else { "New" },
            "cancelType": "UNKNOWN", "rejectReason": "EC_NoError",
            "price": i.price_step.display(px).to_string(), "qty": i.qty_step.display(q).to_string(),
            "leavesQty": i.qty_step.display(q - cum).to_string(), "cumExecQty": i.qty_step.display(cum).to_string(),
            "cumExecValue": "0", "avgPrice": "", "createdTime": "1", "updatedTime": "2"
        });
        let other = serde_json::json!({"category": "spot", "symbol": "BTCUSDT"});
        let mut data = vec![rec; n];
        data.push(other);
        let msg = serde_json::json!({"topic": "order", "id": "x", "creationTime": 7, "data": data});
        let mut bytes = serde_json::to_vec(&msg).unwrap();
        let mut d = PrivateDecoder::new(i);
        match d.decode(&mut bytes).unwrap() {
            PrivateEvent::Orders(p) => {
                prop_assert_eq!(p.records.len(), n);
                prop_assert_eq!(p.skipped, 1);
                for o in p.records {
                    prop_assert_eq!(o.price, Ticks(px));
                    prop_assert_eq!(o.qty, Lots(q));
                    prop_assert_eq!(o.cum_exec_qty, Lots(cum));
                    prop_assert_eq!(o.leaves_qty, Lots(q - cum));
                    prop_assert_eq!(o.order_link_id.as_str(), link.as_str());
                    prop_assert_eq!(o.avg_price, None);
                }
            }
            e => prop_assert!(false, "{:?}", e),
        }
    }

    #[test]
    fn http_parser_is_split_invariant(
        body in "[ -~]{0,300}", chunk_sizes in prop::collection::vec(1usize..40, 1..20),
        split in any::<prop::sample::Index>(), chunked in any::<bool>(), limit in 0u32..1000,
    ) {
        let mut raw = format!("HTTP/1.1 200 OK\r\nX-Bapi-Limit-Status: {limit}\r\n").into_bytes();
        if chunked {
            raw.extend_from_slice(b"Transfer-Encoding: chunked\r\n\r\n");
            let b = body.as_bytes();
            let mut at = 0;
            let mut k = 0;
            while at < b.len() {
                let n = chunk_sizes[k % chunk_sizes.len()].min(b.len() - at);
                raw.extend_from_slice(format!("{n:x}\r\n").as_bytes());
                raw.extend_from_slice(&b[at..at + n]);
                raw.extend_from_slice(b"\r\n");
                at += n;
                k += 1;
            }
            raw.extend_from_slice(b"0\r\n\r\n");
        } else {
            raw.extend_from_slice(format!("Content-Length: {}\r\n\r\n", body.len()).as_bytes());
            raw.extend_from_slice(body.as_bytes());
        }
        // Every strict prefix is "need more"; the whole is the same response.
        let cut = split.index(raw.len());
        let mut prefix = raw[..cut].to_vec();
        prop_assert_eq!(parse_response(&mut prefix), Ok(None));
        prop_assert_eq!(&prefix[..], &raw[..cut], "an incomplete parse leaves the bytes untouched");
        let mut full = raw.clone();
        full.extend_from_slice(b"HTTP/1.1");
        let r = parse_response(&mut full).unwrap().unwrap();
        prop_assert_eq!(&full[r.body.clone()], body.as_bytes());
        prop_assert_eq!(r.consumed, raw.len());
        prop_assert_eq!(r.head.rate_limit.remaining, Some(limit));
    }
}
