"""``liqcascade report --scenario venue | oct-10-2025-venue``: the report of a venue of many
markets — its markets and collateral, each perpetual's shocks and critical shocks (with the
amplification curve of the trigger's largest move), the trigger's cascade with its
per-market panels and channels, the venue's liquidation map, a study over correlated shocks and
a comparison of collateral pricing (its own books, a fixed index, an index that follows a
market, a larger haircut) on common random numbers. The page's frame (figures inline, no
network) is :mod:`liqcascade.report`'s. Needs matplotlib (``[plot]``)."""

from __future__ import annotations

import html
import time
from typing import Any, cast

import numpy as np

from . import __version__
from .fragility import venue_amplification_curve, venue_critical_shocks, venue_liquidation_maps
from .policy import compare_venue_policies, with_collateral
from .report import _STYLE, ReportOptions, _png, _pre, _section, _table
from .venue import VenueCascadeResult, venue_cascade
from .venue_preset import VenuePreset
from .venue_study import VenueScenarioTable

#: The venue report's sections, in order (a test checks each is there).
VENUE_SECTIONS = ("venue", "shocks", "critical-shocks", "cascade", "liquidation-map", "study", "policies", "notes")

#: ``--scenario`` names of the venue presets.
VENUE_SCENARIOS = ("venue", "oct-10-2025-venue")

SHOCKS = (-0.10, -0.08, -0.05, -0.03)
#: The critical shocks' criteria: amplification 2x, a book exhausted, or more than this share of
#: the venue's open interest liquidated in another market; their grid (coarser than the
#: library's defaults: a report runs them for every perpetual).
CRITICAL_LEVEL, CONTAGION_SHARE = 2.0, 0.01
CRITICAL_MAX_SHOCK, CRITICAL_GRID_STEP, CRITICAL_TOLERANCE, CRITICAL_REFINE = 0.3, 0.0025, 1e-5, 15


def venue_preset(name: str, positions: int, seed: int = 0) -> VenuePreset:
    """A venue preset by ``--scenario`` name, with ``positions`` cross accounts and as many
    isolated positions."""
    if name == "venue":
        from .venue_scenario import default_venue_preset

        return default_venue_preset(positions, positions, seed)
    if name == "oct-10-2025-venue":
        from .venue_preset import october_10_2025_venue

        return october_10_2025_venue(positions, positions, seed)
    raise ValueError(f"scenario: expected one of {', '.join(VENUE_SCENARIOS)}, got {name!r}")


def _money(x: float) -> str:
    return f"${x / 1e6:,.2f}M"


def _market_rows(r: VenueCascadeResult) -> list[list[str]]:
    m, ch = r.markets, r.channels()
    return [[str(m["market"][i]), f"{m['ref_price'][i]:,.6g}", f"{m['final_price'][i]:,.6g}",
             f"{m['final_move'][i] * 100:+.2f}%", f"{int(m['n_liquidated'][i]):,}", _money(m["liquidated_notional"][i]),
             _money(m["sold_notional"][i]), _money(ch["stops"][i] + ch["token_rebalancing"][i]
                                                  + ch["fund_deleveraging"][i]),
             "yes" if m["book_exhausted"][i] else "no"] for i in range(len(m))]


def variants_for(preset: VenuePreset) -> dict[str, Any]:
    """The report's collateral comparison: the preset as it is (own books), a fixed index, an
    index that follows its market (where the preset names one), a 20 % haircut."""
    out: dict[str, Any] = {"own books": None, "fixed index": preset.index_priced(follow=False)}
    if preset.index_markets:
        out["index follows " + ", ".join(sorted(set(preset.index_markets.values())))] = preset.index_priced()
    out["haircut 20 %"] = with_collateral(preset.venue, haircut=0.2)
    return out


