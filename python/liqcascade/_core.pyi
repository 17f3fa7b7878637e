"""Type stubs of the compiled engine (hand-written; keep in step with src/bindings/)."""

from collections.abc import Callable
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

_F64 = npt.NDArray[np.float64]

class OrderBook:
    def __init__(self, bid_price: _F64, bid_qty: _F64, ask_price: _F64, ask_qty: _F64) -> None: ...
    @property
    def bid_price(self) -> _F64: ...
    @property
    def bid_qty(self) -> _F64: ...
    @property
    def ask_price(self) -> _F64: ...
    @property
    def ask_qty(self) -> _F64: ...
    @property
    def best_bid(self) -> float: ...
    @property
    def best_ask(self) -> float: ...
    @property
    def mid(self) -> float: ...

def reciprocal_positions(
    side: npt.NDArray[np.int8], qty: _F64, entry_price: _F64, contract_size: float
) -> tuple[npt.NDArray[np.int8], _F64, _F64]: ...
def quote_prices(prices: _F64) -> _F64: ...

class PositionSet:
    def __init__(
        self,
        side: npt.NDArray[np.int8],
        qty: _F64,
        entry_price: _F64,
        margin: _F64,
        mmr: _F64,
        maint_amount: _F64,
        copy: bool = True,
        rule: MarginRule = ...,
        inverse_size: float = 0.0,
    ) -> None: ...
    @property
    def rule(self) -> MarginRule: ...
    @property
    def inverse_size(self) -> float: ...
    def past_liquidation(self, direction: int, price: float) -> tuple[int, int]: ...
    def at_price(self, price: float, tiers: TierTable | None = None) -> tuple[_F64, _F64]: ...
    def column(self, name: str) -> np.ndarray: ...
    def __len__(self) -> int: ...
    def prepare(self) -> None: ...
    @property
    def prepared(self) -> bool: ...
    def prepared_side(self, direction: int) -> bool: ...
    @property
    def liquidation_price(self) -> _F64: ...
    @property
    def bankruptcy_price(self) -> _F64: ...

def cascade(
    book: OrderBook,
    positions: PositionSet,
    kind: Literal["relative", "sell", "buy"],
    value: float,
    ref_price: float | None = None,
) -> dict[str, Any]: ...
def cascade_aggregate(
    book: OrderBook,
    positions: PositionSet,
    kind: Literal["relative", "sell", "buy"],
    value: float,
    ref_price: float | None = None,
) -> dict[str, Any]: ...

def stable_order(keys: _F64, descending: bool = False) -> npt.NDArray[np.int64]: ...
def buffer_cache(limit: int | None = None) -> dict[str, int]: ...
def release_buffers() -> int: ...

def default_threads() -> int: ...
class MarginBasis:
    mark: MarginBasis
    entry: MarginBasis
    name: str
    value: int

class TierRule:
    liquidation: TierRule
    entry: TierRule
    name: str
    value: int

class LeverageLimit:
    reject: LeverageLimit
    clip: LeverageLimit
    ignore: LeverageLimit
    name: str
    value: int

class MarginRule:
    basis: MarginBasis
    close_fee: float
    def __init__(self, basis: MarginBasis = ..., close_fee: float = 0.0) -> None: ...
    def validate(self, prefix: str = "") -> None: ...

class TierTable:
    notional_floor: list[float]
    mmr: list[float]
    maint_amount: list[float]
    max_leverage: list[float]
    def __init__(self) -> None: ...
    def validate(self, prefix: str = "") -> None: ...
    def tier_of(self, notional: _F64) -> npt.NDArray[np.int64]: ...
    @staticmethod
    def continuous_maint_amount(notional_floor: list[float], mmr: list[float]) -> list[float]: ...
    def assign(
        self,
        side: npt.NDArray[np.int8],
        qty: _F64,
        entry_price: _F64,
        margin: _F64,
        rule: MarginRule,
        tier_rule: TierRule,
        leverage_limit: LeverageLimit,
    ) -> tuple[_F64, _F64, _F64, int]: ...

class PopulationModel:
    class EntryDistribution:
        lognormal: PopulationModel.EntryDistribution
        student_t: PopulationModel.EntryDistribution
        uniform: PopulationModel.EntryDistribution
    class SizeDistribution:
        pareto: PopulationModel.SizeDistribution
        lognormal: PopulationModel.SizeDistribution
        fixed: PopulationModel.SizeDistribution
    count: int
    long_share: float
    leverage: list[float]
    leverage_weights: list[float]
    entry_distribution: PopulationModel.EntryDistribution
    entry_spread: float
    entry_df: float
    size_distribution: PopulationModel.SizeDistribution
    size_shape: float
    open_interest: float
    tiers: TierTable
    mmr: float
    maint_amount: float
    exclude_underwater: bool
    margin_rule: MarginRule
    tier_rule: TierRule
    leverage_limit: LeverageLimit
    inverse_size: float
    def __init__(self) -> None: ...
    def validate(self) -> None: ...

