"""A study over a venue whose population is resampled every scenario (issue 20, "Studies over
venues"): the default venue's books (three perpetuals, wBETH and USDe spot books; flat 0.5 %
maintenance, no tiers, so that the NumPy side needs no tier search), 1,400,000 traders holding
2 or 3 perpetuals each — 71.4 % cross accounts (about 1,000,000, collateral in three baskets of
USDT, wBETH and USDe) and the rest isolated (about 1,000,000 positions) — directions on 8
strategies' factors, 100 leveraged tokens and 10,000 funds; a multivariate Student-t(4) move of
the perpetuals per scenario. Engine: ``venue_monte_carlo(venue, shocks, n, population=...)`` on 1
and 2 threads (scenarios per second).

The NumPy pipeline does the same per scenario: it samples the population by the same rules with
whole-array draws (``numpy.random.Generator``: trader kinds, market subsets by ``argsort`` of
uniforms, the factor directions, sizes, entries, leverage, margins, baskets, tokens, funds),
indexes it (isolated liquidation prices in closed form, accounts' exposure masks), and runs
``bench_agents.NumpyAgentsVenue``'s rounds (every isolated position and every account re-read
each round, orders crossed, the imbalance walked through the cumulative depth, tokens' and funds'
orders filled by ``cumsum``/``searchsorted``). One scenario after another, as a NumPy loop over
scenarios would. Its answers are checked against the engine's on the engine's own samples (the
same rounds, accounts and positions liquidated, token rebalances and fund sales, final prices
within one level), and its sampler's statistics against the engine's sample.

Run: python -m pytest bench/bench_venue_population.py --benchmark-only
"""

from __future__ import annotations

from statistics import NormalDist

import numpy as np
import pytest
from bench_agents import TICKS, NumpyAgentsVenue

from liqcascade.correlated import CorrelatedShockModel
from liqcascade.models import DEFAULT_DEPTH_PROFILE, BookModel
from liqcascade.venue import Asset, Market, Venue
from liqcascade.venue_population import VenuePopulation, VenuePopulationSample
from liqcascade.venue_scenario import VENUE_MARKETS
from liqcascade.venue_study import sample_venue_scenario, venue_monte_carlo

PERPS = ("BTCUSDT", "ETHUSDT", "SOLUSDT")
N_TRADERS = 1_400_000
N_SCENARIOS = 6
N_NUMPY = 2
POPULATION = VenuePopulation(
    {"BTCUSDT": 44e6, "ETHUSDT": 22e6, "SOLUSDT": 8.8e6}, traders=N_TRADERS, cross_share=1 / 1.4,
    markets_per_trader=(0.0, 0.5, 0.5), long_share=0.55, strategies=8, strategy_loading=0.5,
    strategy_market_correlation=0.6, baskets=({"USDT": 1.0}, {"USDT": 0.6, "wBETH": 0.4}, {"USDT": 0.5, "USDe": 0.5}),
    basket_weights=(0.5, 0.3, 0.2), tokens=100, funds=10_000)
MODEL = CorrelatedShockModel.student_t(4.0, [[1.0, 0.8, 0.7], [0.8, 1.0, 0.75], [0.7, 0.75, 1.0]],
                                       [0.03, 0.04, 0.05], markets=PERPS)


def flat_venue() -> Venue:
    """The default venue's books and collateral assets, every market at a flat 0.5 % maintenance."""
    markets = []
    for name, mid, tick, scale, _ in VENUE_MARKETS:
        profile = tuple((d, n * scale) for d, n in DEFAULT_DEPTH_PROFILE)
        markets.append(Market(name, BookModel(mid=mid, tick=tick, profile=profile).build()))
    return Venue(markets, [Asset("wBETH", priced_by="WBETHUSDT", haircut=0.05),
                           Asset("USDe", priced_by="USDEUSDT", haircut=0.02)])