def build_venue_report(preset: VenuePreset, options: ReportOptions | None = None) -> str:
    """The report's HTML for a venue preset (``options.scenarios``: the study's scenarios per
    collateral variant; the time-study options do not apply: a venue is static here)."""
    from . import plot

    options = ReportOptions() if options is None else options
    started = time.perf_counter()
    state = preset.state()
    venue = preset.venue
    n_acc, n_pos = len(preset.accounts), len(preset.positions)
    parts = [f"<h1>liqcascade report: {html.escape(preset.name)}</h1>",
             f"<p>{html.escape(preset.description)}. liqcascade {__version__}; {n_acc:,} cross accounts, "
             f"{n_pos:,} positions, seed {options.seed}.</p>"]

    # the venue
    p = preset.positions
    market = p.market_index(venue)
    notional = np.asarray(p.qty) * np.asarray(p.entry_price)
    cross = np.asarray(p.account) >= 0
    rows = []
    for i, m in enumerate(venue.markets):
        depth = m.book.depth(0.01)
        rows.append([m.name, f"{state.ref_price[i]:,.6g}", _money(depth.bid_notional),
                     _money(float(notional[(market == i) & ~cross].sum())),
                     _money(float(notional[(market == i) & cross].sum()))])
    assets = [[a.name, a.priced_by or "-", "fixed" if a.price is not None else
               (f"{a.index[1]:.4g} x {a.index[0]}" if a.index is not None else "its own book"), f"{a.haircut:.0%}"]
              for a in venue.assets]
    parts.append(_section("venue", "The venue", _table(
        ["market", "reference", "bids within 1 %", "isolated open interest", "cross open interest"], rows)
        + _table(["collateral", "own market", "valued on", "haircut"], assets)
        + f"<p>Trigger: {html.escape(', '.join(f'{k} {v:+.1%}' for k, v in preset.trigger.items()))}.</p>"))

    # each perpetual shocked alone
    perps = [m.name for i, m in enumerate(venue.markets) if np.any(market == i)]
    shock_rows = []
    for name in perps:
        for s in SHOCKS:
            r = venue_cascade(state, shocks={name: s})
            row = r.market(name)
            shock_rows.append([name, f"{s * 100:+.0f}%", f"{row['final_move'] * 100:+.2f}%", f"{len(r.accounts):,}",
                               _money(float(r.markets["liquidated_notional"].sum())), _money(r.bad_debt),
                               "exhausted" if row["book_exhausted"] else "ok"])
    parts.append(_section("shocks", "Each perpetual shocked alone", _table(
        ["market", "shock", "its final move", "accounts liquidated", "liquidated (all markets)", "bad debt", "book"],
        shock_rows)))

    # critical shocks of each perpetual alone, and the amplification curve of the trigger's largest move
    contagion = CONTAGION_SHARE * float(notional.sum())
    critical = venue_critical_shocks(state, CRITICAL_LEVEL, markets=perps, contagion=contagion,
                                     max_shock=CRITICAL_MAX_SHOCK, grid_step=CRITICAL_GRID_STEP,
                                     tolerance=CRITICAL_TOLERANCE, refine_points=CRITICAL_REFINE)
    critical_rows = []
    for i in range(len(critical)):
        cause = str(critical["cause"][i])
        where = {"contagion": critical["contagion_market"][i], "exhaustion": critical["exhausted_markets"][i]}
        critical_rows.append([
            str(critical["market"][i]), str(critical["direction"][i]),
            "-" if np.isnan(critical["critical_shock"][i]) else f"{critical['critical_shock'][i] * 100:+.2f}%",
            cause + (f" ({where[cause]})" if cause in where else ""),
            "-" if np.isnan(critical["final_move"][i]) else f"{critical['final_move'][i] * 100:+.2f}%",
            f"{int(critical['accounts_liquidated'][i]):,}"])
    origin = max(preset.trigger, key=lambda k: abs(preset.trigger[k]))
    curve = venue_amplification_curve(state, origin, max_shock=0.2, points=41)
    explained = (f"The smallest move of one market alone (the others unmoved) whose cascade is amplified "
                 f"{CRITICAL_LEVEL:g}x in that market, runs some book out, or liquidates more than "
                 f"{_money(contagion)} (1 % of the venue's open interest) in another market; a grid of "
                 f"{CRITICAL_GRID_STEP:.2%} to {CRITICAL_MAX_SHOCK:.0%}, refined to {CRITICAL_TOLERANCE:g}. "
                 f"The curve: every market's final move against {origin} alone.")
    parts.append(_section("critical-shocks", "Critical shocks of each perpetual alone",
                          f"<p>{html.escape(explained)}</p>" + _table(
                              ["market", "direction", "critical shock", "cause", "its final move",
                               "accounts liquidated"], critical_rows)
                          + _png(plot.venue_amplification_curve(curve, critical))))

    # the trigger's cascade
    r = venue_cascade(state, shocks=preset.trigger)
    summary = (f"{r.rounds} rounds, {len(r.accounts):,} of {n_acc:,} accounts liquidated, bad debt "
               f"{_money(r.bad_debt)}, tokens' bad debt {_money(r.token_bad_debt)}")
    parts.append(_section("cascade", "The trigger's cascade", f"<p>{html.escape(summary)}</p>" + _table(
        ["market", "reference", "final", "move", "positions closed", "liquidated", "collateral sold", "agents",
         "exhausted"], _market_rows(r)) + _png(plot.venue_panels(r))))

    # the liquidation map
    maps = venue_liquidation_maps(state, width=0.25, buckets=60)
    shown = {k: v for k, v in maps.items() if v.long.sum() + v.short.sum() > 0}
    parts.append(_section("liquidation-map", "Liquidation map (each market alone moved)",
                          "<p>Isolated positions at their liquidation prices; each cross account's positions at "
                          "its trigger price in the market, every other market at its reference.</p>"
                          + (_png(plot.venue_liquidation_map(shown)) if shown else "<p>No positions.</p>")))

    # the study and the collateral comparison on common random numbers
    comparison = compare_venue_policies(state, preset.study_shocks, options.scenarios, options.seed,
                                        variants=variants_for(preset))
    base = cast(VenueScenarioTable, comparison.rows[comparison.baseline])
    parts.append(_section("study", f"Study: {options.scenarios} scenarios of correlated Student-t shocks",
                          _pre(str(base.summary()))))
    trigger_rows = []
    for name, v in comparison.venues.items():
        rv = venue_cascade(preset.state(v), shocks=preset.trigger)
        moves = ", ".join(f"{m} {x * 100:+.1f}%" for m, x in zip(rv.markets["market"], rv.markets["final_move"],
                                                                  strict=True) if m in perps)
        trigger_rows.append([name, f"{len(rv.accounts):,}", _money(rv.bad_debt), moves])
    parts.append(_section("policies", "Collateral pricing on common random numbers",
                          "<h3>The trigger</h3>" + _table(["collateral", "accounts liquidated", "bad debt", "moves"],
                                                          trigger_rows)
                          + "<h3>The study</h3>" + _pre(str(comparison))
                          + _png(plot.policy_comparison(comparison, "liquidated_notional"))))

    notes = [f"Built in {time.perf_counter() - started:.1f} s.",
             "Rules: docs/design.md ('Many markets', 'Agents', 'Fragility and policy'). Standard errors are Monte "
             "Carlo standard errors; differences are paired over the same scenarios."]
    notes += [f"{k}: {v}" for k, v in preset.sources.items()]
    parts.append(_section("notes", "Notes and sources", "<ul>" + "".join(f"<li>{html.escape(n)}</li>" for n in notes)
                          + "</ul>"))
    return ("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>liqcascade report: {html.escape(preset.name)}</title><style>{_STYLE}</style></head><body>"
            + "".join(parts) + "</body></html>")
