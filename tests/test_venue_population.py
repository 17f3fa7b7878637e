"""Venue populations sampled per scenario and the studies over a venue that resample them
(docs/design.md, "Populations over a venue"): each row equals a direct venue cascade on
``sample_venue_scenario``'s sample; rows bit-identical for any thread count and split; a pinned
hash of the draws; the population's statistics against its parameters (counts, the strategy
factor's correlation of directions, the collateral mix, the cross share, the margin and
collateral rules to rounding); contagion measured by hand; bad input naming the field."""

from __future__ import annotations

import hashlib
import math
import os
import pickle
import signal
import threading
from statistics import NormalDist

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import liqcascade as lc
from liqcascade.correlated import CorrelatedShockModel
from liqcascade.venue import Venue, VenuePositions, VenueState, venue_cascade
from liqcascade.venue_population import VenuePopulation, VenuePopulationSample
from liqcascade.venue_scenario import default_venue
from liqcascade.venue_study import VenueScenarioTable, sample_venue_scenario, venue_monte_carlo

PERPS = ("BTCUSDT", "ETHUSDT", "SOLUSDT")
OPEN_INTEREST = {"BTCUSDT": 44e6, "ETHUSDT": 22e6, "SOLUSDT": 8.8e6}
BASKETS = ({"USDT": 1.0}, {"USDT": 0.5, "wBETH": 0.5}, {"USDe": 0.7, "wBETH": 0.3})
CORRELATION = np.array([[1.0, 0.8, 0.7], [0.8, 1.0, 0.75], [0.7, 0.75, 1.0]])


@pytest.fixture(scope="module")
def venue() -> Venue:
    return default_venue(accounts=0, isolated=0)[0]


@pytest.fixture(scope="module")
def population() -> VenuePopulation:
    return VenuePopulation(OPEN_INTEREST, traders=4_000, cross_share=0.7, strategies=4, strategy_loading=0.6,
                           strategy_market_correlation=0.5, baskets=BASKETS, basket_weights=(0.5, 0.3, 0.2),
                           tokens=18, token_threshold=(0.05, 0.10), token_threshold_weights=(0.5, 0.5), funds=30,
                           fund_markets=(0.0, 0.5, 0.5))


@pytest.fixture(scope="module")
def shocks() -> CorrelatedShockModel:
    return CorrelatedShockModel.student_t(4.0, CORRELATION, [0.03, 0.04, 0.05], markets=PERPS)


# -- rows are direct cascades; determinism ------------------------------------------------------

def test_each_row_equals_a_direct_venue_cascade_on_its_sample(venue, population, shocks):
    table = venue_monte_carlo(venue, shocks, 12, seed=3, population=population, first_scenario=40, threads=2,
                              progress=False)
    assert isinstance(table, VenueScenarioTable) and table.markets == venue.market_names
    for row in range(len(table)):
        index = int(table["scenario"][row])
        scenario = sample_venue_scenario(venue, shocks, 3, index, population=population)
        sample = scenario.population
        assert isinstance(sample, VenuePopulationSample)
        direct = venue_cascade(sample.state(), shocks=scenario.shocks)
        assert table["rounds"][row] == direct.rounds
        assert table["bad_debt"][row] == direct.bad_debt
        assert table["accounts_liquidated"][row] == len(direct.accounts)
        assert table["n_liquidated"][row] == direct.liquidated_index.size
        for name in table.markets:
            r = direct.market(name)
            assert table[f"{name}.shock"][row] == scenario.shocks[name]
            assert table[f"{name}.final_price"][row] == r["final_price"]
            assert table[f"{name}.n_liquidated"][row] == r["n_liquidated"]
            assert table[f"{name}.sold_notional"][row] == r["sold_notional"]
            assert table[f"{name}.bad_debt"][row] == r["bad_debt"]
            total = table[f"{name}.liquidated_notional_long"][row] + table[f"{name}.liquidated_notional_short"][row]
            assert total == pytest.approx(r["liquidated_notional"], rel=1e-15)  # (split by side, then summed)
        # the agents traded in these cascades
        assert direct.token_rebalances is not None
    assert table["accounts_liquidated"].sum() > 0
    assert (table["n_liquidated"] > table["accounts_liquidated"]).any()  # isolated positions too


def test_the_agents_of_the_sample_trade_in_the_rows(venue, population):
    # a fall of BTC alone large enough to rebalance tokens and deleverage funds
    fixed = CorrelatedShockModel.fixed([[-0.08, 0.0, 0.0]], markets=PERPS)
    table = venue_monte_carlo(venue, fixed, 3, seed=1, population=population, threads=1, progress=False)
    for row in range(3):
        scenario = sample_venue_scenario(venue, fixed, 1, row, population=population)
        direct = venue_cascade(scenario.population.state(), shocks=scenario.shocks)
        assert len(direct.token_rebalances) > 0 and len(direct.fund_sales) > 0
        assert table["BTCUSDT.final_price"][row] == direct.market("BTCUSDT")["final_price"]
        assert table["rounds"][row] == direct.rounds
        channels = direct.channels()
        for m, name in enumerate(table.markets):
            assert table[f"{name}.token_notional"][row] == channels["token_rebalancing"][m]
            assert table[f"{name}.fund_notional"][row] == channels["fund_deleveraging"][m]
        # without its agents the same population ends elsewhere: the rows include them
        bare = venue_cascade(scenario.population.venue, scenario.population.positions, scenario.population.accounts,
                             shocks=scenario.shocks)
        assert bare.market("BTCUSDT")["final_price"] != direct.market("BTCUSDT")["final_price"]


