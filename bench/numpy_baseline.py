"""A NumPy implementation of docs/design.md's static cascade: the baseline every benchmark runs
against. Vectorised as well as NumPy allows: thresholds sorted with a stable argsort, each
round resolved with cumulative sums and binary searches over the whole prepared set."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Prepared:
    liq: np.ndarray
    bankrupt: np.ndarray
    long_order: np.ndarray     # indices of longs, liquidation price descending, ties by index
    long_cum_qty: np.ndarray   # cumulative qty in that order
    short_order: np.ndarray
    short_cum_qty: np.ndarray


def prepare(side, qty, entry, margin, mmr, maint) -> Prepared:
    s = side.astype(np.float64)
    liq = (qty * entry - s * (margin + maint)) / (qty * (1.0 - s * mmr))
    bankrupt = entry - s * (margin / qty)
    longs = np.flatnonzero(side > 0)
    shorts = np.flatnonzero(side < 0)
    long_order = longs[np.argsort(-liq[longs], kind="stable")]
    short_order = shorts[np.argsort(liq[shorts], kind="stable")]
    return Prepared(liq, bankrupt, long_order, np.cumsum(qty[long_order]),
                    short_order, np.cumsum(qty[short_order]))


def cascade(bid_price, bid_qty, ask_price, ask_qty, prepared: Prepared, qty, shock: float,
            ref_price: float | None = None) -> dict:
    """Relative shocks only (that is what the benchmarks run)."""
    ref = (bid_price[0] + ask_price[0]) / 2.0 if ref_price is None else ref_price
    down = shock < 0
    target = ref * (1.0 + shock)
    if down:
        start = np.searchsorted(-bid_price, -target, side="left")  # levels priced above target go
        price, level_qty = bid_price[start:], bid_qty[start:]
        order, cum_qty, sign = prepared.long_order, prepared.long_cum_qty, 1.0
    else:
        start = np.searchsorted(ask_price, target, side="left")
        price, level_qty = ask_price[start:], ask_qty[start:]
        order, cum_qty, sign = prepared.short_order, prepared.short_cum_qty, -1.0
    thresholds = prepared.liq[order]
    cum_book = np.cumsum(level_qty)
    cum_notional = np.cumsum(level_qty * price)
    last, k, rounds = target, 0, 0
    while True:
        # thresholds are sorted in trigger order: the triggered set is a prefix
        k_new = int(np.searchsorted(-sign * thresholds, -sign * last, side="right"))
        if k_new == k:
            break
        rounds += 1
        k = k_new
        level = int(np.searchsorted(cum_book, cum_qty[k - 1], side="left"))
        last = price[min(level, len(price) - 1)] if len(price) else last
        if level >= len(price):
            break
    sold = cum_qty[:k]
    filled = np.minimum(sold, cum_book[-1] if len(cum_book) else 0.0)

    def book_notional(q):  # notional of the first q units of the remaining book
        j = np.searchsorted(cum_book, q, side="left")
        j_clip = np.minimum(j, len(price) - 1)
        before_qty = np.where(j > 0, cum_book[np.maximum(j - 1, 0)], 0.0)
        before_notional = np.where(j > 0, cum_notional[np.maximum(j - 1, 0)], 0.0)
        return before_notional + (q - before_qty) * price[j_clip]

    if k:
        edges = np.concatenate(([0.0], filled))
        notional_edges = book_notional(edges)
        fill_notional = np.diff(notional_edges)
        fill_qty = np.diff(edges)
        idx = order[:k]
        shortfall = sign * (prepared.bankrupt[idx] * fill_qty - fill_notional)
        bad_debt = float(np.sum(shortfall[(shortfall > 0) & (fill_qty > 0)]))
        liquidated_notional = float(notional_edges[-1])
        liquidated_qty = float(filled[-1])
        unfilled = float(sold[-1] - filled[-1])
    else:
        bad_debt = liquidated_notional = liquidated_qty = unfilled = 0.0
    return {"final_price": float(last), "n_liquidated": k, "rounds": rounds,
            "liquidated_qty": liquidated_qty, "liquidated_notional": liquidated_notional,
            "unfilled_qty": unfilled, "bad_debt": bad_debt}


# -- many shocks on one set: the aggregate rounds in NumPy ------------------------------------------

@dataclass
class AggregateSide:
    """One side of a fixed set and the book side it consumes, indexed once for many shocks:
    thresholds in trigger order as an ascending search key, prefix sums of the sorted
    quantities, and the book's cumulative depth and notional."""

    down: bool
    key: np.ndarray        # -liquidation price (longs) or liquidation price (shorts), ascending
    cum_qty: np.ndarray    # [0, q0, q0 + q1, ...] in trigger order
    bankrupt: np.ndarray   # bankruptcy prices in trigger order
    price: np.ndarray      # the book side, best first
    depth: np.ndarray      # [0, cumulative quantity of levels 0..j]
    value: np.ndarray      # [0, cumulative notional of levels 0..j]


