"""Studies on a Dask cluster (``dask.distributed``): the scenario range split into chunks, one
task each; the gathered table identical, row for row and bit for bit, to a one-process run.

Scenario ``i`` is a pure function of ``(seed, i)`` (counter-based draws), so a chunk computes
the same rows on any worker, in any order, any number of times: a lost worker's chunk is
simply rerun elsewhere (Dask does that), and chunks already written to ``out`` are not run
again. ``dask[distributed]`` and (for ``out``) pyarrow are optional: ``pip install
'liqcascade[dask]'``. The rules are in ``docs/design.md`` ("Scale-out on Dask").
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import fields, is_dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ._optional import optional_import
from ._running import ProgressArg, _progress_callback
from ._validation import int_scalar, real_scalar
from .book import OrderBook
from .models import BookModel, PositionPopulation, ShockModel, _index, _seed, _shock_model
from .positions import MaintenanceTiers, Positions
from .results import COLUMNS, ScenarioTable

__all__ = ["cascade_many", "chunk_ranges", "monte_carlo", "study_key"]

#: The manifest of a study's output directory.
MANIFEST = "_liqcascade-study.json"  # "_": Parquet readers skip it


def chunk_ranges(first: int, count: int, chunk: int) -> list[tuple[int, int]]:
    """``[start, stop)`` scenario ranges covering ``first .. first + count - 1``, cut at the
    multiples of ``chunk`` (so the same chunk holds the same scenarios whatever range a run
    asks for, and a rerun over a wider range reuses them)."""
    ranges = []
    start = first
    stop_all = first + count
    while start < stop_all:
        stop = min((start // chunk + 1) * chunk, stop_all)
        ranges.append((start, stop))
        start = stop
    return ranges


def _plain(value: Any) -> Any:
    """A model's public fields as JSON-able values (for the study key)."""
    if isinstance(value, MaintenanceTiers):
        return {"notional_floor": value.notional_floor.tolist(), "mmr": value.mmr.tolist(),
                "maint_amount": value.maint_amount.tolist(),
                "max_leverage": None if value.max_leverage is None else value.max_leverage.tolist()}
    if is_dataclass(value) and not isinstance(value, type):
        return {"type": type(value).__name__,
                **{f.name: _plain(getattr(value, f.name)) for f in fields(value) if f.init}}
    if isinstance(value, np.ndarray):
        return [float(x).hex() for x in value.ravel()]
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, float):
        return value.hex()  # exact
    if isinstance(value, (np.floating,)):
        return float(value).hex()
    if isinstance(value, (np.integer,)):
        return int(value)
    return value


def study_key(population: PositionPopulation, book_model: BookModel, shocks: ShockModel, seed: int,
              chunk: int) -> dict[str, Any]:
    """What decides a study's rows, as plain data: the models' fields (floats exactly, as hex),
    the seed, the chunk size and the liqcascade version. Two runs with equal keys compute equal
    rows for every scenario."""
    from . import __version__

    return {"liqcascade": __version__, "population": _plain(population), "book_model": _plain(book_model),
            "shocks": _plain(shocks), "seed": int(seed), "chunk": int(chunk)}


def _fingerprint(key: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]


def _chunk_name(start: int, stop: int) -> str:
    return f"scenarios-{start:015d}-{stop:015d}.parquet"


_CHUNK_FILE = re.compile(r"scenarios-(\d{15})-(\d{15})\.parquet")


