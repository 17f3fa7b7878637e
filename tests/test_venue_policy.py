"""Venue levers (collateral haircuts and index pricing), their paired comparison over a venue
study, and the 10 October 2025 venue preset."""

from __future__ import annotations

import math

import numpy as np
import pytest

import liqcascade as lc
from liqcascade.policy import VENUE_METRICS, compare_venue_policies, with_collateral
from liqcascade.venue import Accounts, Asset, Market, Venue, VenuePositions, VenueState, venue_cascade


def ladder(mid, step, n, qty):
    k = np.arange(1, n + 1)
    return lc.OrderBook(mid - step * k, np.full(n, qty), mid + step * k, np.full(n, qty))


@pytest.fixture()
def wrong_way():
    venue = Venue([Market("ETHUSDT", ladder(1000.0, 1.0, 400, 50.0)),
                   Market("WBETHUSDT", ladder(1000.0, 10.0, 60, 0.05))],
                  [Asset("wBETH", priced_by="WBETHUSDT", haircut=0.0)])
    positions = VenuePositions(side=1, qty=[10.0, 2.0, 2.0, 2.0, 2.0], entry_price=1000.0,
                               market="ETHUSDT", account=[0, 1, 2, 3, 4], mmr=0.01)
    accounts = Accounts({"wBETH": np.array([1.0, 0.25, 0.25, 0.25, 0.25])})
    return venue, positions, accounts


def test_with_collateral_index_is_the_reference_and_keeps_markets(wrong_way):
    venue, _, _ = wrong_way
    indexed = with_collateral(venue, pricing="index")
    assert indexed.market_names == venue.market_names
    (asset,) = indexed.assets
    assert asset.priced_by is None and asset.price == pytest.approx(1000.0)   # the wBETH book's mid
    assert with_collateral(venue, pricing="index", index_price={"wBETH": 930.0}).assets[0].price == 930.0
    assert with_collateral(venue, haircut=0.1).assets[0] == Asset("wBETH", priced_by="WBETHUSDT", haircut=0.1)
    assert with_collateral(venue, haircut={"wBETH": 0.2}).assets[0].haircut == 0.2
    # back to its book: only an asset the venue prices on a book has one
    with pytest.raises(ValueError, match="needs a market"):
        with_collateral(indexed, pricing="book")
    with pytest.raises(ValueError, match="no collateral asset named 'USDe'"):
        with_collateral(venue, haircut={"USDe": 0.1})
    with pytest.raises(ValueError, match="expected 'book' or 'index'"):
        with_collateral(venue, pricing="mark")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="haircut"):
        with_collateral(venue, haircut=1.5)
    assert with_collateral(venue).assets == venue.assets


def test_haircut_lowers_equity(wrong_way):
    venue, positions, accounts = wrong_way
    before = VenueState(venue, positions, accounts).equity_before
    after = VenueState(with_collateral(venue, haircut=0.1), positions, accounts).equity_before
    np.testing.assert_allclose(before - after, 0.1 * 1000.0 * np.array([1.0, 0.25, 0.25, 0.25, 0.25]))


def test_index_pricing_stops_the_wrong_way_spiral(wrong_way):
    venue, positions, accounts = wrong_way
    book = venue_cascade(venue, positions, accounts, shocks={"ETHUSDT": -0.10})
    index = venue_cascade(with_collateral(venue, pricing="index"), positions, accounts, shocks={"ETHUSDT": -0.10})
    assert book.accounts["account"].tolist() == [0, 1, 2, 3, 4]
    assert index.accounts["account"].tolist() == [0]             # its wBETH is not sold into the thin book
    assert index.markets["final_move"][1] == 0.0


@pytest.fixture(scope="module")
def preset():
    return lc.scenarios.october_10_2025_venue()


def test_october_venue_preset_reproduces_the_prints(preset):
    result = preset.cascade()
    moves = dict(zip(result.markets["market"].tolist(), result.markets["final_price"].tolist(), strict=True))
    assert moves["WBETHUSDT"] == pytest.approx(440.0)            # printed ~430 on Binance
    assert moves["USDEUSDT"] == pytest.approx(0.65, abs=0.01)    # printed ~0.65 on Binance
    assert -0.175 < result.markets["final_move"][0] < -0.12      # BTC: -14.5 % to -17.3 % reported
    assert preset.trigger == {"BTCUSDT": -0.05, "ETHUSDT": -0.08}
    for key in ("trigger", "btc_before", "liquidity", "collateral", "wbeth", "usde", "index_lever"):
        assert key in preset.sources


