#include "cascade_core/models.hpp"

#include <algorithm>
#include <cmath>
#include <string>

#include "cascade_core/errors.hpp"
#include "cascade_core/rng.hpp"

namespace cascade_core {

namespace {

void require_each(const std::vector<double>& values, const char* field, bool (*ok)(double),
                  const char* rule) {
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (!ok(values[i])) {
      throw InputError(field, static_cast<std::ptrdiff_t>(i),
                       std::string(rule) + ", got " + format_value(values[i]));
    }
  }
}

bool finite_positive(double v) { return std::isfinite(v) && v > 0.0; }
bool finite_non_negative(double v) { return std::isfinite(v) && v >= 0.0; }
bool finite(double v) { return std::isfinite(v); }
bool rate(double v) { return std::isfinite(v) && v >= 0.0 && v < 1.0; }

constexpr std::uint64_t max_scenario_draws = 64;  // redraws of a shock <= -1, of an underwater position

}  // namespace

// ---- validation -------------------------------------------------------------------------------

std::size_t TierTable::tier_of(double notional) const noexcept {
  const auto it = std::lower_bound(notional_floor.begin(), notional_floor.end(), notional);
  const auto k = static_cast<std::size_t>(it - notional_floor.begin());
  return k == 0 ? 0 : k - 1;
}

void TierTable::validate() const {
  if (notional_floor.empty()) return;
  if (mmr.size() != notional_floor.size() || maint_amount.size() != notional_floor.size()) {
    throw InputError("tiers", "notional_floor, mmr and maint_amount must have the same length");
  }
  require(notional_floor[0] == 0.0, "tiers.notional_floor", "must start at 0", notional_floor[0]);
  for (std::size_t k = 1; k < notional_floor.size(); ++k) {
    if (!(std::isfinite(notional_floor[k]) && notional_floor[k] > notional_floor[k - 1])) {
      throw InputError("tiers.notional_floor", static_cast<std::ptrdiff_t>(k),
                       "must be finite and strictly increasing");
    }
  }
  require_each(mmr, "tiers.mmr", rate, "must be in [0, 1)");
  require_each(maint_amount, "tiers.maint_amount", finite, "must be finite");
}

void PopulationModel::validate() const {
  if (count >= 0xFFFFFFFFULL) throw InputError("count", "at most 4,294,967,294 positions");
  require(std::isfinite(long_share) && long_share >= 0.0 && long_share <= 1.0, "long_share",
          "must be in [0, 1]", long_share);
  if (leverage.empty()) throw InputError("leverage", "at least one leverage is required");
  if (leverage_weight.size() != leverage.size()) {
    throw InputError("leverage_weights", "length " + std::to_string(leverage_weight.size()) +
                                             " does not match leverage length " +
                                             std::to_string(leverage.size()));
  }
  require_each(leverage, "leverage", finite_positive, "must be finite and > 0");
  require_each(leverage_weight, "leverage_weights", finite_non_negative, "must be finite and >= 0");
  double total = 0.0;
  for (const double w : leverage_weight) total += w;
  require(std::abs(total - 1.0) <= 1e-9, "leverage_weights", "must sum to 1", total);
  require(finite_non_negative(entry_spread), "entry_spread", "must be finite and >= 0", entry_spread);
  if (entry_distribution == EntryDistribution::uniform) {
    require(entry_spread < 1.0, "entry_spread", "a uniform spread must be < 1", entry_spread);
  }
  require(finite_positive(entry_df), "entry_df", "must be finite and > 0", entry_df);
  if (size_distribution == SizeDistribution::pareto) {
    require(std::isfinite(size_shape) && size_shape > 1.0, "size_shape",
            "a Pareto tail index must be finite and > 1 (finite mean)", size_shape);
  } else {
    require(finite_non_negative(size_shape), "size_shape", "must be finite and >= 0", size_shape);
  }
  require(finite_positive(open_interest), "open_interest", "must be finite and > 0", open_interest);
  tiers.validate();
  require(rate(mmr), "mmr", "must be in [0, 1)", mmr);
  require(finite(maint_amount), "maint_amount", "must be finite", maint_amount);
}