def _same(a: VenueScenarioTable, b: VenueScenarioTable) -> None:
    assert a.columns == b.columns
    for name in a.columns:
        assert a[name].tobytes() == b[name].tobytes(), name


def test_rows_are_bit_identical_for_any_thread_count_and_split(venue, population, shocks):
    one = venue_monte_carlo(venue, shocks, 20, seed=5, population=population, threads=1, progress=False)
    two = venue_monte_carlo(venue, shocks, 20, seed=5, population=population, threads=2, progress=False)
    parts = [venue_monte_carlo(venue, shocks, n, seed=5, population=population, first_scenario=f, threads=2,
                               progress=False) for f, n in ((0, 7), (7, 1), (8, 12))]
    _same(one, two)
    for name in one.columns:
        assert one[name].tobytes() == np.concatenate([p[name] for p in parts]).tobytes(), name
    assert np.array_equal(one["scenario"], np.arange(20))


def test_a_sample_is_a_pure_function_of_seed_and_scenario(venue, population):
    a, b = population.sample(venue, 9, 4), population.sample(venue, 9, 4)
    for x, y in ((a.positions, b.positions),):
        for column in ("side", "qty", "entry_price", "margin", "market", "account"):
            assert np.asarray(getattr(x, column)).tobytes() == np.asarray(getattr(y, column)).tobytes()
    assert a.accounts.matrix(venue).tobytes() == b.accounts.matrix(venue).tobytes()
    assert np.array_equal(a.strategy_factor, b.strategy_factor)
    c = population.sample(venue, 9, 5)
    assert not np.array_equal(a.traders["size"], c.traders["size"])
    # a pickled model draws the same population
    d = pickle.loads(pickle.dumps(population)).sample(venue, 9, 4)
    assert np.asarray(d.positions.qty).tobytes() == np.asarray(a.positions.qty).tobytes()


def _digest(sample: VenuePopulationSample, venue: Venue) -> str:
    h = hashlib.sha256()
    p = sample.positions
    for column in (p.side, p.qty, p.entry_price, p.margin, p.market_index(venue), p.account, sample.trader):
        h.update(np.ascontiguousarray(column).tobytes())
    h.update(sample.accounts.matrix(venue).tobytes())
    for name in sample.traders.columns:
        h.update(np.ascontiguousarray(sample.traders[name]).tobytes())
    assert sample.tokens is not None and sample.funds is not None
    for column in (sample.tokens.leverage, sample.tokens.nav, sample.tokens.threshold, sample.funds.equity,
                   sample.funds.max_leverage, sample.funds.matrix(venue), sample.strategy_factor):
        h.update(np.ascontiguousarray(column).tobytes())
    return h.hexdigest()


def test_venue_population_streams_give_these_exact_bytes(venue, population):
    # Pins the stream layout of a venue population (purposes venue_trader, venue_strategy,
    # venue_token, venue_fund): a change of layout changes every seed's draws and must say so.
    assert _digest(population.sample(venue, 2024, 7), venue) == POPULATION_HASH


POPULATION_HASH = "c7d9d0030e9661359c11812ac006ac680c1f4c32254317f467d385c45e7dfb22"


# -- the population's statistics against its parameters ------------------------------------------

@pytest.fixture(scope="module")
def large(venue) -> tuple[VenuePopulation, VenuePopulationSample]:
    model = VenuePopulation(OPEN_INTEREST, traders=120_000, cross_share=0.65, markets_per_trader=(0.4, 0.35, 0.25),
                            long_share=0.6, strategies=6, strategy_loading=0.7, size_distribution="lognormal",
                            size_shape=0.5, baskets=BASKETS, basket_weights=(0.5, 0.3, 0.2), tokens=3_000,
                            token_leverage=(3.0, -3.0, 2.0), token_leverage_weights=(0.5, 0.3, 0.2), funds=3_000,
                            fund_markets=(0.2, 0.5, 0.3), fund_buffer=(1.1, 1.6))
    return model, model.sample(venue, seed=11, scenario=3)


def _within(hits: float, n: int, p: float, sigmas: float = 4.5) -> bool:
    return abs(hits - n * p) <= sigmas * math.sqrt(n * p * (1 - p))


def test_counts_cross_share_and_markets_per_trader(venue, large):
    model, s = large
    t = s.traders
    n = len(t)
    assert n == 120_000
    assert _within(np.count_nonzero(t["cross"]), n, 0.65)
    assert len(s.accounts) == np.count_nonzero(t["cross"])
    for k, w in enumerate(model.markets_per_trader, start=1):
        assert _within(np.count_nonzero(t["n_markets"] == k), n, w)
    # positions: n_markets per trader, distinct markets, cross ones on their account (numbered in trader order)
    trader = s.trader
    assert np.array_equal(np.bincount(trader, minlength=n), t["n_markets"])
    market = s.positions.market_index(venue)
    assert np.all(np.diff(market)[np.diff(trader) == 0] > 0)
    account = np.asarray(s.positions.account)
    cross = t["cross"][trader]
    assert np.all((account >= 0) == cross)
    assert np.array_equal(account[cross], (np.cumsum(t["cross"]) - 1)[trader[cross]])
    # every market held by E[k] / K of traders, and its notional is open_interest on average
    mean_held = sum(k * w for k, w in enumerate(model.markets_per_trader, start=1))
    notional = np.asarray(s.positions.qty) * np.asarray(s.positions.entry_price)
    for name, oi in OPEN_INTEREST.items():
        m = venue.market_index(name)
        assert _within(np.count_nonzero(market == m), n, mean_held / 3)
        assert notional[market == m].sum() == pytest.approx(oi, rel=0.02)


