// Sampling a venue's population per scenario, and the study over a venue that resamples it
// (docs/design.md, "Populations over a venue").
#include "cascade_core/venue_population.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>
#include <mutex>
#include <numeric>
#include <optional>
#include <string>

#include "cascade_core/det_math.hpp"
#include "cascade_core/errors.hpp"
#include "cascade_core/resources.hpp"
#include "cascade_core/rng.hpp"

namespace cascade_core {

namespace {

constexpr std::uint64_t max_items = 0xFFFFFFFFULL - 1;  // stream items are 32-bit
constexpr std::uint64_t max_strategies = 1ULL << 24;

void weights(const std::vector<double>& w, const char* field) {
  if (w.empty()) throw InputError(field, "at least one weight is required");
  require_each(w, field, finite_non_negative, "must be finite and >= 0");
  double total = 0.0;
  for (const double x : w) total += x;
  require(std::abs(total - 1.0) <= 1e-9, field, "must sum to 1", total);
}

void mix(const std::vector<double>& values, const std::vector<double>& w, const char* values_field,
         const char* weights_field) {
  if (values.empty()) throw InputError(values_field, "at least one value is required");
  if (w.size() != values.size()) {
    throw InputError(weights_field, "length " + std::to_string(w.size()) + " does not match " + values_field +
                                        " length " + std::to_string(values.size()));
  }
  weights(w, weights_field);
}

void unit_interval(double v, const char* field) {
  require(std::isfinite(v) && v >= 0.0 && v <= 1.0, field, "must be finite and in [0, 1]", v);
}

void count(std::uint64_t n, const char* field) {
  if (n > max_items) throw InputError(field, "at most 4,294,967,294, got " + std::to_string(n));
}

// The index a 32-bit uniform chooses among weights: how many cumulative weights (but the
// last) it reaches — as the one-market sampler's leverage choice.
std::size_t choose(double u, const std::vector<double>& cumulative) noexcept {
  std::size_t k = 0;
  for (std::size_t t = 0; t + 1 < cumulative.size(); ++t) k += u >= cumulative[t] ? 1 : 0;
  return k;
}

std::vector<double> cumulate(const std::vector<double>& w) {
  std::vector<double> out(w.size());
  double running = 0.0;
  for (std::size_t k = 0; k < w.size(); ++k) out[k] = running += w[k];
  return out;
}

// floor(u * n), kept below n (u on [0, 1)).
std::size_t uniform_index(double u, std::size_t n) noexcept {
  return std::min(static_cast<std::size_t>(u * static_cast<double>(n)), n - 1);
}

// The first k of 0 .. n-1 after a partial Fisher-Yates shuffle (one 32-bit uniform per pick),
// sorted: a uniform k-subset.
void k_subset(Stream& stream, std::size_t n, std::size_t k, std::vector<std::size_t>& scratch,
              std::vector<std::size_t>& out) {
  scratch.resize(n);
  std::iota(scratch.begin(), scratch.end(), std::size_t{0});
  for (std::size_t j = 0; j < k; ++j) {
    const std::size_t r = j + uniform_index(stream.uniform32(), n - j);
    std::swap(scratch[j], scratch[r]);
  }
  out.assign(scratch.begin(), scratch.begin() + static_cast<std::ptrdiff_t>(k));
  std::sort(out.begin(), out.end());
}

// Stream::normal()'s value (the same bits: inverse_normal_cdf picks one of the two forms), with
// the tail form (a log and a square root) computed only for the 5 % of draws that need it.
double normal(Stream& stream) noexcept {
  const double u = stream.uniform();
  return normal_tail(u) ? inverse_normal_tail(u) : inverse_normal_central(u);
}

double mean_one_lognormal(double sigma, double u) noexcept {
  return det_exp(sigma * (normal_tail(u) ? inverse_normal_tail(u) : inverse_normal_central(u)) - 0.5 * sigma * sigma);
}

// What sampling needs of a model and venue, computed once per study.
struct Plan {
  std::size_t k = 0, assets = 0, venue_markets = 0;
  std::vector<double> ref;          // per traded market
  std::vector<double> notional;     // per traded market: a trader's notional there per unit size
  std::vector<double> asset_value;  // per asset: the value of one unit at the reference (after haircut)
  std::vector<const TierTable*> caps;  // per traded market: its tiers when they carry max_leverage
  std::vector<double> markets_cum, leverage_cum, basket_cum, token_leverage_cum, token_threshold_cum;
  std::vector<double> fund_markets_cum, fund_target_cum;
  double threshold = 0.0;  // Phi^-1(long_share)
  double idiosyncratic = 1.0, common = 0.0, own = 1.0;  // sqrt(1 - w^2), sqrt(rho), sqrt(1 - rho)
  double size_scale = 1.0, neg_inv_shape = 0.0, lognormal_shift = 0.0;
  double open_interest_total = 0.0;
  std::vector<double> stop_step;  // per traded market: its round numbers' step (when there are stops)

