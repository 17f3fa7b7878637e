from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

import liqcascade as lc
from liqcascade.scenarios import calibrated_book, default_positions


@dataclass
class Market:
    book: lc.OrderBook
    columns: dict[str, np.ndarray]   # plain arrays, for the NumPy baseline
    book_arrays: tuple[np.ndarray, ...]


@pytest.fixture(scope="session")
def market_1m() -> Market:
    book = calibrated_book()
    positions = default_positions(n=1_000_000, seed=0)
    columns = {k: np.array(getattr(positions, k)) for k in
               ("side", "qty", "entry_price", "margin", "mmr", "maint_amount")}
    return Market(book, columns, tuple(np.array(getattr(book, k)) for k in
                                       ("bid_price", "bid_qty", "ask_price", "ask_qty")))


def agree(engine: lc.CascadeResult, baseline: dict) -> None:
    """A fast wrong answer is not a result: the engine and the baseline must agree."""
    assert engine.n_liquidated == baseline["n_liquidated"]
    assert engine.final_price == baseline["final_price"]
    assert engine.rounds == baseline["rounds"]
    assert engine.liquidated_notional == pytest.approx(baseline["liquidated_notional"], rel=1e-9)
    assert engine.bad_debt == pytest.approx(baseline["bad_debt"], rel=1e-6, abs=1e-3)
