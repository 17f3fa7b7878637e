"""A slow, literal Python model of docs/design.md's "Many markets" (the static cascade over a
venue). Every round re-reads every position and every account, with plain lists; the engine
(which re-reads only what its indexes say may have triggered) must agree with it on every
field. Arithmetic follows the engine's formulas in the engine's order, so results agree to
the bit.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from reference import _Market, bankruptcy_price, liquidation_price_rule, requirement, tier_at_liquidation, tier_of


def _market_rules(market: Any) -> dict[str, Any]:
    basis = market.basis
    tier_rule = market.tier_rule or ("liquidation" if basis == "mark" else "entry")
    tiers = market.tiers
    return {
        "basis": basis, "fee": float(market.close_fee), "tier_rule": tier_rule,
        "tiers": None if tiers is None else (list(map(float, tiers.notional_floor)), list(map(float, tiers.mmr)),
                                            list(map(float, tiers.maint_amount))),
    }


def venue_cascade(venue: Any, positions: Any, accounts: Any, shocks: dict[str, float] | None = None,
                  sell_qty: dict[str, float] | None = None, buy_qty: dict[str, float] | None = None,
                  stops: Any = None, tokens: Any = None, funds: Any = None) -> dict[str, Any]:
    names = list(venue.market_names)
    n_markets = len(names)
    rules = [_market_rules(m) for m in venue.markets]
    books = []
    ref = []
    for m in venue.markets:
        b = m.book
        bids = [[float(p), float(q)] for p, q in zip(b.bid_price, b.bid_qty, strict=True)]
        asks = [[float(p), float(q)] for p, q in zip(b.ask_price, b.ask_qty, strict=True)]
        r = float(m.ref_price) if m.ref_price is not None else (bids[0][0] + asks[0][0]) / 2
        books.append((bids, asks))
        ref.append(r)
    last = list(ref)
    down = [False] * n_markets
    up = [False] * n_markets
    bids_side = [_Market(books[m][0], ref[m]) for m in range(n_markets)]
    asks_side = [_Market(books[m][1], ref[m]) for m in range(n_markets)]
    out_m = {k: [0.0] * n_markets for k in ("liquidated_qty", "liquidated_notional", "unfilled_qty", "sold_qty",
                                            "sold_notional", "sale_unfilled_qty", "crossed_qty", "bad_debt",
                                            "exogenous_filled_qty", "exogenous_unfilled_qty")}
    out_m["n_liquidated"] = [0] * n_markets
    out_m["book_exhausted"] = [False] * n_markets
    shock_price = list(ref)
    # the exogenous moves
    for arg, given in (("relative", shocks or {}), ("sell", sell_qty or {}), ("buy", buy_qty or {})):
        for name, value in given.items():
            m = names.index(name)
            if arg == "relative":
                if value == 0.0:
                    continue
                target = ref[m] * (1.0 + value)
                # a move of the price moves the whole market: the side it consumes loses its
                # levels beyond the target, the other side's prices are multiplied by target / ref
                factor = target / ref[m]
                if value < 0:
                    bids_side[m].levels = [lv for lv in bids_side[m].levels if not lv[0] > target]
                    asks_side[m].levels = [[p * factor, q] for p, q in asks_side[m].levels]
                    down[m] = True
                else:
                    asks_side[m].levels = [lv for lv in asks_side[m].levels if not lv[0] < target]
                    bids_side[m].levels = [[p * factor, q] for p, q in bids_side[m].levels]
                    up[m] = True
                last[m] = target
            else:
                side = bids_side[m] if arg == "sell" else asks_side[m]
                side.last = last[m]
                filled, _, rest = side.market_order(value)
                last[m] = side.last
                out_m["exogenous_filled_qty"][m] = filled
                out_m["exogenous_unfilled_qty"][m] = rest
                if rest > 0:
                    out_m["book_exhausted"][m] = True
                (down if arg == "sell" else up)[m] = True
            shock_price[m] = last[m]

    # positions: margins by the market's rules
    n = len(positions)
    side = [int(x) for x in positions.side]
    qty = [float(x) for x in positions.qty]
    entry = [float(x) for x in positions.entry_price]
    margin = [float(x) for x in positions.margin]
    mmr = [float(x) for x in positions.mmr]
    maint = [float(x) for x in positions.maint_amount]
    market = [int(x) for x in positions.market_index(venue)]
    account = [int(x) for x in positions.account]
    liq = [math.nan] * n
    bankrupt = [math.nan] * n
    for i in range(n):
        r = rules[market[i]]
        if r["tiers"] is not None:
            floors, t_mmr, t_maint = r["tiers"]
            if account[i] < 0 and r["tier_rule"] == "liquidation" and r["basis"] == "mark":
                k = tier_at_liquidation(side[i], qty[i], entry[i], margin[i], floors, t_mmr, t_maint, r["fee"])
            else:
                k = tier_of(floors, qty[i] * entry[i])
            mmr[i], maint[i] = t_mmr[k], t_maint[k]
        if account[i] < 0:
            liq[i] = liquidation_price_rule(side[i], qty[i], entry[i], margin[i], mmr[i], maint[i], r["basis"],
                                            r["fee"])
            bankrupt[i] = bankruptcy_price(side[i], qty[i], entry[i], margin[i])

    def maintenance(i: int, p: float) -> float:
        r = rules[market[i]]
        if r["tiers"] is not None and r["basis"] == "mark" and account[i] >= 0:
            floors, t_mmr, t_maint = r["tiers"]
            k = tier_of(floors, qty[i] * p)
            return requirement(qty[i], entry[i], p, t_mmr[k], t_maint[k], r["basis"], r["fee"])
        return requirement(qty[i], entry[i], p, mmr[i], maint[i], r["basis"], r["fee"])

    # accounts
    n_acc = len(accounts)
    coll = accounts.matrix(venue).tolist()
    assets = [{"priced_by": -1, "price": 1.0, "haircut": 0.0, "floor": 0.0, "index": -1, "ratio": 1.0}]
    for a in venue.assets:
        assets.append({"priced_by": -1 if a.priced_by is None else names.index(a.priced_by),
                       "price": 1.0 if a.price is None else a.price, "haircut": a.haircut,
                       "floor": 0.0 if a.floor is None else a.floor,
                       "index": -1 if a.index is None else names.index(a.index[0]),
                       "ratio": 1.0 if a.index is None else a.index[1]})
    acct_positions: list[list[int]] = [[] for _ in range(n_acc)]
    for i in range(n):
        if account[i] >= 0:
            acct_positions[account[i]].append(i)

    def asset_price(k: int, prices: list[float]) -> float:
        a = assets[k]
        if a["index"] >= 0:  # an index that follows a market: ratio x its last price
            p = a["ratio"] * prices[a["index"]]
        elif a["priced_by"] < 0:
            return a["price"]
        else:
            p = prices[a["priced_by"]]
        return max(p, a["floor"]) if a["floor"] > 0 else p

    def valued_on(k: int) -> int:
        """The market an asset's value moves with: its index's, else its own; -1: fixed."""
        return assets[k]["index"] if assets[k]["index"] >= 0 else assets[k]["priced_by"]

    def health(a: int, prices: list[float]) -> tuple[float, float]:
        equity = 0.0
        for k, b in enumerate(coll[a]):
            if b == 0.0:
                continue
            p = asset_price(k, prices)
            equity += b * p * (1.0 - assets[k]["haircut"]) if b > 0 else b * p
        mm = 0.0
        for i in acct_positions[a]:
            p = prices[market[i]]
            equity += side[i] * qty[i] * (p - entry[i])
            mm += maintenance(i, p)
        return equity, mm

    def exposed(a: int) -> set[int]:
        ms = {market[i] for i in acct_positions[a]}
        ms |= {valued_on(k) for k, b in enumerate(coll[a]) if b != 0.0 and valued_on(k) >= 0}
        return ms

    equity_before = [health(a, ref)[0] for a in range(n_acc)]

    # agents (docs/design.md, "Agents")
    def market_of(value: Any) -> int:
        return names.index(value) if isinstance(value, str) else int(value)

    stop_list = [] if stops is None else [
        {"market": market_of(m), "side": int(sd), "qty": float(q), "price": float(p), "fired": False}
        for m, sd, q, p in zip(stops.market.tolist(), stops.side, stops.qty, stops.price, strict=True)]
    token_list = [] if tokens is None else [
        {"market": market_of(m), "L": float(lv), "nav": float(nv), "theta": float(th),
         "P": ref[market_of(m)] if math.isnan(rp) else float(rp), "alive": True}
        for m, lv, nv, th, rp in zip(tokens.market.tolist(), tokens.leverage, tokens.nav, tokens.threshold,
                                     tokens.rebalance_price, strict=True)]
    for t in token_list:
        t["down"], t["up"] = t["P"] * (1.0 - t["theta"]), t["P"] * (1.0 + t["theta"])
    fund_list = []
    if funds is not None:
        hold = funds.matrix(venue).tolist()
        for f in range(len(funds)):
            held = [m for m in range(n_markets) if hold[f][m] > 0.0]
            assets0 = 0.0
            for m in held:
                assets0 += hold[f][m] * ref[m]
            fund_list.append({"q": list(hold[f]), "q0": list(hold[f]), "held": held, "debt": assets0 - float(funds.equity[f]),
                              "target": float(funds.target_leverage[f]), "max": float(funds.max_leverage[f])})
    agent_kinds = ("stop", "token", "fund")
    for kind in agent_kinds:
        out_m[f"{kind}_orders"] = [0] * n_markets
        for col in ("sold_qty", "bought_qty", "notional", "unfilled_qty"):
            out_m[f"{kind}_{col}"] = [0.0] * n_markets
    stop_rows: list[dict[str, Any]] = []
    token_rows: list[dict[str, Any]] = []
    fund_rows: list[dict[str, Any]] = []
    prev = [(ref[m], False, False) for m in range(n_markets)]
    pos_liquidated = [False] * n
    fill_price = [math.nan] * n
    filled_qty = [0.0] * n
    pos_fill: dict[int, tuple[float, float, float]] = {}
    acct_liq: list[dict[str, Any]] = []
    liquidated_accounts: set[int] = set()
    trace: list[tuple[int, int, float, int, float, float, float]] = []
    rounds = 0
    while True:
        iso_sell = [[] for _ in range(n_markets)]
        iso_buy = [[] for _ in range(n_markets)]
        for i in range(n):
            if account[i] >= 0 or pos_liquidated[i]:
                continue
            m = market[i]
            if side[i] > 0 and down[m] and last[m] <= liq[i]:
                iso_sell[m].append(i)
            if side[i] < 0 and up[m] and last[m] >= liq[i]:
                iso_buy[m].append(i)
        for m in range(n_markets):
            iso_sell[m].sort(key=lambda i: (-liq[i], i))
            iso_buy[m].sort(key=lambda i: (liq[i], i))
        triggered = []
        for a in range(n_acc):
            if a in liquidated_accounts or not acct_positions[a]:
                continue
            if not any(down[m] or up[m] for m in exposed(a)):
                continue
            eq, mm = health(a, last)
            if eq <= mm:
                triggered.append((a, eq, mm))
        fresh = [(down[m] or up[m]) and (last[m], down[m], up[m]) != prev[m] for m in range(n_markets)]
        prev = [(last[m], down[m], up[m]) for m in range(n_markets)]
        stop_sell = [[] for _ in range(n_markets)]
        stop_buy = [[] for _ in range(n_markets)]
        for i, st in enumerate(stop_list):
            m = st["market"]
            if st["fired"]:
                continue
            if st["side"] < 0 and down[m] and last[m] <= st["price"]:
                stop_sell[m].append(i)
            if st["side"] > 0 and up[m] and last[m] >= st["price"]:
                stop_buy[m].append(i)
        for m in range(n_markets):
            stop_sell[m].sort(key=lambda i: (-stop_list[i]["price"], i))
            stop_buy[m].sort(key=lambda i: (stop_list[i]["price"], i))
        token_hit = [t for t, tk in enumerate(token_list) if tk["alive"] and (
            (down[tk["market"]] and last[tk["market"]] <= tk["down"]) or
            (up[tk["market"]] and last[tk["market"]] >= tk["up"]))]
        fund_hit = []
        for f, fd in enumerate(fund_list):
            if not any(fresh[m] for m in fd["held"]):
                continue
            assets_now = 0.0
            for m in fd["held"]:
                assets_now += fd["q"][m] * last[m]
            equity_now = assets_now - fd["debt"]
            if assets_now > 0.0 and (not equity_now > 0.0 or assets_now > fd["max"] * equity_now):
                fraction = (assets_now - fd["target"] * equity_now) / assets_now if equity_now > 0.0 else 1.0
                fund_hit.append((f, assets_now, equity_now, fraction))
        if (not triggered and not any(iso_sell) and not any(iso_buy) and not any(stop_sell) and not any(stop_buy)
                and not token_hit and not fund_hit):
            break
        rounds += 1
        triggered.sort(key=lambda t: (0, 0.0, t[0]) if not t[1] > 0 else (1, -(t[2] / t[1]), t[0]))
        sells: list[list[tuple[str, float, int, int]]] = [[("iso", qty[i], i, -1) for i in iso_sell[m]]
                                                          for m in range(n_markets)]
        buys: list[list[tuple[str, float, int, int]]] = [[("iso", qty[i], i, -1) for i in iso_buy[m]]
                                                         for m in range(n_markets)]
        for a, eq, mm in triggered:
            liquidated_accounts.add(a)
            acct_liq.append({"account": a, "round": rounds, "equity": eq, "maintenance": mm, "sales": {}})
            for i in acct_positions[a]:
                (sells if side[i] > 0 else buys)[market[i]].append(("acct", qty[i], i, a))
            for k in range(1, len(assets)):
                b = coll[a][k]
                if assets[k]["priced_by"] >= 0 and b > 0:
                    sells[assets[k]["priced_by"]].append(("sale", b, k, len(acct_liq) - 1))
        for m in range(n_markets):
            sells[m] += [("stop", stop_list[i]["qty"], i, -1) for i in stop_sell[m]]
            buys[m] += [("stop", stop_list[i]["qty"], i, -1) for i in stop_buy[m]]
        for t in token_hit:
            tk = token_list[t]
            m = tk["market"]
            p = last[m]
            L, nav = tk["L"], tk["nav"]
            r = p / tk["P"] - 1.0
            marked = nav * (1.0 + L * r)
            wiped = not marked > 0.0
            notional = L * (L - 1.0) * r * nav if not wiped else -L * nav * (1.0 + r)
            q = abs(notional) / p
            token_rows.append({"token": t, "round": rounds, "price": p, "return": r,
                               "order_qty": q if notional > 0 else -q, "filled_qty": 0.0, "notional": 0.0,
                               "nav_after": marked, "wiped": wiped})
            tk["nav"], tk["P"] = marked, p
            if q > 0:
                (buys if notional > 0 else sells)[m].append(("token", q, t, len(token_rows) - 1))
            else:
                _finish_token(tk, token_rows[-1])
        for f, assets_now, equity_now, fraction in fund_hit:
            fd = fund_list[f]
            fund_rows.append({"fund": f, "round": rounds, "assets": assets_now, "equity": equity_now,
                              "fraction": fraction, "sale_value": fraction * assets_now, "notional": 0.0})
            for m in fd["held"]:
                q = fraction * fd["q"][m]
                if q > 0:
                    sells[m].append(("fund", q, f, len(fund_rows) - 1))
        for m in range(n_markets):
            if not sells[m] and not buys[m]:
                continue
            start = last[m]
            s_total = 0.0
            for o in sells[m]:
                s_total += o[1]
            b_total = 0.0
            for o in buys[m]:
                b_total += o[1]
            crossed = min(s_total, b_total)
            out_m["crossed_qty"][m] += crossed
            row = [rounds, m, start, 0, 0.0, 0.0, crossed, start, 0.0, 0.0, 0.0]
            new_last = start
            for orders, is_sell, heavy in ((sells[m], True, s_total > b_total), (buys[m], False, b_total > s_total)):
                book_side = bids_side[m] if is_sell else asks_side[m]
                to_cross = crossed
                for kind, q, ref_i, owner in orders:
                    cross = q
                    if heavy:
                        cross = min(q, to_cross)
                        to_cross -= cross
                    walk = q - cross
                    fq, fn, unf = cross, cross * start, 0.0
                    if walk > 0:
                        book_side.last = new_last
                        wq, wn, unf = book_side.market_order(walk)
                        new_last = book_side.last
                        fq, fn = cross + wq, cross * start + wn
                        if unf > 0:
                            out_m["book_exhausted"][m] = True
                        (down if is_sell else up)[m] = True
                    if kind in agent_kinds:
                        out_m[f"{kind}_orders"][m] += 1
                        out_m[f"{kind}_{'sold_qty' if is_sell else 'bought_qty'}"][m] += fq
                        out_m[f"{kind}_notional"][m] += fn
                        out_m[f"{kind}_unfilled_qty"][m] += unf
                        row[8 + agent_kinds.index(kind)] += q
                        if kind == "stop":
                            stop_list[ref_i]["fired"] = True
                            stop_rows.append({"stop": ref_i, "round": rounds, "filled_qty": fq,
                                              "fill_price": fn / fq if fq > 0 else math.nan})
                        elif kind == "token":
                            rec = token_rows[owner]
                            cost = fq * start - fn if is_sell else fn - fq * start
                            rec["filled_qty"], rec["notional"] = fq, fn
                            rec["nav_after"] -= cost
                            _finish_token(token_list[ref_i], rec)
                        else:
                            fund_rows[owner]["notional"] += fn
                            fund_list[ref_i]["debt"] -= fn
                            fund_list[ref_i]["q"][m] -= fq
                            if fund_list[ref_i]["q"][m] <= 1e-12 * fund_list[ref_i]["q0"][m]:
                                fund_list[ref_i]["q"][m] = 0.0  # dust of a holding sold whole
                        continue
                    if kind == "sale":
                        out_m["sold_qty"][m] += fq
                        out_m["sold_notional"][m] += fn
                        out_m["sale_unfilled_qty"][m] += unf
                        row[5] += q
                        acct_liq[owner]["sales"][ref_i] = (fq, fn, unf)
                        continue
                    i = ref_i
                    out_m["n_liquidated"][m] += 1
                    row[3] += 1
                    row[4] += q
                    out_m["liquidated_qty"][m] += fq
                    out_m["liquidated_notional"][m] += fn
                    out_m["unfilled_qty"][m] += unf
                    pos_liquidated[i] = True
                    filled_qty[i] = fq
                    fill_price[i] = fn / fq if fq > 0 else math.nan
                    if kind == "iso":
                        short = bankrupt[i] * fq - fn if side[i] > 0 else fn - bankrupt[i] * fq
                        out_m["bad_debt"][m] += short if short > 0 else 0.0
                    else:
                        pos_fill[i] = (fq, fn, unf)
            last[m] = new_last
            row[7] = new_last
            trace.append(tuple(row))  # type: ignore[arg-type]
    # settlement of liquidated accounts
    for rec in acct_liq:
        a = rec["account"]
        equity = 0.0
        for k, b in enumerate(coll[a]):
            if b == 0.0:
                continue
            p = asset_price(k, last)
            if k != 0 and assets[k]["priced_by"] >= 0 and b > 0:
                fq, fn, unf = rec["sales"][k]
                equity += fn + unf * p
            else:
                equity += b * p
        for i in acct_positions[a]:
            fq, fn, unf = pos_fill[i]
            equity += side[i] * (fn - entry[i] * fq)
            if unf > 0:
                equity += side[i] * unf * (last[market[i]] - entry[i])
        rec["equity_after"] = equity
        rec["bad_debt"] = -equity if equity < 0 else 0.0
    bad_debt = 0.0
    for x in out_m["bad_debt"]:
        bad_debt += x
    for rec in acct_liq:
        bad_debt += rec["bad_debt"]
    equity_after = []
    for a in range(n_acc):
        if a in liquidated_accounts:
            equity_after.append(next(r["equity_after"] for r in acct_liq if r["account"] == a))
        else:
            equity_after.append(health(a, last)[0])
    token_bad_debt = [0.0] * n_markets
    token_bad_debt_total = 0.0
    for tk in token_list:  # a token wiped out past zero: its issuer's shortfall
        if tk["nav"] < 0.0:
            token_bad_debt[tk["market"]] -= tk["nav"]
            token_bad_debt_total -= tk["nav"]
    out_m["token_bad_debt"] = token_bad_debt
    fund_equity_after = []
    for fd in fund_list:
        assets_end = 0.0
        for m in fd["held"]:
            assets_end += fd["q"][m] * last[m]
        fund_equity_after.append(assets_end - fd["debt"])
    return {
        "stops": stop_rows, "token_rebalances": token_rows, "fund_sales": fund_rows,
        "token_nav": [tk["nav"] for tk in token_list],
        "token_bad_debt": token_bad_debt_total, "fund_debt_after": [fd["debt"] for fd in fund_list],
        "fund_equity_after": fund_equity_after, "fund_holdings_after": [list(fd["q"]) for fd in fund_list],
        "markets": {**out_m, "ref_price": ref, "shock_price": shock_price, "final_price": last},
        "rounds": rounds, "bad_debt": bad_debt, "trace": trace,
        "liquidated": pos_liquidated, "fill_price": fill_price, "filled_qty": filled_qty,
        "accounts": acct_liq, "equity_before": equity_before, "equity_after": equity_after,
        "liquidation_price": liq,
    }


def _finish_token(token: dict[str, Any], row: dict[str, Any]) -> None:
    """A rebalance done: the token's NAV is the row's ``nav_after``; wiped out (or at NAV <= 0)
    it trades no more, otherwise its next rebalance prices are P (1 -+ theta)."""
    token["nav"] = row["nav_after"]
    if row["wiped"] or not token["nav"] > 0.0:
        token["alive"] = False
    else:
        token["down"], token["up"] = token["P"] * (1.0 - token["theta"]), token["P"] * (1.0 + token["theta"])


def same(a: Any, b: Any) -> bool:
    """Equal to the bit, NaN equal to NaN."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return a.shape == b.shape and bool(np.all((a == b) | (np.isnan(a) & np.isnan(b))))
