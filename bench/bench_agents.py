"""The static venue cascade with agents (issue 20, "Benchmarks"): the default venue scaled up to
1,000,000 cross accounts (2-3 positions each over 3 perpetuals) plus 1,000,000 isolated
positions, collateral in 3 assets, with 100 leveraged tokens, 10,000 leverage-targeting funds and
the default venue's stop clusters (900 stops), against a NumPy implementation of the same
rounds in the same run.

The NumPy baseline extends ``bench_venue.NumpyVenue`` (every isolated position and every
account re-read each round: PnL and tiered maintenance per position, ``bincount`` by account,
the exposure mask, the liquidation orders sorted by priority, the round's orders crossed and the
imbalance walked through the book's cumulative depth) with the agents' rules as whole-array
passes per round (docs/design.md, "Agents"):

- stops: a mask of the unfired stops whose market has moved their way past their price, sorted
  by price per market and side;
- tokens: the alive tokens at ``P (1 -+ theta)``; each trades ``L (L - 1) r NAV`` (``-L NAV (1 +
  r)`` and wiped out when the marked NAV is ``<= 0``), its NAV after is the marked NAV less its
  fill's cost against the round's start price, its rebalance price the round's start price;
- funds: the funds holding a market whose (price, moved flags) changed since the previous
  round's start; ``A = holdings @ prices``, ``E = A - debt``; past the buffer (``A > max E`` or
  ``E <= 0``) a fund sells the fraction ``(A - target E) / A`` of every holding; what the sales
  fetch pays down its debt.

Each market's orders (liquidations and collateral sales, then stops, tokens by index, funds by
index) cross at the round's start price and the imbalance walks the book; every agent order's
fill (crossed part at the start price, walked part from the book's cumulative notional) is
computed with ``cumsum``/``searchsorted``, because the tokens' NAVs and the funds' debts and
holdings carry into later rounds. The answers are checked against the engine's: the same
rounds, the same liquidated accounts and positions, the same numbers of stops fired, token
rebalances and fund sales, final prices within one level.

Run: python -m pytest bench/bench_agents.py --benchmark-only
"""

from __future__ import annotations

import numpy as np
import pytest
from bench_venue import NumpyVenue

from liqcascade.agents import Funds, LeveragedTokens, StopOrders
from liqcascade.venue import VenueState, venue_cascade
from liqcascade.venue_scenario import VENUE_MARKETS, default_agents, default_venue

N_ACCOUNTS = 1_000_000
N_ISOLATED = 1_000_000
N_TOKENS = 100
N_FUNDS = 10_000
# BTC moves: 0.4 % of accounts and no agent; 3.6 % of accounts with stops, tokens and funds trading;
# 40 % of accounts, the BTC book run out
SHOCKS = {"small": -0.03, "medium": -0.05, "large": -0.08}
DUST = 0.01  # a fund that has sold everything can keep ~1e-18 units (level-by-level fills): not a sale
TICKS = np.array([row[2] for row in VENUE_MARKETS])


def agents_100(venue, funds: int = N_FUNDS, seed: int = 0) -> tuple[StopOrders, LeveragedTokens, Funds]:
    """The default venue's stops and funds (``funds`` of them, the same $30M of assets in all)
    and 100 leveraged tokens: 3x and -3x on the three perpetuals in proportion to their depth,
    thresholds 4-15 %, the default venue's token NAV per market spread over them."""
    # the sizes this benchmark was measured with (before issue 20's recalibration of the default)
    stops, _, fund_set = default_agents(venue, funds=funds, seed=seed, fund_assets=30e6, stop_cluster=0.5e6)
    rng = np.random.default_rng([seed, 20])
    perps = [(name, scale) for name, _, _, scale, perp in VENUE_MARKETS if perp]
    scales = np.array([s for _, s in perps])
    counts = np.floor(N_TOKENS * scales / scales.sum()).astype(int)
    counts[0] += N_TOKENS - counts.sum()
    market = np.repeat([n for n, _ in perps], counts)
    leverage = np.where(np.arange(N_TOKENS) % 2 == 0, 3.0, -3.0)
    per_market = 3.0e6 * np.repeat(scales, counts) / np.repeat(counts, counts)  # default: $3M of NAV on BTC
    nav = per_market * rng.lognormal(0.0, 0.5, N_TOKENS)
    theta = rng.uniform(0.04, 0.15, N_TOKENS)
    return stops, LeveragedTokens(market, leverage, nav, theta), fund_set


