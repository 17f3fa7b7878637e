"""Pictures of the policy lab (matplotlib, an optional extra: ``pip install "liqcascade[plot]"``).

Each function draws on ``ax`` (a new figure when None) and returns the Figure; matplotlib is
imported when a function is called, not when liqcascade is.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from ._table import ColumnTable
from .analysis import intervals
from .fragility import CriticalShock, LiquidationMap, SimulationLiquidationMap, VenueLiquidationMap
from .policy import PolicyComparison
from .simulator import SimulationResult

__all__ = ["amplification_curve", "liquidation_map", "policy_comparison", "simulation_liquidation_map",
           "study_distribution", "timeline", "venue_amplification_curve", "venue_liquidation_map", "venue_panels"]


def _pyplot() -> Any:
    try:
        import matplotlib

        if matplotlib.get_backend().lower() not in ("agg", "module://matplotlib_inline.backend_inline") and \
                not _has_display():
            matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise ImportError('liqcascade.plot needs matplotlib: pip install "liqcascade[plot]"') from None
    return plt


def _has_display() -> bool:
    import os
    import sys

    return sys.platform in ("darwin", "win32") or bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def _axes(ax: Any, nrows: int = 1, figsize: tuple[float, float] = (8.0, 4.5), sharex: bool = False) -> tuple[Any, Any]:
    plt = _pyplot()
    if ax is not None:
        return ax.figure, ax
    fig, axes = plt.subplots(nrows, 1, figsize=figsize, sharex=sharex, squeeze=True)
    return fig, axes


def liquidation_map(lmap: LiquidationMap, *, ax: Any = None, cumulative: bool = True) -> Any:
    """Bars of liquidation notional per price bucket (longs below, shorts above, in $M), the
    reference price as a vertical line, and (``cumulative``) the notional a move to each price
    would liquidate, on a second axis."""
    fig, ax = _axes(ax)
    width = np.diff(lmap.edges)
    ax.bar(lmap.edges[:-1], lmap.long / 1e6, width=width, align="edge", color="tab:red", alpha=0.75, label="longs")
    ax.bar(lmap.edges[:-1], lmap.short / 1e6, width=width, align="edge", color="tab:green", alpha=0.75,
           label="shorts", bottom=lmap.long / 1e6)
    if lmap.samples > 1:
        err = np.sqrt(np.nan_to_num(lmap.long_stderr) ** 2 + np.nan_to_num(lmap.short_stderr) ** 2) / 1e6
        ax.errorbar(lmap.centres, (lmap.long + lmap.short) / 1e6, yerr=err, fmt="none", ecolor="black", lw=0.6)
    ax.axvline(lmap.ref_price, color="black", ls="--", lw=1, label="reference")
    ax.set_xlabel("liquidation price")
    ax.set_ylabel("liquidation notional per bucket ($M)")
    ax.set_title("Liquidation map" + (f" (mean of {lmap.samples} samples)" if lmap.samples > 1 else ""))
    if cumulative:
        twin = ax.twinx()
        twin.plot(lmap.centres, (lmap.cumulative_long + lmap.cumulative_short) / 1e6, color="tab:blue", lw=1.2,
                  label="cumulative from the reference")
        twin.set_ylabel("cumulative ($M)")
    ax.legend(loc="upper left", fontsize="small")
    return fig


def amplification_curve(curve: ColumnTable, critical: Mapping[Any, CriticalShock] | None = None, *,
                        ax: Any = None) -> Any:
    """Final move against shock (%, both directions) with the no-amplification diagonal, book
    exhaustion marked, and each direction's critical shock as a vertical line."""
    fig, ax = _axes(ax)
    shock = np.asarray(curve["shock"]) * 100
    move = np.asarray(curve["final_move"]) * 100
    for sign, colour in ((-1, "tab:red"), (1, "tab:green")):
        mine = np.asarray(curve["direction"]) == sign
        ax.plot(shock[mine], move[mine], color=colour, lw=1.5, label="final move (down)" if sign < 0 else
                "final move (up)")
    ax.plot(shock, shock, color="grey", ls=":", lw=1, label="no amplification")
    exhausted = np.asarray(curve["book_exhausted"], dtype=bool)
    if exhausted.any():
        ax.scatter(shock[exhausted], move[exhausted], marker="x", color="black", s=12, label="book exhausted")
    if critical:
        for c in critical.values():
            if c.shock is not None:
                ax.axvline(c.shock * 100, color="tab:purple", ls="--", lw=1)
                ax.annotate(f"critical {c.shock * 100:+.2f}% ({c.cause})", (c.shock * 100, 0), rotation=90,
                            fontsize="x-small", va="bottom", ha="right", color="tab:purple")
    ax.set_xlabel("shock (%)")
    ax.set_ylabel("final move (%)")
    ax.set_title("Amplification curve")
    ax.legend(loc="upper left", fontsize="small")
    return fig


