"""ccxt's bybit exchange, with its default options, against gapmm-sim.

Only the API base URLs are pointed at the simulator (as a user pointing ccxt
at a private endpoint would); every option is ccxt's default, so the calls
it makes on its own (markets of every category, currencies, the account's
unified status) must be answered as Bybit answers them.
"""

import uuid

import ccxt
import pytest

from conftest import KEY, SECRET, wait_for

SPOT, LINEAR = "BTC/USDT", "BTC/USDT:USDT"


@pytest.fixture(scope="module")
def ex(sim):
    e = ccxt.bybit({"apiKey": KEY, "secret": SECRET})
    e.urls["api"] = {k: sim.rest for k in e.urls["api"]}
    e.load_markets()
    return e


def link():
    return "cx-" + uuid.uuid4().hex[:20]


def test_markets_and_public_data(ex):
    assert SPOT in ex.markets and LINEAR in ex.markets
    assert ex.markets[SPOT]["spot"] and ex.markets[LINEAR]["linear"]
    assert "BTC" in ex.currencies and "USDT" in ex.currencies
    for symbol in (SPOT, LINEAR):
        t = ex.fetch_ticker(symbol)
        assert t["bid"] is not None and t["ask"] is not None and t["bid"] < t["ask"]
        book = ex.fetch_order_book(symbol, 5)
        assert book["bids"][0][0] < book["asks"][0][0]
        trades = ex.fetch_trades(symbol, limit=5)
        assert trades and all(tr["side"] in ("buy", "sell") for tr in trades)
    assert ex.fetch_time() > 1_600_000_000_000


def test_balance(ex):
    b = ex.fetch_balance()
    assert b["total"]["BTC"] > 0 and b["total"]["USDT"] > 0


def test_orders_amend_cancel_and_history(ex):
    bid = ex.fetch_order_book(SPOT, 1)["bids"][0][0]
    price = ex.price_to_precision(SPOT, bid * 0.9)
    o = ex.create_order(SPOT, "limit", "buy", 0.001, price,
                        {"timeInForce": "PO", "clientOrderId": link()})
    new_price = ex.price_to_precision(SPOT, bid * 0.89)
    ex.edit_order(o["id"], SPOT, "limit", "buy", 0.001, new_price)
    open_ = ex.fetch_open_orders(SPOT)
    mine = [x for x in open_ if x["id"] == o["id"]]
    assert mine and mine[0]["price"] == float(new_price)
    ex.cancel_order(o["id"], SPOT)
    assert not [x for x in ex.fetch_open_orders(SPOT) if x["id"] == o["id"]]
    canceled = ex.fetch_canceled_orders(SPOT)
    assert any(x["id"] == o["id"] and x["status"] == "canceled" for x in canceled)


def test_taker_fill_position_and_my_trades(ex):
    o = ex.create_order(LINEAR, "market", "buy", 0.001, None, {"clientOrderId": link()})
    mine = wait_for("the fill in my trades",
                    lambda: [t for t in ex.fetch_my_trades(LINEAR) if t["order"] == o["id"]])
    assert mine[0]["takerOrMaker"] == "taker"
    positions = ex.fetch_positions([LINEAR])
    assert positions and positions[0]["contracts"] >= 0.001 and positions[0]["side"] == "long"


def test_errors_are_ccxt_exceptions(ex, sim):
    with pytest.raises(ccxt.InvalidOrder):
        ex.create_order(SPOT, "limit", "buy", 0.0000001, 1.0)
    bad = ccxt.bybit({"apiKey": "no-such-key", "secret": "x" * 20})
    bad.urls["api"] = {k: sim.rest for k in bad.urls["api"]}
    with pytest.raises(ccxt.AuthenticationError):
        bad.fetch_balance()
