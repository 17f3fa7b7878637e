"""Run fuzz cases in a persistent worker process, with a time limit per case, and classify
each outcome.

A case (``tests/fuzz/strategies.py``) is a list of statements of Python code run in one
namespace; its reproducer is exactly that code after :data:`PRELUDE`. Each statement either
sets up inputs (it must not raise: a harness bug otherwise) or calls the API: then it may
raise ``ValueError``/``TypeError`` naming one of the statement's parameters (a clean
rejection), and when it returns, the statement's checker verifies every invariant of the
result. Outcomes:

- ``accepted``: every API statement returned and every invariant held;
- ``rejected``: a clean ``ValueError``/``TypeError`` that names a parameter;
- failures: ``bad_message`` (the message names no parameter of the call), ``wrong_type``
  (any other exception type), ``invariant`` (an impossible or non-finite number, a broken
  identity), ``hang`` (past the time limit; the worker is killed and restarted), ``crash``
  (the worker died: a signal or an abort), ``harness`` (a setup statement or a checker
  itself failed: a bug of the harness, reported so that it gets fixed).
"""

from __future__ import annotations

import json
import os
import re
import select
import subprocess
import sys
import tempfile
import time
import traceback
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

TESTS_DIR = Path(__file__).resolve().parents[1]
if str(TESTS_DIR) not in sys.path:  # (the literal reference model, tests/reference.py)
    sys.path.insert(0, str(TESTS_DIR))
import reference  # noqa: E402

FAILURES = ("bad_message", "wrong_type", "invariant", "hang", "crash", "harness")

PRELUDE = '''\
import math
import numpy as np
import pandas as pd
import liqcascade as lc


def strided(values):
    """A float64 view with a stride of two elements (a[::2])."""
    values = np.asarray(values, dtype=np.float64)
    wide = np.zeros(2 * values.size, dtype=np.float64)
    wide[::2] = values
    return wide[::2]


def misaligned(values):
    """A contiguous float64 array at an odd byte address (a view into a uint8 buffer)."""
    values = np.asarray(values, dtype=np.float64)
    buf = np.zeros(values.size * 8 + 1, dtype=np.uint8)
    out = np.frombuffer(buf, dtype=np.float64, offset=1, count=values.size)
    out[:] = values
    return out


def readonly(values):
    """A read-only float64 array."""
    out = np.array(values, dtype=np.float64)
    out.flags.writeable = False
    return out
'''


# -- invariants ------------------------------------------------------------------------------

class Violation(Exception):
    """An invariant does not hold."""


def need(cond: Any, what: str) -> None:
    if not cond:
        raise Violation(what)


def _first_bad(mask: np.ndarray, values: np.ndarray) -> str:
    i = int(np.flatnonzero(mask)[0])
    return f"[{i}] = {values.reshape(-1)[i]!r}"


def finite(x: Any, what: str, *, low: float | None = None, strict: bool = False) -> None:
    a = np.asarray(x, dtype=np.float64).reshape(-1)
    ok = np.isfinite(a)
    if low is not None:
        ok &= (a > low) if strict else (a >= low)
    rule = "finite" + ("" if low is None else f" and {'>' if strict else '>='} {low:g}")
    if not ok.all():
        raise Violation(f"{what}: must be {rule}, got {_first_bad(~ok, a)}")


def positive(x: Any, what: str) -> None:
    finite(x, what, low=0.0, strict=True)


def nonneg(x: Any, what: str) -> None:
    finite(x, what, low=0.0)


def close(a: float, b: float, what: str, rel: float = 1e-9, scale: float = 0.0) -> None:
    tol = rel * max(abs(a), abs(b), scale) + 1e-300
    need(abs(a - b) <= tol, f"{what}: {a!r} != {b!r}")


def same_bits(a: Any, b: Any) -> bool:
    a, b = np.asarray(a), np.asarray(b)
    if a.dtype == object or b.dtype == object:
        return a.tolist() == b.tolist()
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


def _ev(ns: dict, expr: str | None) -> Any:
    return None if expr is None else eval(expr, ns)


