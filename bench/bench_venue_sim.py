"""Many markets through time (issue 19's benchmark): cross accounts holding one position in each
of 3 perpetuals, quote collateral, over correlated fundamental paths, with the simplest policy
(market orders, the index mark, no resilience, no throughput limit), against a NumPy loop of
the same rule in the same run.

The NumPy loop re-reads every live account every step (vectorised: PnL and maintenance per
position at the step's marks, ``bincount`` by account), sorts the step's triggered accounts in
liquidation order (equity <= 0 first, then margin ratio), walks each market's bids (sells)
and asks (buys) with the orders in that order through the book's cumulative depth
(``searchsorted`` on prefix sums, the levels shifted with the fundamental), and settles each
liquidated account (its quote balance plus its closes' realised PnL). The engine re-reads only
the accounts its index says the marks may have reached. Answers are checked: the same accounts
liquidated at the same steps, their equity after within 1e-6 relative.

Sizes: ``VENUE_SIM_ACCOUNTS`` (default 1,000,000) accounts; the engine and the baseline run
``VENUE_SIM_STEPS`` (default 500) steps each; ``test_venue_sim_engine_10k_steps`` runs the
engine alone for 10,000 steps (the NumPy loop would take about 20x the 500-step run's time).

Run: python -m pytest bench/bench_venue_sim.py --benchmark-only
"""

from __future__ import annotations

import os

import numpy as np
import pytest

import liqcascade as lc
from liqcascade.venue import Accounts, Market, Venue, VenuePositions, VenueState
from liqcascade.venue_simulator import correlated_gbm_paths, simulate_venue

N_ACCOUNTS = int(os.environ.get("VENUE_SIM_ACCOUNTS", "1000000"))
STEPS = int(os.environ.get("VENUE_SIM_STEPS", "500"))
MIDS = np.array([60_000.0, 3_000.0, 150.0])
SIGMA = np.array([0.002, 0.0025, 0.003])  # per step
CORRELATION = np.array([[1.0, 0.8, 0.7], [0.8, 1.0, 0.75], [0.7, 0.75, 1.0]])


def bench_venue(n_accounts: int, seed: int = 0) -> tuple[Venue, VenuePositions, Accounts]:
    """Accounts with one position in each market (sides leaning one way), 3-20x leverage."""
    rng = np.random.default_rng(seed)
    levels = 20_000
    markets = []
    for name, mid in zip(("BTCUSDT", "ETHUSDT", "SOLUSDT"), MIDS, strict=True):
        tick = mid * 2e-5  # 20,000 levels: 40 % of the mid each way
        k = np.arange(1, levels + 1)
        depth = 2.0 * n_accounts * 3_300.0 / mid / levels  # twice every account's position in the market
        markets.append(Market(name, lc.OrderBook(mid - tick * k, np.full(levels, depth), mid + tick * k,
                                                 np.full(levels, depth))))
    venue = Venue(markets)
    account = np.repeat(np.arange(n_accounts), 3)
    market = np.tile(np.arange(3), n_accounts)
    lean = np.where(rng.random(n_accounts) < 0.6, 0.9, 0.1)
    side = np.where(rng.random(3 * n_accounts) < lean[account], 1, -1).astype(np.int8)
    notional = rng.lognormal(np.log(2_000.0), 1.0, 3 * n_accounts)
    entry = MIDS[market] * np.exp(rng.normal(0.0, 0.01, 3 * n_accounts))
    qty = notional / entry
    leverage = rng.choice([3.0, 5.0, 10.0, 15.0, 20.0], n_accounts, p=[0.15, 0.3, 0.3, 0.15, 0.1])
    gross = np.bincount(account, weights=notional, minlength=n_accounts)
    positions = VenuePositions(side, qty, entry, market=market, account=account, mmr=np.full(3 * n_accounts, 0.005))
    return venue, positions, Accounts({"USDT": gross / leverage})


