"""The venues' published maintenance tables as :class:`MaintenanceTiers`, and dated snapshots of
them shipped with the package (sources and licences in ``liqcascade/data/README.md``).

Each loader reads the venue's own answer — the parsed JSON, its text, or the path of a file
holding it (a snapshot file of this package, ``{"source": ..., "answer": ...}``, works too):

- :func:`from_binance_brackets`: Binance USD-M ``GET /fapi/v1/leverageBracket`` (also CCXT's
  leverage tiers);
- :func:`from_hyperliquid_meta`: Hyperliquid's ``meta`` info answer (margin tables);
- :func:`from_bybit_risk_limits`: Bybit's ``GET /v5/market/risk-limit``.

:func:`venue_tiers` returns a shipped snapshot, :func:`venue_tiers_source` says where it came
from and when. A malformed answer is a ``ValueError``/``TypeError`` naming the field
(``brackets[3].notionalFloor: ...``), never a ``KeyError``.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import Any, Union

import numpy as np

from .positions import MaintenanceTiers

__all__ = [
    "from_binance_brackets",
    "from_bybit_risk_limits",
    "from_hyperliquid_meta",
    "venue_tiers",
    "venue_tiers_source",
]

PathLike = Union[str, "os.PathLike[str]"]


# -- reading -----------------------------------------------------------------------------------
def _load(data: Any, name: str) -> Any:
    """Parsed JSON from a dict/list, JSON text (str or bytes) or a path; a snapshot file's
    wrapper ``{"answer": ...}`` is unwrapped."""
    if isinstance(data, (bytes, bytearray)):
        data = data.decode("utf-8")
    if isinstance(data, str) and data.lstrip()[:1] in ("[", "{"):
        try:
            data = json.loads(data)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{name}: not valid JSON ({exc})") from None
    elif isinstance(data, (str, os.PathLike)):
        with Path(data).open(encoding="utf-8") as handle:
            try:
                data = json.load(handle)
            except json.JSONDecodeError as exc:
                raise ValueError(f"{name}: {os.fspath(data)!s} is not valid JSON ({exc})") from None
    if isinstance(data, Mapping) and "answer" in data and "source" in data:
        data = data["answer"]
    if not isinstance(data, (Mapping, list, tuple)):
        raise TypeError(f"{name}: expected a JSON object or array, its text, or a path; got {type(data).__name__}")
    return data


def _field(row: Any, key: str, where: str) -> Any:
    if not isinstance(row, Mapping):
        raise TypeError(f"{where}: expected an object, got {type(row).__name__}")
    if key not in row:
        raise ValueError(f"{where}.{key}: missing")
    return row[key]


def _number(value: Any, field: str) -> float:
    """A finite number from a JSON number or a numeric string (as the venues send them)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise TypeError(f"{field}: expected a number or a numeric string, got {type(value).__name__}")
    try:
        x = float(value)
    except (ValueError, OverflowError):
        raise ValueError(f"{field}: expected a number, got {value!r}") from None
    if not math.isfinite(x):
        raise ValueError(f"{field}: must be finite, got {value!r}")
    return x


def _rows(value: Any, field: str) -> Sequence[Any]:
    if not isinstance(value, (list, tuple)):
        raise TypeError(f"{field}: expected an array, got {type(value).__name__}")
    if not value:
        raise ValueError(f"{field}: at least one tier is required")
    return value


def _ascending(floor: list[float], where: list[str]) -> None:
    if floor[0] != 0.0:
        raise ValueError(f"{where[0]}: the lowest tier must start at 0, got {floor[0]:g}")
    for k in range(1, len(floor)):
        if not floor[k] > floor[k - 1]:
            raise ValueError(f"{where[k]}: tiers must be strictly increasing, got {floor[k]:g} "
                             f"after {floor[k - 1]:g}")


def _tiers(floor: list[float], mmr: list[float], maint: list[float] | None,
           lev: list[float] | None) -> MaintenanceTiers:
    def column(values: list[float] | None) -> Any:
        return None if values is None else np.asarray(values, dtype=np.float64)

    return MaintenanceTiers(notional_floor=column(floor), mmr=column(mmr), maint_amount=column(maint),
                            max_leverage=column(lev))


