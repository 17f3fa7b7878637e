"""Many markets through time (docs/design.md, "Many markets through time"): a venue's markets
each step as :func:`liqcascade.simulate` steps one market (book profile and resilience,
fundamental path, flow, mark, band, breakers, throughput, insurance fund, ADL, funding), while
the venue's cross accounts are checked on the marks every step; liquidating an account queues
its positions' closes in their markets and sells its market-priced collateral there. The rules
and checks are the core's (``venue_simulator.cpp``); this module converts and names.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from . import _core
from ._table import ColumnTable
from ._validation import FloatArray, float_column, int_scalar, real_scalar
from .agents import Funds, LeveragedTokens, StopOrders
from .simulator import CircuitBreaker, LiquidationPolicy, SimulationResult, _simulation_config, _simulation_result
from .venue import Accounts, Venue, VenuePositions, VenueState

__all__ = ["VenueSimulationResult", "correlated_gbm_paths", "simulate_venue"]

ORDER_KINDS = ("close", "sale")


@dataclass(frozen=True, eq=False)
class VenueSimulationResult:
    """A venue's run through time.

    ``markets``: per market, its :class:`SimulationResult` as :func:`simulate` gives it (its
    ``timeline`` has, besides the one-market columns, ``account_qty``/``account_notional``
    (cross accounts' closes filled in the step; included in ``liquidated_qty``/``_notional``),
    ``sale_qty``/``sale_notional`` (collateral sold) and ``accounts_liquidated`` (accounts with
    a position in the market whose liquidation started); its ``events`` name venue position
    indexes). ``orders``: one row per cross account's order tried (``step``, ``market``,
    ``account``, ``kind`` and ``kind_name`` (``close`` a position, ``sale`` of collateral),
    ``item`` (the position or the asset index), ``qty`` filled, ``price`` (VWAP; NaN: nothing
    filled), ``unfilled`` (what the book would not take), ``absorbed`` (of that, what the fund
    took over or ADL closed, at the mark; the rest waits for the next step)). ``accounts``: one
    row per liquidated account (``account``, ``step``, ``equity`` and ``maintenance`` at the
    marks that triggered it, ``settled_step`` (-1: orders left at the end), ``equity_after``,
    ``bad_debt``). ``fund_final``: each insurance fund's
    balance at the end (``fund_of_market`` maps markets to funds). Per venue position:
    ``final_qty`` (what is left open: an isolated position's as the engine left it, a cross
    position's size less its closes' fills and what was absorbed) and ``liquidated`` (an isolated
    position closed by the engine, a cross position of a liquidated account).
    """

    market_names: tuple[str, ...]
    markets: tuple[SimulationResult, ...]
    orders: ColumnTable
    accounts: ColumnTable
    fund_final: FloatArray
    fund_of_market: npt.NDArray[np.int64]
    final_qty: FloatArray
    liquidated: npt.NDArray[np.bool_]
    n_accounts: int
    accounts_evaluated: int
    stops: ColumnTable
    token_rebalances: ColumnTable
    fund_sales: ColumnTable
    token_nav: FloatArray
    fund_debt_after: FloatArray
    fund_holdings_after: FloatArray

    def market(self, name: str) -> SimulationResult:
        """One market's result, by name."""
        if name not in self.market_names:
            raise KeyError(f"market: no market named {name!r}; the venue has {', '.join(self.market_names)}")
        return self.markets[self.market_names.index(name)]

    @property
    def timeline(self) -> ColumnTable:
        """Every market's timeline, one row per step and market (``market`` names it)."""
        columns = ("time", "price", "mark_price", "fundamental", "liquidated_qty", "liquidated_notional",
                   "account_qty", "sale_qty", "insurance_fund", "adl_qty", "halted", "queued")
        steps = len(self.markets[0].timeline["time"])
        out: dict[str, Any] = {"step": np.tile(np.arange(steps), len(self.markets)),
                               "market": np.repeat(np.array(self.market_names, dtype=object), steps)}
        for c in columns:
            out[c] = np.concatenate([m.timeline[c] for m in self.markets])
        return ColumnTable(out)

    @property
    def events(self) -> ColumnTable:
        """Every market's engine events and every account order, one table in step order (stable:
        within a step, the markets' events in market order, then the account orders as they
        went): ``step``, ``market``, ``kind_name`` (the engine's ``EVENT_KINDS``, or
        ``account_close``, ``collateral_sale``), ``position`` (-1: the fund, or a sale),
        ``account`` (-1: an isolated position or the fund), ``qty``, ``price``, ``loss`` (the
        fund's; NaN for account orders, whose bad debt is per account)."""
        parts: dict[str, list[Any]] = {k: [] for k in ("step", "market", "kind_name", "position", "account", "qty",
                                                       "price", "loss")}
        for name, m in zip(self.market_names, self.markets, strict=True):
            e = m.events
            n = len(e)
            for key, values in (("step", e["step"]), ("market", np.full(n, name, dtype=object)),
                                ("kind_name", e["kind_name"]), ("position", e["position"]),
                                ("account", np.full(n, -1)), ("qty", e["qty"]), ("price", e["price"]),
                                ("loss", e["loss"])):
                parts[key].append(np.asarray(values))
        o = self.orders
        closes = o["kind"] == 0
        names = np.array(self.market_names, dtype=object)
        for key, values in (("step", o["step"]), ("market", names[o["market"]]),
                            ("kind_name", np.where(closes, "account_close", "collateral_sale").astype(object)),
                            ("position", np.where(closes, o["item"], -1)), ("account", o["account"]),
                            ("qty", o["qty"]), ("price", o["price"]), ("loss", np.full(len(o), np.nan))):
            parts[key].append(np.asarray(values))
        columns = {k: np.concatenate(v) for k, v in parts.items()}
        order = np.argsort(columns["step"], kind="stable")
        return ColumnTable({k: v[order] for k, v in columns.items()})

    @property
    def account_liquidated(self) -> npt.NDArray[np.bool_]:
        """Per account: whether its liquidation started."""
        out = np.zeros(self.n_accounts, dtype=np.bool_)
        out[self.accounts["account"]] = True
        return out

    @property
    def account_bad_debt(self) -> FloatArray:
        """Per account: its bad debt (0 unless liquidated with a deficit)."""
        out = np.zeros(self.n_accounts)
        out[self.accounts["account"]] = self.accounts["bad_debt"]
        return out

    @property
    def bad_debt(self) -> float:
        """The venue's bad debt: the funds' losses on isolated positions plus the accounts'."""
        isolated = sum(float(np.sum(m.events["loss"][m.events["kind"] == 0])) for m in self.markets)
        return isolated + float(np.sum(self.accounts["bad_debt"]))

    def __repr__(self) -> str:
        return (f"VenueSimulationResult(markets={list(self.market_names)}, steps={len(self.markets[0].timeline)}, "
                f"accounts_liquidated={len(self.accounts)}, bad_debt={self.bad_debt:,.2f})")


