"""The venues' margin rules (docs/design.md, "Margin"): the margin basis, the close fee in the
requirement, the tier at the liquidation price, leverage limits — against the venues' own
published worked examples (sources in comments), closed forms, and the literal reference
model (tests/reference.py) on random inputs that cross tier boundaries."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import liqcascade as lc
import reference as ref

BINANCE = lc.MaintenanceTiers.binance_btcusdt()


# -- published worked examples ------------------------------------------------------------------

def test_bybit_isolated_example_entry_basis():
    # Bybit Help Centre, "Liquidation Price (USDT Contract)": long 1 BTC at 20,000 with 50x
    # leverage (initial margin 400), maintenance margin rate 0.5 % -> liquidation price
    # 20,000 - (400 - 100) = 19,700. (A requirement valued at the mark gives 19,698.49.)
    p = lc.Positions.from_leverage(1, 1.0, 20_000.0, 50.0, mmr=0.005, basis="entry")
    assert p.liquidation_price[0] == pytest.approx(19_700.0, abs=1e-9)
    mark = lc.Positions.from_leverage(1, 1.0, 20_000.0, 50.0, mmr=0.005)
    assert round(mark.liquidation_price[0], 2) == 19_698.49


def test_bitmex_cross_example_entry_basis():
    # BitMEX "Liquidation" guide, cross-margin example: 20 ETHUSDT contracts (1 ETH each) at
    # 1,000 with a wallet of 10,000 USDT, maintenance 1 % of the entry value -> bankruptcy 500,
    # liquidation 510 (the engine at mark basis gave 505.05).
    p = lc.Positions(1, 20.0, 1_000.0, 10_000.0, mmr=0.01, basis="entry")
    assert p.bankruptcy_price[0] == pytest.approx(500.0)
    assert p.liquidation_price[0] == pytest.approx(510.0)
    assert round(lc.Positions(1, 20.0, 1_000.0, 10_000.0, mmr=0.01).liquidation_price[0], 2) == 505.05


def test_one_x_long_on_bybit_has_a_liquidation_price():
    # At entry basis a fully collateralised long still has a requirement: it is liquidated at
    # entry * mmr (here 20,000 * 0.5 % = 100); at mark basis its liquidation price is <= 0.
    entry = lc.Positions.from_leverage(1, 1.0, 20_000.0, 1.0, mmr=0.005, basis="entry")
    assert entry.liquidation_price[0] == pytest.approx(100.0)
    assert lc.Positions.from_leverage(1, 1.0, 20_000.0, 1.0, mmr=0.005).liquidation_price[0] <= 0.0


def test_binance_example_still_to_the_tenth():
    # Binance "How to Calculate Liquidation Price of USDⓈ-M Futures": long 1 BTC at 100,000 with
    # 5,000 margin, bracket mmr 0.5 %, cum 50 -> 95,427.1.
    p = lc.Positions(1, 1.0, 100_000.0, 5_000.0, mmr=0.005, maint_amount=50.0)
    assert round(p.liquidation_price[0], 1) == 95_427.1


def test_close_fee_moves_the_liquidation_price_by_the_fee():
    # OKX/Gate count the closing taker fee in maintenance: MM = mmr*qty*p + fee*qty*p. At mark
    # basis it adds to mmr: p_liq = (entry - margin/qty) / (1 - mmr - fee) for a long, so a
    # 0.06 % fee moves the liquidation price up by ~0.06 % of it (exactly a factor
    # (1 - mmr) / (1 - mmr - fee)).
    base = lc.Positions.from_leverage([1, -1], 1.0, 100_000.0, 20.0, mmr=0.005)
    fee = lc.Positions.from_leverage([1, -1], 1.0, 100_000.0, 20.0, mmr=0.005, close_fee=0.0006)
    assert fee.close_fee == 0.0006 and fee.basis == "mark"
    np.testing.assert_allclose(fee.liquidation_price[0] / base.liquidation_price[0], 0.995 / (0.995 - 0.0006))
    np.testing.assert_allclose(fee.liquidation_price[1] / base.liquidation_price[1], 1.005 / (1.005 + 0.0006))
    rel = fee.liquidation_price / base.liquidation_price - 1.0
    assert 0.0006 < rel[0] < 0.00061 and -0.0006 < rel[1] < -0.00059
    # at the price, equity equals the requirement (fee included)
    p = fee.liquidation_price[0]
    equity = 5_000.0 + (p - 100_000.0)
    assert equity == pytest.approx(ref.requirement(1.0, 100_000.0, p, 0.005, 0.0, "mark", 0.0006), rel=1e-12)


# -- the tier at the liquidation price ----------------------------------------------------------

def test_a_position_that_crosses_a_bracket_takes_the_tier_at_its_liquidation_price():
    # 0.52 BTC at 100,000 = 52,000 of notional: Binance's second bracket (50k-600k, 0.5 %, cum
    # 50) by entry. At 20x it is liquidated near 95,400, where its notional (~49,600) is in the
    # first bracket (0.4 %, cum 0): Binance recomputes with that bracket.
    p = lc.Positions.from_leverage(1, 0.52, 100_000.0, 20.0, tiers=BINANCE)
    assert p.mmr[0] == 0.004 and p.maint_amount[0] == 0.0
    liq = p.liquidation_price[0]
    assert 0.52 * liq <= 50_000.0
    assert liq == pytest.approx((52_000 - 2_600) / (0.52 * 0.996))
    at_entry = lc.Positions.from_leverage(1, 0.52, 100_000.0, 20.0, tiers=BINANCE, tier_rule="entry")
    # the entry rule liquidates it later than the venue would (95,380.7 against 95,381.5)
    assert at_entry.mmr[0] == 0.005 and at_entry.liquidation_price[0] < liq
    # equity = requirement at the price, in the tier of the notional at that price
    assert 2_600 + 0.52 * (liq - 100_000) == pytest.approx(BINANCE.requirement(0.52 * liq)[0], rel=1e-9)


def test_a_short_that_grows_into_the_next_bracket():
    # A short's notional grows as the price rises: 0.49 BTC at 100,000 (49,000, first bracket)
    # at 20x is liquidated near 104,500, at a notional of ~51,200: the second bracket's.
    p = lc.Positions.from_leverage(-1, 0.49, 100_000.0, 20.0, tiers=BINANCE)
    liq = p.liquidation_price[0]
    assert 0.49 * liq > 50_000.0 and p.mmr[0] == 0.005 and p.maint_amount[0] == 50.0
    assert 2_450 - 0.49 * (liq - 100_000) == pytest.approx(BINANCE.requirement(0.49 * liq)[0], rel=1e-9)


def rule_inputs():
    floors = st.lists(st.floats(1.0, 1e6), min_size=1, max_size=6, unique=True).map(lambda f: [0.0] + sorted(f))
    return st.tuples(
        floors,
        st.lists(st.floats(0.0, 0.3), min_size=7, max_size=7),
        st.lists(st.tuples(st.sampled_from([1, -1]), st.floats(0.01, 50.0), st.floats(50.0, 150.0),
                           st.floats(1.0, 100.0)), min_size=1, max_size=30),
        st.sampled_from([0.0, 0.0006, 0.002]),
    )


@settings(max_examples=150, deadline=None)
@given(rule_inputs())
def test_engine_tiers_agree_with_the_literal_rule(args):
    floors, rates, rows, fee = args
    mmr = sorted(rates[: len(floors)])  # rates rising with the notional, as every venue's
    tiers = lc.MaintenanceTiers(floors, mmr)  # continuous cum
    side, qty, entry, lev = (list(x) for x in zip(*rows, strict=False))
    margin = [q * e / v for q, e, v in zip(qty, entry, lev, strict=False)]
    p = lc.Positions(side, qty, entry, margin, tiers=tiers, close_fee=fee)
    maint = tiers.maint_amount.tolist()
    e_mmr, e_maint, e_margin = ref.assign_tiers(side, qty, entry, margin, floors, mmr, maint, close_fee=fee)
    assert p.mmr.tolist() == e_mmr and p.maint_amount.tolist() == e_maint and p.margin.tolist() == e_margin
    for i in range(len(side)):
        expected = ref.liquidation_price_rule(side[i], qty[i], entry[i], margin[i], e_mmr[i], e_maint[i], "mark", fee)
        assert p.liquidation_price[i] == expected  # to the bit
        # the literal venue rule: the tier found is the one whose liquidation notional lies in
        # its own range (one such tier for a continuous table, but for rounding at a boundary)
        own = ref.tiers_in_own_range(side[i], qty[i], entry[i], margin[i], floors, mmr, maint, fee)
        k = mmr.index(e_mmr[i]) if mmr.count(e_mmr[i]) == 1 else None
        if len(own) == 1 and k is not None:
            assert own == [k]


@settings(max_examples=100, deadline=None)
@given(rule_inputs(), st.sampled_from(["mark", "entry"]), st.sampled_from(["liquidation", "entry"]))
def test_engine_prices_agree_with_the_reference_for_each_basis(args, basis, tier_rule):
    floors, rates, rows, fee = args
    mmr = sorted(rates[: len(floors)])
    tiers = lc.MaintenanceTiers(floors, mmr)
    side, qty, entry, lev = (list(x) for x in zip(*rows, strict=False))
    margin = [q * e / v for q, e, v in zip(qty, entry, lev, strict=False)]
    if basis == "entry" and tier_rule == "liquidation":
        with pytest.raises(ValueError, match="^tier_rule: "):
            lc.Positions(side, qty, entry, margin, tiers=tiers, basis=basis, tier_rule=tier_rule)
        return
    p = lc.Positions(side, qty, entry, margin, tiers=tiers, basis=basis, close_fee=fee, tier_rule=tier_rule)
    maint = tiers.maint_amount.tolist()
    e_mmr, e_maint, _ = ref.assign_tiers(side, qty, entry, margin, floors, mmr, maint, basis=basis, close_fee=fee,
                                         tier_rule=tier_rule)
    assert p.mmr.tolist() == e_mmr and p.maint_amount.tolist() == e_maint
    for i in range(len(side)):
        liq = ref.liquidation_price_rule(side[i], qty[i], entry[i], margin[i], e_mmr[i], e_maint[i], basis, fee)
        assert p.liquidation_price[i] == liq
        if math.isfinite(liq) and liq > 0:  # at the price, equity equals the requirement
            equity = margin[i] + side[i] * qty[i] * (liq - entry[i])
            need = ref.requirement(qty[i], entry[i], liq, e_mmr[i], e_maint[i], basis, fee)
            assert equity == pytest.approx(need, rel=1e-6, abs=1e-6 * qty[i] * entry[i])


def test_population_samples_follow_the_same_rules():
    # The study sampler resolves tiers and caps leverage as Positions does: a sample's columns
    # rebuilt through Positions(tiers=...) give the same tiers, margins and prices, to the bit.
    population = lc.PositionPopulation(count=20_000)
    s = population.sample(seed=3)
    rebuilt = lc.Positions(s.side, s.qty, s.entry_price, s.margin, tiers=population.tiers)
    np.testing.assert_array_equal(rebuilt.mmr, s.mmr)
    np.testing.assert_array_equal(rebuilt.maint_amount, s.maint_amount)
    np.testing.assert_array_equal(rebuilt.liquidation_price, s.liquidation_price)
    # every sampled position is within its entry tier's max_leverage (whales drawn at the cap)
    cap = population.tiers.max_leverage[population.tiers.tier_of(s.notional)]
    assert np.all(s.leverage <= cap * (1 + 1e-9))
    entry_rule = lc.PositionPopulation(count=20_000, tier_rule="entry").sample(seed=3)
    mmr, _ = population.tiers.assign(entry_rule.qty * entry_rule.entry_price)
    assert np.mean(mmr == entry_rule.mmr) > 0.999  # (the drawn notional's tier; qty*entry may round across)
    fee = lc.PositionPopulation(count=5_000, close_fee=0.0006, basis="mark").sample(seed=1)
    assert fee.close_fee == 0.0006
    bybit = lc.PositionPopulation(count=5_000, basis="entry").sample(seed=1)
    assert bybit.basis == "entry"
    np.testing.assert_array_equal(
        bybit.liquidation_price,
        [ref.liquidation_price_rule(int(a), b, c, d, e, f, "entry") for a, b, c, d, e, f in
         zip(bybit.side, bybit.qty, bybit.entry_price, bybit.margin, bybit.mmr, bybit.maint_amount, strict=False)])


# -- leverage limits ------------------------------------------------------------------------------

def test_leverage_above_the_tiers_max_leverage_is_rejected_or_clipped():
    # A $10B long at 125x: Binance's last bracket allows 1x.
    with pytest.raises(ValueError, match=r"^leverage\[0\]: position 0 is levered 125x .* max_leverage 1x"):
        lc.Positions.from_leverage(side=[1, 1], qty=[100_000.0, 0.5], entry_price=100_000.0, leverage=[125, 10],
                                   tiers=BINANCE)
    with pytest.raises(ValueError, match=r"^leverage\[0\]: .* 1000x .* max_leverage 100x"):
        lc.Positions([1], [1.0], [100_000.0], [100.0], tiers=BINANCE)  # 1,000x on $100k: the bracket allows 100x
    clipped = lc.Positions([1], [1.0], [100_000.0], [100.0], tiers=BINANCE, leverage_limit="clip")
    assert clipped.margin[0] == pytest.approx(1_000.0) and clipped.leverage[0] == pytest.approx(100.0)
    kept = lc.Positions([1], [1.0], [100_000.0], [100.0], tiers=BINANCE, leverage_limit="ignore")
    assert kept.margin[0] == 100.0
    # at the limit is within it; no table, no limit
    lc.Positions.from_leverage(side=[1, -1], qty=[0.5, 2.0], entry_price=61_950.0, leverage=[125, 100], tiers=BINANCE)
    lc.Positions([1], [1.0], [100_000.0], [100.0], mmr=0.005)
    with pytest.raises(ValueError, match="^leverage_limit: expected one of"):
        lc.Positions([1], [1.0], [100_000.0], [100.0], tiers=BINANCE, leverage_limit="cap")
    with pytest.raises(ValueError, match="^leverage_limit: "):
        lc.PositionPopulation(leverage_limit="reject")


def test_bad_margin_rule_inputs_name_their_field():
    with pytest.raises(ValueError, match="^basis: expected one of 'mark', 'entry'"):
        lc.Positions(1, 1.0, 100.0, 5.0, basis="cross")
    with pytest.raises(ValueError, match=r"^close_fee: must be in \[0, 1\)"):
        lc.Positions(1, 1.0, 100.0, 5.0, close_fee=-0.001)
    with pytest.raises(TypeError, match="^close_fee: "):
        lc.Positions(1, 1.0, 100.0, 5.0, close_fee="0.1")
    with pytest.raises(ValueError, match=r"^mmr\[0\]: plus close_fee must be < 1"):
        lc.Positions(1, 1.0, 100.0, 5.0, mmr=0.6, close_fee=0.5)
    with pytest.raises(ValueError, match="^tier_rule: expected one of"):
        lc.Positions(1, 1.0, 100.0, 5.0, tiers=BINANCE, tier_rule="exit")
    with pytest.raises(ValueError, match=r"^max_leverage\[1\]: must be finite and > 0"):
        lc.MaintenanceTiers([0.0, 10.0], [0.01, 0.02], max_leverage=[10.0, 0.0])


def test_positions_with_a_rule_pickle():
    import pickle
    p = lc.Positions.from_leverage([1, -1], 1.0, 20_000.0, 50.0, mmr=0.005, basis="entry", close_fee=0.001)
    q = pickle.loads(pickle.dumps(p))
    assert q.basis == "entry" and q.close_fee == 0.001
    np.testing.assert_array_equal(q.liquidation_price, p.liquidation_price)


# -- the venues' rule sets and the main job -----------------------------------------------------

def test_venue_rules_bundle_each_venues_table_basis_and_engine():
    from liqcascade.tier_tables import venue_tiers
    from liqcascade.venues import VENUES, venue_rules

    assert VENUES == ("binance", "bybit", "hyperliquid")
    binance, bybit, hyper = (venue_rules(v) for v in VENUES)
    assert binance.basis == "mark" and binance.policy.adl_ranking == "binance"
    assert bybit.basis == "entry" and bybit.policy.partial_tiers
    np.testing.assert_array_equal(bybit.policy.tiers.mmr, venue_tiers("bybit", "BTCUSDT").mmr)  # its own table
    assert hyper.policy.slice_above == 100_000.0 and hyper.tiers.mmr[0] == 1 / (2 * 40)
    # the same position under each: Bybit's entry basis, Hyperliquid's 1.25 % (40x max) maintenance
    prices = {v.name: v.positions(1, 1.0, 20_000.0, 400.0).liquidation_price[0] for v in (binance, bybit, hyper)}
    assert prices["bybit"] == pytest.approx(19_700.0)  # tier 1 of Bybit's table: 0.5 %
    assert prices["binance"] == pytest.approx((20_000 - 400) / 0.996)  # first bracket 0.4 %, at the mark
    # (50x is above Hyperliquid's 40x: its margin is raised to 500 first, see below)
    assert prices["hyperliquid"] == pytest.approx((20_000 - 500) / (1 - 0.0125))
    # 50x is above Hyperliquid's 40x: the margin is raised to the limit (clip), or refused
    assert hyper.positions(1, 1.0, 20_000.0, 400.0).margin[0] == pytest.approx(500.0)
    with pytest.raises(ValueError, match=r"^leverage\[0\]"):
        hyper.positions(1, 1.0, 20_000.0, 400.0, leverage_limit="reject")
    population = bybit.population(count=2_000)
    assert population.basis == "entry" and population.tier_rule is None
    assert population.sample(seed=1).basis == "entry"
    with pytest.raises(ValueError, match="^venue: expected one of 'binance', 'bybit', 'hyperliquid'"):
        venue_rules("okx")


def test_shocks_venue_shows_each_venue_side_by_side(capsys):
    import json

    from liqcascade import cli

    assert cli.main(["shocks", "--venue", "all", "--positions", "20000", "--shocks=-5%,3%", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert list(out["venues"]) == ["binance", "bybit", "hyperliquid"]
    for name, venue in out["venues"].items():
        assert len(venue["results"]) == 2 and venue["results"][0]["shock_move"] == pytest.approx(-0.05)
        assert venue["basis"] == ("entry" if name == "bybit" else "mark")
    # each venue's row equals a direct cascade on that venue's population (same seed)
    from liqcascade.scenarios import calibrated_book
    from liqcascade.venues import venue_rules

    positions = venue_rules("hyperliquid").population(count=20_000).sample(seed=0, book_model=lc.BookModel())
    direct = lc.cascade(calibrated_book(), positions, -0.05)
    assert out["venues"]["hyperliquid"]["results"][0]["final_price"] == direct.final_price
    assert out["venues"]["hyperliquid"]["results"][0]["n_liquidated"] == direct.n_liquidated
    assert cli.main(["shocks", "--venue", "bybit,binance", "--positions", "5000", "--shocks=-3%"]) == 0
    text = capsys.readouterr().out
    assert "bybit" in text and "binance" in text and "hyperliquid" not in text
    with pytest.raises(SystemExit):
        cli.main(["shocks", "--venue", "okx"])
    assert "venue: expected binance, bybit, hyperliquid or all, got 'okx'" in capsys.readouterr().err


def test_maintenance_equity_and_margin_ratio_at_a_price():
    # The Binance example at 100,000 and at its liquidation price: margin ratio 1 there.
    p = lc.Positions(1, 1.0, 100_000.0, 5_000.0, mmr=0.005, maint_amount=50.0)
    assert p.maintenance(100_000.0)[0] == pytest.approx(450.0) and p.equity(100_000.0)[0] == 5_000.0
    liq = p.liquidation_price[0]
    assert p.margin_ratio(liq)[0] == pytest.approx(1.0, rel=1e-12)
    assert p.margin_ratio(90_000.0)[0] == np.inf  # equity <= 0
    # with tiers, the tier of the notional at the price asked (the review's 1x $1.5B long: its
    # liquidation price is <= 0, so its own columns hold the first tier, but at 100,000 its
    # notional is in the last bracket: 50 % less the cum)
    big = lc.Positions(1, 15_000.0, 1e5, 1.5e9, tiers=BINANCE)
    assert big.mmr[0] == 0.004
    assert big.maintenance(1e5)[0] == pytest.approx(0.5 * 1.5e9 - 421_481_450.0)
    # a position at its liquidation price, tiers resolved there: ratio 1 (the venue's rule)
    q = lc.Positions.from_leverage([1, -1], [0.52, 0.49], 100_000.0, 20.0, tiers=BINANCE)
    for i in range(2):
        assert q.margin_ratio(q.liquidation_price[i])[i] == pytest.approx(1.0, rel=1e-9)
    # inverse: coin, at the price
    inv = lc.Positions(1, 10_000.0, 100.0, 4.0, mmr=0.005, contract="inverse")
    assert inv.maintenance(100.0)[0] == pytest.approx(0.005 * 100.0)
    assert inv.equity(96.0)[0] == pytest.approx(4.0 + 10_000 * (1 / 100 - 1 / 96))
    assert inv.margin_ratio(inv.liquidation_price[0])[0] == pytest.approx(1.0, rel=1e-12)
    import pickle
    assert pickle.loads(pickle.dumps(big)).maintenance(1e5)[0] == big.maintenance(1e5)[0]
    with pytest.raises(ValueError, match="^price: must be finite and > 0"):
        p.maintenance(-1.0)
