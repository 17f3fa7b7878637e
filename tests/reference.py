"""A slow, literal Python model of docs/design.md's "Liquidation price" and "Static cascade".

Written for clarity, not speed: lists of levels, one position at a time, the rules read as
prose. The C++ engine must agree with it on every result field. Arithmetic follows the same
formulas in the same order as the engine, so prices agree to the bit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field


def liquidation_price(side: int, qty: float, entry: float, margin: float, mmr: float, maint: float) -> float:
    """long: (qty*entry - (margin + maint)) / (qty*(1 - mmr)); short: + and (1 + mmr).

    Written with side as a factor of +-1 (exact), in the engine's operation order."""
    return (qty * entry - side * (margin + maint)) / (qty * (1.0 - side * mmr))


def bankruptcy_price(side: int, qty: float, entry: float, margin: float) -> float:
    return entry - side * (margin / qty)


# -- margin rules (docs/design.md, "Margin"): basis, close fee, tiers, leverage limits ----------

def requirement(qty: float, entry: float, price: float, mmr: float, maint: float, basis: str = "mark",
                close_fee: float = 0.0) -> float:
    """MM = mmr * qty * p_basis - maint + close_fee * qty * p, p_basis = p (mark) or entry."""
    p_basis = price if basis == "mark" else entry
    return mmr * qty * p_basis - maint + close_fee * qty * price


def liquidation_price_rule(side: int, qty: float, entry: float, margin: float, mmr: float, maint: float,
                           basis: str = "mark", close_fee: float = 0.0) -> float:
    """The price where equity margin + side*qty*(p - entry) equals the requirement, solved for p:
    margin + side*qty*p - side*qty*entry = R*qty*p - maint + E, with R = mmr + close_fee, E = 0
    (mark) or R = close_fee, E = mmr*qty*entry (entry), so
    p = (qty*entry - side*(margin + maint - E)) / (qty*(1 - side*R)) (the engine's operation order)."""
    rate = (mmr if basis == "mark" else 0.0) + close_fee
    fixed = mmr * (qty * entry) if basis == "entry" else 0.0
    return (qty * entry - side * (margin + maint - fixed)) / (qty * (1.0 - side * rate))


def tier_of(floors: list[float], notional: float) -> int:
    """Tier k covers (floor[k], floor[k+1]]; a notional on a boundary is in the lower tier; <= 0 is tier 0."""
    k = 0
    for j in range(1, len(floors)):
        if notional > floors[j]:
            k = j
    return k


def tiers_in_own_range(side: int, qty: float, entry: float, margin: float, floors: list[float], mmr: list[float],
                       maint: list[float], close_fee: float = 0.0) -> list[int]:
    """The venue rule read literally: try each tier's liquidation price, keep the tiers whose
    liquidation notional lies in the tier's own range (one, for a continuous table, but for
    rounding at a boundary)."""
    kept = []
    for k in range(len(floors)):
        price = liquidation_price_rule(side, qty, entry, margin, mmr[k], maint[k], "mark", close_fee)
        notional = qty * price
        low = -math.inf if k == 0 else floors[k]
        high = math.inf if k == len(floors) - 1 else floors[k + 1]
        if low < notional <= high:
            kept.append(k)
    return kept


def tier_at_liquidation(side: int, qty: float, entry: float, margin: float, floors: list[float], mmr: list[float],
                        maint: list[float], close_fee: float = 0.0) -> int:
    """docs/design.md's rule: the lowest tier whose liquidation notional is at most its cap
    floor[k+1] (the last tier has none)."""
    for k in range(len(floors) - 1):
        price = liquidation_price_rule(side, qty, entry, margin, mmr[k], maint[k], "mark", close_fee)
        if qty * price <= floors[k + 1]:
            return k
    return len(floors) - 1


def assign_tiers(side: list[int], qty: list[float], entry: list[float], margin: list[float], floors: list[float],
                 mmr: list[float], maint: list[float], max_leverage: list[float] | None = None,
                 basis: str = "mark", close_fee: float = 0.0, tier_rule: str | None = None,
                 leverage_limit: str = "reject") -> tuple[list[float], list[float], list[float]]:
    """(mmr, maint, margin) per position: the leverage cap of the entry notional's tier first
    (reject: ValueError naming leverage; clip: margin = notional / cap), then the tier."""
    if tier_rule is None:
        tier_rule = "liquidation" if basis == "mark" else "entry"
    out_mmr, out_maint, out_margin = [], [], []
    for i in range(len(side)):
        notional = qty[i] * entry[i]
        m = margin[i]
        if max_leverage is not None and leverage_limit != "ignore":
            cap = max_leverage[tier_of(floors, notional)]
            if notional > m * cap * (1.0 + 1e-9):
                if leverage_limit == "reject":
                    raise ValueError(f"leverage[{i}]: above its tier's max_leverage")
                m = notional / cap
        if tier_rule == "liquidation":
            k = tier_at_liquidation(side[i], qty[i], entry[i], m, floors, mmr, maint, close_fee)
        else:
            k = tier_of(floors, notional)
        out_mmr.append(mmr[k])
        out_maint.append(maint[k])
        out_margin.append(m)
    return out_mmr, out_maint, out_margin


