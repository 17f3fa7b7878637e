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
                                     book["bid_qty"] if down else book["ask_qty"])]
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