def aggregate_sides(side, qty, liq, bankrupt, bid_price, bid_qty, ask_price, ask_qty) -> dict[bool, AggregateSide]:
    """``{True: longs and bids, False: shorts and asks}`` (keyed by ``shock < 0``)."""
    out = {}
    for down, mine, price, level_qty in ((True, side > 0, bid_price, bid_qty), (False, side < 0, ask_price, ask_qty)):
        index = np.flatnonzero(mine)
        order = index[np.argsort(-liq[index] if down else liq[index], kind="stable")]
        out[down] = AggregateSide(
            down, -liq[order] if down else liq[order], np.concatenate(([0.0], np.cumsum(qty[order]))),
            bankrupt[order], price, np.concatenate(([0.0], np.cumsum(level_qty))),
            np.concatenate(([0.0], np.cumsum(level_qty * price))))
    return out


def cascade_aggregate(sides: dict[bool, AggregateSide], ref: float, shock: float, bad_debt: bool = True) -> dict:
    """A relative shock's cascade as a quant writes it with prefix sums: per round one
    ``searchsorted`` for the triggered prefix of the sorted thresholds and one for the level
    their cumulative sale reaches; then bad debt, vectorised over the only candidates (the
    liquidated positions whose bankruptcy price lies beyond the final price), each one's fill
    value from the book's cumulative notional at its first and last unit. ``bad_debt=False``
    skips that last step (the rounds alone)."""
    s = sides[shock < 0]
    down = s.down
    if shock == 0.0:
        return {"final_price": ref, "n_liquidated": 0, "rounds": 0, "book_exhausted": False,
                "liquidated_qty": 0.0, "liquidated_notional": 0.0, "unfilled_qty": 0.0, "bad_debt": 0.0}
    target = ref * (1.0 + shock)
    price, depth, value = s.price, s.depth, s.value
    levels = len(price)
    j0 = int(np.searchsorted(-price, -target, "left")) if down else int(np.searchsorted(price, target, "left"))
    c0, total = depth[j0], depth[-1]
    probe = -target if down else target
    last, k, rounds, exhausted, c = target, 0, 0, False, c0
    while True:
        k1 = int(np.searchsorted(s.key, probe, "right"))
        if k1 == k:
            break
        rounds += 1
        before, c = c, c0 + s.cum_qty[k1]
        if before < total:
            m = int(np.searchsorted(depth, c, "left"))  # the round ends in level m - 1
            if m > levels:
                exhausted, m = True, levels
            last = price[m - 1]
            probe = -last if down else last
        else:
            exhausted = True
        k = k1
    filled = min(c, total) - c0 if k else 0.0
    notional = float(np.interp(c0 + filled, depth, value) - value[j0]) if k else 0.0
    shortfall = 0.0
    if bad_debt and k and c0 < total:
        bankrupt = s.bankrupt[:k]
        idx = np.flatnonzero(bankrupt > last if down else bankrupt < last)
        if idx.size:
            start = np.minimum(c0 + s.cum_qty[idx], total)
            end = np.minimum(c0 + s.cum_qty[idx + 1], total)
            fill_value = np.interp(end, depth, value) - np.interp(start, depth, value)
            short = bankrupt[idx] * (end - start) - fill_value
            if not down:
                short = -short
            shortfall = float(short[short > 0].sum())
    return {"final_price": float(last), "n_liquidated": k, "rounds": rounds, "book_exhausted": exhausted,
            "liquidated_qty": float(filled), "liquidated_notional": notional,
            "unfilled_qty": float(c - c0 - filled) if k else 0.0, "bad_debt": shortfall}


