"""Type stubs of the compiled engine (hand-written; keep in step with src/bindings/)."""

from collections.abc import Callable
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

_F64 = npt.NDArray[np.float64]

class OrderBook:
    def __init__(self, bid_price: _F64, bid_qty: _F64, ask_price: _F64, ask_qty: _F64) -> None: ...
    @property
    def bid_price(self) -> _F64: ...
    @property
    def bid_qty(self) -> _F64: ...
    @property
    def ask_price(self) -> _F64: ...
    @property
    def ask_qty(self) -> _F64: ...
    @property
    def best_bid(self) -> float: ...
    @property
    def best_ask(self) -> float: ...
    @property
    def mid(self) -> float: ...

class PositionSet:
    def __init__(
        self,
        side: npt.NDArray[np.int8],
        qty: _F64,
        entry_price: _F64,
        margin: _F64,
        mmr: _F64,
        maint_amount: _F64,
    ) -> None: ...
    def __len__(self) -> int: ...
    def prepare(self) -> None: ...
    @property
    def prepared(self) -> bool: ...
    @property
    def liquidation_price(self) -> _F64: ...
    @property
    def bankruptcy_price(self) -> _F64: ...

def cascade(
    book: OrderBook,
    positions: PositionSet,
    kind: Literal["relative", "sell", "buy"],
    value: float,
    ref_price: float | None = None,
) -> dict[str, Any]: ...

def stable_order(keys: _F64, descending: bool = False) -> npt.NDArray[np.int64]: ...

def default_threads() -> int: ...
def run_monte_carlo(
    population: dict[str, Any],
    book: dict[str, Any],
    shocks: dict[str, Any],
    seed: int,
    first: int,
    count: int,
    threads: int = 0,
    progress: Callable[[int], None] | None = None,
) -> dict[str, np.ndarray]: ...
def sample_scenario(
    population: dict[str, Any], book: dict[str, Any], shocks: dict[str, Any], seed: int, scenario: int
) -> tuple[OrderBook, dict[str, np.ndarray], float]: ...
def sample_book(book: dict[str, Any], seed: int = 0, scenario: int = 0) -> OrderBook: ...
def cascade_many(
    book: OrderBook,
    positions: PositionSet,
    shocks: _F64,
    ref_price: float | None = None,
    threads: int = 0,
    progress: Callable[[int], None] | None = None,
) -> dict[str, np.ndarray]: ...
def philox4x32_10(counter: list[int], key: list[int]) -> list[int]: ...
def simulate(book: OrderBook, positions: PositionSet, config: dict[str, Any]) -> dict[str, Any]: ...