class NumpyPopulationVenue(NumpyAgentsVenue):
    """NumpyAgentsVenue's rounds over a population given as arrays (no VenueState: the NumPy
    pipeline indexes its own sample)."""

    def __init__(self, venue: Venue, books: list, p: dict) -> None:  # noqa: D107 (attributes as NumpyVenue's)
        self.m = len(venue.markets)
        self.side = p["side"].astype(np.float64)
        self.qty, self.entry, self.market, self.account = p["qty"], p["entry"], p["market"], p["account"]
        self.iso = self.account < 0
        mmr = 0.005
        liq = (self.qty * self.entry - self.side * p["margin"]) / (self.qty * (1.0 - self.side * mmr))
        self.liq = np.where(self.iso, liq, np.nan)
        self.mmr, self.maint = np.full(self.qty.size, mmr), np.zeros(self.qty.size)
        self.tiers = [None] * self.m
        self.fee = np.zeros(self.m)
        self.ref = np.array([mk.book.mid for mk in venue.markets])
        self.coll = p["collateral"]
        self.haircut = np.array([0.0] + [x.haircut for x in venue.assets])
        self.priced_by = np.array([-1] + [venue.market_index(x.priced_by) if x.priced_by else -1
                                          for x in venue.assets])
        self.n_acc = self.coll.shape[0]
        cross = ~self.iso
        self.has_pos = np.bincount(self.account[cross], minlength=self.n_acc) > 0
        exposure = np.zeros((self.n_acc, self.m), dtype=bool)
        exposure[self.account[cross], self.market[cross]] = True
        for k in range(1, len(self.priced_by)):
            if self.priced_by[k] >= 0:
                exposure[:, self.priced_by[k]] |= self.coll[:, k] != 0
        self.exposure = exposure
        self.books = books
        self.s_market = np.zeros(0, np.int64)
        self.s_side = np.zeros(0, np.int64)
        self.s_qty = self.s_price = np.zeros(0)
        self.t_market, self.t_lev, self.t_nav0, self.t_theta = p["t_market"], p["t_lev"], p["t_nav"], p["t_theta"]
        self.t_p0 = self.ref[self.t_market]
        self.f_hold0 = p["f_hold"]
        self.f_held = self.f_hold0 > 0
        self.f_debt0 = self.f_hold0 @ self.ref - p["f_equity"]
        self.f_target, self.f_max = p["f_target"], p["f_max"]


def book_arrays(venue: Venue) -> list:
    books = []
    for mk in venue.markets:
        b = mk.book
        sides = []
        for price, qty in ((np.asarray(b.bid_price), np.asarray(b.bid_qty)),
                           (np.asarray(b.ask_price), np.asarray(b.ask_qty))):
            sides.append((price, np.concatenate([[0.0], np.cumsum(qty)]),
                          np.concatenate([[0.0], np.cumsum(qty * price)])))
        books.append(sides)
    return books


def from_engine(sample: VenuePopulationSample, venue: Venue) -> dict:
    """The engine's sample as the NumPy pipeline's arrays (to check its rounds on the same input)."""
    pos, t, f = sample.positions, sample.tokens, sample.funds
    assert t is not None and f is not None
    return {"side": np.asarray(pos.side), "qty": np.asarray(pos.qty), "entry": np.asarray(pos.entry_price),
            "margin": np.asarray(pos.margin), "market": pos.market_index(venue), "account": np.asarray(pos.account),
            "collateral": sample.accounts.matrix(venue),
            "t_market": np.array([venue.market_index(x) for x in t.market.tolist()]), "t_lev": np.asarray(t.leverage),
            "t_nav": np.asarray(t.nav), "t_theta": np.asarray(t.threshold), "f_hold": f.matrix(venue),
            "f_equity": np.asarray(f.equity), "f_target": np.asarray(f.target_leverage),
            "f_max": np.asarray(f.max_leverage)}


def _choice(rng: np.random.Generator, values: np.ndarray, weights: np.ndarray, size: int) -> np.ndarray:
    """Weighted draws by inverse CDF (uniforms searched in the cumulative weights: faster than
    ``Generator.choice(p=...)``)."""
    cumulative = np.cumsum(weights)
    return values[np.minimum(np.searchsorted(cumulative, rng.random(size), side="right"), values.size - 1)]