def test_directions_load_on_the_strategy_factor(venue, large):
    # P(long | strategy s, market m) = Phi((Phi^-1(long_share) - w f[s, m]) / sqrt(1 - w^2)): the
    # share of longs within each (strategy, market) against that closed form
    model, s = large
    w = model.strategy_loading
    c = NormalDist().inv_cdf(model.long_share)
    side = np.asarray(s.positions.side)
    strategy = s.traders["strategy"][s.trader]
    market = s.positions.market_index(venue)
    shares = []
    for j, name in enumerate(PERPS):
        m = venue.market_index(name)
        for k in range(model.strategies):
            sel = (strategy == k) & (market == m)
            p = NormalDist().cdf((c - w * s.strategy_factor[k, j]) / math.sqrt(1 - w * w))
            assert _within(np.count_nonzero(side[sel] > 0), int(sel.sum()), p)
            shares.append(p)
    assert max(shares) - min(shares) > 0.3  # the factor moves books: strategies differ
    # each strategy is used by 1/strategies of traders
    for k in range(model.strategies):
        assert _within(np.count_nonzero(s.traders["strategy"] == k), len(s.traders), 1 / model.strategies)


def test_no_loading_gives_independent_directions_at_the_long_share(venue):
    model = VenuePopulation(OPEN_INTEREST, traders=60_000, long_share=0.3, strategies=1, strategy_loading=0.0)
    s = model.sample(venue, 2, 0)
    side = np.asarray(s.positions.side)
    assert _within(np.count_nonzero(side > 0), side.size, 0.3)
    everyone_long = VenuePopulation(OPEN_INTEREST, traders=500, long_share=1.0, strategy_loading=0.9)
    assert np.all(np.asarray(everyone_long.sample(venue, 2, 0).positions.side) == 1)


def test_strategy_factors_correlate_across_markets_as_rho(venue):
    # f[s, m] = sqrt(rho) g[s] + sqrt(1 - rho) h[s, m]: unit variance, correlation rho between markets
    model = VenuePopulation(OPEN_INTEREST, traders=1, strategies=200_000, strategy_market_correlation=0.4)
    f = model.sample(venue, 4, 1).strategy_factor
    assert f.shape == (200_000, 3)
    assert np.corrcoef(f.T)[np.triu_indices(3, 1)] == pytest.approx([0.4] * 3, abs=0.01)
    assert f.std(axis=0) == pytest.approx([1.0] * 3, abs=0.01)


def _asset_values(venue: Venue) -> np.ndarray:
    ref = VenueState(venue, lc.venue.VenuePositions(np.zeros(0, dtype=np.int8), np.zeros(0), np.zeros(0),
                                                    market=np.zeros(0, dtype=np.int64))).ref_price
    out = [1.0]
    for a in venue.assets:
        price = ref[venue.market_index(a.priced_by)] if a.priced_by is not None else a.price
        out.append(price * (1.0 - a.haircut))
    return np.array(out)


def _caps(venue: Venue, market: np.ndarray, notional: np.ndarray, leverage: np.ndarray) -> np.ndarray:
    out = leverage.astype(np.float64).copy()
    for m, mk in enumerate(venue.markets):
        sel = market == m
        if mk.tiers is None or not sel.any():
            continue
        cap = np.asarray(mk.tiers.max_leverage)[mk.tiers.tier_of(notional[sel])]
        out[sel] = np.minimum(out[sel], cap)
    return out


def test_collateral_baskets_and_the_equity_rule(venue, large):
    model, s = large
    t = s.traders
    cross = t["cross"]
    basket = t["basket"][cross]
    assert np.all(t["basket"][~cross] == -1) and np.all(np.isnan(t["leverage"][~cross]))
    for b, w in enumerate(model.basket_weights):
        assert _within(np.count_nonzero(basket == b), basket.size, w)
    # each account's balances hold its value in its basket's shares (after haircuts, at the reference)
    value_per_asset = s.accounts.matrix(venue) * _asset_values(venue)
    value = value_per_asset.sum(axis=1)
    names = venue.asset_names
    shares = np.array([[bk.get(a, 0.0) for a in names] for bk in BASKETS])
    np.testing.assert_allclose(value_per_asset, value[:, None] * shares[basket], rtol=1e-12, atol=1e-9)
    # the value: sum of notional / leverage (capped by the tier's max_leverage) plus a loss at the reference
    p = s.positions
    market = p.market_index(venue)
    ref = np.array([b.book.mid for b in venue.markets])[market]
    notional = np.asarray(p.qty) * np.asarray(p.entry_price)
    pnl = np.asarray(p.side) * np.asarray(p.qty) * (ref - np.asarray(p.entry_price))
    pos_cross = cross[s.trader]
    account = np.asarray(p.account)[pos_cross]
    lev = _caps(venue, market[pos_cross], notional[pos_cross], t["leverage"][s.trader[pos_cross]])
    need = np.bincount(account, weights=notional[pos_cross] / lev, minlength=len(s.accounts))
    loss = np.maximum(0.0, -np.bincount(account, weights=pnl[pos_cross], minlength=len(s.accounts)))
    np.testing.assert_allclose(value, need + loss, rtol=1e-9)
    # an isolated position's margin is notional / its own leverage (from the mix, capped) plus its loss
    iso = ~pos_cross
    implied = notional[iso] / (np.asarray(p.margin)[iso] - np.maximum(0.0, -pnl[iso]))
    allowed = np.unique(np.concatenate([_caps(venue, market[iso], notional[iso], np.full(iso.sum(), x))
                                        for x in model.leverage]))
    nearest = allowed[np.abs(implied[:, None] - allowed[None, :]).argmin(axis=1)]
    np.testing.assert_allclose(implied, nearest, rtol=1e-9)
    assert np.all(np.asarray(p.margin)[pos_cross] == 0.0)
    # so, with these leverages and entries, no position or account starts at its trigger
    state = s.state()
    assert np.all(state.equity_before > state.maintenance_before)


