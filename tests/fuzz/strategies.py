"""Hypothesis strategies that write fuzz cases over every public entry point of liqcascade.

A case is Python code (statements), so its reproducer is the code itself. Each parameter is
drawn valid (realistic or extreme-but-valid) or, with the case's hostility rate, hostile:
NaN, +-inf, +-0.0, subnormals, 1e308, huge and negative integers, strings, None, wrong
containers, wrong lengths, ragged or 2-D arrays, hostile elements inside arrays. Arrays come in
every container a user may pass: lists, tuples, contiguous / strided / misaligned / read-only
float64 arrays, float32, object arrays, pandas Series.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from hypothesis import strategies as st

from .harness import PRELUDE

# -- cases -----------------------------------------------------------------------------------


@dataclass
class Stmt:
    code: str
    names: tuple[str, ...] = ()       # parameters a clean error may name; () = setup, must not raise
    check: str | None = None
    args: dict[str, Any] = field(default_factory=dict)


@dataclass
class Case:
    entry: str
    stmts: list[Stmt]

    def code(self) -> str:
        return "\n".join(s.code for s in self.stmts)

    def reproducer(self) -> str:
        return PRELUDE + "\n\n# case\n" + self.code() + "\n"

    def to_json(self) -> dict[str, Any]:
        return {"entry": self.entry, "stmts": [{"code": s.code, "names": list(s.names), "check": s.check,
                                                "args": s.args} for s in self.stmts]}


# -- values ----------------------------------------------------------------------------------

def flit(x: float) -> str:
    """A float as Python source."""
    if math.isnan(x):
        return "math.nan"
    if math.isinf(x):
        return "math.inf" if x > 0 else "-math.inf"
    return repr(float(x))


FLOAT_EDGE = [math.nan, math.inf, -math.inf, 0.0, -0.0, 5e-324, -5e-324, 2.2250738585072014e-308, 1e-300,
              1e300, 1e308, -1e308, 1.7976931348623157e308, -1.0, -1e-9, 1.0]
INT_EDGE = [0, -1, 1, 2**31, 2**32, 2**53 + 1, 2**62, 2**63 - 2, 2**63 - 1, 2**63, 2**64 - 1, 2**64, 10**400,
            -(2**63), -(2**64)]
WRONG_TYPES = ["'abc'", "'1.5'", "''", "None", "True", "False", "[1.0]", "(0.5,)", "{'a': 1}", "b'1'", "1j",
               "object()", "np.array([0.5, 0.5])", "np.float32(0.5)", "np.int64(2)", "np.bool_(True)",
               "pd.Series([0.5])", "np.array(0.5)", "np.float64(math.nan)", "slice(1)"]
ELEMENT_HOSTILE = ["None", "'x'", "'1.5'", "True", "10**400", "2**64", "-(2**63)", "1j", "[1.0]"]

VALID_CONTAINERS = ["list", "tuple", "np", "np", "strided", "misaligned", "readonly", "series", "f32", "obj"]


class G:
    """Draws with a hostility rate ``p`` (the chance that a parameter is hostile)."""

    def __init__(self, draw: Any, p: float) -> None:
        self.draw, self.p = draw, p

    def hostile(self, factor: float = 1.0) -> bool:
        p = self.p * factor
        return p > 0 and self.draw(st.integers(0, 9999)) < p * 10000

    def pick(self, seq: list[Any]) -> Any:
        return self.draw(st.sampled_from(seq))

    def fl(self, lo: float, hi: float) -> float:
        return self.draw(st.floats(lo, hi, allow_nan=False, allow_infinity=False))

    def int(self, lo: int, hi: int) -> int:
        return self.draw(st.integers(lo, hi))

    def coin(self, p: float = 0.5) -> bool:
        return self.draw(st.integers(0, 999)) < p * 1000

    def bad_scalar(self, integer: bool = False) -> str:
        kind = self.pick(["float", "float", "int", "int", "type", "numpy"] if integer else
                         ["float", "float", "float", "int", "type", "numpy"])
        if kind == "float":
            return flit(self.pick(FLOAT_EDGE))
        if kind == "int":
            return repr(self.pick(INT_EDGE))
        if kind == "type":
            return self.pick(WRONG_TYPES)
        v = self.pick(FLOAT_EDGE)
        return self.pick([f"np.float64({flit(v)})", f"np.float32({flit(v)})", "np.int64(-1)", "np.uint64(2**64 - 1)",
                          "np.int8(1)", "np.float16(65504.0)"])

    def real(self, valid: float | str, factor: float = 1.0) -> str:
        """A real parameter: ``valid`` (a value or code) or a hostile scalar."""
        if self.hostile(factor):
            return self.bad_scalar()
        return valid if isinstance(valid, str) else flit(valid)

    def integer(self, valid: int | str, factor: float = 1.0) -> str:
        if self.hostile(factor):
            return self.bad_scalar(integer=True)
        return valid if isinstance(valid, str) else repr(valid)

    def array(self, values: list[float], factor: float = 1.0, *, integral: bool = False) -> str:
        """A 1-D array parameter of ``values``: any valid container, or a hostile variant."""
        elems = [repr(int(v)) if integral and math.isfinite(v) and v == int(v) else flit(v) for v in values]
        container = self.pick(VALID_CONTAINERS + (["i64", "i8"] if integral else []))
        if self.hostile(factor):
            how = self.pick(["element", "element", "element", "length", "2d", "ragged", "strings", "bools",
                             "empty", "scalar", "type", "one"])
            if how == "element" and elems:
                i = self.int(0, len(elems) - 1)
                loose = container in ("list", "tuple", "obj", "series")
                elems[i] = self.pick([flit(v) for v in FLOAT_EDGE] + (ELEMENT_HOSTILE if loose else []))
            elif how == "length":
                elems = elems[:-1] if elems and self.coin() else elems + [elems[0] if elems else "1.0"]
            elif how == "2d":
                return f"np.array([[{', '.join(elems)}]])" if self.coin() else f"np.ones((2, {max(1, len(elems))}))"
            elif how == "ragged":
                return f"[[{', '.join(elems)}], [1.0]]"
            elif how == "strings":
                return "[" + ", ".join(repr(e) for e in elems) + "]" if self.coin() else "['x'] * " + str(len(elems))
            elif how == "bools":
                return f"np.ones({len(elems)}, dtype=bool)"
            elif how == "empty":
                return self.pick(["[]", "np.empty(0)", "()"])
            elif how == "scalar":
                return self.bad_scalar()
            elif how == "type":
                return self.pick(["'1.0, 2.0'", "{'a': 1.0}", "None", "iter([1.0])", "object()", "b'abc'"])
            elif how == "one" and elems:
                return elems[0]
        if container == "i64" and all(e.lstrip("-").isdigit() and abs(int(e)) < 2**63 for e in elems):
            return f"np.array([{', '.join(elems)}], dtype=np.int64)"
        if container == "i8" and all(e in ("1", "-1", "0", "2") for e in elems):
            return f"np.array([{', '.join(elems)}], dtype=np.int8)"
        body = ", ".join(elems)
        numeric = all(e not in ELEMENT_HOSTILE for e in elems)
        if container == "tuple":
            return f"({body}{',' if len(elems) == 1 else ''})"
        if container in ("list", "i64", "i8") or not numeric:
            if container == "obj":
                return f"np.array([{body}], dtype=object)"
            if container == "series":
                return f"pd.Series([{body}], index=range(7, {7 + len(elems)}))"
            return f"[{body}]"
        if container == "np":
            return f"np.array([{body}], dtype=np.float64)"
        if container in ("strided", "misaligned", "readonly"):
            return f"{container}([{body}])"
        if container == "series":
            return f"pd.Series([{body}], index=range(7, {7 + len(elems)}), dtype=np.float64)"
        if container == "f32":
            return f"np.array([{body}], dtype=np.float32)"
        return f"np.array([{body}], dtype=object)"


def hostility() -> st.SearchStrategy[float]:
    return st.sampled_from([0.0, 0.0, 0.0, 0.0, 0.03, 0.08, 0.2, 0.5])


# -- books -----------------------------------------------------------------------------------

BOOK_NAMES = ("bid_price", "bid_qty", "ask_price", "ask_qty")


def book_stmts(g: G, var: str = "book", factor: float = 1.0) -> tuple[list[Stmt], float]:
    """Statements that build an ``OrderBook`` named ``var``; also its intended mid."""
    mid = g.pick([100.0] * 6 + [96211.60209131344, 1.0, 0.01, 1e5, 3.0] +
                 ([1e-300, 1e300, 1e308, 5e-320] if g.hostile(factor) else [100.0]))
    tick = mid * g.pick([0.0005, 0.001, 0.005, 0.01, 0.02])
    sides: dict[str, list[float]] = {}
    for name, sign in (("bid", -1.0), ("ask", 1.0)):
        n = g.pick([0] + [1, 2, 3, 5, 8, 12] * 3 + [40])
        k, prices = 0, []
        for _ in range(n):
            k += g.int(1, 3)
            prices.append(mid + sign * tick * (k - 0.5))
        sides[f"{name}_price"] = prices
        sides[f"{name}_qty"] = [g.pick([0.5, 1.0, 2.0, 10.0, 1000.0]) if g.coin(0.7) else g.fl(0.001, 100.0)
                                for _ in range(n)]
    how = g.pick(["init", "init", "init", "kw", "levels", "binance"])
    stmts: list[Stmt] = []
    if how in ("init", "kw"):
        for k in BOOK_NAMES:
            stmts.append(Stmt(f"{var}_{k} = {g.array(sides[k], factor)}"))
        args = ", ".join(f"{k}={var}_{k}" if how == "kw" else f"{var}_{k}" for k in BOOK_NAMES)
        stmts.append(Stmt(f"{var} = lc.OrderBook({args})", BOOK_NAMES, "book",
                          {"var": var, "inputs": [f"{var}_{k}" for k in BOOK_NAMES]}))
        return stmts, mid
    levels = {}
    for side in ("bid", "ask"):
        pairs = list(zip(sides[f"{side}_price"], sides[f"{side}_qty"]))
        if how == "binance" or g.coin(0.3):
            text = "[" + ", ".join(f"[{str(p)!r}, {str(q)!r}]" for p, q in pairs) + "]"
        else:
            text = "[" + ", ".join(f"[{flit(p)}, {flit(q)}]" for p, q in pairs) + "]"
        if g.hostile(factor):
            text = g.pick(["[[1.0, 2.0, 3.0]]", "[['abc', '1']]", "'99,1'", "[[math.nan, 1.0]]", "[1.0, 2.0]",
                           "[[1e308, 1e308]]", "[['1e400', '1']]", "None", "[[None, 1.0]]", "{'a': 1}",
                           "[[-1.0, 1.0]]", "[[5e-324, 5e-324]]", "[[1.0], [1.0, 2.0]]"])
        levels[side] = text
        stmts.append(Stmt(f"{var}_{side}s = {text}"))
    if how == "levels":
        stmts.append(Stmt(f"{var} = lc.OrderBook.from_levels({var}_bids, {var}_asks)", ("bids", "asks") + BOOK_NAMES, "book",
                          {"var": var}))
    else:
        depth = f"{{'lastUpdateId': 1, 'bids': {var}_bids, 'asks': {var}_asks}}"
        if g.hostile(factor):
            depth = g.pick([f"{{'bids': {var}_bids}}", "42", "[]",
                            f"{{'asks': {var}_asks, 'bids': None}}"])
        stmts.append(Stmt(f"{var}_depth = {depth}"))
        stmts.append(Stmt(f"{var} = lc.OrderBook.from_binance_depth({var}_depth)",
                          ("obj_or_path", "bids", "asks") + BOOK_NAMES, "book", {"var": var}))
    return stmts, mid


# -- positions and tiers ---------------------------------------------------------------------

TIER_NAMES = ("notional_floor", "mmr", "maint_amount", "max_leverage")
POS_NAMES = ("side", "qty", "entry_price", "margin", "mmr", "maint_amount", "tiers", "leverage")


def tiers_stmts(g: G, mid: float, var: str = "tiers", factor: float = 1.0) -> list[Stmt]:
    if g.coin(0.4):
        return [Stmt(f"{var} = lc.MaintenanceTiers.binance_btcusdt()", (), "tiers", {"var": var})]
    n = g.int(1, 4)
    floors = [0.0] + sorted({round(mid * g.fl(0.05, 5.0), 6) for _ in range(n - 1)})
    n = len(floors)
    mmr = sorted(g.pick([0.0, 0.004, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5]) for _ in range(n))
    parts = [f"{var}_floor = {g.array(floors, factor)}", f"{var}_mmr = {g.array(mmr, factor)}"]
    call = f"lc.MaintenanceTiers({var}_floor, {var}_mmr"
    if g.coin(0.4):
        maint = [0.0]
        for k in range(1, n):
            maint.append(maint[-1] + floors[k] * (mmr[k] - mmr[k - 1]))
        parts.append(f"{var}_maint = {g.array(maint, factor)}")
        call += f", maint_amount={var}_maint"
    if g.coin(0.3):
        parts.append(f"{var}_lev = {g.array([g.pick([125.0, 50.0, 20.0, 5.0]) for _ in range(n)], factor)}")
        call += f", max_leverage={var}_lev"
    return [Stmt(p) for p in parts] + [Stmt(f"{var} = {call})", TIER_NAMES, "tiers", {"var": var})]


def positions_stmts(g: G, mid: float, var: str = "positions", factor: float = 1.0,
                    tiers_var: str | None = None) -> list[Stmt]:
    n = g.pick([0, 1, 1, 2, 3, 5, 8, 12, 20])
    side = [g.pick([1, -1]) for _ in range(n)]
    qty = [g.pick([0.5, 1.0, 2.0]) if g.coin(0.5) else g.fl(0.001, 20.0) for _ in range(n)]
    entry = [mid * (1.0 + g.fl(-0.05, 0.05)) for _ in range(n)]
    lev = [g.pick([1.0, 5.0, 10.0, 20.0, 50.0, 125.0]) for _ in range(n)]
    margin = [q * e / lv for q, e, lv in zip(qty, entry, lev)]
    mmr = [g.pick([0.0, 0.004, 0.005, 0.01, 0.05]) for _ in range(n)]
    maint = [g.pick([0.0, 0.0, 0.1 * mid / 100, -0.1 * mid / 100]) for _ in range(n)]
    how = g.pick(["plain", "plain", "leverage", "tiers"]) if tiers_var is None else "tiers"
    stmts: list[Stmt] = []
    cols: dict[str, str] = {}

    def column(name: str, values: list[float], scalar: float | None = None, integral: bool = False) -> str:
        if scalar is not None and g.coin(0.2):
            code = g.real(scalar if not integral else repr(int(scalar)), factor)
        else:
            code = g.array(values, factor, integral=integral)
        stmts.append(Stmt(f"{var}_{name} = {code}"))
        cols[name] = f"{var}_{name}"
        return cols[name]

    column("side", [float(s) for s in side], 1.0 if not side or all(s == 1 for s in side) else None, integral=True)
    column("qty", qty)
    column("entry_price", entry, mid if g.coin(0.1) else None)
    names = POS_NAMES
    if how == "leverage":
        column("leverage", lev)
        kw = ""
        if g.coin(0.3):
            stmts += tiers_stmts(g, mid, f"{var}_tiers", factor)
            kw = f", tiers={var}_tiers"
        elif g.coin(0.6):
            column("mmr", mmr, 0.005)
            kw = f", mmr={var}_mmr"
        call = (f"lc.Positions.from_leverage({var}_side, {var}_qty, {var}_entry_price, {var}_leverage{kw})")
        args = {"var": var, "inputs": {k: cols[k] for k in ("side", "qty", "entry_price")}, "leverage": cols["leverage"]}
        if "tiers" in kw:
            args["tiers"] = f"{var}_tiers"
    else:
        column("margin", margin)
        if how == "tiers":
            if tiers_var is None:
                stmts += tiers_stmts(g, mid, f"{var}_tiers", factor)
                tiers_var = f"{var}_tiers"
            call = f"lc.Positions({var}_side, {var}_qty, {var}_entry_price, {var}_margin, tiers={tiers_var})"
            args = {"var": var, "inputs": dict(cols), "tiers": tiers_var}
        else:
            column("mmr", mmr, 0.005)
            column("maint_amount", maint, 0.0)
            call = (f"lc.Positions({var}_side, {var}_qty, {var}_entry_price, {var}_margin, {var}_mmr, "
                    f"{var}_maint_amount)")
            args = {"var": var, "inputs": dict(cols)}
    stmts.append(Stmt(f"{var} = {call}", names, "positions", args))
    return stmts


def mutate_stmts(g: G, var: str = "positions") -> list[Stmt]:
    """Change the caller's arrays after construction (the set must not see it)."""
    if not g.coin(0.15):
        return []
    code = (f"for _a in ({var}_qty, {var}_entry_price):\n"
            f"    if isinstance(_a, np.ndarray) and _a.dtype == np.float64 and _a.flags.writeable and _a.size:\n"
            f"        _a[:] = {g.pick(['-5.0', 'math.nan', '1e300', '0.0'])}")
    return [Stmt(code)]


