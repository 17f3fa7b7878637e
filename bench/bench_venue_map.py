"""A venue's account trigger prices (the liquidation map's cross part, docs/design.md
"Liquidation map of a venue") on the default venue's 200,000 cross accounts (2-3 positions each
over 3 perpetuals, Binance-like tiers on BTC and ETH, collateral in 3 assets), against NumPy in
the same run.

The NumPy baseline works on all (account, market) pairs at once, in closed form: each pair's
equity minus maintenance with the market's price at ``p`` is a constant (the rest of the account
at the reference, indexed once outside the timing) plus its position's PnL and maintenance and
its collateral valued on that market — linear in ``p`` within a tier — so it solves the line of
every tier in one array pass each and keeps the root whose notional is in its own tier. That is
exact here because every pair holds at most one position and its equity minus maintenance is
monotone in its market's price (a continuous tier table, no floors); the engine's segment walk
needs no such assumption (it evaluates the account's health on each segment). Answers are
checked: the same pairs, NaN where the engine has NaN, prices within 1e-9.

Run: python -m pytest bench/bench_venue_map.py --benchmark-only
"""

from __future__ import annotations

import numpy as np
import pytest

from liqcascade.venue import VenueState
from liqcascade.venue_scenario import default_venue

N_ACCOUNTS = 200_000


class NumpyTriggers:
    """Every (account, market) pair's trigger prices by vectorised bisection."""

    def __init__(self, state: VenueState) -> None:
        venue, p, a = state.venue, state.positions, state.accounts
        m_count = len(venue.markets)
        self.ref = np.asarray(state.ref_price)
        account = np.asarray(p.account)
        cross = account >= 0
        self.pos_account = account[cross]
        self.pos_market = p.market_index(venue)[cross]
        self.side = np.asarray(p.side, dtype=np.float64)[cross]
        self.qty = np.asarray(p.qty)[cross]
        self.entry = np.asarray(p.entry_price)[cross]
        self.mmr = np.asarray(state._state.mmr)[cross]
        self.maint = np.asarray(state._state.maint_amount)[cross]
        self.tiers = [mk.tiers if mk.basis == "mark" else None for mk in venue.markets]
        coll = a.matrix(venue)
        haircut = np.array([0.0] + [x.haircut for x in venue.assets])
        priced_by = np.array([-1] + [venue.market_index(x.priced_by) if x.priced_by else -1 for x in venue.assets])
        n_acc = len(a)
        has_pos = np.bincount(self.pos_account, minlength=n_acc) > 0
        exposed = np.zeros((n_acc, m_count), dtype=bool)
        exposed[self.pos_account, self.pos_market] = True
        for k in range(1, len(priced_by)):
            if priced_by[k] >= 0:
                exposed[:, priced_by[k]] |= coll[:, k] != 0
        exposed &= has_pos[:, None]
        self.pair_account, self.pair_market = np.nonzero(exposed)   # row-major: by account, then market
        pair_id = np.full((n_acc, m_count), -1)
        pair_id[self.pair_account, self.pair_market] = np.arange(self.pair_account.size)
        self.pos_pair = pair_id[self.pos_account, self.pos_market]
        # collateral valued on each pair's market (no floors in this venue)
        self.coll_slope = np.zeros(self.pair_account.size)
        for k in range(1, len(priced_by)):
            if priced_by[k] >= 0:
                here = self.pair_market == priced_by[k]
                b = coll[self.pair_account[here], k]
                self.coll_slope[here] += np.where(b > 0, b * (1 - haircut[k]), b)
        slack_ref = np.asarray(state.equity_before) - np.asarray(state.maintenance_before)
        self.constant = slack_ref[self.pair_account] - self._pair_terms(self.ref[self.pair_market])

    def _pair_terms(self, price: np.ndarray) -> np.ndarray:
        """Per pair: its market's positions' PnL less their maintenance, and its collateral on
        that market, with the pair's market at ``price`` (one per pair)."""
        p = price[self.pos_pair]
        mmr, maint = self.mmr.copy(), self.maint.copy()
        for m, tiers in enumerate(self.tiers):
            if tiers is None:
                continue
            mine = self.pos_market == m
            k = np.searchsorted(tiers.notional_floor, self.qty[mine] * p[mine], side="right") - 1
            mmr[mine], maint[mine] = tiers.mmr[k], tiers.maint_amount[k]
        terms = self.side * self.qty * (p - self.entry) - (mmr * self.qty * p - maint)
        return np.bincount(self.pos_pair, weights=terms, minlength=price.size) + self.coll_slope * price

    def slack(self, price: np.ndarray) -> np.ndarray:
        return self.constant + self._pair_terms(price)

    def triggers(self) -> tuple[np.ndarray, np.ndarray]:
        """Closed form, tier by tier: with the pair's position (at most one) in tier k the slack
        is linear, ``C + s q (p - e) - (mmr_k q p - maint_k) + c p``; its root ``p_k`` is the
        trigger when ``q p_k`` lies in tier k (the slack is monotone here, so one tier's root
        is the trigger), on the side of the reference it falls."""
        n = self.pair_account.size
        ref = self.ref[self.pair_market]
        at_ref = self.slack(ref) <= 0
        pair, q, s, e = self.pos_pair, self.qty, self.side, self.entry
        # per pair: the position's terms (0 for a pair with collateral only)
        pq, ps, pe = np.zeros(n), np.zeros(n), np.zeros(n)
        pq[pair], ps[pair], pe[pair] = q, s, e
        root = np.full(n, np.nan)
        alone = pq == 0   # collateral only: C + c p = 0
        with np.errstate(divide="ignore", invalid="ignore"):
            root[alone] = -self.constant[alone] / self.coll_slope[alone]
            for m, tiers in enumerate(self.tiers):
                mine = (self.pair_market == m) & ~alone
                if tiers is None:
                    mmr = np.zeros(n)
                    maint = np.zeros(n)
                    mmr[pair], maint[pair] = self.mmr, self.maint
                    k_root = (ps * pq * pe - self.constant - maint) / (ps * pq - mmr * pq + self.coll_slope)
                    root[mine] = k_root[mine]
                    continue
                floors = np.append(tiers.notional_floor, np.inf)
                for k in range(len(tiers.mmr)):
                    k_root = ((ps * pq * pe - self.constant - tiers.maint_amount[k])
                              / (ps * pq - tiers.mmr[k] * pq + self.coll_slope))
                    notional = pq * k_root
                    ok = mine & (notional >= floors[k]) & (notional < floors[k + 1])
                    root[ok] = k_root[ok]
        root[~(root > 0)] = np.nan
        down = np.where(root <= ref, root, np.nan)
        up = np.where(root >= ref, root, np.nan)
        return np.where(at_ref, ref, down), np.where(at_ref, ref, up)


