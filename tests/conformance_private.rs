//! Conformance of the signing / REST / private WS / WS trade codecs against
//! every Bybit fixture they cover (official doc samples in `bybit/examples`,
//! real payloads in `bybit/real`). Each test asserts decoded values.

mod common;

use std::path::PathBuf;

use gapmm::codec::private::{
    write_ping, write_subscribe, CancelType, ExecType, OrderStatus, PrivateDecoder, PrivateEvent,
    RejectReason,
};
use gapmm::codec::rest::{
    parse_response, write_create_json, Amend, InstrumentSpec, NewOrder, OrderRef, OrderType,
    RestCodec, RestDecoder, RestError, TimeInForce, MAX_BATCH_SPOT,
};
use gapmm::codec::sign::Credentials;
use gapmm::codec::trade::{ConnError, TradeCodec, TradeDecoder, TradeOp};
use gapmm::ids::{Category, OrderId, OrderLinkId, ReqId, Symbol};
use gapmm::time::ExchMs;
use gapmm::units::{Decimal, Lots, Side, Step, Ticks};
use serde_json::Value as J;

fn examples() -> PathBuf {
    common::shared_dir().join("bybit/examples")
}
fn real() -> PathBuf {
    common::shared_dir().join("bybit/real")
}
fn ex(name: &str) -> Vec<u8> {
    std::fs::read(examples().join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}
fn rl(name: &str) -> Vec<u8> {
    std::fs::read(real().join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}
fn js(b: &[u8]) -> J {
    serde_json::from_slice(b).unwrap()
}

fn inst(sym: &str, cat: Category, tick: &str, qty: &str) -> InstrumentSpec {
    InstrumentSpec::new(
        Symbol::from_str(sym).unwrap(),
        cat,
        Step::parse(tick).unwrap(),
        Step::parse(qty).unwrap(),
    )
}
fn dec(s: &str) -> Decimal {
    Decimal::parse(s.as_bytes()).unwrap()
}
/// Numeric equality of two decimal strings ("15600" == "15600.0").
fn dec_eq(a: &str, b: &str) -> bool {
    let (x, y) = (dec(a), dec(b));
    let s = x.scale.max(y.scale);
    x.rescale(s).unwrap() == y.rescale(s).unwrap()
}
fn link(s: &str) -> OrderLinkId {
    OrderLinkId::from_str(s).unwrap()
}
fn signer() -> gapmm::codec::sign::Signer {
    Credentials::new("XXXXXXXXXX", "T3stSecretNotReal0123456789abcdefABCD")
        .unwrap()
        .signer()
}

/// Builds the single create body and returns it as JSON.
fn create_body(i: &InstrumentSpec, o: &NewOrder) -> J {
    let mut out = Vec::new();
    write_create_json(&mut out, i, o, true, false).unwrap();
    js(&out)
}

/// Compares our body to a fixture field by field: strings equal, decimal
/// strings numerically equal, absent optional flags equal to their defaults.
fn assert_same_fields(ours: &J, fixture: &J, keys: &[&str]) {
    for &k in keys {
        let (a, b) = (&ours[k], &fixture[k]);
        match (a, b) {
            (J::String(x), J::String(y)) if k == "qty" || k == "price" => {
                assert!(dec_eq(x, y), "{k}: ours {x} vs fixture {y}")
            }
            (J::Null, J::Bool(false)) if k == "reduceOnly" => {}
            (J::Null, J::Number(n)) if k == "positionIdx" => assert_eq!(n.as_u64(), Some(0)),
            _ => assert_eq!(a, b, "field {k}"),
        }
    }
}

// ---------------------------------------------------------------------------
// Fixture coverage bookkeeping
// ---------------------------------------------------------------------------

/// Files these codecs cover (each is exercised by a test below).
const COVERED_EXAMPLES: &[&str] = &[
    "rest_common_response_envelope.json",
    "rest_instruments_info_linear_prelisting_response.json",
    "rest_instruments_info_linear_response.json",
    "rest_instruments_info_spot_response.json",
    "rest_market_time_response.json",
    "rest_order_amend_batch_request.json",
    "rest_order_amend_batch_response.json",
    "rest_order_amend_request.json",
    "rest_order_amend_response.json",
    "rest_order_cancel_all_request.json",
    "rest_order_cancel_all_response.json",
    "rest_order_cancel_batch_request.json",
    "rest_order_cancel_batch_response.json",
    "rest_order_cancel_request.json",
    "rest_order_cancel_response.json",
    "rest_order_create_batch_request.json",
    "rest_order_create_batch_response.json",
    "rest_order_create_request_linear_close_long.json",
    "rest_order_create_request_linear_open_long.json",
    "rest_order_create_request_spot_limit_tpsl.json",
    "rest_order_create_request_spot_market_buy.json",
    "rest_order_create_request_spot_postonly.json",
    "rest_order_create_request_spot_tpsl_order_DOCBUG.json",
    "rest_order_create_response.json",
    "rest_order_history_response_postonly_cancelled.json",
    "rest_order_realtime_response.json",
    "rest_position_list_response.json",
    "ws_trade_auth_request.json",
    "ws_trade_auth_response.json",
    "ws_trade_order_create_batch_request.json",
    "ws_trade_order_create_batch_response.json",
    "ws_trade_order_create_request.json",
    "ws_trade_order_create_response.json",
    "ws_trade_ping_request.json",
    "ws_trade_pong_response.json",
    "ws_private_auth_request.json",
    "ws_private_auth_response.json",
    "ws_pong_private.json",
    "ws_subscribe_response_private.json",
    "private_subscribe_order_request.json",
    "private_subscribe_dcp_request.json",
    "private_order.json",
    "private_execution.json",
    "private_execution_fast.json",
    "private_position.json",
    "private_wallet.json",
];

/// Files that belong to other codecs (public WS, public REST market data).
const NOT_OURS_EXAMPLES: &[&str] = &[
    "rest_instruments_info_option_response.json", // option category is not traded
    "rest_market_orderbook_spot_response.json",   // public market data
];

const COVERED_REAL: &[&str] = &[
    "http_get_instruments_linear.json",
    "http_get_instruments_spot.json",
    "http_get_order_partially_filled_rejected.json",
    "http_get_orders_realtime.json",
    "http_get_positions.json",
    "http_get_wallet_balance.json",
    "ws_account_execution.json",
    "ws_account_execution_fast.json",
    "ws_account_order.json",
    "ws_account_order_filled.json",
    "ws_account_order_partially_filled_rejected.json",
    "ws_account_position.json",
    "ws_account_wallet.json",
    "ws_auth_failure.json",
    "ws_auth_success.json",
    "ws_order_response.json",
];

#[test]
fn every_private_rest_and_trade_fixture_is_covered() {
    for (dir, covered, not_ours) in [
        (examples(), COVERED_EXAMPLES, NOT_OURS_EXAMPLES),
        (real(), COVERED_REAL, &[][..]),
    ] {
        for e in std::fs::read_dir(&dir).unwrap() {
            let name = e.unwrap().file_name().into_string().unwrap();
            let ours = name.starts_with("rest_")
                || name.starts_with("ws_trade_")
                || name.starts_with("private_")
                || name.starts_with("http_get_") && name != "http_get_orderbook.json"
                || name.starts_with("ws_account_")
                || name.starts_with("ws_auth")
                || name == "ws_order_response.json"
                || name.starts_with("ws_private_")
                || name == "ws_pong_private.json"
                || name == "ws_subscribe_response_private.json";
            if ours && !not_ours.contains(&name.as_str()) {
                assert!(
                    covered.contains(&name.as_str()),
                    "fixture {name} is not covered"
                );
            }
        }
        for c in covered {
            assert!(dir.join(c).is_file(), "{c} missing");
        }
    }
}

// ---------------------------------------------------------------------------
// REST request bodies
// ---------------------------------------------------------------------------

#[test]
fn spot_postonly_create_matches_doc_body() {
    let fx = js(&ex("rest_order_create_request_spot_postonly.json"));
    let i = inst("BTCUSDT", Category::Spot, "0.1", "0.000001");
    let o = NewOrder::post_only(Side::Buy, Ticks(156000), Lots(100000), link("spot-test-01"));
    let ours = create_body(&i, &o);
    let keys = [
        "category",
        "symbol",
        "side",
        "orderType",
        "qty",
        "price",
        "timeInForce",
        "orderLinkId",
        "isLeverage",
        "orderFilter",
    ];
    assert_same_fields(&ours, &fx, &keys);
    // Nothing we send is absent from the doc body.
    for k in ours.as_object().unwrap().keys() {
        assert!(fx.get(k).is_some(), "extra key {k}");
    }
    // Exact bytes: compact, fixed order, step-formatted decimals.
    let mut out = Vec::new();
    write_create_json(&mut out, &i, &o, true, false).unwrap();
    assert_eq!(
        std::str::from_utf8(&out).unwrap(),
        r#"{"category":"spot","symbol":"BTCUSDT","side":"Buy","orderType":"Limit","qty":"0.100000","price":"15600.0","timeInForce":"PostOnly","orderLinkId":"spot-test-01","isLeverage":0,"orderFilter":"Order"}"#
    );
}

#[test]
fn spot_market_buy_and_tpsl_limit_match_supported_fields() {
    let i = inst("BTCUSDT", Category::Spot, "0.1", "0.000001");
    let fx = js(&ex("rest_order_create_request_spot_market_buy.json"));
    let o = NewOrder {
        side: Side::Buy,
        order_type: OrderType::Market,
        price: Ticks(0),
        qty: Lots(200_000_000),
        link_id: link("spot-test-04"),
        tif: TimeInForce::Ioc,
        reduce_only: false,
    };
    let ours = create_body(&i, &o);
    assert_same_fields(
        &ours,
        &fx,
        &[
            "category",
            "symbol",
            "side",
            "orderType",
            "qty",
            "timeInForce",
            "orderLinkId",
            "isLeverage",
            "orderFilter",
        ],
    );
    assert!(ours.get("price").is_none(), "market orders carry no price");

    // The TP/SL sample: we encode the limit part; TP/SL fields are not supported.
    let fx = js(&ex("rest_order_create_request_spot_limit_tpsl.json"));
    let o = NewOrder::post_only(
        Side::Buy,
        Ticks(280000),
        Lots(10000),
        OrderLinkId::default(),
    );
    let ours = create_body(&i, &o);
    assert_same_fields(
        &ours,
        &fx,
        &[
            "category",
            "symbol",
            "side",
            "orderType",
            "qty",
            "price",
            "timeInForce",
        ],
    );
    assert!(ours.get("orderLinkId").is_none());
    for k in ["takeProfit", "stopLoss", "tpOrderType", "slOrderType"] {
        assert!(fx.get(k).is_some() && ours.get(k).is_none());
    }
}

#[test]
fn docbug_fixture_has_an_invalid_time_in_force() {
    let fx = js(&ex("rest_order_create_request_spot_tpsl_order_DOCBUG.json"));
    let tif = fx["timeInForce"].as_str().unwrap();
    assert_eq!(tif, "Limit");
    assert_eq!(TimeInForce::parse(tif.as_bytes()), None);
    // Its valid fields would still encode (we never emit "Limit" as a TIF).
    let i = inst("BTCUSDT", Category::Spot, "0.1", "0.000001");
    let o = NewOrder::post_only(Side::Buy, Ticks(156000), Lots(100000), link("spot-test-02"));
    let ours = create_body(&i, &o);
    assert_ne!(ours["timeInForce"], fx["timeInForce"]);
}

#[test]
fn linear_open_and_close_long_match_supported_fields() {
    let i = inst("BTCUSDT", Category::Linear, "0.10", "0.001");
    let fx = js(&ex("rest_order_create_request_linear_open_long.json"));
    let o = NewOrder {
        side: Side::Buy,
        order_type: OrderType::Limit,
        price: Ticks(250000),
        qty: Lots(1000),
        link_id: link("usdt-test-01"),
        tif: TimeInForce::Gtc,
        reduce_only: false,
    };
    let ours = create_body(&i, &o);
    let keys = [
        "category",
        "symbol",
        "side",
        "orderType",
        "qty",
        "price",
        "timeInForce",
        "orderLinkId",
        "reduceOnly",
        "positionIdx",
    ];
    assert_same_fields(&ours, &fx, &keys);
    assert!(
        ours.get("isLeverage").is_none() && ours.get("orderFilter").is_none(),
        "spot-only keys"
    );

    let fx = js(&ex("rest_order_create_request_linear_close_long.json"));
    let o = NewOrder {
        side: Side::Sell,
        price: Ticks(300000),
        link_id: link("usdt-test-02"),
        reduce_only: true,
        ..o
    };
    let ours = create_body(&i, &o);
    assert_eq!(ours["reduceOnly"], J::Bool(true));
    assert_same_fields(&ours, &fx, &keys);
}

#[test]
fn amend_cancel_and_cancel_all_match_doc_bodies() {
    let mut codec = RestCodec::new(signer(), "api.bybit.com", 5000).unwrap();
    let body_of = |req: &[u8]| -> J {
        let pos = req.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
        js(&req[pos + 4..])
    };
    let mut out = Vec::new();

    let i = inst("ETHPERP", Category::Linear, "0.05", "0.01");
    let fx = js(&ex("rest_order_amend_request.json"));
    let a = Amend {
        id: OrderRef::LinkId(link("linear-004")),
        price: Some(Ticks(21000)),
        qty: Some(Lots(15)),
    };
    codec.amend_order(&mut out, ExchMs(1), &i, &a).unwrap();
    let ours = body_of(&out);
    assert_same_fields(
        &ours,
        &fx,
        &["category", "symbol", "orderLinkId", "qty", "price"],
    );
    assert!(ours.get("orderId").is_none());

    let i = inst("BTCPERP", Category::Linear, "0.5", "0.001");
    let fx = js(&ex("rest_order_cancel_request.json"));
    let id = OrderRef::OrderId(OrderId::from_str(fx["orderId"].as_str().unwrap()).unwrap());
    codec.cancel_order(&mut out, ExchMs(1), &i, &id).unwrap();
    let ours = body_of(&out);
    assert_same_fields(&ours, &fx, &["category", "symbol", "orderId"]);
    assert!(fx["orderLinkId"].is_null() && ours.get("orderLinkId").is_none());

    // The simulator's measuring tag rides in a header, never in the body.
    codec.set_tag(b"gm1-r7-12345").unwrap();
    codec.cancel_order(&mut out, ExchMs(1), &i, &id).unwrap();
    let head = String::from_utf8_lossy(&out).into_owned();
    assert!(head.contains("\r\nX-Gapmm-Tag: gm1-r7-12345\r\n"), "{head}");
    assert_same_fields(&body_of(&out), &fx, &["category", "symbol", "orderId"]);
    assert!(codec.set_tag(b"bad tag").is_err());
    codec.cancel_order(&mut out, ExchMs(1), &i, &id).unwrap();
    assert!(!String::from_utf8_lossy(&out).contains("X-Gapmm-Tag"));

    // The doc sample cancels by settleCoin; ours always names the symbol (required for linear).
    let fx = js(&ex("rest_order_cancel_all_request.json"));
    codec.cancel_all(&mut out, ExchMs(1), &i).unwrap();
    let ours = body_of(&out);
    assert_eq!(ours["category"], fx["category"]);
    assert!(fx["symbol"].is_null());
    assert_eq!(ours["symbol"], "BTCPERP");
}

#[test]
fn batch_bodies_match_doc_items() {
    let fx = js(&ex("rest_order_create_batch_request.json"));
    let reqs = fx["request"].as_array().unwrap();
    let specs = [
        (
            inst("BTCUSDT", Category::Spot, "0.1", "0.000001"),
            Side::Buy,
            300000i64,
            50000i64,
            "spot-btc-03",
        ),
        (
            inst("ATOMUSDT", Category::Spot, "0.001", "0.01"),
            Side::Sell,
            12000,
            200,
            "spot-atom-03",
        ),
    ];
    for (n, (i, side, px, q, l)) in specs.iter().enumerate() {
        let o = NewOrder {
            side: *side,
            order_type: OrderType::Limit,
            price: Ticks(*px),
            qty: Lots(*q),
            link_id: link(l),
            tif: TimeInForce::Gtc,
            reduce_only: false,
        };
        let mut out = Vec::new();
        gapmm::codec::rest::write_create_batch_json(&mut out, i, &[o]).unwrap();
        let ours = js(&out);
        assert_eq!(ours["category"], fx["category"]);
        let item = &ours["request"][0];
        assert!(
            item.get("category").is_none(),
            "batch items carry no category"
        );
        assert_same_fields(
            item,
            &reqs[n],
            &[
                "symbol",
                "side",
                "orderType",
                "isLeverage",
                "qty",
                "price",
                "timeInForce",
                "orderLinkId",
            ],
        );
    }

    let fx = js(&ex("rest_order_cancel_batch_request.json"));
    let reqs = fx["request"].as_array().unwrap();
    let i = inst("BTCUSDT", Category::Spot, "0.1", "0.000001");
    let mut out = Vec::new();
    let id = OrderRef::OrderId(OrderId::from_str("1666800494330512128").unwrap());
    gapmm::codec::rest::write_cancel_batch_json(&mut out, &i, &[id]).unwrap();
    let ours = js(&out);
    assert_same_fields(&ours["request"][0], &reqs[0], &["symbol", "orderId"]);
    let i = inst("ATOMUSDT", Category::Spot, "0.001", "0.01");
    let id = OrderRef::LinkId(link("1666800494330512129"));
    out.clear();
    gapmm::codec::rest::write_cancel_batch_json(&mut out, &i, &[id]).unwrap();
    assert_same_fields(
        &js(&out)["request"][0],
        &reqs[1],
        &["symbol", "orderLinkId"],
    );

    // Amend batch (doc sample is an option batch; we compare the item fields we support).
    let fx = js(&ex("rest_order_amend_batch_request.json"));
    let item = &fx["request"][1];
    let i = inst("ETH-30DEC22-700-C", Category::Linear, "5", "1");
    let a = Amend {
        id: OrderRef::OrderId(OrderId::from_str(item["orderId"].as_str().unwrap()).unwrap()),
        price: Some(Ticks(130)),
        qty: None,
    };
    out.clear();
    gapmm::codec::rest::write_amend_batch_json(&mut out, &i, &[a]).unwrap();
    let ours = js(&out);
    assert_same_fields(&ours["request"][0], item, &["symbol", "orderId", "price"]);
    assert!(item["qty"].is_null() && ours["request"][0].get("qty").is_none());
}

#[test]
fn batch_limits_are_typed_errors() {
    let spot = inst("BTCUSDT", Category::Spot, "0.1", "0.000001");
    let lin = inst("BTCUSDT", Category::Linear, "0.1", "0.001");
    let o = NewOrder::post_only(Side::Buy, Ticks(10), Lots(10), link("a"));
    let codec = RestCodec::new(signer(), "api.bybit.com", 5000).unwrap();
    let mut out = Vec::new();
    assert_eq!(
        codec.create_batch(&mut out, ExchMs(1), &spot, &[o; 11]),
        Err(RestError::BatchTooLarge {
            max: MAX_BATCH_SPOT,
            got: 11
        })
    );
    assert!(out.is_empty(), "a failed build leaves no partial request");
    assert!(codec
        .create_batch(&mut out, ExchMs(1), &spot, &[o; 10])
        .is_ok());
    assert!(codec
        .create_batch(&mut out, ExchMs(1), &lin, &[o; 20])
        .is_ok());
    assert_eq!(
        codec.create_batch(&mut out, ExchMs(1), &lin, &[o; 21]),
        Err(RestError::BatchTooLarge { max: 20, got: 21 })
    );
    assert_eq!(
        codec.create_batch(&mut out, ExchMs(1), &lin, &[]),
        Err(RestError::EmptyBatch)
    );
    let a = Amend {
        id: OrderRef::LinkId(link("a")),
        price: None,
        qty: None,
    };
    assert_eq!(
        codec.amend_order(&mut out, ExchMs(1), &lin, &a),
        Err(RestError::EmptyAmend)
    );
}

#[test]
fn signed_post_request_bytes_are_exact() {
    let codec = RestCodec::new(signer(), "api.bybit.com", 5000).unwrap();
    let i = inst("ETHUSDT", Category::Linear, "0.01", "0.1");
    let o = NewOrder::post_only(
        Side::Buy,
        Ticks(280000),
        Lots(2),
        link("mm-1711001595207-1"),
    );
    let mut out = Vec::new();
    codec
        .create_order(&mut out, ExchMs(1711001595207), &i, &o)
        .unwrap();
    let text = std::str::from_utf8(&out).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    assert_eq!(
        body,
        r#"{"category":"linear","symbol":"ETHUSDT","side":"Buy","orderType":"Limit","qty":"0.2","price":"2800.00","timeInForce":"PostOnly","orderLinkId":"mm-1711001595207-1"}"#
    );
    let mut sig = [0u8; 64];
    signer().sign_rest(b"1711001595207", b"5000", body.as_bytes(), &mut sig);
    let want_head = format!(
        "POST /v5/order/create HTTP/1.1\r\nHost: api.bybit.com\r\nX-BAPI-API-KEY: XXXXXXXXXX\r\nX-BAPI-SIGN: {}\r\nX-BAPI-SIGN-TYPE: 2\r\nX-BAPI-TIMESTAMP: 1711001595207\r\nX-BAPI-RECV-WINDOW: 5000\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: keep-alive",
        std::str::from_utf8(&sig).unwrap(),
        body.len()
    );
    assert_eq!(head, want_head);
}

#[test]
fn the_signing_vector_order_body_signs_identically_through_the_builder() {
    // Vector post_order_create_linear: our builder reproduces its body for a
    // qty step of 0.1 and a tick of 1, so the request's signature equals the vector's.
    let codec = RestCodec::new(signer(), "api.bybit.com", 5000).unwrap();
    let i = inst("ETHUSDT", Category::Linear, "1", "0.1");
    let o = NewOrder::post_only(Side::Buy, Ticks(2800), Lots(2), link("mm-1711001595207-1"));
    let mut out = Vec::new();
    codec
        .create_order(&mut out, ExchMs(1711001595207), &i, &o)
        .unwrap();
    let text = std::str::from_utf8(&out).unwrap();
    assert!(text.contains(
        "X-BAPI-SIGN: ab9fc1367a93d5499dddfb10f685b0a75941faa521403d67b7356e552317b803\r\n"
    ));
}

#[test]
fn signed_get_requests_sort_and_sign_the_query() {
    let codec = RestCodec::new(signer(), "api.bybit.com", 5000).unwrap();
    let i = inst("ETHUSDT", Category::Linear, "0.01", "0.01");
    let mut out = Vec::new();
    codec
        .order_realtime(
            &mut out,
            ExchMs(1684765770483),
            &i,
            true,
            Some("page_args%3Dfd4300ae-7847-404e-b947-b46980a4d140%26symbol%3D6%26"),
        )
        .unwrap();
    let text = std::str::from_utf8(&out).unwrap();
    let line = text.lines().next().unwrap();
    let q = "category=linear&cursor=page_args%3Dfd4300ae-7847-404e-b947-b46980a4d140%26symbol%3D6%26&limit=50&openOnly=0&symbol=ETHUSDT";
    assert_eq!(line, format!("GET /v5/order/realtime?{q} HTTP/1.1"));
    let mut sig = [0u8; 64];
    signer().sign_rest(b"1684765770483", b"5000", q.as_bytes(), &mut sig);
    assert!(text.contains(&format!(
        "X-BAPI-SIGN: {}\r\n",
        std::str::from_utf8(&sig).unwrap()
    )));
    assert!(text.ends_with("\r\n\r\n") && !text.contains("Content-Length"));

    codec
        .wallet_balance(&mut out, ExchMs(1), Some("USDT"))
        .unwrap();
    assert!(out
        .starts_with(b"GET /v5/account/wallet-balance?accountType=UNIFIED&coin=USDT HTTP/1.1\r\n"));
    codec.position_list(&mut out, ExchMs(1), &i).unwrap();
    assert!(out.starts_with(b"GET /v5/position/list?category=linear&symbol=ETHUSDT HTTP/1.1\r\n"));
    codec
        .instruments_info(&mut out, Category::Spot, Some("BTCUSDT"), None)
        .unwrap();
    let t = std::str::from_utf8(&out).unwrap();
    assert!(
        t.starts_with("GET /v5/market/instruments-info?category=spot&symbol=BTCUSDT HTTP/1.1\r\n")
    );
    assert!(
        !t.contains("X-BAPI-SIGN"),
        "public endpoints are not signed"
    );
    codec.market_time(&mut out).unwrap();
    assert!(out.starts_with(b"GET /v5/market/time HTTP/1.1\r\nHost: api.bybit.com\r\n"));
    assert_eq!(
        codec.wallet_balance(&mut out, ExchMs(1), Some("US DT")),
        Err(RestError::BadParam("query"))
    );
}

// ---------------------------------------------------------------------------
// REST responses
// ---------------------------------------------------------------------------

#[test]
fn order_acks_decode() {
    let mut d = RestDecoder::new();
    for (f, id, l, t) in [
        (
            "rest_order_create_response.json",
            "1321003749386327552",
            "spot-test-postonly",
            1672211918471u64,
        ),
        (
            "rest_order_amend_response.json",
            "c6f055d9-7f21-4079-913d-e6523a9cfffa",
            "linear-004",
            1672217093461,
        ),
        (
            "rest_order_cancel_response.json",
            "c6f055d9-7f21-4079-913d-e6523a9cfffa",
            "linear-004",
            1672217377164,
        ),
    ] {
        let ack = d.decode_ack(&mut ex(f)).unwrap();
        assert_eq!(
            (ack.order_id.as_str(), ack.order_link_id.as_str(), ack.time),
            (id, l, ExchMs(t)),
            "{f}"
        );
    }
    assert_eq!(
        d.decode_empty(&mut ex("rest_common_response_envelope.json")),
        Ok(ExchMs(1671017382656))
    );
}

#[test]
fn api_errors_are_typed() {
    let mut d = RestDecoder::new();
    let mut b =
        br#"{"retCode":10006,"retMsg":"Too many visits!","result":{},"retExtInfo":{},"time":1}"#
            .to_vec();
    match d.decode_ack(&mut b) {
        Err(RestError::Api { code: 10006, msg }) => assert_eq!(msg.as_str(), "Too many visits!"),
        other => panic!("{other:?}"),
    }
    let mut b = br#"{"retCode":0,"retMsg":"OK","result":{},"time":1}"#.to_vec();
    assert_eq!(d.decode_ack(&mut b), Err(RestError::Missing("orderId")));
    let mut b = br#"{"retMsg":"OK"}"#.to_vec();
    assert_eq!(d.decode_ack(&mut b), Err(RestError::Missing("retCode")));
    let mut b = b"{not json".to_vec();
    assert_eq!(d.decode_ack(&mut b), Err(RestError::Json));
}

#[test]
fn batch_responses_surface_per_item_failures() {
    let mut d = RestDecoder::new();
    let items = d
        .decode_batch(&mut ex("rest_order_cancel_batch_response.json"))
        .unwrap();
    assert_eq!(items.len(), 2);
    assert!(items[0].is_ok());
    assert_eq!(items[0].order_id.as_str(), "1666800494330512128");
    assert_eq!(items[0].order_link_id.as_str(), "spot-btc-03");
    assert!(!items[1].is_ok());
    assert_eq!(items[1].code, 170213);
    assert_eq!(items[1].msg.as_str(), "Order does not exist.");
    assert_eq!(items[1].symbol.as_str(), "ATOMUSDT");
    assert!(items[1].order_id.is_empty());

    let items = d
        .decode_batch(&mut ex("rest_order_create_batch_response.json"))
        .unwrap();
    assert_eq!(items.len(), 2);
    assert!(items.iter().all(|i| i.is_ok()));
    assert_eq!(items[1].order_link_id.as_str(), "spot-atom-03");
    assert_eq!(items[0].create_at, Some(ExchMs(1713434102752)));

    let items = d
        .decode_batch(&mut ex("rest_order_amend_batch_response.json"))
        .unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(
        items[1].order_id.as_str(),
        "fa6a595f-1a57-483f-b9d3-30e9c8235a52"
    );
    assert_eq!(items[0].create_at, None);

    let mut b =
        br#"{"retCode":0,"result":{"list":[{"orderId":"1"}]},"retExtInfo":{"list":[]}}"#.to_vec();
    assert_eq!(
        d.decode_batch(&mut b),
        Err(RestError::BatchMismatch {
            results: 1,
            infos: 0
        })
    );
}

#[test]
fn cancel_all_decodes_list_and_success() {
    let mut d = RestDecoder::new();
    let r = d
        .decode_cancel_all(&mut ex("rest_order_cancel_all_response.json"))
        .unwrap();
    assert!(r.success);
    assert_eq!(r.cancelled.len(), 2);
    assert_eq!(r.cancelled[1].0.as_str(), "1616024287544869632");
    assert_eq!(r.cancelled[1].1.as_str(), "1616024287544869633");
    let mut b = br#"{"retCode":0,"result":{"list":[],"success":"0"}}"#.to_vec();
    assert!(!d.decode_cancel_all(&mut b).unwrap().success);
}

#[test]
fn open_orders_decode_with_the_private_order_record() {
    let mut d = RestDecoder::new();
    let i = inst("ETHUSDT", Category::Linear, "0.01", "0.01");
    let page = d
        .decode_orders(&mut ex("rest_order_realtime_response.json"), &i)
        .unwrap();
    assert_eq!(page.orders.len(), 1);
    let o = &page.orders[0];
    assert_eq!(o.order_id.as_str(), "fd4300ae-7847-404e-b947-b46980a4d140");
    assert_eq!(o.order_link_id.as_str(), "test-000005");
    assert_eq!(
        (o.side, o.status, o.tif, o.order_type),
        (
            Side::Buy,
            OrderStatus::New,
            TimeInForce::Gtc,
            OrderType::Limit
        )
    );
    assert_eq!(
        (o.price, o.qty, o.leaves_qty, o.cum_exec_qty),
        (Ticks(160000), Lots(10), Lots(10), Lots(0))
    );
    assert_eq!(o.avg_price, None, "avgPrice \"0\" means no fills");
    assert_eq!(o.category, Some(Category::Linear));
    assert_eq!(o.created_time, ExchMs(1684738540559));
    assert_eq!(
        page.next_cursor.as_deref(),
        Some("page_args%3Dfd4300ae-7847-404e-b947-b46980a4d140%26symbol%3D6%26")
    );

    // Same call for a different symbol skips the row.
    let other = inst("BTCUSDT", Category::Linear, "0.01", "0.01");
    let page = d
        .decode_orders(&mut ex("rest_order_realtime_response.json"), &other)
        .unwrap();
    assert_eq!((page.orders.len(), page.skipped), (0, 1));

    let i = inst("BTCUSDT", Category::Linear, "0.10", "0.001");
    let page = d
        .decode_orders(
            &mut ex("rest_order_history_response_postonly_cancelled.json"),
            &i,
        )
        .unwrap();
    let o = &page.orders[0];
    assert_eq!(o.status, OrderStatus::Cancelled);
    assert_eq!(o.reject_reason, RejectReason::PostOnlyWillTakeLiquidity);
    assert_eq!(o.cancel_type, CancelType::None);
    assert_eq!(o.tif, TimeInForce::PostOnly);
    assert_eq!(
        (o.price, o.qty, o.cum_exec_qty),
        (Ticks(268644), Lots(3), Lots(0))
    );

    // Real: null avgPrice, empty cancelType / rejectReason.
    let i = inst("ETHUSDT", Category::Linear, "0.01", "0.001");
    let page = d
        .decode_orders(&mut rl("http_get_orders_realtime.json"), &i)
        .unwrap();
    assert_eq!(page.orders.len(), 2);
    assert_eq!(page.orders[1].order_id.as_str(), "open-order-2");
    assert_eq!(page.orders[1].side, Side::Sell);
    assert_eq!(page.orders[1].price, Ticks(394042));
    assert_eq!(page.orders[0].qty, Lots(10));
    assert_eq!(page.orders[0].avg_price, None);
    assert_eq!(page.orders[0].reject_reason, RejectReason::NoError);
    assert_eq!(page.next_cursor, None);

    let i = inst("BTCUSDT", Category::Linear, "0.5", "0.001");
    let page = d
        .decode_orders(&mut rl("http_get_order_partially_filled_rejected.json"), &i)
        .unwrap();
    let o = &page.orders[0];
    assert_eq!(o.status, OrderStatus::Rejected);
    assert_eq!(o.reject_reason, RejectReason::Other);
    assert_eq!(
        (o.qty, o.leaves_qty, o.cum_exec_qty),
        (Lots(10), Lots(5), Lots(5))
    );
    assert_eq!(o.cum_exec_value, dec("150"));
    assert_eq!(o.cum_exec_fee, Some(dec("0.0825")));
    assert_eq!(o.avg_price, Some(dec("30000")));
}

#[test]
fn positions_decode() {
    let mut d = RestDecoder::new();
    let i = inst("BTCUSD", Category::Linear, "0.5", "1");
    let page = d
        .decode_positions(&mut ex("rest_position_list_response.json"), &i)
        .unwrap();
    let p = &page.positions[0];
    assert_eq!(p.category, None, "inverse is not a modelled category");
    assert_eq!((p.side, p.size), (Some(Side::Sell), Lots(300)));
    assert_eq!(p.signed_size(), Lots(-300));
    assert_eq!(p.entry_price, Some(dec("27464.50441675")));
    assert_eq!(p.unrealised_pnl, dec("-0.00029413"));
    assert_eq!(p.cum_realised_pnl, dec("-0.00096902"));
    assert_eq!(p.seq.map(|s| s.0), Some(5723621632));

    let i = inst("ETHUSDT", Category::Linear, "0.01", "0.01");
    let page = d
        .decode_positions(&mut rl("http_get_positions.json"), &i)
        .unwrap();
    assert_eq!(page.positions.len(), 1);
    assert_eq!(page.skipped, 2);
    let p = &page.positions[0];
    assert_eq!(
        (p.side, p.size, p.entry_price),
        (Some(Side::Sell), Lots(500), Some(dec("3000.00")))
    );
    assert_eq!(p.cur_realised_pnl, dec("-50.00"));
    let i = inst("SOLUSDT", Category::Linear, "0.01", "0.1");
    let page = d
        .decode_positions(&mut rl("http_get_positions.json"), &i)
        .unwrap();
    assert_eq!(page.positions[0].side, None);
    assert_eq!(page.positions[0].signed_size(), Lots(0));
}

#[test]
fn wallet_balance_decodes() {
    let mut d = RestDecoder::new();
    let w = d
        .decode_wallet(&mut rl("http_get_wallet_balance.json"))
        .unwrap();
    assert_eq!(w.account.account_type.as_str(), "UNIFIED");
    assert_eq!(w.account.total_equity, Some(dec("3.31216591")));
    assert_eq!(w.account.total_available_balance, Some(dec("3.00326056")));
    let usdt = w.coins.iter().find(|c| c.coin.as_str() == "USDT").unwrap();
    assert_eq!(usdt.wallet_balance, dec("1000.50"));
    assert_eq!(usdt.equity, dec("1000.50"));
    assert_eq!(usdt.cum_realised_pnl, dec("50.25"));
    assert_eq!(usdt.locked, dec("0"));
    assert!(w.coins.len() >= 3);
}

#[test]
fn instruments_decode_into_specs() {
    let mut d = RestDecoder::new();
    let p = d
        .decode_instruments(
            &mut ex("rest_instruments_info_linear_response.json"),
            Category::Linear,
        )
        .unwrap();
    let s = &p.specs[0];
    assert_eq!(s.symbol.as_str(), "BTCUSDT");
    assert_eq!(
        (s.price_step, s.qty_step),
        (Step::parse("0.1").unwrap(), Step::parse("0.001").unwrap())
    );
    assert_eq!((s.min_qty, s.max_qty), (Lots(1), Some(Lots(1_190_000))));
    assert_eq!(s.min_notional, Some(dec("5")));
    assert_eq!(p.next_cursor, None);

    let p = d
        .decode_instruments(
            &mut ex("rest_instruments_info_linear_prelisting_response.json"),
            Category::Linear,
        )
        .unwrap();
    assert_eq!(p.specs.len() + p.skipped, 1);

    let p = d
        .decode_instruments(
            &mut ex("rest_instruments_info_spot_response.json"),
            Category::Spot,
        )
        .unwrap();
    let s = &p.specs[0];
    assert_eq!(s.category, Category::Spot);
    assert_eq!(
        s.qty_step,
        Step::parse("0.000001").unwrap(),
        "spot qty step is basePrecision"
    );
    assert_eq!(s.price_step, Step::parse("0.1").unwrap());
    assert_eq!(s.max_qty, Some(Lots(83_000_000)), "maxLimitOrderQty");
    assert_eq!(s.post_only_max_qty, Some(Lots(60_000_000_000)));
    assert_eq!(s.min_notional, Some(dec("5")), "minOrderAmt");
    assert_eq!(s.min_qty, Lots(11));
    assert_eq!(s.base_coin.as_str(), "BTC", "baseCoin");

    let p = d
        .decode_instruments(
            &mut rl("http_get_instruments_linear.json"),
            Category::Linear,
        )
        .unwrap();
    assert_eq!(p.specs.len(), 2);
    assert_eq!(p.specs[1].symbol.as_str(), "ETHUSDT");
    assert_eq!(p.specs[1].price_step, Step::parse("0.05").unwrap());
    assert_eq!(p.specs[1].qty_step, Step::parse("0.01").unwrap());
    assert_eq!(p.next_cursor, None, "null cursor");
    let p = d
        .decode_instruments(&mut rl("http_get_instruments_spot.json"), Category::Spot)
        .unwrap();
    assert_eq!(p.specs[1].qty_step, Step::parse("0.00001").unwrap());
    assert_eq!(
        p.specs[1].max_qty,
        Some(Lots(100_000_000)),
        "falls back to maxOrderQty"
    );
    assert_eq!(p.specs[0].min_notional, Some(dec("10")));
}

#[test]
fn market_time_decodes() {
    let mut d = RestDecoder::new();
    let t = d
        .decode_server_time(&mut ex("rest_market_time_response.json"))
        .unwrap();
    assert_eq!(t.time_second, 1688639403);
    assert_eq!(t.time_nano, 1688639403423213947);
    assert_eq!(t.time, ExchMs(1688639403423));
}

#[test]
fn http_response_with_rate_limit_headers_parses() {
    let body = ex("rest_order_create_response.json");
    let mut raw = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nx-bapi-limit: 20\r\nX-Bapi-Limit-Status: 19\r\nX-BAPI-LIMIT-RESET-TIMESTAMP: 1672211918471\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    raw.extend_from_slice(&body);
    raw.extend_from_slice(b"HTTP/1.1 2"); // start of the next response
    let r = parse_response(&mut raw).unwrap().unwrap();
    assert_eq!(r.head.status, 200);
    assert!(r.head.keep_alive);
    assert_eq!(r.head.rate_limit.limit, Some(20));
    assert_eq!(r.head.rate_limit.remaining, Some(19));
    assert_eq!(r.head.rate_limit.reset, Some(ExchMs(1672211918471)));
    assert_eq!(r.consumed, raw.len() - 10);
    let ack = RestDecoder::new().decode_ack(&mut raw[r.body]).unwrap();
    assert_eq!(ack.order_id.as_str(), "1321003749386327552");

    let mut chunked = b"HTTP/1.1 403 Forbidden\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\nhello\r\n6;x=1\r\n world\r\n0\r\n\r\n".to_vec();
    let r = parse_response(&mut chunked).unwrap().unwrap();
    assert_eq!(&chunked[r.body.clone()], b"hello world");
    assert!(!r.head.keep_alive);
    assert_eq!(r.head.check_status(), Err(RestError::HttpStatus(403)));
    assert_eq!(r.consumed, chunked.len());

    let mut partial = b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n12345".to_vec();
    assert_eq!(parse_response(&mut partial), Ok(None));
    let mut bad = b"HTTX/1.1 200 OK\r\n\r\n".to_vec();
    assert!(matches!(parse_response(&mut bad), Err(RestError::Http(_))));
}

// ---------------------------------------------------------------------------
// WS trade
// ---------------------------------------------------------------------------

#[test]
fn trade_requests_match_doc_shapes() {
    let codec = TradeCodec::new(signer(), 8000);
    let mut out = Vec::new();

    let fx = js(&ex("ws_trade_auth_request.json"));
    codec.write_auth(&mut out, ExchMs(1711010121452), None);
    let ours = js(&out);
    assert_eq!(ours["op"], fx["op"]);
    assert_eq!(ours["args"][1], fx["args"][1]);
    assert_eq!(ours["args"][0], "XXXXXXXXXX");
    assert_eq!(ours["args"][2].as_str().unwrap().len(), 64);

    let fx = js(&ex("ws_trade_order_create_request.json"));
    let i = inst("ETHUSDT", Category::Linear, "0.01", "0.01");
    let o = NewOrder::post_only(Side::Buy, Ticks(280000), Lots(20), OrderLinkId::default());
    codec
        .create(
            &mut out,
            &ReqId::from_str("test-005").unwrap(),
            ExchMs(1711001595207),
            &i,
            &o,
        )
        .unwrap();
    let ours = js(&out);
    assert_eq!(ours["reqId"], fx["reqId"]);
    assert_eq!(ours["op"], fx["op"]);
    assert_eq!(
        ours["header"]["X-BAPI-TIMESTAMP"],
        fx["header"]["X-BAPI-TIMESTAMP"]
    );
    assert_eq!(
        ours["header"]["X-BAPI-RECV-WINDOW"],
        fx["header"]["X-BAPI-RECV-WINDOW"]
    );
    assert_eq!(ours["args"].as_array().unwrap().len(), 1);
    assert_same_fields(
        &ours["args"][0],
        &fx["args"][0],
        &[
            "symbol",
            "side",
            "orderType",
            "qty",
            "price",
            "category",
            "timeInForce",
        ],
    );

    let fx = js(&ex("ws_trade_order_create_batch_request.json"));
    let i = inst("SOLUSDT", Category::Linear, "0.01", "0.1");
    let reqs = fx["args"][0]["request"].as_array().unwrap();
    let orders: Vec<NewOrder> = reqs
        .iter()
        .map(|r| NewOrder {
            side: Side::Buy,
            order_type: OrderType::Limit,
            price: Ticks(
                i.price_step
                    .count(r["price"].as_str().unwrap().as_bytes())
                    .unwrap(),
            ),
            qty: Lots(
                i.qty_step
                    .count(r["qty"].as_str().unwrap().as_bytes())
                    .unwrap(),
            ),
            link_id: link(r["orderLinkId"].as_str().unwrap()),
            tif: TimeInForce::Gtc,
            reduce_only: false,
        })
        .collect();
    let codec = TradeCodec::new(signer(), 1000);
    codec
        .create_batch(
            &mut out,
            &ReqId::from_str("b-1").unwrap(),
            ExchMs(1740453381256),
            &i,
            &orders,
        )
        .unwrap();
    let ours = js(&out);
    assert_eq!(ours["op"], fx["op"]);
    assert_eq!(ours["header"], fx["header"]);
    assert_eq!(ours["args"][0]["category"], fx["args"][0]["category"]);
    for (n, r) in reqs.iter().enumerate() {
        assert_same_fields(
            &ours["args"][0]["request"][n],
            r,
            &[
                "symbol",
                "qty",
                "price",
                "orderType",
                "timeInForce",
                "orderLinkId",
                "side",
            ],
        );
    }

    codec.write_ping(&mut out);
    assert_eq!(js(&out), js(&ex("ws_trade_ping_request.json")));

    let a = Amend {
        id: OrderRef::LinkId(link("q-1")),
        price: Some(Ticks(5)),
        qty: None,
    };
    codec
        .amend(
            &mut out,
            &ReqId::from_str("r-2").unwrap(),
            ExchMs(5),
            &i,
            &a,
        )
        .unwrap();
    let ours = js(&out);
    assert_eq!(ours["op"], "order.amend");
    assert_eq!(ours["args"][0]["category"], "linear");
    assert_eq!(ours["args"][0]["price"], "0.05");
    codec
        .cancel(
            &mut out,
            &ReqId::from_str("r-3").unwrap(),
            ExchMs(5),
            &i,
            &OrderRef::LinkId(link("q-1")),
        )
        .unwrap();
    assert_eq!(js(&out)["op"], "order.cancel");
    assert!(codec
        .cancel(
            &mut out,
            &ReqId::default(),
            ExchMs(5),
            &i,
            &OrderRef::LinkId(link("q-1"))
        )
        .is_err());
}

#[test]
fn trade_responses_decode() {
    let mut d = TradeDecoder::new();
    let r = d.decode(&mut ex("ws_trade_auth_response.json")).unwrap();
    assert_eq!((r.op, r.ret_code), (TradeOp::Auth, 0));

    let r = d
        .decode(&mut ex("ws_trade_order_create_response.json"))
        .unwrap();
    assert_eq!(r.op, TradeOp::Create);
    assert_eq!(r.req_id.as_str(), "test-005");
    assert!(r.is_ok());
    let ack = r.ack.unwrap();
    assert_eq!(
        ack.order_id.as_str(),
        "a4c1718e-fe53-4659-a118-1f6ecce04ad9"
    );
    assert!(ack.order_link_id.is_empty());
    assert_eq!(r.rate_limit.limit, Some(10));
    assert_eq!(r.rate_limit.remaining, Some(9));
    assert_eq!(r.rate_limit.reset, Some(ExchMs(1711001595208)));
    assert_eq!(r.trace_id.as_str(), "38b7977b430f9bd228f4b19724794dfd");
    assert_eq!(r.time_now, Some(ExchMs(1711001595209)));

    // Envelope 0, every item failed.
    let r = d
        .decode(&mut ex("ws_trade_order_create_batch_response.json"))
        .unwrap();
    assert_eq!(r.op, TradeOp::CreateBatch);
    assert!(r.is_ok());
    assert_eq!(r.batch.len(), 3);
    assert_eq!(r.failed_items(), 3);
    assert!(r
        .batch
        .iter()
        .all(|b| b.code == 10001 && b.order_id.is_empty()));
    assert_eq!(
        r.batch[0].msg.as_str(),
        "position idx not match position mode"
    );
    assert_eq!(r.batch[2].order_link_id.as_str(), "batch-002");
    assert_eq!(r.rate_limit.limit, Some(150));
    assert_eq!(r.rate_limit.remaining, Some(147));
    assert_eq!(r.time_now, Some(ExchMs(1740453408556)));

    let r = d.decode(&mut ex("ws_trade_pong_response.json")).unwrap();
    assert_eq!(r.op, TradeOp::Pong);
    assert_eq!(r.pong_time, Some(ExchMs(1711002002529)));

    let r = d.decode(&mut rl("ws_order_response.json")).unwrap();
    assert_eq!(r.req_id.as_str(), "order-req-001");
    assert_eq!(r.ack.unwrap().order_link_id.as_str(), "client-order-1");
    assert_eq!(r.ack.unwrap().order_id.as_str(), "1726025498520715008");

    for (code, want, reconnect) in [
        (10019, ConnError::ServiceRestarting, true),
        (10403, ConnError::IpRateLimit, false),
        (10404, ConnError::UnknownOp, false),
        (10429, ConnError::SystemProtection, false),
        (20006, ConnError::DuplicateReqId, false),
        (10016, ConnError::InternalError, false),
    ] {
        let mut b = format!(r#"{{"reqId":"x","retCode":{code},"retMsg":"m","op":"order.create","data":{{}},"header":{{}}}}"#).into_bytes();
        let r = d.decode(&mut b).unwrap();
        assert_eq!(r.conn_error(), Some(want));
        assert_eq!(r.needs_new_connection(), reconnect);
        assert!(r.ack.is_none());
    }
    let mut b = br#"{"op":"order.create"}"#.to_vec();
    assert!(d.decode(&mut b).is_err());
}

// ---------------------------------------------------------------------------
// Private WS
// ---------------------------------------------------------------------------

#[test]
fn private_requests_match_doc_shapes() {
    let mut out = Vec::new();
    write_subscribe(&mut out, &["order"], None).unwrap();
    assert_eq!(js(&out), js(&ex("private_subscribe_order_request.json")));
    write_subscribe(&mut out, &["dcp.future"], None).unwrap();
    assert_eq!(js(&out), js(&ex("private_subscribe_dcp_request.json")));
    let fx = js(&ex("ws_private_auth_request.json"));
    gapmm::codec::private::write_auth_request(
        &mut out,
        &signer(),
        ExchMs(1662350400000),
        Some(&ReqId::from_str("10001").unwrap()),
    );
    let ours = js(&out);
    assert_eq!(
        (&ours["req_id"], &ours["op"], &ours["args"][1]),
        (&fx["req_id"], &fx["op"], &fx["args"][1])
    );
    write_ping(&mut out, Some(&ReqId::from_str("100001").unwrap()));
    assert_eq!(js(&out), serde_json::json!({"req_id":"100001","op":"ping"}));
    assert!(write_subscribe(&mut out, &[], None).is_err());
    assert!(write_subscribe(&mut out, &["a\"b"], None).is_err());
}

#[test]
fn private_replies_decode_in_all_shapes() {
    let mut d = PrivateDecoder::new(inst("BTCUSDT", Category::Linear, "0.1", "0.001"));
    match d.decode(&mut ex("ws_private_auth_response.json")).unwrap() {
        PrivateEvent::Auth(r) => assert!(r.success && r.ret_code.is_none()),
        e => panic!("{e:?}"),
    }
    match d.decode(&mut rl("ws_auth_success.json")).unwrap() {
        PrivateEvent::Auth(r) => assert!(r.success && r.ret_code == Some(0)),
        e => panic!("{e:?}"),
    }
    match d.decode(&mut rl("ws_auth_failure.json")).unwrap() {
        PrivateEvent::Auth(r) => {
            assert!(!r.success);
            assert_eq!(r.ret_code, Some(10003));
            assert_eq!(r.msg.as_str(), "Invalid apikey");
        }
        e => panic!("{e:?}"),
    }
    let mut b = br#"{"conn_id":"c","op":"auth","ret_msg":"Params Error","success":false}"#.to_vec();
    assert!(
        matches!(d.decode(&mut b).unwrap(), PrivateEvent::Auth(r) if !r.success && r.msg.as_str() == "Params Error")
    );
    match d
        .decode(&mut ex("ws_subscribe_response_private.json"))
        .unwrap()
    {
        PrivateEvent::Subscribed(r) => assert!(r.success),
        e => panic!("{e:?}"),
    }
    assert_eq!(
        d.decode(&mut ex("ws_pong_private.json")).unwrap(),
        PrivateEvent::Pong(Some(ExchMs(1675418560633)))
    );
}

#[test]
fn private_order_pushes_decode() {
    // Doc sample: an option order (category not modelled → None), "" leavesQty → 0.
    let mut d = PrivateDecoder::new(inst("ETH-30DEC22-1400-C", Category::Linear, "0.1", "1"));
    let PrivateEvent::Orders(p) = d.decode(&mut ex("private_order.json")).unwrap() else {
        panic!()
    };
    assert_eq!(p.creation_time, ExchMs(1672364262474));
    let o = &p.records[0];
    assert_eq!(o.category, None);
    assert_eq!(
        (o.side, o.order_type, o.tif, o.status),
        (
            Side::Sell,
            OrderType::Market,
            TimeInForce::Ioc,
            OrderStatus::Filled
        )
    );
    assert_eq!(
        (o.price, o.qty, o.leaves_qty, o.cum_exec_qty),
        (Ticks(725), Lots(1), Lots(0), Lots(1))
    );
    assert_eq!(o.cum_exec_value, dec("75"));
    assert_eq!(o.avg_price, Some(dec("75")));
    assert_eq!(o.cum_exec_fee, Some(dec("0.358635")));
    assert_eq!(
        (o.created_time, o.updated_time),
        (ExchMs(1672364262444), ExchMs(1672364262457))
    );

    let mut d = PrivateDecoder::new(inst("BTCUSDT", Category::Linear, "0.5", "0.001"));
    let PrivateEvent::Orders(p) = d.decode(&mut rl("ws_account_order.json")).unwrap() else {
        panic!()
    };
    let o = &p.records[0];
    assert_eq!(
        (o.status, o.cancel_type),
        (OrderStatus::Cancelled, CancelType::ByUser)
    );
    assert_eq!(o.order_link_id.as_str(), "client-1");
    assert_eq!(
        (o.price, o.qty, o.leaves_qty),
        (Ticks(60000), Lots(10), Lots(10))
    );
    assert_eq!(o.avg_price, None);

    let PrivateEvent::Orders(p) = d.decode(&mut rl("ws_account_order_filled.json")).unwrap() else {
        panic!()
    };
    let o = &p.records[0];
    assert_eq!(o.status, OrderStatus::Filled);
    assert!(!o.status.is_open());
    assert_eq!(
        (o.price, o.qty, o.cum_exec_qty),
        (Ticks(60001), Lots(100), Lots(100))
    );
    assert_eq!(o.cum_exec_value, dec("3000.05"));
    assert_eq!(o.avg_price, Some(dec("30000.50")));

    // Spot record: a linear-configured decoder skips it; a spot one decodes it.
    let PrivateEvent::Orders(p) = d
        .decode(&mut rl("ws_account_order_partially_filled_rejected.json"))
        .unwrap()
    else {
        panic!()
    };
    assert_eq!((p.records.len(), p.skipped), (0, 1));
    let mut s = PrivateDecoder::new(inst("APEXUSDT", Category::Spot, "0.001", "0.1"));
    let PrivateEvent::Orders(p) = s
        .decode(&mut rl("ws_account_order_partially_filled_rejected.json"))
        .unwrap()
    else {
        panic!()
    };
    let o = &p.records[0];
    assert_eq!(o.category, Some(Category::Spot));
    assert_eq!(
        (o.status, o.reject_reason),
        (OrderStatus::Rejected, RejectReason::Other)
    );
    assert_eq!(
        (o.price, o.qty, o.leaves_qty, o.cum_exec_qty),
        (Ticks(1500), Lots(1000), Lots(500), Lots(500))
    );

    // PostOnly crossing arrives as Cancelled + EC_PostOnlyWillTakeLiquidity.
    let mut b = br#"{"topic":"order","creationTime":1,"data":[{"category":"linear","symbol":"BTCUSDT","orderId":"x","orderLinkId":"q1","side":"Buy","orderType":"Limit","timeInForce":"PostOnly","orderStatus":"Cancelled","cancelType":"UNKNOWN","rejectReason":"EC_PostOnlyWillTakeLiquidity","price":"100.5","qty":"0.010","leavesQty":"0","cumExecQty":"0","cumExecValue":"0","avgPrice":"","createdTime":"5","updatedTime":"6"}]}"#.to_vec();
    let PrivateEvent::Orders(p) = d.decode(&mut b).unwrap() else {
        panic!()
    };
    assert_eq!(
        p.records[0].reject_reason,
        RejectReason::PostOnlyWillTakeLiquidity
    );
    assert_eq!(p.records[0].price, Ticks(201));
}

#[test]
fn private_execution_pushes_decode() {
    let mut d = PrivateDecoder::new(inst("BTCUSDT", Category::Linear, "0.1", "0.001"));
    for (f, link) in [
        ("private_execution.json", ""),
        ("ws_account_execution.json", "test-order-link-001"),
    ] {
        let mut m = if f.starts_with("private") {
            ex(f)
        } else {
            rl(f)
        };
        let PrivateEvent::Executions(p) = d.decode(&mut m).unwrap() else {
            panic!()
        };
        assert_eq!(p.creation_time, ExchMs(1746270400355));
        let e = &p.records[0];
        assert!(!e.fast);
        assert_eq!(e.exec_id.as_str(), "0ab1bdf7-4219-438b-b30a-32ec863018f7");
        assert_eq!(e.order_id.as_str(), "9aac161b-8ed6-450d-9cab-c5cc67c21784");
        assert_eq!(e.order_link_id.as_str(), link);
        assert_eq!(
            (e.side, e.exec_type, e.is_maker),
            (Side::Sell, ExecType::Trade, false)
        );
        assert_eq!((e.exec_price, e.exec_qty), (Ticks(959001), Lots(500)));
        assert_eq!(e.exec_fee, Some(dec("26.3725275")));
        assert_eq!(e.fee_rate, Some(dec("0.00055")));
        assert_eq!(e.leaves_qty, Some(Lots(0)));
        assert_eq!(e.exec_time, ExchMs(1746270400353));
        assert_eq!(e.seq.0, 140612148849382);
    }
    let mut d = PrivateDecoder::new(inst("ICPUSDT", Category::Linear, "0.001", "1"));
    for (f, link) in [
        ("private_execution_fast.json", "test-00001"),
        ("ws_account_execution_fast.json", "test-order-link-001"),
    ] {
        let mut m = if f.starts_with("private") {
            ex(f)
        } else {
            rl(f)
        };
        let PrivateEvent::Executions(p) = d.decode(&mut m).unwrap() else {
            panic!()
        };
        let e = &p.records[0];
        assert!(e.fast);
        assert_eq!(e.exec_type, ExecType::Trade);
        assert_eq!((e.exec_price, e.exec_qty), (Ticks(12015), Lots(3000)));
        assert_eq!(e.order_link_id.as_str(), link);
        assert_eq!((e.exec_fee, e.leaves_qty), (None, None));
        assert_eq!(e.seq.0, 34771365464);
        assert_eq!(e.exec_time, ExchMs(1716800399334));
    }
    // Funding records are kept but typed, with an off-grid price tolerated.
    let mut b = br#"{"topic":"execution","creationTime":1,"data":[{"category":"linear","symbol":"ICPUSDT","execId":"f","orderId":"o","orderLinkId":"","side":"Buy","execPrice":"12.01234","execQty":"3000","execType":"Funding","execFee":"0.1","isMaker":false,"execTime":"2","seq":3}]}"#.to_vec();
    let PrivateEvent::Executions(p) = d.decode(&mut b).unwrap() else {
        panic!()
    };
    assert_eq!(p.records[0].exec_type, ExecType::Funding);
    assert_eq!(p.records[0].exec_price, Ticks(0));
    // A liquidation at an off-grid (bankruptcy) price still moves the
    // position: its price goes to the tick below, its quantity is kept.
    let mut b = br#"{"topic":"execution","creationTime":1,"data":[{"category":"linear","symbol":"ICPUSDT","execId":"b","orderId":"o","orderLinkId":"","side":"Sell","execPrice":"12.01234","execQty":"3000","execType":"BustTrade","execFee":"0.1","isMaker":false,"execTime":"2","seq":3}]}"#.to_vec();
    let PrivateEvent::Executions(p) = d.decode(&mut b).unwrap() else {
        panic!()
    };
    let e = &p.records[0];
    assert_eq!(e.exec_type, ExecType::BustTrade);
    assert!(e.exec_type.moves_position());
    assert_eq!((e.exec_price, e.exec_qty), (Ticks(12012), Lots(3000)));
}

/// A spot buy's fee in the base coin is measured in lots (billionths of
/// one): it is what never arrives in the account. A fee in any other coin,
/// or with the base coin unknown, is not.
#[test]
fn a_spot_fee_in_the_base_coin_is_measured_in_lots() {
    let spot = inst("BTCUSDT", Category::Spot, "0.1", "0.000001");
    let push = |coin: &str| {
        format!(
            r#"{{"topic":"execution","creationTime":1,"data":[{{"category":"spot","symbol":"BTCUSDT","execId":"e","orderId":"o","orderLinkId":"","side":"Buy","execPrice":"60000.0","execQty":"0.001","execType":"Trade","execFee":"0.0000010005","feeCurrency":"{coin}","isMaker":true,"execTime":"2","seq":3}}]}}"#
        )
        .into_bytes()
    };
    let mut known =
        PrivateDecoder::new(spot.with_base_coin(gapmm::ids::Coin::from_str("BTC").unwrap()));
    for (coin, nlots) in [("BTC", 1_000_500_000), ("USDT", 0)] {
        let mut m = push(coin);
        let PrivateEvent::Executions(p) = known.decode(&mut m).unwrap() else {
            panic!()
        };
        assert_eq!(p.records[0].fee_base_nlots, nlots, "{coin}");
        assert_eq!(p.records[0].exec_fee, Some(dec("0.0000010005")));
    }
    let mut unknown = PrivateDecoder::new(spot);
    let mut m = push("BTC");
    let PrivateEvent::Executions(p) = unknown.decode(&mut m).unwrap() else {
        panic!()
    };
    assert_eq!(p.records[0].fee_base_nlots, 0);
}

#[test]
fn private_position_and_wallet_pushes_decode() {
    let mut d = PrivateDecoder::new(inst("BTCUSDT", Category::Linear, "0.1", "0.001"));
    let PrivateEvent::Positions(p) = d.decode(&mut ex("private_position.json")).unwrap() else {
        panic!()
    };
    let r = &p.records[0];
    assert_eq!((r.side, r.size, r.position_idx), (None, Lots(0), 2));
    assert_eq!(r.cum_realised_pnl, dec("-25.06579337"));
    assert_eq!(r.cur_realised_pnl, dec("1.26"));
    assert_eq!(r.seq.map(|s| s.0), Some(8327597863));

    let mut d = PrivateDecoder::new(inst("ETHUSDT", Category::Linear, "0.01", "0.01"));
    let PrivateEvent::Positions(p) = d.decode(&mut rl("ws_account_position.json")).unwrap() else {
        panic!()
    };
    let r = &p.records[0];
    assert_eq!((r.side, r.size), (Some(Side::Sell), Lots(1)));
    assert_eq!(r.signed_size(), Lots(-1));
    assert_eq!(r.entry_price, Some(dec("3641.075")));
    assert_eq!(r.mark_price, Some(dec("3641.33")));
    assert_eq!(r.unrealised_pnl, dec("-0.00255"));
    assert_eq!(r.updated_time, ExchMs(1762199125472));
    assert_eq!(r.seq.map(|s| s.0), Some(325852190774));

    let PrivateEvent::Wallet {
        creation_time,
        account,
        coins,
    } = d.decode(&mut ex("private_wallet.json")).unwrap()
    else {
        panic!()
    };
    assert_eq!(creation_time, ExchMs(1700034722104));
    assert_eq!(account.account_type.as_str(), "UNIFIED");
    assert_eq!(account.total_equity, Some(dec("10262.91335023")));
    assert_eq!(coins.len(), 1);
    assert_eq!(coins[0].coin.as_str(), "BTC");
    assert_eq!(coins[0].wallet_balance, dec("0.00102964"));
    assert_eq!(coins[0].usd_value, Some(dec("36.70759517")));
    assert_eq!(coins[0].cum_realised_pnl, dec("-0.00000973"));

    let PrivateEvent::Wallet { account, coins, .. } =
        d.decode(&mut rl("ws_account_wallet.json")).unwrap()
    else {
        panic!()
    };
    assert_eq!(account.total_initial_margin, Some(dec("127.8573161")));
    assert_eq!(coins.len(), 2);
    assert_eq!(coins[1].coin.as_str(), "USDT");
    assert_eq!(coins[1].equity, dec("10226.20575506"));
    assert_eq!(coins[0].total_order_im, dec("0.00010000"));
    assert_eq!(coins[0].locked, dec("0"), "absent locked is zero");
}

#[test]
fn too_many_records_is_a_typed_error() {
    let rec = r#"{"category":"linear","symbol":"BTCUSDT","execId":"e","orderId":"o","orderLinkId":"","side":"Buy","execPrice":"1","execQty":"1","isMaker":true,"execTime":"1","seq":1}"#;
    let many = vec![rec; 65].join(",");
    let mut b =
        format!(r#"{{"topic":"execution.fast","creationTime":1,"data":[{many}]}}"#).into_bytes();
    let mut d = PrivateDecoder::new(inst("BTCUSDT", Category::Linear, "1", "1"));
    assert_eq!(
        d.decode(&mut b),
        Err(gapmm::codec::private::PrivateError::TooManyRecords)
    );
    let ok = vec![rec; 64].join(",");
    let mut b =
        format!(r#"{{"topic":"execution.fast","creationTime":1,"data":[{ok}]}}"#).into_bytes();
    assert!(matches!(d.decode(&mut b), Ok(PrivateEvent::Executions(p)) if p.records.len() == 64));
}

#[test]
fn malformed_private_records_are_typed_errors() {
    use gapmm::codec::private::PrivateError;
    use gapmm::units::UnitError;
    let mut d = PrivateDecoder::new(inst("BTCUSDT", Category::Linear, "0.5", "0.001"));
    let base = r#"{"topic":"order","creationTime":1,"data":[{"category":"linear","symbol":"BTCUSDT","orderId":"x","orderLinkId":"q1","side":"Buy","orderType":"Limit","timeInForce":"GTC","orderStatus":"New","price":"100.5","qty":"0.010","leavesQty":"0.010","cumExecQty":"0"}]}"#;
    let mut ok = base.as_bytes().to_vec();
    assert!(
        matches!(d.decode(&mut ok), Ok(PrivateEvent::Orders(p)) if p.records[0].price == Ticks(201))
    );
    for (from, to, want) in [
        (
            "\"100.5\"",
            "\"100.3\"",
            PrivateError::Unit {
                field: "price",
                err: UnitError::NotOnGrid,
            },
        ),
        (
            "\"New\"",
            "\"Sleeping\"",
            PrivateError::BadValue("orderStatus"),
        ),
        ("\"Buy\"", "\"buy\"", PrivateError::BadValue("side")),
        (
            "\"GTC\"",
            "\"Limit\"",
            PrivateError::BadValue("timeInForce"),
        ),
        (
            "\"symbol\":\"BTCUSDT\",",
            "",
            PrivateError::Missing("symbol"),
        ),
        ("\"orderId\":\"x\",", "", PrivateError::Missing("orderId")),
        (
            "\"qty\":\"0.010\"",
            "\"qty\":\"-1\"",
            PrivateError::Unit {
                field: "qty",
                err: UnitError::Negative,
            },
        ),
        ("[{", "{\"a\":[{", PrivateError::Json),
        ("\"data\":[", "\"data\":{\"x\":[", PrivateError::Json),
    ] {
        let mut m = base.replacen(from, to, 1).into_bytes();
        assert_eq!(d.decode(&mut m), Err(want), "{from} -> {to}");
    }
    let mut m = br#"{"topic":"order","creationTime":1,"data":{}}"#.to_vec();
    assert_eq!(
        d.decode(&mut m),
        Err(PrivateError::Shape("data is not an array"))
    );
    let mut m = br#"{"op":"whatever"}"#.to_vec();
    assert_eq!(d.decode(&mut m), Err(PrivateError::UnknownMessage));
    let mut m = br#"{"topic":"greeks","data":[]}"#.to_vec();
    assert_eq!(d.decode(&mut m), Ok(PrivateEvent::OtherTopic));
}

#[test]
fn codecs_can_move_to_their_threads() {
    fn send<T: Send>() {}
    send::<PrivateDecoder>();
    send::<RestDecoder>();
    send::<TradeDecoder>();
    send::<RestCodec>();
    send::<TradeCodec>();
}