def study_distribution(table: ColumnTable, *, ax: Any = None, bins: int = 40) -> Any:
    """A study's distribution: histograms of the final move (%) and of liquidated notional
    ($M). With ``ax``, a sequence of two axes."""
    if ax is None:
        fig, axes = _axes(None, 2, (8.0, 6.0))
    else:
        axes = ax
        fig = axes[0].figure
    move = np.asarray(table["final_move"]) * 100
    cols = set(table.columns)
    liquidated = np.asarray(table["liquidated_notional"] if "liquidated_notional" in cols else
                            table["liquidated_notional_long"] + table["liquidated_notional_short"]) / 1e6
    axes[0].hist(move, bins=bins, color="tab:blue", alpha=0.8)
    axes[0].set_xlabel("final move (%)")
    axes[0].set_ylabel("scenarios")
    axes[0].set_title(f"Final move over {len(table):,} scenarios")
    axes[1].hist(liquidated, bins=bins, color="tab:orange", alpha=0.8)
    axes[1].set_xlabel("liquidated notional ($M)")
    axes[1].set_ylabel("scenarios")
    axes[1].set_title("Liquidated notional")
    for a in axes:
        a.tick_params(labelbottom=True)
    fig.tight_layout()
    return fig


def timeline(sim: SimulationResult, *, ax: Any = None) -> Any:
    """A simulation's timeline: price and mark (top; halts shaded, the first ADL step marked),
    liquidated notional per step (middle), the insurance fund (bottom). With ``ax``, a
    sequence of three axes."""
    if ax is None:
        fig, axes = _axes(None, 3, (9.0, 7.0), sharex=True)
    else:
        axes = ax
        fig = axes[0].figure
    tl = sim.timeline
    t = np.asarray(tl.time)
    axes[0].plot(t, tl.price, lw=1, color="black", label="last")
    axes[0].plot(t, tl.mark_price, lw=1, color="tab:blue", alpha=0.8, label="mark")
    for k, (start, end) in enumerate(intervals(tl.halted)):
        for a in axes:
            a.axvspan(t[start], t[min(end, len(t) - 1)], color="grey", alpha=0.25,
                      label="halted" if a is axes[0] and k == 0 else None)
    adl = np.flatnonzero(np.asarray(tl.adl_qty) > 0)
    if adl.size:
        axes[0].scatter(t[adl], np.asarray(tl.price)[adl], marker="v", color="tab:red", s=14, zorder=3, label="ADL")
    axes[0].set_ylabel("price")
    axes[0].legend(loc="lower right", fontsize="small")
    axes[0].set_title("Simulation timeline")
    width = float(t[1] - t[0]) if t.size > 1 else 1.0
    ev = sim.events
    takeover = ev.kind == 1
    taken = np.bincount(ev.step[takeover], weights=ev.qty[takeover] * ev.price[takeover], minlength=len(t))[: len(t)]
    fills = np.asarray(tl.liquidated_notional)
    axes[1].bar(t, fills / 1e6, width=width, color="tab:red", label="liquidation fills")
    axes[1].bar(t, taken / 1e6, width=width, bottom=fills / 1e6, color="tab:orange", label="taken over by the fund")
    axes[1].set_ylabel("liquidated ($M/step)")
    axes[1].legend(loc="upper right", fontsize="small")
    axes[2].plot(t, np.asarray(tl.insurance_fund) / 1e6, color="tab:green")
    axes[2].set_ylabel("insurance fund ($M)")
    axes[2].set_xlabel("time")
    fig.tight_layout()
    return fig