class NumpyAgentsVenue(NumpyVenue):
    """NumpyVenue's rounds with stops, tokens and funds trading in them."""

    def __init__(self, state: VenueState) -> None:
        super().__init__(state)
        venue = state.venue
        names = venue.market_names
        s, t, f = state.stops, state.tokens, state.funds
        self.s_market = np.array([names.index(x) for x in s.market.tolist()])
        self.s_side = np.asarray(s.side, dtype=np.int64)
        self.s_qty = np.asarray(s.qty, dtype=np.float64)
        self.s_price = np.asarray(s.price, dtype=np.float64)
        self.t_market = np.array([names.index(x) for x in t.market.tolist()])
        self.t_lev = np.asarray(t.leverage, dtype=np.float64)
        self.t_nav0 = np.asarray(t.nav, dtype=np.float64)
        self.t_theta = np.asarray(t.threshold, dtype=np.float64)
        rp = np.asarray(t.rebalance_price, dtype=np.float64)
        self.t_p0 = np.where(np.isnan(rp), self.ref[self.t_market], rp)
        self.f_hold0 = f.matrix(venue)
        self.f_held = self.f_hold0 > 0
        self.f_debt0 = self.f_hold0 @ self.ref - np.asarray(f.equity)
        self.f_target = np.asarray(f.target_leverage, dtype=np.float64)
        self.f_max = np.asarray(f.max_leverage, dtype=np.float64)

    def _agent_fills(self, m: int, s: int, q: np.ndarray, ahead: float, x: float, heavy: bool, consumed: float,
                     start: float) -> tuple[np.ndarray, np.ndarray]:
        """Filled quantity and notional of agent orders ``q`` (in priority) behind ``ahead`` of
        liquidation orders on side ``s``: the first ``x`` of the side crosses at ``start`` (all
        of it on the light side), the rest walks the book from ``consumed``."""
        if not heavy:
            return q.copy(), q * start
        end = ahead + np.cumsum(q)
        begin = end - q
        cross = np.clip(np.minimum(end, x) - begin, 0.0, None)
        depth = self.books[m][s][1][-1]
        w0 = np.minimum(consumed + np.maximum(begin - x, 0.0), depth)
        w1 = np.minimum(consumed + np.maximum(end - x, 0.0), depth)
        walked = self._notional(m, s, w1) - self._notional(m, s, w0)
        short = consumed + np.maximum(end - x, 0.0) > depth  # the book ran out under it
        return cross + np.where(short, w1 - w0, q - cross), cross * start + walked  # as the rule adds them

    def cascade_moves(self, moves: np.ndarray) -> dict:
        last, consumed, down, up = self._start(moves)
        # agents' state
        fired = np.zeros(self.s_qty.size, bool)
        t_nav, t_p, alive = self.t_nav0.copy(), self.t_p0.copy(), np.ones(self.t_nav0.size, bool)
        t_down, t_up = t_p * (1 - self.t_theta), t_p * (1 + self.t_theta)
        hold, debt = self.f_hold0.copy(), self.f_debt0.copy()
        prev_last, prev_down, prev_up = self.ref.copy(), np.zeros(self.m, bool), np.zeros(self.m, bool)
        counts = {"stops": 0, "token_rebalances": 0, "fund_sales": 0}

        done = np.zeros(self.side.size, bool)
        acct_done = np.zeros(self.n_acc, bool)
        rounds = 0
        cross = ~self.iso
        while True:
            iso_hit, hit, equity, maint = self._triggered(last, down, up, done, acct_done)
            # agents, read at the round's start prices
            moved = down | up
            fresh = moved & ((last != prev_last) | (down != prev_down) | (up != prev_up))
            prev_last, prev_down, prev_up = last.copy(), down.copy(), up.copy()
            sm, tm = self.s_market, self.t_market
            stop_hit = ~fired & (((self.s_side < 0) & down[sm] & (last[sm] <= self.s_price)) |
                                 ((self.s_side > 0) & up[sm] & (last[sm] >= self.s_price)))
            token_hit = alive & ((down[tm] & (last[tm] <= t_down)) | (up[tm] & (last[tm] >= t_up)))
            f_read = (self.f_held & fresh).any(axis=1)
            assets = hold @ last
            f_eq = assets - debt
            fund_hit = f_read & (assets > 0) & (~(f_eq > 0) | (assets > self.f_max * f_eq))
            if not (iso_hit.any() or hit.any() or stop_hit.any() or token_hit.any() or fund_hit.any()):
                break
            rounds += 1
            acct_done |= hit
            acct_hit_pos = cross & hit[np.maximum(self.account, 0)]
            orders = iso_hit | acct_hit_pos
            done |= orders
            # tokens: L (L - 1) r N, or -L N (1 + r) when the marked NAV is gone
            p = last[tm]
            r = p / t_p - 1.0
            marked = t_nav * (1.0 + self.t_lev * r)
            wiped = ~(marked > 0.0)
            t_notional = np.where(wiped, -self.t_lev * t_nav * (1.0 + r), self.t_lev * (self.t_lev - 1.0) * r * t_nav)
            t_qty = np.abs(t_notional) / p
            t_cost = np.zeros(t_nav.size)
            # funds: the fraction of every holding
            frac = np.where(f_eq > 0, (assets - self.f_target * f_eq) / np.where(assets > 0, assets, 1.0), 1.0)
            f_sell = np.where(fund_hit[:, None], frac[:, None] * hold, 0.0)
            f_fetched = np.zeros(debt.size)
            f_filled = np.zeros_like(hold)
            counts["stops"] += int(stop_hit.sum())
            counts["token_rebalances"] += int(token_hit.sum())
            counts["fund_sales"] += int((fund_hit & (assets > DUST)).sum())
            # priority: isolated by liquidation price (longs descending), then accounts by ratio
            ratio = np.where(equity > 0, maint / np.where(equity > 0, equity, 1), np.inf)
            key_acct = np.where(self.iso, 0.0, -ratio[np.maximum(self.account, 0)])
            for m in range(self.m):
                start = last[m]
                liq_orders = []
                for sign in (1.0, -1.0):
                    sel = np.flatnonzero(orders & (self.market == m) & (self.side == sign))
                    liq_orders.append(sel[np.lexsort((sel, key_acct[sel], -sign * np.nan_to_num(self.liq[sel], nan=0.0),
                                                      ~self.iso[sel]))])
                sale = sum(float(self.coll[hit, k][self.coll[hit, k] > 0].sum()) for k in range(1, len(self.priced_by))
                           if self.priced_by[k] == m)
                # agent orders per side, in priority: stops (by price), tokens by index, funds by index
                agent = []
                for s, sign in ((0, -1), (1, 1)):
                    st = np.flatnonzero(stop_hit & (sm == m) & (self.s_side == sign))
                    st = st[np.lexsort((st, -sign * self.s_price[st]))]
                    tk = np.flatnonzero(token_hit & (tm == m) & ((t_notional > 0) == (sign > 0)) & (t_qty > 0))
                    fd = np.flatnonzero(f_sell[:, m] > 0) if s == 0 else np.zeros(0, np.int64)
                    agent.append((st, tk, fd, np.concatenate([self.s_qty[st], t_qty[tk], f_sell[fd, m]])))
                liq_tot = [self.qty[liq_orders[0]].sum() + sale, self.qty[liq_orders[1]].sum()]
                totals = [liq_tot[s] + agent[s][3].sum() for s in (0, 1)]
                if totals[0] == 0 and totals[1] == 0:
                    continue
                x = min(totals)
                for s in (0, 1):
                    heavy = totals[s] > x
                    if heavy:  # the liquidation orders' fills, as NumpyVenue
                        qty = self.qty[liq_orders[s]]
                        walk = np.clip(np.cumsum(qty) - x, 0, qty)
                        self._fill = self._notional(m, s, consumed[m, s] + np.cumsum(walk))
                    st, tk, fd, q = agent[s]
                    if q.size:
                        fq, fn = self._agent_fills(m, s, q, liq_tot[s], x, heavy, consumed[m, s], start)
                        a, b = st.size, st.size + tk.size
                        fired[st] = True
                        t_cost[tk] = (fq[a:b] * start - fn[a:b]) if s == 0 else (fn[a:b] - fq[a:b] * start)
                        f_fetched[fd] += fn[b:]
                        f_filled[fd, m] = fq[b:]
                    if heavy:
                        consumed[m, s] += totals[s] - x
                        last[m] = self._level_price(m, s, consumed[m, s], start)
                        (down if s == 0 else up)[m] = True
            # the agents' state after the round's fills
            nav_after = marked - t_cost
            t_nav = np.where(token_hit, nav_after, t_nav)
            t_p = np.where(token_hit, p, t_p)
            alive &= ~(token_hit & (wiped | ~(nav_after > 0.0)))
            t_down, t_up = t_p * (1 - self.t_theta), t_p * (1 + self.t_theta)
            debt -= f_fetched
            hold -= f_filled
        return {"rounds": rounds, "final_price": last, "accounts": int(acct_done.sum()), "positions": int(done.sum()),
                **counts}