def test_token_and_fund_populations(venue, large):
    model, s = large
    tokens, funds = s.tokens, s.funds
    assert tokens is not None and funds is not None
    assert len(tokens) == 3_000 and len(funds) == 3_000
    market = np.array([venue.market_index(x) for x in tokens.market.tolist()])
    for name, oi in OPEN_INTEREST.items():
        sel = market == venue.market_index(name)
        assert _within(sel.sum(), 3_000, 1 / 3)
        # expected NAV token_nav x open interest (lognormal sigma 1: a loose check)
        assert tokens.nav[sel].sum() == pytest.approx(model.token_nav * oi, rel=0.25)
    for x, w in zip(model.token_leverage, model.token_leverage_weights, strict=True):
        assert _within(np.count_nonzero(tokens.leverage == x), 3_000, w)
    holdings = funds.matrix(venue)
    ref = np.array([m.book.mid for m in venue.markets])
    held = holdings > 0
    for k, w in enumerate(model.fund_markets, start=1):
        assert _within(np.count_nonzero(held.sum(axis=1) == k), 3_000, w)
    assets = holdings @ ref
    np.testing.assert_allclose(funds.equity, assets / funds.target_leverage, rtol=1e-15)
    ratio = funds.max_leverage / funds.target_leverage
    assert ratio.min() >= 1.1 and ratio.max() <= 1.6
    # weights within a fund's markets follow their open interest
    oi = np.zeros(len(venue.markets))
    for name, v in OPEN_INTEREST.items():
        oi[venue.market_index(name)] = v
    value = holdings * ref
    expected = held * oi / (held * oi).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(value / assets[:, None], expected, rtol=1e-12, atol=1e-15)
    # overlap: funds share markets
    assert (held[:, 0] & held[:, 1]).sum() > 0


# -- contagion ---------------------------------------------------------------------------------

def test_contagion_from_one_market_by_hand(venue, population):
    fixed = CorrelatedShockModel.fixed([[-0.06, 0.0, 0.0], [0.0, -0.08, 0.0], [0.0, 0.0, 0.0]], markets=PERPS)
    table = venue_monte_carlo(venue, fixed, 9, seed=2, population=population, threads=2, progress=False)
    notional = table.per_market("liquidated_notional_long") + table.per_market("liquidated_notional_short")
    total = table["liquidated_notional"]
    for row in range(9):
        shocked = np.asarray(table.per_market("shock")[row]) != 0.0
        if total[row] > 0:
            assert table["unshocked_share"][row] == pytest.approx(notional[row, ~shocked].sum() / total[row],
                                                                  rel=1e-12)
            # one market moved: the share outside the origin is the share in markets not shocked
            assert table["unshocked_share"][row] == pytest.approx(table["contagion_share"][row], rel=1e-12, abs=0)
        else:
            assert math.isnan(table["unshocked_share"][row])
    assert np.nanmax(table["unshocked_share"]) > 0  # cross accounts carried BTC's fall elsewhere
    s = table.summary(contagion_threshold=0.0)
    # P(target liquidates | BTC moved) over the three BTC rows, by hand
    btc = table["origin_market"] == 0
    for j, name in enumerate(PERPS):
        assert s.contagion["BTCUSDT"][name].value == pytest.approx(np.mean(notional[btc, j] > 0.0))
    liquidated = ~np.isnan(table["unshocked_share"])
    pooled = (table["unshocked_share"][liquidated] * total[liquidated]).sum() / total[liquidated].sum()
    assert s.unshocked_share_pooled == pytest.approx(pooled)
    assert "markets not shocked" in str(s)
    assert set(s.markets) == set(venue.market_names)


# -- bad input ---------------------------------------------------------------------------------

