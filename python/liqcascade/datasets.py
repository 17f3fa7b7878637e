"""Real market data shipped with the package, ready to use (sources and licences in
``liqcascade/data/README.md``)."""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

from .book import OrderBook

__all__ = ["binance_btcusdt_depth", "binance_coinm_btcusd_depth", "bitmex_xbtusd_l2"]

_BINANCE_BTCUSDT_DEPTH = "binance_usdm_btcusdt_depth_20240808.json"
_BINANCE_COINM_BTCUSD_DEPTH = "binance_coinm_btcusd_perp_depth_20240808.json"
_BITMEX_XBTUSD_L2 = "bitmex_xbtusd_l2_20210722.json"


def _load(name: str) -> Any:
    source = resources.files("liqcascade") / "data" / name
    with source.open("r", encoding="utf-8") as handle:
        return json.load(handle)


def binance_btcusdt_depth() -> OrderBook:
    """A real order book: Binance USD-M BTCUSDT perpetual, 2024-08-08 23:54:16 UTC.

    One REST depth snapshot (``GET /fapi/v1/depth?symbol=BTCUSDT&limit=1000``), untrimmed:
    1,000 levels a side, best bid 61,800.2 and best ask 61,800.3 (mid 61,800.25), reaching
    about 0.25 % from the mid on each side ($24.5M of bids, $23.8M of asks): the near book
    only, so a larger move exhausts it. Prices in USDT, quantities in BTC. From the example
    data of the MIT-licensed hftbacktest project (nkaz001/hftbacktest). Read through
    :meth:`OrderBook.from_binance_depth`; a fresh book on every call.
    """
    return OrderBook.from_binance_depth(_load(_BINANCE_BTCUSDT_DEPTH))


def binance_coinm_btcusd_depth() -> OrderBook:
    """A real inverse book: Binance COIN-M BTCUSD perpetual (``BTCUSD_PERP``), 2024-08-08
    23:54:17 UTC, quantities in **contracts of 100 USD**.

    One REST depth snapshot (``GET /dapi/v1/depth?symbol=BTCUSD_PERP&limit=1000``), untrimmed:
    1,000 levels a side, best bid 61,804.7 and best ask 61,804.8, reaching 61,134.9 and
    62,475.4 (about 1.1 % from the mid each way; 513,022 contracts = $51.3M of bids, 269,956 =
    $27.0M of asks). Prices in USD per BTC. For positions on it use
    ``Positions(..., contract="inverse", contract_size=100.0)``. From the example data of the
    MIT-licensed hftbacktest project, 1.3 s after :func:`binance_btcusdt_depth`'s snapshot.
    Read through :meth:`OrderBook.from_binance_depth`; a fresh book on every call.
    """
    return OrderBook.from_binance_depth(_load(_BINANCE_COINM_BTCUSD_DEPTH)["answer"])


def bitmex_xbtusd_l2() -> OrderBook:
    """A real inverse book: BitMEX XBTUSD perpetual, 2021-07-22 22:36:10 UTC, quantities in
    **contracts of 1 USD**.

    BitMEX's websocket ``orderBookL2`` partial for XBTUSD (the whole book, 9,346 rows), cut to
    the 1,260 levels within 2 % of the mid: 682 bids from 32,180 down to 31,537, 578 asks from
    32,180.5 up to 32,822.5 (tick 0.5; 35,725,700 contracts = $35.7M of bids, 28,480,100 =
    $28.5M of asks). Prices in USD per XBT. For positions on it use
    ``Positions(..., contract="inverse", contract_size=1.0)``. From the sample data of the
    cryptofeed project (bmoscon/cryptofeed). Read through :meth:`OrderBook.from_bitmex_l2`; a
    fresh book on every call.
    """
    return OrderBook.from_bitmex_l2(_load(_BITMEX_XBTUSD_L2)["answer"])