def check_book(ns: dict, var: str, inputs: list[str] | None = None, levels: list[str] | None = None) -> None:
    b = ns[var]
    cols = {k: np.asarray(getattr(b, k)) for k in ("bid_price", "bid_qty", "ask_price", "ask_qty")}
    for k, v in cols.items():
        need(v.dtype == np.float64 and v.ndim == 1, f"{var}.{k}: dtype {v.dtype}, ndim {v.ndim}")
        positive(v, f"{var}.{k}")
        need(not v.flags.writeable, f"{var}.{k}: writeable view of an immutable book")
    need(cols["bid_price"].size == cols["bid_qty"].size and cols["ask_price"].size == cols["ask_qty"].size,
         f"{var}: price and qty lengths differ")
    need(np.all(np.diff(cols["bid_price"]) < 0), f"{var}.bid_price: not strictly decreasing")
    need(np.all(np.diff(cols["ask_price"]) > 0), f"{var}.ask_price: not strictly increasing")
    if inputs is not None:
        for k, expr in zip(("bid_price", "bid_qty", "ask_price", "ask_qty"), inputs):
            expected = np.asarray(_ev(ns, expr), dtype=np.float64).reshape(-1)
            need(same_bits(cols[k], expected), f"{var}.{k}: {cols[k].tolist()} differs from the input {expected.tolist()}")
    if levels is not None:
        for side, expr in zip(("bid", "ask"), levels):
            arr = np.asarray(_ev(ns, expr), dtype=np.float64).reshape(-1, 2)
            need(same_bits(cols[f"{side}_price"], arr[:, 0]) and same_bits(cols[f"{side}_qty"], arr[:, 1]),
                 f"{var}: {side} levels differ from the input")
    if cols["bid_price"].size and cols["ask_price"].size:
        need(cols["bid_price"][0] < cols["ask_price"][0], f"{var}: crossed book accepted")
        mid = b.mid
        positive(mid, f"{var}.mid")
        need(cols["bid_price"][0] <= mid <= cols["ask_price"][0], f"{var}.mid {mid!r} outside the spread")
        positive(b.spread, f"{var}.spread")
        d = b.depth(np.array([0.0, 0.01, 0.5, 1e9]))
        for k in ("bid_qty", "bid_notional", "ask_qty", "ask_notional"):
            col = np.asarray(getattr(d, k))
            nonneg(col, f"{var}.depth().{k}")
            need(np.all(np.diff(col) >= 0), f"{var}.depth().{k}: not monotone in the distance")
        close(float(d.bid_qty[-1]), float(cols["bid_qty"].sum()), f"{var}.depth(1e9).bid_qty vs total")
    repr(b)


POS_COLS = ("side", "qty", "entry_price", "margin", "mmr", "maint_amount")


def check_positions(ns: dict, var: str, inputs: dict[str, str] | None = None, leverage: str | None = None,
                    tiers: str | None = None, count: str | None = None) -> None:
    p = ns[var]
    n = len(p)
    cols = {k: np.asarray(getattr(p, k)) for k in POS_COLS}
    for k, v in cols.items():
        need(v.shape == (n,), f"{var}.{k}: shape {v.shape}, expected ({n},)")
    if count is not None:
        need(n == int(_ev(ns, count)), f"{var}: {n} positions, expected {_ev(ns, count)}")
    need(np.all((cols["side"] == 1) | (cols["side"] == -1)), f"{var}.side: not +1/-1")
    positive(cols["qty"], f"{var}.qty")
    positive(cols["entry_price"], f"{var}.entry_price")
    nonneg(cols["margin"], f"{var}.margin")
    finite(cols["mmr"], f"{var}.mmr", low=0.0)
    need(np.all(cols["mmr"] < 1), f"{var}.mmr: >= 1")
    finite(cols["maint_amount"], f"{var}.maint_amount")
    liq = np.asarray(p.liquidation_price)
    bank = np.asarray(p.bankruptcy_price)
    need(liq.shape == (n,) and bank.shape == (n,), f"{var}: threshold shapes")
    finite(liq, f"{var}.liquidation_price")
    finite(bank, f"{var}.bankruptcy_price")
    s = cols["side"].astype(np.float64)
    with np.errstate(all="ignore"):
        q, e, m = cols["qty"], cols["entry_price"], cols["margin"]
        exp_liq = (q * e - s * (m + cols["maint_amount"])) / (q * (1.0 - s * cols["mmr"]))
        exp_bank = e - s * (m / q)
    off = ~np.isclose(liq, exp_liq, rtol=1e-9, atol=0.0)
    need(not off.any(), f"{var}.liquidation_price differs from the formula{_first_bad(off, liq) if off.any() else ''}")
    need(np.allclose(bank, exp_bank, rtol=1e-9, atol=1e-300),
         f"{var}.bankruptcy_price differs from the formula")
    if inputs:
        for k, expr in inputs.items():
            value = np.asarray(_ev(ns, expr), dtype=np.float64)
            expected = np.broadcast_to(value.reshape(-1) if value.ndim else value, (n,))
            need(np.array_equal(cols[k].astype(np.float64), expected),
                 f"{var}.{k}: {cols[k].tolist()[:8]} differs from the input {expected.tolist()[:8]}")
    if leverage is not None:
        positive(cols["margin"], f"{var}.margin (from a finite leverage > 0)")
        with np.errstate(all="ignore"):
            positive(p.leverage, f"{var}.leverage")
    if tiers is not None:
        # the literal rule (tests/reference.py): each position's tier at its liquidation price
        t = _ev(ns, tiers)
        floors, tmmr, tmaint = (np.asarray(x).tolist() for x in (t.notional_floor, t.mmr, t.maint_amount))
        tier = [reference.tier_at_liquidation(int(cols["side"][i]), float(cols["qty"][i]), float(cols["entry_price"][i]),
                                              float(cols["margin"][i]), floors, tmmr, tmaint) for i in range(n)]
        need(np.array_equal(np.asarray(tmmr)[tier], cols["mmr"]) and
             np.array_equal(np.asarray(tmaint)[tier], cols["maint_amount"]),
             f"{var}: mmr/maint_amount differ from the tiers' assignment at the liquidation price")
    for direction in ("down", "up"):
        p.is_sorted(direction)
    repr(p)
    ns["_snap_" + var] = {**{k: v.copy() for k, v in cols.items()}, "liq": liq.copy(), "bank": bank.copy()}