@pytest.mark.parametrize(("kwargs", "error", "pattern"), [
    ({"traders": -1}, ValueError, "traders"),
    ({"traders": 1.5}, TypeError, "traders"),
    ({"cross_share": 1.5}, ValueError, "cross_share: must be finite and in"),
    ({"markets_per_trader": (0.5, 0.4)}, ValueError, "markets_per_trader: must sum to 1"),
    ({"markets_per_trader": (0.25, 0.25, 0.25, 0.25)}, ValueError, "markets_per_trader: gives weights for up to 4"),
    ({"long_share": -0.1}, ValueError, "long_share"),
    ({"strategies": 0}, ValueError, "strategies: must be in"),
    ({"strategy_loading": 1.2}, ValueError, "strategy_loading"),
    ({"strategy_market_correlation": np.nan}, ValueError, "strategy_market_correlation"),
    ({"leverage": (5.0, 10.0)}, ValueError, "leverage_weights: length 6 does not match leverage length 2"),
    ({"leverage": (0.0,), "leverage_weights": (1.0,)}, ValueError, r"leverage\[0\]: must be finite and > 0"),
    ({"entry_spread": -0.1}, ValueError, "entry_spread"),
    ({"size_shape": 1.0}, ValueError, "size_shape: must be finite and > 1"),
    ({"size_distribution": "cauchy"}, ValueError, "size_distribution"),
    ({"size_distribution": "lognormal", "size_shape": 6.0}, ValueError, r"size_shape: must be finite and in \[0, 5\]"),
    ({"agent_size_sigma": 3.5}, ValueError, r"agent_size_sigma: must be finite and in \[0, 3\]"),
    ({"baskets": ({"USDT": 0.5},)}, ValueError, r"baskets\[0\]: asset shares must sum to 1"),
    ({"baskets": ({"USDT": 1.0}, {"USDT": 1.0}), "basket_weights": (1.0,)}, ValueError,
     "baskets: 2 baskets, but basket_weights has 1"),
    ({"baskets": ({"USDT": -1.0, "wBETH": 2.0},)}, ValueError, r"baskets\[0\]: asset shares must be finite and >= 0"),
    ({"baskets": {"USDT": 1.0}}, TypeError, "baskets: expected a list"),
    ({"tokens": 3, "token_leverage": (0.5,), "token_leverage_weights": (1.0,)}, ValueError,
     r"token_leverage\[0\]: must be finite and > 1 or < 0"),
    ({"tokens": 3, "token_threshold": (1.0,)}, ValueError, r"token_threshold\[0\]: must be in \(0, 1\)"),
    ({"tokens": 3, "token_nav": 0.0}, ValueError, "token_nav: must be > 0 when there are tokens"),
    ({"funds": 3, "fund_target": (0.5, 2.0, 3.0)}, ValueError, r"fund_target\[0\]: must be finite and in \[1"),
    ({"funds": 3, "fund_buffer": (1.5, 1.2)}, ValueError, r"fund_buffer\[1\]: the buffer.s max must be finite, >= its min"),
    ({"funds": 3, "fund_buffer": 1.5}, TypeError, "fund_buffer: expected a"),
    ({"funds": 3, "fund_markets": (0.0, 0.0, 0.0, 1.0)}, ValueError, "fund_markets: gives weights for up to 4"),
    ({"funds": 3, "fund_assets": -1.0}, ValueError, "fund_assets"),
    ({"agent_size_sigma": np.inf}, ValueError, "agent_size_sigma"),
])
def test_bad_populations_name_the_field(kwargs, error, pattern):
    with pytest.raises(error, match=pattern):
        VenuePopulation(OPEN_INTEREST, **kwargs)


def test_bad_open_interest_and_venue_mismatches(venue, shocks):
    with pytest.raises(TypeError, match="open_interest: expected a dict"):
        VenuePopulation([44e6])  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="open_interest"):
        VenuePopulation({})
    with pytest.raises(ValueError, match=r"open_interest\[1\]: must be in \(0, 1e18\]"):
        VenuePopulation({"BTCUSDT": 1e6, "ETHUSDT": -1.0})
    with pytest.raises(TypeError, match=r"open_interest\['BTCUSDT'\]: expected a real number"):
        VenuePopulation({"BTCUSDT": "a lot"})
    unknown = VenuePopulation({"BTCUSDT": 1e6, "DOGEUSDT": 1e6})
    with pytest.raises(ValueError, match="open_interest: no market named 'DOGEUSDT'"):
        unknown.sample(venue)
    with pytest.raises(ValueError, match="open_interest: no market named 'DOGEUSDT'"):
        venue_monte_carlo(venue, shocks, 2, population=unknown)
    odd_asset = VenuePopulation(OPEN_INTEREST, baskets=({"BTC": 1.0},))
    with pytest.raises(ValueError, match=r"baskets\[0\]: no asset named 'BTC'"):
        odd_asset.sample(venue)


def test_bad_study_arguments_with_a_population(venue, population, shocks):
    state = VenueState(*default_venue(accounts=10, isolated=10))
    with pytest.raises(TypeError, match="give the Venue"):
        venue_monte_carlo(state, shocks, 2, population=population)
    with pytest.raises(TypeError, match="give the Venue"):
        sample_venue_scenario(state, shocks, 0, 0, population=population)
    with pytest.raises(TypeError, match="population: expected"):
        venue_monte_carlo(venue, shocks, 2, population=lc.PositionPopulation(count=10))
    with pytest.raises(TypeError, match="shocks: expected CorrelatedShockModel"):
        venue_monte_carlo(venue, lc.ShockModel.normal(0.1), 2, population=population)
    with pytest.raises(ValueError, match="n_scenarios"):
        venue_monte_carlo(venue, shocks, -2, population=population)
    with pytest.raises(ValueError, match="threads"):
        venue_monte_carlo(venue, shocks, 2, population=population, threads=-1)
    with pytest.raises(ValueError, match="index"):
        sample_venue_scenario(venue, shocks, 0, -1, population=population)