@pytest.fixture(scope="module")
def venue_state() -> VenueState:
    return VenueState(*default_venue(accounts=N_ACCOUNTS, isolated=1_000))


def agree(engine: dict, baseline: NumpyTriggers, down: np.ndarray, up: np.ndarray) -> None:
    assert np.array_equal(engine["account"], baseline.pair_account)
    assert np.array_equal(engine["market"], baseline.pair_market)
    for got, want in ((engine["down"], down), (engine["up"], up)):
        assert np.array_equal(np.isnan(got), np.isnan(want))
        ok = ~np.isnan(got)
        np.testing.assert_allclose(got[ok], want[ok], rtol=1e-9)


@pytest.mark.benchmark(group="venue trigger prices")
def test_engine(benchmark, venue_state):
    baseline = NumpyTriggers(venue_state)
    result = benchmark.pedantic(venue_state._state.account_trigger_prices, rounds=5, iterations=1, warmup_rounds=1)
    agree(result, baseline, *baseline.triggers())


@pytest.mark.benchmark(group="venue trigger prices")
def test_numpy(benchmark, venue_state):
    baseline = NumpyTriggers(venue_state)   # (pairs, slopes and constants indexed once, outside the timing)
    down, up = benchmark.pedantic(baseline.triggers, rounds=3, iterations=1, warmup_rounds=0)
    agree(venue_state._state.account_trigger_prices(), baseline, down, up)
