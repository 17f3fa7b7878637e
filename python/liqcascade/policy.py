"""Policies compared on common random numbers (docs/design.md, "Policies").

A :class:`Policy` bundles the levers a regulator or a venue can pull: on the population side a
leverage cap and the maintenance rule (a tier table, or a flat rate per side); on the engine
side the liquidation engine (:class:`LiquidationPolicy`: throughput, ADL, fees), circuit
breakers and the insurance fund. A study — static (:class:`Study`: a population, a book model,
shocks, as :func:`monte_carlo`) or through time (:class:`TimeStudy`: sampled markets run
through :func:`simulate`) — is run once per policy with the same seed, so every policy sees the
same scenarios: the same shocks, books, fundamental paths and flows, and positions drawn from
the same streams (the same sides, sizes and entries; only what the policy changes differs).
:func:`compare_policies` reports each metric per policy and its paired difference from a
baseline policy with the standard error of that difference, ``sd(d_i) / sqrt(n)`` over the
per-scenario differences ``d_i`` — smaller than the unpaired one whenever the policies' outcomes
are positively correlated across scenarios, which common random numbers make them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from ._table import ColumnTable
from ._validation import bounded_scalar as _finite
from ._validation import int_scalar
from ._warnings import warn
from .book import OrderBook
from .models import BookModel, PositionPopulation, ShockModel, _shock_model
from .montecarlo import monte_carlo
from .positions import MaintenanceTiers, Positions
from .results import ScenarioTable
from .simulator import CircuitBreaker, LiquidationPolicy, SimulationResult, gbm_path, random_flow, simulate

if TYPE_CHECKING:
    from .venue import Venue

__all__ = ["Policy", "PolicyComparison", "Study", "TimeStudy", "VenuePolicyComparison", "cme_breakers",
           "compare_policies", "compare_venue_policies", "crypto_status_quo", "leverage_cap", "reg_t_finra",
           "run_study", "simulation_metrics", "with_collateral"]

KEEP: Any = "keep"  # a lever left as the study's population has it


@dataclass(frozen=True)
class Policy:
    """A policy: the levers it sets, everything else as the study has it.

    Population side (applied by :meth:`apply` to a :class:`PositionPopulation` or a
    :class:`Positions`):

    - ``leverage_cap``: no position above this leverage. A population draws every position
      that would be above it **at the cap** (its leverage draw clipped: the same draw, the same
      size and entry; its margin ``notional / cap``); a fixed set has such positions' margins
      raised to ``notional / cap``. Not rejected: rejecting would change who trades, and the
      comparison would no longer be paired.
    - ``tiers``: a tier table (e.g. ``venue_tiers(...)``) replacing the population's; its
      ``max_leverage`` applies as the venues' limit (drawn at it).
    - ``mmr``: a flat maintenance rate replacing the tiers: one number, or ``(long, short)``
      (FINRA 4210: 25 % of market value for longs, 30 % for shorts), with no maintenance
      amount, at mark basis (a share of the position's value at the price).

    Engine side (through time; :meth:`engine`, :meth:`simulate_options`): ``engine`` (a
    :class:`LiquidationPolicy`; the study's when None), ``throughput`` (orders per step: the
    engine's ``max_orders_per_step``), ``adl`` (on or off), ``breakers``, ``band``,
    ``insurance_fund`` and ``latency`` (steps between a trigger and its order). A static cascade
    has no engine: there only ``insurance_fund`` acts (ruin when the bad debt exceeds it), and
    :func:`compare_policies` warns when the policies of a static :class:`Study` differ in levers
    that act only through time.

    A lever left ``None`` is the study's own: a static study has no insurance fund of its own
    (ruin then means any bad debt). To change one lever of a regime, start from its preset:
    ``crypto_status_quo(throughput=10)`` keeps the status quo's engine and $1M fund.
    """

    name: str = "custom"
    leverage_cap: float | None = None
    tiers: MaintenanceTiers | None = KEEP
    mmr: float | tuple[float, float] | None = None
    engine: LiquidationPolicy | None = None
    throughput: int | None = None
    adl: bool | None = None
    breakers: tuple[CircuitBreaker, ...] | None = None
    band: float | None = None
    insurance_fund: float | None = None
    latency: int | None = None
    description: str = ""

    def __post_init__(self) -> None:
        if self.leverage_cap is not None:
            object.__setattr__(self, "leverage_cap", _finite(self.leverage_cap, "leverage_cap", low=0.0,
                                                             low_open=True))
        if self.tiers is not KEEP and self.tiers is not None and not isinstance(self.tiers, MaintenanceTiers):
            raise TypeError(f"tiers: expected MaintenanceTiers, None or 'keep', got {type(self.tiers).__name__}")
        if self.mmr is not None:
            pair = self.mmr if isinstance(self.mmr, tuple) else (self.mmr, self.mmr)
            if len(pair) != 2:
                raise ValueError("mmr: expected a rate or a (long, short) pair")
            object.__setattr__(self, "mmr", tuple(_finite(x, "mmr", low=0.0, high=1.0, high_open=True)
                                                  for x in pair))
        if self.engine is not None and not isinstance(self.engine, LiquidationPolicy):
            raise TypeError(f"engine: expected LiquidationPolicy, got {type(self.engine).__name__}")
        if self.breakers is not None:
            object.__setattr__(self, "breakers", tuple(self.breakers))
            for b in self.breakers:
                if not isinstance(b, CircuitBreaker):
                    raise TypeError(f"breakers: expected CircuitBreaker items, got {type(b).__name__}")
        if self.insurance_fund is not None:
            object.__setattr__(self, "insurance_fund", _finite(self.insurance_fund, "insurance_fund"))
        if self.throughput is not None:
            object.__setattr__(self, "throughput", int_scalar(self.throughput, "throughput", minimum=0))

    # -- population side ----------------------------------------------------------------------

    @property
    def mmr_per_side(self) -> tuple[float, float] | None:
        return None if self.mmr is None else self.mmr  # type: ignore[return-value]

    def apply(self, target: PositionPopulation | Positions, side: Literal["long", "short"] = "long") -> Any:
        """The population (or fixed set) under this policy's population-side levers. A
        population holds one flat rate: ``side`` picks which of a ``(long, short)`` pair it
        takes (a static study runs each scenario's side at risk under its own rate:
        :func:`run_study`); a set takes each position's side's rate."""
        if isinstance(target, PositionPopulation):
            return self._apply_population(target, side)
        if isinstance(target, Positions):
            return self._apply_positions(target)
        raise TypeError(f"target: expected PositionPopulation or Positions, got {type(target).__name__}")

    def _apply_population(self, population: PositionPopulation, side: str) -> PositionPopulation:
        changes: dict[str, Any] = {}
        if self.leverage_cap is not None:
            # the same leverage draw, clipped: the streams (and so every other draw) are unchanged
            changes["leverage"] = tuple(min(x, self.leverage_cap) for x in population.leverage)
        if self.mmr is not None:
            pair = self.mmr_per_side
            assert pair is not None
            changes.update(tiers=None, mmr=pair[0] if side == "long" else pair[1], maint_amount=0.0,
                           basis="mark", tier_rule=None)
        elif self.tiers is not KEEP:
            changes["tiers"] = self.tiers
        return replace(population, **changes) if changes else population

    def _apply_positions(self, positions: Positions) -> Positions:
        side = np.asarray(positions.side)
        qty = np.asarray(positions.qty)
        entry = np.asarray(positions.entry_price)
        margin = np.array(positions.margin)
        # the set's contract, margin rule and tier rule carry over (an inverse set's notional and
        # margin are in coin: positions.notional is)
        keep: dict[str, Any] = {"basis": positions.basis, "close_fee": positions.close_fee,
                                "contract": positions.contract, "contract_size": positions.contract_size}
        if self.leverage_cap is not None:
            margin = np.maximum(margin, positions.notional / self.leverage_cap)
        if self.mmr is not None:
            pair = self.mmr_per_side
            assert pair is not None
            mmr = np.where(side > 0, pair[0], pair[1])
            return Positions(side, qty, entry, margin, mmr, 0.0, **keep)
        tiers = self.tiers if self.tiers is not KEEP and self.tiers is not None else positions._tiers
        if tiers is not None and (self.leverage_cap is not None or tiers is not positions._tiers):
            # the tiers resolved again with the new margins (the tier at the liquidation price moves)
            return Positions(side, qty, entry, margin, tiers=tiers, leverage_limit="clip", **keep)
        if self.leverage_cap is None:
            return positions
        return Positions(side, qty, entry, margin, positions.mmr, positions.maint_amount, **keep)

    # -- engine side --------------------------------------------------------------------------

    def engine_for(self, default: LiquidationPolicy) -> LiquidationPolicy:
        """The liquidation engine: ``engine`` (or ``default``) with ``throughput``, ``adl`` and
        ``latency`` applied."""
        engine = self.engine or default
        changes: dict[str, Any] = {}
        if self.throughput is not None:
            changes["max_orders_per_step"] = self.throughput
        if self.adl is not None:
            changes["adl"] = bool(self.adl)
        if self.latency is not None:
            changes["latency"] = int(self.latency)
        return replace(engine, **changes) if changes else engine


def crypto_status_quo(**overrides: Any) -> Policy:
    """What the largest crypto venues run: the population's own leverage (to 125x) and Binance's
    tier table, Binance's engine (IOC at bankruptcy, 1.25 % clearance fee, takeover, ADL), no
    circuit breaker, a $1M insurance fund (the default market's scale)."""
    return replace(Policy("crypto_status_quo", engine=LiquidationPolicy.binance(), breakers=(), insurance_fund=1e6,
                          description="leverage to 125x, Binance tiers and engine, no breakers"), **overrides)


def reg_t_finra(margin_call_grace: int = 0, margin_call_met: float = 0.5, **overrides: Any) -> Policy:
    """US securities margin: Regulation T's 50 % initial margin (leverage at most 2) and FINRA
    Rule 4210's maintenance, 25 % of market value for longs and 30 % for shorts (as a flat rate
    per side at mark basis). With ``margin_call_grace`` > 0 (steps) a triggered position is
    first called and kept for that long; the call is met with probability ``margin_call_met``
    (a deposit back to its initial margin fraction) or the engine takes it
    (:class:`LiquidationPolicy`'s margin calls). 0 (default): liquidated at the requirement."""
    engine = LiquidationPolicy.binance(margin_call_grace=int(margin_call_grace), margin_call_met=margin_call_met)
    return replace(Policy("reg_t_finra", leverage_cap=2.0, mmr=(0.25, 0.30), engine=engine,
                          breakers=(), insurance_fund=1e6,
                          description="Reg T 50 % initial (<= 2x), FINRA 4210 25 % / 30 % maintenance"
                                      + (f", margin calls met with p={margin_call_met:g} within "
                                         f"{int(margin_call_grace)} steps" if margin_call_grace else "")),
                   **overrides)


def leverage_cap(cap: float = 20.0, **overrides: Any) -> Policy:
    """The status quo with every position above ``cap`` drawn at ``cap``."""
    return replace(crypto_status_quo(), name=f"leverage_cap({cap:g})", leverage_cap=cap,
                   description=f"positions above {cap:g}x drawn at {cap:g}x", **overrides)


def cme_breakers(steps_per_minute: int = 60, **overrides: Any) -> Policy:
    """The status quo with market-wide circuit breakers at 7 %, 13 % and 20 % (the levels of
    CME equity-index futures and the US equity market's Rule 80B): 15-minute halts at the
    first two, the rest of the run at the third. The engine's breakers compare the price with
    the price ``window`` steps back, so the levels are measured over a rolling 15-minute window
    (the engine has no once-a-day reference: measured from the start, a level would fire again
    the step its halt ended)."""
    quarter = 15 * int_scalar(steps_per_minute, "steps_per_minute", minimum=1)
    forever = 2**40
    return replace(crypto_status_quo(), name="cme_breakers",
                   breakers=(CircuitBreaker(0.07, quarter, quarter), CircuitBreaker(0.13, quarter, quarter),
                             CircuitBreaker(0.20, quarter, forever)),
                   description="halts at 7 % / 13 % (15 min) and 20 % (rest of the run)", **overrides)


# -- studies ----------------------------------------------------------------------------------

@dataclass(frozen=True, eq=False)
class Study:
    """A static Monte Carlo study (:func:`monte_carlo`): ``n_scenarios`` scenarios of
    ``population`` on ``book_model`` under ``shocks``, seed ``seed``."""

    population: PositionPopulation
    book_model: BookModel
    shocks: ShockModel | Sequence[float] | np.ndarray
    n_scenarios: int = 200
    seed: int = 0
    threads: int | None = None


@dataclass(frozen=True, eq=False)
class TimeStudy:
    """A Monte Carlo study through time: scenario ``i`` samples the positions of ``population``
    (scenario ``i`` of ``seed``) and the book of ``book_model``, and simulates ``steps`` steps of
    ``dt``: a GBM fundamental of volatility ``sigma`` per step from the book's mid (its own
    seed per scenario), ``sell_rate`` base units sold per step for the first ``sell_steps``
    steps (the exogenous trigger) on top of random flow (``flow_rate`` orders per step of mean
    size ``flow_size``), the book refilling at ``resilience``, an EMA mark with
    ``mark_halflife``, an initial relative ``shock`` at step 0. ``engine`` is the liquidation
    engine unless the policy sets one; ``breakers`` and ``insurance_fund`` likewise."""

    population: PositionPopulation
    book_model: BookModel = field(default_factory=BookModel)
    n_scenarios: int = 10
    seed: int = 0
    steps: int = 900
    dt: float = 1.0
    sigma: float = 0.0003
    sell_rate: float = 20.0
    sell_steps: int = 60
    shock: float = 0.0
    flow_rate: float = 2.0
    flow_size: float = 0.5
    resilience: float = 1 / 120
    mark_halflife: float = 3.0
    engine: LiquidationPolicy = field(default_factory=lambda: LiquidationPolicy.binance(max_orders_per_step=2000))
    breakers: tuple[CircuitBreaker, ...] = ()
    insurance_fund: float = 1e6

    def scenario_inputs(self, index: int) -> tuple[OrderBook, np.ndarray, np.ndarray]:
        """Scenario ``index``'s book, fundamental path and exogenous flow: the same for every
        policy (common random numbers)."""
        book = self.book_model.build(self.seed, index)
        stream = (int(self.seed) << 32) | int(index)  # one Philox stream per (seed, scenario)
        path = gbm_path(self.steps, self.dt, book.mid, self.sigma, seed=stream)
        flow = random_flow(self.steps, self.flow_rate, self.flow_size, seed=stream)
        flow[: self.sell_steps] -= self.sell_rate
        return book, path, flow


#: Per-scenario metrics of a static study (and their meaning).
STATIC_METRICS = {
    "final_move": "final move (signed)",
    "abs_final_move": "|final move|",
    "liquidated_notional": "liquidated notional ($)",
    "bad_debt": "bad debt ($)",
    "move_beyond_10pct": "P(|final move| >= 10 %)",
    "ruin": "P(bad debt > fund)",
}

#: Per-scenario metrics of a study through time.
TIME_METRICS = {
    "low_move": "lowest price against the start (signed)",
    "final_move": "final move (signed)",
    "liquidated_notional": "liquidated notional ($, fills + takeovers)",
    "bad_debt": "bad debt covered by the fund ($)",
    "fund_low": "the fund's lowest balance ($)",
    "halted_steps": "halted steps",
    "move_beyond_10pct": "P(low <= -10 % or high >= +10 %)",
    "ruin": "P(fund < 0 at some step)",
    "adl": "P(ADL)",
}


def simulation_metrics(sim: SimulationResult, start_price: float) -> dict[str, float]:
    """One simulation's row of :data:`TIME_METRICS` (``adl_qty`` too: the quantity deleveraged)."""
    tl, ev = sim.timeline, sim.events
    low = float(tl.price.min()) / start_price - 1.0
    high = float(tl.price.max()) / start_price - 1.0
    fund_low = float(min(tl.insurance_fund.min(), sim.insurance_fund_start))
    adl_qty = float(tl.adl_qty.sum())
    # what the fund covered: fills and takeovers beyond bankruptcy, and its losses on unwinding
    # what it took over (an unwind's loss is minus its PnL: a profit offsets)
    closing = (ev.kind == 0) | (ev.kind == 1) | (ev.kind == 3)
    takeover_value = float(np.sum(ev.qty[ev.kind == 1] * ev.price[ev.kind == 1]))
    return {
        "low_move": low,
        "final_move": float(tl.price[-1]) / start_price - 1.0,
        "liquidated_notional": float(tl.liquidated_notional.sum()) + takeover_value,
        "bad_debt": max(0.0, float(ev.loss[closing].sum())),
        "fund_low": fund_low,
        "halted_steps": float(np.count_nonzero(tl.halted)),
        "move_beyond_10pct": float(low <= -0.10 or high >= 0.10),
        "ruin": float(fund_low < 0.0),
        "adl": float(adl_qty > 0.0),
        "adl_qty": adl_qty,
    }


def _static_rows(study: Study, policy: Policy) -> dict[str, np.ndarray]:
    model = _shock_model(study.shocks)
    kwargs: dict[str, Any] = {"seed": study.seed, "threads": study.threads, "progress": False}
    if policy.mmr is not None and policy.mmr[0] != policy.mmr[1]:  # type: ignore[index]
        # one flat rate per population: run each side's rate and keep the rows whose shock puts
        # that side at risk (a scenario samples only that side: the rows are exactly per-side)
        longs = monte_carlo(policy.apply(study.population, "long"), study.book_model, model, study.n_scenarios,
                            **kwargs)
        shorts = monte_carlo(policy.apply(study.population, "short"), study.book_model, model,
                             study.n_scenarios, **kwargs)
        up = shorts.shock > 0
        table = ScenarioTable({name: np.where(up, shorts[name], longs[name]) for name in longs.columns},
                              seed=longs.seed)
    else:
        table = monte_carlo(policy.apply(study.population), study.book_model, model, study.n_scenarios, **kwargs)
    fund = 0.0 if policy.insurance_fund is None else float(policy.insurance_fund)
    move = table.final_move
    return {
        "scenario": table.scenario,
        "shock": table.shock,
        "final_move": move,
        "abs_final_move": np.abs(move),
        "liquidated_notional": table.liquidated_notional,
        "bad_debt": table.bad_debt,
        "move_beyond_10pct": (np.abs(move) >= 0.10).astype(np.float64),
        "ruin": (table.bad_debt > fund).astype(np.float64),
        "book_exhausted": table.book_exhausted.astype(np.float64),
    }


def _time_rows(study: TimeStudy, policy: Policy) -> dict[str, np.ndarray]:
    rows: list[dict[str, float]] = []
    engine = policy.engine_for(study.engine)
    breakers = study.breakers if policy.breakers is None else policy.breakers
    fund = study.insurance_fund if policy.insurance_fund is None else policy.insurance_fund
    band = 0.0 if policy.band is None else policy.band
    for i in range(int_scalar(study.n_scenarios, "n_scenarios", minimum=1)):
        book, path, flow = study.scenario_inputs(i)
        positions = policy.apply(study.population.sample(seed=study.seed, scenario=i, book_model=study.book_model))
        sim = simulate(book, positions, engine, study.steps, study.dt, path=path, flow=flow, shock=study.shock,
                       resilience=study.resilience, mark="ema", mark_halflife=study.mark_halflife, band=band,
                       breakers=breakers, insurance_fund=fund)
        rows.append(simulation_metrics(sim, book.mid) | {"scenario": float(i)})
    return {name: np.array([r[name] for r in rows]) for name in rows[0]}


def run_study(study: Study | TimeStudy, policy: Policy | None = None) -> ColumnTable:
    """The study's per-scenario metrics under ``policy`` (the study as it is when None): a
    :class:`ColumnTable` with ``scenario`` and the columns of :data:`STATIC_METRICS` or
    :data:`TIME_METRICS` (and ``adl_qty`` through time, ``shock`` and ``book_exhausted``
    static). :func:`liquidation_at_risk` reads it."""
    pol = policy or Policy("as is")
    if isinstance(study, Study):
        return ColumnTable(_static_rows(study, pol))
    if isinstance(study, TimeStudy):
        return ColumnTable(_time_rows(study, pol))
    raise TypeError(f"study: expected Study or TimeStudy, got {type(study).__name__}")


@dataclass(frozen=True, eq=False)
class PolicyComparison:
    """What :func:`compare_policies` returns. ``table``: one row per (policy, metric) with
    ``mean`` and its standard error ``stderr`` (``sd / sqrt(n)``), ``diff`` (the mean of the
    per-scenario differences from the baseline policy), ``diff_stderr`` (their ``sd /
    sqrt(n)``: the paired standard error) and ``unpaired_stderr`` (what the difference's
    standard error would be from independent runs, ``sqrt(se_a^2 + se_b^2)``, for comparison).
    ``rows``: each policy's per-scenario metrics (:func:`run_study`)."""

    table: ColumnTable
    rows: dict[str, ColumnTable]
    baseline: str
    n_scenarios: int
    metrics: dict[str, str]
    policies: dict[str, Policy]

    def get(self, policy: str, metric: str) -> dict[str, float]:
        t = self.table
        i = int(np.flatnonzero((t.policy == policy) & (t.metric == metric))[0])
        return {name: float(t[name][i]) for name in ("mean", "stderr", "diff", "diff_stderr", "unpaired_stderr")}

    def __str__(self) -> str:
        names = list(self.rows)
        lines = [f"{self.n_scenarios:,} scenarios, the same for every policy; differences against "
                 f"{self.baseline} (± paired standard error)"]
        header = f"  {'metric':<24}" + "".join(f"{n[:22]:>24}" for n in names)
        lines.append(header)
        for metric in self.metrics:
            cells = []
            for name in names:
                v = self.get(name, metric)
                if name == self.baseline:
                    cells.append(_fmt(metric, v["mean"], v["stderr"], signed=False))
                else:
                    cells.append(_fmt(metric, v["diff"], v["diff_stderr"], signed=True))
            lines.append(f"  {metric:<24}" + "".join(f"{c:>24}" for c in cells))
        return "\n".join(lines)


def _fmt(metric: str, value: float, err: float, *, signed: bool) -> str:
    if not math.isfinite(value):
        return "nan"
    sign = "+" if signed else ""
    if metric in ("liquidated_notional", "bad_debt", "fund_low", "sold_notional", "account_bad_debt"):
        text = f"${value / 1e6:{sign}.2f}M"
        scale = 1e6
        unit = "M"
    elif metric.endswith("move") or metric in ("move_beyond_10pct", "ruin", "adl", "book_exhausted"):
        text = f"{value * 100:{sign}.2f}%"
        scale, unit = 0.01, ""
    else:
        text = f"{value:{sign}.1f}"
        scale, unit = 1.0, ""
    if math.isfinite(err):
        text += f" ±{err / scale:.2f}{unit}"
    return text


def compare_policies(study: Study | TimeStudy, policies: Mapping[str, Policy], *,
                     baseline: str | None = None) -> PolicyComparison:
    """Run ``study`` under each policy on common random numbers (the same seed, so the same
    scenarios) and compare: per metric, each policy's mean with its standard error, and its
    paired difference from ``baseline`` (the first policy by default) with the standard error
    of that difference, ``sd(x_i - b_i) / sqrt(n)``. A difference of means whose paired standard
    error is small against it is a lever that matters, and the table says how sure that is.
    Means and probabilities only: a quantile's or expected shortfall's paired difference is not
    reported (its standard error needs another estimator)."""
    if not policies:
        raise ValueError("policies: name at least one policy")
    for name, pol in policies.items():
        if not isinstance(pol, Policy):
            raise TypeError(f"policies[{name!r}]: expected Policy, got {type(pol).__name__}")
    base = baseline if baseline is not None else next(iter(policies))
    if base not in policies:
        raise ValueError(f"baseline: {base!r} is not one of the policies ({', '.join(policies)})")
    metrics = dict(STATIC_METRICS if isinstance(study, Study) else TIME_METRICS)
    if isinstance(study, Study):
        _warn_time_levers(policies)
    rows = {name: run_study(study, pol) for name, pol in policies.items()}
    table, n = _paired_table(rows, base, metrics, "compare_policies")
    return PolicyComparison(table, rows, base, n, metrics, dict(policies))


def _time_levers(pol: Policy) -> dict[str, Any]:
    """The levers of ``pol`` that act only through time (a static cascade has no engine, no
    clock): what differs here between policies cannot show in a static :class:`Study`."""
    engine = pol.engine
    settings: dict[str, Any] = {}
    if engine is not None:
        fields = {k: getattr(engine, k) for k in engine.__dataclass_fields__ if not k.startswith("_")}
        if fields.get("margin_call_grace") == 0:  # no margin calls: their probability and seed do nothing
            fields.pop("margin_call_met", None)
            fields.pop("margin_call_seed", None)
        settings["engine"] = tuple(sorted(fields.items(), key=lambda kv: kv[0]))
    settings["throughput"] = pol.throughput
    settings["adl"] = pol.adl
    settings["breakers"] = tuple(pol.breakers or ())
    settings["band"] = pol.band
    settings["latency"] = pol.latency
    return settings


def _warn_time_levers(policies: Mapping[str, Policy]) -> None:
    """Warn when the policies of a static comparison differ in levers only a simulation has:
    their paired differences would read 0 ± 0, as if the lever did not matter."""
    levers = {name: _time_levers(pol) for name, pol in policies.items()}
    first = next(iter(levers.values()))
    differ = sorted({k for lv in levers.values() for k in lv if lv.get(k) != first.get(k)})
    if differ:
        warn(f"policies: they differ in {', '.join(differ)}, which act only through time; a static Study "
             "has no engine or clock, so those differences show as 0 here: compare them in a TimeStudy")


def _paired_table(rows: Mapping[str, ColumnTable], base: str, metrics: Mapping[str, str],
                  caller: str) -> tuple[ColumnTable, int]:
    """Per policy and metric: the mean and its standard error, the paired difference from
    ``base`` and its standard error, and the unpaired one (:class:`PolicyComparison`)."""
    n = len(rows[base])
    if n < 2:
        raise ValueError(f"{caller}: needs at least two scenarios for a standard error")
    cols: dict[str, list[Any]] = {k: [] for k in ("policy", "metric", "mean", "stderr", "diff", "diff_stderr",
                                                  "unpaired_stderr")}
    for name in rows:
        for metric in metrics:
            x = np.asarray(rows[name][metric], dtype=np.float64)
            b = np.asarray(rows[base][metric], dtype=np.float64)
            d = x - b
            se = float(x.std(ddof=1) / math.sqrt(n))
            se_b = float(b.std(ddof=1) / math.sqrt(n))
            cols["policy"].append(name)
            cols["metric"].append(metric)
            cols["mean"].append(float(x.mean()))
            cols["stderr"].append(se)
            cols["diff"].append(float(d.mean()))
            cols["diff_stderr"].append(float(d.std(ddof=1) / math.sqrt(n)))
            cols["unpaired_stderr"].append(math.hypot(se, se_b))
    table = ColumnTable({k: np.array(v, dtype=object if k in ("policy", "metric") else np.float64)
                        for k, v in cols.items()})
    return table, n


# --- venue levers: collateral haircuts and collateral pricing (docs/design.md, "Fragility and policy") ---

#: Per-scenario metrics of a venue study (:func:`compare_venue_policies`), venue-wide.
VENUE_METRICS = {
    "accounts_liquidated": "cross accounts liquidated",
    "n_liquidated": "positions closed",
    "liquidated_notional": "liquidated notional ($, all markets)",
    "sold_notional": "collateral sold ($, all markets)",
    "bad_debt": "bad debt ($, isolated positions' and accounts')",
    "account_bad_debt": "accounts' bad debt ($)",
    "book_exhausted": "P(some book ran out)",
}

CollateralPricing = Literal["book", "index"]


def with_collateral(venue: Venue, *, haircut: float | Mapping[str, float] | None = None,
                    pricing: CollateralPricing | Mapping[str, CollateralPricing] | None = None,
                    index_price: Mapping[str, float] | None = None,
                    index: Mapping[str, str | tuple[str, float]] | None = None) -> Venue:
    """A new :class:`~liqcascade.venue.Venue`: ``venue`` with its collateral levers changed,
    its markets (and so its positions' and accounts' indices) as they are.

    - ``haircut``: one haircut for every collateral asset, or a dict of asset name to haircut
      (assets not named keep theirs).
    - ``pricing``: ``"book"`` — the asset is priced by its own spot market's last price, and a
      liquidated account's balance is sold into that book (how Binance priced USDe, wBETH and
      bnSOL on 10 October 2025); ``"index"`` — priced on an index. One value for every asset or
      a dict by asset name; assets not named keep how they are priced.
    - ``index``: for ``"index"``, the market an asset's index follows, by asset name: a market
      name (the ratio is then the asset's reference over that market's: wBETH's 4,400 against
      ETH's 4,100 is 1.073 ETH a wBETH, its conversion rate) or ``(market, ratio)``. The asset
      is valued at ``ratio x`` that market's last price, and a liquidated account's balance is
      still sold into its own book (Binance's fix after that night: wBETH valued on ETH times
      its conversion rate, not on its own thin book).
    - An asset priced ``"index"`` with no ``index`` entry is priced at a **fixed** index and
      never sold into the venue's book: ``index_price[name]`` when given, else (unless it
      already follows an index) its spot market's reference price (``VenueState.ref_price``:
      the book's mid unless the market gives ``ref_price``). A fixed index stays at redemption
      value while one venue's thin book collapses — right for a stablecoin (USDe), but an asset
      that tracks a moving underlying (wBETH tracks ETH) is then valued at its pre-shock
      reference: give it an ``index`` that follows the underlying.

    Switching an asset back to ``"book"`` needs the market that priced it: an asset with no
    market of its own raises ``ValueError``.
    """
    from .venue import Asset, Venue

    if not isinstance(venue, Venue):
        raise TypeError(f"venue: expected liqcascade.venue.Venue, got {type(venue).__name__}")
    names = [a.name for a in venue.assets]

    def per_asset(value: Any, arg: str, *, mapping_only: bool = False) -> dict[str, Any]:
        if value is None:
            return {}
        if isinstance(value, Mapping):
            for k in value:
                if k not in names:
                    raise ValueError(f"{arg}: no collateral asset named {k!r} (assets: {', '.join(map(repr, names))})")
            return dict(value)
        if mapping_only:
            raise TypeError(f"{arg}: expected a dict by asset name, got {type(value).__name__}")
        return dict.fromkeys(names, value)

    haircuts = per_asset(haircut, "haircut")
    pricings = per_asset(pricing, "pricing")
    indices = per_asset(index_price, "index_price")
    follows = per_asset(index, "index", mapping_only=True)
    for k, how in pricings.items():
        if how not in ("book", "index"):
            raise ValueError(f"pricing[{k!r}]: expected 'book' or 'index', got {how!r}")
    for k in follows:
        if pricings.get(k, "index") != "index":
            raise ValueError(f"index[{k!r}]: an index needs pricing 'index', got {pricings[k]!r}")
    refs = {m.name: _market_reference(m) for m in venue.markets}
    assets = []
    for a in venue.assets:
        cut = a.haircut if a.name not in haircuts else _finite(haircuts[a.name], f"haircut[{a.name!r}]",
                                                                low=0.0, high=1.0)
        now = "index" if a.index is not None or a.priced_by is None else "book"
        how = pricings.get(a.name, "index" if a.name in follows else now)
        if how == "index" and a.name in follows:
            market, ratio = _index_of(follows[a.name], a.name, refs)
            if ratio is None:  # the asset's reference over the market's
                if a.priced_by is not None:
                    own = refs[a.priced_by]
                elif a.index is not None:
                    own = a.index[1] * refs[a.index[0]]
                else:
                    own = float(a.price)  # type: ignore[arg-type]
                ratio = own / refs[market]
            assets.append(Asset(a.name, priced_by=a.priced_by, haircut=cut, floor=a.floor, index=(market, ratio)))
        elif how == "index" and a.index is not None and a.name not in indices:
            assets.append(Asset(a.name, priced_by=a.priced_by, haircut=cut, floor=a.floor, index=a.index))
        elif how == "index":
            if a.name in indices:
                price = _finite(indices[a.name], f"index_price[{a.name!r}]", low=0.0, low_open=True)
            elif a.priced_by is not None:
                price = refs[a.priced_by]
            else:
                price = float(a.price)  # type: ignore[arg-type]
            assets.append(Asset(a.name, price=price, haircut=cut, floor=a.floor))
        else:
            if a.priced_by is None:
                raise ValueError(f"pricing[{a.name!r}]: 'book' needs a market pricing the asset; the venue has "
                                 f"no market of {a.name!r}'s own")
            assets.append(Asset(a.name, priced_by=a.priced_by, haircut=cut, floor=a.floor))
    return Venue(venue.markets, assets, quote=venue.quote)


def _index_of(spec: Any, asset: str, refs: Mapping[str, float]) -> tuple[str, float | None]:
    """An ``index`` entry: a market name, or (market name, ratio)."""
    if isinstance(spec, str):
        market, ratio = spec, None
    elif isinstance(spec, tuple | list) and len(spec) == 2 and isinstance(spec[0], str):
        market, ratio = spec[0], _finite(spec[1], f"index[{asset!r}][1]", low=0.0, low_open=True)
    else:
        raise TypeError(f"index[{asset!r}]: expected a market name or (market name, ratio), got {spec!r}")
    if market not in refs:
        raise ValueError(f"index[{asset!r}]: no market named {market!r} (markets: {', '.join(map(repr, refs))})")
    return market, ratio


def _market_reference(market: Any) -> float:
    if market.ref_price is not None:
        return float(market.ref_price)
    return float(market.book.mid)


VenueVariant = Any  # a Venue, a function Venue -> Venue, or None (the venue as it is)


@dataclass(frozen=True, eq=False)
class VenuePolicyComparison(PolicyComparison):
    """What :func:`compare_venue_policies` returns: :class:`PolicyComparison`'s table (per
    policy and metric of :data:`VENUE_METRICS`: ``mean``, ``stderr``, ``diff`` from the
    baseline, its paired ``diff_stderr``, ``unpaired_stderr``); ``rows`` are each variant's
    :class:`~liqcascade.venue_study.VenueScenarioTable`; ``venues`` each variant's venue
    (``policies`` is empty)."""

    venues: dict[str, Any] = field(default_factory=dict)


def compare_venue_policies(state: Any, shocks: Any, n_scenarios: int, seed: int = 0, *,
                           variants: Mapping[str, VenueVariant], baseline: str | None = None,
                           threads: int | None = None) -> VenuePolicyComparison:
    """Run a venue study (:func:`~liqcascade.venue_monte_carlo` over ``state``'s positions,
    accounts and agents, ``shocks`` a :class:`CorrelatedShockModel`) once per variant of the
    venue on common random numbers — the same ``seed``, so every variant sees the same moves —
    and compare them as :func:`compare_policies` does: per metric of :data:`VENUE_METRICS`,
    each variant's mean with its standard error and its paired difference from ``baseline``
    (the first variant by default) with ``sd(x_i - b_i) / sqrt(n)``.

    ``variants``: name -> a :class:`Venue` with the same markets (e.g. :func:`with_collateral`'s),
    a function of the state's venue returning one, or None (the venue as it is).
    """
    from .venue import Venue, VenueState
    from .venue_study import venue_monte_carlo

    if not isinstance(state, VenueState):
        raise TypeError(f"state: expected liqcascade.venue.VenueState, got {type(state).__name__}")
    if not variants:
        raise ValueError("variants: name at least one variant")
    base = baseline if baseline is not None else next(iter(variants))
    if base not in variants:
        raise ValueError(f"baseline: {base!r} is not one of the variants ({', '.join(variants)})")
    venues: dict[str, Venue] = {}
    for name, variant in variants.items():
        venue = state.venue if variant is None else variant(state.venue) if callable(variant) else variant
        if not isinstance(venue, Venue):
            raise TypeError(f"variants[{name!r}]: expected a Venue, a function returning one, or None; "
                            f"got {type(venue).__name__}")
        if venue.market_names != state.venue.market_names:
            raise ValueError(f"variants[{name!r}]: its markets {list(venue.market_names)} are not the state's "
                             f"{list(state.venue.market_names)}")
        venues[name] = venue
    tables: dict[str, Any] = {}
    rows: dict[str, ColumnTable] = {}
    for name, venue in venues.items():
        st = state if venue is state.venue else VenueState(venue, state.positions, state.accounts, stops=state.stops,
                                                           tokens=state.tokens, funds=state.funds)
        tables[name] = venue_monte_carlo(st, shocks, n_scenarios, seed, threads=threads, progress=False)
        rows[name] = ColumnTable({m: np.asarray(tables[name][m], dtype=np.float64) for m in VENUE_METRICS})
    metrics = dict(VENUE_METRICS)
    paired, n = _paired_table(rows, base, metrics, "compare_venue_policies")
    return VenuePolicyComparison(paired, tables, base, n, metrics, {}, venues=venues)
