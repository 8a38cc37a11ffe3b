//! Order-path codec costs: building + signing a create request, decoding an
//! `order` push, and parsing an HTTP ack (head + envelope). Each bench
//! validates its result once before timing.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use gapmm::codec::private::{OrderStatus, PrivateDecoder, PrivateEvent};
use gapmm::codec::rest::{parse_response, InstrumentSpec, NewOrder, RestCodec, RestDecoder};
use gapmm::codec::sign::Credentials;
use gapmm::ids::{Category, OrderLinkId, Symbol};
use gapmm::time::ExchMs;
use gapmm::units::{Lots, Side, Step, Ticks};

fn inst() -> InstrumentSpec {
    InstrumentSpec::new(
        Symbol::from_str("BTCUSDT").unwrap(),
        Category::Linear,
        Step::parse("0.1").unwrap(),
        Step::parse("0.001").unwrap(),
    )
}

const ORDER_PUSH: &str = r#"{"id":"5923240c6880ab-c59f-420b-9adb-3639adc9dd90","topic":"order","creationTime":1672364262474,"data":[{"symbol":"BTCUSDT","orderId":"5cf98598-39a7-459e-97bf-76ca765ee020","side":"Buy","orderType":"Limit","cancelType":"UNKNOWN","price":"30000.5","qty":"0.100","orderIv":"","timeInForce":"PostOnly","orderStatus":"PartiallyFilled","orderLinkId":"mm-1700000000-42","lastPriceOnCreated":"29950.00","reduceOnly":false,"leavesQty":"0.060","leavesValue":"1800.03","cumExecQty":"0.040","cumExecValue":"1200.02","avgPrice":"30000.5","blockTradeId":"","positionIdx":0,"cumExecFee":"0.24","createdTime":"1672364262444","updatedTime":"1672364262457","rejectReason":"EC_NoError","stopOrderType":"","tpslMode":"","triggerPrice":"","takeProfit":"","stopLoss":"","tpTriggerBy":"","slTriggerBy":"","tpLimitPrice":"","slLimitPrice":"","triggerDirection":0,"triggerBy":"","closeOnTrigger":false,"category":"linear","placeType":"","smpType":"None","smpGroup":0,"smpOrderId":"","feeCurrency":"","createType":"CreateByUser"}]}"#;

fn sign_order_create(c: &mut Criterion) {
    let signer = Credentials::new(
        "XXXXXXXXXXXXXXXXXX",
        "T3stSecretNotReal0123456789abcdefABCD",
    )
    .unwrap()
    .signer();
    let codec = RestCodec::new(signer, "api.bybit.com", 5000).unwrap();
    let i = inst();
    let o = NewOrder::post_only(
        Side::Buy,
        Ticks(300_005),
        Lots(100),
        OrderLinkId::from_str("mm-1700000000-42").unwrap(),
    );
    let mut out = Vec::with_capacity(2048);
    codec
        .create_order(&mut out, ExchMs(1_700_000_000_000), &i, &o)
        .unwrap();
    let text = std::str::from_utf8(&out).unwrap();
    assert!(text.starts_with("POST /v5/order/create HTTP/1.1\r\n"));
    assert!(text.ends_with(
        r#""price":"30000.5","timeInForce":"PostOnly","orderLinkId":"mm-1700000000-42"}"#
    ));
    c.bench_function("sign_order_create", |b| {
        b.iter(|| {
            codec
                .create_order(
                    &mut out,
                    black_box(ExchMs(1_700_000_000_000)),
                    &i,
                    black_box(&o),
                )
                .unwrap();
            black_box(out.len())
        })
    });
}

fn decode_order_push(c: &mut Criterion) {
    let mut d = PrivateDecoder::new(inst());
    let src = ORDER_PUSH.as_bytes();
    let mut work = Vec::with_capacity(4096);
    work.extend_from_slice(src);
    match d.decode(&mut work).unwrap() {
        PrivateEvent::Orders(p) => {
            let o = p.records[0];
            assert_eq!(
                (o.price, o.qty, o.cum_exec_qty),
                (Ticks(300_005), Lots(100), Lots(40))
            );
            assert_eq!(o.status, OrderStatus::PartiallyFilled);
        }
        e => panic!("{e:?}"),
    }
    c.bench_function("decode_order_push", |b| {
        b.iter(|| {
            work.clear();
            work.extend_from_slice(black_box(src));
            match d.decode(&mut work) {
                Ok(PrivateEvent::Orders(p)) => black_box(p.records[0].leaves_qty),
                _ => Lots(-1),
            }
        })
    });
}

fn parse_http_ack(c: &mut Criterion) {
    let body = r#"{"retCode":0,"retMsg":"OK","result":{"orderId":"1321003749386327552","orderLinkId":"mm-1700000000-42"},"retExtInfo":{},"time":1672211918471}"#;
    let mut raw = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTraceid: 38b7977b430f9bd228f4b19724794dfd\r\nTimenow: 1672211918471\r\nX-Bapi-Limit: 10\r\nX-Bapi-Limit-Status: 9\r\nX-Bapi-Limit-Reset-Timestamp: 1672211918471\r\nContent-Length: {}\r\nConnection: keep-alive\r\n\r\n{body}",
        body.len()
    )
    .into_bytes();
    let src = raw.clone();
    let mut d = RestDecoder::new();
    let r = parse_response(&mut raw).unwrap().unwrap();
    assert_eq!(r.head.rate_limit.remaining, Some(9));
    assert_eq!(
        d.decode_ack(&mut raw[r.body]).unwrap().order_id.as_str(),
        "1321003749386327552"
    );
    c.bench_function("parse_http_ack", |b| {
        b.iter(|| {
            raw.clear();
            raw.extend_from_slice(black_box(&src));
            let r = parse_response(&mut raw)
                .ok()
                .flatten()
                .map(|r| (r.head, r.body));
            let (h, body) = r.expect("complete response");
            let ack = d.decode_ack(&mut raw[body]).expect("ack");
            black_box((h.rate_limit, ack.order_id.len()))
        })
    });
}

criterion_group!(
    benches,
    sign_order_create,
    decode_order_push,
    parse_http_ack
);
criterion_main!(benches);