class BookModel:
    mid: float
    tick: float
    profile_distance: list[float]
    profile_notional: list[float]
    thinning: float
    level_noise: float
    def __init__(self) -> None: ...
    def validate(self) -> None: ...
    @property
    def random(self) -> bool: ...

class ShockModel:
    class Kind:
        fixed: ShockModel.Kind
        normal: ShockModel.Kind
        student_t: ShockModel.Kind
        empirical: ShockModel.Kind
    kind: ShockModel.Kind
    values: list[float]
    scale: float
    df: float
    def __init__(self) -> None: ...
    def validate(self) -> None: ...

def run_monte_carlo(
    population: PopulationModel,
    book: BookModel,
    shocks: ShockModel,
    seed: int,
    first: int,
    count: int,
    threads: int = 0,
    progress: Callable[[int], None] | None = None,
) -> dict[str, np.ndarray]: ...
def sample_scenario(
    population: PopulationModel, book: BookModel, shocks: ShockModel, seed: int, scenario: int,
    scenario_field: str = "index",
) -> tuple[OrderBook, dict[str, np.ndarray], float]: ...
def sample_book(book: BookModel, seed: int = 0, scenario: int = 0) -> OrderBook: ...
def cascade_many(
    book: OrderBook,
    positions: PositionSet,
    shocks: _F64,
    ref_price: float | None = None,
    threads: int = 0,
    progress: Callable[[int], None] | None = None,
    detail: bool = False,
) -> dict[str, np.ndarray]: ...
def philox4x32_10(counter: list[int], key: list[int]) -> list[int]: ...
class LiquidationPolicy:
    class AdlRanking:
        pnl_leverage: LiquidationPolicy.AdlRanking
        binance: LiquidationPolicy.AdlRanking
    fee_rate: float
    limit_at_bankruptcy: bool
    takeover: bool
    adl: bool
    max_orders_per_step: int
    max_notional_per_step: float
    unwind_per_step: float
    partial_tiers: bool
    tiers: TierTable
    backstop_fraction: float
    slice_above: float
    slice_fraction: float
    slice_cooldown: float
    adl_ranking: LiquidationPolicy.AdlRanking
    taker_fee: float
    latency: int
    margin_call_grace: int
    margin_call_met: float
    margin_call_seed: int
    def __init__(self) -> None: ...
    def validate(self) -> None: ...

class CircuitBreaker:
    move: float
    window: int
    halt: int
    def __init__(self, move: float, window: int, halt: int) -> None: ...

class SimulationConfig:
    class Mark:
        last: SimulationConfig.Mark
        ema: SimulationConfig.Mark
        index: SimulationConfig.Mark
    steps: int
    dt: float
    resilience: float
    path: list[float]
    flow: list[float]
    shock: float
    mark: SimulationConfig.Mark
    mark_halflife: float
    basis: float
    band: float
    breakers: list[CircuitBreaker]
    insurance_fund: float
    funding_interval: int
    funding_rate: list[float]
    funding_interest: float
    funding_clamp: float
    funding_cap: float
    policy: LiquidationPolicy
    def __init__(self) -> None: ...

def simulate(book: OrderBook, positions: PositionSet, config: SimulationConfig) -> dict[str, Any]: ...
def require_memory(field: str, bytes: float, what: str) -> None: ...

class VenueSimulationConfig:
    common: SimulationConfig
    paths: list[float]
    flows: list[float]
    shocks: list[float]
    resilience: list[float]
    fund_group: list[int]
    insurance_fund: list[float]
    token_rebalance_interval: int
    def __init__(self) -> None: ...

def simulate_venue(state: VenueState, config: VenueSimulationConfig,
                   agents: VenueAgents | None = None) -> dict[str, Any]: ...
def correlated_gbm_paths(correlation: list[float], sigma: list[float], mu: list[float], start: list[float],
                         steps: int, dt: float, seed: int) -> npt.NDArray[np.float64]: ...

class VenueMarket:
    name: str
    def __init__(self, name: str, book: OrderBook, tiers: TierTable | None = None, rule: MarginRule = ...,
                 tier_rule: TierRule = ..., ref_price: float | None = None) -> None: ...

class VenueAsset:
    name: str
    priced_by: int
    def __init__(self, name: str, priced_by: int = -1, price: float = 1.0, haircut: float = 0.0,
                 floor: float = 0.0, index_market: int = -1, index_ratio: float = 1.0) -> None: ...

class Venue:
    n_markets: int
    n_assets: int
    def __init__(self, markets: list[VenueMarket], assets: list[VenueAsset]) -> None: ...