@pytest.fixture(scope="module")
def venue_agents_1m():
    venue, positions, accounts = default_venue(N_ACCOUNTS, N_ISOLATED, seed=0)
    stops, tokens, funds = agents_100(venue)
    state = VenueState(venue, positions, accounts, stops=stops, tokens=tokens, funds=funds)
    return state, NumpyAgentsVenue(state)


def agree(result, baseline) -> None:
    assert result.rounds == baseline["rounds"]
    assert len(result.accounts) == baseline["accounts"]
    assert int(result.liquidated.sum()) == baseline["positions"]
    assert len(result.stops) == baseline["stops"]
    assert len(result.token_rebalances) == baseline["token_rebalances"]
    assert int((result.fund_sales["sale_value"] > DUST).sum()) == baseline["fund_sales"]
    assert np.all(np.abs(result.markets["final_price"] - baseline["final_price"]) <= TICKS * 1.001)


@pytest.mark.parametrize("shock", list(SHOCKS.values()), ids=list(SHOCKS))
@pytest.mark.benchmark(group="venue cascade with agents, 1M accounts + 1M isolated, 100 tokens, 10k funds")
def test_agents_cascade_engine(benchmark, venue_agents_1m, shock):
    state, baseline = venue_agents_1m
    result = benchmark.pedantic(venue_cascade, args=(state,), kwargs={"shocks": {"BTCUSDT": shock}}, rounds=5,
                                iterations=1)
    agree(result, baseline.cascade(0, shock))
    ch = result.channels()
    benchmark.extra_info["accounts_liquidated_share"] = len(result.accounts) / N_ACCOUNTS
    benchmark.extra_info["rounds"] = result.rounds
    benchmark.extra_info["token_rebalances"] = len(result.token_rebalances)
    benchmark.extra_info["fund_sales"] = len(result.fund_sales)
    benchmark.extra_info["final_move"] = [float(v) for v in result.markets["final_move"][:3]]
    benchmark.extra_info["fund_notional"] = float(np.sum(ch["fund_deleveraging"]))


@pytest.mark.parametrize("shock", list(SHOCKS.values()), ids=list(SHOCKS))
@pytest.mark.benchmark(group="venue cascade with agents, 1M accounts + 1M isolated, 100 tokens, 10k funds")
def test_agents_cascade_numpy(benchmark, venue_agents_1m, shock):
    _, baseline = venue_agents_1m
    benchmark.pedantic(baseline.cascade, args=(0, shock), rounds=1, iterations=1)