def check_tiers(ns: dict, var: str) -> None:
    t = ns[var]
    floor, mmr, maint = (np.asarray(x) for x in (t.notional_floor, t.mmr, t.maint_amount))
    need(len(t) == floor.size >= 1 and floor[0] == 0.0, f"{var}: bad first floor")
    finite(floor, f"{var}.notional_floor")
    need(np.all(np.diff(floor) > 0), f"{var}.notional_floor: not increasing")
    finite(mmr, f"{var}.mmr", low=0.0)
    need(np.all(mmr < 1), f"{var}.mmr >= 1")
    finite(maint, f"{var}.maint_amount")
    probe = np.concatenate((floor, floor * 1.5 + 1.0, [0.0]))
    probe = probe[np.isfinite(probe)]
    k = t.tier_of(probe)
    need(np.all((k >= 0) & (k < len(t))), f"{var}.tier_of: out of range")
    repr(t)


def check_tier_of(ns: dict, var: str, tiers: str) -> None:
    k = np.asarray(ns[var])
    need(np.all((k >= 0) & (k < len(_ev(ns, tiers)))), f"{var}: tier index out of range")


def _reference_cascade(book: Any, snap: dict, kind: str, value: float, ref: float | None) -> Any:
    import reference  # tests/reference.py

    b = {k: np.asarray(getattr(book, k)).tolist() for k in ("bid_price", "bid_qty", "ask_price", "ask_qty")}
    pos = {k: snap[k].tolist() for k in POS_COLS}
    return reference.cascade(b, pos, ref_price=ref, **{kind: value})