  Plan(const VenuePopulationModel& model, const Venue& venue) {
    model.validate(venue);
    k = model.markets.size();
    assets = venue.assets.size();
    venue_markets = venue.markets.size();
    // the reference prices and the assets' prices there, as the venue's state values them (its
    // one owner of valuation), from a state with no positions and no accounts
    const VenueState reference(std::make_shared<const Venue>(venue), VenuePositionColumns{}, AccountColumns{});
    const std::vector<double>& all_ref = reference.ref_price();
    const std::vector<double> asset_price = reference.asset_prices(all_ref);
    double mean_held = 0.0;
    for (std::size_t j = 0; j < model.markets_per_trader.size(); ++j) {
      mean_held += static_cast<double>(j + 1) * model.markets_per_trader[j];
    }
    // market m is held by a trader with probability E[k] / K (a uniform k-subset)
    const double holders = static_cast<double>(model.traders) * mean_held / static_cast<double>(k);
    for (std::size_t j = 0; j < k; ++j) {
      const auto m = static_cast<std::size_t>(model.markets[j]);
      ref.push_back(all_ref[m]);
      notional.push_back(model.open_interest[j] / (holders > 0.0 ? holders : 1.0));
      const VenueMarket& market = venue.markets[m];
      caps.push_back(market.tiers && !market.tiers->max_leverage.empty() ? &*market.tiers : nullptr);
      open_interest_total += model.open_interest[j];
    }
    for (std::size_t c = 0; c < assets; ++c) asset_value.push_back(asset_price[c] * (1.0 - venue.assets[c].haircut));
    if (model.stop_notional > 0.0) {
      for (std::size_t j = 0; j < k; ++j) {
        const double given = model.stop_round_step.empty() ? 0.0 : model.stop_round_step[j];
        stop_step.push_back(given > 0.0 ? given : round_number_step(ref[j]));
      }
    }
    markets_cum = cumulate(model.markets_per_trader);
    leverage_cum = cumulate(model.leverage_weights);
    basket_cum = cumulate(model.basket_weights);
    if (model.tokens > 0) {
      token_leverage_cum = cumulate(model.token_leverage_weights);
      token_threshold_cum = cumulate(model.token_threshold_weights);
    }
    if (model.funds > 0) {
      fund_markets_cum = cumulate(model.fund_markets);
      fund_target_cum = cumulate(model.fund_target_weights);
    }
    const double ls = model.long_share;
    threshold = ls <= 0.0 ? -std::numeric_limits<double>::infinity()
                : ls >= 1.0 ? std::numeric_limits<double>::infinity()
                            : inverse_normal_cdf(ls);
    idiosyncratic = std::sqrt(1.0 - model.strategy_loading * model.strategy_loading);
    common = std::sqrt(model.strategy_market_correlation);
    own = std::sqrt(1.0 - model.strategy_market_correlation);
    using Size = VenuePopulationModel::SizeDistribution;
    if (model.size_distribution == Size::pareto) size_scale = (model.size_shape - 1.0) / model.size_shape;
    neg_inv_shape = -1.0 / model.size_shape;
    lognormal_shift = -0.5 * model.size_shape * model.size_shape;
  }

  // A trader's size X (mean 1) from a 53-bit uniform.
  [[nodiscard]] double size(const VenuePopulationModel& model, double u) const noexcept {
    using Size = VenuePopulationModel::SizeDistribution;
    switch (model.size_distribution) {
      case Size::pareto: return size_scale * det_exp(det_log(u) * neg_inv_shape);
      case Size::lognormal: return det_exp(model.size_shape * inverse_normal_cdf(u) + lognormal_shift);
      case Size::fixed: break;
    }
    return 1.0;
  }