# -- Binance -----------------------------------------------------------------------------------
def _pick_symbol(entries: Sequence[Any], symbol: str | None, name: str) -> Any:
    """The ``{symbol, brackets}`` entry for ``symbol`` (or the only one)."""
    symbols = [str(_field(e, "symbol", f"{name}[{i}]")) for i, e in enumerate(entries)]
    if symbol is None:
        if len(entries) == 1:
            return entries[0]
        raise ValueError(f"symbol: the answer holds {len(entries)} symbols ({', '.join(symbols[:20])}"
                         f"{', ...' if len(symbols) > 20 else ''}); name one")
    if symbol not in symbols:
        raise ValueError(f"symbol: {symbol!r} is not in the answer (it holds {', '.join(symbols[:20])}"
                         f"{', ...' if len(symbols) > 20 else ''})")
    return entries[symbols.index(symbol)]


def _ccxt_key(key: str) -> str:
    """CCXT's ``BTC/USDT:USDT`` as the venue's ``BTCUSDT``."""
    return key.split(":")[0].replace("/", "")


def from_binance_brackets(data: Any, symbol: str | None = None) -> MaintenanceTiers:
    """Tiers from Binance USD-M's leverage brackets (``GET /fapi/v1/leverageBracket``).

    ``data`` is the answer without a symbol (a list of ``{"symbol", "brackets"}``), with one
    (a single ``{"symbol", "brackets"}``), or the ``brackets`` list itself; or CCXT's leverage
    tiers (``fetch_leverage_tiers``: a dict keyed by CCXT symbol, or one symbol's list of
    ``{minNotional, maxNotional, maintenanceMarginRate, maxLeverage, info}``). Parsed JSON, its
    text, or a path. Numbers may be JSON numbers or numeric strings. ``symbol`` (``"BTCUSDT"``)
    picks one symbol of several.

    Bracket ``k`` covers ``notionalFloor < notional <= notionalCap`` and requires
    ``maintMarginRatio * notional - cum``: ``notional_floor`` = ``notionalFloor``, ``mmr`` =
    ``maintMarginRatio``, ``maint_amount`` = ``cum`` as published (CCXT: ``info.cum``; derived
    continuous when absent), ``max_leverage`` = ``initialLeverage``. The last bracket's cap is
    the largest position the venue accepts; the tiers do not keep it. Brackets must be
    contiguous (each floor the previous cap) and start at 0.
    """
    obj = _load(data, "data")
    if isinstance(obj, Mapping) and "brackets" not in obj and "symbol" not in obj:  # CCXT: {symbol: [tier, ...]}
        held = [str(k) for k in obj]
        if symbol is None:
            if len(held) != 1:
                raise ValueError(f"symbol: the tiers hold {len(held)} symbols ({', '.join(held[:20])}"
                                 f"{', ...' if len(held) > 20 else ''}); name one")
            obj = next(iter(obj.values()))
        else:
            match = [k for k in held if symbol in (k, _ccxt_key(k))]
            if not match:
                raise ValueError(f"symbol: {symbol!r} is not in the tiers (they hold {', '.join(held[:20])}"
                                 f"{', ...' if len(held) > 20 else ''})")
            obj = obj[match[0]]
    if isinstance(obj, Mapping):  # one symbol: {"symbol", "brackets"}
        if symbol is not None and "symbol" in obj and obj["symbol"] != symbol:
            raise ValueError(f"symbol: {symbol!r} is not in the answer (it holds {obj['symbol']!r})")
        rows, name = _rows(_field(obj, "brackets", "data"), "brackets"), "brackets"
    else:
        rows = _rows(obj, "data")
        first = rows[0]
        if isinstance(first, Mapping) and "brackets" in first:
            entry = _pick_symbol(rows, symbol, "data")
            rows, name = _rows(_field(entry, "brackets", f"data[{rows.index(entry)}]"), "brackets"), "brackets"
        elif isinstance(first, Mapping) and "minNotional" in first:
            name = "tiers"
        else:
            name = "brackets"
    ccxt = name == "tiers"
    keys = (("minNotional", "maxNotional", "maintenanceMarginRate", "maxLeverage") if ccxt else
            ("notionalFloor", "notionalCap", "maintMarginRatio", "initialLeverage"))
    parsed = []
    for i, row in enumerate(rows):
        where = f"{name}[{i}]"
        floor, cap, mmr, lev = (_number(_field(row, key, where), f"{where}.{key}") for key in keys)
        if ccxt:
            info = row.get("info")
            cum = (_number(info["cum"], f"{where}.info.cum")
                   if isinstance(info, Mapping) and info.get("cum") not in (None, "") else None)
        else:
            cum = _number(_field(row, "cum", where), f"{where}.cum")
        if not cap > floor:
            raise ValueError(f"{where}.{keys[1]}: must be > {keys[0]} {floor:g}, got {cap:g}")
        if not 0.0 <= mmr < 1.0:
            raise ValueError(f"{where}.{keys[2]}: must be in [0, 1), got {mmr:g}")
        if not lev > 0.0:
            raise ValueError(f"{where}.{keys[3]}: must be > 0, got {lev:g}")
        parsed.append((floor, cap, mmr, cum, lev, where))
    parsed.sort(key=lambda t: t[0])
    floor_fields = [f"{t[5]}.{keys[0]}" for t in parsed]
    floors = [t[0] for t in parsed]
    _ascending(floors, floor_fields)
    for k in range(1, len(parsed)):
        if parsed[k][0] != parsed[k - 1][1]:
            raise ValueError(f"{floor_fields[k]}: tiers must be contiguous: {parsed[k][0]:g} is not the previous "
                             f"tier's {keys[1]} {parsed[k - 1][1]:g}")
    cums = [t[3] for t in parsed]
    maint = None if any(c is None for c in cums) else [float(c) for c in cums if c is not None]
    return _tiers(floors, [t[2] for t in parsed], maint, [t[4] for t in parsed])


