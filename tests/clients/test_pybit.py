"""Bybit's own Python SDK (pybit) against gapmm-sim, as a trader uses it.

pybit builds its URLs from Bybit's host names; the tests point them at the
simulator the way a user would (the HTTP session's `endpoint`, the WebSocket
URL templates) and change nothing else.
"""

import copy
import queue
import uuid
from decimal import Decimal

import pybit._websocket_stream as ws_stream
import pybit._websocket_trading as ws_trading
import pybit.unified_trading as ut
import pytest
from pybit.exceptions import InvalidRequestError

from conftest import KEY, SECRET, wait_for


def _register_before_sending(method):
    """pybit 5.17 sends a subscription or a WS-trade request and only then
    registers what its answer is matched with (`subscribe`,
    `_send_order_operation`). An exchange on loopback can answer first: pybit
    then drops the WS-trade answer ("unregistered reqId") or fails on the
    subscription's and closes the connection. Real Bybit never answers within
    those microseconds. This holds the send back until pybit's own method has
    registered it; nothing else of pybit changes."""

    def wrapped(self, *args, **kwargs):
        held = []
        real_send = self.ws.send
        self.ws.send = held.append
        try:
            out = method(self, *args, **kwargs)
        finally:
            self.ws.send = real_send
        for m in held:
            real_send(m)
        return out

    return wrapped


@pytest.fixture(scope="module")
def http(sim):
    s = ut.HTTP(testnet=False, api_key=KEY, api_secret=SECRET)
    s.endpoint = sim.rest
    return s


@pytest.fixture(scope="module")
def public_http(sim):
    s = ut.HTTP(testnet=False)
    s.endpoint = sim.rest
    return s


@pytest.fixture()
def at_sim(sim, monkeypatch):
    """The WebSocket URL templates of pybit, pointed at the simulator."""
    stream = ws_stream._V5WebSocketManager
    monkeypatch.setattr(stream, "subscribe", _register_before_sending(stream.subscribe))
    trading = ws_trading._V5TradeWebSocketManager
    monkeypatch.setattr(
        trading,
        "_send_order_operation",
        _register_before_sending(trading._send_order_operation),
    )
    monkeypatch.setattr(ut, "PUBLIC_WSS", sim.ws + "/v5/public/{CHANNEL_TYPE}")
    monkeypatch.setattr(ut, "PRIVATE_WSS", sim.ws + "/v5/private")
    monkeypatch.setattr(ws_trading, "TRADE_WSS", sim.ws + "/v5/trade")
    return sim


def link():
    return "cl-" + uuid.uuid4().hex[:20]


def ticks(price, tick=Decimal("0.1")):
    """A price on the instrument's tick grid (BTCUSDT: 0.1), as text."""
    return str((Decimal(price) / tick).to_integral_value() * tick)


def touch(http, category="spot", symbol="BTCUSDT"):
    r = http.get_orderbook(category=category, symbol=symbol, limit=1)["result"]
    return Decimal(r["b"][0][0]), Decimal(r["a"][0][0])


# ---- public REST ---------------------------------------------------------


def test_public_rest(public_http):
    assert int(public_http.get_server_time()["result"]["timeSecond"]) > 1_600_000_000
    for category in ("spot", "linear"):
        info = public_http.get_instruments_info(category=category, symbol="BTCUSDT")
        row = info["result"]["list"][0]
        assert row["symbol"] == "BTCUSDT"
        assert Decimal(row["priceFilter"]["tickSize"]) > 0
        bid, ask = touch(public_http, category)
        assert bid < ask
        t = public_http.get_tickers(category=category, symbol="BTCUSDT")["result"]["list"][0]
        assert Decimal(t["bid1Price"]) <= Decimal(t["ask1Price"])
        assert Decimal(t["lastPrice"]) > 0
        # The market's first trades come within moments of its start.
        rows = wait_for("a public trade", lambda: public_http.get_public_trade_history(
            category=category, symbol="BTCUSDT", limit=5)["result"]["list"])
        assert all(r["side"] in ("Buy", "Sell") for r in rows)
        times = [int(r["time"]) for r in rows]
        assert times == sorted(times, reverse=True), "newest first"
    # A category the simulator does not list answers an empty list.
    empty = public_http.get_instruments_info(category="inverse")
    assert empty["retCode"] == 0 and empty["result"]["list"] == []