void BookModel::validate() const {
  require(finite_positive(mid), "mid", "must be finite and > 0", mid);
  require(finite_positive(tick) && tick < mid, "tick", "must be finite, > 0 and < mid", tick);
  if (profile_distance.size() < 2 || profile_distance.size() != profile_notional.size()) {
    throw InputError("profile", "needs at least two (distance, cumulative notional) points");
  }
  require(profile_distance[0] == 0.0, "profile", "distances must start at 0", profile_distance[0]);
  for (std::size_t k = 1; k < profile_distance.size(); ++k) {
    if (!(std::isfinite(profile_distance[k]) && profile_distance[k] > profile_distance[k - 1])) {
      throw InputError("profile", static_cast<std::ptrdiff_t>(k),
                       "distances must be finite and strictly increasing");
    }
    if (!(std::isfinite(profile_notional[k]) && profile_notional[k] >= profile_notional[k - 1])) {
      throw InputError("profile", static_cast<std::ptrdiff_t>(k),
                       "cumulative notional must be finite and non-decreasing");
    }
  }
  require(profile_notional[0] >= 0.0, "profile", "cumulative notional must be >= 0",
          profile_notional[0]);
  require(profile_notional.back() > 0.0, "profile", "the book must hold some notional",
          profile_notional.back());
  require(std::floor(profile_distance.back() * mid / tick) >= 1.0, "tick",
          "the profile must span at least one tick", tick);
  require(profile_distance.back() * mid / tick <= 1e8, "tick",
          "at most 100,000,000 levels per side", tick);
  require(std::isfinite(thinning) && thinning >= 0.0 && thinning < 1.0, "thinning",
          "must be in [0, 1)", thinning);
  require(finite_non_negative(level_noise), "level_noise", "must be finite and >= 0", level_noise);
}

void ShockModel::validate() const {
  switch (kind) {
    case Kind::fixed:
    case Kind::empirical:
      if (values.empty()) throw InputError("values", "at least one shock is required");
      for (std::size_t i = 0; i < values.size(); ++i) {
        if (!(std::isfinite(values[i]) && values[i] > -1.0)) {
          throw InputError("values", static_cast<std::ptrdiff_t>(i),
                           "must be finite and > -1, got " + format_value(values[i]));
        }
      }
      break;
    case Kind::student_t:
      require(finite_positive(df), "df", "must be finite and > 0", df);
      [[fallthrough]];
    case Kind::normal:
      require(finite_positive(scale), "scale", "must be finite and > 0", scale);
      break;
  }
}

// ---- sampling ---------------------------------------------------------------------------------

double sample_shock(const ShockModel& model, std::uint64_t seed, std::uint64_t scenario) {
  if (model.kind == ShockModel::Kind::fixed) return model.values[scenario % model.values.size()];
  Stream stream(seed, scenario, Purpose::scenario, 0);
  if (model.kind == ShockModel::Kind::empirical) {
    const auto n = static_cast<double>(model.values.size());
    const auto k = static_cast<std::size_t>(stream.uniform() * n);
    return model.values[std::min(k, model.values.size() - 1)];
  }
  // A move of -100 % or worse is not a price: redraw (a fixed number of times, then clamp).
  for (std::uint64_t attempt = 0; attempt < max_scenario_draws; ++attempt) {
    const double z = model.kind == ShockModel::Kind::normal ? stream.normal()
                                                            : stream.student_t(model.df);
    const double shock = model.scale * z;
    if (shock > -1.0) return shock;
  }
  return -0.99;
}

OrderBook sample_book(const BookModel& model, std::uint64_t seed, std::uint64_t scenario) {
  const auto levels = static_cast<std::size_t>(
      std::floor(model.profile_distance.back() * model.mid / model.tick));
  double depth_factor = 1.0;
  if (model.thinning > 0.0) {
    Stream stream(seed, scenario, Purpose::scenario, 1);
    depth_factor = 1.0 - model.thinning * stream.uniform();
  }
  const double noise_shift = -0.5 * model.level_noise * model.level_noise;
  std::vector<double> bid_price, bid_qty, ask_price, ask_qty;
  bid_price.reserve(levels);
  bid_qty.reserve(levels);
  ask_price.reserve(levels);
  ask_qty.reserve(levels);
  double previous = 0.0;
  std::size_t knot = 1;
  for (std::size_t k = 1; k <= levels; ++k) {
    const double distance = static_cast<double>(k) * model.tick / model.mid;
    while (knot + 1 < model.profile_distance.size() && model.profile_distance[knot] < distance) {
      ++knot;
    }
    const double d0 = model.profile_distance[knot - 1], d1 = model.profile_distance[knot];
    const double c0 = model.profile_notional[knot - 1], c1 = model.profile_notional[knot];
    const double t = std::min(1.0, (distance - d0) / (d1 - d0));
    const double cumulative = c0 + (c1 - c0) * t;
    const double notional = (cumulative - previous) * depth_factor;
    previous = cumulative;
    const double bid = model.mid - static_cast<double>(k) * model.tick;
    const double ask = model.mid + static_cast<double>(k) * model.tick;
    if (!(notional > 0.0) || !(bid > 0.0)) continue;
    double bid_noise = 1.0, ask_noise = 1.0;
    if (model.level_noise > 0.0) {
      const auto item = static_cast<std::uint32_t>(k);
      bid_noise = std::exp(model.level_noise * Stream(seed, scenario, Purpose::book_bids, item).normal() + noise_shift);
      ask_noise = std::exp(model.level_noise * Stream(seed, scenario, Purpose::book_asks, item).normal() + noise_shift);
    }
    bid_price.push_back(bid);
    bid_qty.push_back(notional * bid_noise / bid);
    ask_price.push_back(ask);
    ask_qty.push_back(notional * ask_noise / ask);
  }
  return OrderBook(bid_price, bid_qty, ask_price, ask_qty);
}

