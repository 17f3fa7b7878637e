"""Collateral on an index that follows a market (docs/design.md, "Many markets": Binance's fix
after 10 October 2025, wBETH valued on ETH times its conversion rate), the venue's account
trigger prices and liquidation map ("Liquidation map of a venue"): hand-worked cases, a
brute-force scan of every account's equity against the core's trigger prices, the policy lever
and the 10 October venue preset."""

from __future__ import annotations

import math
import pickle

import numpy as np
import pytest
from hypothesis import given, settings

import liqcascade as lc
from liqcascade.fragility import VenueLiquidationMap, venue_liquidation_map
from liqcascade.policy import with_collateral
from liqcascade.venue import Accounts, Asset, Market, Venue, VenuePositions, VenueState, venue_cascade
from test_venue import venues

pytestmark = pytest.mark.filterwarnings(
    "ignore:positions. .* already past their liquidation price:liqcascade.LiqcascadeWarning")


def ladder(mid: float, step: float, n: int, qty: float) -> lc.OrderBook:
    k = np.arange(1, n + 1)
    return lc.OrderBook(mid - step * k, np.full(n, qty), mid + step * k, np.full(n, qty))


def spiral(asset: Asset) -> tuple[Venue, VenuePositions, Accounts]:
    """README's wrong-way spiral: ETH longs margined in wBETH, whose own book is thin (0.05 a
    level every 10 from 990). Account 0: long 10 ETH at 1,000, 1 wBETH; accounts 1-4: long 2
    ETH at 1,000, 0.25 wBETH each; maintenance 1 % at the mark."""
    venue = Venue([Market("ETHUSDT", ladder(1000.0, 1.0, 400, 50.0)),
                   Market("WBETHUSDT", ladder(1000.0, 10.0, 60, 0.05))], [asset])
    positions = VenuePositions(side=1, qty=[10.0, 2.0, 2.0, 2.0, 2.0], entry_price=1000.0, market="ETHUSDT",
                               account=[0, 1, 2, 3, 4], mmr=0.01)
    return venue, positions, Accounts({"wBETH": np.array([1.0, 0.25, 0.25, 0.25, 0.25])})


def test_index_pricing_stops_the_wrong_way_spiral():
    """ETH -10 % to 900 (the bid at 900 holds 50 units). Account 0: equity p_w + 10 (p - 1,000)
    against 0.1 p; at 900 with wBETH at 1,000 (its own book) or 900 (the index, ratio 1) it is
    -100 or -200 < 90: liquidated in round 1. Its 10 ETH fill at 900; its 1 wBETH walks the
    wBETH book 0.05 a level from 990 to 800, fetching 0.05 x (990 + ... + 800) = 895.
    - Own book: accounts 1-4 then hold wBETH at 800: 0.25 x 800 + 2 (900 - 1,000) = 0 <= 18,
      liquidated in round 2 although ETH alone had not reached them.
    - Index (ETH x 1): 0.25 x 900 - 200 = 25 > 18: they survive; one round; the wBETH book
      still falls to 800 (the sale goes into its own market) but nobody is valued on it.
    Account 0's settlement: 895 + 10 x 900 - 10,000 = -105 either way: bad debt 105."""
    book = venue_cascade(*spiral(Asset("wBETH", priced_by="WBETHUSDT")), shocks={"ETHUSDT": -0.10})
    assert book.rounds == 2 and book.accounts["round"].tolist() == [1, 2, 2, 2, 2]
    index = venue_cascade(*spiral(Asset("wBETH", priced_by="WBETHUSDT", index=("ETHUSDT", 1.0))),
                          shocks={"ETHUSDT": -0.10})
    assert index.rounds == 1 and index.accounts["account"].tolist() == [0]
    assert index.market("WBETHUSDT")["final_price"] == 800.0
    assert index.market("WBETHUSDT")["sold_qty"] == pytest.approx(1.0, rel=1e-12)
    assert index.accounts["equity"][0] == pytest.approx(900.0 + 10 * (900.0 - 1000.0), rel=1e-12)
    assert index.accounts["equity_after"][0] == pytest.approx(-105.0, rel=1e-12)
    assert index.bad_debt == pytest.approx(105.0, rel=1e-12)
    # the survivors are valued on the index at the end: 0.25 x 900 + 2 x (900 - 1,000) = 25
    assert index.equity_after[1:] == pytest.approx([25.0] * 4, rel=1e-12)
    # with no market of its own the balance is not sold: 1 x 900 - 1,000 at settlement
    unsold = venue_cascade(*spiral(Asset("wBETH", index=("ETHUSDT", 1.0))), shocks={"ETHUSDT": -0.10})
    assert unsold.market("WBETHUSDT")["sold_qty"] == 0.0
    assert unsold.accounts["equity_after"][0] == pytest.approx(-100.0, rel=1e-12)