# -- entry points ----------------------------------------------------------------------------

CASCADE_NAMES = ("book", "positions", "shock", "sell_qty", "buy_qty", "ref_price") + BOOK_NAMES


@st.composite
def book_case(draw: Any) -> Case:
    g = G(draw, draw(hostility()))
    stmts, _ = book_stmts(g)
    if g.coin(0.3):
        stmts.append(Stmt(f"depth = book.depth({g.array([g.pick([0.0, 0.01, 0.05, 1.0])], 1.0)})",
                          ("within", "bid_price", "ask_price"), None))
    return Case("OrderBook", stmts)


@st.composite
def positions_case(draw: Any) -> Case:
    g = G(draw, draw(hostility()))
    stmts, mid = book_stmts(G(draw, 0.0))
    stmts = positions_stmts(g, mid)
    if g.coin(0.3):
        stmts.append(Stmt("positions.prepare()", ("positions",)))
    return Case("Positions", stmts)


@st.composite
def tiers_case(draw: Any) -> Case:
    g = G(draw, draw(hostility()))
    stmts = tiers_stmts(g, 100.0)
    values = [g.pick([0.0, 1.0, 50.0, 1e4, 1e9]) for _ in range(g.int(0, 4))]
    stmts.append(Stmt(f"tier = tiers.tier_of({g.array(values)})", ("notional",), "tier_of",
                      {"var": "tier", "tiers": "tiers"}))
    if g.coin(0.5):
        stmts.append(Stmt(f"assigned = tiers.assign({g.array(values)})", ("notional",)))
    return Case("MaintenanceTiers", stmts)


