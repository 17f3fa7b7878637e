"""The venues' tier tables: loaders, the shipped snapshots, and round trips to the venues' own
numbers. Each test names its source; the snapshots' sources are in
python/liqcascade/data/README.md ("Tier tables")."""

from __future__ import annotations

import copy
import json
from importlib import resources

import numpy as np
import pytest

import liqcascade as lc
from liqcascade.tier_tables import (
    from_binance_brackets,
    from_bybit_risk_limits,
    from_hyperliquid_meta,
    venue_tiers,
    venue_tiers_source,
)


def snapshot(file: str) -> dict:
    with (resources.files("liqcascade") / "data" / "tiers" / file).open(encoding="utf-8") as handle:
        return json.load(handle)


BINANCE = snapshot("binance_usdm_leverage_brackets_20241024.json")
HYPERLIQUID = snapshot("hyperliquid_meta.json")
BYBIT = snapshot("bybit_linear_risk_limit_btcusdt.json")


def brackets(symbol: str) -> list[dict]:
    return next(entry["brackets"] for entry in BINANCE["answer"] if entry["symbol"] == symbol)


def requirement(tiers: lc.MaintenanceTiers, notional: np.ndarray) -> np.ndarray:
    mmr, maint = tiers.assign(notional)
    return mmr * notional - maint


# -- Binance ---------------------------------------------------------------------------------
# Source: Binance's leverage brackets as freqtrade stored them (freqtrade/freqtrade,
# freqtrade/exchange/binance_leverage_tiers.json at 3d9514d2660c42dfdbde517f7b421d1a5cf4f196,
# 2024-10-24); formula: Binance FAQ "How to Calculate Liquidation Price of USDⓈ-M Futures
# Contracts" (https://www.binance.com/en/support/faq/b3c689c1f50a44cabb3a84e663b81d93):
# maintenance margin = notional * maintenance margin rate - maintenance amount (cum).

@pytest.mark.parametrize("symbol", ["BTCUSDT", "ETHUSDT"])
def test_binance_round_trip_a_position_in_each_bracket(symbol):
    rows = brackets(symbol)
    tiers = venue_tiers("binance", symbol)
    assert len(tiers) == len(rows) == 12
    floor = np.array([float(b["notionalFloor"]) for b in rows])
    cap = np.array([float(b["notionalCap"]) for b in rows])
    for k, b in enumerate(rows):  # inside, and on the cap (floor < notional <= cap)
        for notional in ((floor[k] + cap[k]) / 2, cap[k]):
            assert tiers.tier_of(notional)[0] == k
            venue = notional * float(b["maintMarginRatio"]) - float(b["cum"])
            assert requirement(tiers, np.array([notional]))[0] == pytest.approx(venue, rel=1e-12, abs=1e-9)
    assert list(tiers.max_leverage) == [float(b["initialLeverage"]) for b in rows]


@pytest.mark.parametrize("symbol", ["BTCUSDT", "ETHUSDT"])
def test_binance_cum_is_the_continuous_one(symbol):
    # Binance's "Maintenance Amount" rule (FAQ "How to Calculate Liquidation Price of COIN-M
    # Futures Contracts", https://www.binance.com/en/support/faq/ceccfcfb4e3a45e3b48b0b1bb1a8ae46):
    # "Floor of Position Bracket on Level n * difference between Maintenance Margin Rate on Level n
    # and Maintenance Margin Rate on Level n-1 + Maintenance Amount on Level n-1"
    tiers = venue_tiers("binance", symbol)
    derived = lc.MaintenanceTiers(tiers.notional_floor, tiers.mmr)
    np.testing.assert_allclose(derived.maint_amount, [float(b["cum"]) for b in brackets(symbol)], rtol=0, atol=1e-6)


def test_binance_snapshot_is_the_builtin_btcusdt_table():
    shipped, builtin = venue_tiers("binance", "BTCUSDT"), lc.MaintenanceTiers.binance_btcusdt()
    for column in ("notional_floor", "mmr", "maint_amount", "max_leverage"):
        np.testing.assert_array_equal(getattr(shipped, column), getattr(builtin, column))