def test_an_index_moves_the_account_with_its_market_not_its_own_book():
    """An account long 10 BTC at 100 (maintenance 1 %: 10 at 100) with 1 wBETH valued on
    ETH x 1 (ETH at 1,000) and a loan of 900 USDT: equity 1,000 - 900 = 100 at the reference.
    Only ETH is shocked, -10 % to 900: equity 0 <= 10, so the account is liquidated in round 1
    and its BTC sale (10 units, 5 a level) takes BTC to 99.8 — an ETH move reaches a BTC book
    through the index. A shock to
    wBETH's own book alone (-50 %) leaves it untouched."""
    venue = Venue([Market("BTCUSDT", ladder(100.0, 0.1, 200, 5.0)), Market("ETHUSDT", ladder(1000.0, 1.0, 200, 5.0)),
                   Market("WBETHUSDT", ladder(1000.0, 10.0, 60, 0.05))],
                  [Asset("wBETH", priced_by="WBETHUSDT", index=("ETHUSDT", 1.0))])
    positions = VenuePositions(side=1, qty=10.0, entry_price=100.0, market=["BTCUSDT"], account=0, mmr=0.01)
    accounts = Accounts({"USDT": np.array([-900.0]), "wBETH": np.array([1.0])})
    r = venue_cascade(venue, positions, accounts, shocks={"ETHUSDT": -0.10})
    assert r.accounts["account"].tolist() == [0] and r.accounts["round"].tolist() == [1]
    assert r.market("BTCUSDT")["liquidated_qty"] == 10.0 and r.market("BTCUSDT")["final_price"] == 99.8
    assert r.market("WBETHUSDT")["sold_qty"] == 1.0
    own_book = venue_cascade(venue, positions, accounts, shocks={"WBETHUSDT": -0.5})
    assert own_book.rounds == 0 and len(own_book.accounts) == 0
    # the trigger prices say the same: p_ETH - 900 <= 10 (BTC at its reference), p_ETH = 910
    trig = VenueState(venue, positions, accounts).trigger_prices
    assert trig["market"].tolist() == ["BTCUSDT", "ETHUSDT"]  # exposed to the index's market, not WBETHUSDT
    assert trig["down"][1] == pytest.approx(910.0, rel=1e-12)


def test_index_floor_and_ratio():
    """Valued at max(ratio x last, floor): 0.5 wBETH-like units at ratio 1.07 on ETH 1,000 are
    535; with a floor of 1,000 they count 500 (0.5 x 1,000)."""
    venue = Venue([Market("ETHUSDT", ladder(1000.0, 1.0, 100, 5.0))],
                  [Asset("X", index=("ETHUSDT", 1.07)), Asset("Y", index=("ETHUSDT", 1.07), floor=1100.0)])
    state = VenueState(venue, VenuePositions(side=1, qty=1.0, entry_price=1000.0, market=["ETHUSDT"], account=0),
                       Accounts({"X": np.array([0.5]), "Y": np.array([0.0])}))
    assert state.equity_before[0] == pytest.approx(0.5 * 1070.0, rel=1e-15)
    both = VenueState(venue, VenuePositions(side=1, qty=1.0, entry_price=1000.0, market=["ETHUSDT"], account=0),
                      Accounts({"X": np.array([0.0]), "Y": np.array([0.5])}))
    assert both.equity_before[0] == 0.5 * 1100.0
    assert both.equity_at({"ETHUSDT": 1100.0})[0] == pytest.approx(0.5 * 1177.0 + 100.0, rel=1e-12)


