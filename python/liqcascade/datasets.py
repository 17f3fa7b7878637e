"""Real market data shipped with the package, ready to use (sources and licences in
``liqcascade/data/README.md``)."""

from __future__ import annotations

import json
from importlib import resources

from .book import OrderBook

__all__ = ["binance_btcusdt_depth"]

_BINANCE_BTCUSDT_DEPTH = "binance_usdm_btcusdt_depth_20240808.json"


def binance_btcusdt_depth() -> OrderBook:
    """A real order book: Binance USD-M BTCUSDT perpetual, 2024-08-08 23:54:16 UTC.

    One REST depth snapshot (``GET /fapi/v1/depth?symbol=BTCUSDT&limit=1000``), untrimmed:
    1,000 levels a side, best bid 61,800.2 and best ask 61,800.3 (mid 61,800.25), reaching
    about 0.25 % from the mid on each side ($24.5M of bids, $23.8M of asks): the near book
    only, so a larger move exhausts it. Prices in USDT, quantities in BTC. From the example
    data of the MIT-licensed hftbacktest project (nkaz001/hftbacktest). Read through
    :meth:`OrderBook.from_binance_depth`; a fresh book on every call.
    """
    source = resources.files("liqcascade") / "data" / _BINANCE_BTCUSDT_DEPTH
    with source.open("r", encoding="utf-8") as handle:
        return OrderBook.from_binance_depth(json.load(handle))