void PositionSample::clear() noexcept {
  side.clear();
  qty.clear();
  entry_price.clear();
  margin.clear();
  mmr.clear();
  maint_amount.clear();
}

void sample_positions(const PopulationModel& model, double ref_price, std::uint64_t seed,
                      std::uint64_t scenario, int only_side, PositionSample& out,
                      const std::atomic<bool>* cancel) {
  out.clear();
  using Size = PopulationModel::SizeDistribution;
  using Entry = PopulationModel::EntryDistribution;
  // Expected notional per position is open_interest / count.
  double size_scale = model.open_interest / static_cast<double>(model.count == 0 ? 1 : model.count);
  if (model.size_distribution == Size::pareto) {
    size_scale *= (model.size_shape - 1.0) / model.size_shape;  // mean of U^(-1/a) is a/(a-1)
  }
  std::vector<double> cumulative(model.leverage_weight.size());
  double running = 0.0;
  for (std::size_t k = 0; k < cumulative.size(); ++k) cumulative[k] = running += model.leverage_weight[k];
  const bool tiered = !model.tiers.notional_floor.empty();
  const double lognormal_shift = -0.5 * model.size_shape * model.size_shape;

  for (std::uint64_t j = 0; j < model.count; ++j) {
    if (cancel != nullptr && (j & 0xFFFF) == 0 && cancel->load(std::memory_order_relaxed)) return;
    Stream stream(seed, scenario, Purpose::position, static_cast<std::uint32_t>(j));
    const int side = stream.uniform32() < model.long_share ? 1 : -1;
    if (only_side != 0 && side != only_side) continue;
    double notional = size_scale;
    if (model.size_distribution == Size::pareto) {
      notional = size_scale * std::pow(stream.uniform(), -1.0 / model.size_shape);
    } else if (model.size_distribution == Size::lognormal) {
      notional = size_scale * std::exp(model.size_shape * stream.normal() + lognormal_shift);
    }
    double mmr = model.mmr, maint = model.maint_amount;
    if (tiered) {
      const std::size_t tier = model.tiers.tier_of(notional);
      mmr = model.tiers.mmr[tier];
      maint = model.tiers.maint_amount[tier];
    }
    double entry = ref_price, qty = 0.0, margin = 0.0;
    for (std::uint64_t attempt = 0; attempt < max_scenario_draws; ++attempt) {
      const double u = stream.uniform32();
      std::size_t k = 0;
      while (k + 1 < cumulative.size() && u >= cumulative[k]) ++k;
      const double leverage = model.leverage[k];
      switch (model.entry_distribution) {
        case Entry::lognormal: entry = ref_price * std::exp(model.entry_spread * stream.normal()); break;
        case Entry::student_t:
          entry = ref_price * std::exp(model.entry_spread * stream.student_t(model.entry_df));
          break;
        case Entry::uniform: entry = ref_price * (1.0 + model.entry_spread * (2.0 * stream.uniform() - 1.0)); break;
      }
      qty = notional / entry;
      margin = notional / leverage;
      if (!model.exclude_underwater) break;
      const double liq = liquidation_price(side, qty, entry, margin, mmr, maint);
      if (side > 0 ? liq < ref_price : liq > ref_price) break;  // a live position: keep it
    }
    out.side.push_back(static_cast<std::int8_t>(side));
    out.qty.push_back(qty);
    out.entry_price.push_back(entry);
    out.margin.push_back(margin);
    out.mmr.push_back(mmr);
    out.maint_amount.push_back(maint);
  }
}

}  // namespace cascade_core