def numpy_sample(pop: VenuePopulation, venue: Venue, rng: np.random.Generator) -> dict:
    """The population's rules with whole-array NumPy draws (docs/design.md, "Populations over a venue")."""
    n, k_all = int(pop.traders), len(pop.open_interest)
    traded = np.array([venue.market_index(m) for m in pop.open_interest])
    oi = np.array(list(pop.open_interest.values()))
    ref_all = np.array([mk.book.mid for mk in venue.markets])
    ref = ref_all[traded]
    w_k = np.array(pop.markets_per_trader)
    unit = oi / (n * float(np.dot(np.arange(1, w_k.size + 1), w_k)) / k_all)
    cross = rng.random(n) < pop.cross_share
    k = _choice(rng, np.arange(1, w_k.size + 1), w_k, n)
    strategy = rng.integers(0, pop.strategies, n)
    lev = np.asarray(pop.leverage)
    lev_w = np.asarray(pop.leverage_weights)
    account_lev = _choice(rng, lev, lev_w, n)
    basket = _choice(rng, np.arange(len(pop.basket_weights)), np.asarray(pop.basket_weights), n)
    a = pop.size_shape
    size = (a - 1.0) / a * rng.random(n) ** (-1.0 / a)
    rank = np.argsort(rng.random((n, k_all)), axis=1)  # a uniform k-subset: the first k of a permutation
    held = np.zeros((n, k_all), bool)
    np.put_along_axis(held, rank, np.arange(k_all)[None, :] < k[:, None], axis=1)
    rho, w = pop.strategy_market_correlation, pop.strategy_loading
    factor = np.sqrt(rho) * rng.standard_normal(pop.strategies)[:, None] + \
        np.sqrt(1 - rho) * rng.standard_normal((pop.strategies, k_all))
    trader, j = np.nonzero(held)
    m = trader.size
    latent = w * factor[strategy[trader], j] + np.sqrt(1 - w * w) * rng.standard_normal(m)
    side = np.where(latent < NormalDist().inv_cdf(pop.long_share), 1, -1).astype(np.int8)
    notional = unit[j] * size[trader]
    entry = ref[j] * np.exp(pop.entry_spread * rng.standard_normal(m))
    qty = notional / entry
    is_cross = cross[trader]
    leverage = np.where(is_cross, account_lev[trader], _choice(rng, lev, lev_w, m))
    pnl = side * qty * (ref[j] - entry)
    margin = np.where(is_cross, 0.0, notional / leverage + np.maximum(0.0, -pnl))
    account_of = np.cumsum(cross) - 1
    account = np.where(is_cross, account_of[trader], -1)
    n_acc = int(cross.sum())
    ac = account[is_cross]
    value = np.bincount(ac, weights=(notional / leverage)[is_cross], minlength=n_acc) + \
        np.maximum(0.0, -np.bincount(ac, weights=pnl[is_cross], minlength=n_acc))
    names = venue.asset_names
    shares = np.array([[b.get(x, 0.0) for x in names] for b in (pop.baskets or ({names[0]: 1.0},))])
    asset_value = np.array([1.0] + [ref_all[venue.market_index(x.priced_by)] * (1 - x.haircut) if x.priced_by
                                    else (x.price or 1.0) * (1 - x.haircut) for x in venue.assets])
    collateral = value[:, None] * shares[basket[cross]] / asset_value[None, :]
    # tokens
    nt = int(pop.tokens)
    tj = rng.integers(0, k_all, nt)
    sigma = pop.agent_size_sigma
    t_nav = pop.token_nav * oi[tj] * k_all / nt * np.exp(sigma * rng.standard_normal(nt) - sigma * sigma / 2)
    t_lev = _choice(rng, np.asarray(pop.token_leverage), np.asarray(pop.token_leverage_weights), nt)
    t_theta = _choice(rng, np.asarray(pop.token_threshold), np.asarray(pop.token_threshold_weights), nt)
    # funds
    nf = int(pop.funds)
    fw = np.array(pop.fund_markets if pop.fund_markets is not None else (0.0, 1.0))
    fk = _choice(rng, np.arange(1, fw.size + 1), fw, nf)
    f_rank = np.argsort(rng.random((nf, k_all)), axis=1)
    f_held = np.zeros((nf, k_all), bool)
    np.put_along_axis(f_held, f_rank, np.arange(k_all)[None, :] < fk[:, None], axis=1)
    f_size = pop.fund_assets * oi.sum() / nf * np.exp(sigma * rng.standard_normal(nf) - sigma * sigma / 2)
    weight = f_held * oi / (f_held * oi).sum(axis=1, keepdims=True)
    f_hold = np.zeros((nf, len(venue.markets)))
    f_hold[:, traded] = f_size[:, None] * weight / ref[None, :]
    target = _choice(rng, np.asarray(pop.fund_target), np.asarray(pop.fund_target_weights), nf)
    buffer = rng.uniform(*pop.fund_buffer, nf)
    return {"side": side, "qty": qty, "entry": entry, "margin": margin, "market": traded[j], "account": account,
            "collateral": collateral, "t_market": traded[tj], "t_lev": t_lev, "t_nav": t_nav, "t_theta": t_theta,
            "f_hold": f_hold, "f_equity": (f_hold @ ref_all) / target, "f_target": target, "f_max": target * buffer}