  // The leverage a position of this notional in traded market j may take: at most its tier's
  // max_leverage where the market has one.
  [[nodiscard]] double capped(std::size_t j, double notional_value, double leverage) const noexcept {
    if (caps[j] == nullptr) return leverage;
    return std::min(leverage, caps[j]->max_leverage[caps[j]->tier_of(notional_value)]);
  }
};

void sample_stops(const VenuePopulationModel& model, const Plan& plan, std::uint64_t seed, std::uint64_t scenario,
                  VenuePopulationSample& out);

void sample(const VenuePopulationModel& model, const Plan& plan, std::uint64_t seed, std::uint64_t scenario,
            VenuePopulationSample& out, const std::atomic<bool>* cancel) {
  out.clear();
  const std::size_t k = plan.k;
  // strategy factors
  out.strategy_factor.resize(static_cast<std::size_t>(model.strategies) * k);
  for (std::uint64_t s = 0; s < model.strategies; ++s) {
    Stream stream(seed, scenario, Purpose::venue_strategy, static_cast<std::uint32_t>(s));
    const double g = normal(stream);
    for (std::size_t j = 0; j < k; ++j) {
      out.strategy_factor[s * k + j] = plan.common * g + plan.own * normal(stream);
    }
  }
  // columns sized once for the most positions the traders can hold, written in place, then cut
  const auto traders = static_cast<std::size_t>(model.traders);
  const std::size_t most = traders * model.markets_per_trader.size();
  for (auto* v : {&out.qty, &out.entry_price, &out.margin, &out.mmr, &out.maint_amount}) v->resize(most);
  for (auto* v : {&out.market, &out.account, &out.trader}) v->resize(most);
  out.side.resize(most);
  for (auto* v : {&out.strategy, &out.basket, &out.n_held}) v->resize(traders);
  out.leverage.resize(traders);
  out.size.resize(traders);
  out.cross.resize(traders);
  out.collateral.resize(traders * plan.assets);
  std::vector<std::size_t> scratch, held;
  std::size_t n = 0;
  for (std::size_t a = 0; a < traders; ++a) {
    if ((a & 0xFFFF) == 0 && cancel != nullptr && cancel->load(std::memory_order_relaxed)) return;
    Stream stream(seed, scenario, Purpose::venue_trader, static_cast<std::uint32_t>(a));
    const bool cross = stream.uniform32() < model.cross_share;
    const std::size_t n_held = choose(stream.uniform32(), plan.markets_cum) + 1;
    const std::size_t strategy = uniform_index(stream.uniform32(), static_cast<std::size_t>(model.strategies));
    const double account_leverage = model.leverage[choose(stream.uniform32(), plan.leverage_cum)];
    const std::size_t basket = choose(stream.uniform32(), plan.basket_cum);
    const double x = plan.size(model, stream.uniform());
    k_subset(stream, k, n_held, scratch, held);
    const auto account = cross ? static_cast<std::int64_t>(out.n_accounts) : -1;
    double value = 0.0, account_pnl = 0.0;
    for (const std::size_t j : held) {
      const double eps = normal(stream);
      const double z_entry = normal(stream);
      const double own_leverage = model.leverage[choose(stream.uniform32(), plan.leverage_cum)];
      const double latent = model.strategy_loading * out.strategy_factor[strategy * k + j] + plan.idiosyncratic * eps;
      const std::int8_t side = latent < plan.threshold ? 1 : -1;
      const double notional_value = plan.notional[j] * x;
      const double entry = plan.ref[j] * det_exp(model.entry_spread * z_entry);
      const double qty = notional_value / entry;
      const double leverage = plan.capped(j, notional_value, cross ? account_leverage : own_leverage);
      const double pnl_ref = static_cast<double>(side) * qty * (plan.ref[j] - entry);
      out.side[n] = side;
      out.qty[n] = qty;
      out.entry_price[n] = entry;
      out.mmr[n] = model.mmr;
      out.maint_amount[n] = model.maint_amount;
      out.market[n] = model.markets[j];
      out.account[n] = account;
      out.trader[n] = static_cast<std::int64_t>(a);
      // leverage L means at least notional / L of equity at the reference prices: the margin
      // (or the account's collateral) covers a loss at the reference on top of it
      if (cross) {
        out.margin[n] = 0.0;
        value += notional_value / leverage;
        account_pnl += pnl_ref;
      } else {
        out.margin[n] = notional_value / leverage + std::max(0.0, -pnl_ref);
      }
      ++n;
    }
    out.cross[a] = cross ? 1 : 0;
    out.strategy[a] = static_cast<std::int64_t>(strategy);
    out.basket[a] = cross ? static_cast<std::int64_t>(basket) : -1;
    out.n_held[a] = static_cast<std::int64_t>(n_held);
    out.leverage[a] = cross ? account_leverage : std::numeric_limits<double>::quiet_NaN();
    out.size[a] = x;
    if (cross) {
      value += std::max(0.0, -account_pnl);
      double* balance = out.collateral.data() + out.n_accounts * plan.assets;
      for (std::size_t c = 0; c < plan.assets; ++c) {
        const double share = model.baskets[basket * plan.assets + c];
        balance[c] = share > 0.0 ? value * share / plan.asset_value[c] : 0.0;
      }
      ++out.n_accounts;
    }
  }
  for (auto* v : {&out.qty, &out.entry_price, &out.margin, &out.mmr, &out.maint_amount}) v->resize(n);
  for (auto* v : {&out.market, &out.account, &out.trader}) v->resize(n);
  out.side.resize(n);
  out.collateral.resize(out.n_accounts * plan.assets);
  // leveraged tokens
  const double token_unit = model.tokens > 0 ? model.token_nav * static_cast<double>(k) /
                                                   static_cast<double>(model.tokens)
                                             : 0.0;
  for (std::uint64_t t = 0; t < model.tokens; ++t) {
    Stream stream(seed, scenario, Purpose::venue_token, static_cast<std::uint32_t>(t));
    const std::size_t j = uniform_index(stream.uniform32(), k);
    out.token_market.push_back(model.markets[j]);
    out.token_leverage.push_back(model.token_leverage[choose(stream.uniform32(), plan.token_leverage_cum)]);
    out.token_threshold.push_back(model.token_threshold[choose(stream.uniform32(), plan.token_threshold_cum)]);
    out.token_nav.push_back(token_unit * model.open_interest[j] * mean_one_lognormal(model.agent_size_sigma,
                                                                                      stream.uniform()));
    out.token_price.push_back(std::numeric_limits<double>::quiet_NaN());
  }
  // funds
  const double fund_unit = model.funds > 0 ? model.fund_assets * plan.open_interest_total /
                                                 static_cast<double>(model.funds)
                                           : 0.0;
  out.fund_holdings.assign(static_cast<std::size_t>(model.funds) * plan.venue_markets, 0.0);
  for (std::uint64_t f = 0; f < model.funds; ++f) {
    Stream stream(seed, scenario, Purpose::venue_fund, static_cast<std::uint32_t>(f));
    const std::size_t n_held = choose(stream.uniform32(), plan.fund_markets_cum) + 1;
    k_subset(stream, k, n_held, scratch, held);
    const double target = model.fund_target[choose(stream.uniform32(), plan.fund_target_cum)];
    const double buffer = model.fund_buffer_min + (model.fund_buffer_max - model.fund_buffer_min) * stream.uniform();
    const double size = fund_unit * mean_one_lognormal(model.agent_size_sigma, stream.uniform());
    double held_interest = 0.0;
    for (const std::size_t j : held) held_interest += model.open_interest[j];
    double* row = out.fund_holdings.data() + f * plan.venue_markets;
    for (const std::size_t j : held) {
      row[model.markets[j]] = size * (model.open_interest[j] / held_interest) / plan.ref[j];
    }
    // the assets as VenueAgents values them (markets in venue order), so equity <= assets exactly
    double assets = 0.0;
    for (std::size_t j = 0; j < k; ++j) {
      const double q = row[model.markets[j]];
      if (q > 0.0) assets += q * plan.ref[j];
    }
    out.fund_target.push_back(target);
    out.fund_max.push_back(target * buffer);
    out.fund_equity.push_back(assets / target);
  }
  sample_stops(model, plan, seed, scenario, out);
}

// One cluster of stops around `centre`: `per` stops at centre (1 + side |z| width), quantities
// lognormal shares of `notional` at the centre (normalised, so sum(qty) x centre = notional).
void stop_cluster(const VenuePopulationModel& model, Stream& stream, std::int64_t market, std::int8_t side,
                  double centre, double notional, VenuePopulationSample& out) {
  const std::size_t first = out.stop_qty.size();
  const auto per = static_cast<std::size_t>(model.stops_per_cluster);
  double total = 0.0;
  for (std::size_t i = 0; i < per; ++i) {
    const double z = std::abs(normal(stream));
    const double share = mean_one_lognormal(model.agent_size_sigma, stream.uniform());
    out.stop_market.push_back(market);
    out.stop_side.push_back(side);
    out.stop_price.push_back(centre * (1.0 + static_cast<double>(side) * z * model.stop_width));
    out.stop_qty.push_back(share);
    total += share;
  }
  const double units = notional / centre / total;
  for (std::size_t i = first; i < out.stop_qty.size(); ++i) out.stop_qty[i] *= units;
}

// Every traded market's stop clusters (Purpose::venue_stop, item j: market j's recent low and
// high, then its clusters in order: sell stops under the round numbers below, nearest first,
// and under the recent low; buy stops over the round numbers above and over the recent high).
void sample_stops(const VenuePopulationModel& model, const Plan& plan, std::uint64_t seed, std::uint64_t scenario,
                  VenuePopulationSample& out) {
  if (!(model.stop_notional > 0.0)) return;
  const double extreme = model.stop_extreme_share;
  for (std::size_t j = 0; j < plan.k; ++j) {
    Stream stream(seed, scenario, Purpose::venue_stop, static_cast<std::uint32_t>(j));
    const double ref = plan.ref[j];
    const double low = ref * (1.0 - 2.0 * model.stop_range * stream.uniform());
    const double high = ref * (1.0 + 2.0 * model.stop_range * stream.uniform());
    out.stop_step.push_back(plan.stop_step[j]);
    out.recent_low.push_back(low);
    out.recent_high.push_back(high);
    const double side_notional = 0.5 * model.stop_notional * model.open_interest[j];
    for (const std::int8_t side : {std::int8_t{-1}, std::int8_t{1}}) {
      const std::vector<double> levels = round_number_levels(ref, plan.stop_step[j],
                                                             static_cast<std::size_t>(model.stop_clusters), side < 0);
      // a side whose round numbers all fall at or below 0 puts all its notional at the extreme
      const double round_share = levels.empty() ? 0.0 : 1.0 - extreme;
      for (const double level : levels) {
        stop_cluster(model, stream, model.markets[j], side, level,
                     side_notional * round_share / static_cast<double>(levels.size()), out);
      }
      if (1.0 - round_share > 0.0) {
        stop_cluster(model, stream, model.markets[j], side, side < 0 ? low : high, side_notional * (1.0 - round_share),
                     out);
      }
    }
  }
}

// Samples a study's workers reuse from scenario to scenario (at most one per worker at a time:
// its columns keep their capacity, so later scenarios allocate nothing).
class SamplePool {
 public:
  std::unique_ptr<VenuePopulationSample> acquire() {
    const std::lock_guard lock(mutex_);
    if (free_.empty()) return std::make_unique<VenuePopulationSample>();
    std::unique_ptr<VenuePopulationSample> out = std::move(free_.back());
    free_.pop_back();
    return out;
  }
  void release(std::unique_ptr<VenuePopulationSample> sample) {
    const std::lock_guard lock(mutex_);
    free_.push_back(std::move(sample));
  }

