"""Real inverse books shipped with the package (python/liqcascade/data/README.md): Binance COIN-M
BTCUSD_PERP (contracts of 100 USD) and BitMEX XBTUSD (contracts of 1 USD). Each snapshot is what
its source says it is, OrderBook.from_bitmex_l2 reads BitMEX's rows, and inverse cascades on the
real books keep their invariants (docs/design.md, "Inverse contracts") and show the wrong-way
effect of coin collateral against the same positions as linear contracts."""

from __future__ import annotations

import json
from importlib import resources

import numpy as np
import pytest

import liqcascade as lc

BINANCE_FILE = "binance_coinm_btcusd_perp_depth_20240808.json"
BITMEX_FILE = "bitmex_xbtusd_l2_20210722.json"


def wrapped(name: str) -> dict:
    with (resources.files("liqcascade") / "data" / name).open(encoding="utf-8") as handle:
        return json.load(handle)


# -- the snapshots are what their sources say -----------------------------------------------------

def test_binance_coinm_snapshot_is_the_btcusd_perp_depth_answer():
    w = wrapped(BINANCE_FILE)
    assert w["source"]["repository"] == "https://github.com/nkaz001/hftbacktest"
    assert w["source"]["path"] == "examples/cm/btcusd_perp_20240808.gz"
    assert w["source"]["commit"] == "c4183c646c744222812405fb3618a39ab75a4a8d"
    assert w["licence"].startswith("MIT") and w["trimmed"] is False
    answer = w["answer"]
    assert set(answer) == {"lastUpdateId", "E", "T", "symbol", "pair", "bids", "asks"}
    assert answer["symbol"] == "BTCUSD_PERP" and answer["pair"] == "BTCUSD"
    assert answer["E"] == 1723161257835 and w["retrieved"] == "2024-08-08T23:54:17.835Z"

    book = lc.datasets.binance_coinm_btcusd_depth()
    assert len(book.bid_price) == len(book.ask_price) == 1000  # the endpoint's limit, untrimmed
    assert (book.best_bid, book.best_ask) == (61_804.7, 61_804.8) and book.best_bid < book.best_ask
    assert (book.bid_price[-1], book.ask_price[-1]) == (61_134.9, 62_475.4)
    # quantities are whole contracts of 100 USD, prices on the 0.1 tick
    for qty in (book.bid_qty, book.ask_qty):
        assert np.all(qty >= 1) and np.all(qty == np.round(qty))
    for price in (book.bid_price, book.ask_price):
        np.testing.assert_allclose(price * 10, np.round(price * 10), rtol=0, atol=1e-6)
    assert book.bid_qty.sum() == 513_022 and book.ask_qty.sum() == 269_956
    # in coin: 100 USD a contract is about 835.9 BTC of bids, 434.6 BTC of asks
    assert (book.bid_qty * 100 / book.bid_price).sum() == pytest.approx(835.94, abs=0.01)
    assert (book.ask_qty * 100 / book.ask_price).sum() == pytest.approx(434.59, abs=0.01)
    # nearly simultaneous with the USD-M BTCUSDT snapshot: the two mids within 0.01 %
    assert book.mid == pytest.approx(lc.datasets.binance_btcusdt_depth().mid, rel=1e-4)