def _chunk_files(directory: Path, size: int) -> dict[int, list[tuple[int, int, Path]]]:
    """The chunk files in ``directory`` by grid chunk (``start // size``): ``(start, stop,
    path)``, widest first."""
    found: dict[int, list[tuple[int, int, Path]]] = {}
    for path in directory.glob("scenarios-*.parquet"):
        match = _CHUNK_FILE.fullmatch(path.name)
        if match:
            start, stop = int(match.group(1)), int(match.group(2))
            if stop > start:
                found.setdefault(start // size, []).append((start, stop, path))
    for files in found.values():
        files.sort(key=lambda f: (f[0] - f[1], f[0]))
    return found


def _slice(columns: dict[str, np.ndarray], begin: int, end: int) -> dict[str, np.ndarray]:
    return {name: column[begin:end] for name, column in columns.items()}


def _compute_chunk(population: PositionPopulation, book_model: BookModel, shocks: ShockModel, seed: int,
                   start: int, stop: int, threads: int) -> dict[str, np.ndarray]:
    from .montecarlo import monte_carlo as local_monte_carlo

    table = local_monte_carlo(population, book_model, shocks, stop - start, seed, first_scenario=start,
                              threads=threads, progress=False)
    return table.to_dict()


def _run_chunk(population: PositionPopulation, book_model: BookModel, shocks: ShockModel, seed: int,
               start: int, stop: int, threads: int) -> dict[str, np.ndarray]:
    """The task: one chunk's rows, as columns. (Looks ``_compute_chunk`` up at call time, so a
    test can wrap it on the workers.)"""
    return _compute_chunk(population, book_model, shocks, seed, start, stop, threads)


def _prepare_out(out: str | os.PathLike[str], key: dict[str, Any]) -> Path:
    """The output directory with its manifest; a directory holding another study is an error."""
    optional_import("pyarrow.parquet", "monte_carlo(out=...)")
    directory = Path(out)
    directory.mkdir(parents=True, exist_ok=True)
    manifest = directory / MANIFEST
    if manifest.exists():
        existing = json.loads(manifest.read_text(encoding="utf-8"))
        if existing.get("key") != key:
            differ = sorted(k for k in set(key) | set(existing.get("key", {}))
                            if existing.get("key", {}).get(k) != key.get(k))
            raise ValueError(f"out: {os.fspath(directory)!r} holds the chunks of another study (it differs in "
                             f"{', '.join(differ)}); use a new directory, or remove that one to start over")
    else:
        others = sorted(directory.glob("scenarios-*.parquet"))
        if others:
            raise ValueError(f"out: {os.fspath(directory)!r} holds chunk files but no {MANIFEST}; "
                             "use a new directory")
        tmp = directory / f".{MANIFEST}.tmp"
        tmp.write_text(json.dumps({"key": key, "fingerprint": _fingerprint(key)}, indent=1, sort_keys=True),
                       encoding="utf-8")
        os.replace(tmp, manifest)
    return directory


def _read_chunk(path: Path, fingerprint: str) -> dict[str, np.ndarray] | None:
    """A chunk written by a run of the same study, or None (absent, unreadable or another
    study's: it is then recomputed)."""
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except (OSError, ValueError):
        return None
    meta = table.schema.metadata or {}
    if meta.get(b"liqcascade.study") != fingerprint.encode():
        return None
    return {name: table.column(name).to_numpy() for name in COLUMNS}


def _write_chunk(path: Path, columns: dict[str, np.ndarray], fingerprint: str, seed: int) -> None:
    """Atomically: written under a temporary name, then renamed (a killed run leaves no half
    chunk under a chunk's name)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    ScenarioTable(columns, seed=seed).to_parquet(tmp, metadata={"liqcascade.study": fingerprint})
    os.replace(tmp, path)


def monte_carlo(
    client: Any,
    population: PositionPopulation,
    book_model: BookModel,
    shocks: ShockModel | Sequence[float] | np.ndarray,
    n_scenarios: int,
    *,
    seed: int = 0,
    first_scenario: int = 0,
    chunk: int = 100,
    out: str | os.PathLike[str] | None = None,
    threads_per_task: int = 1,
    progress: ProgressArg = "auto",
    on_chunk: Callable[[int, int], Any] | None = None,
) -> ScenarioTable:
    """:func:`liqcascade.monte_carlo` on a Dask cluster: scenarios ``first_scenario ..
    first_scenario + n_scenarios - 1`` in chunks of at most ``chunk`` (cut at multiples of
    ``chunk``), one task each on ``client``'s workers, each running the engine with
    ``threads_per_task`` threads (Dask runs as many tasks at once per worker as it has
    threads). The table is identical, row for row and bit for bit, to the one-process run.

    ``out``: a directory; each chunk is written there as a Parquet file
    (``scenarios-<start>-<stop>.parquet``, the study's fingerprint in its metadata) as soon as
    it arrives, and chunks already there from a run of the same study are read instead of
    run — a rerun after a killed client or a lost worker resumes. The directory holds at most
    one file per multiple of ``chunk``: a rerun over a wider range recomputes a partial chunk
    over the union of both ranges and removes the file it supersedes, so the directory read as
    a dataset never holds a scenario twice. The directory's
    ``_liqcascade-study.json`` records the study (models, seed, chunk size, version); another
    study in the same directory is a ``ValueError`` naming what differs. ``progress``: as for
    :func:`liqcascade.monte_carlo`, counted in scenarios as chunks complete
    (``distributed.as_completed``). ``on_chunk(start, stop)`` is called as each chunk arrives.
    """
    distributed = optional_import("distributed", "liqcascade.distributed")
    if not isinstance(population, PositionPopulation):
        raise TypeError(f"population: expected PositionPopulation, got {type(population).__name__}")
    if not isinstance(book_model, BookModel):
        raise TypeError(f"book_model: expected BookModel, got {type(book_model).__name__}")
    model = _shock_model(shocks)
    count = int_scalar(n_scenarios, "n_scenarios", minimum=0)
    first = _index(first_scenario, "first_scenario")
    seed_value = _seed(seed)
    size = int_scalar(chunk, "chunk", minimum=1)
    threads = int_scalar(threads_per_task, "threads_per_task", minimum=1, maximum=1024)
    if not isinstance(client, distributed.Client):
        raise TypeError(f"client: expected a dask.distributed Client, got {type(client).__name__}")
    ranges = chunk_ranges(first, count, size)
    key = study_key(population, book_model, model, seed_value, size)
    fingerprint = _fingerprint(key)
    directory = None if out is None else _prepare_out(out, key)

    # With out=DIR the directory holds at most one file per grid chunk [k*chunk, (k+1)*chunk)
    # (the same rows whatever run wrote them): a request inside a file's range reads it; any
    # other is computed over the union of the request and the grid chunk's files, written, and
    # those files removed, so a run over a wider range replaces a partial last chunk instead of
    # leaving two files that hold the same scenarios.
    results: dict[int, dict[str, np.ndarray]] = {}
    todo: list[tuple[int, int, int, int, list[Path]]] = []  # request, span computed, files it replaces
    files = {} if directory is None else _chunk_files(directory, size)
    for start, stop in ranges:
        here = files.get(start // size, [])
        for a, b, path in here:
            if a <= start and stop <= b:
                done = _read_chunk(path, fingerprint)
                if done is not None:
                    results[start] = _slice(done, start - a, stop - a)
                    for other in here:  # files this one covers (a run killed between write and remove)
                        if other[2] != path and a <= other[0] and other[1] <= b:
                            other[2].unlink(missing_ok=True)
                    break
        else:
            span_start = min([start] + [a for a, _, _ in here])
            span_stop = max([stop] + [b for _, b, _ in here])
            todo.append((start, stop, span_start, span_stop, [path for _, _, path in here]))
    callback, close = _progress_callback(progress, count, "scenarios")
    finished = count - sum(stop - start for start, stop, *_ in todo)
    try:
        if callback is not None and finished:
            callback(finished)
        # the models are small (fields, not positions): each task carries its own copy, so a
        # lost worker loses nothing that the other tasks need (scattered data would be lost)
        futures = {
            client.submit(_run_chunk, population, book_model, model, seed_value, a, b, threads, pure=False,
                          key=f"liqcascade-chunk-{fingerprint}-{a}-{b}"): (start, stop, a, b, replaced)
            for start, stop, a, b, replaced in todo
        }
        for future in distributed.as_completed(list(futures)):
            start, stop, a, b, replaced = futures[future]
            columns = future.result()
            if directory is not None:
                target = directory / _chunk_name(a, b)
                _write_chunk(target, columns, fingerprint, seed_value)
                for path in replaced:  # their rows are in the new file
                    if path != target:
                        path.unlink(missing_ok=True)
            results[start] = _slice(columns, start - a, stop - a)
            future.release()
            finished += stop - start
            if callback is not None:
                callback(finished)
            if on_chunk is not None:
                on_chunk(start, stop)
    finally:
        close()
    ordered = [results[start] for start, _ in ranges]
    columns = {name: (np.concatenate([part[name] for part in ordered]) if ordered else _empty(name))
               for name in COLUMNS}
    return ScenarioTable(columns, seed=seed_value, notional_unit=_unit(population))


def _empty(name: str) -> np.ndarray:
    dtype = {"scenario": np.int64, "n_liquidated": np.int64, "rounds": np.int64,
             "book_exhausted": np.bool_}.get(name, np.float64)
    return np.empty(0, dtype=dtype)


def _cascade_chunk(book: OrderBook, positions: Positions, shocks: np.ndarray, threads: int,
                   ref_price: float | None = None, detail: bool = False) -> dict[str, np.ndarray]:
    from .cascade import cascade_many as local_cascade_many

    return local_cascade_many(book, positions, shocks, threads=threads, ref_price=ref_price, detail=detail).to_dict()


def cascade_many(client: Any, book: OrderBook, positions: Positions, shocks: Any, *, chunk: int = 1000,
                 threads_per_task: int = 1, ref_price: float | None = None, detail: bool = False) -> ScenarioTable:
    """:func:`liqcascade.cascade_many` on a Dask cluster: one fixed book and position set
    (sent to the workers once), the shocks split into chunks of ``chunk``; the same table as
    the local call with the same ``ref_price`` and ``detail`` (the aggregate path, or the walk
    with ``detail=True``): row ``i`` is ``shocks[i]``, its ``scenario`` column ``i``, and the
    table's ``notional_unit`` the set's."""
    distributed = optional_import("distributed", "liqcascade.distributed")
    if not isinstance(client, distributed.Client):
        raise TypeError(f"client: expected a dask.distributed Client, got {type(client).__name__}")
    if not isinstance(book, OrderBook):
        raise TypeError(f"book: expected liqcascade.OrderBook, got {type(book).__name__}")
    if not isinstance(positions, Positions):
        raise TypeError(f"positions: expected liqcascade.Positions, got {type(positions).__name__}")
    if not isinstance(detail, (bool, np.bool_)):
        raise TypeError(f"detail: expected a bool, got {type(detail).__name__}")
    ref = None if ref_price is None else real_scalar(ref_price, "ref_price")
    values = np.atleast_1d(np.asarray(shocks, dtype=np.float64))
    size = int_scalar(chunk, "chunk", minimum=1)
    threads = int_scalar(threads_per_task, "threads_per_task", minimum=1, maximum=1024)
    # hash=False: keys of this call's own (a content-hashed key may still be being released by
    # the previous call on the same data: its tasks then fail with "lost dependencies")
    book_f, positions_f = client.scatter([book, positions], broadcast=True, hash=False)
    starts = list(range(0, values.shape[0], size))
    futures = [client.submit(_cascade_chunk, book_f, positions_f, values[s:s + size], threads, ref, bool(detail),
                             pure=False)
               for s in starts]
    parts = client.gather(futures)
    columns = {name: np.concatenate([p[name] for p in parts]) if parts else _empty(name) for name in COLUMNS}
    columns["scenario"] = np.arange(values.shape[0], dtype=np.int64)  # each chunk numbered from 0
    from .cascade import notional_unit

    return ScenarioTable(columns, notional_unit=notional_unit(positions))


def _unit(population: Any) -> Any:
    """A study table's notional unit: coin for an inverse population."""
    return "coin" if getattr(population, "contract", "linear") == "inverse" else "USD"