def test_binance_worked_example_with_the_snapshot():
    # docs/design.md "Margin": a long of 1 BTC at 100,000 with 5,000 margin, bracket mmr 0.5 %,
    # cum 50, liquidates at (100,000 - 5,050) / 0.995 = 95,427.1 (Binance's isolated formula,
    # FAQ above: LP = (WB + cum - Position * EP) / (Position * MMR - Position)).
    tiers = venue_tiers("binance", "BTCUSDT")
    assert tiers.tier_of(100_000.0)[0] == 1
    positions = lc.Positions(1, 1.0, 100_000.0, 5_000.0, tiers=tiers)
    assert positions.liquidation_price[0] == pytest.approx(95_427.1, abs=0.05)


def test_binance_answer_forms_agree():
    # The same BTCUSDT brackets as the no-symbol list, the one-symbol object, the bare list,
    # JSON text, a path, numbers instead of strings, shuffled, and CCXT's leverage tiers.
    reference = venue_tiers("binance", "BTCUSDT")
    rows = brackets("BTCUSDT")
    numbers = [{k: float(v) for k, v in b.items()} for b in rows]
    ccxt = {"BTC/USDT:USDT": [{"tier": float(b["bracket"]), "currency": "USDT",
                               "minNotional": float(b["notionalFloor"]), "maxNotional": float(b["notionalCap"]),
                               "maintenanceMarginRate": float(b["maintMarginRatio"]),
                               "maxLeverage": float(b["initialLeverage"]), "info": b} for b in rows]}
    forms = [BINANCE["answer"], {"symbol": "BTCUSDT", "brackets": rows}, rows, json.dumps(rows), numbers,
             list(reversed(rows)), ccxt, ccxt["BTC/USDT:USDT"], BINANCE]
    for form in forms:
        tiers = from_binance_brackets(form, "BTCUSDT" if form in (BINANCE["answer"], ccxt, BINANCE) else None)
        for column in ("notional_floor", "mmr", "maint_amount", "max_leverage"):
            np.testing.assert_array_equal(getattr(tiers, column), getattr(reference, column))
    without_cum = [{k: v for k, v in t.items() if k != "info"} for t in ccxt["BTC/USDT:USDT"]]
    np.testing.assert_allclose(from_binance_brackets(without_cum).maint_amount, reference.maint_amount, atol=1e-6)


def test_binance_from_a_path(tmp_path):
    path = tmp_path / "brackets.json"
    path.write_text(json.dumps(BINANCE["answer"]), encoding="utf-8")
    assert len(from_binance_brackets(path, "ETHUSDT")) == 12
    assert len(from_binance_brackets(str(path), "ETHUSDT")) == 12


def bad_brackets(index: int, key: str, value) -> list[dict]:
    rows = copy.deepcopy(brackets("BTCUSDT"))
    if value is None:
        del rows[index][key]
    else:
        rows[index][key] = value
    return rows


@pytest.mark.parametrize(("index", "key", "value", "message"), [
    (3, "notionalFloor", None, r"^brackets\[3\]\.notionalFloor: missing"),
    (3, "notionalFloor", "abc", r"^brackets\[3\]\.notionalFloor: expected a number, got 'abc'"),
    (3, "notionalFloor", [1], r"^brackets\[3\]\.notionalFloor: expected a number or a numeric string"),
    (3, "notionalFloor", "3000001", r"^brackets\[3\]\.notionalFloor: tiers must be contiguous"),
    (2, "notionalCap", "3000001", r"^brackets\[3\]\.notionalFloor: tiers must be contiguous"),
    (0, "notionalFloor", "1", r"^brackets\[0\]\.notionalFloor: the lowest tier must start at 0"),
    (5, "maintMarginRatio", "1.5", r"^brackets\[5\]\.maintMarginRatio: must be in \[0, 1\)"),
    (5, "cum", "nan", r"^brackets\[5\]\.cum: must be finite"),
    (4, "cum", True, r"^brackets\[4\]\.cum: expected a number"),
    (1, "initialLeverage", "0", r"^brackets\[1\]\.initialLeverage: must be > 0"),
    (1, "notionalCap", "50000", r"^brackets\[1\]\.notionalCap: must be > notionalFloor"),
])
def test_binance_bad_brackets_name_the_field(index, key, value, message):
    with pytest.raises((ValueError, TypeError), match=message):
        from_binance_brackets({"symbol": "BTCUSDT", "brackets": bad_brackets(index, key, value)})