def shock_args(g: G, mid: float) -> tuple[str, str, str]:
    """(keyword, value code, ref_price code) of a cascade call."""
    kind = g.pick(["shock"] * 5 + ["sell_qty", "buy_qty"])
    if kind == "shock":
        value = g.real(g.fl(-0.3, 0.3) if g.coin(0.8) else g.pick([0.0, -0.0, -0.9999, 2.0, 5e-324, -1e-12]))
    else:
        value = g.real(g.fl(0.01, 50.0) if g.coin(0.9) else g.pick([5e-324, 1e6]))
    ref = "None"
    if g.coin(0.3):
        ref = g.real(mid * (1 + g.fl(-0.05, 0.05)) if g.coin(0.8) else g.pick([1e308, 5e-324, mid * 10]))
    return kind, value, ref


@st.composite
def cascade_case(draw: Any) -> Case:
    p = draw(hostility())
    g = G(draw, p)
    stmts, mid = book_stmts(g, factor=0.2)
    stmts += positions_stmts(g, mid, factor=0.2)
    stmts += mutate_stmts(g)
    if g.coin(0.3):
        stmts.append(Stmt("positions.prepare()", ("positions",)))
    kind, value, ref = shock_args(g, mid)
    stmts.append(Stmt(f"value = {value}"))
    stmts.append(Stmt(f"ref = {ref}"))
    extra = ""
    if g.hostile(0.3):
        extra = g.pick([", shock=-0.01", ", sell_qty=1.0", ", buy_qty=1.0"])
    call = f"result = lc.cascade(book, positions{'' if kind == 'shock' and g.coin(0.5) else ''}, {kind}=value{extra}, ref_price=ref)"
    if kind == "shock" and g.coin(0.5):
        call = f"result = lc.cascade(book, positions, value{extra}, ref_price=ref)"
    check = None if extra else "cascade"
    stmts.append(Stmt(call, CASCADE_NAMES, check, {"var": "result", "kind": kind, "value": "value", "ref_price": "ref"}))
    return Case("cascade", stmts)