@dataclass
class Result:
    direction: str
    ref_price: float
    shock_price: float
    final_price: float
    n_liquidated: int = 0
    liquidated_qty: float = 0.0
    liquidated_notional: float = 0.0
    unfilled_qty: float = 0.0
    rounds: int = 0
    book_exhausted: bool = False
    bad_debt: float = 0.0
    trace: list[tuple[float, int, float]] = field(default_factory=list)
    liquidated: list[bool] = field(default_factory=list)
    fill_price: list[float] = field(default_factory=list)


class _Market:
    """The side of the book being consumed and the last trade price."""

    def __init__(self, levels: list[list[float]], last: float) -> None:
        self.levels = levels  # [[price, remaining qty], ...], best first
        self.last = last
        self.exhausted = False

    def market_order(self, qty: float) -> tuple[float, float, float]:
        """Walk the levels from the top; every level taken from sets `last`."""
        remaining, filled, notional = qty, 0.0, 0.0
        while remaining > 0.0 and self.levels:
            price, available = self.levels[0]
            self.last = price
            if remaining >= available:
                filled += available
                notional += available * price
                remaining -= available
                self.levels.pop(0)
            else:
                filled += remaining
                notional += remaining * price
                self.levels[0][1] = available - remaining
                remaining = 0.0
        if remaining > 0.0:
            self.exhausted = True
        return filled, notional, remaining


def cascade(book: dict, positions: dict, *, shock: float | None = None, sell_qty: float | None = None,
            buy_qty: float | None = None, ref_price: float | None = None) -> Result:
    """`book`: bid_price, bid_qty, ask_price, ask_qty (lists); `positions`: side, qty,
    entry_price, margin, mmr, maint_amount (lists)."""
    if ref_price is None:
        ref_price = (book["bid_price"][0] + book["ask_price"][0]) / 2.0
    n = len(positions["side"])
    liq = [liquidation_price(positions["side"][i], positions["qty"][i], positions["entry_price"][i],
                             positions["margin"][i], positions["mmr"][i], positions["maint_amount"][i])
           for i in range(n)]
    bankrupt = [bankruptcy_price(positions["side"][i], positions["qty"][i], positions["entry_price"][i],
                                 positions["margin"][i]) for i in range(n)]

    # 1. direction: down shocks put longs at risk and consume bids; up mirrors it.
    if shock is not None:
        down = shock <= 0.0
    else:
        down = sell_qty is not None
    direction = "down" if down else "up"
    levels = [[p, q] for p, q in zip(book["bid_price"] if down else book["ask_price"],
                                     book["bid_qty"] if down else book["ask_qty"], strict=False)]
    result = Result(direction, ref_price, ref_price, ref_price, liquidated=[False] * n,
                    fill_price=[math.nan] * n)
    if shock == 0.0:
        return result  # no move: the identity

    # 2. the exogenous move
    market = _Market(levels, ref_price)
    if shock is not None:
        target = ref_price * (1.0 + shock)
        if not (math.isfinite(target) and target > 0.0):
            raise ValueError("shock: moves the reference price to a value that is not a finite price > 0")
        if down:
            market.levels = [lv for lv in market.levels if not lv[0] > target]
        else:
            market.levels = [lv for lv in market.levels if not lv[0] < target]
        market.last = target
    else:
        market.market_order(sell_qty if down else buy_qty)
    result.shock_price = market.last

    def triggered(i: int, last: float) -> bool:
        if positions["side"][i] != (1 if down else -1):
            return False
        return last <= liq[i] if down else last >= liq[i]

    # 3-4. rounds: the batch triggered by `last` as it stood when the round began
    done = [False] * n
    while True:
        start = market.last
        batch = [i for i in range(n) if not done[i] and triggered(i, start)]
        if not batch:
            break
        batch.sort(key=lambda i: (-liq[i], i) if down else (liq[i], i))
        result.rounds += 1
        round_qty = 0.0
        for i in batch:
            round_qty += positions["qty"][i]
        result.trace.append((start, len(batch), round_qty))
        for i in batch:
            done[i] = True
            qty = positions["qty"][i]
            filled, notional, unfilled = market.market_order(qty)
            result.n_liquidated += 1
            result.liquidated[i] = True
            result.liquidated_qty += filled
            result.liquidated_notional += notional
            # 5. what the book could not take stays unfilled
            result.unfilled_qty += unfilled
            if filled > 0.0:
                result.fill_price[i] = notional / filled
                shortfall = bankrupt[i] * filled - notional if down else notional - bankrupt[i] * filled
                if shortfall > 0.0:
                    result.bad_debt += shortfall
    result.final_price = market.last
    result.book_exhausted = market.exhausted
    return result


