#include "cascade_core/models.hpp"

#include <algorithm>
#include <cmath>
#include <string>
#include <utility>

#include "cascade_core/det_math.hpp"
#include "cascade_core/errors.hpp"
#include "cascade_core/inverse.hpp"
#include "cascade_core/rng.hpp"

namespace cascade_core {

// ---- validation -------------------------------------------------------------------------------

void PopulationModel::validate() const {
  if (count >= 0xFFFFFFFFULL) throw InputError("count", "at most 4,294,967,294 positions");
  require(std::isfinite(long_share) && long_share >= 0.0 && long_share <= 1.0, "long_share",
          "must be finite and in [0, 1]", long_share);
  if (leverage.empty()) throw InputError("leverage", "at least one leverage is required");
  if (leverage_weights.size() != leverage.size()) {
    throw InputError("leverage_weights", "length " + std::to_string(leverage_weights.size()) +
                                             " does not match leverage length " +
                                             std::to_string(leverage.size()));
  }
  require_each(leverage, "leverage", finite_positive, "must be finite and > 0");
  require_each(leverage_weights, "leverage_weights", finite_non_negative, "must be finite and >= 0");
  double total = 0.0;
  for (const double w : leverage_weights) total += w;
  require(std::abs(total - 1.0) <= 1e-9, "leverage_weights", "must sum to 1", total);
  require(finite_non_negative(entry_spread), "entry_spread", "must be finite and >= 0", entry_spread);
  if (entry_distribution == EntryDistribution::uniform) {
    require(entry_spread < 1.0, "entry_spread", "a uniform spread must be < 1", entry_spread);
  }
  require(finite_positive(entry_df), "entry_df", "must be finite and > 0", entry_df);
  if (size_distribution == SizeDistribution::pareto) {
    require(std::isfinite(size_shape) && size_shape > 1.0, "size_shape",
            "must be finite and > 1 (a Pareto tail index with a finite mean)", size_shape);
  } else {
    require(finite_non_negative(size_shape), "size_shape", "must be finite and >= 0", size_shape);
  }
  require(finite_positive(open_interest) && open_interest <= 1e18, "open_interest", "must be in (0, 1e18]",
          open_interest);
  tiers.validate();
  require(rate(mmr), "mmr", "must be in [0, 1)", mmr);
  require(finite(maint_amount), "maint_amount", "must be finite", maint_amount);
  if (tiers.notional_floor.empty()) {
    check_margin_rules(margin_rule, tier_rule, std::span<const double>(&mmr, 1), "mmr");
  } else {
    check_margin_rules(margin_rule, tier_rule, tiers.mmr, "tiers.mmr");
  }
  if (inverse_size != 0.0) Contract{true, inverse_size}.validate();
  if (leverage_limit != LeverageLimit::clip && leverage_limit != LeverageLimit::ignore) {
    throw InputError("leverage_limit", "a population draws positions at their tier's max_leverage ('clip') or "
                                       "above it ('ignore'); 'reject' is not a sampling rule");
  }
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
  // A move of -100 % or worse, or one that is not finite (a Student-t of a tiny df), is not a
  // price: redraw (a fixed number of times, then clamp).
  for (std::uint64_t attempt = 0; attempt < max_scenario_draws; ++attempt) {
    const double z = model.kind == ShockModel::Kind::normal ? stream.normal()
                                                            : stream.student_t(model.df);
    const double shock = model.scale * z;
    if (shock > -1.0 && std::isfinite(shock)) return shock;
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
  BookSide bids, asks;  // filled in place, then moved into the book (no copy)
  bids.price.reserve(levels);
  bids.qty.reserve(levels);
  asks.price.reserve(levels);
  asks.qty.reserve(levels);
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
      bid_noise = det_exp(model.level_noise * Stream(seed, scenario, Purpose::book_bids, item).normal() + noise_shift);
      ask_noise = det_exp(model.level_noise * Stream(seed, scenario, Purpose::book_asks, item).normal() + noise_shift);
    }
    bids.price.push_back(bid);
    bids.qty.push_back(notional * bid_noise / bid);
    asks.price.push_back(ask);
    asks.qty.push_back(notional * ask_noise / ask);
  }
  try {
    return OrderBook(std::move(bids), std::move(asks));
  } catch (const InputError& error) {
    // valid parameters whose draws leave the domain of a book (noise that rounds a level's
    // quantity to 0 or inf, prices beyond the largest double): name the model, not a level
    throw InputError("book_model", "scenario " + std::to_string(scenario) +
                                       "'s sampled book is not a valid book (" + error.what() +
                                       "): its level_noise, profile, mid or tick is too extreme");
  }
}

}  // namespace cascade_core