def test_binance_bad_answers():
    with pytest.raises(ValueError, match=r"^symbol: 'SOLUSDT' is not in the answer \(it holds BTCUSDT, ETHUSDT\)"):
        from_binance_brackets(BINANCE["answer"], "SOLUSDT")
    with pytest.raises(ValueError, match=r"^symbol: the answer holds 2 symbols"):
        from_binance_brackets(BINANCE["answer"])
    with pytest.raises(ValueError, match=r"^data: not valid JSON"):
        from_binance_brackets("[{")
    with pytest.raises(ValueError, match=r"^brackets: at least one tier"):
        from_binance_brackets({"symbol": "BTCUSDT", "brackets": []})
    with pytest.raises(ValueError, match=r"^data\.brackets: missing"):
        from_binance_brackets({"symbol": "BTCUSDT"}, "BTCUSDT")
    with pytest.raises(ValueError, match=r"^data\[1\]\.brackets: missing"):
        from_binance_brackets([{"symbol": "BTCUSDT", "brackets": []}, {"symbol": "ETHUSDT"}], "ETHUSDT")
    with pytest.raises(TypeError, match=r"^data: expected a JSON object or array"):
        from_binance_brackets(12)
    with pytest.raises(TypeError, match=r"^brackets\[0\]: expected an object"):
        from_binance_brackets([[0, 1]])


# -- Hyperliquid -----------------------------------------------------------------------------
# Source of the statement (https://hyperliquid.gitbook.io/hyperliquid-docs/trading/margin-tiers):
#   "maintenance_margin = notional_position_value * maintenance_margin_rate - maintenance_deduction"
#   "maintenance_margin_rate(tier = n) = (Initial Margin Rate at Maximum leverage at tier n) / 2.
#    For example, at 20x max leverage, maintenance_margin_rate = 2.5%."
#   "maintenance_deduction(tier = 0) = 0; maintenance_deduction(tier = n) =
#    maintenance_deduction(tier = n - 1) + notional_position_lower_bound(tier = n) *
#    (maintenance_margin_rate(tier = n) - maintenance_margin_rate(tier = n - 1)) for n > 0"
#   Mainnet tiers: "BTC 0-150M 40, >150M 20"; "ETH 0-100M 25, >100M 15".
# Snapshot: nautechsystems/nautilus_trader, crates/adapters/hyperliquid/test_data/
# http_meta_perp_sample.json at 1cef3d0cb1958d2de38efeae7552073fb2f9f835.

@pytest.mark.parametrize(("coin", "bound", "levs"), [("BTC", 150e6, (40, 20)), ("ETH", 100e6, (25, 15))])
def test_hyperliquid_tiers_as_the_docs_define_them(coin, bound, levs):
    tiers = venue_tiers("hyperliquid", coin)
    np.testing.assert_array_equal(tiers.notional_floor, [0.0, bound])
    np.testing.assert_array_equal(tiers.max_leverage, levs)
    mmr = [1 / (2 * lev) for lev in levs]  # initial margin rate at max leverage, halved
    np.testing.assert_array_equal(tiers.mmr, mmr)
    assert tiers.maint_amount[0] == 0.0
    assert tiers.maint_amount[1] == pytest.approx(0.0 + bound * (mmr[1] - mmr[0]), rel=1e-15)
    # a position in each tier: the docs' maintenance_margin
    for notional, k in ((bound / 2, 0), (bound, 0), (bound * 1.5, 1)):
        assert tiers.tier_of(notional)[0] == k
        deduction = 0.0 if k == 0 else bound * (mmr[1] - mmr[0])
        assert requirement(tiers, np.array([notional]))[0] == pytest.approx(notional * mmr[k] - deduction, rel=1e-12)