# -- Hyperliquid -------------------------------------------------------------------------------
def from_hyperliquid_meta(meta: Any, coin: str) -> MaintenanceTiers:
    """Tiers of one perpetual from Hyperliquid's ``meta`` info answer (``POST /info``,
    ``{"type": "meta"}``; the ``[meta, asset contexts]`` of ``metaAndAssetCtxs`` works too).

    The asset (``universe[i].name == coin``) names its table by ``marginTableId``; the table's
    ``marginTiers`` give ``lowerBound`` (USDC of notional) and ``maxLeverage``. As Hyperliquid's
    docs define them (trading/margin-tiers): ``mmr = 1 / (2 * maxLeverage)`` per tier, and the
    deduction is the continuous one, ``d[n] = d[n-1] + lowerBound[n] * (mmr[n] - mmr[n-1])`` —
    exactly :class:`MaintenanceTiers`' derived ``maint_amount``. An asset whose table id is
    below 50 (the docs: a single tier at that leverage) or that names no table has one tier at
    its ``maxLeverage``. (A notional exactly on a ``lowerBound`` is the lower tier here; the
    requirement is the same either way, being continuous.)
    """
    obj = _load(meta, "meta")
    if isinstance(obj, (list, tuple)) and obj and isinstance(obj[0], Mapping) and "universe" in obj[0]:
        obj = obj[0]  # metaAndAssetCtxs: [meta, contexts]
    if not isinstance(obj, Mapping):
        raise TypeError(f"meta: expected the meta object, got {type(obj).__name__}")
    if not isinstance(coin, str):
        raise TypeError(f"coin: expected a str, got {type(coin).__name__}")
    universe = _field(obj, "universe", "meta")
    if not isinstance(universe, (list, tuple)):
        raise TypeError(f"universe: expected an array, got {type(universe).__name__}")
    names = [str(_field(asset, "name", f"universe[{i}]")) for i, asset in enumerate(universe)]
    if coin not in names:
        raise ValueError(f"coin: {coin!r} is not in the universe (it holds {', '.join(names[:20])}"
                         f"{', ...' if len(names) > 20 else ''})")
    i = names.index(coin)
    asset = universe[i]
    table_id = asset.get("marginTableId")
    tables: dict[int, Any] = {}
    raw_tables = obj.get("marginTables", [])
    if not isinstance(raw_tables, (list, tuple)):
        raise TypeError(f"marginTables: expected an array of [id, table] pairs, got {type(raw_tables).__name__}")
    for j, pair in enumerate(raw_tables):
        if not isinstance(pair, (list, tuple)) or len(pair) != 2:
            raise ValueError(f"marginTables[{j}]: expected an [id, table] pair, got {pair!r}")
        tables[int(_number(pair[0], f"marginTables[{j}][0]"))] = pair[1]
    if table_id is not None:
        table_id = int(_number(table_id, f"universe[{i}].marginTableId"))
    if table_id is None or (table_id not in tables and table_id < 50):
        lev = _number(_field(asset, "maxLeverage", f"universe[{i}]"), f"universe[{i}].maxLeverage")
        if not lev >= 1.0:
            raise ValueError(f"universe[{i}].maxLeverage: must be >= 1, got {lev:g}")
        return _tiers([0.0], [1.0 / (2.0 * lev)], None, [lev])
    if table_id not in tables:
        raise ValueError(f"marginTables: no table {table_id} (named by universe[{i}].marginTableId for "
                         f"{coin}); the answer holds {sorted(tables)}")
    name = f"marginTables[id {table_id}].marginTiers"
    rows = _rows(_field(tables[table_id], "marginTiers", f"marginTables[id {table_id}]"), name)
    floors, levs = [], []
    for k, row in enumerate(rows):
        where = f"{name}[{k}]"
        floors.append(_number(_field(row, "lowerBound", where), f"{where}.lowerBound"))
        lev = _number(_field(row, "maxLeverage", where), f"{where}.maxLeverage")
        if not lev >= 1.0:
            raise ValueError(f"{where}.maxLeverage: must be >= 1, got {lev:g}")
        levs.append(lev)
    _ascending(floors, [f"{name}[{k}].lowerBound" for k in range(len(floors))])
    return _tiers(floors, [1.0 / (2.0 * lev) for lev in levs], None, levs)