@st.composite
def cascade_many_case(draw: Any) -> Case:
    g = G(draw, draw(hostility()))
    stmts, mid = book_stmts(g, factor=0.2)
    stmts += positions_stmts(g, mid, factor=0.2)
    stmts += mutate_stmts(g)
    shocks = [g.fl(-0.3, 0.3) if g.coin(0.85) else g.pick([0.0, -0.9999, 1.0, 5e-324]) for _ in range(g.int(0, 8))]
    stmts.append(Stmt(f"shocks = {g.array(shocks)}"))
    _, _, ref = shock_args(g, mid)
    stmts.append(Stmt(f"ref = {ref}"))
    threads = g.integer(g.pick(["None", "1", "2"]), 0.5)
    progress = g.pick(["False", "False", "None", "(lambda done, total: None)", "True", "'auto'", "'yes'", "3"])
    stmts.append(Stmt(f"table = lc.cascade_many(book, positions, shocks, ref_price=ref, threads={threads}, "
                      f"progress={progress})",
                      CASCADE_NAMES + ("shocks", "threads", "progress"), "cascade_many",
                      {"var": "table", "book": "book", "positions": "positions", "shocks": "shocks",
                       "ref_price": "ref"}))
    return Case("cascade_many", stmts)


POPULATION_FIELDS = ("count", "long_share", "leverage", "leverage_weights", "entry_distribution", "entry_spread",
                     "entry_df", "size_distribution", "size_shape", "open_interest", "tiers", "mmr",
                     "maint_amount", "exclude_underwater", "margin_mode")
BOOK_MODEL_FIELDS = ("mid", "tick", "profile", "thinning", "level_noise", "notional_per_pct", "max_distance",
                     "notional_within_1pct", "exponent", "points", "total_notional", "decay")
SHOCK_FIELDS = ("kind", "values", "scale", "df")


def population_stmts(g: G, factor: float = 1.0) -> list[Stmt]:
    kw = [f"count={g.integer(g.pick([0, 1, 10, 200, 2000]), factor)}"]
    if g.coin(0.5):
        kw.append(f"long_share={g.real(g.pick([0.0, 0.55, 1.0]) if g.coin(0.5) else g.fl(0, 1), factor)}")
    if g.coin(0.3):
        levs = [g.pick([1.0, 5.0, 20.0, 125.0, 1000.0]) for _ in range(g.int(1, 3))]
        w = [1.0 / len(levs)] * len(levs)
        w[-1] = 1.0 - sum(w[:-1])
        kw.append(f"leverage={g.array(levs, factor)}")
        kw.append(f"leverage_weights={g.array(w, factor)}")
    dist = g.pick(["lognormal", "student_t", "uniform"])
    if g.coin(0.5) or g.hostile(factor):
        kw.append(f"entry_distribution={g.pick([repr(dist)] * 4 + ['None', repr('cauchy')])}")
    if g.coin(0.4):
        kw.append(f"entry_spread={g.real(g.pick([0.0, 0.025, 0.2, 0.9]), factor)}")
    if g.coin(0.3):
        kw.append(f"entry_df={g.real(g.pick([0.5, 1.0, 4.0, 5e-324, 1e300]), factor)}")
    size = g.pick(["pareto", "lognormal", "fixed"])
    if g.coin(0.5):
        kw.append(f"size_distribution={size!r}")
        kw.append(f"size_shape={g.real(g.pick([1.5, 2.0, 3.0]) if size == 'pareto' else g.pick([0.0, 0.5, 2.0]), factor)}")
    if g.coin(0.4):
        kw.append(f"open_interest={g.real(g.pick([1e3, 44e6, 1e9, 1e15]), factor)}")
    if g.coin(0.3):
        kw.append(f"tiers={g.pick(['None', 'None', 'lc.MaintenanceTiers.binance_btcusdt()'])}")
        kw.append(f"mmr={g.real(g.pick([0.0, 0.005, 0.05]), factor)}")
        kw.append(f"maint_amount={g.real(g.pick([0.0, 1.0, -1.0]), factor)}")
    if g.coin(0.2):
        kw.append(f"exclude_underwater={g.pick(['True', 'False', 'False'] + (['1', 'None'] if g.hostile(factor) else []))}")
    if g.hostile(factor * 0.2):
        kw.append("margin_mode=" + g.pick(["'cross'", "None"]))
    return [Stmt(f"population = lc.PositionPopulation({', '.join(kw)})", POPULATION_FIELDS, "model",
                 {"var": "population"})]


