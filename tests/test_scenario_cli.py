"""The embedded default scenario and the `liqcascade run` main job."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

import liqcascade as lc
from liqcascade import cli
from liqcascade.scenarios import calibrated_book, default_positions


@pytest.fixture(scope="module")
def book() -> lc.OrderBook:
    return calibrated_book()


def test_book_is_calibrated_to_real_depth(book):
    depth = book.depth([0.01, 0.05, 0.10])
    np.testing.assert_allclose(depth.bid_notional, [20e6, 60e6, 75e6], rtol=0.01)
    np.testing.assert_allclose(depth.ask_notional, [20e6, 60e6, 75e6], rtol=0.01)
    assert book.mid == 100_000.0


def test_population_matches_its_description():
    positions = default_positions(n=200_000, seed=3)
    assert len(positions) == 200_000
    assert positions.notional.sum() == pytest.approx(44e6, rel=0.05)  # expected open interest
    assert 0.53 < np.mean(positions.side > 0) < 0.57
    lev = np.round(positions.leverage, 6)
    assert np.mean((lev >= 10) & (lev <= 25)) > 0.6 and lev.max() == 125
    # no position is already past its liquidation price at the mid
    liq = positions.liquidation_price
    assert np.all(np.where(positions.side > 0, liq < 100_000, liq > 100_000))
    # heavy tail: the largest position dwarfs the median
    assert positions.notional.max() > 1_000 * np.median(positions.notional)


@pytest.mark.parametrize("seed", [0, 1])
def test_regime_change_small_shocks_absorbed_five_percent_cascades(book, seed):
    positions = default_positions(n=300_000, seed=seed)
    for shock in (-0.03, -0.01, 0.01, 0.03):
        assert 1.0 <= lc.cascade(book, positions, shock).amplification < 1.3
    crash = lc.cascade(book, positions, -0.05)
    assert -0.17 <= crash.final_move <= -0.12
    assert crash.rounds > 3 and not crash.book_exhausted


def test_same_seed_same_population_different_seed_different():
    a, b, c = (default_positions(n=1000, seed=s) for s in (5, 5, 6))
    np.testing.assert_array_equal(a.entry_price, b.entry_price)
    assert not np.array_equal(a.entry_price, c.entry_price)


def test_cli_shocks_table_and_json(capsys):
    assert cli.main(["shocks", "--positions", "20000", "--shocks=-5%,0.01"]) == 0
    out = capsys.readouterr().out
    assert "default scenario" in out and "-5.0%" in out and "+1.0%" in out
    assert cli.main(["shocks", "--positions", "100000", "--shocks=-0.05", "--json", "--seed", "2"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["scenario"]["positions"] == 100000 and data["scenario"]["seed"] == 2
    (row,) = data["results"]
    assert row["shock_move"] == pytest.approx(-0.05) and -0.17 < row["final_move"] < -0.12


def test_cli_run_monte_carlo_summary_json_and_table(capsys, tmp_path):
    out = tmp_path / "rows.parquet"
    argv = ["run", "--scenarios", "8", "--positions", "20000", "--threads", "2", "--seed", "3", "--no-progress"]
    assert cli.main([*argv, "--json", "--out", str(out)]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["scenarios"] == 8 and data["summary"]["n_scenarios"] == 8
    pd = pytest.importorskip("pandas")
    rows = pd.read_parquet(out)
    assert list(rows["scenario"]) == list(range(8))
    # the same study through the API gives the same rows
    table = lc.monte_carlo(lc.PositionPopulation(count=20000), cli.DEFAULT_STUDY_BOOK, cli.DEFAULT_STUDY_SHOCKS,
                           8, seed=3, progress=False)
    np.testing.assert_array_equal(rows["final_price"].to_numpy(), table.final_price)
    assert cli.main([*argv, "--out", str(tmp_path / "rows.csv")]) == 0
    text = capsys.readouterr().out
    assert "final move quantiles" in text and "expected open interest" in text
    assert (tmp_path / "rows.csv").read_text().startswith("scenario,shock,")


@pytest.mark.parametrize("argv", [["shocks", "--shocks", "abc"], ["shocks", "--shocks=-150%"],
                                  ["shocks", "--positions", "0"], ["run", "--positions", "x"],
                                  ["run", "--scenarios", "0"], ["run", "--seed", "-1"], []])
def test_cli_rejects_bad_arguments(argv, capsys):
    with pytest.raises(SystemExit) as info:
        cli.main(argv)
    assert info.value.code == 2
    assert "error" in capsys.readouterr().err


def test_console_script_is_installed():
    done = subprocess.run([sys.executable, "-m", "liqcascade.cli", "shocks", "--positions", "1000", "--json"],
                          capture_output=True, text=True, check=True)
    assert len(json.loads(done.stdout)["results"]) == 12


def test_cli_simulate_key_moments(capsys, tmp_path):
    argv = ["simulate", "--positions", "50000", "--steps", "300", "--sell-rate", "20", "--sell-seconds", "40"]
    assert cli.main([*argv, "--json", "--out", str(tmp_path / "timeline.csv")]) == 0
    moments = json.loads(capsys.readouterr().out)
    assert moments["first_liquidation"]["t"] == 0
    assert moments["low"]["price"] < 99_000
    assert moments["final"]["liquidated_positions"] > 0
    assert (tmp_path / "timeline.csv").read_text().startswith("time,price,mark_price")
    assert cli.main([*argv, "--policy", "hyperliquid"]) == 0
    text = capsys.readouterr().out
    assert "hyperliquid engine" in text and "peak minute" in text and "halts" in text


def test_venue_command_runs_the_october_10_venue_preset(capsys):
    """`liqcascade venue --scenario oct-10-2025`: the preset's trigger (BTC -5 %, ETH -8 %), its
    per-market table as the cascade of the preset, and the same shock with the collateral on its
    own books, a fixed index and an index that follows ETH."""
    assert cli.main(["venue", "--scenario", "oct-10-2025", "--accounts", "3000", "--isolated", "3000"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("BTCUSDT -5.0%, ETHUSDT -8.0%:")
    preset = lc.scenarios.october_10_2025_venue(3000, 3000)
    direct = preset.cascade()
    assert f"{len(direct.accounts):,} of 3,000 accounts liquidated" in out
    lines = {line.split("  ")[0]: line for line in out.splitlines()}
    for label, venue in (("own books (the night)", preset.venue), ("fixed index", preset.index_priced(False)),
                         ("index follows ETH", preset.index_priced())):
        assert f"{len(preset.cascade(venue).accounts):,}" in lines[label]
    as_json = cli.main(["venue", "--scenario", "oct-10-2025", "--accounts", "3000", "--isolated", "3000", "--json"])
    assert as_json == 0
    data = json.loads(capsys.readouterr().out)
    assert data["accounts_liquidated"] == len(direct.accounts) and data["token_bad_debt"] == 0.0
    # a market the venue does not have is a usage error naming it
    with pytest.raises(SystemExit):
        cli.main(["venue", "--scenario", "oct-10-2025", "--accounts", "100", "--isolated", "100", "--market", "SOL"])
    assert "--market: no market named 'SOL'" in capsys.readouterr().err