# -- Bybit -------------------------------------------------------------------------------------
def from_bybit_risk_limits(data: Any, symbol: str | None = None, *, percent: bool | None = None) -> MaintenanceTiers:
    """Tiers from Bybit's risk limits (``GET /v5/market/risk-limit``, USDT perpetuals).

    ``data`` is the whole answer (``{"retCode", "result": {"list": [...]}}``), its ``result``,
    or the ``list``; parsed JSON, its text, or a path. ``symbol`` (``"BTCUSDT"``) picks one
    symbol when the list holds several.

    Each row's ``riskLimitValue`` is the tier's cap (position value up to and including it), so
    the floors are 0 and the previous caps; ``mmr`` = ``maintenanceMargin``, ``maint_amount`` =
    ``mmDeduction`` (empty on the lowest tier: 0; empty on every tier: derived continuous),
    ``max_leverage`` = ``maxLeverage``. ``maintenanceMargin`` is read as a fraction
    (``"0.005"``) or a percentage (``"0.5"``): ``percent=None`` tells them apart by the
    leverage (maintenance is below the initial margin, so a fraction has ``mmr * maxLeverage <
    1``; when ``initialMargin`` is given, ``initialMargin * maxLeverage`` is about 1 or 100).
    """
    obj = _load(data, "data")
    if isinstance(obj, Mapping) and "result" in obj:
        obj = obj["result"]
    if isinstance(obj, Mapping):
        obj = _field(obj, "list", "result")
    rows = list(_rows(obj, "list"))
    where = [f"list[{i}]" for i in range(len(rows))]
    symbols = [str(_field(row, "symbol", w)) if isinstance(row, Mapping) and "symbol" in row else None
               for row, w in zip(rows, where, strict=True)]
    present = sorted({s for s in symbols if s is not None})
    if symbol is not None:
        if symbol not in present:
            raise ValueError(f"symbol: {symbol!r} is not in the list (it holds {', '.join(present[:20]) or 'none'})")
        keep = [i for i, s in enumerate(symbols) if s == symbol]
        rows, where = [rows[i] for i in keep], [where[i] for i in keep]
    elif len(present) > 1:
        raise ValueError(f"symbol: the list holds {len(present)} symbols ({', '.join(present[:20])}); name one")
    parsed = []
    for row, w in zip(rows, where, strict=True):
        cap = _number(_field(row, "riskLimitValue", w), f"{w}.riskLimitValue")
        mm = _number(_field(row, "maintenanceMargin", w), f"{w}.maintenanceMargin")
        lev = (_number(row["maxLeverage"], f"{w}.maxLeverage")
               if row.get("maxLeverage") not in (None, "") else None)
        im = (_number(row["initialMargin"], f"{w}.initialMargin")
              if row.get("initialMargin") not in (None, "") else None)
        ded = (_number(row["mmDeduction"], f"{w}.mmDeduction")
               if row.get("mmDeduction") not in (None, "") else None)
        if not cap > 0.0:
            raise ValueError(f"{w}.riskLimitValue: must be > 0, got {cap:g}")
        if mm < 0.0:
            raise ValueError(f"{w}.maintenanceMargin: must be >= 0, got {mm:g}")
        if lev is not None and not lev > 0.0:
            raise ValueError(f"{w}.maxLeverage: must be > 0, got {lev:g}")
        parsed.append((cap, mm, lev, im, ded, w))
    parsed.sort(key=lambda t: t[0])
    for k in range(1, len(parsed)):
        if not parsed[k][0] > parsed[k - 1][0]:
            raise ValueError(f"{parsed[k][5]}.riskLimitValue: tiers must be strictly increasing, "
                             f"{parsed[k][0]:g} repeats a cap")
    if percent is None:
        with_im = [t[3] * t[2] for t in parsed if t[2] is not None and t[3] is not None]
        with_lev = [t[1] * t[2] for t in parsed if t[2] is not None]
        if with_im:
            percent = float(np.median(with_im)) > 10.0
        elif with_lev:
            percent = max(with_lev) >= 1.0
        else:
            percent = any(t[1] >= 1.0 for t in parsed)
    elif not isinstance(percent, bool):
        raise TypeError(f"percent: expected a bool or None, got {type(percent).__name__}")
    scale = 0.01 if percent else 1.0
    mmr = [t[1] * scale for t in parsed]
    for t, m in zip(parsed, mmr, strict=True):
        if not m < 1.0:
            raise ValueError(f"{t[5]}.maintenanceMargin: must be below 1 (100 %), got {t[1]:g}"
                             + (" (read as a percentage)" if percent else ""))
    floors = [0.0] + [t[0] for t in parsed[:-1]]
    deductions = [t[4] for t in parsed]
    if all(d is None for d in deductions[1:]) and (deductions[0] is None or deductions[0] == 0.0):
        maint = None  # no deduction published: the continuous one
    else:
        for t in parsed[1:]:
            if t[4] is None:
                raise ValueError(f"{t[5]}.mmDeduction: missing on a tier above the lowest while others "
                                 "give one")
        maint = [0.0 if d is None else d for d in deductions]
    levs = [t[2] for t in parsed]
    if any(lev is None for lev in levs) and not all(lev is None for lev in levs):
        missing = next(t[5] for t in parsed if t[2] is None)
        raise ValueError(f"{missing}.maxLeverage: missing while other tiers give one")
    lev_column = None if levs[0] is None else [float(lev) for lev in levs if lev is not None]
    return _tiers(floors, mmr, maint, lev_column)


