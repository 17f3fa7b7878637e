// A venue's markets, assets, positions and accounts: validation, margins, and the indexes that
// let a cascade over it cost what it touches (docs/design.md, "Many markets").
#include "cascade_core/venue.hpp"

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <numeric>
#include <set>
#include <string>

#include "cascade_core/errors.hpp"
#include "cascade_core/radix_sort.hpp"

namespace cascade_core {

namespace {

constexpr double infinity = std::numeric_limits<double>::infinity();
constexpr std::size_t max_rows = std::numeric_limits<std::uint32_t>::max() - 1;

std::string at(const char* what, std::size_t i, const char* field) {
  return std::string(what) + "[" + std::to_string(i) + "]." + field;
}

void check_cancel(const std::atomic<bool>* cancel) {
  if (cancel != nullptr && cancel->load(std::memory_order_relaxed)) throw Cancelled();
}

// Sorts `records` by price ascending (descending when asked), ties in their present order:
// the library's stable radix sort on the prices' ordered keys, linear in their number. The
// same order as std::stable_sort by price (prices here are never NaN; -0.0 ties +0.0).
template <class Vector, class PriceOf>
void stable_sort_by_price(Vector& records, bool descending, PriceOf price_of) {
  using Record = typename Vector::value_type;
  if (records.size() < 2) return;
  const std::uint64_t flip = descending ? ~std::uint64_t{0} : 0;
  const auto key_of = [flip, price_of](const Record& r) { return ordered_key(price_of(r)) ^ flip; };
  std::uint64_t lo = ~std::uint64_t{0}, hi = 0;
  for (const Record& r : records) {
    const std::uint64_t key = key_of(r);
    lo = std::min(lo, key);
    hi = std::max(hi, key);
  }
  stable_sort_records(records, lo, hi, key_of);
}

}  // namespace

void Venue::validate() const {
  if (markets.empty()) throw InputError("markets", "a venue needs at least one market");
  if (assets.empty()) throw InputError("assets", "a venue needs its quote asset (asset 0)");
  std::set<std::string> names;
  for (std::size_t i = 0; i < markets.size(); ++i) {
    const VenueMarket& m = markets[i];
    if (m.name.empty()) throw InputError(at("markets", i, "name"), "must not be empty");
    if (!names.insert(m.name).second) throw InputError(at("markets", i, "name"), "duplicated: '" + m.name + "'");
    if (!m.book) throw InputError(at("markets", i, "book"), "missing");
    m.rule.validate(at("markets", i, ""));
    if (m.tiers) {
      m.tiers->validate(at("markets", i, "tiers."));
      if (m.tier_rule == TierRule::liquidation && m.rule.basis == MarginBasis::entry) {
        throw InputError(at("markets", i, "tier_rule"), "an entry-basis requirement is fixed at entry, so its tier is "
                                                        "the entry notional's: use tier_rule='entry'");
      }
      for (std::size_t k = 0; k < m.tiers->mmr.size(); ++k) {
        if (!(m.rule.price_rate(m.tiers->mmr[k]) < 1.0)) {
          throw InputError(at("markets", i, "tiers.mmr"), static_cast<std::ptrdiff_t>(k),
                           "plus close_fee must be < 1, got " + format_value(m.tiers->mmr[k]));
        }
      }
    }
    if (m.ref_price && !finite_positive(*m.ref_price)) {
      throw InputError(at("markets", i, "ref_price"), "must be finite and > 0, got " + format_value(*m.ref_price));
    }
  }
  names.clear();
  for (std::size_t k = 0; k < assets.size(); ++k) {
    const VenueAsset& a = assets[k];
    if (a.name.empty()) throw InputError(at("assets", k, "name"), "must not be empty");
    if (!names.insert(a.name).second) throw InputError(at("assets", k, "name"), "duplicated: '" + a.name + "'");
    if (a.priced_by < -1 || a.priced_by >= static_cast<std::int64_t>(markets.size())) {
      throw InputError(at("assets", k, "priced_by"), "must be a market index in [0, " +
                                                         std::to_string(markets.size()) + ") or -1 (a fixed price), got " +
                                                         std::to_string(a.priced_by));
    }
    if (a.index_market < -1 || a.index_market >= static_cast<std::int64_t>(markets.size())) {
      throw InputError(at("assets", k, "index_market"), "must be a market index in [0, " +
                                                            std::to_string(markets.size()) + ") or -1 (no index), got " +
                                                            std::to_string(a.index_market));
    }
    if (k == 0 && (a.priced_by != -1 || a.price != 1.0 || a.index_market != -1)) {
      throw InputError(at("assets", 0, "price"), "asset 0 is the quote asset: a fixed price of 1");
    }
    if (a.index_market >= 0) {
      require(finite_positive(a.index_ratio), at("assets", k, "index_ratio").c_str(), "must be finite and > 0",
              a.index_ratio);
    }
    if (a.valued_on() == -1) require(finite_positive(a.price), at("assets", k, "price").c_str(), "must be finite and > 0", a.price);
    require(rate(a.haircut), at("assets", k, "haircut").c_str(), "must be in [0, 1)", a.haircut);
    require(finite_non_negative(a.floor), at("assets", k, "floor").c_str(), "must be finite and >= 0 (0: none)", a.floor);
  }
}

VenueState::VenueState(std::shared_ptr<const Venue> venue, const VenuePositionColumns& c,
                       const AccountColumns& accounts, const std::atomic<bool>* cancel)
    : venue_(std::move(venue)), n_accounts_(accounts.n_accounts) {
  check_venue(accounts.collateral);
  collateral_.assign(accounts.collateral.begin(), accounts.collateral.end());
  copy_positions(c);
  build(cancel);
}

VenueState::VenueState(std::shared_ptr<const Venue> venue, VenueColumnBuffers&& c, const std::atomic<bool>* cancel)
    : venue_(std::move(venue)), n_accounts_(c.n_accounts) {
  check_venue(c.collateral);
  const VenuePositionColumns columns = c.positions();
  check_lengths(columns);
  validate_positions(columns, [](std::size_t) {});
  collateral_ = std::move(c.collateral);
  side_ = std::move(c.side);
  qty_ = std::move(c.qty);
  entry_ = std::move(c.entry_price);
  margin_ = std::move(c.margin);
  mmr_ = std::move(c.mmr);
  maint_ = std::move(c.maint_amount);
  market_ = std::move(c.market);
  account_ = std::move(c.account);
  build(cancel);
}

VenueColumnBuffers VenueState::release_columns() noexcept {
  VenueColumnBuffers c;
  c.side = std::move(side_);
  c.qty = std::move(qty_);
  c.entry_price = std::move(entry_);
  c.margin = std::move(margin_);
  c.mmr = std::move(mmr_);
  c.maint_amount = std::move(maint_);
  c.market = std::move(market_);
  c.account = std::move(account_);
  c.n_accounts = n_accounts_;
  c.collateral = std::move(collateral_);
  return c;
}

// The venue, its reference prices and the accounts' balances (before the positions, whose
// checks need the account count).
void VenueState::check_venue(std::span<const double> collateral) {
  if (!venue_) throw InputError("venue", "missing");
  venue_->validate();
  const std::size_t markets = n_markets(), assets = n_assets();
  ref_price_.resize(markets);
  for (std::size_t m = 0; m < markets; ++m) {
    const VenueMarket& market = venue_->markets[m];
    try {
      ref_price_[m] = market.ref_price ? *market.ref_price : market.book->mid();
    } catch (const InputError& e) {
      throw InputError(at("markets", m, "ref_price"), std::string("needed (the book has no mid): ") + e.what());
    }
  }
  for (const VenueAsset& a : venue_->assets) one_minus_haircut_.push_back(1.0 - a.haircut);
  if (n_accounts_ > max_rows) throw InputError("accounts", "at most 4,294,967,294 accounts");
  if (collateral.size() != n_accounts_ * assets) {
    throw InputError("collateral", "expected " + std::to_string(n_accounts_) + " x " + std::to_string(assets) +
                                       " balances, got " + std::to_string(collateral.size()));
  }
  for (std::size_t j = 0; j < collateral.size(); ++j) {
    if (!finite(collateral[j])) {
      throw InputError("collateral[" + std::to_string(j / assets) + "][" + venue_->assets[j % assets].name + "]",
                       "must be finite, got " + format_value(collateral[j]));
    }
  }
}

void VenueState::build(const std::atomic<bool>* cancel) {
  check_cancel(cancel);
  assign_margins();
  check_cancel(cancel);
  index_isolated();
  check_cancel(cancel);
  index_accounts(cancel);
}

void VenueState::check_lengths(const VenuePositionColumns& c) const {
  const std::size_t n = c.side.size();
  const auto length = [n](std::size_t size, const char* field) {
    if (size != n) {
      throw InputError(field, "length " + std::to_string(size) + " does not match side's " + std::to_string(n));
    }
  };
  length(c.qty.size(), "qty");
  length(c.entry_price.size(), "entry_price");
  length(c.margin.size(), "margin");
  length(c.mmr.size(), "mmr");
  length(c.maint_amount.size(), "maint_amount");
  length(c.market.size(), "market");
  length(c.account.size(), "account");
  if (n > max_rows) throw InputError("side", "at most 4,294,967,294 positions");
}

// Validates each row of (length-checked) columns, then calls row(i).
template <class Row>
void VenueState::validate_positions(const VenuePositionColumns& c, Row&& row) const {
  const std::size_t n = c.side.size();
  const double share = sum_bound(n);
  const auto markets = static_cast<std::int64_t>(n_markets());
  const auto accounts = static_cast<std::int64_t>(n_accounts_);
  for (std::size_t i = 0; i < n; ++i) {
    const auto bad = [i](const char* field, const std::string& rule, double value) {
      throw InputError(field, static_cast<std::ptrdiff_t>(i), rule + ", got " + format_value(value));
    };
    if (c.side[i] != 1 && c.side[i] != -1) bad("side", "must be +1 or -1", c.side[i]);
    if (!finite_positive(c.qty[i])) bad("qty", "must be finite and > 0", c.qty[i]);
    if (!finite_positive(c.entry_price[i])) bad("entry_price", "must be finite and > 0", c.entry_price[i]);
    if (!finite_non_negative(c.margin[i])) bad("margin", "must be finite and >= 0", c.margin[i]);
    if (!rate(c.mmr[i])) bad("mmr", "must be in [0, 1)", c.mmr[i]);
    if (!finite(c.maint_amount[i])) bad("maint_amount", "must be finite", c.maint_amount[i]);
    if (c.market[i] < 0 || c.market[i] >= markets) {
      throw InputError("market", static_cast<std::ptrdiff_t>(i), "must be a market index in [0, " +
                                                                     std::to_string(markets) + "), got " +
                                                                     std::to_string(c.market[i]));
    }
    if (c.account[i] < -1 || c.account[i] >= accounts) {
      throw InputError("account", static_cast<std::ptrdiff_t>(i), "must be an account index in [0, " +
                                                                      std::to_string(accounts) +
                                                                      ") or -1 (isolated), got " +
                                                                      std::to_string(c.account[i]));
    }
    if (c.account[i] >= 0 && c.margin[i] != 0.0) {
      bad("margin", "a cross position (account >= 0) has no margin of its own: must be 0", c.margin[i]);
    }
    const MarginRule& rule = venue_->markets[static_cast<std::size_t>(c.market[i])].rule;
    if (!(rule.price_rate(c.mmr[i]) < 1.0)) bad("mmr", "plus the market's close_fee must be < 1", c.mmr[i]);
    if (!(c.qty[i] <= share)) bad("qty", "too large: a sum over the positions could overflow", c.qty[i]);
    if (!(c.qty[i] * c.entry_price[i] + c.margin[i] <= share)) {
      bad("margin", "too large (with the notional): a sum over the positions could overflow", c.margin[i]);
    }
    row(i);
  }
}

// Validates the columns and copies them in one pass (a row is checked as it is copied).
void VenueState::copy_positions(const VenuePositionColumns& c) {
  check_lengths(c);
  const std::size_t n = c.side.size();
  side_.resize(n);
  for (auto* v : {&qty_, &entry_, &margin_, &mmr_, &maint_}) v->resize(n);
  market_.resize(n);
  account_.resize(n);
  validate_positions(c, [&](std::size_t i) {
    side_[i] = c.side[i];
    qty_[i] = c.qty[i];
    entry_[i] = c.entry_price[i];
    margin_[i] = c.margin[i];
    mmr_[i] = c.mmr[i];
    maint_[i] = c.maint_amount[i];
    market_[i] = c.market[i];
    account_[i] = c.account[i];
  });
}

void VenueState::assign_margins() {
  const std::size_t n = side_.size(), markets = n_markets();
  dynamic_tier_.assign(markets, 0);
  tier_jump_.assign(markets, 0.0);
  max_tier_mmr_.assign(markets, 0.0);
  for (std::size_t m = 0; m < markets; ++m) {
    const VenueMarket& market = venue_->markets[m];
    if (!market.tiers) continue;
    const TierTable& t = *market.tiers;
    dynamic_tier_[m] = market.rule.basis == MarginBasis::mark ? 1 : 0;
    max_tier_mmr_[m] = *std::max_element(t.mmr.begin(), t.mmr.end());
    // At a boundary N the requirement jumps by (mmr[k+1] - mmr[k]) * N - (maint[k+1] - maint[k])
    // (0 for a continuous table, up to rounding): a position crossing tiers may jump by their sum.
    double jump = 0.0;
    for (std::size_t k = 0; k + 1 < t.mmr.size(); ++k) {
      jump += std::abs((t.mmr[k + 1] - t.mmr[k]) * t.notional_floor[k + 1] - (t.maint_amount[k + 1] - t.maint_amount[k]));
    }
    tier_jump_[m] = jump * (1.0 + 1e-6);
  }
  liq_.resize(n);  // every row written below
  bankrupt_.resize(n);
  for (std::size_t i = 0; i < n; ++i) {
    const auto m = static_cast<std::size_t>(market_[i]);
    const VenueMarket& market = venue_->markets[m];
    const double side = side_[i];
    if (market.tiers) {
      const TierTable& t = *market.tiers;
      // isolated: the market's tier rule (as Positions(tiers=...)); cross at entry basis: the
      // entry notional's; cross at mark basis: looked up at the price whenever it is valued
      const std::size_t k = account_[i] < 0 ? t.tier_for(market.tier_rule, side, qty_[i], entry_[i], margin_[i], market.rule)
                                            : t.tier_of(qty_[i] * entry_[i]);
      mmr_[i] = t.mmr[k];
      maint_[i] = t.maint_amount[k];
    }
    if (account_[i] < 0) {
      liq_[i] = cascade_core::liquidation_price(side, qty_[i], entry_[i], margin_[i], mmr_[i], maint_[i], market.rule);
      bankrupt_[i] = cascade_core::bankruptcy_price(side, qty_[i], entry_[i], margin_[i]);
      if (!finite(liq_[i])) {
        throw InputError("qty", static_cast<std::ptrdiff_t>(i), "liquidation price overflows for this position, got " +
                                                                    format_value(liq_[i]));
      }
      if (liq_[i] == 0.0) liq_[i] = 0.0;  // -0.0 stored as +0.0, as PositionSet does
    } else {
      liq_[i] = bankrupt_[i] = std::numeric_limits<double>::quiet_NaN();
    }
  }
}

void VenueState::index_isolated() {
  const std::size_t markets = n_markets();
  isolated_down_.assign(markets, {});
  isolated_up_.assign(markets, {});
  {
    std::vector<std::size_t> down(markets, 0), up(markets, 0);  // sized first: no regrowth
    for (std::size_t i = 0; i < side_.size(); ++i) {
      if (account_[i] < 0) ++(side_[i] > 0 ? down : up)[static_cast<std::size_t>(market_[i])];
    }
    for (std::size_t m = 0; m < markets; ++m) {
      isolated_down_[m].reserve(down[m]);
      isolated_up_[m].reserve(up[m]);
    }
  }
  for (std::size_t i = 0; i < side_.size(); ++i) {
    if (account_[i] >= 0) continue;
    const auto m = static_cast<std::size_t>(market_[i]);
    (side_[i] > 0 ? isolated_down_ : isolated_up_)[m].push_back(
        {liq_[i], qty_[i], bankrupt_[i], static_cast<std::uint32_t>(i)});
  }
  // trigger order: longs by liquidation price descending, shorts ascending, ties by index
  // (pushed in index order; the sort is stable)
  const auto threshold = [](const AtRisk& r) { return r.threshold; };
  for (std::size_t m = 0; m < markets; ++m) {
    stable_sort_by_price(isolated_down_[m], true, threshold);
    stable_sort_by_price(isolated_up_[m], false, threshold);
  }
}

double VenueAsset::price_at(std::span<const double> last) const noexcept {
  if (index_market >= 0) {
    const double p = index_ratio * last[static_cast<std::size_t>(index_market)];
    return floor > 0.0 ? std::max(p, floor) : p;
  }
  if (priced_by < 0) return price;
  const double p = last[static_cast<std::size_t>(priced_by)];
  return floor > 0.0 ? std::max(p, floor) : p;
}

std::vector<double> VenueState::asset_prices(std::span<const double> last) const {
  std::vector<double> price(n_assets());
  for (std::size_t k = 0; k < price.size(); ++k) price[k] = venue_->assets[k].price_at(last);
  return price;
}

double VenueState::position_maintenance(std::size_t i, double p) const noexcept {
  const auto m = static_cast<std::size_t>(market_[i]);
  const VenueMarket& market = venue_->markets[m];
  if (dynamic_tier_[m] && account_[i] >= 0) {
    const TierTable& t = *market.tiers;
    const std::size_t k = t.tier_of(qty_[i] * p);
    return maintenance_requirement(qty_[i], entry_[i], p, t.mmr[k], t.maint_amount[k], market.rule);
  }
  return maintenance_requirement(qty_[i], entry_[i], p, mmr_[i], maint_[i], market.rule);
}

AccountHealth VenueState::health(std::size_t a, std::span<const double> last,
                                 std::span<const double> asset_price) const noexcept {
  AccountHealth h;
  const std::size_t assets = n_assets();
  const double* balance = collateral_.data() + a * assets;
  for (std::size_t k = 0; k < assets; ++k) {
    const double b = balance[k];
    if (b == 0.0) continue;
    const double value = b > 0.0 ? b * asset_price[k] * one_minus_haircut_[k] : b * asset_price[k];
    h.equity += value;
    h.scale += std::abs(value);
  }
  for (std::uint32_t j = account_offset_[a]; j < account_offset_[a + 1]; ++j) {
    const std::uint32_t i = account_position_[j];
    const double p = last[static_cast<std::size_t>(market_[i])];
    const double pnl = side_[i] * qty_[i] * (p - entry_[i]);
    h.equity += pnl;
    const double mm = position_maintenance(i, p);
    h.maintenance += mm;
    h.scale += qty_[i] * (p + entry_[i]) + std::abs(mm);
  }
  return h;
}

std::vector<double> VenueState::equity_at(std::span<const double> last) const {
  const std::vector<double> price = asset_prices(last);
  std::vector<double> out(n_accounts_);
  for (std::size_t a = 0; a < n_accounts_; ++a) out[a] = health(a, last, price).equity;
  return out;
}

void VenueState::index_accounts(const std::atomic<bool>* cancel) {
  const std::size_t n = side_.size(), accounts = n_accounts_, markets = n_markets(), assets = n_assets();
  // each account's positions, by index (counting sort: stable)
  account_offset_.assign(accounts + 1, 0);
  for (std::size_t i = 0; i < n; ++i) {
    if (account_[i] >= 0) ++account_offset_[static_cast<std::size_t>(account_[i]) + 1];
  }
  for (std::size_t a = 0; a < accounts; ++a) account_offset_[a + 1] += account_offset_[a];
  account_position_.resize(account_offset_[accounts]);
  {
    bulk_vector<std::uint32_t> fill(account_offset_.begin(), account_offset_.end() - 1);
    for (std::size_t i = 0; i < n; ++i) {
      if (account_[i] >= 0) account_position_[fill[static_cast<std::size_t>(account_[i])]++] = static_cast<std::uint32_t>(i);
    }
  }
  check_cancel(cancel);
  // Each account's sensitivity to each market's price (docs/design.md, "Many markets", the
  // account index): d(Equity - MM)/dp_m lies in [lo, hi] at every price, so a fall of p_m by
  // x lowers Equity - MM by at most max(0, hi) * x, a rise by at most max(0, -lo) * x.
  exposure_offset_.resize(accounts + 1);
  exposure_offset_[0] = 0;
  tolerance_extra_.assign(accounts, 0.0);
  {
    // at most one entry a market an account holds a position in or values an asset on:
    // reserved up front (no regrowth)
    std::size_t valued = 0;
    for (const VenueAsset& asset : venue_->assets) valued += asset.valued_on() >= 0;
    std::size_t most = 0;
    for (std::size_t a = 0; a < accounts; ++a) {
      const std::size_t held = account_offset_[a + 1] - account_offset_[a];
      if (held != 0) most += std::min(markets, held + valued);
    }
    exposure_market_.reserve(most);
    exposure_down_.reserve(most);
    exposure_up_.reserve(most);
  }
  std::vector<double> hi(markets), lo(markets);
  std::vector<std::uint8_t> exposed(markets);
  const std::vector<double> price = asset_prices(ref_price_);
  equity_ref_.resize(accounts);  // every account written below
  maint_ref_.resize(accounts);
  bulk_vector<double> slack(accounts);  // Equity - MM - tolerance at the reference
  for (std::size_t a = 0; a < accounts; ++a) {
    if (account_offset_[a] != account_offset_[a + 1]) {  // an account with no position is never liquidated
      std::fill(hi.begin(), hi.end(), 0.0);
      std::fill(lo.begin(), lo.end(), 0.0);
      std::fill(exposed.begin(), exposed.end(), 0);
      double jump = 0.0;
      for (std::uint32_t j = account_offset_[a]; j < account_offset_[a + 1]; ++j) {
        const std::uint32_t i = account_position_[j];
        const auto m = static_cast<std::size_t>(market_[i]);
        exposed[m] = 1;
        const double q = qty_[i];
        // a bound on d MM / d p over qty: the mmr (the table's largest for a tier looked up at
        // the price) at mark basis, plus the close fee
        const MarginRule& rule = venue_->markets[m].rule;
        const double mmr_bound = dynamic_tier_[m] ? max_tier_mmr_[m] : mmr_[i];
        const double max_rate = (rule.basis == MarginBasis::mark ? mmr_bound : 0.0) + rule.close_fee;
        if (side_[i] > 0) {
          hi[m] += q;
          lo[m] += q * (1.0 - max_rate);
        } else {
          hi[m] -= q;
          lo[m] -= q * (1.0 + max_rate);
        }
        if (dynamic_tier_[m]) jump += tier_jump_[m];
      }
      for (std::size_t k = 0; k < assets; ++k) {
        const VenueAsset& asset = venue_->assets[k];
        const double b = collateral_[a * assets + k];
        // the market its value moves with: an index's market, not the book it is sold into
        if (asset.valued_on() < 0 || b == 0.0) continue;
        const auto m = static_cast<std::size_t>(asset.valued_on());
        exposed[m] = 1;
        const double ratio = asset.index_market >= 0 ? asset.index_ratio : 1.0;
        const double slope = (b > 0.0 ? b * one_minus_haircut_[k] : b) * ratio;
        // below a floor the value does not move: the slope is 0 there
        if (slope > 0.0) {
          hi[m] += slope;
          if (asset.floor == 0.0) lo[m] += slope;
        } else {
          lo[m] += slope;
          if (asset.floor == 0.0) hi[m] += slope;
        }
      }
      tolerance_extra_[a] = jump;
      for (std::size_t m = 0; m < markets; ++m) {
        if (!exposed[m]) continue;
        exposure_market_.push_back(static_cast<std::uint32_t>(m));
        // rounded sums: widened a little so that they stay bounds
        exposure_down_.push_back(std::max(0.0, hi[m]) * (1.0 + 1e-9));
        exposure_up_.push_back(std::max(0.0, -lo[m]) * (1.0 + 1e-9));
      }
    }
    exposure_offset_[a + 1] = static_cast<std::uint32_t>(exposure_market_.size());
    // the reference state's health, while the account's positions are in cache
    const AccountHealth h = health(a, ref_price_, price);
    equity_ref_[a] = h.equity;
    maint_ref_[a] = h.maintenance;
    slack[a] = account_slack(a, h);
    if ((a & 0xffff) == 0) check_cancel(cancel);
  }
  // when each account can first trigger
  bound_down_.assign(markets, {});
  bound_up_.assign(markets, {});
  near_trigger_.assign(markets, {});
  {
    // at most one bound a direction for each account exposed to a market: reserved up front
    std::vector<std::size_t> exposed_to(markets, 0);
    for (const std::uint32_t m : exposure_market_) ++exposed_to[m];
    for (std::size_t m = 0; m < markets; ++m) {
      bound_down_[m].reserve(exposed_to[m]);
      bound_up_[m].reserve(exposed_to[m]);
    }
  }
  for (std::size_t a = 0; a < accounts; ++a) {
    if (account_offset_[a] == account_offset_[a + 1]) continue;
    const double room = slack[a];
    const auto account = static_cast<std::uint32_t>(a);
    if (!(room > 0.0)) {
      for (std::uint32_t e = exposure_offset_[a]; e < exposure_offset_[a + 1]; ++e) {
        near_trigger_[exposure_market_[e]].push_back(account);
      }
      continue;
    }
    bounds_from_slack(account, room, ref_price_, [&](std::uint32_t m, bool down, double bound) {
      (down ? bound_down_ : bound_up_)[m].push_back({bound, account});
    });
    if ((a & 0xffff) == 0) check_cancel(cancel);
  }
  // reach order: down by price descending, up ascending, ties by account (pushed in account
  // order, at most one a market and direction; the sort is stable)
  const auto bound_price = [](const Bound& b) { return b.price; };
  for (std::size_t m = 0; m < markets; ++m) {
    stable_sort_by_price(bound_down_[m], true, bound_price);
    stable_sort_by_price(bound_up_[m], false, bound_price);
    check_cancel(cancel);
  }
}

namespace {

// g(p) = Equity - MM of one account with one market's price set to p. Between consecutive
// breakpoints (tier boundaries of its cross positions there at mark basis, floors of assets
// valued on it) g is linear; `first_trigger` walks the segments from the reference outwards.
struct TriggerSearch {
  const VenueState& state;
  std::size_t account, market;
  std::vector<double>& last;
  std::vector<double>& asset_price;