@pytest.fixture(scope="module")
def setting():
    venue = flat_venue()
    return venue, book_arrays(venue)


def numpy_pipeline(venue: Venue, books: list, n: int) -> list[dict]:
    rng = np.random.default_rng(0)
    moves = np.zeros((n, len(venue.markets)))
    moves[:, :3] = MODEL.sample(seed=0, n_scenarios=n)
    return [NumpyPopulationVenue(venue, books, numpy_sample(POPULATION, venue, rng)).cascade_moves(row)
            for row in moves]


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.benchmark(group="venue study, population resampled per scenario (1.4M traders, 100 tokens, 10k funds)")
def test_venue_population_study_engine(benchmark, setting, threads):
    venue, books = setting
    table = benchmark.pedantic(venue_monte_carlo, args=(venue, MODEL, N_SCENARIOS), rounds=2, iterations=1,
                               kwargs={"population": POPULATION, "threads": threads, "progress": False})
    # a fast wrong answer is not a result: NumPy's rounds on the engine's own samples agree with its rows
    for row in (0, 1):
        scenario = sample_venue_scenario(venue, MODEL, 0, row, population=POPULATION)
        assert scenario.population is not None
        expected = NumpyPopulationVenue(venue, books, from_engine(scenario.population, venue)).cascade_moves(
            np.array([scenario.shocks[m] for m in venue.market_names]))
        assert table["rounds"][row] == expected["rounds"]
        assert table["accounts_liquidated"][row] == expected["accounts"]
        assert table["n_liquidated"][row] == expected["positions"]
        final = table.per_market("final_price")[row]
        assert np.all(np.abs(final - expected["final_price"]) <= TICKS * 1.001)
    benchmark.extra_info["scenarios"] = N_SCENARIOS
    benchmark.extra_info["mean_accounts_liquidated"] = float(table["accounts_liquidated"].mean())


@pytest.mark.benchmark(group="venue study, population resampled per scenario (1.4M traders, 100 tokens, 10k funds)")
def test_venue_population_study_numpy(benchmark, setting):
    venue, books = setting
    benchmark.pedantic(numpy_pipeline, args=(venue, books, N_NUMPY), rounds=1, iterations=1)
    benchmark.extra_info["scenarios"] = N_NUMPY


def test_numpy_sampler_follows_the_engines_rules(setting):
    # the NumPy pipeline samples the same population (its own draws): the same counts and totals
    venue, _ = setting
    engine = POPULATION.sample(venue, 0, 0)
    mine = numpy_sample(POPULATION, venue, np.random.default_rng(1))
    assert mine["collateral"].shape[0] == pytest.approx(len(engine.accounts), rel=0.01)
    assert mine["qty"].size == pytest.approx(len(engine.positions), rel=0.01)
    assert np.mean(mine["side"] > 0) == pytest.approx(np.mean(np.asarray(engine.positions.side) > 0), abs=0.25)
    assert (mine["f_hold"] > 0).sum() == pytest.approx((engine.funds.matrix(venue) > 0).sum(), rel=0.02)
    assert mine["t_nav"].size == len(engine.tokens)