def test_bitmex_snapshot_is_the_xbtusd_orderbookl2_partial_cut_to_2_percent():
    w = wrapped(BITMEX_FILE)
    assert w["source"]["repository"] == "https://github.com/bmoscon/cryptofeed"
    assert w["source"]["path"] == "sample_data/BITMEX.ws.1.0"
    assert w["source"]["commit"] == "f60e83950af25be1d51d1aa85a5fd85e12598eff"
    assert "Bryant Moscon" in w["licence"]
    answer = w["answer"]
    assert answer["table"] == "orderBookL2" and answer["action"] == "partial"
    assert answer["filter"] == {"symbol": "XBTUSD"}
    rows = answer["data"]
    assert {r["symbol"] for r in rows} == {"XBTUSD"}
    assert all(set(r) == {"symbol", "id", "side", "size", "price"} for r in rows)
    # BitMEX's row id encodes the price (XBTUSD: 8,800,000,000 - price * 100)
    assert all(r["id"] == 8_800_000_000 - round(r["price"] * 100) for r in rows)
    trimmed = w["trimmed"]
    bids = [r for r in rows if r["side"] == "Buy"]
    asks = [r for r in rows if r["side"] == "Sell"]
    assert (trimmed["kept_bids"], trimmed["kept_asks"], trimmed["kept_rows"]) == (len(bids), len(asks), len(rows))
    assert (trimmed["upstream_bids"], trimmed["upstream_asks"], trimmed["upstream_rows"]) == (5_542, 3_804, 9_346)
    mid = (32_180 + 32_180.5) / 2
    assert all(abs(r["price"] - mid) <= 0.02 * mid for r in rows)

    book = lc.datasets.bitmex_xbtusd_l2()
    assert (len(book.bid_price), len(book.ask_price)) == (682, 578)
    assert (book.best_bid, book.best_ask) == (32_180.0, 32_180.5) and book.best_bid < book.best_ask
    assert (book.bid_price[-1], book.ask_price[-1]) == (31_537.0, 32_822.5)
    np.testing.assert_array_equal(np.diff(book.bid_price) % 0.5, 0.0)  # the 0.5 tick
    # contracts of 1 USD, in lots of 100 (XBTUSD's lot size then)
    for qty in (book.bid_qty, book.ask_qty):
        assert np.all(qty >= 100) and np.all(qty % 100 == 0)
    assert book.bid_qty.sum() == 35_725_700 and book.ask_qty.sum() == 28_480_100
    assert book.bid_qty.sum() == sum(r["size"] for r in bids)


# -- OrderBook.from_bitmex_l2 ---------------------------------------------------------------------

def row(side, price, size, symbol="XBTUSD"):
    """A row as BitMEX sends it (the reader does not use ``id``)."""
    return {"symbol": symbol, "id": 0, "side": side, "size": size, "price": price}


def test_from_bitmex_l2_sorts_sides_merges_prices_and_takes_every_form(tmp_path):
    rows = [row("Sell", 101.0, 5), row("Buy", 99.0, 7), row("Sell", 100.5, 3), row("Buy", 99.5, 2),
            row("Buy", 99.0, 1), row("Sell", "102", "4")]  # a duplicate price; numeric strings
    book = lc.OrderBook.from_bitmex_l2(rows)
    np.testing.assert_array_equal(book.bid_price, [99.5, 99.0])
    np.testing.assert_array_equal(book.bid_qty, [2.0, 8.0])
    np.testing.assert_array_equal(book.ask_price, [100.5, 101.0, 102.0])
    np.testing.assert_array_equal(book.ask_qty, [3.0, 5.0, 4.0])
    partial = {"table": "orderBookL2", "action": "partial", "data": rows}
    path = tmp_path / "l2.json"
    path.write_text(json.dumps(partial), encoding="utf-8")
    for same in (lc.OrderBook.from_bitmex_l2(partial), lc.OrderBook.from_bitmex_l2(path),
                 lc.OrderBook.from_bitmex_l2(str(path))):
        np.testing.assert_array_equal(same.bid_qty, book.bid_qty)
        np.testing.assert_array_equal(same.ask_price, book.ask_price)
    # the shipped file reads the same way as the dataset
    shipped = lc.OrderBook.from_bitmex_l2(wrapped(BITMEX_FILE)["answer"])
    np.testing.assert_array_equal(shipped.bid_price, lc.datasets.bitmex_xbtusd_l2().bid_price)
    # one side may be empty
    assert len(lc.OrderBook.from_bitmex_l2([row("Buy", 99.0, 1)]).ask_price) == 0


@pytest.mark.parametrize(("data", "error", "match"), [
    ([row("Buy", 99.0, 1), {"symbol": "XBTUSD", "side": "Sell", "size": 1}], ValueError, r"^data\[1\]\.price: missing"),
    ([row("buy", 99.0, 1)], ValueError, r"^data\[0\]\.side: expected 'Buy' or 'Sell', got 'buy'"),
    ([row("Buy", 99.0, 0)], ValueError, r"^data\[0\]\.size: must be finite and > 0, got 0"),
    ([row("Buy", 99.0, True)], ValueError, r"^data\[0\]\.size: expected a number"),
    ([row("Buy", "abc", 1)], ValueError, r"^data\[0\]\.price: expected a number, got 'abc'"),
    ([row("Buy", float("nan"), 1)], ValueError, r"^data\[0\]\.price: must be finite and > 0"),
    ([row("Buy", 99.0, 1), row("Sell", 101.0, 1, symbol="ETHUSD")], ValueError,
     r"^data\[1\]\.symbol: expected every row of one symbol \('XBTUSD'\), got 'ETHUSD'"),
    ([row("Buy", 101.0, 1), row("Sell", 100.0, 1)], ValueError, r"crossed"),
    ({"table": "orderBookL2", "action": "update", "data": []}, ValueError, r"^action: expected a 'partial' message"),
    ({"table": "orderBookL2", "action": "partial"}, ValueError, r"^data: missing"),
    ([42], TypeError, r"^data\[0\]: expected an object, got int"),
    (42, TypeError, r"^obj_or_path: expected a list of L2 rows"),
])
def test_from_bitmex_l2_names_the_bad_field(data, error, match):
    with pytest.raises(error, match=match):
        lc.OrderBook.from_bitmex_l2(data)