def simulation_liquidation_map(smap: SimulationLiquidationMap, *, ax: Any = None) -> Any:
    """Price x time x liquidated notional: a heatmap ($M per cell)."""
    fig, ax = _axes(ax)
    image = ax.pcolormesh(smap.time_edges, smap.price_edges, smap.notional.T / 1e6, cmap="magma_r", shading="flat")
    fig.colorbar(image, ax=ax, label="liquidated ($M)")
    ax.set_xlabel("step")
    ax.set_ylabel("fill price")
    ax.set_title("Liquidations through time")
    return fig


def policy_comparison(comparison: PolicyComparison, metric: str = "liquidated_notional", *, ax: Any = None,
                      paired: bool = True) -> Any:
    """Each policy's mean of ``metric`` with 95 % error bars; ``paired``: the differences from
    the baseline with their paired standard errors instead."""
    if metric not in comparison.metrics:
        raise ValueError(f"metric: expected one of {', '.join(comparison.metrics)}, got {metric!r}")
    fig, ax = _axes(ax)
    names = list(comparison.rows)
    values, errors = [], []
    for name in names:
        v = comparison.get(name, metric)
        values.append(v["diff"] if paired else v["mean"])
        errors.append(1.959963984540054 * (v["diff_stderr"] if paired else v["stderr"]))
    dollars = ("liquidated_notional", "bad_debt", "fund_low", "sold_notional", "account_bad_debt")
    shares = ("move_beyond_10pct", "ruin", "adl", "book_exhausted")
    scale, unit = (1e6, "$M") if metric in dollars else (
        (0.01, "%") if metric.endswith("move") or metric in shares else (1.0, ""))
    y = np.arange(len(names))
    vals = np.array(values) / scale
    errs = np.array([e if math.isfinite(e) else 0.0 for e in errors]) / scale
    ax.barh(y, vals, xerr=errs, color=["grey" if n == comparison.baseline else "tab:blue" for n in names],
            capsize=4)
    ax.set_yticks(y, names)
    ax.axvline(0, color="black", lw=0.8)
    label = comparison.metrics[metric]
    prefix = f"difference from {comparison.baseline}: " if paired else ""
    # (a label with two dollar signs, "($, all markets) [$M]", would be read as mathtext)
    ax.set_xlabel((prefix + f"{label} [{unit}]".replace(" []", "")).replace("$", r"\$"))
    ax.set_title(f"Policies on {comparison.n_scenarios} common scenarios (95 % intervals)")
    fig.tight_layout()
    return fig


