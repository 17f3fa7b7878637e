"""A slow, literal Python model of docs/design.md's "Many markets through time" for the cases it
covers: markets without tiers at mark basis and no close fee, the ``market_orders`` policy
(optionally with ``max_orders_per_step``), no resilience, band, breakers, flows or funding; the
``last`` or ``index`` mark; fundamental paths, step-0 shocks, cross accounts with collateral,
insurance funds per market or per group; agents (stops, leveraged tokens on threshold and
schedule, funds; docs/design.md, "Agents through time"). Every pass re-reads every isolated position and every
account with plain lists (the engine reads only what its indexes say may have triggered); the
arithmetic follows the engine's formulas in the engine's order, so results agree to the bit.
"""

from __future__ import annotations

import math
from typing import Any

from reference import bankruptcy_price, liquidation_price_rule, requirement


class _Side:
    """One side of a market's book: levels [profile price, remaining qty], best first; every
    level is priced at profile price + shift, and a level priced <= 0 is gone."""

    def __init__(self, prices: Any, qtys: Any, bids: bool) -> None:
        self.levels = [[float(p), float(q)] for p, q in zip(prices, qtys, strict=True)]
        self.bids = bids

    def take(self, qty: float, last: float, shift: float) -> tuple[float, float, float, float]:
        remaining, filled, notional = qty, 0.0, 0.0
        while remaining > 0.0 and self.levels:
            price = self.levels[0][0] + shift
            if not price > 0.0:
                break
            last = price
            available = self.levels[0][1]
            if remaining >= available:
                filled += available
                notional += available * price
                remaining -= available
                self.levels.pop(0)
            else:
                filled += remaining
                notional += remaining * price
                self.levels[0][1] = available - remaining
                remaining = 0.0
        return filled, notional, remaining, last

    def remove_beyond(self, target: float, shift: float) -> None:
        while self.levels and (self.levels[0][0] + shift > target if self.bids else self.levels[0][0] + shift < target):
            self.levels.pop(0)