# ---- private REST --------------------------------------------------------


def test_place_amend_cancel_and_history(http):
    bid, _ = touch(http)
    far = ticks(bid * Decimal("0.9"))
    first = link()
    r = http.place_order(
        category="spot", symbol="BTCUSDT", side="Buy", orderType="Limit",
        qty="0.001", price=far, timeInForce="PostOnly", orderLinkId=first,
    )
    oid = r["result"]["orderId"]
    new_price = ticks(bid * Decimal("0.89"))
    http.amend_order(category="spot", symbol="BTCUSDT", orderId=oid, price=new_price)
    opened = http.get_open_orders(category="spot", symbol="BTCUSDT")["result"]["list"]
    mine = [o for o in opened if o["orderId"] == oid]
    assert mine and Decimal(mine[0]["price"]) == Decimal(new_price)
    http.cancel_order(category="spot", symbol="BTCUSDT", orderLinkId=first)

    batch = http.place_batch_order(
        category="spot",
        request=[
            {"symbol": "BTCUSDT", "side": "Buy", "orderType": "Limit", "qty": "0.001",
             "price": far, "timeInForce": "PostOnly", "orderLinkId": link()}
            for _ in range(2)
        ],
    )
    assert [x["code"] for x in batch["retExtInfo"]["list"]] == [0, 0]
    cancelled = http.cancel_all_orders(category="spot", symbol="BTCUSDT")
    assert len(cancelled["result"]["list"]) == 2
    assert http.get_open_orders(category="spot", symbol="BTCUSDT")["result"]["list"] == []

    # A PostOnly buy above the best ask would cross: the exchange cancels it.
    _, ask = touch(http)
    crossing = link()
    http.place_order(
        category="spot", symbol="BTCUSDT", side="Buy", orderType="Limit",
        qty="0.001", price=str(ask + 10), timeInForce="PostOnly", orderLinkId=crossing,
    )
    hist = http.get_order_history(category="spot", symbol="BTCUSDT", limit=50)["result"]["list"]
    by_link = {o["orderLinkId"]: o for o in hist}
    assert by_link[first]["orderStatus"] == "Cancelled"
    assert by_link[crossing]["orderStatus"] == "Cancelled"
    assert by_link[crossing]["rejectReason"] not in ("", "EC_NoError")


def test_taker_and_maker_fills_positions_and_wallet(http):
    before = http.get_wallet_balance(accountType="UNIFIED", coin="BTC")["result"]["list"][0]
    # Taker: a market buy on linear trades at once.
    r = http.place_order(category="linear", symbol="BTCUSDT", side="Buy",
                         orderType="Market", qty="0.001", orderLinkId=link())
    oid = r["result"]["orderId"]
    execs = wait_for("the taker fill", lambda: [
        e for e in http.get_executions(category="linear", symbol="BTCUSDT")["result"]["list"]
        if e["orderId"] == oid])
    assert execs[0]["isMaker"] is False
    pos = http.get_positions(category="linear", symbol="BTCUSDT")["result"]["list"][0]
    assert pos["side"] == "Buy" and Decimal(pos["size"]) >= Decimal("0.001")
    # Maker: a resting sell at the best ask is bought by the market's flow.
    _, ask = touch(http, "linear")
    r = http.place_order(category="linear", symbol="BTCUSDT", side="Sell", orderType="Limit",
                         qty="0.001", price=str(ask), timeInForce="PostOnly",
                         orderLinkId=link())
    oid = r["result"]["orderId"]
    execs = wait_for("the maker fill", lambda: [
        e for e in http.get_executions(category="linear", symbol="BTCUSDT")["result"]["list"]
        if e["orderId"] == oid], timeout=30)
    assert execs[0]["isMaker"] is True
    after = http.get_wallet_balance(accountType="UNIFIED", coin="BTC")["result"]["list"][0]
    assert after["accountType"] == before["accountType"] == "UNIFIED"