def test_october_venue_index_pricing_contains_the_cascade(preset):
    book = preset.cascade()
    index = preset.cascade(preset.index_priced(follow=False))   # fixed indexes: never sold
    assert len(index.accounts) < len(book.accounts) / 3
    assert index.bad_debt < book.bad_debt / 3
    assert index.markets["final_move"][0] > book.markets["final_move"][0]
    assert index.markets["sold_notional"].sum() == 0.0
    follows = preset.cascade(preset.index_priced())   # wBETH on ETH: still sold into its own book
    assert len(follows.accounts) < len(book.accounts) / 3
    assert follows.market("WBETHUSDT")["sold_notional"] > 0.0 and follows.market("USDEUSDT")["sold_notional"] == 0.0


def test_compare_venue_policies_is_paired():
    preset = lc.scenarios.october_10_2025_venue(accounts=2_000, isolated=2_000)
    state = preset.state()
    n, seed = 60, 3
    comparison = compare_venue_policies(
        state, preset.study_shocks, n, seed,
        variants={"own book": None, "index": with_collateral(state.venue, pricing="index"),
                  "haircut 20 %": lambda v: with_collateral(v, haircut=0.2)})
    assert comparison.baseline == "own book" and comparison.n_scenarios == n
    assert set(comparison.table["metric"]) == set(VENUE_METRICS)
    assert len(comparison.table) == 3 * len(VENUE_METRICS)
    base = lc.venue_monte_carlo(state, preset.study_shocks, n, seed, progress=False)
    np.testing.assert_array_equal(comparison.rows["own book"]["bad_debt"], base["bad_debt"])
    assert comparison.get("own book", "bad_debt")["diff"] == 0.0
    x = comparison.rows["index"]["accounts_liquidated"].astype(float)
    b = base["accounts_liquidated"].astype(float)
    got = comparison.get("index", "accounts_liquidated")
    assert got["mean"] == pytest.approx(x.mean())
    assert got["diff"] == pytest.approx((x - b).mean())
    assert got["diff_stderr"] == pytest.approx((x - b).std(ddof=1) / math.sqrt(n))
    assert got["diff"] < 0.0 and got["diff_stderr"] < got["unpaired_stderr"]
    assert comparison.get("haircut 20 %", "accounts_liquidated")["diff"] >= 0.0
    assert comparison.venues["index"].assets[0].priced_by is None
    text = str(comparison)
    assert "own book" in text and "accounts_liquidated" in text and "$" in text


def test_compare_venue_policies_checks_its_inputs(preset):
    state = preset.state()
    with pytest.raises(TypeError, match="state"):
        compare_venue_policies(preset.venue, preset.study_shocks, 4, variants={"a": None})
    with pytest.raises(ValueError, match="baseline"):
        compare_venue_policies(state, preset.study_shocks, 4, variants={"a": None}, baseline="b")
    other = Venue([Market("X", ladder(1.0, 0.01, 10, 1.0))])
    with pytest.raises(ValueError, match="markets"):
        compare_venue_policies(state, preset.study_shocks, 4, variants={"a": None, "b": other})
    with pytest.raises(TypeError, match="variants"):
        compare_venue_policies(state, preset.study_shocks, 4, variants={"a": 3})


def test_venue_panels_headless(wrong_way):
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import io

    import matplotlib.pyplot as plt

    from liqcascade import plot

    venue, positions, accounts = wrong_way
    result = venue_cascade(venue, positions, accounts, shocks={"ETHUSDT": -0.10})
    fig = plot.venue_panels(result)
    panels = [a for a in fig.axes if a.get_ylabel() == "move [%]"]
    assert len(panels) == 2
    assert panels[0].get_title(loc="left").startswith("ETHUSDT") and panels[1].get_title(loc="left").startswith(
        "WBETHUSDT")
    assert panels[-1].get_xlabel() == "round"
    (line,) = panels[1].get_lines()[:1]
    np.testing.assert_allclose(line.get_ydata()[-1], result.markets["final_move"][1] * 100.0)
    assert line.get_ydata()[0] == 0.0                                  # wBETH was not shocked
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    assert buffer.getvalue()[:8] == b"\x89PNG\r\n\x1a\n"
    plt.close(fig)
    fig, axes = plt.subplots(1, 2)
    assert plot.venue_panels(result, ax=axes) is fig
    with pytest.raises(ValueError, match="one per market"):
        plot.venue_panels(result, ax=axes[:1])
    plt.close(fig)
