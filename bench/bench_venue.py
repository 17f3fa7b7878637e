"""The static venue cascade on 1,000,000 cross accounts (2-3 positions each over 3 perpetuals)
plus 1,000,000 isolated positions, collateral in 3 assets (the default venue of
``liqcascade venue``), against a NumPy implementation of the same round rule in the same run.

The NumPy rounds re-read every isolated position and every account each round (vectorised:
PnL and tiered maintenance per position, ``bincount`` by account, the exposure mask), sum the
round's orders per market, cross them, walk the imbalance through the book's cumulative depth
(``searchsorted``), and value every order's fills from the cumulative notional in priority
order. It does not settle accounts (the engine does). Answers are checked against each other:
the same rounds, the same liquidated accounts and positions, final prices within one level.

Run: python -m pytest bench/bench_venue.py --benchmark-only
"""

from __future__ import annotations

import numpy as np
import pytest

from liqcascade.venue import VenueState, venue_cascade
from liqcascade.venue_scenario import default_venue

N_ACCOUNTS = 1_000_000
N_ISOLATED = 1_000_000
SMALL, LARGE = -0.04, -0.11  # about 1 % and 30 % of accounts liquidated


class NumpyVenue:
    """The venue as plain arrays, and the round rule written with whole-array operations."""

    def __init__(self, state: VenueState) -> None:
        venue, p, a = state.venue, state.positions, state.accounts
        self.m = len(venue.markets)
        self.side = np.asarray(p.side, dtype=np.float64)
        self.qty = np.asarray(p.qty)
        self.entry = np.asarray(p.entry_price)
        self.market = p.market_index(venue)
        self.account = np.asarray(p.account)
        self.iso = self.account < 0
        self.liq = np.asarray(state.liquidation_price)
        self.mmr = np.asarray(state._state.mmr)
        self.maint = np.asarray(state._state.maint_amount)
        self.tiers = [mk.tiers if mk.basis == "mark" else None for mk in venue.markets]
        self.fee = np.array([mk.close_fee for mk in venue.markets])
        self.ref = np.asarray(state.ref_price)
        self.coll = a.matrix(venue)
        self.haircut = np.array([0.0] + [x.haircut for x in venue.assets])
        self.priced_by = np.array([-1] + [venue.market_index(x.priced_by) if x.priced_by else -1 for x in venue.assets])
        self.n_acc = len(a)
        cross = ~self.iso
        self.has_pos = np.bincount(self.account[cross], minlength=self.n_acc) > 0
        exposure = np.zeros((self.n_acc, self.m), dtype=bool)
        exposure[self.account[cross], self.market[cross]] = True
        for k in range(1, len(self.priced_by)):
            if self.priced_by[k] >= 0:
                exposure[:, self.priced_by[k]] |= self.coll[:, k] != 0
        self.exposure = exposure
        self.books = []
        for mk in venue.markets:
            b = mk.book
            sides = []
            for price, qty in ((np.asarray(b.bid_price), np.asarray(b.bid_qty)), (np.asarray(b.ask_price),
                                                                                    np.asarray(b.ask_qty))):
                sides.append((price, np.concatenate([[0.0], np.cumsum(qty)]),
                              np.concatenate([[0.0], np.cumsum(qty * price)])))
            self.books.append(sides)

    # A relative shock moves the whole market (docs/design.md, "Many markets" step 1): the side
    # it consumes loses its levels beyond the target, the opposite side's prices are scaled by
    # target / ref. `scale[m, s]` is that factor for side s (0 bids, 1 asks) of market m.
    scale = np.ones((0, 2))

    def _shock_market(self, market: int, move: float, consumed: np.ndarray) -> float:
        """Apply a relative move to `market`: consume its side up to the target and re-anchor the
        other side; returns the target."""
        target = self.ref[market] * (1 + move)
        s = 0 if move < 0 else 1
        price, cum, _ = self.books[market][s]
        key = np.searchsorted(-price, -target, side="left") if s == 0 else np.searchsorted(price, target, side="left")
        consumed[market, s] = cum[key]
        self.scale[market, 1 - s] = target / self.ref[market]
        return float(target)

    def _notional(self, m: int, s: int, c: np.ndarray) -> np.ndarray:
        price, cum, cum_n = self.books[m][s]
        c = np.minimum(c, cum[-1])
        j = np.clip(np.searchsorted(cum, c, side="left") - 1, 0, price.size - 1)
        return (cum_n[j] + (c - cum[j]) * price[j]) * self.scale[m, s]

    def _level_price(self, m: int, s: int, c: float, fallback: float) -> float:
        price, cum, _ = self.books[m][s]
        if c <= 0:
            return fallback
        j = min(int(np.searchsorted(cum, min(c, cum[-1]), side="left")) - 1, price.size - 1)
        return float(price[j] * self.scale[m, s])

    def _maintenance(self, last: np.ndarray) -> np.ndarray:
        p = last[self.market]
        mmr, maint = self.mmr.copy(), self.maint.copy()
        for m, t in enumerate(self.tiers):
            if t is None:
                continue
            sel = (self.market == m) & ~self.iso
            k = np.searchsorted(t.notional_floor, self.qty[sel] * p[sel], side="left") - 1
            k = np.clip(k, 0, len(t) - 1)
            mmr[sel], maint[sel] = t.mmr[k], t.maint_amount[k]
        return mmr * self.qty * p - maint + self.fee[self.market] * self.qty * p

    def cascade(self, market: int, shock: float) -> dict:
        moves = np.zeros(self.m)
        moves[market] = shock
        return self.cascade_moves(moves)

    def _start(self, moves: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """The shocks applied: each market's last price, what each book side has given, and the
        markets moved down and up."""
        last = self.ref.copy()
        consumed = np.zeros((self.m, 2))  # bids, asks
        down = np.zeros(self.m, bool)
        up = np.zeros(self.m, bool)
        self.scale = np.ones((self.m, 2))
        for market in np.flatnonzero(moves):
            last[market] = self._shock_market(market, moves[market], consumed)  # (the whole market moves)
            (down if moves[market] < 0 else up)[market] = True
        return last, consumed, down, up

    def _triggered(self, last: np.ndarray, down: np.ndarray, up: np.ndarray, done: np.ndarray,
                   acct_done: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """A round's start: the isolated positions triggered, the accounts triggered, and every
        account's equity and maintenance at `last` (whole-array passes)."""
        cross = ~self.iso
        lp = last[self.market]
        iso_hit = self.iso & ~done & (((self.side > 0) & down[self.market] & (lp <= self.liq)) |
                                      ((self.side < 0) & up[self.market] & (lp >= self.liq)))
        asset_price = np.where(self.priced_by >= 0, last[np.maximum(self.priced_by, 0)], 1.0)
        value = self.coll * asset_price
        value = np.where(self.coll > 0, value * (1 - self.haircut), value).sum(axis=1)
        pnl = self.side * self.qty * (lp - self.entry)
        mm = self._maintenance(last)
        equity = value + np.bincount(self.account[cross], weights=pnl[cross], minlength=self.n_acc)
        maint = np.bincount(self.account[cross], weights=mm[cross], minlength=self.n_acc)
        eligible = self.has_pos & ~acct_done & (self.exposure & (down | up)).any(axis=1)
        return iso_hit, eligible & (equity <= maint), equity, maint

    def cascade_moves(self, moves: np.ndarray) -> dict:
        """The cascade from a relative move of every market (0: none)."""
        last, consumed, down, up = self._start(moves)
        done = np.zeros(self.side.size, bool)
        acct_done = np.zeros(self.n_acc, bool)
        rounds = 0
        cross = ~self.iso
        while True:
            iso_hit, hit, equity, maint = self._triggered(last, down, up, done, acct_done)
            if not iso_hit.any() and not hit.any():
                break
            rounds += 1
            acct_done |= hit
            acct_hit_pos = cross & hit[np.maximum(self.account, 0)]
            orders = iso_hit | acct_hit_pos
            done |= orders
            # priority: isolated by liquidation price (longs descending), then accounts by ratio
            ratio = np.where(equity > 0, maint / np.where(equity > 0, equity, 1), np.inf)
            key_acct = np.where(self.iso, 0.0, -ratio[np.maximum(self.account, 0)])
            for m in range(self.m):
                start = last[m]
                for s, sign in ((0, 1.0), (1, -1.0)):
                    sel = np.flatnonzero(orders & (self.market == m) & (self.side == sign))
                    order = sel[np.lexsort((sel, key_acct[sel], -sign * np.nan_to_num(self.liq[sel], nan=0.0),
                                            ~self.iso[sel]))]
                    self._orders = getattr(self, "_orders", {})
                    self._orders[(m, s)] = order
                sales = [(k, self.coll[hit, k]) for k in range(1, len(self.priced_by))
                         if self.priced_by[k] == m]
                s_total = self.qty[self._orders[(m, 0)]].sum() + sum(float(b[b > 0].sum()) for _, b in sales)
                b_total = self.qty[self._orders[(m, 1)]].sum()
                if s_total == 0 and b_total == 0:
                    continue
                x = min(s_total, b_total)
                for s, total in ((0, s_total), (1, b_total)):
                    if total > x:
                        qty = self.qty[self._orders[(m, s)]]
                        cum_q = np.cumsum(qty)
                        walk = np.clip(cum_q - x, 0, qty)  # the heavy side's first x cross
                        ends = consumed[m, s] + np.cumsum(walk)
                        self._fill = self._notional(m, s, ends)  # every order's fill value
                        consumed[m, s] += total - x
                        last[m] = self._level_price(m, s, consumed[m, s], start)
                        (down if s == 0 else up)[m] = True
        return {"rounds": rounds, "final_price": last, "accounts": int(acct_done.sum()), "positions": int(done.sum())}


@pytest.fixture(scope="module")
def venue_1m():
    venue, positions, accounts = default_venue(N_ACCOUNTS, N_ISOLATED, seed=0)
    state = VenueState(venue, positions, accounts)
    return state, NumpyVenue(state)


def agree(result, baseline, state) -> None:
    assert result.rounds == baseline["rounds"]
    assert len(result.accounts) == baseline["accounts"]
    assert int(result.liquidated.sum()) == baseline["positions"]
    ticks = np.array([1.0, 0.05, 0.005, 0.5, 0.0001])
    assert np.all(np.abs(result.markets["final_price"] - baseline["final_price"]) <= ticks * 1.001)


@pytest.mark.parametrize("shock", [SMALL, LARGE], ids=["1pct", "30pct"])
@pytest.mark.benchmark(group="venue cascade, 1M accounts + 1M isolated")
def test_venue_cascade_engine(benchmark, venue_1m, shock):
    state, baseline = venue_1m
    result = benchmark.pedantic(venue_cascade, args=(state,), kwargs={"shocks": {"BTCUSDT": shock}}, rounds=5,
                                iterations=1)
    agree(result, baseline.cascade(0, shock), state)
    benchmark.extra_info["accounts_liquidated_share"] = len(result.accounts) / N_ACCOUNTS
    benchmark.extra_info["rounds"] = result.rounds


@pytest.mark.parametrize("shock", [SMALL, LARGE], ids=["1pct", "30pct"])
@pytest.mark.benchmark(group="venue cascade, 1M accounts + 1M isolated")
def test_venue_cascade_numpy(benchmark, venue_1m, shock):
    _, baseline = venue_1m
    benchmark.pedantic(baseline.cascade, args=(0, shock), rounds=1, iterations=1)


@pytest.mark.benchmark(group="venue state, 1M accounts + 1M isolated")
def test_venue_state_build(benchmark):
    venue, positions, accounts = default_venue(N_ACCOUNTS, N_ISOLATED, seed=0)
    benchmark.pedantic(VenueState, args=(venue, positions, accounts), rounds=1, iterations=1)
