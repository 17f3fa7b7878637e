"""The time-stepped simulation of one market through an exchange's liquidation engine
(docs/design.md, "Exchange-grade liquidation engine").

Per step ``dt``: the book's profile re-centres on the fundamental price (``path``) and the
depth consumed so far refills at resilience rate ``rho`` (the consumed volume decays as
``exp(-rho dt)``, Obizhaeva-Wang); exogenous flow trades (an initial ``shock`` consumes the
book as the static cascade does, ``flow`` sends signed market orders); the mark price updates
(last trade, its EMA, or the index = path + basis); the engine liquidates what the mark has
triggered, in trigger order and within its throughput; the insurance fund collects clearance
fees, covers bad debt, takes over what the book would not fill and sells it back; ADL closes
the most profitable, most leveraged opposite positions when the fund cannot; circuit breakers
halt trading (nothing fills, the book refills, the queue is kept).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, fields, replace
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from . import _core
from ._table import ColumnTable
from ._validation import FloatArray, bounded_scalar, core_enum, float_column, int_scalar, real_scalar
from ._warnings import warn
from .book import OrderBook
from .positions import MaintenanceTiers, Positions

EVENT_KINDS = ("liquidation", "takeover", "adl", "unwind", "margin_call", "call_met")


@dataclass(frozen=True)
class LiquidationPolicy:
    """How the exchange liquidates.

    ``fee_rate``: clearance fee on liquidated notional, paid to the insurance fund, capped at
    the equity the position has left. ``limit_at_bankruptcy``: liquidation orders are IOC and
    fill no worse than the bankruptcy price. ``takeover``: the insurance fund (while its
    balance is positive) takes over what the book would not fill, at the bankruptcy price, and
    sells it back ``unwind_per_step`` at a time (0: all at once). ``adl``: otherwise, and when
    the fund is negative, opposite positions are deleveraged, ranked by PnL% x effective
    leverage (PnL% / effective leverage for losing ones); with ``adl_ranking="binance"``, by
    Binance's documented ``PnlPercent x MarginRatio``: ``max(0, upnl) / max(1, wallet)`` times
    ``MM / (wallet + upnl)``, the position's margin as its wallet. ``max_orders_per_step`` and
    ``max_notional_per_step``: throughput (0: unlimited; an order starts while the step's
    liquidated notional is below the cap); the rest queue in trigger order. ``partial_tiers``: a triggered position
    above the first of ``tiers`` is first reduced to the lower tier's notional limit (its
    realised PnL and fee settle against its margin; it takes the lower tier's maintenance) and
    re-checked; only in the first tier is it closed in full. ``backstop_fraction``: a
    triggered position whose equity is below this fraction of its maintenance is taken over
    whole by the backstop vault (the insurance fund) at the mark, with what collateral it has
    left. ``slice_above``: a triggered position whose notional at the mark is above it sells
    ``slice_fraction`` of its size (its realised PnL and fee settle against its margin) and
    may not be liquidated again for ``slice_cooldown`` time units (the unit of ``dt``; the
    presets assume seconds); then, if the mark is past its new liquidation price, the next
    slice goes (0: off). ``taker_fee``: the venue's taker fee on every liquidation fill, paid
    out of the equity the fill leaves, before the clearance fee (``timeline.taker_fees``).
    ``latency``: steps between a position's trigger and its order. ``margin_call_grace``
    (steps; 0: off): a broker's margin call (Reg T / FINRA 4210) — a triggered position is first
    called and has that many steps to meet the call; it is met with probability
    ``margin_call_met`` (a counter-based draw per position and call from ``margin_call_seed``):
    met, its margin is raised so its equity at the mark is back at its initial margin fraction
    of its notional (``timeline.margin_deposits``) and it stays open; not met, the engine takes
    it (liquidated if the mark is still past its liquidation price). A deleveraged position
    keeps its liquidation price.
    """

    name: str = "custom"
    fee_rate: float = 0.0
    limit_at_bankruptcy: bool = True
    takeover: bool = True
    adl: bool = True
    max_orders_per_step: int = 0
    max_notional_per_step: float = 0.0
    unwind_per_step: float = 0.0
    partial_tiers: bool = False
    tiers: MaintenanceTiers | None = None
    backstop_fraction: float = 0.0
    slice_above: float = 0.0
    slice_fraction: float = 0.2
    slice_cooldown: float = 30.0
    adl_ranking: Literal["pnl_leverage", "binance"] = "pnl_leverage"
    taker_fee: float = 0.0
    latency: int = 0
    margin_call_grace: int = 0
    margin_call_met: float = 0.0
    margin_call_seed: int = 0
    _core: Any = field(init=False, repr=False, compare=False)  # the engine's LiquidationPolicy

    @classmethod
    def binance(cls, **overrides: Any) -> LiquidationPolicy:
        """Binance-like: IOC orders at no worse than bankruptcy, a 1.25 % clearance fee (capped
        at the equity left) to the insurance fund, takeover at bankruptcy, then ADL ranked as
        Binance documents it (``adl_ranking="binance"``); a 0.05 % taker fee on liquidation
        fills (USDⓈ-M futures, regular tier)."""
        return replace(cls("binance", fee_rate=0.0125, adl_ranking="binance", taker_fee=0.0005), **overrides)

    @classmethod
    def bybit(cls, **overrides: Any) -> LiquidationPolicy:
        """Bybit-like: partial liquidation down the risk-limit ``tiers`` (Bybit's BTCUSDT risk
        limits unless given: pass the market's), IOC at bankruptcy, the margin a close leaves
        goes to the insurance fund (``fee_rate`` 1), takeover, then ADL; a 0.055 % taker fee
        (derivatives, non-VIP)."""
        from .tier_tables import venue_tiers  # (the shipped snapshot)

        tiers = overrides.pop("tiers", None) or venue_tiers("bybit", "BTCUSDT")
        return replace(cls("bybit", fee_rate=1.0, partial_tiers=True, tiers=tiers, taker_fee=0.00055), **overrides)

    @classmethod
    def hyperliquid(cls, **overrides: Any) -> LiquidationPolicy:
        """Hyperliquid-like, as its docs describe liquidation: market orders with no price limit;
        a position above 100,000 USDC of notional goes 20 % at a time with a 30 s cooldown
        between slices; the backstop vault (the fund) takes over positions whose equity is below
        2/3 of maintenance; ADL (ranked by PnL x leverage) when the fund cannot absorb; a
        0.045 % taker fee (perpetuals, base tier)."""
        return replace(cls("hyperliquid", limit_at_bankruptcy=False, backstop_fraction=2.0 / 3.0,
                           slice_above=100_000.0, slice_fraction=0.2, slice_cooldown=30.0, taker_fee=0.00045),
                       **overrides)

    @classmethod
    def market_orders(cls, **overrides: Any) -> LiquidationPolicy:
        """Full-size market orders with no price limit, no fee, no takeover, no ADL: what the
        static cascade models (a simulation with it, rho = 0, the last-price mark and one step
        reproduces ``cascade``)."""
        return replace(cls("market_orders", limit_at_bankruptcy=False, takeover=False, adl=False), **overrides)

    def __post_init__(self) -> None:
        # Python converts types; the ranges are the core's LiquidationPolicy::validate (one owner)
        core = _core.LiquidationPolicy()
        for name in ("fee_rate", "backstop_fraction", "unwind_per_step", "max_notional_per_step", "slice_above",
                     "slice_fraction", "slice_cooldown", "taker_fee"):
            setattr(core, name, real_scalar(getattr(self, name), name))
        core.latency = int_scalar(self.latency, "latency")
        core.margin_call_grace = int_scalar(self.margin_call_grace, "margin_call_grace")
        core.margin_call_met = real_scalar(self.margin_call_met, "margin_call_met")
        core.margin_call_seed = int_scalar(self.margin_call_seed, "margin_call_seed", minimum=0, maximum=2**64 - 1)
        core.adl_ranking = core_enum(_core.LiquidationPolicy.AdlRanking, self.adl_ranking, "adl_ranking")
        core.max_orders_per_step = int_scalar(self.max_orders_per_step, "max_orders_per_step")
        for name in ("limit_at_bankruptcy", "takeover", "adl", "partial_tiers"):
            if not isinstance(getattr(self, name), (bool, np.bool_)):
                raise TypeError(f"{name}: expected a bool")
            setattr(core, name, bool(getattr(self, name)))
        if self.tiers is not None:
            if not isinstance(self.tiers, MaintenanceTiers):
                raise TypeError(f"tiers: expected MaintenanceTiers or None, got {type(self.tiers).__name__}")
            core.tiers = self.tiers._table
        core.validate()
        object.__setattr__(self, "_core", core)

    def __reduce__(self) -> tuple[Any, ...]:
        # through the constructor: the compiled policy is rebuilt, not pickled
        return (type(self), tuple(getattr(self, f.name) for f in fields(self) if f.init))


@dataclass(frozen=True)
class CircuitBreaker:
    """Halt for ``halt`` steps when the last price moved by ``move`` (relative) or more over
    the last ``window`` steps. Several express levels (e.g. 7 / 13 / 20 %)."""

    move: float
    window: int
    halt: int


@dataclass(frozen=True, eq=False)
class SimulationResult:
    """``timeline``: one row per step (``time``, ``price``, ``mark_price``, ``fundamental``,
    ``liquidated_qty``, ``liquidated_notional``, ``insurance_fund``, ``fund_inventory``,
    ``adl_qty``, ``halted``, ``queued``, ``bid_depth``, ``ask_depth``, ``book_depth`` (resting
    base quantity), ``best_bid``, ``best_ask``, ``funding_rate`` (settled at the step),
    ``funding_long`` and ``funding_short`` (what each side paid; negative: received),
    ``taker_fees`` (on the step's liquidation fills), ``margin_deposits`` (met margin calls)).
    ``events``: one row per liquidation fill, takeover, ADL fill or fund unwind (``step``,
    ``position`` (-1 for the fund), ``kind`` (0-5) and ``kind_name`` (``EVENT_KINDS``: a
    liquidation fill, a takeover, an ADL fill, a fund unwind, a margin call, a call met),
    ``counterparty`` (for ADL: the liquidated position, or -1 for the fund's inventory),
    ``qty``, ``price``, ``fee``, ``loss`` (bad debt the fund covered; for an unwind, minus its
    profit), ``fund`` (the balance after the event)).
    ``final_qty`` and ``liquidated``: each position's final state."""

    timeline: ColumnTable
    events: ColumnTable
    final_qty: FloatArray
    liquidated: npt.NDArray[np.bool_]
    exogenous_filled: float
    insurance_fund_start: float = field(default=0.0)


def simulate(
    book: OrderBook,
    positions: Positions,
    policy: LiquidationPolicy | str = "binance",
    steps: int = 1,
    dt: float = 1.0,
    *,
    path: Any = None,
    flow: Any = None,
    shock: float = 0.0,
    resilience: float = 0.0,
    mark: Literal["last", "ema", "index"] = "last",
    mark_halflife: float = 0.0,
    basis: float = 0.0,
    band: float = 0.0,
    breakers: Sequence[CircuitBreaker] = (),
    insurance_fund: float = 0.0,
    funding_interval: int = 0,
    funding_rate: Any = None,
    funding_interest: float = 0.0001,
    funding_clamp: float = 0.0005,
    funding_cap: float = 0.003,
) -> SimulationResult:
    """Simulate ``steps`` steps of ``dt`` (see the module docstring). ``path``: the fundamental
    price per step (an array, e.g. from :func:`gbm_path`; default: the book's mid throughout).
    ``flow``: exogenous market orders per step, signed base quantity (+ buys). Deterministic:
    the same inputs give the same result.

    Funding: every ``funding_interval`` steps (0: none; 28,800 for 8 h of 1 s steps), at the
    start of the step, each open position pays ``side * qty * mark * rate`` from its margin
    (longs pay shorts when the rate is positive), which moves its liquidation price. The rate
    is ``funding_rate[t]`` (an array per step, read at settlement steps) when given, else the
    venues' formula from the premium of the mark over the index (the fundamental) averaged
    over the interval: ``clamp(P + clamp(funding_interest - P, -funding_clamp,
    funding_clamp), -funding_cap, funding_cap)`` (Binance's; its 0.01 % interest, 0.05 %
    clamp, and a cap of 0.75 x the first bracket's 0.4 % for BTCUSDT). The timeline shows
    ``funding_rate``, ``funding_long`` and ``funding_short`` (paid; negative: received)."""
    if not isinstance(book, OrderBook):
        raise TypeError(f"book: expected liqcascade.OrderBook, got {type(book).__name__}")
    if not isinstance(positions, Positions):
        raise TypeError(f"positions: expected liqcascade.Positions, got {type(positions).__name__}")
    config = _simulation_config(policy, steps, dt, path=path, flow=flow, shock=shock, resilience=resilience, mark=mark,
                                mark_halflife=mark_halflife, basis=basis, band=band, breakers=breakers,
                                insurance_fund=insurance_fund, funding_interval=funding_interval,
                                funding_rate=funding_rate, funding_interest=funding_interest,
                                funding_clamp=funding_clamp, funding_cap=funding_cap)
    _warn_at_start(book, positions, config)
    raw = _core.simulate(book._book, positions._set, config)
    return _simulation_result(raw, config.insurance_fund)


def _simulation_result(raw: dict[str, Any], insurance_fund_start: float) -> SimulationResult:
    """The engine's dict of one market's run (``_core.simulate``, or a venue's market) as a result."""
    timeline = dict(raw["timeline"])
    timeline["halted"] = timeline["halted"].view(np.bool_)
    timeline["book_depth"] = timeline["bid_depth"] + timeline["ask_depth"]
    events = dict(raw["events"])
    events["kind_name"] = np.array(EVENT_KINDS, dtype=object)[events["kind"]]
    return SimulationResult(
        timeline=ColumnTable(timeline),
        events=ColumnTable(events),
        final_qty=raw["final_qty"],
        liquidated=raw["liquidated"].view(np.bool_),
        exogenous_filled=float(raw["exogenous_filled"]),
        insurance_fund_start=insurance_fund_start,
    )


def resolve_policy(policy: LiquidationPolicy | str) -> LiquidationPolicy:
    """A policy, or a preset's by name ('binance', 'bybit', 'hyperliquid', 'market_orders')."""
    if isinstance(policy, str):
        presets = {"binance": LiquidationPolicy.binance, "bybit": LiquidationPolicy.bybit,
                   "hyperliquid": LiquidationPolicy.hyperliquid, "market_orders": LiquidationPolicy.market_orders}
        if policy not in presets:
            raise ValueError(f"policy: expected one of {', '.join(map(repr, presets))} or a LiquidationPolicy, "
                             f"got {policy!r}")
        policy = presets[policy]()
    if not isinstance(policy, LiquidationPolicy):
        raise TypeError(f"policy: expected LiquidationPolicy or a preset name, got {type(policy).__name__}")
    return policy


def _simulation_config(policy: LiquidationPolicy | str, steps: int, dt: float, *, path: Any, flow: Any, shock: float,
                       resilience: float, mark: str, mark_halflife: float, basis: float, band: float,
                       breakers: Sequence[CircuitBreaker], insurance_fund: float, funding_interval: int,
                       funding_rate: Any, funding_interest: float, funding_clamp: float,
                       funding_cap: float) -> Any:
    """simulate's arguments, type-checked, as the engine's SimulationConfig (its ranges are the
    core's checks); a venue's run shares it (``simulate_venue``)."""
    policy = resolve_policy(policy)
    n_steps = int_scalar(steps, "steps", minimum=1)
    for item in breakers:
        if not isinstance(item, CircuitBreaker):
            raise TypeError(f"breakers: expected CircuitBreaker items, got {type(item).__name__}")
    if mark not in ("last", "ema", "index"):
        raise ValueError(f"mark: expected 'last', 'ema' or 'index', got {mark!r}")
    config = _core.SimulationConfig()
    config.steps = n_steps
    config.dt = real_scalar(dt, "dt")
    config.resilience = real_scalar(resilience, "resilience")
    config.path = [] if path is None else float_column(path, "path").tolist()
    config.flow = [] if flow is None else float_column(flow, "flow").tolist()
    config.shock = real_scalar(shock, "shock")
    config.mark = getattr(_core.SimulationConfig.Mark, mark)
    config.mark_halflife = real_scalar(mark_halflife, "mark_halflife")
    config.basis = real_scalar(basis, "basis")
    config.band = real_scalar(band, "band")
    config.breakers = [_core.CircuitBreaker(real_scalar(b.move, "breakers.move"),
                                            int_scalar(b.window, "breakers.window"),
                                            int_scalar(b.halt, "breakers.halt")) for b in breakers]
    config.insurance_fund = real_scalar(insurance_fund, "insurance_fund")
    config.funding_interval = int_scalar(funding_interval, "funding_interval")
    config.funding_rate = [] if funding_rate is None else float_column(funding_rate, "funding_rate").tolist()
    for name, value in (("funding_interest", funding_interest), ("funding_clamp", funding_clamp),
                        ("funding_cap", funding_cap)):
        setattr(config, name, real_scalar(value, name))
    config.policy = policy._core
    return config


def _warn_at_start(book: OrderBook, positions: Positions, config: Any) -> None:
    """simulate's warnings: a negative insurance fund, a shock beyond +-100 %, positions
    already past their liquidation price where the run starts (the path's first price, else
    the book's mid)."""
    from .cascade import _warn_large_shocks, _warn_past_liquidation

    if config.insurance_fund < 0:
        warn(f"insurance_fund: starts negative ({config.insurance_fund:,.2f}): the fund cannot take over or "
             "cover bad debt until fees bring it above zero, so losses go to ADL from the first liquidation")
    _warn_large_shocks(np.array([config.shock]))
    if config.path:
        ref = config.path[0]
    elif book.bid_price.size and book.ask_price.size:
        ref = book.mid
    else:
        return
    if math.isfinite(ref) and ref > 0:
        _warn_past_liquidation(positions, ref)


def gbm_path(steps: int, dt: float, start: float, sigma: float, mu: float = 0.0, *, jump_rate: float = 0.0,
             jump_mean: float = 0.0, jump_std: float = 0.0, seed: int = 0) -> FloatArray:
    """A fundamental path: geometric Brownian motion with (Merton) lognormal jumps, from
    NumPy's counter-based Philox generator (deterministic for a seed). ``sigma`` and ``mu``
    per unit time; jumps arrive at ``jump_rate`` per unit time with log-size
    N(``jump_mean``, ``jump_std``). The first value is ``start``."""
    n = int_scalar(steps, "steps", minimum=1)
    _core.require_memory("steps", 40.0 * n, "the path")
    checked = {
        "dt": bounded_scalar(dt, "dt", low=0.0, low_open=True),
        "start": bounded_scalar(start, "start", low=0.0, low_open=True),
        "sigma": bounded_scalar(sigma, "sigma", low=0.0),
        "mu": bounded_scalar(mu, "mu"),
        "jump_rate": bounded_scalar(jump_rate, "jump_rate", low=0.0),
        "jump_mean": bounded_scalar(jump_mean, "jump_mean"),
        "jump_std": bounded_scalar(jump_std, "jump_std", low=0.0),
    }
    if checked["jump_rate"] * checked["dt"] > 1e9:
        raise ValueError(f"jump_rate: at most 1e9 jumps per step are expected (jump_rate * dt), got {jump_rate!r}")
    rng = np.random.Generator(np.random.Philox(int_scalar(seed, "seed", minimum=0)))
    dt_, s = checked["dt"], checked["sigma"]
    with np.errstate(over="ignore", invalid="ignore"):  # an overflowing path is refused below
        log_steps = (checked["mu"] - 0.5 * s * s) * dt_ + s * math.sqrt(dt_) * rng.standard_normal(n - 1)
    jumps = rng.poisson(checked["jump_rate"] * dt_, n - 1)
    with np.errstate(over="ignore", invalid="ignore"):  # an overflowing path is refused below
        log_steps += jumps * checked["jump_mean"] + np.sqrt(jumps) * checked["jump_std"] * rng.standard_normal(n - 1)
    with np.errstate(over="ignore", under="ignore"):
        path = checked["start"] * np.exp(np.concatenate(([0.0], np.cumsum(log_steps))))
    bad = np.flatnonzero(~(np.isfinite(path) & (path > 0)))
    if bad.size:
        raise ValueError(f"sigma: the path leaves the range of a price (0, 1.8e308] at step {bad[0]}: "
                         "sigma, mu, dt or the jumps are too large for this many steps")
    return path


def random_flow(steps: int, rate: float, mean_size: float, *, buy_share: float = 0.5, seed: int = 0) -> FloatArray:
    """Random exogenous market orders, summed per step (signed base quantity, + buys): a
    Poisson number of orders per step with mean ``rate``, exponential sizes of mean
    ``mean_size``, each a buy with probability ``buy_share``. Add it to any other flow."""
    n = int_scalar(steps, "steps", minimum=1)
    _core.require_memory("steps", 24.0 * n, "the flow")
    checked = {
        "rate": bounded_scalar(rate, "rate", low=0.0),
        "mean_size": bounded_scalar(mean_size, "mean_size", low=0.0),
        "buy_share": bounded_scalar(buy_share, "buy_share", low=0.0, high=1.0),
    }
    # every order is drawn: its size and its side (the sum per step is what is returned)
    _core.require_memory("rate", 24.0 * checked["rate"] * n, "the orders drawn")
    rng = np.random.Generator(np.random.Philox(int_scalar(seed, "seed", minimum=0)))
    counts = rng.poisson(checked["rate"], n)
    sizes = rng.exponential(checked["mean_size"], int(counts.sum()))
    signs = np.where(rng.random(sizes.size) < checked["buy_share"], 1.0, -1.0)
    return np.bincount(np.repeat(np.arange(n), counts), weights=sizes * signs, minlength=n).astype(np.float64)