# -- inverse (coin-margined) contracts, in the contract's own terms (docs/design.md) --------------

def inverse_liquidation_price(side: int, contracts: float, size: float, entry: float, margin: float, mmr: float,
                              maint: float) -> float:
    """Equity in coin margin + side*N*(1/entry - 1/p) equals mmr*N/p - maint (N = contracts*size USD):
    1/p * N*(side + mmr) = margin + maint + side*N/entry, so p = N*(1 + side*mmr) / (N/entry + side*(margin + maint))
    (inf when the denominator is <= 0: a short that is never liquidated)."""
    usd = contracts * size
    denominator = usd / entry + side * (margin + maint)
    return usd * (1.0 + side * mmr) / denominator if denominator > 0.0 else math.inf


def inverse_bankruptcy_price(side: int, contracts: float, size: float, entry: float, margin: float) -> float:
    """Equity 0: 1/p = 1/entry + side*margin/N."""
    x = 1.0 / entry + side * margin / (contracts * size)
    return 1.0 / x if x > 0.0 else math.inf


def inverse_cascade(book: dict, positions: dict, size: float, shock: float) -> Result:
    """The static cascade of docs/design.md read literally for an inverse market, in USD prices:
    the book in contracts, a long triggered when last <= its liquidation price, its contracts
    sold down the bids; liquidated_qty in contracts, liquidated_notional the coin value of the
    fills (sum of contracts*size/price), bad debt in coin (sum over a position's fills of
    contracts*size*(1/price - 1/bankruptcy) for a long, where positive)."""
    ref = (book["bid_price"][0] + book["ask_price"][0]) / 2.0
    n = len(positions["side"])
    liq = [inverse_liquidation_price(positions["side"][i], positions["qty"][i], size, positions["entry_price"][i],
                                     positions["margin"][i], positions["mmr"][i], positions["maint_amount"][i])
           for i in range(n)]
    bankrupt = [inverse_bankruptcy_price(positions["side"][i], positions["qty"][i], size, positions["entry_price"][i],
                                         positions["margin"][i]) for i in range(n)]
    down = shock < 0.0
    direction = "down" if down else "up"
    levels = [[p, q] for p, q in zip(book["bid_price"] if down else book["ask_price"],
                                     book["bid_qty"] if down else book["ask_qty"], strict=True)]
    result = Result(direction, ref, ref, ref, liquidated=[False] * n, fill_price=[math.nan] * n)
    target = ref * (1.0 + shock)
    levels = [lv for lv in levels if not (lv[0] > target if down else lv[0] < target)]
    last, exhausted = target, False
    result.shock_price = target
    done = [False] * n
    while True:
        start = last
        batch = [i for i in range(n) if not done[i] and positions["side"][i] == (1 if down else -1)
                 and (start <= liq[i] if down else start >= liq[i])]
        if not batch:
            break
        batch.sort(key=lambda i: (-liq[i], i) if down else (liq[i], i))
        result.rounds += 1
        result.trace.append((start, len(batch), sum(positions["qty"][i] for i in batch)))
        for i in batch:
            done[i] = True
            remaining, filled, coin, inverse_sum = positions["qty"][i], 0.0, 0.0, 0.0
            while remaining > 0.0 and levels:
                price, available = levels[0]
                last = price
                take = min(remaining, available)
                filled += take
                coin += take * size / price
                inverse_sum += take / price
                remaining -= take
                if take == available:
                    levels.pop(0)
                else:
                    levels[0][1] = available - take
            if remaining > 0.0:
                exhausted = True
            result.n_liquidated += 1
            result.liquidated[i] = True
            result.liquidated_qty += filled
            result.liquidated_notional += coin
            result.unfilled_qty += remaining
            if filled > 0.0:
                result.fill_price[i] = filled / inverse_sum  # the contract-weighted harmonic mean
                sign = 1.0 if down else -1.0
                shortfall = sign * (coin - filled * size / bankrupt[i])
                if shortfall > 0.0:
                    result.bad_debt += shortfall
    result.final_price = last
    result.book_exhausted = exhausted
    return result