# -- cascades on the real books -------------------------------------------------------------------

MMR = 0.005


def population(mid, size, median_contracts, n=2_000, seed=0):
    """Leveraged longs and shorts entered around ``mid`` (s.d. 0.4 %), margin in coin; as
    inverse contracts of ``size`` USD and as the same positions in linear terms (BTC quantity
    contracts * size / entry, margin and the book in USD). Positions that either form would
    already be past its liquidation price at ``mid`` are left out (none could be open)."""
    rng = np.random.default_rng(seed)
    side = rng.choice(np.array([1, -1], dtype=np.int8), n)
    contracts = np.maximum(1.0, np.round(rng.lognormal(np.log(median_contracts), 1.0, n)))
    entry = mid * (1 + rng.normal(0.0, 0.004, n))
    leverage = rng.choice([10.0, 20.0, 25.0, 50.0, 75.0, 100.0], n)
    margin = contracts * size / entry / leverage  # coin

    def build(keep):
        inverse = lc.Positions(side[keep], contracts[keep], entry[keep], margin[keep], mmr=MMR,
                               contract="inverse", contract_size=size)
        linear = lc.Positions(side[keep], contracts[keep] * size / entry[keep], entry[keep],
                              margin[keep] * entry[keep], mmr=MMR)
        return inverse, linear

    inverse, linear = build(np.ones(n, dtype=bool))
    live = np.ones(n, dtype=bool)
    for p in (inverse, linear):
        live &= np.where(p.side > 0, p.liquidation_price < mid, p.liquidation_price > mid)
    return build(live)


def linear_book(book, size):
    """The same book in linear terms: a level of q contracts at p is q * size / p BTC."""
    return lc.OrderBook(book.bid_price, book.bid_qty * size / book.bid_price,
                        book.ask_price, book.ask_qty * size / book.ask_price)


MARKETS = {
    # dataset, contract size (USD), median position (contracts), shocks within the snapshot's depth
    "binance_coinm": (lc.datasets.binance_coinm_btcusd_depth, 100.0, 20, (-0.002, -0.004, -0.006, 0.002, 0.004, 0.006)),
    "bitmex_xbtusd": (lc.datasets.bitmex_xbtusd_l2, 1.0, 3_000, (-0.003, -0.006, -0.01, 0.003, 0.006, 0.01)),
}


@pytest.fixture(scope="module", params=sorted(MARKETS))
def market(request):
    load, size, median, shocks = MARKETS[request.param]
    book = load()
    inverse, linear = population(book.mid, size, median)
    assert len(inverse) > 1_900  # almost all of the 2,000 drawn
    return book, size, inverse, linear, shocks