def book_model_stmts(g: G, factor: float = 1.0) -> list[Stmt]:
    common = []
    mid = g.pick([100_000.0, 100.0, 1.0])
    tick = mid * g.pick([1e-5, 1e-4, 1e-3, 1e-2])
    common.append(f"mid={g.real(mid, factor)}")
    common.append(f"tick={g.real(tick, factor)}")
    if g.coin(0.5):
        common.append(f"thinning={g.real(g.pick([0.0, 0.3, 0.99]), factor)}")
    if g.coin(0.5):
        common.append(f"level_noise={g.real(g.pick([0.0, 0.25, 2.0]), factor)}")
    how = g.pick(["default", "profile", "linear", "power", "exponential"])
    dist = g.real(g.pick([0.1, 0.5, 0.2]), factor)
    if how == "default":
        call = f"lc.BookModel({', '.join(common)})"
    elif how == "profile":
        pts = "((0.0, 0.0), (0.01, 2e7), (0.5, 1e8))"
        if g.hostile(factor):
            pts = g.pick(["((0.0, 0.0),)", "((0.0, 0.0), (0.01, math.nan))", "((0.0, 0.0), (0.01,))", "'abc'",
                          "((0.0, 0.0), (-0.01, 1e7))", "((0.0, 0.0), (0.01, 1e7), (0.02, 5e6))", "None",
                          "((0.0, 0.0), (0.5, 1e308))", "((0.0, 0.0), (1e-300, 1e8))", "[[0, 0], [0.1, 'x']]"])
        call = f"lc.BookModel(profile={pts}, {', '.join(common)})"
    elif how == "linear":
        call = f"lc.BookModel.linear({g.real(g.pick([2e6, 1e3, 1e12]), factor)}, {dist}, {', '.join(common)})"
    elif how == "power":
        call = (f"lc.BookModel.power({g.real(2e7, factor)}, {g.real(g.pick([0.5, 1.0, 2.0]), factor)}, {dist}, "
                f"points={g.integer(g.pick([2, 50, 200]), factor)}, {', '.join(common)})")
    else:
        call = (f"lc.BookModel.exponential({g.real(1e8, factor)}, {g.real(g.pick([0.01, 0.05]), factor)}, {dist}, "
                f"points={g.integer(g.pick([2, 50, 200]), factor)}, {', '.join(common)})")
    return [Stmt(f"book_model = {call}", BOOK_MODEL_FIELDS, "model", {"var": "book_model"})]


def shock_model_stmts(g: G, factor: float = 1.0) -> list[Stmt]:
    how = g.pick(["fixed", "normal", "student_t", "empirical", "list", "init"])
    values = [g.fl(-0.3, 0.3) for _ in range(g.int(1, 5))]
    if how == "fixed":
        call = f"lc.ShockModel.fixed({g.array(values, factor)})"
    elif how == "empirical":
        call = f"lc.ShockModel.empirical({g.array(values, factor)})"
    elif how == "normal":
        call = f"lc.ShockModel.normal({g.real(g.pick([0.01, 0.05, 0.5, 10.0]), factor)})"
    elif how == "student_t":
        call = (f"lc.ShockModel.student_t({g.real(g.pick([1.0, 3.0, 0.5, 5e-324]), factor)}, "
                f"{g.real(g.pick([0.01, 0.02, 0.3]), factor)})")
    elif how == "list":
        return [Stmt(f"shocks = {g.array(values, factor)}")]
    else:
        kind = g.pick(["'fixed'", "'normal'", "'student_t'", "'empirical'"] + (["'pareto'", "None"] if g.hostile(factor) else []))
        call = f"lc.ShockModel({kind}, values={g.array(values, factor)}, scale={g.real(0.02, factor)}, df={g.real(3.0, factor)})"
    return [Stmt(f"shocks = {call}", SHOCK_FIELDS, "model", {"var": "shocks"})]


MC_NAMES = ("population", "book_model", "shocks", "n_scenarios", "seed", "first_scenario", "threads", "progress",
            "index") + POPULATION_FIELDS + BOOK_MODEL_FIELDS + SHOCK_FIELDS


@st.composite
def monte_carlo_case(draw: Any) -> Case:
    g = G(draw, draw(hostility()))
    stmts = population_stmts(g, 0.5) + book_model_stmts(g, 0.5) + shock_model_stmts(g, 0.5)
    n = g.integer(g.pick([0, 1, 2, 3, 5]))
    seed = g.integer(g.pick([0, 1, 42, 2**32, 2**64 - 1]))
    first = g.integer(g.pick([0, 0, 7, 2**40, 2**63 - 3, 2**64 - 3]))
    threads = g.integer(g.pick(["None", "1", "2"]), 0.5)
    stmts += [Stmt(f"n = {n}"), Stmt(f"seed = {seed}"), Stmt(f"first = {first}")]
    progress = g.pick(["False", "False", "(lambda done, total: None)", "'auto'"] + (["'sometimes'"] if g.hostile() else []))
    stmts.append(Stmt(f"table = lc.monte_carlo(population, book_model, shocks, n, seed, first_scenario=first, "
                      f"threads={threads}, progress={progress})", MC_NAMES, "table",
                      {"var": "table", "n": "n", "first": "first", "count": "population.count"}))
    if g.coin(0.5):
        stmts.append(Stmt("scenario = lc.sample_scenario(population, book_model, shocks, seed, first)", MC_NAMES,
                          "scenario", {"var": "scenario", "count": "population.count"}))
        stmts.append(Stmt("replay = lc.cascade(scenario.book, scenario.positions, scenario.shock) if len(table) else None",
                          CASCADE_NAMES, "replay", {"var": "replay", "table": "table"}))
    if g.coin(0.3):
        level = g.real(g.pick([0.975, 0.5, 0.99]))
        stmts.append(Stmt(f"summary = table.summary(level={level}) if len(table) >= 2 else None",
                          ("summary", "level", "thresholds", "quantiles"), "summary", {"var": "summary"}))
    return Case("monte_carlo", stmts)