def _threads_of_this_process() -> int:
    return len(os.listdir("/proc/self/task")) if os.path.isdir("/proc/self/task") else threading.active_count()


def test_ctrl_c_stops_a_population_study_and_joins_every_thread(venue, population, shocks):
    before = _threads_of_this_process()
    done = []
    timer = threading.Timer(0.3, lambda: os.kill(os.getpid(), signal.SIGINT))
    timer.start()
    with pytest.raises(KeyboardInterrupt):
        venue_monte_carlo(venue, shocks, 2_000_000, population=population, threads=2,
                          progress=lambda finished, total: done.append(finished))
    timer.join()
    assert done and done[-1] < 2_000_000
    # every worker joined: none is left (a thread of an earlier test may have ended meanwhile)
    assert _threads_of_this_process() <= before


def test_models_samples_and_scenarios_pickle_and_copy(venue, population, shocks):
    import copy

    scenario = sample_venue_scenario(venue, shocks, 4, 2, population=population)
    for obj in (population, scenario):
        for other in (pickle.loads(pickle.dumps(obj)), copy.deepcopy(obj)):
            assert type(other) is type(obj)
    back = pickle.loads(pickle.dumps(scenario))
    assert back.shocks == scenario.shocks
    assert back.population is not None and scenario.population is not None
    a, b = back.population, scenario.population
    assert np.asarray(a.positions.qty).tobytes() == np.asarray(b.positions.qty).tobytes()
    assert a.accounts.matrix(venue).tobytes() == b.accounts.matrix(venue).tobytes()
    assert venue_cascade(a.state(), shocks=back.shocks).bad_debt == venue_cascade(b.state(),
                                                                                  shocks=scenario.shocks).bad_debt
    again = copy.deepcopy(population).sample(venue, 4, 2)
    assert np.asarray(again.positions.entry_price).tobytes() == np.asarray(b.positions.entry_price).tobytes()


def test_draws_a_venue_cannot_take_name_the_population(venue, shocks):
    # valid parameters whose draws leave what a venue takes (entries that overflow): the study's
    # error names the population and the scenario, not an inner column
    extreme = VenuePopulation({"BTCUSDT": 1e6}, traders=2_000, entry_spread=400.0)
    one = CorrelatedShockModel.normal(np.eye(1), [0.05], markets=["BTCUSDT"])
    with pytest.raises(ValueError, match=r"^population: scenario 0's sampled population is not a valid venue "
                                         r"population \(collateral\[\d+\]\[USDT\]: must be finite"):
        venue_monte_carlo(venue, one, 2, population=extreme, threads=1, progress=False)



def _mix(draw, n: int) -> tuple[float, ...]:
    w = np.array(draw(st.lists(st.integers(0, 5), min_size=n, max_size=n).filter(lambda x: sum(x) > 0)), float)
    w = w / w.sum()
    w[-1] = 1.0 - w[:-1].sum()  # (sums to 1 within 1e-9)
    return tuple(float(x) for x in w)


@st.composite
def populations(draw) -> VenuePopulation:
    markets = draw(st.lists(st.sampled_from(PERPS), min_size=1, max_size=3, unique=True))
    interest = {m: draw(st.floats(1e5, 5e7)) for m in markets}
    k = draw(st.integers(1, len(markets)))
    n_leverage = draw(st.integers(1, 4))
    n_baskets = draw(st.integers(1, 3))
    baskets = []
    for _ in range(n_baskets):
        shares = _mix(draw, 3)
        baskets.append(dict(zip(("USDT", "wBETH", "USDe"), shares, strict=True)))
    return VenuePopulation(
        interest, traders=draw(st.integers(0, 300)), cross_share=draw(st.floats(0.0, 1.0)),
        markets_per_trader=_mix(draw, k), long_share=draw(st.floats(0.0, 1.0)),
        strategies=draw(st.integers(1, 5)), strategy_loading=draw(st.floats(0.0, 1.0)),
        strategy_market_correlation=draw(st.floats(0.0, 1.0)),
        leverage=tuple(draw(st.lists(st.floats(1.0, 100.0), min_size=n_leverage, max_size=n_leverage))),
        leverage_weights=_mix(draw, n_leverage), entry_spread=draw(st.floats(0.0, 0.1)),
        size_distribution=draw(st.sampled_from(["pareto", "lognormal", "fixed"])),
        size_shape=draw(st.floats(1.2, 3.0)), baskets=baskets, basket_weights=_mix(draw, n_baskets),
        tokens=draw(st.integers(0, 4)), funds=draw(st.integers(0, 4)), fund_markets=_mix(draw, k))


@settings(max_examples=25, deadline=None)
@given(model=populations(), seed=st.integers(0, 2**64 - 1), moves=st.lists(st.floats(-0.3, 0.3), min_size=3,
                                                                             max_size=3))