def venue_panels(result: Any, *, ax: Any = None) -> Any:
    """One panel per market of a venue cascade (:func:`liqcascade.venue.venue_cascade`'s
    result): its price through the rounds against its reference (%, round 0 the exogenous
    shock) and, on a second axis, the notional its rounds' orders carried ($M: liquidations and
    agents' orders, and collateral sales). ``ax``: one Axes per market (a sequence), or None
    for a new figure of stacked panels sharing the round axis."""
    markets = [str(m) for m in result.markets["market"]]
    if ax is None:
        plt = _pyplot()
        fig, axes = plt.subplots(len(markets), 1, figsize=(8.0, 2.2 * len(markets) + 0.6), sharex=True,
                                 squeeze=False)
        axes = list(axes[:, 0])
    else:
        axes = list(np.ravel(np.asarray(ax, dtype=object)))
        if len(axes) != len(markets):
            raise ValueError(f"ax: expected {len(markets)} Axes (one per market), got {len(axes)}")
        fig = axes[0].figure
    trace = result.trace
    rounds = int(result.rounds)
    x = np.arange(rounds + 1)
    twins = []
    for i, (name, panel) in enumerate(zip(markets, axes, strict=True)):
        ref = float(result.markets["ref_price"][i])
        price = np.full(rounds + 1, float(result.markets["shock_price"][i]))
        orders = np.zeros(rounds + 1)
        sales = np.zeros(rounds + 1)
        rows = np.flatnonzero(np.asarray(trace["market"]) == i)
        for r in rows:
            k = int(trace["round"][r])
            price[k:] = float(trace["end_price"][r])
            start = float(trace["start_price"][r])
            orders[k] = (float(trace["qty"][r]) + float(trace["stop_qty"][r]) + float(trace["token_qty"][r])
                         + float(trace["fund_qty"][r])) * start
            sales[k] = float(trace["sale_qty"][r]) * start
        move = (price / ref - 1.0) * 100.0
        twin = panel.twinx()
        twins.append(twin)
        twin.bar(x - 0.2, orders / 1e6, width=0.4, color="tab:red", alpha=0.5, label="orders")
        twin.bar(x + 0.2, sales / 1e6, width=0.4, color="tab:purple", alpha=0.5, label="collateral sold")
        twin.set_ylabel("$M")
        panel.plot(x, move, color="black", marker="o", ms=3, label="price")
        panel.axhline(0.0, color="grey", lw=0.8)
        panel.set_ylabel("move [%]")
        panel.set_zorder(twin.get_zorder() + 1)
        panel.patch.set_visible(False)
        panel.set_title(f"{name}: {float(result.markets['final_move'][i]):+.1%}", fontsize=9, loc="left")
    axes[-1].set_xlabel("round")
    handles = axes[0].get_legend_handles_labels()[0] + twins[0].get_legend_handles_labels()[0] if twins else []
    if handles:
        axes[0].legend(handles=handles, fontsize=7, loc="lower left")
    if ax is None:
        fig.suptitle(f"Venue cascade: {rounds} rounds, {len(result.accounts):,} accounts liquidated, "
                     f"bad debt ${result.bad_debt / 1e6:,.2f}M", fontsize=10)
        fig.tight_layout()
    return fig


def venue_liquidation_map(maps: Mapping[str, VenueLiquidationMap] | VenueLiquidationMap, *, ax: Any = None) -> Any:
    """A venue's liquidation map (:func:`liqcascade.fragility.venue_liquidation_map`), one panel
    per market: stacked bars per price bucket ($M) of isolated longs, cross accounts' longs,
    isolated shorts and cross accounts' shorts (each account's positions at its trigger price in
    the market, the others at their reference), and the reference price. ``maps``: the dict of
    every market's map or one map. ``ax``: one Axes per map (a sequence), or None for a new
    figure of stacked panels."""
    if isinstance(maps, VenueLiquidationMap):
        maps = {maps.market: maps}
    if not isinstance(maps, Mapping) or not all(isinstance(m, VenueLiquidationMap) for m in maps.values()):
        raise TypeError("maps: expected venue_liquidation_map's result (a VenueLiquidationMap or a dict of them)")
    names = list(maps)
    if ax is None:
        plt = _pyplot()
        fig, axes = plt.subplots(len(names), 1, figsize=(8.0, 2.4 * len(names) + 0.6), squeeze=False)
        axes = list(axes[:, 0])
    else:
        axes = list(np.ravel(np.asarray(ax, dtype=object)))
        if len(axes) != len(names):
            raise ValueError(f"ax: expected {len(names)} Axes (one per market), got {len(axes)}")
        fig = axes[0].figure
    for name, panel in zip(names, axes, strict=True):
        lmap = maps[name]
        width = np.diff(lmap.edges)
        bottom = np.zeros(width.size)
        for values, colour, label in ((lmap.isolated_long, "tab:red", "isolated longs"),
                                      (lmap.cross_long, "darkred", "cross accounts' longs"),
                                      (lmap.isolated_short, "tab:green", "isolated shorts"),
                                      (lmap.cross_short, "darkgreen", "cross accounts' shorts")):
            panel.bar(lmap.edges[:-1], values / 1e6, width=width, align="edge", bottom=bottom, color=colour,
                      alpha=0.8, label=label)
            bottom = bottom + values / 1e6
        panel.axvline(lmap.ref_price, color="black", ls="--", lw=1, label="reference")
        panel.set_ylabel("$M per bucket")
        # (\$: two dollar signs in one text would be read as mathtext)
        panel.set_title(f"{name}: \\${float(lmap.long.sum()) / 1e6:,.2f}M of longs, "
                        f"\\${float(lmap.short.sum()) / 1e6:,.2f}M of shorts, {int(lmap.accounts.sum()):,} account "
                        "triggers", fontsize=9, loc="left")
    axes[-1].set_xlabel("price (the market alone moved)")
    axes[0].legend(fontsize=7, loc="upper left")
    if ax is None:
        fig.suptitle("Venue liquidation map", fontsize=10)
        fig.tight_layout()
    return fig