@st.composite
def sample_case(draw: Any) -> Case:
    g = G(draw, draw(hostility()))
    stmts = population_stmts(g, 0.5) + book_model_stmts(g, 0.5) + shock_model_stmts(g, 0.5)
    seed = g.integer(g.pick([0, 1, 2**63, 2**64 - 1]))
    index = g.integer(g.pick([0, 5, 2**63, 2**64 - 1]))
    how = g.pick(["scenario", "scenario", "build", "sample"])
    if how == "scenario":
        stmts.append(Stmt(f"scenario = lc.sample_scenario(population, book_model, shocks, {seed}, {index})", MC_NAMES,
                          "scenario", {"var": "scenario", "count": "population.count"}))
    elif how == "build":
        stmts.append(Stmt(f"book = book_model.build({seed}, {index})", BOOK_MODEL_FIELDS + ("seed", "scenario"),
                          "book", {"var": "book"}))
    else:
        stmts.append(Stmt(f"positions = population.sample({seed}, {index}, book_model)",
                          POPULATION_FIELDS + BOOK_MODEL_FIELDS + ("seed", "scenario", "book_model"),
                          "sampled_positions", {"var": "positions", "count": "population.count"}))
    return Case("sample_scenario", stmts)


SIM_NAMES = ("book", "positions", "policy", "steps", "dt", "path", "flow", "shock", "resilience", "mark",
             "mark_halflife", "basis", "band", "breakers", "insurance_fund") + BOOK_NAMES
POLICY_FIELDS = ("name", "fee_rate", "limit_at_bankruptcy", "takeover", "adl", "max_orders_per_step",
                 "max_notional_per_step", "unwind_per_step", "partial_tiers", "tiers", "backstop_fraction")


def policy_stmts(g: G, mid: float, factor: float = 1.0) -> tuple[list[Stmt], str]:
    preset = g.pick(["binance", "bybit", "hyperliquid", "market_orders", "custom"])
    if g.coin(0.15):
        return [], repr(preset if preset != "custom" else g.pick(["binance", "okx"]))
    kw = []
    stmts: list[Stmt] = []
    if g.coin(0.5) or preset == "custom":
        if g.coin(0.3):
            kw.append(f"fee_rate={g.real(g.pick([0.0, 0.0125, 0.05, 1.0]), factor)}")
        if g.coin(0.3):
            kw.append(f"max_orders_per_step={g.integer(g.pick([0, 1, 2, 5, 100]), factor)}")
        if g.coin(0.2):
            kw.append(f"max_notional_per_step={g.real(g.pick([0.0, mid, mid * 10]), factor)}")
        if g.coin(0.3):
            kw.append(f"unwind_per_step={g.real(g.pick([0.0, 0.5, 5.0]), factor)}")
        if g.coin(0.2):
            kw.append(f"backstop_fraction={g.real(g.pick([0.0, 2 / 3, 1.0]), factor)}")
        for flag in ("limit_at_bankruptcy", "takeover", "adl"):
            if g.coin(0.2):
                kw.append(f"{flag}={g.pick(['True', 'False'] + (['1', 'None'] if g.hostile(factor * 0.3) else []))}")
        if g.coin(0.3) or preset == "bybit":
            if g.coin(0.6):
                stmts += tiers_stmts(g, mid, "policy_tiers", factor * 0.5)
                kw.append("tiers=policy_tiers")
            if preset == "custom" and g.coin(0.5):
                kw.append("partial_tiers=True")
    ctor = "lc.LiquidationPolicy" + ("" if preset == "custom" else f".{preset}")
    stmts.append(Stmt(f"policy = {ctor}({', '.join(kw)})", POLICY_FIELDS, None))
    return stmts, "policy"


def simulate_case_stmts(g: G, *, factor_inputs: float = 0.2) -> list[Stmt]:
    stmts, mid = book_stmts(g, factor=factor_inputs)
    pstmts, policy = policy_stmts(g, mid, 0.5)
    tiers_var = "policy_tiers" if "policy_tiers" in "".join(s.code for s in pstmts) and g.coin(0.5) else None
    stmts += pstmts
    stmts += positions_stmts(g, mid, factor=factor_inputs, tiers_var=tiers_var)
    stmts += mutate_stmts(g)
    steps = g.pick([1, 1, 2, 3, 5, 10, 30])
    kw = []
    if g.coin(0.4):
        low = g.pick([0.5, 0.9, 0.97, 0.01, 1e-6])
        path = [mid] + [mid * math.exp(g.fl(math.log(low), 0.1)) for _ in range(steps - 1)]
        stmts.append(Stmt(f"path = {g.array(path)}"))
        kw.append("path=path")
    if g.coin(0.4):
        flow = [g.fl(-20, 20) if g.coin(0.6) else 0.0 for _ in range(steps)]
        stmts.append(Stmt(f"flow = {g.array(flow)}"))
        kw.append("flow=flow")
    if g.coin(0.6):
        kw.append(f"shock={g.real(g.fl(-0.3, 0.3) if g.coin(0.9) else g.pick([-0.9999, 5.0, -0.0]))}")
    if g.coin(0.3):
        kw.append(f"resilience={g.real(g.pick([0.0, 0.05, 1.0, 100.0]))}")
    mark = g.pick(["'last'", "'ema'", "'index'"]) if not g.hostile() else g.pick(["'vwap'", "None", "1", "'LAST'"])
    kw.append(f"mark={mark}")
    if "ema" in mark or g.coin(0.2):
        kw.append(f"mark_halflife={g.real(g.pick([0.0, 1.0, 3.0, 1e300]))}")
    if "index" in mark or g.coin(0.2):
        kw.append(f"basis={g.real(g.pick([0.0, mid * 0.001, -mid * 0.01, -mid * 2.0, -mid * 10.0]))}")
    if g.coin(0.3):
        kw.append(f"band={g.real(g.pick([0.0, 0.01, 0.05, 0.5]))}")
    if g.coin(0.3):
        items = []
        for _ in range(g.int(0, 3)):
            items.append(f"lc.CircuitBreaker({g.real(g.pick([0.001, 0.01, 0.05]))}, "
                         f"{g.integer(g.pick([1, 2, 5]))}, {g.integer(g.pick([1, 3, 10, 2**63 - 1, 2**63 - 2]))})")
        if g.hostile():
            items.append(g.pick(["(0.1, 1, 1)", "None", "'breaker'"]))
        kw.append(f"breakers=[{', '.join(items)}]")
    fund = g.pick([0.0, 0.0, 10.0, 1e6, mid])
    if g.coin(0.6):
        stmts.append(Stmt(f"fund = {g.real(fund)}"))
        kw.append("insurance_fund=fund")
    else:
        stmts.append(Stmt("fund = 0.0"))
    stmts.append(Stmt(f"steps = {g.integer(steps)}"))
    dt = g.real(g.pick([1.0, 1.0, 0.5, 60.0]))
    expr = f"lc.simulate(book, positions, {policy}, steps, {dt}{''.join(', ' + k for k in kw)})"
    stmts.append(Stmt(f"sim = {expr}", SIM_NAMES + POLICY_FIELDS, "simulation",
                      {"var": "sim", "expr": expr, "steps": "steps", "fund": "fund"}))
    return stmts