def _per_market(value: Any, venue: Venue, field: str, default: float) -> list[float]:
    """A scalar for every market, or a mapping by market name (others: ``default``)."""
    names = venue.market_names
    if isinstance(value, Mapping):
        out = [default] * len(names)
        for name, v in value.items():
            out[venue.market_index(name)] = real_scalar(v, f"{field}[{name!r}]")
        return out
    return [real_scalar(value, field)] * len(names)


def _paths(value: Any, venue: Venue, steps: int, field: str, fill: Sequence[float] | None) -> list[float]:
    """A steps x markets table (row-major), from a 2-D array or a mapping of market name to a
    column (others: ``fill``, or 0 when ``fill`` is None)."""
    names = venue.market_names
    if value is None:
        return []
    if isinstance(value, Mapping):
        table = np.empty((steps, len(names)))
        table[:] = 0.0 if fill is None else np.asarray(fill)
        for name, column in value.items():
            table[:, venue.market_index(name)] = float_column(column, f"{field}[{name!r}]", steps)
    else:
        try:
            table = np.array(value, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise TypeError(f"{field}: expected a (steps, markets) array of numbers ({exc})") from None
        if table.shape != (steps, len(names)):
            raise ValueError(f"{field}: expected shape (steps, markets) = ({steps}, {len(names)}), got {table.shape}")
    return table.ravel().tolist()


def _fund_groups(venue: Venue, fund_groups: Sequence[Sequence[str]] | None) -> list[int]:
    """Each market's fund: markets named together in ``fund_groups`` share one; the others own
    one each. Funds are numbered by their first market."""
    names = venue.market_names
    group_of = list(range(len(names)))
    seen: dict[str, int] = {}
    for k, group in enumerate(fund_groups or ()):
        if isinstance(group, str):
            raise TypeError(f"fund_groups[{k}]: expected a sequence of market names, got the string {group!r}")
        members = [venue.market_index(name) for name in group]
        for name in group:
            if name in seen:
                raise ValueError(f"fund_groups[{k}]: market {name!r} is already in fund_groups[{seen[name]}]")
            seen[name] = k
        for m in members:
            group_of[m] = min(members)
    numbering = {g: i for i, g in enumerate(sorted(set(group_of)))}
    return [numbering[g] for g in group_of]


def simulate_venue(
    venue: Venue | VenueState,
    positions: VenuePositions | None = None,
    accounts: Accounts | None = None,
    steps: int = 1,
    dt: float = 1.0,
    *,
    policy: LiquidationPolicy | str = "binance",
    paths: Any = None,
    flows: Any = None,
    shocks: Mapping[str, float] | None = None,
    resilience: float | Mapping[str, float] = 0.0,
    mark: Literal["last", "ema", "index"] = "last",
    mark_halflife: float = 0.0,
    band: float = 0.0,
    breakers: Sequence[CircuitBreaker] = (),
    insurance_fund: float | Mapping[str, float] = 0.0,
    fund_groups: Sequence[Sequence[str]] | None = None,
    funding_interval: int = 0,
    funding_interest: float = 0.0001,
    funding_clamp: float = 0.0005,
    funding_cap: float = 0.003,
    stops: StopOrders | None = None,
    tokens: LeveragedTokens | None = None,
    funds: Funds | None = None,
    token_rebalance_interval: int = 0,
) -> VenueSimulationResult:
    """Simulate a venue for ``steps`` steps of ``dt`` (docs/design.md, "Many markets through
    time").

    ``venue`` is a :class:`Venue` (with ``positions`` and ``accounts``) or a :class:`VenueState`.
    Each market steps as :func:`liqcascade.simulate` does, with the shared ``policy``, ``mark``,
    ``band``, ``breakers`` and funding. Per market: ``paths`` (fundamentals: a (steps, markets)
    array, e.g. :func:`correlated_gbm_paths`, or a mapping of market name to a path; others
    stay at their book's mid), ``flows`` (signed exogenous orders, the same shapes),
    ``shocks`` (a relative move at step 0, by market name), ``resilience`` (a rate, or a
    mapping by name). Insurance funds: one per market, except the markets named together in a
    group of ``fund_groups``, which share one (Binance: BTCUSDT and ETHUSDT each own theirs,
    the rest share); ``insurance_fund`` is each fund's starting balance (a number for all, or a
    mapping of a market name to its fund's). Isolated positions are exactly the one-market
    engine's; cross accounts are checked on the marks each step (equity ≤ maintenance) and a
    liquidated account's closes and collateral sales queue in their markets after the isolated
    ones, within each market's throughput. Agents (``stops``, ``tokens``, ``funds`` of
    :mod:`liqcascade.agents`; with a :class:`Venue`, or held by the :class:`VenueState`) trade
    through time at the marks: stops once reached, tokens at their thresholds and every
    ``token_rebalance_interval`` steps (0: thresholds only), funds past their buffer (each token
    and fund at most once a step). Deterministic.
    """
    if isinstance(venue, VenueState):
        if any(x is not None for x in (positions, accounts, stops, tokens, funds)):
            raise TypeError("simulate_venue: give positions, accounts and agents with a Venue, not with a VenueState")
        state = venue
    else:
        if positions is None:
            raise TypeError("simulate_venue: positions are required with a Venue")
        state = VenueState(venue, positions, accounts, stops=stops, tokens=tokens, funds=funds)
    v = state.venue
    n_steps = int_scalar(steps, "steps", minimum=1)
    common = _simulation_config(policy, n_steps, dt, path=None, flow=None, shock=0.0, resilience=0.0, mark=mark,
                                mark_halflife=mark_halflife, basis=0.0, band=band, breakers=breakers,
                                insurance_fund=0.0, funding_interval=funding_interval, funding_rate=None,
                                funding_interest=funding_interest, funding_clamp=funding_clamp,
                                funding_cap=funding_cap)
    config = _core.VenueSimulationConfig()
    config.common = common
    # markets without a path stay at their book's mid (a one-sided book has none: the core refuses
    # it, naming the market; 1.0 only keeps the table's shape until then)
    mids = [m.book.mid if m.book.bid_price.size and m.book.ask_price.size else 1.0 for m in v.markets]
    config.paths = _paths(paths, v, n_steps, "paths", mids)
    config.flows = _paths(flows, v, n_steps, "flows", None)
    config.shocks = _per_market(shocks or {}, v, "shocks", 0.0)
    config.resilience = _per_market(resilience, v, "resilience", 0.0)
    groups = _fund_groups(v, fund_groups)
    config.fund_group = groups
    starts = _per_market(insurance_fund, v, "insurance_fund", 0.0)
    fund_start = [0.0] * (max(groups) + 1)
    given: dict[int, tuple[str, float]] = {}
    for m, g in enumerate(groups):
        if isinstance(insurance_fund, Mapping) and v.market_names[m] in insurance_fund:
            name = v.market_names[m]
            if g in given and given[g][1] != starts[m]:
                raise ValueError(f"insurance_fund: markets {given[g][0]!r} and {name!r} share a fund but were given "
                                 f"different balances ({given[g][1]} and {starts[m]})")
            given[g] = (name, starts[m])
        fund_start[g] = given[g][1] if g in given else starts[m]
    config.insurance_fund = fund_start
    config.token_rebalance_interval = int_scalar(token_rebalance_interval, "token_rebalance_interval")
    raw = _core.simulate_venue(state._state, config, state._agents)
    fund_of_market = np.array(groups, dtype=np.int64)
    markets = tuple(_simulation_result(r, fund_start[g]) for r, g in zip(raw["markets"], groups, strict=True))
    orders = dict(raw["orders"])
    orders["kind_name"] = np.array(ORDER_KINDS, dtype=object)[orders["kind"]]
    accounts_table = dict(raw["accounts"])
    # per venue position: isolated ones from their market's engine, cross ones from their orders
    p = state.positions
    final_qty = np.array(p.qty, dtype=np.float64)
    liquidated = np.zeros(len(p), dtype=np.bool_)
    for r, result in zip(raw["markets"], markets, strict=True):
        final_qty[r["isolated_index"]] = result.final_qty
        liquidated[r["isolated_index"]] = result.liquidated
    closes = orders["kind"] == 0
    np.subtract.at(final_qty, orders["item"][closes], orders["qty"][closes] + orders["absorbed"][closes])
    cross = np.asarray(p.account) >= 0
    account_liquidated = np.zeros(len(state.accounts), dtype=np.bool_)
    account_liquidated[accounts_table["account"]] = True
    liquidated[cross] = account_liquidated[np.asarray(p.account)[cross]]
    return VenueSimulationResult(
        market_names=v.market_names, markets=markets, orders=ColumnTable(orders),
        accounts=ColumnTable(accounts_table), fund_final=raw["fund_final"], fund_of_market=fund_of_market,
        final_qty=final_qty, liquidated=liquidated,
        n_accounts=len(state.accounts), accounts_evaluated=int(raw["accounts_evaluated"]),
        stops=ColumnTable(dict(raw["stops"])), token_rebalances=ColumnTable(dict(raw["token_rebalances"])),
        fund_sales=ColumnTable(dict(raw["fund_sales"])), token_nav=raw["token_nav"],
        fund_debt_after=raw["fund_debt_after"],
        fund_holdings_after=raw["fund_holdings_after"].reshape(-1, len(v.markets)))


def correlated_gbm_paths(steps: int, dt: float, start: Sequence[float], sigma: Sequence[float] | None = None, *,
                         correlation: Any = None, cov: Any = None, mu: float | Sequence[float] = 0.0,
                         seed: int = 0) -> FloatArray:
    """Correlated geometric Brownian fundamentals, a (steps, markets) array: row 0 is ``start``;
    then ``p[t] = p[t-1] · exp((mu − σ²/2) dt + σ √dt · Y_t)`` with ``Y_t ~ N(0, correlation)``
    (``Y = L Z``, ``L`` the Cholesky factor, ``Z`` standard normals from step ``t``'s
    counter-based stream): the same inputs give the same paths on every machine. Give ``sigma``
    (per unit time, per market) with ``correlation`` (default: independent), or ``cov`` (the
    covariance of the log-returns per unit time: ``sigma = sqrt(diag)``, ``correlation = cov /
    (σ σᵀ)``)."""
    start_arr = float_column(start, "start")
    k = start_arr.size
    if cov is not None:
        if sigma is not None or correlation is not None:
            raise TypeError("correlated_gbm_paths: give cov, or sigma with correlation, not both")
        try:
            c = np.array(cov, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise TypeError(f"cov: expected a 2-D array of numbers ({exc})") from None
        if c.shape != (k, k):
            raise ValueError(f"cov: expected shape ({k}, {k}) (one row per market of start), got {c.shape}")
        diag = np.diag(c)
        if not np.all(np.isfinite(diag) & (diag >= 0)):
            raise ValueError(f"cov: the diagonal (variances) must be finite and >= 0, got {diag.tolist()}")
        sig = np.sqrt(diag)
        scale = np.where(sig > 0, sig, 1.0)
        corr = c / np.outer(scale, scale)
        np.fill_diagonal(corr, 1.0)
    else:
        if sigma is None:
            raise TypeError("correlated_gbm_paths: give sigma (with correlation) or cov")
        sig = float_column(sigma, "sigma", k)
        corr = np.eye(k) if correlation is None else np.array(correlation, dtype=np.float64)
        if corr.shape != (k, k):
            raise ValueError(f"correlation: expected shape ({k}, {k}) (one row per market of start), got {corr.shape}")
    mu_arr = np.full(k, real_scalar(mu, "mu")) if np.ndim(mu) == 0 else float_column(mu, "mu", k)
    seed_value = int_scalar(seed, "seed", minimum=0, maximum=2**64 - 1)
    out: FloatArray = _core.correlated_gbm_paths(corr.ravel().tolist(), sig.tolist(), mu_arr.tolist(),
                                                 start_arr.tolist(), int_scalar(steps, "steps", minimum=1),
                                                 real_scalar(dt, "dt"), seed_value)
    return out