 private:
  std::mutex mutex_;
  std::vector<std::unique_ptr<VenuePopulationSample>> free_;
};

}  // namespace

void VenuePopulationModel::validate() const {
  count(traders, "traders");
  unit_interval(cross_share, "cross_share");
  if (markets.empty()) throw InputError("markets", "a population trades at least one market");
  if (open_interest.size() != markets.size()) {
    throw InputError("open_interest", "length " + std::to_string(open_interest.size()) +
                                          " does not match markets length " + std::to_string(markets.size()));
  }
  for (std::size_t j = 0; j < open_interest.size(); ++j) {
    if (!(finite_positive(open_interest[j]) && open_interest[j] <= 1e18)) {
      throw InputError("open_interest", static_cast<std::ptrdiff_t>(j),
                       "must be in (0, 1e18], got " + format_value(open_interest[j]));
    }
  }
  weights(markets_per_trader, "markets_per_trader");
  if (markets_per_trader.size() > markets.size()) {
    throw InputError("markets_per_trader", "gives weights for up to " + std::to_string(markets_per_trader.size()) +
                                               " markets, but the population trades " +
                                               std::to_string(markets.size()));
  }
  unit_interval(long_share, "long_share");
  if (strategies == 0 || strategies > max_strategies) {
    throw InputError("strategies", "must be in [1, 16,777,216], got " + std::to_string(strategies));
  }
  unit_interval(strategy_loading, "strategy_loading");
  unit_interval(strategy_market_correlation, "strategy_market_correlation");
  mix(leverage, leverage_weights, "leverage", "leverage_weights");
  require_each(leverage, "leverage", finite_positive, "must be finite and > 0");
  require(finite_non_negative(entry_spread), "entry_spread", "must be finite and >= 0", entry_spread);
  if (size_distribution == SizeDistribution::pareto) {
    require(std::isfinite(size_shape) && size_shape > 1.0, "size_shape",
            "must be finite and > 1 (a Pareto tail index with a finite mean)", size_shape);
  } else {
    require(finite_non_negative(size_shape) && size_shape <= 5.0, "size_shape",
            "must be finite and in [0, 5] (a lognormal sigma)", size_shape);
  }
  require(rate(mmr), "mmr", "must be in [0, 1)", mmr);
  require(finite(maint_amount), "maint_amount", "must be finite", maint_amount);
  weights(basket_weights, "basket_weights");
  const std::size_t n = basket_weights.size();
  if (baskets.empty() || baskets.size() % n != 0) {
    throw InputError("baskets", "expected " + std::to_string(n) + " rows (one per basket weight) of asset shares, got " +
                                    std::to_string(baskets.size()) + " values");
  }
  const std::size_t width = baskets.size() / n;
  for (std::size_t b = 0; b < n; ++b) {
    double total = 0.0;
    for (std::size_t c = 0; c < width; ++c) {
      const double share = baskets[b * width + c];
      if (!finite_non_negative(share)) {
        throw InputError("baskets", static_cast<std::ptrdiff_t>(b),
                         "asset shares must be finite and >= 0, got " + format_value(share));
      }
      total += share;
    }
    if (!(std::abs(total - 1.0) <= 1e-9)) {
      throw InputError("baskets", static_cast<std::ptrdiff_t>(b), "asset shares must sum to 1, got " + format_value(total));
    }
  }
  count(tokens, "tokens");
  require(finite_non_negative(token_nav) && token_nav <= 1e6, "token_nav", "must be finite and in [0, 1e6]", token_nav);
  if (tokens > 0) {
    mix(token_leverage, token_leverage_weights, "token_leverage", "token_leverage_weights");
    for (std::size_t i = 0; i < token_leverage.size(); ++i) {
      const double l = token_leverage[i];
      if (!(std::isfinite(l) && (l > 1.0 || l < 0.0))) {
        throw InputError("token_leverage", static_cast<std::ptrdiff_t>(i),
                         "must be finite and > 1 or < 0 (an inverse token), got " + format_value(l));
      }
    }
    mix(token_threshold, token_threshold_weights, "token_threshold", "token_threshold_weights");
    for (std::size_t i = 0; i < token_threshold.size(); ++i) {
      const double t = token_threshold[i];
      if (!(std::isfinite(t) && t > 0.0 && t < 1.0)) {
        throw InputError("token_threshold", static_cast<std::ptrdiff_t>(i), "must be in (0, 1), got " + format_value(t));
      }
    }
    require(token_nav > 0.0, "token_nav", "must be > 0 when there are tokens", token_nav);
  }
  count(funds, "funds");
  require(finite_non_negative(fund_assets) && fund_assets <= 1e6, "fund_assets", "must be finite and in [0, 1e6]",
          fund_assets);
  if (funds > 0) {
    weights(fund_markets, "fund_markets");
    if (fund_markets.size() > markets.size()) {
      throw InputError("fund_markets", "gives weights for up to " + std::to_string(fund_markets.size()) +
                                           " markets, but the population trades " + std::to_string(markets.size()));
    }
    require(fund_assets > 0.0, "fund_assets", "must be > 0 when there are funds", fund_assets);
    mix(fund_target, fund_target_weights, "fund_target", "fund_target_weights");
    for (std::size_t i = 0; i < fund_target.size(); ++i) {
      if (!(std::isfinite(fund_target[i]) && fund_target[i] >= 1.0 && fund_target[i] <= 1e6)) {
        throw InputError("fund_target", static_cast<std::ptrdiff_t>(i),
                         "must be finite and in [1, 1e6], got " + format_value(fund_target[i]));
      }
    }
    // (named as the Python model's pair: fund_buffer = (min, max))
    if (!(std::isfinite(fund_buffer_min) && fund_buffer_min >= 1.0)) {
      throw InputError("fund_buffer", 0, "the buffer's min must be finite and >= 1, got " + format_value(fund_buffer_min));
    }
    if (!(std::isfinite(fund_buffer_max) && fund_buffer_max >= fund_buffer_min && fund_buffer_max <= 1e6)) {
      throw InputError("fund_buffer", 1, "the buffer's max must be finite, >= its min and <= 1e6, got " +
                                             format_value(fund_buffer_max));
    }
  }
  require(finite_non_negative(agent_size_sigma) && agent_size_sigma <= 3.0, "agent_size_sigma",
          "must be finite and in [0, 3]", agent_size_sigma);
  require(finite_non_negative(stop_notional) && stop_notional <= 1e6, "stop_notional", "must be finite and in [0, 1e6]",
          stop_notional);
  if (!stop_round_step.empty() && stop_round_step.size() != markets.size()) {
    throw InputError("stop_round_step", "length " + std::to_string(stop_round_step.size()) +
                                            " does not match markets length " + std::to_string(markets.size()));
  }
  require_each(stop_round_step, "stop_round_step", finite_non_negative, "must be finite and >= 0 (0: automatic)");
  if (stop_notional > 0.0) {
    if (stop_clusters > 1000) throw InputError("stop_clusters", "at most 1,000 a side, got " + std::to_string(stop_clusters));
    if (stops_per_cluster == 0 || stops_per_cluster > 1'000'000) {
      throw InputError("stops_per_cluster", "must be in [1, 1,000,000], got " + std::to_string(stops_per_cluster));
    }
    const double clusters = 2.0 * static_cast<double>(markets.size()) * static_cast<double>(stop_clusters + 1) *
                            static_cast<double>(stops_per_cluster);
    require(clusters <= static_cast<double>(max_items), "stops_per_cluster",
            "too many stops (at most 4,294,967,294 in all)", static_cast<double>(stops_per_cluster));
    require(std::isfinite(stop_width) && stop_width >= 0.0 && stop_width <= 0.1, "stop_width",
            "must be finite and in [0, 0.1]", stop_width);
    unit_interval(stop_extreme_share, "stop_extreme_share");
    require(std::isfinite(stop_range) && stop_range >= 0.0 && stop_range <= 0.45, "stop_range",
            "must be finite and in [0, 0.45] (a recent low at most 90 % below the reference)", stop_range);
    if (stop_clusters == 0 && stop_extreme_share < 1.0) {
      throw InputError("stop_clusters", "0 round-number clusters leave 1 - stop_extreme_share of the stops nowhere; "
                                        "set stop_extreme_share to 1 or give clusters");
    }
  }
}

void VenuePopulationModel::validate(const Venue& venue) const {
  validate();
  venue.validate();
  const auto n = static_cast<std::int64_t>(venue.markets.size());
  for (std::size_t j = 0; j < markets.size(); ++j) {
    if (markets[j] < 0 || markets[j] >= n) {
      throw InputError("markets", static_cast<std::ptrdiff_t>(j), "must be a market index in [0, " + std::to_string(n) +
                                                                      "), got " + std::to_string(markets[j]));
    }
    for (std::size_t i = 0; i < j; ++i) {
      if (markets[i] == markets[j]) {
        throw InputError("markets", static_cast<std::ptrdiff_t>(j),
                         "market '" + venue.markets[static_cast<std::size_t>(markets[j])].name +
                             "' is named twice (also markets[" + std::to_string(i) + "])");
      }
    }
  }
  const std::size_t width = baskets.size() / basket_weights.size();
  if (width != venue.assets.size()) {
    throw InputError("baskets", "each basket needs one share per asset of the venue (" +
                                    std::to_string(venue.assets.size()) + "), got " + std::to_string(width));
  }
  for (std::size_t m = 0; m < venue.markets.size(); ++m) {
    const VenueMarket& market = venue.markets[m];
    if (market.ref_price) continue;
    try {
      (void)market.book->mid();
    } catch (const InputError& e) {
      throw InputError("markets[" + std::to_string(m) + "].ref_price",
                       std::string("needed (the book has no mid): ") + e.what());
    }
  }
}

void VenuePopulationSample::clear() noexcept {
  for (auto* v : {&qty, &entry_price, &margin, &mmr, &maint_amount, &leverage, &size, &collateral}) v->clear();
  for (auto* v : {&market, &account, &trader, &strategy, &basket, &n_held}) v->clear();
  for (auto* v : {&token_leverage, &token_nav, &token_threshold, &token_price, &fund_equity, &fund_target, &fund_max,
                  &fund_holdings, &strategy_factor}) {
    v->clear();
  }
  for (auto* v : {&stop_qty, &stop_price, &stop_step, &recent_low, &recent_high}) v->clear();
  stop_market.clear();
  stop_side.clear();
  token_market.clear();
  side.clear();
  cross.clear();
  n_accounts = 0;
}

VenuePositionColumns VenuePopulationSample::positions() const noexcept {
  return {side, qty, entry_price, margin, mmr, maint_amount, market, account};
}

double round_number_step(double ref_price) {
  require(finite_positive(ref_price), "ref_price", "must be finite and > 0", ref_price);
  const double most = 0.05 * ref_price;
  // the power of ten at most `most`, by exact steps from 1 (no log: the same bits everywhere)
  double decade = 1.0;
  while (decade * 10.0 <= most) decade *= 10.0;
  while (decade > most) decade /= 10.0;
  for (const double mult : {5.0, 2.0, 1.0}) {
    if (mult * decade <= most) return mult * decade;
  }
  return decade;
}

std::vector<double> round_number_levels(double ref_price, double step, std::size_t count, bool below) {
  require(finite_positive(ref_price), "ref_price", "must be finite and > 0", ref_price);
  require(finite_positive(step), "step", "must be finite and > 0", step);
  std::vector<double> out;
  const double first = below ? std::ceil(ref_price / step) - 1.0 : std::floor(ref_price / step) + 1.0;
  for (std::size_t i = 0; i < count; ++i) {
    const double level = (below ? first - static_cast<double>(i) : first + static_cast<double>(i)) * step;
    if (level > 0.0 && std::isfinite(level)) out.push_back(level);
  }
  return out;
}

void sample_venue_population(const VenuePopulationModel& model, const Venue& venue, std::uint64_t seed,
                             std::uint64_t scenario, VenuePopulationSample& out, const std::atomic<bool>* cancel) {
  const Plan plan(model, venue);
  sample(model, plan, seed, scenario, out, cancel);
}

VenueStudyColumns run_venue_population_study(std::shared_ptr<const Venue> venue, const VenuePopulationModel& model,
                                             const CorrelatedShockSampler& sampler,
                                             std::span<const std::size_t> shocked, std::uint64_t seed,
                                             std::uint64_t first, std::size_t count, unsigned threads,
                                             RunControl& control) {
  if (!venue) throw InputError("venue", "missing");
  const Plan plan(model, *venue);
  const std::size_t n_markets = venue->markets.size();
  check_shocked_markets(shocked, sampler.dimension(), n_markets);
  check_scenario_range(first, count);
  check_threads(threads);
  require_memory("n_scenarios", static_cast<double>(count) * (72.0 + 112.0 * static_cast<double>(n_markets)),
                 "the study's rows");
  // per worker: the sample (about 70 bytes a position, 40 a trader) and the state built from
  // it (about 150 bytes a position and 100 an account), positions ~ traders x E[k]
  const unsigned workers = threads == 0 ? default_threads() : threads;
  const double per_worker = static_cast<double>(model.traders) *
                            (140.0 + 220.0 * static_cast<double>(model.markets_per_trader.size())) +
                            static_cast<double>(model.funds) * 16.0 * static_cast<double>(n_markets + 4);
  require_memory("traders", per_worker * static_cast<double>(std::min<std::size_t>(workers, std::max<std::size_t>(count, 1))),
                 "one sampled population and its indexes per worker thread");
  VenueStudyColumns out;
  out.resize(count, n_markets);
  SamplePool pool;
  parallel_for(count, threads, control, [&](std::size_t row) {
    const std::uint64_t scenario = first + row;
    std::unique_ptr<VenuePopulationSample> held = pool.acquire();
    const VenuePopulationSample& s = *held;
    sample(model, plan, seed, scenario, *held, &control.cancel);
    if (control.cancel.load(std::memory_order_relaxed)) throw Cancelled();
    // valid parameters whose draws leave what a venue takes (a Pareto size near its pole that
    // overflows a sum): name the population and the scenario, not a position
    std::optional<VenueState> state;
    std::optional<VenueAgents> agents;
    try {
      state.emplace(venue, s.positions(), s.accounts(), &control.cancel);
      agents.emplace(*state, StopColumns{s.stop_market, s.stop_side, s.stop_qty, s.stop_price}, TokenColumns{s.token_market, s.token_leverage, s.token_nav,
                                                          s.token_threshold, s.token_price},
                     FundColumns{model.funds, s.fund_equity, s.fund_target, s.fund_max, s.fund_holdings});
    } catch (const InputError& error) {
      throw InputError("population", "scenario " + std::to_string(scenario) +
                                         "'s sampled population is not a valid venue population (" + error.what() +
                                         "): its size_shape, entry_spread, open_interest or leverage is too extreme");
    }
    const std::vector<double> moves = venue_scenario_moves(sampler, shocked, n_markets, seed, scenario);
    std::vector<Shock> shocks;
    shocks.reserve(n_markets);
    for (const double move : moves) shocks.push_back(Shock::relative(move));
    try {
      out.set(row, scenario, moves, *state, venue_cascade(*state, shocks, *agents, &control.cancel));
    } catch (const InputError& error) {
      if (error.field() != "shocks") throw;
      throw InputError("shocks", "scenario " + std::to_string(scenario) + "'s move of market " +
                                     std::to_string(error.index()) + " is not one its book can take (" +
                                     error.what() + ")");
    }
    pool.release(std::move(held));
  });
  return out;
}

}  // namespace cascade_core