def test_hyperliquid_docs_example_rate():
    # "at 20x max leverage, maintenance_margin_rate = 2.5%": BTC's second tier is 20x.
    assert venue_tiers("hyperliquid", "BTC").mmr[1] == 0.025


def test_hyperliquid_single_tier_assets():
    # The docs: "For IDs less than 50, there is a single tier with max leverage equal to the ID."
    # ATOM is in the snapshot with marginTableId 5 and maxLeverage 5.
    atom = from_hyperliquid_meta(HYPERLIQUID, "ATOM")
    assert len(atom) == 1 and atom.mmr[0] == 0.1 and atom.max_leverage[0] == 5.0
    meta = {"universe": [{"name": "X", "szDecimals": 1, "maxLeverage": 3}]}  # no table named
    assert from_hyperliquid_meta(meta, "X").mmr[0] == pytest.approx(1 / 6)


def test_hyperliquid_answer_forms():
    answer = HYPERLIQUID["answer"]
    reference = from_hyperliquid_meta(answer, "BTC")
    for form in ([answer, [{"markPx": "1"}]], json.dumps(answer), HYPERLIQUID):
        np.testing.assert_array_equal(from_hyperliquid_meta(form, "BTC").maint_amount, reference.maint_amount)


def test_hyperliquid_bad_input_names_the_field():
    answer = HYPERLIQUID["answer"]
    with pytest.raises(ValueError, match=r"^coin: 'SOL' is not in the universe \(it holds BTC, ETH, ATOM\)"):
        from_hyperliquid_meta(answer, "SOL")
    bad = copy.deepcopy(answer)
    bad["marginTables"][1][1]["marginTiers"][1]["lowerBound"] = "x"
    with pytest.raises(ValueError, match=r"^marginTables\[id 56\]\.marginTiers\[1\]\.lowerBound: expected a number"):
        from_hyperliquid_meta(bad, "BTC")
    bad = copy.deepcopy(answer)
    bad["marginTables"][1][1]["marginTiers"][1]["lowerBound"] = "0"
    with pytest.raises(ValueError, match=r"^marginTables\[id 56\]\.marginTiers\[1\]\.lowerBound: tiers must be "
                                         "strictly increasing"):
        from_hyperliquid_meta(bad, "BTC")
    bad = copy.deepcopy(answer)
    del bad["marginTables"][0][1]["marginTiers"][0]["maxLeverage"]
    with pytest.raises(ValueError, match=r"^marginTables\[id 55\]\.marginTiers\[0\]\.maxLeverage: missing"):
        from_hyperliquid_meta(bad, "ETH")
    bad = copy.deepcopy(answer)
    bad["marginTables"][0][1]["marginTiers"][1]["maxLeverage"] = 0
    with pytest.raises(ValueError, match=r"^marginTables\[id 55\]\.marginTiers\[1\]\.maxLeverage: must be >= 1"):
        from_hyperliquid_meta(bad, "ETH")
    bad = copy.deepcopy(answer)
    del bad["marginTables"][1]
    with pytest.raises(ValueError, match=r"^marginTables: no table 56"):
        from_hyperliquid_meta(bad, "BTC")
    with pytest.raises(ValueError, match=r"^meta\.universe: missing"):
        from_hyperliquid_meta({"marginTables": []}, "BTC")
    with pytest.raises(ValueError, match=r"^marginTables\[0\]: expected an \[id, table\] pair"):
        from_hyperliquid_meta({"universe": answer["universe"], "marginTables": [[56]]}, "BTC")