def test_error_codes(http, sim):
    with pytest.raises(InvalidRequestError) as e:
        http.place_order(category="spot", symbol="BTCUSDT", side="Buy", orderType="Limit",
                         qty="0.0000001", price="1", timeInForce="PostOnly")
    assert e.value.status_code != 0
    bad = ut.HTTP(testnet=False, api_key="no-such-key", api_secret="x" * 20)
    bad.endpoint = sim.rest
    with pytest.raises(InvalidRequestError) as e:
        bad.get_open_orders(category="spot", symbol="BTCUSDT")
    assert e.value.status_code == 10003


def test_user_and_account_info(http):
    me = http.get_api_key_information()["result"]
    assert isinstance(me["userID"], int) and me["apiKey"] == KEY
    info = http.get_account_info()["result"]
    assert "unifiedMarginStatus" in info
    coins = http.get_coin_info(coin="BTC")["result"]["rows"]
    assert coins[0]["coin"] == "BTC"


# ---- WebSocket -----------------------------------------------------------


def test_public_ws_book_never_goes_back(at_sim):
    # pybit keeps the book itself: it applies every delta to the snapshot and
    # hands over the whole book, with the last message's `u` (its own object,
    # changed by the next message: copied here as it is handed over).
    got = queue.Queue()
    ws = ut.WebSocket(testnet=False, channel_type="spot")
    try:
        ws.orderbook_stream(
            depth=50, symbol="BTCUSDT", callback=lambda m: got.put(copy.deepcopy(m))
        )
        u = got.get(timeout=10)["data"]["u"]
        for _ in range(100):
            book = got.get(timeout=10)["data"]
            assert book["u"] == u + 1, f"u went from {u} to {book['u']}"
            u = book["u"]
            best_bid = max(Decimal(p) for p, _ in book["b"])
            best_ask = min(Decimal(p) for p, _ in book["a"])
            assert best_bid < best_ask, f"pybit's book is crossed at u={u}"
            assert all(Decimal(q) > 0 for _, q in book["b"] + book["a"])
    finally:
        ws.exit()


def test_private_ws_and_ws_trade(at_sim, http):
    orders = queue.Queue()
    priv = ut.WebSocket(testnet=False, channel_type="private", api_key=KEY, api_secret=SECRET)
    trade = ut.WebSocketTrading(testnet=False, api_key=KEY, api_secret=SECRET)
    try:
        priv.order_stream(callback=orders.put)
        bid, _ = touch(http)
        acks = queue.Queue()
        lid = link()
        trade.place_order(acks.put, acks.put, category="spot", symbol="BTCUSDT", side="Buy",
                          orderType="Limit", qty="0.001", price=ticks(bid * Decimal("0.9")),
                          timeInForce="PostOnly", orderLinkId=lid)
        ack = acks.get(timeout=10)
        assert ack["retCode"] == 0, ack
        oid = ack["data"]["orderId"]

        def pushed(status):
            while True:
                m = orders.get(timeout=10)
                for o in m["data"]:
                    if o["orderId"] == oid and o["orderStatus"] == status:
                        return o

        assert pushed("New")["orderLinkId"] == lid
        trade.cancel_order(acks.put, acks.put, category="spot", symbol="BTCUSDT", orderId=oid)
        assert acks.get(timeout=10)["retCode"] == 0
        assert pushed("Cancelled")["orderId"] == oid
    finally:
        priv.exit()
        trade.exit()
