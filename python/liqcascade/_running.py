"""Running long engine calls: worker threads and progress reporting (tqdm when installed, a
plain line otherwise, or the caller's callable)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any, Literal, Union

from . import _core
from ._validation import int_scalar

ProgressArg = Union[bool, Literal["auto"], Callable[[int, int], Any], None]  # noqa: UP007 (a runtime alias)


def _threads(threads: Any) -> int:
    if threads is None:
        return int(_core.default_threads())
    return int_scalar(threads, "threads", minimum=1, maximum=2**32 - 1)  # the engine's bound is lower


def _progress_callback(
    progress: ProgressArg, total: int, desc: str
) -> tuple[Callable[[int], None] | None, Callable[[], None]]:
    """(callback(done), close) for the chosen progress reporting."""
    if progress is None or progress is False:
        return None, lambda: None
    if callable(progress) and not isinstance(progress, bool):
        user = progress
        return (lambda done: user(done, total)), lambda: None
    if progress == "auto" and not (hasattr(sys.stderr, "isatty") and sys.stderr.isatty()):
        return None, lambda: None
    if progress not in (True, "auto"):
        raise ValueError(f"progress: expected True, False, 'auto' or a callable, got {progress!r}")
    try:
        from tqdm import tqdm
    except ImportError:
        if progress == "auto":
            return None, lambda: None
        def plain(done: int) -> None:
            sys.stderr.write(f"\r{desc}: {done:,}/{total:,}")
            sys.stderr.flush()

        def end() -> None:
            sys.stderr.write("\n")
        return plain, end
    bar = tqdm(total=total, desc=desc, unit="scenario", delay=2.0, leave=False)

    def update(done: int) -> None:
        bar.update(done - bar.n)
    return update, bar.close