def test_any_population_row_is_its_direct_cascade_and_starts_above_its_trigger(venue, model, seed, moves):
    fixed = CorrelatedShockModel.fixed([moves], markets=PERPS)
    table = venue_monte_carlo(venue, fixed, 2, seed=seed % 2**63, population=model, threads=2, progress=False)
    for row in range(2):
        scenario = sample_venue_scenario(venue, fixed, seed % 2**63, row, population=model)
        sample = scenario.population
        assert sample is not None
        state = sample.state()
        direct = venue_cascade(state, shocks=scenario.shocks)
        assert table["rounds"][row] == direct.rounds
        assert table["bad_debt"][row] == direct.bad_debt
        assert table["accounts_liquidated"][row] == len(direct.accounts)
        assert np.array_equal(table.per_market("final_price")[row], direct.markets["final_price"])
        # the population's own rules
        assert len(sample.traders) == model.traders
        assert np.array_equal(np.bincount(sample.trader, minlength=len(sample.traders)), sample.traders["n_markets"])
        assert len(sample.accounts) == int(np.count_nonzero(sample.traders["cross"]))
        # each account starts with at least sum(notional / leverage) of equity at the reference
        p = sample.positions
        market = p.market_index(venue)
        cross = np.asarray(p.account) >= 0
        notional = (np.asarray(p.qty) * np.asarray(p.entry_price))[cross]
        leverage = _caps(venue, market[cross], notional, sample.traders["leverage"][sample.trader[cross]])
        need = np.bincount(np.asarray(p.account)[cross], weights=notional / leverage, minlength=len(sample.accounts))
        assert np.all(state.equity_before >= need * (1 - 1e-9))
        assert (sample.tokens is None) == (model.tokens == 0) and (sample.funds is None) == (model.funds == 0)


def test_population_rows_carry_the_tokens_bad_debt(venue):
    """3x tokens wiped out by a -40 % fall of BTC (-3x ones by a +40 % rise of ETH): every row's
    token_bad_debt, venue-wide and per market, is the direct cascade's on its sample."""
    population = VenuePopulation(OPEN_INTEREST, traders=500, tokens=24, token_threshold=(0.05,),
                                 token_threshold_weights=(1.0,))
    fixed = CorrelatedShockModel.fixed([[-0.4, 0.4, 0.0], [-0.05, 0.0, 0.0]], markets=PERPS)
    table = venue_monte_carlo(venue, fixed, 4, seed=2, population=population, threads=2, progress=False)
    for row in range(4):
        scenario = sample_venue_scenario(venue, fixed, 2, row, population=population)
        direct = venue_cascade(scenario.population.state(), shocks=scenario.shocks)
        assert table["token_bad_debt"][row] == direct.token_bad_debt
        for name in table.markets:
            assert table[f"{name}.token_bad_debt"][row] == direct.market(name)["token_bad_debt"]
    assert table["token_bad_debt"][0] > 0 and table["token_bad_debt"][2] > 0


# -- stop clusters (issue 20) ---------------------------------------------------------------------

def _stops_population(**kwargs) -> VenuePopulation:
    args = dict(traders=1_500, cross_share=0.6, stop_notional=0.03, stop_extreme_share=0.4, stop_range=0.04,
                stops_per_cluster=25, stop_round_step={"ETHUSDT": 100.0})
    args.update(kwargs)
    return VenuePopulation(OPEN_INTEREST, **args)


def test_stop_clusters_rows_are_direct_cascades_and_deterministic(venue, shocks):
    population = _stops_population()
    fixed = CorrelatedShockModel.fixed([[-0.08, 0.0, 0.0], [0.0, 0.07, 0.0]], markets=PERPS)
    table = venue_monte_carlo(venue, fixed, 4, seed=9, population=population, threads=2, progress=False)
    fired = 0
    for row in range(4):
        scenario = sample_venue_scenario(venue, fixed, 9, row, population=population)
        sample = scenario.population
        assert sample.stops is not None and len(sample.stops) == 3 * 2 * 4 * 25
        direct = venue_cascade(sample.state(), shocks=scenario.shocks)
        fired += len(direct.stops)
        assert table["rounds"][row] == direct.rounds
        for name in table.markets:
            assert table[f"{name}.final_price"][row] == direct.market(name)["final_price"]
        # the stops are in the row: without them the same traders end elsewhere
        bare = venue_cascade(sample.venue, sample.positions, sample.accounts, shocks=scenario.shocks)
        moved = "BTCUSDT" if row % 2 == 0 else "ETHUSDT"
        if len(direct.stops):
            assert bare.market(moved)["final_price"] != direct.market(moved)["final_price"]
    assert fired > 0
    # bit-identical for any thread count and split, with stops
    one = venue_monte_carlo(venue, shocks, 10, seed=4, population=population, threads=1, progress=False)
    two = venue_monte_carlo(venue, shocks, 10, seed=4, population=population, threads=2, progress=False)
    _same(one, two)
    head = venue_monte_carlo(venue, shocks, 6, seed=4, population=population, threads=2, progress=False)
    tail = venue_monte_carlo(venue, shocks, 4, seed=4, population=population, first_scenario=6, threads=1,
                             progress=False)
    for name in one.columns:
        assert np.concatenate([head[name], tail[name]]).tobytes() == one[name].tobytes(), name
    a, b = population.sample(venue, 4, 7), population.sample(venue, 4, 7)
    assert a.stops.price.tobytes() == b.stops.price.tobytes() and a.stops.qty.tobytes() == b.stops.qty.tobytes()
    assert population.sample(venue, 4, 8).stops.price.tobytes() != a.stops.price.tobytes()