  double g(double p) {
    last[market] = p;
    for (std::size_t k = 0; k < state.n_assets(); ++k) asset_price[k] = state.venue().assets[k].price_at(last);
    const AccountHealth h = state.health(account, last, asset_price);
    return h.equity - h.maintenance;
  }

  // The first price from `from` towards `to` (by the sorted breakpoints `cuts`, strictly
  // between them) at which g <= 0; NaN if none. `to` is 0 (down) or infinity (up).
  double first_trigger(double from, const std::vector<double>& cuts, bool down) {
    double lo = from;
    for (std::size_t j = 0; j <= cuts.size(); ++j) {
      const double hi = j < cuts.size() ? cuts[j] : (down ? 0.0 : infinity);
      // the line of the open segment (lo, hi): two interior points (the ends may sit on a jump)
      const double span = std::isfinite(hi) ? hi - lo : std::max(lo, 1.0);
      const double x1 = lo + span / 3.0, x2 = lo + 2.0 * span / 3.0;
      const double g1 = g(x1), g2 = g(x2);
      const double slope = (g2 - g1) / (x2 - x1);  // d g / d (distance from `from`), signed by direction
      // the line at the segment's near end and its far end (or its limit)
      const double g_near = g1 - slope * (x1 - lo);
      if (!(g_near > 0.0)) return settle(lo, hi, down);
      const double g_far = std::isfinite(hi) ? g1 + slope * (hi - x1) : (slope < 0.0 ? -infinity : g1);
      if (!(g_far > 0.0)) {
        const double root = lo - g_near / slope;  // on the line, strictly inside (lo, hi] in the search direction
        return settle(root, hi, down);
      }
      lo = hi;
    }
    return std::numeric_limits<double>::quiet_NaN();
  }