@pytest.mark.parametrize(("asset", "error", "message"), [
    (lambda: Asset("X", index=("ETHUSDT",)), TypeError, r"index: expected \(market name, ratio\)"),
    (lambda: Asset("X", price=1.0, index=("ETHUSDT", 1.0)), ValueError, "a fixed price excludes"),
    (lambda: Asset("X", index=(1, 1.0)), TypeError, r"index\[0\]: expected a str"),
])
def test_bad_index_names_the_field(asset, error, message):
    with pytest.raises(error, match=message):
        asset()


def test_bad_index_in_a_venue_names_the_asset():
    with pytest.raises(ValueError, match=r"assets\[0\]\.index: no market named 'BTC'"):
        Venue([Market("ETHUSDT", ladder(1000.0, 1.0, 10, 5.0))], [Asset("X", index=("BTC", 1.0))])
    for ratio in (0.0, -1.0, math.inf, math.nan):
        with pytest.raises(ValueError, match=r"assets\[1\]\.index_ratio: must be finite and > 0"):
            Venue([Market("ETHUSDT", ladder(1000.0, 1.0, 10, 5.0))], [Asset("X", index=("ETHUSDT", ratio))])


def test_index_asset_pickles():
    venue, positions, accounts = spiral(Asset("wBETH", priced_by="WBETHUSDT", index=("ETHUSDT", 1.07)))
    state = pickle.loads(pickle.dumps(VenueState(venue, positions, accounts)))
    assert state.venue.assets[0].index == ("ETHUSDT", 1.07)
    assert np.array_equal(state.equity_before, VenueState(venue, positions, accounts).equity_before)


# -- account trigger prices against a brute-force scan ------------------------------------------

def _slack(state: VenueState, market: int, prices: np.ndarray) -> np.ndarray:
    """Equity - maintenance of every account with market ``market`` at each of ``prices`` and
    the others at their reference: one row per price (brute force, O(prices x accounts))."""
    out = []
    for p in prices:
        last = np.array(state.ref_price)
        last[market] = p
        out.append(state.equity_at(last) - state.maintenance_at(last))
    return np.array(out)


@settings(max_examples=60, deadline=None)
@given(case=venues())
def test_trigger_prices_against_a_brute_force_scan(case):
    """For every (account, market) pair: at the core's ``down`` the account is triggered
    (equity <= maintenance) and at every price of a fine grid between it and the reference it
    is not; no grid point below the reference triggers it when ``down`` is NaN. Likewise ``up``
    on a grid to 3x the reference."""
    venue, positions, accounts, _ = case
    try:
        state = VenueState(venue, positions, accounts)
    except ValueError:
        return
    trig = state.trigger_prices
    names = list(venue.market_names)
    for m, name in enumerate(names):
        ref = state.ref_price[m]
        rows = np.flatnonzero(trig["market"] == name)
        if rows.size == 0:
            continue
        acct = trig["account"][rows]
        down, up = trig["down"][rows], trig["up"][rows]
        grid_down = ref * np.linspace(1.0, 0.0, 401)[1:-1]
        grid_up = ref * np.linspace(1.0, 3.0, 401)[1:]
        s_down, s_up = _slack(state, m, grid_down)[:, acct], _slack(state, m, grid_up)[:, acct]
        at_ref = _slack(state, m, [ref])[0, acct]
        for j in range(rows.size):
            tol = 1e-9 * (1.0 + abs(at_ref[j]))
            if not at_ref[j] > 0.0:
                assert down[j] == ref and up[j] == ref
                continue
            for price, grid, slack, beyond in ((down[j], grid_down, s_down[:, j], np.less),
                                               (up[j], grid_up, s_up[:, j], np.greater)):
                if math.isnan(price):
                    assert np.all(slack > -tol), (name, acct[j])
                    continue
                assert _slack(state, m, [price])[0, acct[j]] <= 0.0
                before = ~beyond(grid, price)  # grid points the price passes before reaching it
                assert np.all(slack[before & (grid != price)] > -tol), (name, acct[j])


