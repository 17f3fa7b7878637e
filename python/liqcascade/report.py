"""``liqcascade report``: one self-contained HTML page for a risk committee — a market's shocks
table and critical shocks, its amplification curve and liquidation map, a static study's
summary and liquidation-at-risk, a simulation's timeline and a policy comparison, with the
figures inline (base64 PNG) and no network access. Needs matplotlib (``[plot]``)."""

from __future__ import annotations

import base64
import html
import io
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import __version__
from .fragility import (
    amplification_curve,
    critical_shock_table,
    critical_shocks,
    liquidation_at_risk,
    liquidation_map,
)
from .policy import (
    Policy,
    Study,
    cme_breakers,
    compare_policies,
    crypto_status_quo,
    leverage_cap,
    simulation_metrics,
)
from .scenarios import PRESETS, MarketPreset
from .simulator import simulate

#: The report's sections, in order (a test checks each is there).
SECTIONS = ("market", "shocks", "critical-shocks", "liquidation-map", "study", "simulation", "policies", "notes")


@dataclass(frozen=True)
class ReportOptions:
    """Sizes of the report's runs (small by default: the page builds in seconds)."""

    positions: int = 50_000
    scenarios: int = 100
    time_scenarios: int = 4
    steps: int | None = 900
    seed: int = 0


def _png(fig: Any) -> str:
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    plt.close(fig)
    alt = html.escape("; ".join(titles) if titles else "figure", quote=True)
    return f'<img alt="{alt}" src="data:image/png;base64,' + base64.b64encode(buffer.getvalue()).decode() + '">'