def simulate_venue(venue: Any, positions: Any, accounts: Any, steps: int, *, paths: list[list[float]] | None = None,
                   shocks: dict[str, float] | None = None, mark: str = "last", max_orders_per_step: int = 0,
                   fund_group: list[int] | None = None, insurance_fund: list[float] | None = None,
                   stops: Any = None, tokens: Any = None, funds: Any = None,
                   token_rebalance_interval: int = 0) -> dict[str, Any]:
    names = list(venue.market_names)
    n_markets = len(names)
    for m in venue.markets:
        assert m.tiers is None and m.basis == "mark" and m.close_fee == 0.0, "outside the model"
    bids = [_Side(m.book.bid_price, m.book.bid_qty, True) for m in venue.markets]
    asks = [_Side(m.book.ask_price, m.book.ask_qty, False) for m in venue.markets]
    mid0 = [(float(m.book.bid_price[0]) + float(m.book.ask_price[0])) / 2 for m in venue.markets]
    ref = [float(m.ref_price) if m.ref_price is not None else mid0[k] for k, m in enumerate(venue.markets)]
    last = list(mid0)
    marks = list(mid0)
    group = fund_group if fund_group is not None else list(range(n_markets))
    fund = list(insurance_fund) if insurance_fund is not None else [0.0] * (max(group) + 1)

    n = len(positions)
    side = [int(x) for x in positions.side]
    qty = [float(x) for x in positions.qty]
    entry = [float(x) for x in positions.entry_price]
    margin = [float(x) for x in positions.margin]
    mmr = [float(x) for x in positions.mmr]
    maint = [float(x) for x in positions.maint_amount]
    market = [int(x) for x in positions.market_index(venue)]
    account = [int(x) for x in positions.account]
    liq = [liquidation_price_rule(side[i], qty[i], entry[i], margin[i], mmr[i], maint[i], "mark", 0.0)
           if account[i] < 0 else math.nan for i in range(n)]
    liq = [0.0 if x == 0.0 else x for x in liq]
    open_qty = list(qty)
    state = ["open"] * n  # open, queued, liquidated
    # per market: isolated longs by liquidation price descending, shorts ascending, ties by index
    waiting_longs = [sorted((i for i in range(n) if account[i] < 0 and market[i] == m and side[i] > 0),
                            key=lambda i: -liq[i]) for m in range(n_markets)]
    waiting_shorts = [sorted((i for i in range(n) if account[i] < 0 and market[i] == m and side[i] < 0),
                             key=lambda i: liq[i]) for m in range(n_markets)]
    relisted: list[list[int]] = [[] for _ in range(n_markets)]
    long_q: list[list[int]] = [[] for _ in range(n_markets)]
    short_q: list[list[int]] = [[] for _ in range(n_markets)]
    retry: list[list[int]] = [[] for _ in range(n_markets)]

    n_acc = len(accounts)
    coll = accounts.matrix(venue).tolist()
    assets = [{"priced_by": -1, "price": 1.0, "haircut": 0.0, "floor": 0.0}]
    for a in venue.assets:
        assets.append({"priced_by": -1 if a.priced_by is None else names.index(a.priced_by),
                       "price": 1.0 if a.price is None else a.price, "haircut": a.haircut,
                       "floor": 0.0 if a.floor is None else a.floor})
    acct_positions: list[list[int]] = [[] for _ in range(n_acc)]
    for i in range(n):
        if account[i] >= 0:
            acct_positions[account[i]].append(i)

    def asset_price(k: int, prices: list[float]) -> float:
        a = assets[k]
        if a["priced_by"] < 0:
            return a["price"]
        p = prices[a["priced_by"]]
        return max(p, a["floor"]) if a["floor"] > 0 else p

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
            mm += requirement(qty[i], entry[i], p, mmr[i], maint[i], "mark", 0.0)
        return equity, mm

    exposed = [{market[i] for i in acct_positions[a]}
               | {assets[k]["priced_by"] for k, b in enumerate(coll[a]) if b != 0.0 and assets[k]["priced_by"] >= 0}
               for a in range(n_acc)]
    enabled = [False] * n_markets  # a market's accounts are read once its mark has left its reference
    acct_done = [False] * n_acc
    rows: list[dict[str, Any]] = []  # liquidated accounts
    order_rows: list[dict[str, Any]] = []
    queue: list[list[dict[str, Any]]] = [[] for _ in range(n_markets)]
    carry: list[list[dict[str, Any]]] = [[] for _ in range(n_markets)]
    events: list[dict[str, Any]] = []
    keys = ("price", "mark_price", "liquidated_qty", "liquidated_notional", "insurance_fund", "account_qty",
            "account_notional", "sale_qty", "sale_notional", "accounts_liquidated", "queued", "stop_qty", "token_qty",
            "fund_qty")
    timeline: list[dict[str, list[Any]]] = [{k: [] for k in keys} for _ in range(n_markets)]
    step = 0
    shift = [0.0] * n_markets
    budget = [0] * n_markets
    sq = [0.0] * n_markets
    sn = [0.0] * n_markets
    queued_now = [0] * n_markets

    def trade(m: int, s: int, q: float) -> tuple[float, float, float]:
        book = bids[m] if s > 0 else asks[m]
        filled, notional, rest, last[m] = book.take(q, last[m], shift[m])
        return filled, notional, rest

    def triggered(i: int) -> bool:
        return marks[market[i]] <= liq[i] if side[i] > 0 else marks[market[i]] >= liq[i]

    def admit(i: int, q: list[int]) -> None:
        if state[i] == "open" and open_qty[i] > 0.0:
            state[i] = "queued"
            q.append(i)

    def liquidate(m: int) -> None:
        while True:
            # enqueue: the set's lists, then the relisted ones (longs: highest price first, ties
            # by the higher index; shorts: lowest first, ties by the lower index)
            while waiting_longs[m] and marks[m] <= liq[waiting_longs[m][0]]:
                admit(waiting_longs[m].pop(0), long_q[m])
            for i in sorted((i for i in relisted[m] if side[i] > 0), key=lambda i: (-liq[i], -i)):
                if marks[m] <= liq[i]:
                    relisted[m].remove(i)
                    admit(i, long_q[m])
                else:
                    break
            for i in sorted((i for i in relisted[m] if side[i] < 0), key=lambda i: (liq[i], i)):
                if marks[m] >= liq[i]:
                    relisted[m].remove(i)
                    admit(i, short_q[m])
                else:
                    break
            while waiting_shorts[m] and marks[m] >= liq[waiting_shorts[m][0]]:
                admit(waiting_shorts[m].pop(0), short_q[m])
            if budget[m] == 0 or not (long_q[m] or short_q[m]):
                break
            q = long_q[m] if long_q[m] else short_q[m]
            i = q.pop(0)
            if state[i] == "queued" and not triggered(i):
                state[i] = "open"
                relisted[m].append(i)
                continue
            state[i] = "liquidated"
            bankrupt = bankruptcy_price(side[i], open_qty[i], entry[i], margin[i])
            q0 = open_qty[i]
            filled, notional, rest = trade(m, side[i], q0)
            if filled > 0.0:
                equity_left = side[i] * (notional - bankrupt * filled)
                loss = -equity_left if not equity_left > 0.0 else 0.0
                fund[group[m]] += 0.0 - loss
                sq[m] += filled
                sn[m] += notional
                events.append({"step": step, "position": i, "qty": filled, "price": notional / filled, "loss": loss,
                               "fund": fund[group[m]]})
            open_qty[i] = rest
            if rest > 0.0:
                margin[i] *= rest / q0
                retry[m].append(i)
            budget[m] -= 1
            if mark == "last":
                marks[m] = last[m]
        queued_now[m] = len(long_q[m]) + len(short_q[m]) + len(retry[m])

    acc_q = [0.0] * n_markets
    acc_n = [0.0] * n_markets
    sale_q = [0.0] * n_markets
    sale_n = [0.0] * n_markets
    acc_count = [0] * n_markets

    def settle(row: dict[str, Any], charge: bool) -> None:
        a = row["account"]
        equity = row["cash"]
        for k in range(1, len(assets)):
            b = coll[a][k]
            if b == 0.0 or (assets[k]["priced_by"] >= 0 and b > 0.0):
                continue
            equity += b * (assets[k]["price"] if assets[k]["priced_by"] < 0 else marks[assets[k]["priced_by"]])
        row["equity_after"] = equity
        row["bad_debt"] = max(0.0, -equity)
        if not charge:
            return
        row["settled_step"] = step
        if row["bad_debt"] > 0.0:
            total = 0.0
            for x in row["weight"]:
                total += x
            for m in range(n_markets):
                if row["weight"][m] > 0.0:
                    fund[group[m]] -= row["bad_debt"] * (row["weight"][m] / total)

    def check_accounts() -> int:
        if n_acc == 0:
            return 0
        for m in range(n_markets):
            if marks[m] != ref[m]:
                enabled[m] = True
        found = []
        for a in range(n_acc):
            if acct_done[a] or not acct_positions[a] or not any(enabled[m] for m in exposed[a]):
                continue
            e, mm = health(a, marks)
            if e <= mm:
                found.append((a, e, mm))
        found.sort(key=lambda x: (0, x[0], 0.0) if not x[1] > 0.0 else (1, -(x[2] / x[1]), x[0]))
        for a, e, mm in found:
            acct_done[a] = True
            row = {"account": a, "step": step, "settled_step": -1, "equity": e, "maintenance": mm,
                   "cash": coll[a][0], "outstanding": 0, "weight": [0.0] * n_markets}
            rows.append(row)
            counted = set()
            for i in acct_positions[a]:
                m = market[i]
                queue[m].append({"row": row, "kind": 0, "item": i, "qty": qty[i], "side": side[i]})
                row["outstanding"] += 1
                row["weight"][m] += qty[i] * marks[m]
                if m not in counted:
                    counted.add(m)
                    acc_count[m] += 1
            for k in range(1, len(assets)):
                b = coll[a][k]
                if assets[k]["priced_by"] < 0 or not b > 0.0:
                    continue
                queue[assets[k]["priced_by"]].append({"row": row, "kind": 1, "item": k, "qty": b, "side": 1})
                row["outstanding"] += 1
        return len(found)

    def execute() -> bool:
        any_order = False
        for m in range(n_markets):
            while queue[m] and budget[m] > 0:
                budget[m] -= 1
                o = queue[m].pop(0)
                any_order = True
                filled, notional, rest = trade(m, o["side"], o["qty"])
                row = o["row"]
                if o["kind"] == 0:
                    sq[m] += filled
                    sn[m] += notional
                    row["cash"] += o["side"] * (notional - entry[o["item"]] * filled)
                    acc_q[m] += filled
                    acc_n[m] += notional
                else:
                    row["cash"] += notional
                    sale_q[m] += filled
                    sale_n[m] += notional
                if mark == "last":
                    marks[m] = last[m]
                order_rows.append({"step": step, "market": m, "account": row["account"], "kind": o["kind"],
                                   "item": o["item"], "qty": filled,
                                   "price": notional / filled if filled > 0.0 else math.nan, "unfilled": rest})
                if rest > 0.0:
                    carry[m].append({**o, "qty": rest})
                else:
                    row["outstanding"] -= 1
                    if row["outstanding"] == 0:
                        settle(row, True)
        return any_order

    # agents
    def market_of(value: Any) -> int:
        return names.index(value) if isinstance(value, str) else int(value)

    stop_list = [] if stops is None else [
        {"index": j, "market": market_of(mk), "side": int(sd), "qty": float(q), "price": float(p), "fired": False}
        for j, (mk, sd, q, p) in enumerate(zip(stops.market.tolist(), stops.side, stops.qty, stops.price,
                                                strict=True))]
    token_list = [] if tokens is None else [
        {"market": market_of(mk), "L": float(lv), "nav": float(nv), "theta": float(th),
         "P": ref[market_of(mk)] if math.isnan(rp) else float(rp), "acted": -1}
        for mk, lv, nv, th, rp in zip(tokens.market.tolist(), tokens.leverage, tokens.nav, tokens.threshold,
                                      tokens.rebalance_price, strict=True)]
    for tk in token_list:
        tk["down"], tk["up"] = tk["P"] * (1.0 - tk["theta"]), tk["P"] * (1.0 + tk["theta"])
    fund_list = []
    if funds is not None:
        hold = funds.matrix(venue).tolist()
        for f in range(len(funds)):
            held = [m for m in range(n_markets) if hold[f][m] > 0.0]
            assets0 = 0.0
            for m in held:
                assets0 += hold[f][m] * ref[m]
            fund_list.append({"q": list(hold[f]), "q0": list(hold[f]), "held": held,
                              "debt": assets0 - float(funds.equity[f]), "target": float(funds.target_leverage[f]),
                              "max": float(funds.max_leverage[f]), "acted": -1})
    agent_mark = list(ref)
    agent_orders: list[list[dict[str, Any]]] = [[] for _ in range(n_markets)]
    stop_rows: list[dict[str, Any]] = []
    token_rows: list[dict[str, Any]] = []
    fund_rows: list[dict[str, Any]] = []
    stop_q = [0.0] * n_markets
    token_q = [0.0] * n_markets
    fund_q = [0.0] * n_markets
    scheduled_done = [False]

    def collect_agents() -> bool:
        if not (stop_list or token_list or fund_list):
            return False
        any_agent = False
        for m in range(n_markets):
            sells = sorted((x for x in stop_list if x["market"] == m and x["side"] < 0), key=lambda x: -x["price"])
            for x in sells:
                if x["fired"]:
                    continue
                if marks[m] <= x["price"]:
                    x["fired"] = True
                    agent_orders[m].append({"kind": 0, "ref": x, "qty": x["qty"], "side": 1})
                    any_agent = True
                else:
                    break
            buys = sorted((x for x in stop_list if x["market"] == m and x["side"] > 0), key=lambda x: x["price"])
            for x in buys:
                if x["fired"]:
                    continue
                if marks[m] >= x["price"]:
                    x["fired"] = True
                    agent_orders[m].append({"kind": 0, "ref": x, "qty": x["qty"], "side": -1})
                    any_agent = True
                else:
                    break
        scheduled = token_rebalance_interval > 0 and step > 0 and step % token_rebalance_interval == 0
        due = []
        if scheduled and not scheduled_done[0]:
            scheduled_done[0] = True
            due = [t for t, tk in enumerate(token_list) if tk["nav"] > 0.0]
        for t, tk in enumerate(token_list):
            m = tk["market"]
            if tk["nav"] > 0.0 and tk["acted"] != step and (marks[m] <= tk["down"] or marks[m] >= tk["up"]):
                due.append(t)
        for t in sorted(set(due)):
            tk = token_list[t]
            if tk["acted"] == step:
                continue
            tk["acted"] = step
            any_agent = True
            m = tk["market"]
            p = marks[m]
            ret = p / tk["P"] - 1.0
            marked = tk["nav"] * (1.0 + tk["L"] * ret)
            if marked > 0.0:
                notional, wiped = tk["L"] * (tk["L"] - 1.0) * ret * tk["nav"], False
            else:
                notional, wiped = -tk["L"] * tk["nav"] * (1.0 + ret), True
            q = abs(notional) / p
            row = {"token": t, "step": step, "scheduled": 1 if scheduled and abs(ret) < tk["theta"] else 0,
                   "price": p, "return": ret, "order_qty": q if notional > 0.0 else -q, "filled_qty": 0.0,
                   "notional": 0.0, "nav_after": marked, "wiped": wiped}
            token_rows.append(row)
            tk["nav"], tk["P"] = marked, p
            tk["down"] = tk["up"] = math.nan  # (none until its order is done)
            if q > 0.0:
                agent_orders[m].append({"kind": 1, "ref": t, "row": row, "qty": q, "side": -1 if notional > 0.0 else 1})
            else:
                finish_token(t, row)
        if fund_list:
            seen: set[int] = set()
            for m in range(n_markets):
                if marks[m] == agent_mark[m]:
                    continue
                agent_mark[m] = marks[m]
                seen |= {f for f, fd in enumerate(fund_list) if m in fd["held"] and fd["acted"] != step}
            for f in sorted(seen):
                fd = fund_list[f]
                assets_value = 0.0
                for m in fd["held"]:
                    assets_value += fd["q"][m] * marks[m]
                equity = assets_value - fd["debt"]
                triggered = assets_value > 0.0 and (not equity > 0.0 or assets_value > fd["max"] * equity)
                if not triggered:
                    continue
                fraction = (assets_value - fd["target"] * equity) / assets_value if equity > 0.0 else 1.0
                fd["acted"] = step
                any_agent = True
                row = {"fund": f, "step": step, "assets": assets_value, "equity": equity, "fraction": fraction,
                       "notional": 0.0}
                fund_rows.append(row)
                for m in fd["held"]:
                    q = fraction * fd["q"][m]
                    if q > 0.0:
                        agent_orders[m].append({"kind": 2, "ref": f, "row": row, "qty": q, "side": 1})
        return any_agent

    def finish_token(t: int, row: dict[str, Any]) -> None:
        tk = token_list[t]
        nav = row["nav_after"]
        tk["nav"] = nav
        if not row["wiped"] and nav > 0.0:
            tk["down"], tk["up"] = tk["P"] * (1.0 - tk["theta"]), tk["P"] * (1.0 + tk["theta"])
        else:
            tk["nav"] = min(nav, 0.0)

    def execute_agents() -> None:
        for m in range(n_markets):
            orders = sorted(agent_orders[m], key=lambda o: o["kind"])
            for o in orders:
                filled, notional, _ = trade(m, o["side"], o["qty"])
                if mark == "last":
                    marks[m] = last[m]
                if o["kind"] == 0:
                    stop_q[m] += filled
                    stop_rows.append({"stop": o["ref"]["index"], "step": step, "filled_qty": filled,
                                      "fill_price": notional / filled if filled > 0.0 else math.nan})
                elif o["kind"] == 1:
                    token_q[m] += filled
                    row = o["row"]
                    p = row["price"]
                    cost = filled * p - notional if o["side"] > 0 else notional - filled * p
                    row["filled_qty"], row["notional"] = filled, notional
                    row["nav_after"] -= cost
                    finish_token(o["ref"], row)
                else:
                    fund_q[m] += filled
                    fd = fund_list[o["ref"]]
                    o["row"]["notional"] += notional
                    fd["debt"] -= notional
                    fd["q"][m] -= filled
                    if fd["q"][m] <= 1e-12 * fd["q0"][m]:
                        fd["q"][m] = 0.0
            agent_orders[m] = []

    unlimited = 2**63 - 1
    for step in range(steps):  # noqa: B007 (read by the closures)
        for m in range(n_markets):
            centre = paths[step][m] if paths is not None else mid0[m]
            shift[m] = centre - mid0[m]
            sq[m] = sn[m] = acc_q[m] = acc_n[m] = sale_q[m] = sale_n[m] = 0.0
            acc_count[m] = 0
            if step == 0 and shocks and shocks.get(names[m], 0.0) != 0.0:
                s = shocks[names[m]]
                target = centre * (1.0 + s)
                (bids[m] if s < 0.0 else asks[m]).remove_beyond(target, shift[m])
                last[m] = target
            marks[m] = last[m] if mark == "last" else centre
            for i in retry[m]:
                if state[i] == "liquidated" and open_qty[i] > 0.0:
                    (long_q[m] if side[i] > 0 else short_q[m]).append(i)
            retry[m] = []
            budget[m] = max_orders_per_step if max_orders_per_step > 0 else unlimited
            queue[m] = carry[m] + queue[m]
            carry[m] = []
            stop_q[m] = token_q[m] = fund_q[m] = 0.0
        scheduled_done[0] = False
        while True:
            for m in range(n_markets):
                liquidate(m)
            found = check_accounts()
            acted = collect_agents()
            traded = execute()
            execute_agents()
            if found == 0 and not traded and not acted:
                break
        for m in range(n_markets):
            tl = timeline[m]
            for k, v in (("price", last[m]), ("mark_price", marks[m]), ("liquidated_qty", sq[m]),
                         ("liquidated_notional", sn[m]), ("insurance_fund", fund[group[m]]), ("account_qty", acc_q[m]),
                         ("account_notional", acc_n[m]), ("sale_qty", sale_q[m]), ("sale_notional", sale_n[m]),
                         ("accounts_liquidated", acc_count[m]), ("queued", queued_now[m]), ("stop_qty", stop_q[m]),
                         ("token_qty", token_q[m]), ("fund_qty", fund_q[m])):
                tl[k].append(v)
    for m in range(n_markets):
        for o in carry[m] + queue[m]:
            row = o["row"]
            if o["kind"] == 0:
                row["cash"] += o["side"] * o["qty"] * (marks[m] - entry[o["item"]])
            else:
                row["cash"] += o["qty"] * marks[m]
    for row in rows:
        if row["settled_step"] < 0:
            settle(row, False)
    return {"timeline": timeline, "events": events, "final_qty": open_qty,
            "liquidated": [s == "liquidated" for s in state], "accounts": rows, "orders": order_rows, "fund": fund,
            "stops": stop_rows, "tokens": token_rows, "fund_sales": fund_rows,
            "token_nav": [tk["nav"] for tk in token_list], "fund_debt": [fd["debt"] for fd in fund_list],
            "fund_holdings": [fd["q"] for fd in fund_list]}