def test_trigger_prices_hand_worked_with_tiers():
    """A cross long of 1 BTC at 100,000 (Binance-like tiers at the mark) on 10,000 USDT: the
    tier of qty x p below 50,000 of notional has mmr 0.4 %... the core's price is where equity
    meets maintenance, at its tier: 10,000 + (p - 100,000) = mmr_k p - maint_k."""
    tiers = lc.MaintenanceTiers(np.array([0.0, 50_000.0, 250_000.0]), np.array([0.004, 0.005, 0.01]))
    venue = Venue([Market("BTCUSDT", ladder(100_000.0, 1.0, 100, 5.0), tiers=tiers)])
    state = VenueState(venue, VenuePositions(side=1, qty=1.0, entry_price=100_000.0, market=["BTCUSDT"], account=0),
                       Accounts({"USDT": np.array([10_000.0])}))
    floors, mmr, maint = tiers.notional_floor, tiers.mmr, tiers.maint_amount
    k = 1  # 90,000 x 1 is in [50,000, 250,000)
    expected = (100_000.0 - 10_000.0 - maint[k]) / (1.0 - mmr[k])
    assert floors[k] <= expected < floors[k + 1]
    assert state.trigger_prices["down"][0] == pytest.approx(expected, rel=1e-12)
    assert math.isnan(state.trigger_prices["up"][0])


# -- the venue's liquidation map ------------------------------------------------------------------

def test_venue_liquidation_map_isolated_is_the_one_market_map_and_cross_sits_at_trigger_prices():
    venue, positions, accounts = spiral(Asset("wBETH", priced_by="WBETHUSDT", index=("ETHUSDT", 1.0)))
    iso = VenuePositions(side=[1, -1], qty=[3.0, 2.0], entry_price=1000.0, market="ETHUSDT", margin=[100.0, 100.0],
                         mmr=0.01)
    both = VenuePositions(np.concatenate([positions.side, iso.side]), np.concatenate([positions.qty, iso.qty]),
                          1000.0, market="ETHUSDT", margin=np.r_[np.zeros(5), iso.margin],
                          account=np.r_[positions.account, [-1, -1]], mmr=0.01)
    state = VenueState(venue, both, accounts)
    maps = venue_liquidation_map(state, width=0.3, buckets=60)
    assert set(maps) == {"ETHUSDT", "WBETHUSDT"}
    eth = maps["ETHUSDT"]
    assert isinstance(eth, VenueLiquidationMap)
    one = lc.liquidation_map(lc.Positions(np.array([1, -1], dtype=np.int8), np.array([3.0, 2.0]),
                                          np.array([1000.0, 1000.0]), np.array([100.0, 100.0]), mmr=0.01),
                             1000.0, edges=eth.edges)
    assert np.array_equal(eth.isolated_long, one.long) and np.array_equal(eth.isolated_short, one.short)
    # cross: account 0 at 10,000 / 10.9 (10 ETH), accounts 1-4 at 2,000 / 2.23 (2 ETH each)
    p0, p1 = 10_000.0 / 10.9, 2_000.0 / 2.23
    trig = state.trigger_prices
    assert trig["down"][:5] == pytest.approx([p0, p1, p1, p1, p1], rel=1e-12)
    k0, k1 = np.searchsorted(eth.edges, [p0, p1], side="right") - 1
    assert eth.cross_long[k0] == pytest.approx(10 * p0, rel=1e-12)
    assert eth.cross_long[k1] == pytest.approx(4 * 2 * p1, rel=1e-12)
    assert eth.cross_long.sum() == pytest.approx(10 * p0 + 8 * p1, rel=1e-12)
    assert eth.cross_short.sum() == 0.0 and eth.accounts.sum() == 5
    assert np.array_equal(eth.long, eth.isolated_long + eth.cross_long)
    assert "cross_long" in eth.to_table().columns
    # wBETH has no positions and no account is valued on it: an empty map
    assert maps["WBETHUSDT"].long.sum() == 0.0 and maps["WBETHUSDT"].accounts.sum() == 0
    one_market = venue_liquidation_map(state, "ETHUSDT", edges=eth.edges)
    assert np.array_equal(one_market.long, eth.long)