def _table(header: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f'<div class="scroll"><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'


def _pre(text: str) -> str:
    return f"<pre>{html.escape(text)}</pre>"


def _section(key: str, title: str, body: str) -> str:
    return f'<section id="{key}"><h2>{html.escape(title)}</h2>{body}</section>'


_STYLE = """
body { font-family: system-ui, sans-serif; max-width: 60rem; margin: 1rem auto; padding: 0 1rem; color: #222; }
img { max-width: 100%; height: auto; }
table { border-collapse: collapse; font-size: 0.85rem; }
td, th { padding: 0.15rem 0.5rem; border-bottom: 1px solid #ddd; text-align: right; white-space: nowrap; }
.scroll { overflow-x: auto; max-width: 100%; }
pre { font-size: 0.75rem; white-space: pre-wrap; overflow-wrap: anywhere; }
"""


def policies_for(market: MarketPreset) -> dict[str, Policy]:
    """The report's policy comparison: the status quo, a 20x cap, CME-like breakers."""
    fund = 1e9 if market.population.open_interest > 1e9 else 1e6
    return {"status quo": crypto_status_quo(insurance_fund=fund),
            "leverage cap 20x": leverage_cap(20, insurance_fund=fund),
            "CME breakers": cme_breakers(insurance_fund=fund)}


def build_report(market: MarketPreset, options: ReportOptions = ReportOptions()) -> str:
    """The report's HTML for ``market``."""
    from . import plot

    started = time.perf_counter()
    population = market.population
    if options.positions != population.count:
        from dataclasses import replace

        population = replace(population, count=options.positions)
        market = replace(market, population=population)
    book = market.book()
    positions = market.positions(options.seed).prepare()
    parts = [f"<h1>liqcascade report: {html.escape(market.name)}</h1>",
             f"<p>{html.escape(market.description)}. liqcascade {__version__}; {options.positions:,} positions "
             f"(open interest ${population.open_interest / 1e6:,.0f}M), seed {options.seed}.</p>"]

    depth = book.depth(0.01)
    rows = [["mid", f"{book.mid:,.2f}"], ["bid notional within 1 %", f"${depth.bid_notional / 1e6:,.1f}M"],
            ["ask notional within 1 %", f"${depth.ask_notional / 1e6:,.1f}M"],
            ["open interest", f"${float(np.sum(positions.notional)) / 1e6:,.1f}M"],
            ["long share of open interest",
             f"{float(np.sum(positions.notional[positions.side > 0]) / np.sum(positions.notional)) * 100:.1f}%"],
            ["trigger", f"{market.trigger * 100:+.1f}%"]]
    parts.append(_section("market", "The market", _table(["", ""], rows)))

    shocks = np.array([-0.10, -0.07, -0.05, -0.03, -0.02, -0.01, 0.01, 0.02, 0.03, 0.05, 0.07, 0.10])
    curve_rows = amplification_curve(book, positions, shocks)
    table_rows = [[f"{s * 100:+.1f}%", f"{m * 100:+.2f}%", f"{a:.2f}x", f"${n / 1e6:,.2f}M", f"{k:,}",
                   f"${b:,.0f}", "exhausted" if e else "ok"]
                  for s, m, a, n, k, b, e in zip(shocks, curve_rows.final_move, curve_rows.amplification,
                                                 curve_rows.liquidated_notional, curve_rows.n_liquidated,
                                                 curve_rows.bad_debt, curve_rows.book_exhausted, strict=True)]
    parts.append(_section("shocks", "Shocks", _table(
        ["shock", "final move", "amplification", "liquidated", "positions", "bad debt", "book"], table_rows)))

    critical = critical_shocks(book, positions, 2.0)
    ct = critical_shock_table(critical)
    crit_rows = [[d, "none up to 50 %" if np.isnan(s) else f"{s * 100:+.4f}%", c, f"{a:.2f}x", f"{m * 100:+.2f}%"]
                 for d, s, c, a, m in zip(ct.direction, ct.critical_shock, ct.cause, ct.amplification, ct.final_move,
                                          strict=True)]
    curve = amplification_curve(book, positions, max_shock=0.15, points=301)
    parts.append(_section("critical-shocks", "Critical shocks (amplification 2x or book exhaustion)", _table(
        ["direction", "critical shock", "cause", "amplification", "final move"], crit_rows)
        + "<p>The first move on a 0.1 % grid whose cascade is amplified 2x or exhausts the book, refined by "
          "bisection to 1e-6 (a first grid point that already reaches it is not refined).</p>"
        + _png(plot.amplification_curve(curve, critical))))

    lmap = liquidation_map(positions, book.mid, width=0.25, buckets=100)
    parts.append(_section("liquidation-map", "Liquidation map", _png(plot.liquidation_map(lmap))))

    study = Study(population, market.book_model, market.study_shocks, options.scenarios, options.seed)
    from .montecarlo import monte_carlo

    table = monte_carlo(population, market.book_model, market.study_shocks, options.scenarios, options.seed,
                        progress=False)
    fund = policies_for(market)["status quo"].insurance_fund or 0.0
    lar = liquidation_at_risk(table, insurance_fund=fund)
    parts.append(_section("study", f"Study: {options.scenarios} scenarios, Student-t shocks",
                          _pre(str(table.summary())) + _pre(str(lar)) + _png(plot.study_distribution(table))))

    ts = market.time_study(options.time_scenarios, options.seed, options.steps)
    tb, path, flow = ts.scenario_inputs(0)
    sim = simulate(tb, positions, ts.engine, ts.steps, ts.dt, path=path, flow=flow, shock=ts.shock,
                   resilience=ts.resilience, mark="ema", mark_halflife=ts.mark_halflife, insurance_fund=fund)
    tl = sim.timeline
    m = simulation_metrics(sim, tb.mid)
    sim_rows = [["low", f"{tl.price.min():,.1f} ({m['low_move'] * 100:+.2f}%)"],
                ["liquidated (fills and the fund's takeovers)", f"${m['liquidated_notional'] / 1e6:,.2f}M"],
                ["of which filled in the book", f"${tl.liquidated_notional.sum() / 1e6:,.2f}M"],
                ["bad debt covered by the fund", f"${m['bad_debt'] / 1e6:,.2f}M"],
                ["insurance fund low", f"${m['fund_low'] / 1e6:,.2f}M"],
                ["halted steps", f"{int(m['halted_steps']):,}"],
                ["ADL steps", f"{int(np.count_nonzero(tl.adl_qty > 0)):,}"]]
    parts.append(_section("simulation", f"Through time: scenario 0, {ts.steps} steps of {ts.dt:g} s",
                          _table(["", ""], sim_rows) + _png(plot.timeline(sim))))

    policies = policies_for(market)
    comparison = compare_policies(ts, policies)
    static = compare_policies(study, {k: v for k, v in policies.items() if v.breakers == ()})
    parts.append(_section("policies", "Policies on common random numbers",
                          "<h3>Through time</h3>" + _pre(str(comparison))
                          + _png(plot.policy_comparison(comparison, "liquidated_notional"))
                          + "<h3>Static study (breakers act only through time)</h3>" + _pre(str(static))))

    notes = [f"Built in {time.perf_counter() - started:.1f} s.",
             "Rules: docs/design.md ('Fragility and policy'). Standard errors are Monte Carlo standard errors; "
             "differences are paired over the same scenarios."]
    if market.sources:
        notes += [f"{k}: {v}" for k, v in market.sources.items()]
    parts.append(_section("notes", "Notes and sources", "<ul>" + "".join(f"<li>{html.escape(n)}</li>" for n in notes)
                          + "</ul>"))
    return ("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>liqcascade report: {html.escape(market.name)}</title><style>{_STYLE}</style></head><body>"
            + "".join(parts) + "</body></html>")


def market_preset(name: str, count: int) -> MarketPreset:
    if name not in PRESETS:
        raise ValueError(f"scenario: expected one of {', '.join(PRESETS)}, got {name!r}")
    return PRESETS[name](count)