# -- Bybit -----------------------------------------------------------------------------------
# Source: Bybit's published "Margin Parameters" table for BTCUSDT (USDT perpetual),
# https://www.bybit.com/zh-TW/announcement-info/margin-parameters, which states
#   "Maintenance Margin = Position Value × Maintenance Margin Rate - Maintenance Margin Deduction"
#   "Maintenance Margin Deduction = Risk Limit on Tier (n-1) × (Difference between Maintenance
#    Margin Rate on Tier n and Tier (n-1)) + Maintenance Margin Deduction on Tier (n-1)"
# (English wording of the same page, https://bybitglobal.com/en/announcement-info/margin-parameters).
# The shipped answer is rebuilt from that table (see the data README).

def test_bybit_round_trip_a_position_in_each_tier():
    rows = BYBIT["answer"]["result"]["list"]
    tiers = venue_tiers("bybit", "BTCUSDT")
    assert len(tiers) == len(rows) == 20
    caps = np.array([float(r["riskLimitValue"]) for r in rows])
    floors = np.concatenate([[0.0], caps[:-1]])
    for k, row in enumerate(rows):
        for value in ((floors[k] + caps[k]) / 2, caps[k]):  # "position value of 2,000,000 USDT or below"
            assert tiers.tier_of(value)[0] == k
            venue = value * float(row["maintenanceMargin"]) - float(row["mmDeduction"] or 0)
            assert requirement(tiers, np.array([value]))[0] == pytest.approx(venue, rel=1e-12, abs=1e-9)
    np.testing.assert_array_equal(tiers.max_leverage, [float(r["maxLeverage"]) for r in rows])


def test_bybit_deduction_is_the_continuous_one():
    tiers = venue_tiers("bybit", "BTCUSDT")
    published = [float(r["mmDeduction"] or 0) for r in BYBIT["answer"]["result"]["list"]]
    derived = lc.MaintenanceTiers(tiers.notional_floor, tiers.mmr).maint_amount
    np.testing.assert_allclose(derived, published, rtol=0, atol=1e-6)
    # the page's second tier: 2,000,000 x (0.56 % - 0.5 %) + 0 = 1,200
    assert published[1] == 1_200.0


def test_bybit_percent_and_fraction_forms_agree():
    rows = BYBIT["answer"]["result"]["list"]
    reference = venue_tiers("bybit", "BTCUSDT")
    percent = [{**r, "maintenanceMargin": f"{float(r['maintenanceMargin']) * 100:g}"} for r in rows]
    with_im = [{**r, "initialMargin": f"{100 / float(r['maxLeverage']):.4f}"} for r in percent]
    no_deduction = [{k: v for k, v in r.items() if k != "mmDeduction"} for r in rows]
    for form, kwargs in ((percent, {}), (with_im, {}), (percent, {"percent": True}), (rows[::-1], {}),
                         (BYBIT["answer"]["result"], {}), (BYBIT, {}), (json.dumps(BYBIT["answer"]), {})):
        np.testing.assert_allclose(from_bybit_risk_limits(form, **kwargs).mmr, reference.mmr, rtol=1e-15)
    np.testing.assert_allclose(from_bybit_risk_limits(no_deduction).maint_amount, reference.maint_amount, atol=1e-6)
    other = [{**r, "symbol": "ETHUSDT"} for r in rows]
    assert len(from_bybit_risk_limits(rows + other, "ETHUSDT")) == 20


def test_bybit_liquidation_example():
    # Bybit's own example (issue 17, from Bybit's liquidation-price help page): long 1 BTC at
    # 20,000, 50x, mmr 0.5 % -> liquidation at 19,700 with maintenance valued at entry. The
    # snapshot's first tier is that 0.5 % (position value <= 2,000,000): entry-valued,
    # 20,000 - 20,000/50 + 20,000 * 0.5 % = 19,700.
    tiers = venue_tiers("bybit", "BTCUSDT")
    mmr, maint = tiers.assign(20_000.0)
    assert (mmr[0], maint[0]) == (0.005, 0.0)
    assert 20_000 - 20_000 / 50 + 20_000 * mmr[0] - maint[0] == pytest.approx(19_700.0, abs=1e-9)