  // A price at which g <= 0 exactly, from the line's root: stepped a few ulps on in the search
  // direction while rounding leaves it just short (the line is exact up to rounding).
  double settle(double p, double bound, bool down) {
    double x = p;
    for (int step = 0; step < 64; ++step) {
      if (down && !(x > 0.0)) return std::numeric_limits<double>::quiet_NaN();
      if (!std::isfinite(x)) return std::numeric_limits<double>::quiet_NaN();
      if (!(g(x) > 0.0)) return x;
      x = std::nextafter(x, down ? 0.0 : infinity);
    }
    // not within 64 ulps: step to the segment's end in ever larger strides
    double stride = std::abs(x) * 1e-12;
    for (int step = 0; step < 200; ++step) {
      x = down ? std::max(x - stride, bound) : (std::isfinite(bound) ? std::min(x + stride, bound) : x + stride);
      if (down && !(x > 0.0)) return std::numeric_limits<double>::quiet_NaN();
      if (!(g(x) > 0.0)) return x;
      if (x == bound) break;
      stride *= 2.0;
    }
    return std::numeric_limits<double>::quiet_NaN();
  }
};

}  // namespace

VenueState::TriggerPrices VenueState::account_trigger_prices(const std::atomic<bool>* cancel) const {
  TriggerPrices out;
  const std::size_t assets = n_assets();
  std::vector<double> last = ref_price_, asset_price(assets), cuts_down, cuts_up;
  for (std::size_t a = 0; a < n_accounts_; ++a) {
    if ((a & 0xfff) == 0) check_cancel(cancel);
    if (account_offset_[a] == account_offset_[a + 1]) continue;
    for (std::uint32_t e = exposure_offset_[a]; e < exposure_offset_[a + 1]; ++e) {
      const std::size_t m = exposure_market_[e];
      const double ref = ref_price_[m];
      // the breakpoints of g in this market
      cuts_down.clear();
      cuts_up.clear();
      const auto cut = [&](double p) {
        if (!(p > 0.0) || !std::isfinite(p)) return;
        if (p < ref) cuts_down.push_back(p);
        if (p > ref) cuts_up.push_back(p);
      };
      for (std::uint32_t j = account_offset_[a]; j < account_offset_[a + 1]; ++j) {
        const std::uint32_t i = account_position_[j];
        if (static_cast<std::size_t>(market_[i]) != m || !dynamic_tier_[m]) continue;
        const TierTable& t = *venue_->markets[m].tiers;
        for (std::size_t k = 1; k < t.notional_floor.size(); ++k) cut(t.notional_floor[k] / qty_[i]);
      }
      for (std::size_t k = 0; k < assets; ++k) {
        const VenueAsset& asset = venue_->assets[k];
        if (asset.valued_on() != static_cast<std::int64_t>(m) || asset.floor == 0.0) continue;
        if (collateral_[a * assets + k] == 0.0) continue;
        cut(asset.floor / (asset.index_market >= 0 ? asset.index_ratio : 1.0));
      }
      std::sort(cuts_down.begin(), cuts_down.end(), std::greater<>());
      std::sort(cuts_up.begin(), cuts_up.end());
      cuts_down.erase(std::unique(cuts_down.begin(), cuts_down.end()), cuts_down.end());
      cuts_up.erase(std::unique(cuts_up.begin(), cuts_up.end()), cuts_up.end());
      TriggerSearch search{*this, a, m, last, asset_price};
      double down = std::numeric_limits<double>::quiet_NaN(), up = down;
      last[m] = ref;
      for (std::size_t k = 0; k < assets; ++k) asset_price[k] = venue_->assets[k].price_at(last);
      const AccountHealth h = health(a, last, asset_price);
      if (!(h.equity - h.maintenance > 0.0)) {
        down = up = ref;
      } else {
        // a direction in which no term can lower Equity - MM by more than the rounding and tier
        // jumps the index allows for (its exposure bound is 0) never triggers: not walked
        const bool clear = h.equity - h.maintenance - (1e-9 * h.scale + tolerance_extra_[a]) > 0.0;
        if (!(clear && exposure_down_[e] == 0.0)) down = search.first_trigger(ref, cuts_down, true);
        if (!(clear && exposure_up_[e] == 0.0)) up = search.first_trigger(ref, cuts_up, false);
      }
      last[m] = ref;
      out.account.push_back(static_cast<std::int64_t>(a));
      out.market.push_back(static_cast<std::int64_t>(m));
      out.down.push_back(down);
      out.up.push_back(up);
    }
  }
  return out;
}

std::vector<double> VenueResult::final_prices() const {
  std::vector<double> out;
  for (const auto& m : markets) out.push_back(m.final_price);
  return out;
}

}  // namespace cascade_core