class NumpyVenueLoop:
    """The same venue and rule as plain arrays and whole-array operations per step."""

    def __init__(self, state: VenueState) -> None:
        venue, p = state.venue, state.positions
        self.side = np.asarray(p.side, dtype=np.float64)
        self.qty = np.asarray(p.qty)
        self.entry = np.asarray(p.entry_price)
        self.market = p.market_index(venue)
        self.account = np.asarray(p.account)
        self.mmr = np.asarray(p.mmr)
        self.cash = state.accounts.matrix(venue)[:, 0]
        self.n_acc = len(state.accounts)
        self.by_account = np.argsort(self.account, kind="stable")  # each account's positions, by index
        self.mid0 = np.array([m.book.mid for m in venue.markets])
        self.books = []
        for mk in venue.markets:
            b = mk.book
            sides = []
            for price, qty in ((np.asarray(b.bid_price), np.asarray(b.bid_qty)),
                               (np.asarray(b.ask_price), np.asarray(b.ask_qty))):
                sides.append((np.concatenate([[0.0], np.cumsum(qty)]), np.concatenate([[0.0], np.cumsum(qty * price)]),
                              price))
            self.books.append(sides)

    def _notional(self, m: int, s: int, c: np.ndarray) -> np.ndarray:
        cum, cum_n, price = self.books[m][s]
        j = np.clip(np.searchsorted(cum, c, side="left") - 1, 0, price.size - 1)
        return cum_n[j] + (c - cum[j]) * price[j]

    def run(self, paths: np.ndarray) -> dict:
        alive = np.ones(self.n_acc, dtype=bool)
        step_of = np.full(self.n_acc, -1)
        equity_after = np.full(self.n_acc, np.nan)
        consumed = np.zeros((3, 2))
        for t in range(paths.shape[0]):
            marks = paths[t]
            p = marks[self.market]
            equity = self.cash + np.bincount(self.account, weights=self.side * self.qty * (p - self.entry),
                                             minlength=self.n_acc)
            maintenance = np.bincount(self.account, weights=self.mmr * self.qty * p, minlength=self.n_acc)
            hit = np.flatnonzero(alive & (equity <= maintenance))
            if hit.size == 0:
                continue
            e, mm = equity[hit], maintenance[hit]
            ratio = np.where(e > 0, mm / np.where(e > 0, e, 1.0), 0.0)
            hit = hit[np.lexsort((hit, -ratio, e > 0))]
            alive[hit] = False
            step_of[hit] = t
            rows = self.by_account.reshape(-1, 3)[hit].ravel()  # positions in liquidation order
            cash = self.cash[hit].copy()
            sorter = np.argsort(hit)
            shift = marks - self.mid0
            for m in range(3):
                for s, sign in ((0, 1.0), (1, -1.0)):
                    sel = rows[(self.market[rows] == m) & (self.side[rows] == sign)]
                    if sel.size == 0:
                        continue
                    c = consumed[m, s] + np.concatenate([[0.0], np.cumsum(self.qty[sel])])
                    notional = np.diff(self._notional(m, s, c)) + shift[m] * self.qty[sel]
                    consumed[m, s] = c[-1]
                    pnl = sign * (notional - self.entry[sel] * self.qty[sel])
                    row = sorter[np.searchsorted(hit, self.account[sel], sorter=sorter)]
                    cash += np.bincount(row, weights=pnl, minlength=hit.size)
            equity_after[hit] = cash
        return {"step": step_of, "equity_after": equity_after}


@pytest.fixture(scope="module")
def venue_sim():
    venue, positions, accounts = bench_venue(N_ACCOUNTS)
    state = VenueState(venue, positions, accounts)
    paths = correlated_gbm_paths(10_000, 1.0, MIDS, SIGMA, correlation=CORRELATION, seed=3)
    return state, paths


def run_engine(state: VenueState, paths: np.ndarray):
    return simulate_venue(state, steps=paths.shape[0], policy="market_orders", paths=paths, mark="index")


def agree(result, baseline: dict) -> None:
    step = np.full(len(baseline["step"]), -1)
    step[result.accounts["account"]] = result.accounts["step"]
    np.testing.assert_array_equal(step, baseline["step"])
    liquidated = baseline["step"] >= 0
    after = np.full(len(step), np.nan)
    after[result.accounts["account"]] = result.accounts["equity_after"]
    np.testing.assert_allclose(after[liquidated], baseline["equity_after"][liquidated], rtol=1e-6, atol=1e-6)


@pytest.mark.benchmark(group="venue through time, accounts x 3 markets")
def test_venue_sim_engine(benchmark, venue_sim):
    state, paths = venue_sim
    result = benchmark.pedantic(run_engine, args=(state, paths[:STEPS]), rounds=3, iterations=1)
    agree(result, NumpyVenueLoop(state).run(paths[:STEPS]))
    benchmark.extra_info["accounts_liquidated"] = len(result.accounts)
    benchmark.extra_info["accounts_evaluated"] = result.accounts_evaluated


@pytest.mark.benchmark(group="venue through time, accounts x 3 markets")
def test_venue_sim_numpy(benchmark, venue_sim):
    state, paths = venue_sim
    baseline = NumpyVenueLoop(state)
    benchmark.pedantic(baseline.run, args=(paths[:STEPS],), rounds=1, iterations=1)


@pytest.mark.benchmark(group="venue through time, 10,000 steps")
def test_venue_sim_engine_10k_steps(benchmark, venue_sim):
    state, paths = venue_sim
    result = benchmark.pedantic(run_engine, args=(state, paths), rounds=1, iterations=1)
    benchmark.extra_info["accounts_liquidated"] = len(result.accounts)
    benchmark.extra_info["accounts_evaluated"] = result.accounts_evaluated