def check_cascade(ns: dict, var: str, book: str = "book", positions: str = "positions", kind: str = "shock",
                  value: str = "None", ref_price: str = "None") -> None:
    r = ns[var]
    snap = ns["_snap_" + positions]
    n = snap["qty"].size
    need(r.direction in ("down", "up"), f"{var}.direction = {r.direction!r}")
    down = r.direction == "down"
    for k in ("ref_price", "shock_price", "final_price"):
        positive(getattr(r, k), f"{var}.{k}")
    if down:
        need(r.final_price <= r.shock_price, f"{var}: final_price {r.final_price!r} above shock_price {r.shock_price!r} (down)")
    else:
        need(r.final_price >= r.shock_price, f"{var}: final_price {r.final_price!r} below shock_price {r.shock_price!r} (up)")
    need(0 <= r.n_liquidated <= n, f"{var}.n_liquidated = {r.n_liquidated} of {n}")
    idx = np.asarray(r.liquidated_index)
    need(idx.size == r.n_liquidated, f"{var}: {idx.size} liquidated indices, n_liquidated {r.n_liquidated}")
    need(np.unique(idx).size == idx.size and np.all((idx >= 0) & (idx < n)), f"{var}.liquidated_index: repeats or out of range")
    need(np.all(snap["side"][idx] == (1 if down else -1)), f"{var}: liquidated a position of the other side")
    filled = np.asarray(r.liquidated_filled_qty)
    nonneg(filled, f"{var}.liquidated_filled_qty")
    need(np.all(filled <= snap["qty"][idx] * (1 + 1e-12)), f"{var}: a fill larger than its position")
    fp = np.asarray(r.liquidated_fill_price)[filled > 0]
    positive(fp, f"{var}.liquidated_fill_price")
    for k in ("liquidated_qty", "liquidated_notional", "unfilled_qty", "bad_debt", "exogenous_filled_qty",
              "exogenous_unfilled_qty"):
        nonneg(getattr(r, k), f"{var}.{k}")
    total = float(snap["qty"][idx].sum())
    close(r.liquidated_qty + r.unfilled_qty, total, f"{var}: liquidated_qty + unfilled_qty vs the positions' qty")
    close(r.liquidated_qty, float(filled.sum()), f"{var}: liquidated_qty vs the fills", scale=total)
    amp = r.amplification
    need(np.isfinite(amp) or (np.isnan(amp) and r.shock_price == r.ref_price),
         f"{var}.amplification = {amp!r} with shock_price {r.shock_price!r}, ref_price {r.ref_price!r}")
    need(len(r.trace) == r.rounds >= 0, f"{var}: trace length {len(r.trace)} vs rounds {r.rounds}")
    need(int(np.asarray(r.trace.count).sum()) == r.n_liquidated, f"{var}: trace counts vs n_liquidated")
    positive(r.trace.start_price, f"{var}.trace.start_price")
    need(r.levels_touched >= 0, f"{var}.levels_touched < 0")
    v = _ev(ns, value)
    identity = kind == "shock" and v == 0
    liq = snap["liq"]
    at_risk = (snap["side"] == (1 if down else -1)) & ((liq >= r.final_price) if down else (liq <= r.final_price))
    if down:
        at_risk &= liq > 0
    mask = np.zeros(n, dtype=bool)
    mask[idx] = True
    need(identity or np.array_equal(at_risk, mask),
         f"{var}: liquidated set differs from the positions the final price triggers")
    finite(r.final_move, f"{var}.final_move", low=-1.0)
    finite(r.shock_move, f"{var}.shock_move", low=-1.0)
    r.to_dict()
    if identity:
        need(r.final_price == r.ref_price and r.n_liquidated == 0, f"{var}: a zero shock is not the identity")
    # the literal model (tests/reference.py) must agree on what happened
    ref = _ev(ns, ref_price)
    expected = _reference_cascade(_ev(ns, book), snap, kind, float(v), None if ref is None else float(ref))
    need(expected.final_price == r.final_price, f"{var}.final_price {r.final_price!r} != reference {expected.final_price!r}")
    need(expected.n_liquidated == r.n_liquidated, f"{var}.n_liquidated {r.n_liquidated} != reference {expected.n_liquidated}")
    close(r.bad_debt, expected.bad_debt, f"{var}.bad_debt vs reference", scale=1e-12)


TABLE_FLOAT = ("final_price", "final_move", "liquidated_notional_long", "liquidated_notional_short", "bad_debt")


def _check_rows(t: Any, var: str, n_positions: int | None) -> None:
    positive(t["final_price"], f"{var}.final_price")
    positive(t["final_move"] + 1.0, f"{var}.final_move + 1")
    for k in ("liquidated_notional_long", "liquidated_notional_short", "bad_debt"):
        nonneg(t[k], f"{var}.{k}")
    nl = np.asarray(t["n_liquidated"])
    need(np.all(nl >= 0), f"{var}.n_liquidated < 0")
    if n_positions is not None:
        need(np.all(nl <= n_positions), f"{var}.n_liquidated > the number of positions")
    need(np.all(np.asarray(t["rounds"]) >= 0), f"{var}.rounds < 0")
    amp = np.asarray(t["amplification"])
    need(np.all(np.isfinite(amp) | np.isnan(amp)), f"{var}.amplification: infinite")


