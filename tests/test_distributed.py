"""liqcascade.distributed on a real LocalCluster (two worker processes): the gathered table
is the one-process table bit for bit; chunks written to ``out`` are reused by a rerun and
another study's directory is refused; a worker killed during a chunk changes nothing."""

from __future__ import annotations

import os
import sys

import numpy as np
import pytest

import liqcascade as lc

distributed = pytest.importorskip("distributed")
pytest.importorskip("pyarrow")

from liqcascade import distributed as ld  # noqa: E402

POPULATION = lc.PositionPopulation(count=5_000)
BOOK = lc.BookModel(mid=100_000.0, thinning=0.3, level_noise=0.25)
SHOCKS = lc.ShockModel.student_t(df=3.0, scale=0.02)


def _same(a: lc.ScenarioTable, b: lc.ScenarioTable) -> None:
    assert a.columns == b.columns and len(a) == len(b)
    for name in a.columns:
        assert a[name].dtype == b[name].dtype, name
        # bit for bit: compare the bytes (NaN == NaN, -0.0 != 0.0)
        assert a[name].tobytes() == b[name].tobytes(), name


def _cluster():
    return distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0")


@pytest.fixture(scope="module")
def client():
    with _cluster() as cluster, distributed.Client(cluster) as c:
        yield c


def test_chunk_ranges_are_cut_at_multiples():
    assert ld.chunk_ranges(0, 10, 4) == [(0, 4), (4, 8), (8, 10)]
    assert ld.chunk_ranges(6, 5, 4) == [(6, 8), (8, 11)]
    assert ld.chunk_ranges(3, 0, 4) == []


def test_identical_to_the_local_run(client):
    local = lc.monte_carlo(POPULATION, BOOK, SHOCKS, 37, seed=11, progress=False)
    for chunk in (1, 8, 100):
        _same(ld.monte_carlo(client, POPULATION, BOOK, SHOCKS, 37, seed=11, chunk=chunk, progress=False), local)
    part = lc.monte_carlo(POPULATION, BOOK, SHOCKS, 9, seed=11, first_scenario=20, progress=False)
    _same(ld.monte_carlo(client, POPULATION, BOOK, SHOCKS, 9, seed=11, first_scenario=20, chunk=4,
                         progress=False), part)
    assert len(ld.monte_carlo(client, POPULATION, BOOK, SHOCKS, 0, progress=False)) == 0


def test_cascade_many_on_the_cluster(client):
    book = BOOK.build()
    positions = POPULATION.sample(book_model=BOOK)
    shocks = np.linspace(-0.1, 0.1, 23)
    _same(ld.cascade_many(client, book, positions, shocks, chunk=5), lc.cascade_many(book, positions, shocks))
    # the walk, as the local call's detail=True, and another reference price
    _same(ld.cascade_many(client, book, positions, shocks, chunk=7, detail=True),
          lc.cascade_many(book, positions, shocks, detail=True))
    with pytest.warns(lc.LiqcascadeWarning, match="already past their liquidation price"):  # (the local call's)
        local = lc.cascade_many(book, positions, shocks, ref_price=book.mid * 1.001)
    _same(ld.cascade_many(client, book, positions, shocks, chunk=7, ref_price=book.mid * 1.001), local)
    with pytest.raises(TypeError, match="detail: expected a bool"):
        ld.cascade_many(client, book, positions, shocks, detail="yes")  # type: ignore[arg-type]


def test_cascade_many_on_the_cluster_keeps_the_unit(client):
    book = lc.datasets.binance_coinm_btcusd_depth()
    longs = lc.Positions.from_leverage(1, np.full(50, 100.0), book.mid * (1 - np.linspace(0, 0.004, 50)), 50.0,
                                       contract="inverse", contract_size=100.0)
    shocks = np.linspace(-0.006, -0.001, 9)
    table = ld.cascade_many(client, book, longs, shocks, chunk=4)
    assert table.notional_unit == "coin"
    _same(table, lc.cascade_many(book, longs, shocks))