@st.composite
def simulate_case(draw: Any) -> Case:
    g = G(draw, draw(hostility()))
    return Case("simulate", simulate_case_stmts(g))


@st.composite
def gbm_case(draw: Any) -> Case:
    g = G(draw, draw(hostility()))
    steps = g.integer(g.pick([1, 2, 10, 100]))
    args = [steps, g.real(g.pick([1.0, 0.01, 60.0])), g.real(g.pick([100.0, 1.0, 1e5])),
            g.real(g.pick([0.0, 0.001, 0.02, 1.0]))]
    kw = []
    for name, vals in (("mu", [0.0, 0.001, -0.01]), ("jump_rate", [0.0, 0.1, 1.0]), ("jump_mean", [0.0, -0.05]),
                       ("jump_std", [0.0, 0.02])):
        if g.coin(0.4):
            kw.append(f"{name}={g.real(g.pick(vals))}")
    if g.coin(0.3):
        kw.append(f"seed={g.integer(g.pick([0, 1, 2**63]))}")
    stmts = [Stmt(f"steps = {args[0]}"), Stmt(f"start = {args[2]}"),
             Stmt(f"path = lc.gbm_path(steps, {args[1]}, start, {args[3]}{''.join(', ' + k for k in kw)})",
                  ("steps", "dt", "start", "sigma", "mu", "jump_rate", "jump_mean", "jump_std", "seed"), "path",
                  {"var": "path", "steps": "steps", "start": "start"})]
    return Case("gbm_path", stmts)


@st.composite
def flow_case(draw: Any) -> Case:
    g = G(draw, draw(hostility()))
    steps = g.integer(g.pick([1, 2, 10, 100]))
    kw = []
    if g.coin(0.4):
        kw.append(f"buy_share={g.real(g.pick([0.0, 0.5, 1.0]))}")
    if g.coin(0.3):
        kw.append(f"seed={g.integer(g.pick([0, 1, 2**63]))}")
    call = (f"lc.random_flow(steps, {g.real(g.pick([0.0, 0.5, 3.0]))}, {g.real(g.pick([0.0, 1.0, 100.0]))}"
            f"{''.join(', ' + k for k in kw)})")
    return Case("random_flow", [Stmt(f"steps = {steps}"),
                                Stmt(f"flow = {call}", ("steps", "rate", "mean_size", "buy_share", "seed"), "flow",
                                     {"var": "flow", "steps": "steps"})])


@st.composite
def buffer_case(draw: Any) -> Case:
    g = G(draw, draw(hostility()))
    limit = g.integer(g.pick(["None", "0", "1 << 20", "256 << 20", "1 << 40"]))
    stmts = [Stmt(f"limit = {limit}"), Stmt("cache = lc.buffer_cache(limit)", ("limit",), "buffer_cache",
                                           {"var": "cache", "limit": "limit"})]
    if g.coin(0.3):
        stmts.append(Stmt("freed = lc.release_buffers()", ("limit",)))
    if g.coin(0.2):
        stmts.append(Stmt("include = lc.get_include()", ("include",)))
    return Case("buffer_cache", stmts)


def cases() -> st.SearchStrategy[Case]:
    """Every entry point, weighted toward the ones with the most behaviour."""
    return st.one_of(
        simulate_case(), simulate_case(), simulate_case(), cascade_case(), cascade_case(), cascade_many_case(),
        book_case(), positions_case(), tiers_case(), monte_carlo_case(), sample_case(), gbm_case(), flow_case(),
        buffer_case(),
    )


# -- the reproducers (issue 15), always run -----------------------------------------

def _case(entry: str, *stmts: Stmt) -> Case:
    return Case(entry, list(stmts))