def check_cascade_many(ns: dict, var: str, book: str, positions: str, shocks: str, ref_price: str = "None") -> None:
    import liqcascade as lc

    t = ns[var]
    snap = ns["_snap_" + positions]
    s = np.asarray(_ev(ns, shocks), dtype=np.float64).reshape(-1)
    need(len(t) == s.size, f"{var}: {len(t)} rows for {s.size} shocks")
    need(np.array_equal(np.asarray(t["scenario"]), np.arange(s.size)), f"{var}.scenario != arange")
    need(same_bits(np.asarray(t["shock"], dtype=np.float64), s), f"{var}.shock differs from the shocks given")
    _check_rows(t, var, snap["qty"].size)
    ref = _ev(ns, ref_price)
    for i in sorted({0, s.size // 2, s.size - 1}) if s.size else ():
        try:
            one = lc.cascade(_ev(ns, book), _ev(ns, positions), float(s[i]), ref_price=ref)
        except (ValueError, TypeError) as exc:
            raise Violation(f"{var}: row {i} accepted, but cascade(shock={s[i]!r}) raises {exc!r}") from None
        need(one.final_price == t["final_price"][i] and one.n_liquidated == t["n_liquidated"][i],
             f"{var}: row {i} differs from cascade(shock={s[i]!r}): {t['final_price'][i]!r} vs {one.final_price!r}")
        a, b = one.amplification, t["amplification"][i]
        need(a == b or (np.isnan(a) and np.isnan(b)), f"{var}: row {i} amplification {b!r} vs cascade's {a!r}")


def check_table(ns: dict, var: str, n: str, first: str = "0", count: str | None = None) -> None:
    t = ns[var]
    rows = int(_ev(ns, n))
    start = int(_ev(ns, first))
    need(len(t) == rows, f"{var}: {len(t)} rows, expected {rows}")
    sc = np.asarray(t["scenario"])
    need([int(x) for x in sc] == list(range(start, start + rows)),
         f"{var}.scenario: {sc[:3].tolist()} is not {start}, {start + 1}, ...")
    finite(t["shock"], f"{var}.shock", low=-1.0, strict=True)
    _check_rows(t, var, None if count is None else int(_ev(ns, count)))


def check_summary(ns: dict, var: str) -> None:
    s = ns[var]
    if s is None:
        return
    d = s.to_dict()
    for group in ("move_quantiles", "prob_down", "prob_up"):
        for e in d[group].values():
            finite(e["value"], f"{var}.{group}")
    for k in ("prob_book_exhausted", "liquidated_notional_mean", "liquidated_notional_es", "bad_debt_mean", "bad_debt_es"):
        finite(d[k]["value"], f"{var}.{k}")
    str(s)


def check_scenario(ns: dict, var: str, count: str) -> None:
    sc = ns[var]
    ns["_sc_book"], ns["_sc_positions"] = sc.book, sc.positions
    check_book(ns, "_sc_book")
    check_positions(ns, "_sc_positions", count=count)
    finite(sc.shock, f"{var}.shock", low=-1.0, strict=True)


def check_replay(ns: dict, var: str, table: str) -> None:
    r, t = ns[var], ns[table]
    if r is None:
        return
    need(r.final_price == t["final_price"][0] and r.n_liquidated == t["n_liquidated"][0],
         f"{var}: the sampled scenario's cascade ({r.final_price!r}, {r.n_liquidated}) differs from the study's "
         f"row ({t['final_price'][0]!r}, {t['n_liquidated'][0]})")


def check_sampled_positions(ns: dict, var: str, count: str) -> None:
    check_positions(ns, var, count=count)


def check_simulation(ns: dict, var: str, expr: str, steps: str, fund: str = "0.0", positions: str = "positions") -> None:
    s = ns[var]
    snap = ns["_snap_" + positions]
    q0 = snap["qty"]
    n = q0.size
    steps_v = int(_ev(ns, steps))
    fund0 = float(_ev(ns, fund))
    tl, e = s.timeline, s.events
    need(len(tl) == steps_v, f"{var}.timeline: {len(tl)} rows for {steps_v} steps")
    for k in ("price", "mark_price", "fundamental"):
        positive(tl[k], f"{var}.timeline.{k}")
    for k in ("liquidated_qty", "liquidated_notional", "adl_qty", "bid_depth", "ask_depth", "queued"):
        nonneg(tl[k], f"{var}.timeline.{k}")
    for k in ("insurance_fund", "fund_inventory", "time"):
        finite(tl[k], f"{var}.timeline.{k}")
    for k in ("best_bid", "best_ask"):
        col = np.asarray(tl[k])
        positive(col[~np.isnan(col)], f"{var}.timeline.{k}")
    step, pos, kind, cp = (np.asarray(e[k]) for k in ("step", "position", "kind", "counterparty"))
    qty, price, fee, loss, fundcol = (np.asarray(e[k], dtype=np.float64) for k in ("qty", "price", "fee", "loss", "fund"))
    need(np.all((step >= 0) & (step < steps_v)), f"{var}.events.step out of range")
    need(np.all((kind >= 0) & (kind <= 3)), f"{var}.events.kind out of range")
    need(np.all((pos >= -1) & (pos < n)) and np.all((cp >= -1) & (cp < n)), f"{var}.events: position out of range")
    need(np.all(pos[kind != 3] >= 0), f"{var}.events: a liquidation/takeover/ADL without a position")
    need(np.all(np.diff(step) >= 0), f"{var}.events: steps out of order")
    positive(qty, f"{var}.events.qty")
    positive(price, f"{var}.events.price")
    nonneg(fee, f"{var}.events.fee")
    finite(loss, f"{var}.events.loss")
    finite(fundcol, f"{var}.events.fund")
    final = np.asarray(s.final_qty)
    need(final.shape == (n,), f"{var}.final_qty: shape {final.shape}")
    nonneg(final, f"{var}.final_qty")
    need(np.all(final <= q0 * (1 + 1e-12)), f"{var}.final_qty above the initial qty")
    # conservation, and no position closed twice or below zero, in event order
    reduced = np.zeros(n)
    closed = np.zeros(n, dtype=bool)
    for k in range(kind.size):
        involved = [int(pos[k])] if kind[k] in (0, 1) else ([int(pos[k])] + ([int(cp[k])] if cp[k] >= 0 else []) if kind[k] == 2 else [])
        for i in involved:
            need(not closed[i], f"{var}.events[{k}]: position {i} traded after it was closed")
            reduced[i] += qty[k]
            need(reduced[i] <= q0[i] * (1 + 1e-9), f"{var}.events[{k}]: position {i} closed below zero "
                                                    f"({reduced[i]!r} of {q0[i]!r})")
            if q0[i] - reduced[i] <= q0[i] * 1e-12:
                closed[i] = True
    for i in range(n):
        close(reduced[i] + final[i], q0[i], f"{var}: position {i}: filled + taken + deleveraged + left vs qty")
    # the insurance fund: each event's change is its fee minus its loss
    prev = fund0
    scale = abs(fund0) + float(np.abs(fee).sum() + np.abs(loss).sum())
    for k in range(kind.size):
        close(fundcol[k] - prev, fee[k] - loss[k], f"{var}.events[{k}]: fund change vs fee - loss", rel=1e-9, scale=scale)
        prev = fundcol[k]
    close(float(tl["insurance_fund"][-1]) - fund0, float(fee.sum() - loss.sum()),
          f"{var}: fund change vs fees - losses", rel=1e-9, scale=scale)
    need(s.insurance_fund_start == fund0, f"{var}.insurance_fund_start")
    close(float(np.asarray(tl["liquidated_qty"]).sum()), float(qty[kind == 0].sum()),
          f"{var}: timeline liquidated_qty vs the events'", scale=float(q0.sum()))
    nonneg(s.exogenous_filled, f"{var}.exogenous_filled")
    # determinism
    again = eval(expr, ns)
    for k in tl.columns:
        need(same_bits(tl[k], again.timeline[k]), f"{var}: timeline.{k} differs between two identical runs")
    for k in e.columns:
        need(same_bits(e[k], again.events[k]), f"{var}: events.{k} differs between two identical runs")
    need(same_bits(final, again.final_qty) and same_bits(s.liquidated, again.liquidated),
         f"{var}: final state differs between two identical runs")


def check_path(ns: dict, var: str, steps: str, start: str) -> None:
    a = np.asarray(ns[var])
    need(a.dtype == np.float64 and a.shape == (int(_ev(ns, steps)),), f"{var}: dtype {a.dtype}, shape {a.shape}")
    positive(a, var)
    need(a[0] == float(_ev(ns, start)), f"{var}[0] = {a[0]!r} is not start")


def check_flow(ns: dict, var: str, steps: str) -> None:
    a = np.asarray(ns[var])
    need(a.dtype == np.float64 and a.shape == (int(_ev(ns, steps)),), f"{var}: dtype {a.dtype}, shape {a.shape}")
    finite(a, var)


def check_buffer_cache(ns: dict, var: str, limit: str = "None") -> None:
    d = ns[var]
    need(isinstance(d, dict) and set(d) >= {"limit", "cached"}, f"{var}: {d!r}")
    need(all(isinstance(v, int) and v >= 0 for v in d.values()), f"{var}: {d!r}")
    lim = _ev(ns, limit)
    if lim is not None:
        need(d["limit"] == int(lim), f"{var}['limit'] = {d['limit']} after setting {lim}")


def check_model(ns: dict, var: str) -> None:
    repr(ns[var])


CHECKS = {name[6:]: fn for name, fn in globals().items() if name.startswith("check_")}


# -- the worker ------------------------------------------------------------------------------

_WORD = "(?<![A-Za-z0-9_]){}(?![A-Za-z0-9_])"


def names_a_parameter(message: str, names: list[str]) -> bool:
    return any(re.search(_WORD.format(re.escape(name)), message) for name in names)


def run_case(case: dict, prelude_ns: dict) -> dict:
    """Run one case in this process; its outcome as a dict."""
    ns = dict(prelude_ns)
    for i, stmt in enumerate(case["stmts"]):
        names = stmt.get("names") or []
        try:
            exec(stmt["code"], ns)
        except (ValueError, TypeError) as exc:
            if not names:
                return {"outcome": "harness", "stmt": i, "type": type(exc).__name__, "message": f"setup raised: {exc}"}
            if names_a_parameter(str(exc), names):
                return {"outcome": "rejected", "stmt": i, "type": type(exc).__name__, "message": str(exc)}
            return {"outcome": "bad_message", "stmt": i, "type": type(exc).__name__, "message": str(exc),
                    "names": names}
        except Exception as exc:  # noqa: BLE001 - classifying is the point
            if not names:
                return {"outcome": "harness", "stmt": i, "type": type(exc).__name__, "message": f"setup raised: {exc}"}
            return {"outcome": "wrong_type", "stmt": i, "type": type(exc).__name__, "message": str(exc)}
        check = stmt.get("check")
        if check:
            try:
                CHECKS[check](ns, **stmt.get("args", {}))
            except Violation as exc:
                return {"outcome": "invariant", "stmt": i, "type": "Violation", "message": str(exc)}
            except Exception as exc:  # noqa: BLE001
                return {"outcome": "harness", "stmt": i, "type": type(exc).__name__,
                        "message": f"check_{check} raised: {exc!r}\n{traceback.format_exc(limit=-3)}"}
    return {"outcome": "accepted"}


def worker_main() -> None:
    """Read JSON cases from stdin, one per line; write one JSON outcome per line."""
    import faulthandler
    import resource
    import warnings

    proto = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # stray prints go to stderr, not into the protocol
    faulthandler.enable()
    limit = int(os.environ.get("FUZZ_MEMORY_LIMIT", str(6 << 30)))
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    warnings.simplefilter("ignore")
    prelude_ns: dict = {}
    try:
        exec(PRELUDE, prelude_ns)
        import liqcascade

        default_cache = liqcascade.buffer_cache()["limit"]
    except Exception as exc:  # noqa: BLE001 - e.g. a rebuild in progress
        proto.write(json.dumps({"ready": False, "error": repr(exc)}) + "\n")
        return
    proto.write(json.dumps({"ready": True}) + "\n")
    for line in sys.stdin:
        case = json.loads(line)
        result = run_case(case, prelude_ns)
        if case.get("entry") == "buffer_cache":
            liqcascade.buffer_cache(default_cache)
        proto.write(json.dumps(result) + "\n")


# -- the parent side -------------------------------------------------------------------------

_BOOT = "import sys; sys.path.insert(0, sys.argv[1]); from fuzz.harness import worker_main; worker_main()"


class Worker:
    """A persistent worker process, restarted after a hang or a crash."""

    def __init__(self, timeout: float, startup_timeout: float = 120.0) -> None:
        self.timeout = timeout
        self.startup_timeout = startup_timeout
        self.proc: subprocess.Popen | None = None
        self.buffer = b""
        self.starts = 0

    def _readline(self, deadline: float) -> bytes | None:
        assert self.proc is not None and self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        while b"\n" not in self.buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError
            ready, _, _ = select.select([fd], [], [], left)
            if not ready:
                continue
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                return None
            self.buffer += chunk
        line, self.buffer = self.buffer.split(b"\n", 1)
        return line

    def start(self) -> None:
        for attempt in range(6):
            self.stderr = tempfile.TemporaryFile()
            env = dict(os.environ)
            env.setdefault("OMP_NUM_THREADS", "1")
            self.proc = subprocess.Popen([sys.executable, "-c", _BOOT, str(TESTS_DIR)], stdin=subprocess.PIPE,
                                         stdout=subprocess.PIPE, stderr=self.stderr, env=env)
            self.buffer = b""
            self.starts += 1
            try:
                line = self._readline(time.monotonic() + self.startup_timeout)
            except TimeoutError:
                line = None
            hello = json.loads(line) if line else {"ready": False, "error": "no answer"}
            if hello.get("ready"):
                return
            self.stop()
            time.sleep(30)  # the package may be being rebuilt: wait and retry
        raise RuntimeError(f"the fuzz worker cannot start: {hello.get('error')}")

    def stop(self) -> None:
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.kill()
            self.proc.wait()
            for stream in (self.proc.stdin, self.proc.stdout, self.stderr):
                if stream is not None:
                    stream.close()
            self.proc = None

    def _stderr_tail(self) -> str:
        try:
            self.stderr.seek(0)
            return self.stderr.read().decode(errors="replace")[-2000:]
        except (OSError, ValueError):
            return ""

    def run(self, case: dict) -> dict:
        if self.proc is None:
            self.start()
        assert self.proc is not None and self.proc.stdin is not None
        try:
            self.proc.stdin.write((json.dumps(case) + "\n").encode())
            self.proc.stdin.flush()
            line = self._readline(time.monotonic() + self.timeout)
        except TimeoutError:
            self.stop()
            return {"outcome": "hang", "type": "Timeout", "message": f"no answer within {self.timeout:g} s"}
        except BrokenPipeError:
            line = None
        if line is None:
            rc = self.proc.wait()
            tail = self._stderr_tail()
            self.stop()
            how = f"killed by signal {-rc}" if rc < 0 else f"exited with status {rc}"
            return {"outcome": "crash", "type": "Crash", "message": f"the worker {how}", "stderr": tail}
        return json.loads(line)


def signature(entry: str, result: dict) -> str:
    message = re.sub(r"-?\d[\d.e+-]*", "#", result.get("message", "").split("\n")[0])
    message = re.sub(r"\[[^\]]*\]", "[#]", message)
    return f"{entry} | {result['outcome']} | {result.get('type', '')} | {message[:120]}"


def run_cases(cases: list[Any], *, timeout: float = 10.0, progress: bool = False,
              worker: Worker | None = None) -> dict:
    """Run cases (``strategies.Case``) and summarise: counts per outcome, failures grouped by
    signature with their shortest reproducers."""
    own = worker is None
    worker = worker or Worker(timeout)
    counts: Counter = Counter()
    by_entry: Counter = Counter()
    groups: dict[str, dict] = {}
    started = time.monotonic()
    try:
        for number, case in enumerate(cases):
            result = worker.run(case.to_json())
            counts[result["outcome"]] += 1
            by_entry[f"{case.entry} {result['outcome']}"] += 1
            if result["outcome"] in FAILURES:
                key = signature(case.entry, result)
                group = groups.setdefault(key, {"signature": key, "entry": case.entry, "outcome": result["outcome"],
                                                "count": 0, "examples": []})
                group["count"] += 1
                group["examples"].append({"message": result.get("message", ""), "stderr": result.get("stderr", ""),
                                          "reproducer": case.reproducer()})
                group["examples"].sort(key=lambda ex: len(ex["reproducer"]))
                del group["examples"][3:]
            if progress and (number + 1) % 500 == 0:
                print(f"{number + 1} cases, {time.monotonic() - started:.0f} s: {dict(counts)}", file=sys.stderr)
    finally:
        if own:
            worker.stop()
    failures = sorted(groups.values(), key=lambda g: (-g["count"], g["signature"]))
    return {"cases": len(cases), "seconds": round(time.monotonic() - started, 1), "outcomes": dict(counts),
            "by_entry": dict(sorted(by_entry.items())), "failures": failures, "n_failures": sum(g["count"] for g in failures)}


def format_failures(report: dict, limit: int = 40) -> str:
    lines = [f"{report['n_failures']} failing cases in {len(report['failures'])} groups "
             f"(outcomes: {report['outcomes']})"]
    for group in report["failures"][:limit]:
        ex = group["examples"][0]
        lines.append(f"\n## {group['count']} x {group['signature']}\n{ex['message'][:500]}\n--- reproducer:\n"
                     f"{ex['reproducer'].split(chr(10) * 2 + '# case' + chr(10))[-1]}")
    return "\n".join(lines)