def venue_amplification_curve(curve: ColumnTable, critical: ColumnTable | None = None, *, ax: Any = None) -> Any:
    """A venue's amplification curve (:func:`liqcascade.fragility.venue_amplification_curve`):
    every market's final move (%) against the shock (%) of the market moved, that market's line
    solid and the others' dashed (a move carried by accounts, collateral and agents), the
    no-amplification diagonal, shocks that ran some book out marked, and — given
    :func:`~liqcascade.fragility.venue_critical_shocks`' table — the moved market's critical
    shocks as vertical lines labelled with their cause."""
    columns = list(curve.columns)
    if "market" not in columns or not any(c.endswith(".final_move") for c in columns):
        raise TypeError("curve: expected venue_amplification_curve's table")
    fig, ax = _axes(ax)
    moved = str(curve["market"][0]) if len(curve) else ""
    shock = np.asarray(curve["shock"]) * 100
    names = [c[: -len(".final_move")] for c in columns if c.endswith(".final_move")]
    for name in names:
        move = np.asarray(curve[f"{name}.final_move"]) * 100
        own = name == moved
        for sign in (-1, 1):
            mine = np.asarray(curve["direction"]) == sign
            ax.plot(shock[mine], move[mine], lw=1.6 if own else 1.1, ls="-" if own else "--",
                    color=f"C{names.index(name)}", label=name if sign < 0 else None)
    ax.plot(shock, shock, color="grey", ls=":", lw=1, label="no amplification")
    exhausted = np.asarray(curve["book_exhausted"], dtype=bool)
    if exhausted.any():
        ax.scatter(shock[exhausted], np.asarray(curve["final_move"])[exhausted] * 100, marker="x", color="black",
                   s=12, label="a book exhausted")
    if critical is not None:
        for i in np.flatnonzero(np.asarray(critical["market"]) == moved):
            value = float(critical["critical_shock"][i])
            if np.isfinite(value):
                ax.axvline(value * 100, color="tab:purple", ls="-.", lw=1)
                ax.annotate(f"critical {value * 100:+.2f}% ({critical['cause'][i]})", (value * 100, 0), rotation=90,
                            fontsize="x-small", va="bottom", ha="right", color="tab:purple")
    ax.set_xlabel(f"shock of {moved} alone (%)")
    ax.set_ylabel("final move (%)")
    ax.set_title(f"Venue amplification curve: {moved} moved, every market's final move")
    ax.legend(loc="upper left", fontsize="small")
    return fig