class VenueState:
    ref_price: npt.NDArray[np.float64]
    mmr: npt.NDArray[np.float64]
    maint_amount: npt.NDArray[np.float64]
    liquidation_price: npt.NDArray[np.float64]
    bankruptcy_price: npt.NDArray[np.float64]
    equity_ref: npt.NDArray[np.float64]
    maintenance_ref: npt.NDArray[np.float64]
    def __init__(self, venue: Venue, side: npt.NDArray[np.int8], qty: npt.NDArray[np.float64],
                 entry_price: npt.NDArray[np.float64], margin: npt.NDArray[np.float64],
                 mmr: npt.NDArray[np.float64], maint_amount: npt.NDArray[np.float64],
                 market: npt.NDArray[np.int64], account: npt.NDArray[np.int64], n_accounts: int,
                 collateral: npt.NDArray[np.float64]) -> None: ...
    def equity_at(self, last: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]: ...
    def maintenance_at(self, last: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]: ...
    def account_trigger_prices(self) -> dict[str, npt.NDArray[Any]]: ...

class VenueAgents:
    n_stops: int
    n_tokens: int
    n_funds: int
    fund_debt: npt.NDArray[np.float64]
    def __init__(self, state: VenueState, stop_market: npt.NDArray[np.int64], stop_side: npt.NDArray[np.int8],
                 stop_qty: npt.NDArray[np.float64], stop_price: npt.NDArray[np.float64],
                 token_market: npt.NDArray[np.int64], token_leverage: npt.NDArray[np.float64],
                 token_nav: npt.NDArray[np.float64], token_threshold: npt.NDArray[np.float64],
                 token_rebalance_price: npt.NDArray[np.float64], n_funds: int, fund_equity: npt.NDArray[np.float64],
                 fund_target: npt.NDArray[np.float64], fund_max: npt.NDArray[np.float64],
                 fund_holdings: npt.NDArray[np.float64]) -> None: ...

def token_rebalance(leverage: float, nav: float, rebalance_price: float,
                    price: float) -> tuple[float, float, float, bool]: ...
def fund_health(assets: float, debt: float, target_leverage: float,
                max_leverage: float) -> tuple[float, bool, float]: ...
def venue_cascade(state: VenueState, kinds: list[str], values: list[float],
                  agents: VenueAgents | None = None) -> dict[str, Any]: ...

class CorrelatedShockModel:
    class Kind:
        normal: CorrelatedShockModel.Kind
        student_t: CorrelatedShockModel.Kind
        historical: CorrelatedShockModel.Kind
        fixed: CorrelatedShockModel.Kind
    kind: CorrelatedShockModel.Kind
    dimension: int
    correlation: list[float]
    scale: list[float]
    df: float
    moves: list[float]
    def __init__(self) -> None: ...
    def validate(self) -> None: ...
    def cholesky(self) -> _F64: ...

def sample_correlated_shocks(model: CorrelatedShockModel, seed: int, first: int, count: int) -> _F64: ...
def run_venue_study(
    state: VenueState,
    model: CorrelatedShockModel,
    markets: list[int],
    seed: int,
    first: int,
    count: int,
    threads: int = 0,
    progress: Callable[[int], None] | None = None,
    agents: VenueAgents | None = None,
) -> dict[str, Any]: ...

class VenuePopulationModel:
    traders: int
    cross_share: float
    markets: list[int]
    open_interest: list[float]
    markets_per_trader: list[float]
    long_share: float
    strategies: int
    strategy_loading: float
    strategy_market_correlation: float
    leverage: list[float]
    leverage_weights: list[float]
    entry_spread: float
    size_distribution: PopulationModel.SizeDistribution
    size_shape: float
    mmr: float
    maint_amount: float
    baskets: list[float]
    basket_weights: list[float]
    tokens: int
    token_leverage: list[float]
    token_leverage_weights: list[float]
    token_threshold: list[float]
    token_threshold_weights: list[float]
    token_nav: float
    funds: int
    fund_markets: list[float]
    fund_assets: float
    fund_target: list[float]
    fund_target_weights: list[float]
    fund_buffer_min: float
    fund_buffer_max: float
    agent_size_sigma: float
    stop_notional: float
    stop_clusters: int
    stop_round_step: list[float]
    stops_per_cluster: int
    stop_width: float
    stop_extreme_share: float
    stop_range: float
    def __init__(self) -> None: ...
    def validate(self) -> None: ...
    def validate_for(self, venue: Venue) -> None: ...

def round_number_step(ref_price: float) -> float: ...
def round_number_levels(ref_price: float, step: float, count: int, below: bool) -> _F64: ...
def sample_venue_population(venue: Venue, model: VenuePopulationModel, seed: int, scenario: int) -> dict[str, Any]: ...
def run_venue_population_study(
    venue: Venue,
    model: VenuePopulationModel,
    shocks: CorrelatedShockModel,
    markets: list[int],
    seed: int,
    first: int,
    count: int,
    threads: int = 0,
    progress: Callable[[int], None] | None = None,
) -> dict[str, Any]: ...