def test_stop_clusters_follow_their_parameters(venue):
    """Per market and side: the notional at the clusters' centres is stop_notional x open
    interest / 2, exactly (normalised shares), split (1 - e) evenly over the round numbers and e
    at the recent extreme; the round-number centres are the multiples of the step nearest the
    reference (BTC's default 5,000: 5 % of ~100,000 to a 1-2-5 number; ETH's given 100); a stop
    lies beyond its centre by |z| x width (mean width sqrt(2 / pi)); the recent low and high are
    ref (1 -+ d), d uniform on (0, 2 range) (mean range, sd 2 range / sqrt(12))."""
    e, width, clusters, per, rng = 0.4, 0.002, 3, 25, 0.04
    population = _stops_population(stop_width=width)
    refs = VenueState(venue, VenuePositions(np.zeros(0, dtype=np.int8), np.zeros(0), np.zeros(0),
                                            market=np.zeros(0, dtype=np.int64))).ref_price
    distances, beyond = [], []
    for scenario in range(60):
        s = population.sample(venue, 11, scenario)
        stops, levels = s.stops, s.stop_levels
        assert stops is not None and levels is not None
        for j, name in enumerate(PERPS):
            ref = refs[venue.market_index(name)]
            step = levels["round_step"][j]
            assert step == {"BTCUSDT": lc.agents.round_number_step(ref), "ETHUSDT": 100.0,
                            "SOLUSDT": lc.agents.round_number_step(ref)}[name]
            low, high = levels["recent_low"][j], levels["recent_high"][j]
            distances += [1 - low / ref, high / ref - 1]
            for side, extreme in ((-1, low), (1, high)):
                mine = (stops.market == name) & (stops.side == side)
                price, qty = stops.price[mine], stops.qty[mine]
                assert price.size == (clusters + 1) * per
                rounds = lc.agents.round_number_levels(ref, step, clusters, below=side < 0)
                centres = np.repeat(np.append(rounds, extreme), per)
                offset = side * (price / centres - 1)
                assert (offset >= 0).all()
                beyond.append(offset / width)
                at_centre = qty * centres
                side_notional = 0.03 * OPEN_INTEREST[name] / 2
                assert at_centre.sum() == pytest.approx(side_notional, rel=1e-12)
                per_cluster = at_centre.reshape(clusters + 1, per).sum(axis=1)
                np.testing.assert_allclose(per_cluster, [(1 - e) * side_notional / clusters] * clusters
                                           + [e * side_notional], rtol=1e-12)
    d = np.array(distances)
    assert ((d > 0) & (d < 2 * rng)).all()
    assert abs(d.mean() - rng) < 4 * (2 * rng / math.sqrt(12)) / math.sqrt(d.size)
    z = np.concatenate(beyond)
    assert abs(z.mean() - math.sqrt(2 / math.pi)) < 4 * math.sqrt(1 - 2 / math.pi) / math.sqrt(z.size)


def test_the_default_round_number_step():
    assert [lc.agents.round_number_step(p) for p in (122_000.0, 4_100.0, 200.0, 1.0, 0.5)] == [
        5_000.0, 200.0, 10.0, 0.05, 0.02]
    assert list(lc.agents.round_number_levels(122_000.0, 5_000.0, 3, below=True)) == [120_000.0, 115_000.0, 110_000.0]
    assert list(lc.agents.round_number_levels(12_000.0, 5_000.0, 3, below=True)) == [10_000.0, 5_000.0]  # > 0 only
    assert list(lc.agents.round_number_levels(120_000.0, 5_000.0, 2, below=False)) == [125_000.0, 130_000.0]
    with pytest.raises(ValueError, match="ref_price"):
        lc.agents.round_number_step(0.0)
    with pytest.raises(ValueError, match="step"):
        lc.agents.round_number_levels(100.0, -1.0, 2, below=True)


def test_stop_cluster_parameters_are_checked(venue):
    with pytest.raises(ValueError, match="stop_notional"):
        VenuePopulation(OPEN_INTEREST, stop_notional=-0.1)
    with pytest.raises(ValueError, match="stop_width"):
        VenuePopulation(OPEN_INTEREST, stop_notional=0.01, stop_width=0.5)
    with pytest.raises(ValueError, match="stop_range"):
        VenuePopulation(OPEN_INTEREST, stop_notional=0.01, stop_range=0.6)
    with pytest.raises(ValueError, match="stop_extreme_share"):
        VenuePopulation(OPEN_INTEREST, stop_notional=0.01, stop_extreme_share=1.5)
    with pytest.raises(ValueError, match="stops_per_cluster"):
        VenuePopulation(OPEN_INTEREST, stop_notional=0.01, stops_per_cluster=0)
    with pytest.raises(ValueError, match="stop_clusters"):
        VenuePopulation(OPEN_INTEREST, stop_notional=0.01, stop_clusters=0)
    VenuePopulation(OPEN_INTEREST, stop_notional=0.01, stop_clusters=0, stop_extreme_share=1.0)
    with pytest.raises(ValueError, match="stop_round_step"):
        VenuePopulation(OPEN_INTEREST, stop_notional=0.01, stop_round_step={"DOGE": 1.0})
    with pytest.raises(ValueError, match="stop_round_step"):
        VenuePopulation(OPEN_INTEREST, stop_notional=0.01, stop_round_step={"BTCUSDT": -1.0})
    with pytest.raises(TypeError, match="stop_round_step"):
        VenuePopulation(OPEN_INTEREST, stop_notional=0.01, stop_round_step=[1.0])
    # none by default: the populations drawn before stops existed are unchanged
    assert VenuePopulation(OPEN_INTEREST, traders=10).sample(venue).stops is None
