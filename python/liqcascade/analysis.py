"""Reading a simulation: its key moments as data (the CLI prints them; a notebook can plot them)."""

from __future__ import annotations

from typing import Any

import numpy as np

from .simulator import SimulationResult


def intervals(mask: Any) -> list[tuple[int, int]]:
    """The ``[start, end)`` runs of True in a boolean array."""
    edges = np.diff(np.concatenate(([0], np.asarray(mask).astype(np.int8), [0])))
    return list(zip(np.flatnonzero(edges == 1).tolist(), np.flatnonzero(edges == -1).tolist(), strict=True))


def key_moments(sim: SimulationResult, minute: int = 60) -> dict[str, Any]:
    """The moments a risk desk reads first, as plain data: the first liquidation (step and
    price), the peak ``minute`` (steps per minute; its liquidated notional and fills), the low,
    the halts (``[from, to)`` steps), ADL (first step and quantity, or None), takeovers, and
    the final state (price, mark, positions and notional liquidated, fund and its low, the
    fund's inventory)."""
    tl, ev = sim.timeline, sim.events
    fills = ev.kind == 0
    per_minute = np.add.reduceat(tl.liquidated_notional, np.arange(0, len(tl), minute))
    peak = int(np.argmax(per_minute))
    liquidating = np.flatnonzero(tl.liquidated_qty > 0)
    first = int(liquidating[0]) if liquidating.size else None
    adl_steps = np.flatnonzero(tl.adl_qty > 0)
    return {
        "first_liquidation": None if first is None else {"t": first, "price": float(tl.price[first])},
        "peak_minute": {"minute": peak, "liquidated_notional": float(per_minute[peak]),
                        "liquidations": int(np.count_nonzero(fills & (ev.step // minute == peak)))},
        "low": {"t": int(np.argmin(tl.price)), "price": float(tl.price.min())},
        "halts": [{"from": a, "to": b} for a, b in intervals(tl.halted)],
        "adl": None if adl_steps.size == 0 else {"first_t": int(adl_steps[0]), "qty": float(tl.adl_qty.sum())},
        "takeovers": int(np.count_nonzero(ev.kind == 1)),
        "final": {"price": float(tl.price[-1]), "mark": float(tl.mark_price[-1]),
                  "liquidated_positions": int(sim.liquidated.sum()),
                  "liquidated_notional": float(tl.liquidated_notional.sum()),
                  "insurance_fund": float(tl.insurance_fund[-1]), "fund_low": float(tl.insurance_fund.min()),
                  "fund_inventory": float(tl.fund_inventory[-1])},
    }