# -- the Monte Carlo pipeline in NumPy -----------------------------------------------------------

BINANCE_FLOORS = np.array([0, 5e4, 6e5, 3e6, 1.2e7, 7e7, 1e8, 2.3e8, 4.8e8, 6e8, 8e8, 1.2e9])
BINANCE_MMR = np.array([0.004, 0.005, 0.0065, 0.01, 0.02, 0.025, 0.05, 0.1, 0.125, 0.15, 0.25, 0.5])
BINANCE_CUM = np.array([0, 50, 950, 11_450, 131_450, 481_450, 2_981_450, 14_481_450, 26_481_450,
                        41_481_450, 121_481_450, 421_481_450], dtype=np.float64)


def sample_population(rng: np.random.Generator, population, ref: float, only_side: int) -> dict:
    """The default population model, vectorised: sides for all, the rest for the side at risk,
    underwater positions redrawn."""
    n = population.count
    side = np.where(rng.random(n) < population.long_share, 1, -1).astype(np.int8)
    keep = side == only_side
    m = int(keep.sum())
    side = side[keep]
    alpha = population.size_shape
    scale = population.open_interest / n * (alpha - 1) / alpha
    notional = scale * rng.random(m) ** (-1.0 / alpha)
    tier = np.maximum(np.searchsorted(BINANCE_FLOORS, notional, side="left") - 1, 0)
    mmr, maint = BINANCE_MMR[tier], BINANCE_CUM[tier]
    leverage = np.empty(m)
    entry = np.empty(m)
    todo = np.arange(m)
    weights = np.asarray(population.leverage_weights)
    while todo.size:
        leverage[todo] = rng.choice(np.asarray(population.leverage), size=todo.size, p=weights / weights.sum())
        entry[todo] = ref * np.exp(population.entry_spread * rng.standard_normal(todo.size))
        qty = notional[todo] / entry[todo]
        margin = notional[todo] / leverage[todo]
        s = side[todo].astype(np.float64)
        liq = (qty * entry[todo] - s * (margin + maint[todo])) / (qty * (1.0 - s * mmr[todo]))
        todo = todo[~np.where(s > 0, liq < ref, liq > ref)]
    qty = notional / entry
    return {"side": side, "qty": qty, "entry": entry, "margin": notional / leverage, "mmr": mmr, "maint": maint}


def monte_carlo_scenario(rng, population, book_arrays, shock: float) -> dict:
    bid_price, bid_qty, ask_price, ask_qty = book_arrays
    ref = (bid_price[0] + ask_price[0]) / 2.0
    pos = sample_population(rng, population, ref, 1 if shock < 0 else -1)
    prepared = prepare(pos["side"], pos["qty"], pos["entry"], pos["margin"], pos["mmr"], pos["maint"])
    return cascade(bid_price, bid_qty, ask_price, ask_qty, prepared, pos["qty"], shock)


# -- the time-stepped simulation, simplest policy, in NumPy --------------------------------------

def simulate_market_orders(bid_price, bid_qty, prepared: Prepared, qty, flow, resilience: float, dt: float = 1.0):
    """Full-size market orders, unlimited throughput, the last-price mark, sell flow only (so
    only longs can trigger): per step the consumed bid volume decays by exp(-rho dt), the
    exogenous sale consumes the book, then rounds of liquidations until none is triggered.
    Returns the last price per step and the number of longs liquidated."""
    cum_book = np.cumsum(bid_qty)
    thresholds = prepared.liq[prepared.long_order]
    cum_qty = prepared.long_cum_qty
    decay = np.exp(-resilience * dt)
    consumed, k = 0.0, 0
    last = bid_price[0]
    prices = np.empty(len(flow))
    for t, q in enumerate(flow):
        if t:
            consumed *= decay
        if q < 0:
            consumed += -q
            last = bid_price[min(np.searchsorted(cum_book, consumed, side="left"), len(bid_price) - 1)]
            while True:
                k_new = int(np.searchsorted(-thresholds, -last, side="right"))
                if k_new <= k:  # a recovered price un-triggers nobody
                    break
                consumed += cum_qty[k_new - 1] - (cum_qty[k - 1] if k else 0.0)
                k = k_new
                last = bid_price[min(np.searchsorted(cum_book, consumed, side="left"), len(bid_price) - 1)]
        prices[t] = last
    return prices, k
