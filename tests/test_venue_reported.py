"""Liquidation prices that the venues themselves reported for given positions — API answers
(Binance, Hyperliquid) and the venues' own worked examples (Binance, Bybit) — against
liqcascade's, to the precision the source prints.

Each case names its source in a comment. Where the source prints its inputs with fewer decimals
than its liquidation price (Hyperliquid prints ``rawUsd``/``accountValue`` to 6 decimals and the
price to 8), the tolerance is that input rounding carried through the formula, and the comment
says so. Cross-margin cases appear only where the source gives the whole account (wallet or
account value and every other position); they reduce exactly to one isolated position whose
margin is what the rest of the account lends it, as the venues' own formulas do. Raw samples and
their provenance: ``tests/data/venue_reported/README.md``.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest

import liqcascade as lc

DATA = Path(__file__).resolve().parent / "data" / "venue_reported"


def half_unit(printed: str) -> float:
    """Half a unit in the last place of a number as the source printed it ("5930.78" -> 0.005)."""
    exponent = Decimal(printed).as_tuple().exponent
    assert isinstance(exponent, int)
    return 0.5 * 10.0 ** exponent


def assert_as_printed(value: float, printed: str, slack: float = 0.0) -> None:
    """``value`` rounds to the printed number: within half a unit of its last place (plus the
    propagated rounding of the source's own inputs, ``slack``, where that is coarser)."""
    assert abs(value - float(printed)) <= half_unit(printed) + slack, (value, printed)


# -- Binance USD-M ---------------------------------------------------------------------------

# Binance USD-M API documentation, "Notional and Leverage Brackets" (GET /fapi/v1/leverageBracket)
# response example, BTCUSDT brackets 1-2 (the same era as the positionRisk example below):
# notional 0-50,000 mmr 0.4 % cum 0; 50,000-250,000 mmr 0.5 % cum 50. Only these two are needed:
# the position below stays in bracket 2 from entry (131,273) to liquidation (118,616).
BINANCE_DOC_BRACKETS = lc.MaintenanceTiers(notional_floor=[0.0, 50_000.0], mmr=[0.004, 0.005],
                                           maint_amount=[0.0, 50.0], max_leverage=[125.0, 100.0])


def test_binance_api_doc_position_risk_hedge_long():
    # Binance USD-M API documentation, "Position Information V2" (GET /fapi/v2/positionRisk),
    # hedge-mode response example, as copied in ccxt (ccxt/ccxt ts/src/binance.ts,
    # fetchPositionsRisk comment; PyPI ccxt 4.5.90 ccxt/binance.py): BTCUSDT LONG, positionAmt
    # 20.000, entryPrice 6563.66500, isolated, isolatedMargin 15517.54150468, unRealizedProfit
    # 2316.83423560, leverage 10 -> liquidationPrice "5930.78".
    # isolatedMargin includes the unrealised PnL; the wallet (isolatedWallet) is the difference.
    wallet = 15517.54150468 - 2316.83423560
    p = lc.Positions(1, 20.0, 6563.665, wallet, tiers=BINANCE_DOC_BRACKETS)
    assert p.mmr[0] == 0.005 and p.maint_amount[0] == 50.0  # bracket 2 at the liquidation price
    assert_as_printed(p.liquidation_price[0], "5930.78")
    same = lc.Positions(1, 20.0, 6563.665, wallet, mmr=0.005, maint_amount=50.0)
    assert same.liquidation_price[0] == p.liquidation_price[0]


# Binance FAQ "How to Calculate Liquidation Price of USDⓈ-M Futures Contracts"
# (https://www.binance.com/en/support/faq/b3c689c1f50a44cabb3a84e663b81d93), cross-margin worked
# example, as transcribed in freqtrade (freqtrade/freqtrade tests/exchange/test_binance.py,
# test_liquidation_price_binance, "From calc example", commit c9ae5e1e9ff25bb55dd61f5e5519f7c479291edb)
# and in finom/altamoon's calculateLiquidationPrice test: one cross wallet of 1,535,443.01 USDT
# holding only
#   BTCUSDT long 109.488 @ 32,481.98, mark 31,967.27, mmr 2.5 %, cum 16,300 -> LP 26,316.89
#   ETHUSDT long 3,683.979 @ 1,456.84, mark 1,335.18, mmr 10 %, cum 135,365 -> LP 1,153.26
# Binance's cross formula holds the other contract at its mark (its maintenance TMM and PnL UPNL),
# so each position is an isolated one with margin WB - TMM + UPNL of the other: exact, not an
# approximation, because the source gives the whole account.
BINANCE_CROSS_WALLET = 1_535_443.01
BINANCE_CROSS = {  # symbol: (qty, entry, mark, mmr, cum)
    "BTCUSDT": (109.488, 32_481.98, 31_967.27, 0.025, 16_300.0),
    "ETHUSDT": (3_683.979, 1_456.84, 1_335.18, 0.10, 135_365.0),
}


@pytest.mark.parametrize("symbol, other, printed", [("BTCUSDT", "ETHUSDT", "26316.89"),
                                                    ("ETHUSDT", "BTCUSDT", "1153.26")])
def test_binance_faq_cross_example(symbol, other, printed):
    qty, entry, _, mmr, cum = BINANCE_CROSS[symbol]
    o_qty, o_entry, o_mark, o_mmr, o_cum = BINANCE_CROSS[other]
    tmm = o_mmr * o_qty * o_mark - o_cum
    upnl = o_qty * (o_mark - o_entry)
    p = lc.Positions(1, qty, entry, BINANCE_CROSS_WALLET - tmm + upnl, mmr=mmr, maint_amount=cum)
    assert_as_printed(p.liquidation_price[0], printed)


def test_binance_faq_isolated_example():
    # Binance FAQ (same page), isolated example: long 1 BTC at 100,000 with 5,000 margin, bracket
    # mmr 0.5 %, cum 50 -> 95,427.1 (also in test_venue_rules.py; kept here with the other
    # venue-printed numbers).
    p = lc.Positions(1, 1.0, 100_000.0, 5_000.0, mmr=0.005, maint_amount=50.0)
    assert_as_printed(p.liquidation_price[0], "95427.1")


# -- Hyperliquid ------------------------------------------------------------------------------
# Isolated: margin = rawUsd + szi * entryPx (rawUsd is the USDC the position holds net of its
# entry notional), maintenance = 1 / (2 * maxLeverage) of the notional at the mark (Hyperliquid
# docs, "Liquidations"; maxLeverage is in the same answer). rawUsd is printed to 6 decimals, the
# price to 8, so the tolerance is rawUsd's half unit carried through: 5e-7 / (qty * (1 - mmr)).

HYPERLIQUID_ISOLATED = [
    # Hyperliquid API docs, info endpoint, "Retrieve user's perpetuals account summary"
    # (https://hyperliquid.gitbook.io/hyperliquid-docs/for-developers/api/info-endpoint/perpetuals),
    # response example: ETH szi 0.0335, entryPx 2986.3, isolated 20x, rawUsd -95.059824,
    # maxLeverage 50, marginUsed 4.967826, positionValue 100.02765 -> liquidationPx 2866.26936529.
    pytest.param("0.0335", "2986.3", "-95.059824", 50, "2866.26936529", id="docs-ETH"),
    # ccxt hyperliquid fetchPositions, a captured clearinghouseState answer in its comments
    # (ccxt/ccxt ts/src/hyperliquid.ts; PyPI ccxt 4.5.90 ccxt/hyperliquid.py), time 1704261007014
    # (2024-01-03): ETH szi 0.2259, entryPx 2213.9, isolated 20x, rawUsd -475.23904, maxLeverage
    # 50, marginUsed 24.88097 -> liquidationPx 2125.00856238.
    pytest.param("0.2259", "2213.9", "-475.23904", 50, "2125.00856238", id="ccxt-ETH"),
]


@pytest.mark.parametrize("szi, entry_px, raw_usd, max_leverage, printed", HYPERLIQUID_ISOLATED)
def test_hyperliquid_isolated_position(szi, entry_px, raw_usd, max_leverage, printed):
    qty, entry, raw = float(szi), float(entry_px), float(raw_usd)
    mmr = 1.0 / (2 * max_leverage)
    p = lc.Positions(int(np.sign(qty)), abs(qty), entry, raw + qty * entry, mmr=mmr)
    slack = half_unit(raw_usd) / (abs(qty) * (1 - mmr)) * (1 + 1e-9)
    assert_as_printed(p.liquidation_price[0], printed, slack)


def _hyperliquid_account() -> dict:
    with (DATA / "hyperliquid_clearinghouse_state_20230327.json").open(encoding="utf-8") as f:
        return json.load(f)["answer"]


_HL_COINS = [a["position"]["coin"] for a in _hyperliquid_account()["assetPositions"]]


@pytest.mark.parametrize("coin", _HL_COINS)
def test_hyperliquid_cross_account_2023(coin):
    # hyperliquid-dex/hyperliquid-python-sdk tests/cassettes/info_test/test_get_user_state.yaml
    # (commit 063bf44d327910255bcad73f8f7d388a76f3d1b5): a real clearinghouseState answer of
    # 2023-03-27 for one cross account — accountValue 1182.312496 and all twelve positions (file
    # tests/data/venue_reported/hyperliquid_clearinghouse_state_20230327.json, verbatim).
    # Five shorts carry a liquidationPx; the seven longs carry null (none above zero).
    #
    # The 2023 answer computed liquidationPx with every maintenance held at the current mark (1 %
    # of positionValue for every coin then: accountValue - 1 % of totalNtlPos is the margin left,
    # and liquidationPx = mark + side * that / |szi| to the last printed digit). That is the
    # library's *entry basis* with the mark as the reference price: position at the mark
    # (positionValue / |szi|), margin accountValue - the others' maintenance, its own
    # maintenance 1 % of its value at the mark. (Today's API values the position's maintenance at
    # the liquidation price instead; the isolated cases above check that rule.)
    account = _hyperliquid_account()
    positions = [a["position"] for a in account["assetPositions"]]
    me = next(p for p in positions if p["coin"] == coin)
    account_value = float(account["crossMarginSummary"]["accountValue"])
    mmr = 0.01
    others = [p for p in positions if p is not me]
    others_mm = mmr * sum(float(p["positionValue"]) for p in others)
    szi, value = float(me["szi"]), float(me["positionValue"])
    qty, mark = abs(szi), value / abs(szi)
    p = lc.Positions(int(np.sign(szi)), qty, mark, account_value - others_mm, mmr=mmr, basis="entry")
    liq = p.liquidation_price[0]
    if me["liquidationPx"] is None:
        assert szi > 0 and liq <= 0.0  # the venue reports none: a long that cannot be liquidated
        return
    # inputs printed to 6-7 decimals: accountValue, this position's value, the others' values
    slack = (half_unit(account["crossMarginSummary"]["accountValue"]) + half_unit(me["positionValue"])
             + mmr * sum(half_unit(p["positionValue"]) for p in others)) / qty
    assert_as_printed(liq, me["liquidationPx"], slack)


# -- Bybit (USDT contracts, classic isolated margin: maintenance on the entry value) ----------

@pytest.mark.parametrize("side, entry, leverage, printed", [
    # Bybit Help Centre, "Liquidation Price (USDT Contract)"
    # (https://help.bybit.com/hc/en-us/articles/900000181046-Liquidation-Price-USDT-Contract-):
    # long 1 BTC at 10,000 USDT with 50x, MMR 0.5 %, no extra margin -> 9,850 USDT;
    # short 1 BTC at 8,000 USDT with 40x -> 8,160 USDT.
    (1, 10_000.0, 50.0, "9850"),
    (-1, 8_000.0, 40.0, "8160"),
    # The later version of the same article: long 1 BTC at 20,000 with 50x -> 19,700 (also in
    # test_venue_rules.py).
    (1, 20_000.0, 50.0, "19700"),
])
def test_bybit_help_centre_isolated_examples(side, entry, leverage, printed):
    p = lc.Positions.from_leverage(side, 1.0, entry, leverage, mmr=0.005, basis="entry")
    assert_as_printed(p.liquidation_price[0], printed)


def test_bybit_help_centre_bankruptcy_example():
    # Bybit Help Centre, "Bankruptcy Price (USDT Contract)": long 1 BTC at 10,000 with 50x ->
    # bankruptcy price 10,000 x (1 - 2 %) = 9,800 USDT.
    p = lc.Positions.from_leverage(1, 1.0, 10_000.0, 50.0, mmr=0.005, basis="entry")
    assert_as_printed(p.bankruptcy_price[0], "9800")