def test_inverse_cascades_on_real_books_keep_their_invariants(market):
    book, size, positions, _, shocks = market
    contracts, liq = positions.qty, positions.liquidation_price
    some = 0
    for shock in shocks:
        r = lc.cascade(book, positions, shock)
        down = shock < 0
        assert r.direction == ("down" if down else "up")
        assert r.ref_price == book.mid and not r.book_exhausted
        assert r.shock_price == pytest.approx(book.mid * (1 + shock), rel=1e-3)
        # the price moved the shock's way and stayed within the snapshot
        if down:
            assert book.bid_price[-1] <= r.final_price <= r.shock_price < book.mid
        else:
            assert book.mid < r.shock_price <= r.final_price <= book.ask_price[-1]
        # only the shock's side is liquidated; filled + unfilled = the triggered positions' contracts
        triggered = r.liquidated_index
        assert np.all(positions.side[triggered] == (1 if down else -1))
        assert r.liquidated_qty + r.unfilled_qty == pytest.approx(contracts[triggered].sum(), rel=1e-12)
        assert r.unfilled_qty == 0.0  # within the depth
        np.testing.assert_allclose(r.liquidated_filled_qty, contracts[triggered], rtol=1e-12)
        # every position whose liquidation price the final price reached is liquidated, no other
        # (away from a threshold that rounds either way: docs/design.md)
        reached = liq >= r.final_price if down else liq <= r.final_price
        reached &= positions.side == (1 if down else -1)
        clear = np.abs(liq / r.final_price - 1) > 1e-9
        np.testing.assert_array_equal(r.liquidated[clear], reached[clear])
        # liquidated_notional is in coin: the fills' value sum(q * size / p), each fill priced
        # between the shock price and the final price
        lo, hi = sorted((r.shock_price, r.final_price))
        filled = r.liquidated_qty
        assert filled * size / hi * (1 - 1e-12) <= r.liquidated_notional <= filled * size / lo * (1 + 1e-12)
        fills = r.liquidated_fill_price
        assert np.all((fills >= lo * (1 - 1e-12)) & (fills <= hi * (1 + 1e-12)))
        # a position's fill price is the harmonic mean of its fills: its coin value is q * size / price
        assert (r.liquidated_filled_qty * size / fills).sum() == pytest.approx(r.liquidated_notional, rel=1e-9)
        assert r.bad_debt >= 0.0
        some += r.n_liquidated > 0 and r.rounds > 1
    assert some >= 2  # real cascades: more than one round


def test_cascade_many_agrees_with_cascade_on_real_books(market):
    book, _, positions, _, shocks = market
    one = [lc.cascade(book, positions, s) for s in shocks]
    for detail in (False, True):
        table = lc.cascade_many(book, positions, list(shocks), detail=detail, threads=2)
        np.testing.assert_array_equal(table.shock, shocks)
        for k, r in enumerate(one):
            assert table.final_price[k] == r.final_price
            assert table.n_liquidated[k] == r.n_liquidated and table.rounds[k] == r.rounds
            assert bool(table.book_exhausted[k]) == r.book_exhausted
            assert table.bad_debt[k] == pytest.approx(r.bad_debt, rel=1e-9, abs=1e-15)
            notional = table.liquidated_notional_long[k] + table.liquidated_notional_short[k]
            assert notional == pytest.approx(r.liquidated_notional, rel=1e-9, abs=1e-15)
            side = table.liquidated_notional_long[k] if r.direction == "down" else table.liquidated_notional_short[k]
            assert side == pytest.approx(r.liquidated_notional, rel=1e-9, abs=1e-15)


def test_coin_collateral_is_wrong_way_on_real_books(market):
    # The same positions and the same book in USD terms, once with coin margin (inverse) and once
    # with USD margin (linear): a coin-margined long loses collateral value as the price falls, so
    # it is liquidated at a higher price, and its order sells a fixed USD amount (more coin as the
    # price falls). A fall cascades at least as far, liquidating a superset of the longs; a rise
    # at most as far (the coin-margined short gains collateral), a subset of the shorts.
    book, size, inverse, linear, shocks = market
    assert np.all(inverse.liquidation_price[inverse.side > 0] > linear.liquidation_price[linear.side > 0])
    assert np.all(inverse.liquidation_price[inverse.side < 0] > linear.liquidation_price[linear.side < 0])
    flat = linear_book(book, size)
    strictly = 0
    for shock in shocks:
        a, b = lc.cascade(book, inverse, shock), lc.cascade(flat, linear, shock)
        assert a.direction == b.direction
        if shock < 0:
            assert a.final_price <= b.final_price * (1 + 1e-12)
            assert np.all(a.liquidated[b.liquidated]) and a.n_liquidated >= b.n_liquidated
            strictly += a.n_liquidated > b.n_liquidated
        else:
            assert a.final_price <= b.final_price * (1 + 1e-12)
            assert np.all(b.liquidated[a.liquidated]) and a.n_liquidated <= b.n_liquidated
            strictly += a.n_liquidated < b.n_liquidated
        # in USD: the inverse orders sell (buy) contracts * size, the linear ones BTC * fill price, and
        # a liquidated long fills below its entry, a short above: more USD sold on a fall, less bought
        # on a rise
        usd_inverse = a.liquidated_qty * size
        usd_linear = float(np.sum(b.liquidated_filled_qty * b.liquidated_fill_price))
        assert usd_inverse >= usd_linear if shock < 0 else usd_inverse <= usd_linear
    assert strictly >= len(shocks) - 1  # the effect shows on (almost) every shock
