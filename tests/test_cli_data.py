"""``liqcascade run`` on the user's own files (--book, --positions-file) and on a Dask cluster
(--dask): the study runs and says where the real book ends; bad files exit 2 naming the option
or the field."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import numpy as np
import pytest

import liqcascade as lc
from liqcascade.cli import main

DEPTH = resources.files("liqcascade") / "data" / "binance_usdm_btcusdt_depth_20240808.json"
DERIBIT = Path(__file__).parent / "data" / "io" / "tardis_deribit_incremental_book_L2_BTC-PERPETUAL_2020-04-01_head.csv"


@pytest.fixture()
def files(tmp_path):
    book = lc.datasets.binance_btcusdt_depth()
    positions = lc.PositionPopulation(count=500).sample(book_model=lc.BookModel(mid=book.mid))
    lines = ["side,qty,entry_price,leverage"]
    lines += [f"{'long' if s > 0 else 'short'},{float(q)!r},{float(e)!r},{float(lev)!r}"
              for s, q, e, lev in zip(positions.side, positions.qty, positions.entry_price, positions.leverage,
                                      strict=True)]
    (tmp_path / "positions.csv").write_text("\n".join(lines) + "\n")
    (tmp_path / "depth.json").write_bytes(DEPTH.read_bytes())
    return tmp_path / "depth.json", tmp_path / "positions.csv"


def test_run_on_your_own_files(files, capsys, tmp_path):
    book, positions = files
    out = tmp_path / "table.csv"
    assert main(["run", "--book", str(book), "--positions-file", str(positions), "--scenarios", "50",
                 "--out", str(out), "--venue-tiers", "binance:BTCUSDT"]) == 0
    text = capsys.readouterr().out
    assert "study of your own book and positions" in text and "extended to ±20% by a calibrated tail" in text
    assert "final price in the modelled tail:" in text and "500 (" in text
    assert out.read_text().splitlines()[0].startswith("scenario,shock,")
    assert main(["run", "--book", str(book), "--positions-file", str(positions), "--scenarios", "20", "--json",
                 "--tail", "none"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["tail"] is None and report["positions"]["count"] == 500 and report["in_tail"] == 0
    assert report["book"]["format"] == "depth-json"


@pytest.mark.parametrize(("extra", "message"), [
    (["--book", "{book}"], "--book and --positions-file go together"),
    (["--book", "{missing}", "--positions-file", "{positions}"], "--book: .* is not a file"),
    (["--book", "{positions}", "--positions-file", "{positions}"], "not a book format"),
    (["--book", "{book}", "--positions-file", "{book}"], "depth.json: a JSON file, not a table of positions"),
    (["--book", "{book}", "--positions-file", "{positions}", "--at", "2024-08-08"],
     "--at: a depth-json book is one snapshot with no time to choose"),
    (["--book", "{book}", "--positions-file", "{empty}"], "--positions-file: .* holds no positions"),
    (["--book", "{book}", "--positions-file", "{positions}", "--contract-size", "10"],
     "--contract-size: only with --book-contract inverse"),
    (["--book", "{book}", "--positions-file", "{positions}", "--positions-contract", "inverse"],
     "--positions-contract: inverse positions need a book in contracts"),
    (["--book", "{book}", "--positions-file", "{positions}", "--book-contract", "inverse"],
     "--contract-size: needed with --book-contract inverse"),
    (["--book", "{deribit}", "--at", "1585699200355684", "--positions-file", "{positions}"],
     "--book: .* is deribit BTC-PERPETUAL, an inverse market whose amounts are contracts of 1 USD, not base units; "
     "say so with --book-contract inverse --contract-size 1"),
    (["--book", "{book}", "--positions-file", "{positions}", "--venue-tiers", "kraken"], "venue: expected"),
    (["--resume-dir", "x"], "--resume-dir: only with --dask"),
])
def test_bad_files_exit_2(files, capsys, tmp_path, extra, message):
    book, positions = files
    (tmp_path / "empty.csv").write_text("side,qty,entry_price,leverage\n")
    args = [a.format(book=book, positions=positions, missing=tmp_path / "nope.json", empty=tmp_path / "empty.csv",
                     deribit=DERIBIT) for a in extra]
    with pytest.raises(SystemExit) as exit_info:
        main(["run", "--scenarios", "5", *args])
    assert exit_info.value.code == 2
    assert pytest.importorskip("re").search(message, capsys.readouterr().err)


def test_run_on_a_dask_cluster(files, capsys, tmp_path):
    distributed = pytest.importorskip("distributed")
    book, positions = files
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=":0") as cluster:
        address = cluster.scheduler_address
        assert main(["run", "--dask", address, "--scenarios", "12", "--positions", "2000", "--chunk", "5",
                     "--json", "--resume-dir", str(tmp_path / "chunks")]) == 0
        report = json.loads(capsys.readouterr().out)
        assert report["workers"] == 2 and report["summary"]["n_scenarios"] == 12
        assert len(list((tmp_path / "chunks").glob("scenarios-*.parquet"))) == 3
        assert main(["run", "--dask", address, "--book", str(book), "--positions-file", str(positions),
                     "--scenarios", "30", "--chunk", "7", "--json"]) == 0
        on_cluster = json.loads(capsys.readouterr().out)
    assert main(["run", "--book", str(book), "--positions-file", str(positions), "--scenarios", "30", "--json"]) == 0
    local = json.loads(capsys.readouterr().out)
    assert on_cluster["summary"] == local["summary"] and on_cluster["in_tail"] == local["in_tail"]
    local_default = lc.monte_carlo(lc.PositionPopulation(count=2000), lc.scenarios.DEFAULT_STUDY_BOOK,
                                   lc.scenarios.DEFAULT_STUDY_SHOCKS, 12, progress=False)
    assert report["summary"] == local_default.summary().to_dict()
    assert np.isfinite(report["seconds"])


def test_run_on_an_inverse_book(tmp_path, capsys):
    """A book of an inverse market (Binance COIN-M, contracts of 100 USD): converted to BTC for
    linear positions, or kept in contracts for inverse ones, whose study is counted in coin."""
    contracts = lc.datasets.binance_coinm_btcusd_depth()
    depth = {"symbol": "BTC/USD:BTC", "bids": [[float(p), float(q)] for p, q in zip(contracts.bid_price,
                                                                                    contracts.bid_qty, strict=True)],
             "asks": [[float(p), float(q)] for p, q in zip(contracts.ask_price, contracts.ask_qty, strict=True)]}
    (tmp_path / "coinm.json").write_text(json.dumps(depth))
    mid = contracts.mid
    (tmp_path / "linear.csv").write_text("side,qty,entry_price,leverage\n"
                                         f"long,2.0,{mid * 0.999},50\nlong,1.5,{mid * 0.998},100\nshort,1,{mid},20\n")
    (tmp_path / "inverse.csv").write_text("side,qty,entry_price,leverage\n"
                                          f"long,2000,{mid * 0.999},50\nlong,1500,{mid * 0.998},100\n")
    base = ["run", "--book", str(tmp_path / "coinm.json"), "--scenarios", "30", "--json"]
    with pytest.raises(SystemExit):
        main([*base, "--positions-file", str(tmp_path / "linear.csv")])
    assert "CCXT BTC/USD:BTC, an inverse market" in capsys.readouterr().err
    assert main([*base, "--positions-file", str(tmp_path / "linear.csv"), "--book-contract", "inverse",
                 "--contract-size", "100"]) == 0
    linear = json.loads(capsys.readouterr().out)
    assert linear["book"]["quantities"].startswith("base units") and linear["notional_unit"] == "USD"
    assert main([*base, "--positions-file", str(tmp_path / "inverse.csv"), "--book-contract", "inverse",
                 "--contract-size", "100", "--positions-contract", "inverse"]) == 0
    inverse = json.loads(capsys.readouterr().out)
    assert inverse["notional_unit"] == "coin" and inverse["positions"]["contract"] == "inverse"
    assert inverse["positions"]["open_interest"] == pytest.approx(350_000.0)  # USD: 3,500 contracts of 100
    assert inverse["summary"]["notional_unit"] == "coin"
    assert main(["run", "--book", str(tmp_path / "coinm.json"), "--scenarios", "30", "--positions-file",
                 str(tmp_path / "inverse.csv"), "--book-contract", "inverse", "--contract-size", "100",
                 "--positions-contract", "inverse"]) == 0
    text = capsys.readouterr().out
    assert "in contracts of 100 USD" in text and "coin" in text and "liquidated notional: mean $" not in text
