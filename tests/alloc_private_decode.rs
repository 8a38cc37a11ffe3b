//! Zero allocation after warm-up on the order hot path: private `order` /
//! `execution` / `execution.fast` decoding, REST order request building, ack
//! and HTTP head parsing, WS trade request building and response decoding.

mod common;
mod support_alloc;

use gapmm::codec::private::{PrivateDecoder, PrivateEvent};
use gapmm::codec::rest::{
    parse_response, Amend, InstrumentSpec, NewOrder, OrderRef, RestCodec, RestDecoder,
};
use gapmm::codec::sign::Credentials;
use gapmm::codec::trade::{TradeCodec, TradeDecoder};
use gapmm::ids::{Category, OrderLinkId, ReqId, Symbol};
use gapmm::time::ExchMs;
use gapmm::units::{Lots, Side, Step, Ticks};
use support_alloc::counted;

#[global_allocator]
static GLOBAL: support_alloc::Counting = support_alloc::Counting;

fn read(rel: &str) -> Vec<u8> {
    std::fs::read(common::shared_dir().join(rel)).unwrap()
}

#[test]
fn hot_paths_allocate_nothing_after_warm_up() {
    let inst = InstrumentSpec::new(
        Symbol::from_str("BTCUSDT").unwrap(),
        Category::Linear,
        Step::parse("0.1").unwrap(),
        Step::parse("0.001").unwrap(),
    );
    let order_msg = read("bybit/real/ws_account_order_filled.json");
    let exec_msg = read("bybit/examples/private_execution.json");
    let fast_src = read("bybit/real/ws_account_execution_fast.json");
    let fast_msg = String::from_utf8(fast_src)
        .unwrap()
        .replace("ICPUSDT", "BTCUSDT")
        .replace("12.015", "12.1")
        .into_bytes();
    let ack_body = read("bybit/examples/rest_order_create_response.json");
    let mut http = format!(
        "HTTP/1.1 200 OK\r\nX-Bapi-Limit: 20\r\nX-Bapi-Limit-Status: 19\r\nX-Bapi-Limit-Reset-Timestamp: 1\r\nContent-Length: {}\r\n\r\n",
        ack_body.len()
    )
    .into_bytes();
    http.extend_from_slice(&ack_body);
    let trade_resp = read("bybit/examples/ws_trade_order_create_response.json");
    let batch_resp = read("bybit/examples/ws_trade_order_create_batch_response.json");

    let signer = Credentials::new("XXXXXXXXXX", "secret").unwrap().signer();
    let rest = RestCodec::new(signer.clone(), "api.bybit.com", 5000).unwrap();
    let trade = TradeCodec::new(signer, 5000);
    let mut pd = PrivateDecoder::new(inst);
    let mut rd = RestDecoder::new();
    let mut td = TradeDecoder::new();
    let mut out = Vec::with_capacity(8192);
    let mut work = Vec::with_capacity(8192);
    let link = OrderLinkId::from_str("mm-1-2-3").unwrap();
    let req = ReqId::from_str("req-1").unwrap();
    let o = NewOrder::post_only(Side::Buy, Ticks(300_005), Lots(100), link);
    let a = Amend {
        id: OrderRef::LinkId(link),
        price: Some(Ticks(300_006)),
        qty: None,
    };

    let mut round = |checks: &mut u64| {
        for msg in [&order_msg, &exec_msg, &fast_msg] {
            work.clear();
            work.extend_from_slice(msg);
            match pd.decode(&mut work) {
                Ok(PrivateEvent::Orders(p)) => *checks += p.records[0].qty.0 as u64,
                Ok(PrivateEvent::Executions(p)) => *checks += p.records.len() as u64,
                other => panic!("{other:?}"),
            }
        }
        rest.create_order(&mut out, ExchMs(1), &inst, &o).unwrap();
        rest.amend_order(&mut out, ExchMs(1), &inst, &a).unwrap();
        rest.cancel_order(&mut out, ExchMs(1), &inst, &OrderRef::LinkId(link))
            .unwrap();
        rest.cancel_all(&mut out, ExchMs(1), &inst).unwrap();
        rest.create_batch(&mut out, ExchMs(1), &inst, &[o; 20])
            .unwrap();
        work.clear();
        work.extend_from_slice(&http);
        let r = parse_response(&mut work).unwrap().unwrap();
        *checks += u64::from(r.head.rate_limit.remaining.unwrap());
        let ack = rd.decode_ack(&mut work[r.body]).unwrap();
        *checks += ack.order_id.len() as u64;
        trade.create(&mut out, &req, ExchMs(1), &inst, &o).unwrap();
        trade.amend(&mut out, &req, ExchMs(1), &inst, &a).unwrap();
        trade
            .cancel(&mut out, &req, ExchMs(1), &inst, &OrderRef::LinkId(link))
            .unwrap();
        for msg in [&trade_resp, &batch_resp] {
            work.clear();
            work.extend_from_slice(msg);
            let r = td.decode(&mut work).unwrap();
            *checks += r.batch.len() as u64 + u64::from(r.ack.is_some());
        }
    };
    let mut checks = 0;
    for _ in 0..3 {
        round(&mut checks);
    }
    let ((), allocs) = counted(|| {
        for _ in 0..200 {
            round(&mut checks);
        }
    });
    assert!(checks > 0);
    assert_eq!(allocs, 0, "allocations on the hot path after warm-up");
    // The counter itself works.
    let (v, n) = counted(|| std::hint::black_box(vec![1u8; 10]));
    assert!(n > 0);
    drop(v);
}
