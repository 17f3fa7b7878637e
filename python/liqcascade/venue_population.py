"""Populations of a venue sampled per scenario (docs/design.md, "Populations over a venue"):
traders holding positions in several markets — cross-margin accounts with collateral baskets, or
isolated positions — whose directions load on a common "strategy" factor, and leveraged tokens
and leverage-targeting funds. The dataclass checks types and shapes, then holds the engine's
typed model and calls its ``validate()`` (the range rules are the core's); every draw is the
core's, from the counter-based streams, so a scenario's population is a pure function of
``(seed, scenario)``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from . import _core
from ._table import ColumnTable
from ._validation import FloatArray, core_enum, float_values, int_scalar, real_scalar
from .agents import Funds, LeveragedTokens, StopOrders
from .models import _index, _rebuild_model, _seed
from .venue import Accounts, Venue, VenuePositions, VenueState

__all__ = ["VenuePopulation", "VenuePopulationSample"]

#: Leverage mix of a venue population's traders (a cross account's leverage on its collateral,
#: an isolated position's on its margin).
DEFAULT_VENUE_LEVERAGE = (2.0, 3.0, 5.0, 10.0, 20.0, 50.0)
DEFAULT_VENUE_LEVERAGE_WEIGHTS = (0.10, 0.15, 0.25, 0.30, 0.15, 0.05)
#: Weights of a trader holding 1, 2 or 3 markets (cut to the markets traded, and renormalised).
DEFAULT_MARKETS_PER_TRADER = (0.5, 0.3, 0.2)


def _weights(value: Any, name: str) -> tuple[float, ...]:
    return tuple(float_values(value, name).tolist())


@dataclass(frozen=True, eq=False)
class VenuePopulation:
    """A random population of a venue's traders, tokens and funds, drawn again in each scenario.

    - ``traders``: each trader is a cross-margin account with probability ``cross_share``,
      otherwise its positions are isolated. It holds ``k`` of the markets of
      ``open_interest`` (a dict of market name to the expected total notional there), ``k``
      drawn with weights ``markets_per_trader`` (of 1, 2, ...; default 0.5, 0.3, 0.2 cut to the
      markets traded; the ``k`` markets a uniform subset), so market ``m`` holds
      ``open_interest[m]`` of notional on average.
    - directions: trader ``a`` of strategy ``s`` (``strategies`` of them, uniform) is long in
      market ``m`` when ``w f[s, m] + sqrt(1 - w^2) e < Phi^-1(long_share)`` (``w`` =
      ``strategy_loading``; ``f[s, m] = sqrt(rho) g[s] + sqrt(1 - rho) h[s, m]``, ``rho`` =
      ``strategy_market_correlation``; ``g``, ``h``, ``e`` standard normals drawn per
      scenario): traders of one strategy hold similar books, and with ``rho`` > 0 a strategy
      leans the same way in every market.
    - size: a trader's size ``X`` (mean 1; ``"pareto"`` with tail index ``size_shape``,
      ``"lognormal"`` with sigma ``size_shape`` or ``"fixed"``) shared by its positions; its
      notional in market ``m`` is ``X`` times the market's share; entries
      ``ref * exp(entry_spread * Z)``.
    - leverage from ``leverage`` with ``leverage_weights``: one draw per cross account, one
      per isolated position, at most the tier's ``max_leverage`` of the position's notional.
      An isolated position's margin is ``notional / leverage`` plus its loss at the reference
      prices (if any), a cross account's collateral value (after haircuts) the sum of its
      positions' ``notional / leverage`` plus their net loss there: each starts with at least
      ``notional / leverage`` of equity (a high leverage with a wide entry spread may still
      start an account at its trigger).
    - collateral: a cross account's value is held in one of ``baskets`` (dicts of asset name to
      value share, summing to 1; default all in the quote asset) chosen with
      ``basket_weights``.
    - ``tokens`` leveraged tokens, each on a market drawn uniformly, leverage and threshold
      from their mixes, NAV lognormal (sigma ``agent_size_sigma``) so that the expected total
      NAV in a market is ``token_nav`` times its open interest; rebalanced last at the
      reference.
    - ``funds`` leverage-targeting funds, each holding a uniform subset of ``k`` markets
      (``fund_markets`` weights of 1, 2, ...; default 2 markets) in proportion to their open
      interest, assets lognormal with mean ``fund_assets`` x the total open interest /
      ``funds``, target leverage from ``fund_target``, buffer ``target x U(fund_buffer)``,
      drawn at the target.
    - stop clusters (``stop_notional`` > 0; issue 20's): in each traded market,
      ``stop_notional`` x its open interest of stop orders a side — sell stops below the
      reference, buy stops above it. A side's share ``1 - stop_extreme_share`` is split evenly
      among clusters just beyond the ``stop_clusters`` round numbers nearest the reference
      (multiples of ``stop_round_step[m]``; default the largest 1, 2 or 5 times a power of ten at
      most 5 % of the reference: BTC at 122,000 every 5,000, ETH at 4,100 every 200), the rest in
      one cluster just beyond the recent low (sell stops) or high (buy stops), ``ref (1 - d)`` and
      ``ref (1 + d')`` with ``d``, ``d'`` uniform on ``(0, 2 stop_range)``, drawn per scenario. A
      cluster of centre ``c`` holds ``stops_per_cluster`` stops at ``c (1 + side |z| stop_width)``
      (``z`` standard normal), their quantities lognormal shares (sigma ``agent_size_sigma``)
      of the cluster's notional at ``c``.
    """

    open_interest: Mapping[str, float]
    traders: int = 100_000
    cross_share: float = 0.5
    markets_per_trader: Sequence[float] | None = None
    long_share: float = 0.5
    strategies: int = 1
    strategy_loading: float = 0.0
    strategy_market_correlation: float = 0.0
    leverage: Sequence[float] = DEFAULT_VENUE_LEVERAGE
    leverage_weights: Sequence[float] = DEFAULT_VENUE_LEVERAGE_WEIGHTS
    entry_spread: float = 0.02
    size_distribution: Literal["pareto", "lognormal", "fixed"] = "pareto"
    size_shape: float = 1.5
    mmr: float = 0.005
    maint_amount: float = 0.0
    baskets: Sequence[Mapping[str, float]] | None = None
    basket_weights: Sequence[float] = (1.0,)
    tokens: int = 0
    token_leverage: Sequence[float] = (3.0, -3.0)
    token_leverage_weights: Sequence[float] = (0.5, 0.5)
    token_threshold: Sequence[float] = (0.10,)
    token_threshold_weights: Sequence[float] = (1.0,)
    token_nav: float = 0.02
    funds: int = 0
    fund_markets: Sequence[float] | None = None
    fund_assets: float = 0.1
    fund_target: Sequence[float] = (2.0, 3.0, 5.0)
    fund_target_weights: Sequence[float] = (0.3, 0.4, 0.3)
    fund_buffer: tuple[float, float] = (1.2, 1.5)
    agent_size_sigma: float = 1.0
    stop_notional: float = 0.0
    stop_clusters: int = 3
    stop_round_step: Mapping[str, float] | None = None
    stops_per_cluster: int = 20
    stop_width: float = 0.002
    stop_extreme_share: float = 0.0
    stop_range: float = 0.05
    _model: Any = field(init=False, repr=False, compare=False)  # validated on its own (markets by position)

    def __post_init__(self) -> None:
        if not isinstance(self.open_interest, Mapping) or not self.open_interest:
            raise TypeError("open_interest: expected a dict of market name to expected notional, got "
                            f"{type(self.open_interest).__name__}" + (" (empty)" if isinstance(
                                self.open_interest, Mapping) else ""))
        interest = {}
        for name, value in self.open_interest.items():
            if not isinstance(name, str):
                raise TypeError(f"open_interest: expected market names, got {type(name).__name__}")
            interest[name] = real_scalar(value, f"open_interest[{name!r}]")
        object.__setattr__(self, "open_interest", interest)
        if self.markets_per_trader is None:  # DEFAULT_MARKETS_PER_TRADER over as many markets as are traded
            default = DEFAULT_MARKETS_PER_TRADER[: len(interest)]
            object.__setattr__(self, "markets_per_trader", tuple(w / sum(default) for w in default))
        for name in ("markets_per_trader", "leverage", "leverage_weights", "basket_weights", "token_leverage",
                     "token_leverage_weights", "token_threshold", "token_threshold_weights", "fund_target",
                     "fund_target_weights"):
            object.__setattr__(self, name, _weights(getattr(self, name), name))
        if self.fund_markets is not None:
            object.__setattr__(self, "fund_markets", _weights(self.fund_markets, "fund_markets"))
        if self.baskets is not None:
            if isinstance(self.baskets, Mapping) or not isinstance(self.baskets, Sequence):
                raise TypeError("baskets: expected a list of dicts of asset name to value share")
            baskets = []
            for i, basket in enumerate(self.baskets):
                if not isinstance(basket, Mapping):
                    raise TypeError(f"baskets[{i}]: expected a dict of asset name to value share, got "
                                    f"{type(basket).__name__}")
                baskets.append({str(k): real_scalar(v, f"baskets[{i}][{k!r}]") for k, v in basket.items()})
            object.__setattr__(self, "baskets", tuple(baskets))
            if len(baskets) != len(self.basket_weights):
                raise ValueError(f"baskets: {len(baskets)} baskets, but basket_weights has {len(self.basket_weights)} "
                                 "weights (one per basket)")
        try:
            low, high = self.fund_buffer
        except (TypeError, ValueError):
            raise TypeError("fund_buffer: expected a (min, max) pair of buffer ratios") from None
        object.__setattr__(self, "fund_buffer",
                           (real_scalar(low, "fund_buffer[0]"), real_scalar(high, "fund_buffer[1]")))
        if self.stop_round_step is not None:
            if not isinstance(self.stop_round_step, Mapping):
                raise TypeError("stop_round_step: expected a dict of market name to the step of its round numbers, "
                                f"got {type(self.stop_round_step).__name__}")
            steps = {}
            for name, value in self.stop_round_step.items():
                if name not in interest:
                    raise ValueError(f"stop_round_step: {name!r} is not a market of open_interest "
                                     f"({', '.join(map(repr, interest))})")
                steps[name] = real_scalar(value, f"stop_round_step[{name!r}]")
            object.__setattr__(self, "stop_round_step", steps)
        names = list(interest)
        assets = sorted({k for b in self.baskets or () for k in b}) or ["quote"]
        object.__setattr__(self, "_model", self._core(list(range(len(names))), assets, check=True))

    @property
    def market_names(self) -> tuple[str, ...]:
        """The markets the population trades, in the order of ``open_interest``."""
        return tuple(self.open_interest)

    def _basket_rows(self, assets: Sequence[str]) -> list[float]:
        if self.baskets is None:
            return [1.0] + [0.0] * (len(assets) - 1)
        rows: list[float] = []
        for i, basket in enumerate(self.baskets):
            for name in basket:
                if name not in assets:
                    raise ValueError(f"baskets[{i}]: no asset named {name!r} in the venue "
                                     f"(assets: {', '.join(map(repr, assets))})")
            rows.extend(basket.get(a, 0.0) for a in assets)
        return rows

    def _core(self, markets: list[int], assets: Sequence[str], *, check: bool) -> Any:
        m = _core.VenuePopulationModel()
        m.traders = int_scalar(self.traders, "traders", minimum=0, maximum=2**64 - 1)
        m.cross_share = real_scalar(self.cross_share, "cross_share")
        m.markets = markets
        m.open_interest = list(self.open_interest.values())
        m.markets_per_trader = list(self.markets_per_trader or ())
        m.long_share = real_scalar(self.long_share, "long_share")
        m.strategies = int_scalar(self.strategies, "strategies", minimum=0, maximum=2**64 - 1)
        m.strategy_loading = real_scalar(self.strategy_loading, "strategy_loading")
        m.strategy_market_correlation = real_scalar(self.strategy_market_correlation, "strategy_market_correlation")
        m.leverage, m.leverage_weights = list(self.leverage), list(self.leverage_weights)
        m.entry_spread = real_scalar(self.entry_spread, "entry_spread")
        m.size_distribution = core_enum(_core.PopulationModel.SizeDistribution, self.size_distribution,
                                        "size_distribution")
        m.size_shape = real_scalar(self.size_shape, "size_shape")
        m.mmr = real_scalar(self.mmr, "mmr")
        m.maint_amount = real_scalar(self.maint_amount, "maint_amount")
        m.basket_weights = list(self.basket_weights)
        m.baskets = self._basket_rows(assets)
        m.tokens = int_scalar(self.tokens, "tokens", minimum=0, maximum=2**64 - 1)
        m.token_leverage, m.token_leverage_weights = list(self.token_leverage), list(self.token_leverage_weights)
        m.token_threshold, m.token_threshold_weights = list(self.token_threshold), list(self.token_threshold_weights)
        m.token_nav = real_scalar(self.token_nav, "token_nav")
        m.funds = int_scalar(self.funds, "funds", minimum=0, maximum=2**64 - 1)
        if self.fund_markets is None:
            m.fund_markets = [0.0, 1.0] if len(markets) >= 2 else [1.0]
        else:
            m.fund_markets = list(self.fund_markets)
        m.fund_assets = real_scalar(self.fund_assets, "fund_assets")
        m.fund_target, m.fund_target_weights = list(self.fund_target), list(self.fund_target_weights)
        m.fund_buffer_min, m.fund_buffer_max = self.fund_buffer
        m.agent_size_sigma = real_scalar(self.agent_size_sigma, "agent_size_sigma")
        m.stop_notional = real_scalar(self.stop_notional, "stop_notional")
        m.stop_clusters = int_scalar(self.stop_clusters, "stop_clusters", minimum=0, maximum=2**64 - 1)
        steps = self.stop_round_step or {}
        m.stop_round_step = [float(steps.get(name, 0.0)) for name in self.open_interest] if steps else []
        m.stops_per_cluster = int_scalar(self.stops_per_cluster, "stops_per_cluster", minimum=0, maximum=2**64 - 1)
        m.stop_width = real_scalar(self.stop_width, "stop_width")
        m.stop_extreme_share = real_scalar(self.stop_extreme_share, "stop_extreme_share")
        m.stop_range = real_scalar(self.stop_range, "stop_range")
        if check:
            m.validate()
        return m

    def _to_core(self, venue: Venue) -> Any:
        """The engine's model for ``venue``: markets by index, baskets over its assets (checked
        against it)."""
        if not isinstance(venue, Venue):
            raise TypeError(f"venue: expected liqcascade.venue.Venue, got {type(venue).__name__}")
        markets = []
        for name in self.open_interest:
            if name not in venue.market_names:
                raise ValueError(f"open_interest: no market named {name!r} in the venue "
                                 f"(markets: {', '.join(map(repr, venue.market_names))})")
            markets.append(venue.market_index(name))
        model = self._core(markets, venue.asset_names, check=False)
        model.validate_for(venue._venue)
        return model

    def sample(self, venue: Venue, seed: int = 0, scenario: int = 0) -> VenuePopulationSample:
        """The population of ``scenario`` of a study over ``venue`` with this seed."""
        model = self._to_core(venue)
        raw = _core.sample_venue_population(venue._venue, model, _seed(seed), _index(scenario, "scenario"))
        return VenuePopulationSample._from_raw(raw, venue, self)

    def __reduce__(self) -> tuple[Any, ...]:
        return _rebuild_model(self)


@dataclass(frozen=True, eq=False)
class VenuePopulationSample:
    """One scenario's population: ``positions`` and ``accounts`` (cross accounts numbered in
    trader order), ``tokens``, ``funds`` and ``stops`` (``None`` when the model has none) — what
    :func:`venue_cascade` takes — and the draws behind them: ``traders`` (one row per trader:
    ``cross``, ``strategy``, ``n_markets``, ``leverage`` (a cross account's; NaN for an
    isolated trader, whose positions each drew their own), ``basket`` (-1 for an isolated
    trader), ``size``), per position ``trader``, ``strategy_factor`` (strategies x traded
    markets, in the order of ``open_interest``), and with stops ``stop_levels`` (one row per
    traded market: ``market``, ``round_step``, ``recent_low``, ``recent_high``)."""

    venue: Venue
    positions: VenuePositions
    accounts: Accounts
    tokens: LeveragedTokens | None
    funds: Funds | None
    traders: ColumnTable
    trader: npt.NDArray[np.int64] = field(repr=False)
    strategy_factor: FloatArray = field(repr=False)
    stops: StopOrders | None = None
    stop_levels: ColumnTable | None = field(default=None, repr=False)

    @classmethod
    def _from_raw(cls, raw: dict[str, Any], venue: Venue, model: VenuePopulation) -> VenuePopulationSample:
        positions = VenuePositions(raw["side"], raw["qty"], raw["entry_price"], market=raw["market"],
                                   margin=raw["margin"], account=raw["account"], mmr=raw["mmr"],
                                   maint_amount=raw["maint_amount"])
        collateral = raw["collateral"]
        accounts = Accounts({name: collateral[:, k] for k, name in enumerate(venue.asset_names)},
                            count=collateral.shape[0])
        tokens = None
        if int(model.tokens) > 0:
            tokens = LeveragedTokens(np.asarray(venue.market_names)[raw["token_market"]], raw["token_leverage"],
                                     raw["token_nav"],
                                     raw["token_threshold"])
        funds = None
        if int(model.funds) > 0:
            funds = Funds(raw["fund_holdings"], raw["fund_equity"], raw["fund_target"], raw["fund_max"])
        traders = ColumnTable({"cross": raw["cross"].view(np.bool_), "strategy": raw["strategy"],
                               "n_markets": raw["n_markets"], "leverage": raw["leverage"], "basket": raw["basket"],
                               "size": raw["size"]})
        stops = stop_levels = None
        if raw["stop_qty"].size:
            stops = StopOrders(np.asarray(venue.market_names)[raw["stop_market"]], raw["stop_side"], raw["stop_qty"],
                               raw["stop_price"])
        if raw["stop_step"].size:
            stop_levels = ColumnTable({"market": np.array(model.market_names, dtype=object),
                                       "round_step": raw["stop_step"], "recent_low": raw["recent_low"],
                                       "recent_high": raw["recent_high"]})
        return cls(venue, positions, accounts, tokens, funds, traders, raw["trader"], raw["strategy_factor"], stops,
                   stop_levels)

    def state(self) -> VenueState:
        """The :class:`VenueState` of this population (its tokens, funds and stops included)."""
        return VenueState(self.venue, self.positions, self.accounts, stops=self.stops, tokens=self.tokens,
                          funds=self.funds)
