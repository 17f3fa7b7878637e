"""The command line's edges (issue 16): usage errors in one line, the output file checked
before the run, typed CSV, a closed pipe, progress without tqdm."""

from __future__ import annotations

import csv
import io
import subprocess
import sys

import pytest

from liqcascade import cli

SIM = ["simulate", "--positions", "2000", "--steps", "60", "--sell-seconds", "20"]
RUN = ["run", "--scenarios", "4", "--positions", "2000", "--threads", "1", "--no-progress"]


def usage_error(argv, capsys) -> str:
    with pytest.raises(SystemExit) as info:
        cli.main(argv)
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "error: " in err and "Traceback" not in err, err
    return err


@pytest.mark.parametrize("argv", [
    ["run", "--positions", "0"], ["shocks", "--positions", "-3"], ["simulate", "--positions", "0"],
    ["simulate", "--fund", "-1"], ["simulate", "--fund", "nan"], ["simulate", "--fund", "inf"],
    ["simulate", "--throughput", "-5"], ["simulate", "--sell-rate", "-3"], ["simulate", "--sell-rate=-3"],
    ["simulate", "--steps", "0"], ["simulate", "--sell-seconds", "0"], ["run", "--scenarios", "0"],
    ["run", "--threads", "0"], ["run", "--threads", "100000"], ["run", "--seed", "-1"],
    ["shocks", "--shocks", "abc"], ["shocks", "--shocks=-150%"], ["shocks", "--shocks=nan"], ["shocks", "--shocks="],
    ["shocks", "--shocks=1,,2"], ["run", "--bogus"], [],
])
def test_out_of_range_options_are_one_line_usage_errors(argv, capsys):
    usage_error(argv, capsys)


def test_venue_and_inverse_market_are_one_or_the_other(capsys):
    err = usage_error(["shocks", "--venue", "all", "--market", "inverse", "--positions", "100"], capsys)
    assert "--market inverse: not with --venue" in err


def test_negative_sell_rate_is_an_error_not_made_positive(capsys):
    assert "--sell-rate: must be finite and >= 0, got -3" in usage_error(["simulate", "--sell-rate=-3"], capsys)


def test_sell_seconds_beyond_steps(capsys):
    err = usage_error(["simulate", "--steps", "50", "--sell-seconds", "60"], capsys)
    assert "--sell-seconds: 60 is beyond --steps 50" in err


@pytest.mark.parametrize("name", ["rows.txt", "rows", "rows.parquet.bak", "rows.json"])
def test_unknown_output_extension_is_refused_before_the_run(name, tmp_path, capsys):
    err = usage_error([*RUN, "--out", str(tmp_path / name)], capsys)
    assert "must end in .parquet or .csv" in err
    assert not (tmp_path / name).exists()


def test_output_directory_is_checked_before_the_run(tmp_path, capsys, monkeypatch):
    ran = []
    monkeypatch.setattr(cli, "run_simulation", lambda args: ran.append(args) or "")
    assert "does not exist" in usage_error([*SIM, "--out", str(tmp_path / "missing" / "t.csv")], capsys)
    (tmp_path / "d.csv").mkdir()
    assert "is a directory" in usage_error([*SIM, "--out", str(tmp_path / "d.csv")], capsys)
    assert ran == []


def test_csv_keeps_integers_and_booleans(tmp_path, capsys):
    out = tmp_path / "rows.csv"
    assert cli.main([*RUN, "--out", str(out)]) == 0
    rows = list(csv.DictReader(out.read_text().splitlines()))
    assert [r["scenario"] for r in rows] == ["0", "1", "2", "3"]
    assert all(r["book_exhausted"] in ("True", "False") for r in rows)
    assert all("." not in r["n_liquidated"] and "." not in r["rounds"] for r in rows)
    assert all(float(r["final_price"]) > 0 for r in rows)
    out = tmp_path / "timeline.csv"
    assert cli.main([*SIM, "--out", str(out)]) == 0
    rows = list(csv.DictReader(out.read_text().splitlines()))
    assert len(rows) == 60 and {r["halted"] for r in rows} <= {"True", "False"}
    assert all(r["queued"].lstrip("-").isdigit() for r in rows)
    pd = pytest.importorskip("pandas")
    frame = pd.read_csv(tmp_path / "rows.csv")
    assert frame["scenario"].dtype.kind == "i" and frame["book_exhausted"].dtype == bool


def test_a_closed_pipe_is_not_a_traceback():
    # `liqcascade shocks | head -2`: the reader is gone before the output is written
    process = subprocess.Popen([sys.executable, "-m", "liqcascade", "shocks", "--positions", "1000"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    process.stdout.close()
    err = process.stderr.read().decode()
    process.stderr.close()
    assert process.wait(timeout=60) in (0, 141)
    assert "Traceback" not in err and "BrokenPipe" not in err, err


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_run_shows_plain_progress_without_tqdm(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "tqdm", None)  # `import tqdm` raises ImportError
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    assert cli.main([a for a in RUN if a != "--no-progress"]) == 0
    assert terminal.getvalue().startswith("\rscenarios: ") and "scenarios: 4/4 (" in terminal.getvalue()
    assert terminal.getvalue().endswith(" s)\n")
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    assert cli.main(RUN) == 0
    assert terminal.getvalue() == ""  # --no-progress


def test_library_warnings_are_one_line(capsys):
    assert cli.main(["shocks", "--positions", "1000", "--shocks=5"]) == 0
    captured = capsys.readouterr()
    assert captured.err == ("liqcascade: warning: shock: 5 is a relative move of +500%; shocks are fractions "
                            "(0.05 = +5 %), and moves beyond +-100% are warned about\n")
    assert "+500.0%" in captured.out


def test_run_scenario_oct_10_2025_studies_the_preset(capsys):
    import json

    assert cli.main(["run", "--scenario", "oct-10-2025", "--scenarios", "8", "--positions", "20000",
                     "--no-progress", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["scenario"] == "oct-10-2025" and out["scenarios"] == 8
    low, high = out["targets"]["final_move"]
    assert low - 0.03 <= out["reproduced"]["final_move"] <= high + 0.03  # the night's trigger, roughly reproduced
    assert out["summary"]["n_scenarios"] == 8