def known_cases() -> list[Case]:
    m = 96211.60209131344
    hang_book = Stmt(f"book = lc.OrderBook([{m!r}, {m - 10!r}], [1000.0, 1000.0], [103000.0], [1.0])",
                     BOOK_NAMES, "book", {"var": "book"})
    hang_pos = Stmt("positions = lc.Positions([1], [1.0], [100000.0], [3800.0], "
                    "tiers=lc.MaintenanceTiers.binance_btcusdt())", POS_NAMES, "positions", {"var": "positions"})
    small_book = Stmt("book = lc.OrderBook([99.0, 90.0], [1.0, 100.0], [101.0], [1.0])", BOOK_NAMES, "book",
                      {"var": "book"})
    long_pos = Stmt("positions = lc.Positions([1], [1.0], [100.0], [10.0])", POS_NAMES, "positions",
                    {"var": "positions"})

    def sim(expr: str, steps: str = "1", fund: str = "0.0") -> Stmt:
        return Stmt(f"sim = {expr}", SIM_NAMES + POLICY_FIELDS, "simulation",
                    {"var": "sim", "expr": expr, "steps": steps, "fund": fund})

    def casc(expr: str, kind: str, value: str, ref: str = "None") -> Stmt:
        return Stmt(f"result = {expr}", CASCADE_NAMES, "cascade",
                    {"var": "result", "kind": kind, "value": value, "ref_price": ref})

    mc = ("lc.PositionPopulation(count=10)", "lc.BookModel()", "lc.ShockModel.fixed([-0.02])")
    return [
        _case("simulate", hang_book, hang_pos,
              sim("lc.simulate(book, positions, lc.LiquidationPolicy.bybit(), 1, shock=-0.03407631803279687)")),
        _case("simulate", small_book, long_pos,
              sim("lc.simulate(book, positions, 'market_orders', 3, path=[100.0, 5.0, 5.0])", "3")),
        _case("simulate", small_book, long_pos,
              sim("lc.simulate(book, positions, 'binance', 2, mark='index', basis=-1000.0, insurance_fund=1e6)", "2",
                  "1e6")),
        _case("simulate", small_book, long_pos,
              sim("lc.simulate(book, positions, 'binance', 3, breakers=[lc.CircuitBreaker(0.001, 1, 2**63 - 1)], "
                  "shock=-0.05)", "3")),
        _case("simulate", small_book, long_pos,
              sim("lc.simulate(book, positions, 'binance', 3, breakers=[lc.CircuitBreaker(0.001, 1, 2**63 - 2)], "
                  "shock=-0.05)", "3")),
        _case("cascade", small_book, long_pos, casc("lc.cascade(book, positions, 1e308)", "shock", "1e308")),
        _case("cascade", small_book, long_pos,
              casc("lc.cascade(book, positions, -0.5, ref_price=1e308)", "shock", "-0.5", "1e308")),
        _case("OrderBook", Stmt("book = lc.OrderBook([1e308], [1.0], [1.7976931348623157e308], [1.0])", BOOK_NAMES,
                                "book", {"var": "book"})),
        _case("Positions", Stmt("positions = lc.Positions.from_leverage(1, 1.0, 1e10, 1e-300)", POS_NAMES,
                                "positions", {"var": "positions", "leverage": "1e-300"})),
        _case("monte_carlo", Stmt(f"population = {mc[0]}"), Stmt(f"book_model = {mc[1]}"), Stmt(f"shocks = {mc[2]}"),
              Stmt("table = lc.monte_carlo(population, book_model, shocks, 2, 0, first_scenario=2**63, progress=False)",
                   MC_NAMES, "table", {"var": "table", "n": "2", "first": "2**63", "count": "10"})),
        _case("Positions", Stmt("qty = np.array([1.0, 2.0, 3.0])"),
              Stmt("positions = lc.Positions(1, qty, 100.0, 10.0)", POS_NAMES, "positions", {"var": "positions"}),
              Stmt("qty[:] = [-5.0, math.nan, 1e300]"), small_book,
              casc("lc.cascade(book, positions, -0.5)", "shock", "-0.5")),
        _case("PositionPopulation", Stmt("population = lc.PositionPopulation(maint_amount=math.nan)",
                                         POPULATION_FIELDS, None)),
        _case("gbm_path", Stmt("path = lc.gbm_path(10, 1.0, 100.0, 0.01, mu=math.nan)",
                               ("steps", "dt", "start", "sigma", "mu"), None)),
        _case("monte_carlo", Stmt(f"population = {mc[0]}"), Stmt(f"book_model = {mc[1]}"), Stmt(f"shocks = {mc[2]}"),
              Stmt("table = lc.monte_carlo(population, book_model, shocks, 1, 2**64, progress=False)", MC_NAMES,
                   "table", {"var": "table", "n": "1", "count": "10"})),
        _case("monte_carlo", Stmt(f"population = {mc[0]}"), Stmt(f"book_model = {mc[1]}"), Stmt(f"shocks = {mc[2]}"),
              Stmt("table = lc.monte_carlo(population, book_model, shocks, 1, 10**400, progress=False)", MC_NAMES,
                   "table", {"var": "table", "n": "1", "count": "10"})),
        _case("monte_carlo", Stmt(f"population = {mc[0]}"), Stmt(f"book_model = {mc[1]}"), Stmt(f"shocks = {mc[2]}"),
              Stmt("table = lc.monte_carlo(population, book_model, shocks, 1, 0, threads=2**32, progress=False)",
                   MC_NAMES, "table", {"var": "table", "n": "1", "count": "10"})),
        _case("random_flow", Stmt("flow = lc.random_flow(10, 1e300, 1.0)", ("steps", "rate", "mean_size"), "flow",
                                  {"var": "flow", "steps": "10"})),
        _case("BookModel", Stmt("book_model = lc.BookModel.power(2e7, 0.5, points=-1)", BOOK_MODEL_FIELDS, None)),
        _case("monte_carlo", Stmt(f"population = {mc[0]}"), Stmt(f"book_model = {mc[1]}"),
              Stmt("table = lc.monte_carlo(population, book_model, [[0.1], [0.1, 0.2]], 1, progress=False)",
                   MC_NAMES, "table", {"var": "table", "n": "1", "count": "10"})),
        _case("sample_scenario", Stmt(f"book_model = {mc[1]}"), Stmt(f"shocks = {mc[2]}"),
              Stmt("scenario = lc.sample_scenario(lc.PositionPopulation(count=10, entry_df=5e-324, "
                   "entry_distribution='student_t'), book_model, shocks, 0, 0)",
                   MC_NAMES, "scenario", {"var": "scenario", "count": "10"})),
        _case("sample_scenario", Stmt(f"population = {mc[0]}"), Stmt(f"shocks = {mc[2]}"),
              Stmt("scenario = lc.sample_scenario(population, lc.BookModel(level_noise=1e300), shocks, 0, 0)",
                   MC_NAMES, "scenario", {"var": "scenario", "count": "10"})),
    ]