def test_venue_liquidation_map_bad_input():
    state = VenueState(*spiral(Asset("wBETH", priced_by="WBETHUSDT")))
    with pytest.raises(TypeError, match="state: expected liqcascade.venue.VenueState"):
        venue_liquidation_map(object())  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="no market named 'BTC'"):
        venue_liquidation_map(state, "BTC")
    with pytest.raises(ValueError, match="edges: give a market"):
        venue_liquidation_map(state, edges=[1.0, 2.0])
    with pytest.raises(ValueError, match="width"):
        venue_liquidation_map(state, "ETHUSDT", width=2.0)


# -- the lever and the preset -------------------------------------------------------------------

def test_with_collateral_index_that_follows_a_market():
    venue, positions, accounts = spiral(Asset("wBETH", priced_by="WBETHUSDT", haircut=0.05))
    follows = with_collateral(venue, pricing="index", index={"wBETH": "ETHUSDT"})
    a = follows.assets[0]
    # the ratio: wBETH's reference over ETH's (both books' mids: 1,000 / 1,000)
    assert a.index == ("ETHUSDT", 1.0) and a.priced_by == "WBETHUSDT" and a.haircut == 0.05
    assert with_collateral(venue, index={"wBETH": ("ETHUSDT", 1.07)}).assets[0].index == ("ETHUSDT", 1.07)
    # kept when another lever is pulled; back to its book on request; a fixed index on request
    assert with_collateral(follows, haircut=0.1).assets[0].index == ("ETHUSDT", 1.0)
    assert with_collateral(follows, pricing="book").assets[0] == Asset("wBETH", priced_by="WBETHUSDT", haircut=0.05)
    fixed = with_collateral(follows, pricing="index", index_price={"wBETH": 950.0}).assets[0]
    assert fixed.price == 950.0 and fixed.index is None
    r = venue_cascade(follows, positions, accounts, shocks={"ETHUSDT": -0.10})
    assert r.rounds == 1
    with pytest.raises(ValueError, match=r"index\['wBETH'\]: no market named 'BTC'"):
        with_collateral(venue, index={"wBETH": "BTC"})
    with pytest.raises(ValueError, match=r"index\['wBETH'\]: an index needs pricing 'index'"):
        with_collateral(venue, pricing="book", index={"wBETH": "ETHUSDT"})
    with pytest.raises(TypeError, match="index: expected a dict"):
        with_collateral(venue, index="ETHUSDT")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"index\['wBETH'\]\[1\]"):
        with_collateral(venue, index={"wBETH": ("ETHUSDT", -1.0)})


