"""Pictures, rendered headlessly (Agg) to PNG; checked for their axes, labels and data, not pixels."""

from __future__ import annotations

import io
import subprocess
import sys

import numpy as np
import pytest

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

import liqcascade as lc  # noqa: E402
from liqcascade import plot  # noqa: E402
from liqcascade.fragility import (  # noqa: E402
    amplification_curve,
    critical_shocks,
    liquidation_map,
    simulation_liquidation_map,
)
from liqcascade.policy import Study, compare_policies, crypto_status_quo, leverage_cap  # noqa: E402


@pytest.fixture(scope="module")
def market():
    book = lc.BookModel().build()
    positions = lc.PositionPopulation(count=5_000).sample(seed=1).prepare()
    return book, positions


def png(fig) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    data = buffer.getvalue()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return data


def test_liquidation_map(market):
    book, positions = market
    lmap = liquidation_map(positions, book.mid, buckets=30)
    fig = plot.liquidation_map(lmap)
    ax = fig.axes[0]
    assert ax.get_xlabel() == "liquidation price" and "$M" in ax.get_ylabel()
    heights = [p.get_height() for p in ax.patches]
    np.testing.assert_allclose(heights[:30], lmap.long / 1e6)
    assert len(fig.axes) == 2  # the cumulative axis
    png(fig)
    _, ax = plt.subplots()
    assert plot.liquidation_map(lmap, ax=ax, cumulative=False) is ax.figure
    plt.close(ax.figure)


def test_amplification_curve_marks_critical_shocks(market):
    book, positions = market
    curve = amplification_curve(book, positions, max_shock=0.1, points=41)
    critical = critical_shocks(book, positions, 2.0)
    fig = plot.amplification_curve(curve, critical)
    ax = fig.axes[0]
    assert ax.get_xlabel() == "shock (%)" and ax.get_ylabel() == "final move (%)"
    down = ax.lines[0]
    np.testing.assert_allclose(down.get_ydata(), curve.final_move[curve.direction == -1] * 100)
    marked = [line.get_xdata()[0] for line in ax.lines if line.get_linestyle() == "--"]
    assert sorted(marked) == pytest.approx(sorted(c.shock * 100 for c in critical.values() if c.shock is not None))
    png(fig)


def test_study_distribution():
    table = lc.monte_carlo(lc.PositionPopulation(count=2_000), lc.BookModel(), lc.ShockModel.normal(0.03), 30,
                           progress=False)
    fig = plot.study_distribution(table, bins=10)
    top, bottom = fig.axes
    assert top.get_xlabel() == "final move (%)" and bottom.get_xlabel() == "liquidated notional ($M)"
    assert sum(p.get_height() for p in top.patches) == len(table)
    png(fig)


def test_timeline_and_simulation_map(market):
    book, positions = market
    sim = lc.simulate(book, positions, lc.LiquidationPolicy.binance(max_orders_per_step=100), 300, 1.0,
                      flow=-40.0 * (np.arange(300) < 30), resilience=1 / 60, insurance_fund=0.0,
                      breakers=[lc.CircuitBreaker(0.03, 30, 20)])
    assert sim.timeline.halted.any()
    fig = plot.timeline(sim)
    price_ax, liq_ax, fund_ax = fig.axes
    np.testing.assert_allclose(price_ax.lines[0].get_ydata(), sim.timeline.price)
    labels = price_ax.get_legend_handles_labels()[1]
    assert "halted" in labels and "mark" in labels
    assert ("ADL" in labels) == bool((sim.timeline.adl_qty > 0).any())
    assert "insurance fund" in fund_ax.get_ylabel() and "liquidated" in liq_ax.get_ylabel()
    png(fig)
    smap = simulation_liquidation_map(sim, positions, time_buckets=10, price_buckets=10)
    fig = plot.simulation_liquidation_map(smap)
    assert fig.axes[0].get_ylabel() == "fill price"
    png(fig)


def test_policy_comparison_error_bars():
    study = Study(lc.PositionPopulation(count=1_000), lc.BookModel(), lc.ShockModel.normal(0.03), 20)
    comparison = compare_policies(study, {"now": crypto_status_quo(), "20x": leverage_cap(20)})
    fig = plot.policy_comparison(comparison, "liquidated_notional")
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["now", "20x"]
    widths = [p.get_width() for p in ax.patches]
    assert widths[1] == pytest.approx(comparison.get("20x", "liquidated_notional")["diff"] / 1e6)
    assert "difference from now" in ax.get_xlabel()
    png(fig)
    with pytest.raises(ValueError, match="metric"):
        plot.policy_comparison(comparison, "nope")


def test_missing_matplotlib_names_the_extra():
    code = ("import sys; sys.modules['matplotlib'] = None\n"
            "import liqcascade.plot as p\n"
            "try:\n    p._pyplot()\nexcept ImportError as e:\n    print(e)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert 'pip install "liqcascade[plot]"' in out


def test_venue_amplification_curve_marks_the_moved_market_s_critical_shocks():
    from liqcascade.fragility import venue_amplification_curve, venue_critical_shocks
    from test_venue_fragility import _two_markets

    state = _two_markets()
    curve = venue_amplification_curve(state, "A", max_shock=0.3, points=30)
    critical = venue_critical_shocks(state, 2.0, markets=["A", "B"], exhaustion=False, contagion=500.0,
                                     max_shock=0.3)
    fig = plot.venue_amplification_curve(curve, critical)
    ax = fig.axes[0]
    assert ax.get_xlabel() == "shock of A alone (%)" and ax.get_ylabel() == "final move (%)"
    assert [t.get_text() for t in ax.get_legend().get_texts()][:2] == ["A", "B"]
    down = curve["direction"] == -1
    np.testing.assert_allclose(ax.lines[0].get_ydata(), curve["A.final_move"][down] * 100)
    np.testing.assert_allclose(ax.lines[2].get_ydata(), curve["B.final_move"][down] * 100)
    marked = [line.get_xdata()[0] for line in ax.lines if line.get_linestyle() == "-."]
    # A's one critical shock (the fall that liquidates > 500 in B); B's are not A's curve's
    assert marked == pytest.approx([critical["critical_shock"][0] * 100])
    png(fig)
    _, ax = plt.subplots()
    assert plot.venue_amplification_curve(curve, ax=ax) is ax.figure
    plt.close(ax.figure)
    with pytest.raises(TypeError, match="curve"):
        plot.venue_amplification_curve(amplification_curve(*_band()), None)


def _band():
    from test_fragility import band_market

    return band_market(0.5)