@pytest.mark.parametrize(("index", "key", "value", "message"), [
    (3, "riskLimitValue", None, r"^list\[3\]\.riskLimitValue: missing"),
    (3, "riskLimitValue", "2600000", r"^list\[3\]\.riskLimitValue: tiers must be strictly increasing|"
                                     r"^list\[1\]\.riskLimitValue: tiers must be strictly increasing"),
    (4, "maintenanceMargin", "x", r"^list\[4\]\.maintenanceMargin: expected a number, got 'x'"),
    (4, "maintenanceMargin", "-0.1", r"^list\[4\]\.maintenanceMargin: must be >= 0"),
    (2, "maxLeverage", "0", r"^list\[2\]\.maxLeverage: must be > 0"),
    (5, "mmDeduction", "", r"^list\[5\]\.mmDeduction: missing on a tier above the lowest"),
    (0, "riskLimitValue", "-5", r"^list\[0\]\.riskLimitValue: must be > 0"),
])
def test_bybit_bad_rows_name_the_field(index, key, value, message):
    rows = copy.deepcopy(BYBIT["answer"]["result"]["list"])
    if value is None:
        del rows[index][key]
    else:
        rows[index][key] = value
    with pytest.raises((ValueError, TypeError), match=message):
        from_bybit_risk_limits(rows)


def test_bybit_bad_answers():
    rows = BYBIT["answer"]["result"]["list"]
    with pytest.raises(ValueError, match=r"^symbol: 'ETHUSDT' is not in the list \(it holds BTCUSDT\)"):
        from_bybit_risk_limits(rows, "ETHUSDT")
    with pytest.raises(ValueError, match=r"^symbol: the list holds 2 symbols"):
        from_bybit_risk_limits(rows + [{**rows[0], "symbol": "ETHUSDT"}])
    with pytest.raises(ValueError, match=r"^result\.list: missing"):
        from_bybit_risk_limits({"retCode": 0, "result": {}})
    with pytest.raises(ValueError, match=r"^list\[0\]\.maintenanceMargin: must be below 1"):
        from_bybit_risk_limits([{**rows[0], "maintenanceMargin": "150"}], percent=True)
    with pytest.raises(TypeError, match=r"^percent: expected a bool or None"):
        from_bybit_risk_limits(rows, percent="yes")


# -- the shipped snapshots -------------------------------------------------------------------
def test_venue_tiers_lists_what_exists():
    with pytest.raises(ValueError, match=r"^venue: expected one of 'binance', 'hyperliquid', 'bybit', got 'okx'"):
        venue_tiers("okx", "BTCUSDT")
    with pytest.raises(ValueError, match=r"^symbol: binance snapshots exist for 'BTCUSDT', 'ETHUSDT', got 'BTC'"):
        venue_tiers("binance", "BTC")
    with pytest.raises(ValueError, match=r"^symbol: bybit snapshots exist for 'BTCUSDT', got 'ETHUSDT'"):
        venue_tiers_source("bybit", "ETHUSDT")


@pytest.mark.parametrize(("venue", "symbol", "reconstructed"), [
    ("binance", "BTCUSDT", False), ("binance", "ETHUSDT", False), ("hyperliquid", "BTC", False),
    ("hyperliquid", "ETH", False), ("bybit", "BTCUSDT", True)])
def test_every_snapshot_says_where_it_comes_from(venue, symbol, reconstructed):
    source = venue_tiers_source(venue, symbol)
    assert source["venue"] == venue and source["symbol"] == symbol
    assert source["reconstructed"] is reconstructed
    assert source["endpoint"] and source["source"] and "answer" not in source
    assert ("commit" in source["source"]) != ("url" in source["source"])
    if venue == "binance":
        assert source["retrieved"] == "2024-10-24"
    readme = (resources.files("liqcascade") / "data" / "README.md").read_text(encoding="utf-8")
    assert source["file"].rsplit("/", 1)[1] in readme