def test_october_10_venue_with_a_following_index():
    """The preset's trigger under three pricings: own books (the night), a fixed index (wBETH
    at its pre-shock 4,400) and wBETH on ETH x its conversion rate (Binance's fix). The index
    that follows ETH values wBETH lower than the fixed one (ETH fell), so it liquidates more
    than the fixed index and far less than the own books."""
    preset = lc.scenarios.october_10_2025_venue(accounts=4_000, isolated=4_000)
    runs = {label: preset.cascade(v) for label, v in (("book", preset.venue), ("fixed", preset.index_priced(False)),
                                                       ("follows", preset.index_priced()))}
    n = {k: len(r.accounts) for k, r in runs.items()}
    assert n["fixed"] <= n["follows"] < n["book"] / 2
    wbeth = preset.index_priced().assets[0]
    assert wbeth.index == ("ETHUSDT", pytest.approx(4_400.0 / 4_100.0, rel=1e-12))
    assert runs["follows"].market("WBETHUSDT")["sold_qty"] > 0.0   # still sold into its own book
    assert runs["fixed"].market("WBETHUSDT")["sold_qty"] == 0.0


def test_venue_liquidation_map_plot_headless():
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import io

    import matplotlib.pyplot as plt

    from liqcascade import plot

    state = VenueState(*spiral(Asset("wBETH", priced_by="WBETHUSDT", index=("ETHUSDT", 1.0))))
    maps = venue_liquidation_map(state, width=0.3, buckets=30)
    fig = plot.venue_liquidation_map(maps)
    panels = [a for a in fig.axes if a.get_ylabel() == "$M per bucket"]
    assert [p.get_title(loc="left").split(":")[0] for p in panels] == ["ETHUSDT", "WBETHUSDT"]
    eth = panels[0]
    heights = np.array([b.get_height() for b in eth.patches]).reshape(4, 30)   # 4 stacked series
    np.testing.assert_allclose(heights[1], maps["ETHUSDT"].cross_long / 1e6)
    np.testing.assert_allclose(heights.sum(axis=0), (maps["ETHUSDT"].long + maps["ETHUSDT"].short) / 1e6)
    assert eth.get_lines()[0].get_xdata()[0] == maps["ETHUSDT"].ref_price
    assert panels[-1].get_xlabel().startswith("price")
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    assert buffer.getvalue()[:8] == b"\x89PNG\r\n\x1a\n"
    plt.close(fig)
    # one market's map, on the caller's Axes; and the one-market picture takes it too
    fig, axes = plt.subplots(1, 1)
    assert plot.venue_liquidation_map(maps["ETHUSDT"], ax=[axes]) is fig
    assert plot.liquidation_map(maps["ETHUSDT"], ax=axes) is fig
    with pytest.raises(ValueError, match="one per market"):
        plot.venue_liquidation_map(maps, ax=[axes])
    with pytest.raises(TypeError, match="maps: expected"):
        plot.venue_liquidation_map({"x": 1})  # type: ignore[dict-item]
    plt.close(fig)


def test_venue_policy_comparison_label_keeps_its_dollar_signs():
    """Regression: VENUE_METRICS' "liquidated notional ($, all markets)" and the "[$M]" unit put two
    dollar signs in one axis label, which matplotlib read as mathtext ("(, allmarkets)"): they
    are escaped."""
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import re

    import matplotlib.pyplot as plt

    from liqcascade import plot
    from liqcascade.policy import compare_venue_policies

    preset = lc.scenarios.october_10_2025_venue(accounts=300, isolated=300)
    state = preset.state()
    comparison = compare_venue_policies(state, preset.study_shocks, 4, 0,
                                        variants={"own books": None, "follows": preset.index_priced()})
    fig = plot.policy_comparison(comparison, "liquidated_notional")
    label = fig.axes[0].get_xlabel()
    assert label == r"difference from own books: liquidated notional (\$, all markets) [\$M]"
    assert not re.search(r"(?<!\\)\$", label)   # no unescaped dollar sign left for mathtext
    fig.canvas.draw()
    plt.close(fig)