def test_widening_a_resumed_study_leaves_one_file_per_chunk(client, tmp_path):
    pd = pytest.importorskip("pandas")
    out = tmp_path / "study"
    local = lc.monte_carlo(POPULATION, BOOK, SHOCKS, 75, seed=3, progress=False)
    ran: list[tuple[int, int]] = []

    def run(n: int) -> lc.ScenarioTable:
        return ld.monte_carlo(client, POPULATION, BOOK, SHOCKS, n, seed=3, chunk=7, out=out, progress=False,
                              on_chunk=lambda a, b: ran.append((a, b)))

    def names() -> list[str]:
        return sorted(p.name[len("scenarios-"):-len(".parquet")] for p in out.glob("scenarios-*.parquet"))

    run(40)
    assert names()[-1] == "000000000000035-000000000000040"
    for n in (60, 75):  # widen twice: each partial last chunk is replaced, not joined by another
        ran.clear()
        _same(run(n), lc.monte_carlo(POPULATION, BOOK, SHOCKS, n, seed=3, progress=False))
        on_disk = pd.read_parquet(out).sort_values("scenario", kind="stable")
        assert not on_disk["scenario"].duplicated().any()
        assert on_disk["scenario"].tolist() == list(range(n))
        assert len(names()) == -(-n // 7)
        # the partial last chunk, recomputed over the wider range
        assert (35, 42) in ran if n == 60 else (56, 63) in ran
    on_disk = pd.read_parquet(out).sort_values("scenario", kind="stable").reset_index(drop=True)
    for name in local.columns:
        assert on_disk[name].to_numpy().tobytes() == local[name].tobytes(), name
    # a narrower rerun reads its rows out of the wider files: nothing runs
    ran.clear()
    _same(run(38), lc.monte_carlo(POPULATION, BOOK, SHOCKS, 38, seed=3, progress=False))
    assert ran == [] and len(names()) == 11
    # a run killed between writing the wider chunk and removing the one it replaced: the next
    # run removes the covered file
    narrow = tmp_path / "narrow"
    ld.monte_carlo(client, POPULATION, BOOK, SHOCKS, 40, seed=3, chunk=7, out=narrow, progress=False)
    stale = "scenarios-000000000000035-000000000000040.parquet"
    (out / stale).write_bytes((narrow / stale).read_bytes())
    _same(run(75), local)
    assert not (out / stale).exists() and len(names()) == 11
    assert not pd.read_parquet(out)["scenario"].duplicated().any()


def test_resume_runs_only_the_missing_chunks(client, tmp_path):
    out = tmp_path / "study"
    local = lc.monte_carlo(POPULATION, BOOK, SHOCKS, 40, seed=5, progress=False)
    ran: list[tuple[int, int]] = []
    # an interrupted run: only the first half was done
    ld.monte_carlo(client, POPULATION, BOOK, SHOCKS, 20, seed=5, chunk=10, out=out, progress=False,
                   on_chunk=lambda a, b: ran.append((a, b)))
    assert sorted(ran) == [(0, 10), (10, 20)]
    ran.clear()
    table = ld.monte_carlo(client, POPULATION, BOOK, SHOCKS, 40, seed=5, chunk=10, out=out, progress=False,
                           on_chunk=lambda a, b: ran.append((a, b)))
    assert sorted(ran) == [(20, 30), (30, 40)]
    _same(table, local)
    # a chunk lost (or a file left half-written under another name): only it runs again
    (out / "scenarios-000000000000010-000000000000020.parquet").unlink()
    (out / ".scenarios-000000000000020-000000000000030.parquet.123.tmp").write_bytes(b"partial")
    ran.clear()
    _same(ld.monte_carlo(client, POPULATION, BOOK, SHOCKS, 40, seed=5, chunk=10, out=out, progress=False,
                         on_chunk=lambda a, b: ran.append((a, b))), local)
    assert ran == [(10, 20)]
    # the dataset on disk is the table
    import pyarrow.dataset as ds

    on_disk = ds.dataset(out, format="parquet").to_table().sort_by("scenario")
    np.testing.assert_array_equal(on_disk.column("final_price").to_numpy(), local.final_price)


def test_another_study_in_the_same_directory_is_refused(client, tmp_path):
    out = tmp_path / "study"
    ld.monte_carlo(client, POPULATION, BOOK, SHOCKS, 4, seed=1, chunk=2, out=out, progress=False)
    with pytest.raises(ValueError, match="another study .*seed"):
        ld.monte_carlo(client, POPULATION, BOOK, SHOCKS, 4, seed=2, chunk=2, out=out, progress=False)
    with pytest.raises(ValueError, match="another study .*chunk"):
        ld.monte_carlo(client, POPULATION, BOOK, SHOCKS, 4, seed=1, chunk=3, out=out, progress=False)
    with pytest.raises(ValueError, match="another study .*population"):
        ld.monte_carlo(client, lc.PositionPopulation(count=5_001), BOOK, SHOCKS, 4, seed=1, chunk=2, out=out,
                       progress=False)
    stray = tmp_path / "stray"
    stray.mkdir()
    (stray / "scenarios-000000000000000-000000000000002.parquet").write_bytes(b"")
    with pytest.raises(ValueError, match="no _liqcascade-study.json"):
        ld.monte_carlo(client, POPULATION, BOOK, SHOCKS, 4, seed=1, chunk=2, out=stray, progress=False)


def test_bad_arguments(client):
    with pytest.raises(TypeError, match="client"):
        ld.monte_carlo(object(), POPULATION, BOOK, SHOCKS, 4)
    with pytest.raises(TypeError, match="population"):
        ld.monte_carlo(client, BOOK, BOOK, SHOCKS, 4)
    with pytest.raises(ValueError, match="chunk"):
        ld.monte_carlo(client, POPULATION, BOOK, SHOCKS, 4, chunk=0)
    with pytest.raises(ValueError, match="n_scenarios"):
        ld.monte_carlo(client, POPULATION, BOOK, SHOCKS, -1)


def test_progress_counts_scenarios(client):
    seen: list[tuple[int, int]] = []
    ld.monte_carlo(client, POPULATION, BOOK, SHOCKS, 10, chunk=3, progress=lambda d, t: seen.append((d, t)))
    assert seen[-1] == (10, 10) and len(seen) == 4


def _kill_once(marker: str) -> None:
    """On a worker: wrap the chunk function so that the first chunk anywhere kills its worker
    process mid-task (the marker file, created atomically, says it happened)."""
    from liqcascade import distributed as worker_ld

    original = worker_ld._compute_chunk

    def dying(*args):
        try:
            fd = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            return original(*args)
        os.close(fd)
        os._exit(1)

    worker_ld._compute_chunk = dying


def test_a_worker_killed_during_a_chunk_changes_nothing(tmp_path):
    import cloudpickle

    cloudpickle.register_pickle_by_value(sys.modules[__name__])
    marker = str(tmp_path / "killed")
    local = lc.monte_carlo(POPULATION, BOOK, SHOCKS, 24, seed=3, progress=False)
    with _cluster() as cluster, distributed.Client(cluster) as client:
        client.run(_kill_once, marker)
        table = ld.monte_carlo(client, POPULATION, BOOK, SHOCKS, 24, seed=3, chunk=4, out=tmp_path / "out",
                               progress=False)
    assert os.path.exists(marker)  # a worker did die
    _same(table, local)