# -- shipped snapshots -------------------------------------------------------------------------
_Loader = Callable[[Any, str], MaintenanceTiers]

#: venue -> (snapshot file in liqcascade/data/tiers, loader, symbols offered)
_SNAPSHOTS: dict[str, tuple[str, _Loader, tuple[str, ...]]] = {
    "binance": ("binance_usdm_leverage_brackets_20241024.json", from_binance_brackets, ("BTCUSDT", "ETHUSDT")),
    "hyperliquid": ("hyperliquid_meta.json", from_hyperliquid_meta, ("BTC", "ETH")),
    "bybit": ("bybit_linear_risk_limit_btcusdt.json", from_bybit_risk_limits, ("BTCUSDT",)),
}


def _snapshot(venue: Any, symbol: Any) -> tuple[dict[str, Any], _Loader, str]:
    if not isinstance(venue, str) or venue not in _SNAPSHOTS:
        raise ValueError(f"venue: expected one of {', '.join(map(repr, _SNAPSHOTS))}, got {venue!r}")
    file, loader, symbols = _SNAPSHOTS[venue]
    if not isinstance(symbol, str) or symbol not in symbols:
        raise ValueError(f"symbol: {venue} snapshots exist for {', '.join(map(repr, symbols))}, got {symbol!r}")
    path = resources.files("liqcascade") / "data" / "tiers" / file
    with path.open("r", encoding="utf-8") as handle:
        return json.load(handle), loader, file


def venue_tiers(venue: str, symbol: str) -> MaintenanceTiers:
    """The maintenance tiers of a snapshot shipped with the package.

    ``venue="binance"``: ``"BTCUSDT"``, ``"ETHUSDT"`` (USD-M leverage brackets, 2024-10-24);
    ``"hyperliquid"``: ``"BTC"``, ``"ETH"`` (margin tables of ``meta``); ``"bybit"``:
    ``"BTCUSDT"`` (risk limits, rebuilt from Bybit's published table). Where each comes from:
    :func:`venue_tiers_source`. Anything else is a ``ValueError`` listing what exists.
    """
    wrapper, loader, _ = _snapshot(venue, symbol)
    return loader(wrapper["answer"], symbol)


def venue_tiers_source(venue: str, symbol: str) -> dict[str, Any]:
    """Where the snapshot of :func:`venue_tiers` comes from: ``{"venue", "symbol", "file",
    "endpoint", "retrieved", "reconstructed", "source", "notes", ...}`` (``retrieved`` is an
    ISO date, or None where the source does not date it; ``reconstructed`` is True when the
    file was rebuilt from the venue's published table rather than captured from its API)."""
    wrapper, _, file = _snapshot(venue, symbol)
    info = {key: value for key, value in wrapper.items() if key != "answer"}
    info.setdefault("reconstructed", False)
    return {"venue": venue, "symbol": symbol, "file": f"liqcascade/data/tiers/{file}", **info}
