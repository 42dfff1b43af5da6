#include "pkg/workers/orders_rules.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <ctime>

#include "pkg/runtime/wiring.h"

namespace pipewright::workers::orders {
namespace {

using nlohmann::json;

constexpr std::size_t kMaxItems = 1000;
constexpr std::int64_t kMaxQuantity = 1'000'000;
constexpr double kMaxMoney = 1e12;
constexpr double kCent = 0.005;

const json& require(const json& object, const std::string& key, const std::string& path) {
  const auto it = object.find(key);
  if (it == object.end() || it->is_null()) throw OrderError(path, path + " is required");
  return *it;
}

std::string text_field(const json& object, const std::string& key, const std::string& path,
                       std::size_t max) {
  const auto& v = require(object, key, path);
  if (!v.is_string()) throw OrderError(path, path + " must be a string");
  auto s = v.get<std::string>();
  if (s.find_first_not_of(" \t\r\n") == std::string::npos) {
    throw OrderError(path, path + " must not be empty");
  }
  if (s.size() > max) {
    throw OrderError(path, path + " must be at most " + std::to_string(max) + " characters");
  }
  return s;
}

double money_field(const json& object, const std::string& key, const std::string& path) {
  const auto& v = require(object, key, path);
  if (!v.is_number()) throw OrderError(path, path + " must be a number");
  const auto d = v.get<double>();
  if (!std::isfinite(d) || d < 0) throw OrderError(path, path + " must not be negative");
  if (d > kMaxMoney) throw OrderError(path, path + " is too large");
  return d;
}

Order::Item item(const json& in, const std::string& path) {
  if (!in.is_object()) throw OrderError(path, path + " must be an object");
  Order::Item out;
  out.sku = text_field(in, "sku", path + ".sku", 100);
  const auto& q = require(in, "quantity", path + ".quantity");
  // 2 and 2.0 are the same number in JSON; 2.5 is not a quantity.
  const bool whole =
      q.is_number_integer() ||
      (q.is_number_float() && std::isfinite(q.get<double>()) &&
       std::trunc(q.get<double>()) == q.get<double>() && std::abs(q.get<double>()) < 1e15);
  if (!whole) throw OrderError(path + ".quantity", path + ".quantity must be a whole number");
  out.quantity =
      q.is_number_integer() ? q.get<std::int64_t>() : static_cast<std::int64_t>(q.get<double>());
  if (out.quantity <= 0 || out.quantity > kMaxQuantity) {
    throw OrderError(path + ".quantity",
                     path + ".quantity must be from 1 to " + std::to_string(kMaxQuantity));
  }
  out.price = money_field(in, "price", path + ".price");
  return out;
}

Order::Notify recipients(const json& notify) {
  if (!notify.is_object()) throw OrderError("notify", "notify must be an object");
  Order::Notify out;
  for (const auto* key : {"email", "telegram"}) {
    const auto it = notify.find(key);
    if (it == notify.end() || it->is_null()) continue;
    (std::string_view(key) == "email" ? out.email : out.telegram) =
        text_field(notify, key, std::string("notify.") + key, 320);
  }
  return out;
}

std::string amount_text(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.2f", v);
  return buf;
}

}  // namespace

bool valid_order_id(const std::string& id) {
  const auto allowed = [](unsigned char c) {
    return std::isalnum(c) != 0 || c == '.' || c == '_' || c == ':' || c == '-';
  };
  return !id.empty() && id.size() <= 64 && std::all_of(id.begin(), id.end(), allowed);
}

Order order_model(const json& body) {
  if (!body.is_object()) throw OrderError("body", "the body must be a JSON object (the order)");
  Order order;
  if (const auto id = body.find("id"); id != body.end() && !id->is_null()) {
    if (!id->is_string() || !valid_order_id(id->get_ref<const std::string&>())) {
      throw OrderError("id", "id must be a string of 1 to 64 letters, digits, '.', '_', '-', ':'");
    }
    order.id = id->get<std::string>();
  }
  order.customer = text_field(body, "customer", "customer", 200);
  const auto& items = require(body, "items", "items");
  if (!items.is_array()) throw OrderError("items", "items must be a list");
  if (items.empty()) throw OrderError("items", "items must not be empty");
  if (items.size() > kMaxItems) {
    throw OrderError("items", "items must have at most " + std::to_string(kMaxItems) + " entries");
  }
  order.items.reserve(items.size());
  for (std::size_t i = 0; i < items.size(); ++i)
    order.items.push_back(item(items[i], "items[" + std::to_string(i) + "]"));
  order.total = money_field(body, "total", "total");
  if (const auto n = body.find("notify"); n != body.end() && !n->is_null()) {
    order.notify = recipients(*n);
  }
  return order;
}

json to_json(const Order& order) {
  json out = json::object();
  if (order.id) out["id"] = *order.id;
  out["customer"] = order.customer;
  auto& items = out["items"] = json::array();
  for (const auto& i : order.items)
    items.push_back({{"sku", i.sku}, {"quantity", i.quantity}, {"price", i.price}});
  out["total"] = order.total;
  if (order.notify) {
    auto& notify = out["notify"] = json::object();
    if (order.notify->email) notify["email"] = *order.notify->email;
    if (order.notify->telegram) notify["telegram"] = *order.notify->telegram;
  }
  return out;
}

json validate_order(const json& body) {
  return to_json(order_model(body));
}

double items_sum(const Order& order) {
  double sum = 0;
  for (const auto& i : order.items)
    sum += static_cast<double>(i.quantity) * i.price;
  return sum;
}

double items_sum(const json& order) {
  double sum = 0;
  for (const auto& i : order.at("items")) {
    sum += static_cast<double>(i.at("quantity").get<std::int64_t>()) * i.at("price").get<double>();
  }
  return sum;
}

json to_json(const std::vector<Reason>& reasons) {
  json out = json::array();
  for (const auto& r : reasons)
    out.push_back({{"rule", r.rule}, {"message", r.message}});
  return out;
}

void append_json_string(std::string& out, std::string_view text) {
  // dump()'s escapes (ensure_ascii off): the two that must be, the short forms of five control
  // characters, \u00xx for the other ones below 0x20; every other byte as it is.
  static constexpr char kHex[] = "0123456789abcdef";
  out += '"';
  for (const char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20) {
          out += "\\u00";
          out += kHex[c >> 4U];
          out += kHex[c & 15U];
        } else {
          out += ch;
        }
    }
  }
  out += '"';
}

void append_json_number(std::string& out, double value) {
  if (!std::isfinite(value)) {
    out += "null";
    return;
  }
  // The shortest text that reads back as the same double, as dump() writes it ("40.0", "12.5").
  std::array<char, 64> buffer{};
  char* end = nlohmann::detail::to_chars(buffer.data(), buffer.data() + buffer.size(), value);
  out.append(buffer.data(), static_cast<std::size_t>(end - buffer.data()));
}

void append_json(std::string& out, const json& value) {
  nlohmann::detail::serializer<json> writer(nlohmann::detail::output_adapter<char>(out), ' ');
  writer.dump(value, false, false, 0);
}

void append_json_notify(std::string& out, const Order& order) {
  out += '{';
  if (order.notify && order.notify->email) {
    out += "\"email\":";
    append_json_string(out, *order.notify->email);
  }
  if (order.notify && order.notify->telegram) {
    if (order.notify->email) out += ',';
    out += "\"telegram\":";
    append_json_string(out, *order.notify->telegram);
  }
  out += '}';
}

std::string decision_data(const Order& order, const std::string& received_at,
                          const std::string& status, const std::vector<Reason>* reasons) {
  // The keys in the order a dumped document has them (sorted), item keys too.
  std::string out;
  out.reserve(160 + 64 * order.items.size());
  out += "{\"customer\":";
  append_json_string(out, order.customer);
  out += ",\"id\":";
  append_json_string(out, order.id.value());
  out += ",\"items\":[";
  for (std::size_t i = 0; i < order.items.size(); ++i) {
    const auto& item = order.items[i];
    if (i > 0) out += ',';
    out += "{\"price\":";
    append_json_number(out, item.price);
    out += ",\"quantity\":";
    out += std::to_string(item.quantity);
    out += ",\"sku\":";
    append_json_string(out, item.sku);
    out += '}';
  }
  out += ']';
  if (order.notify) {
    out += ",\"notify\":";
    append_json_notify(out, order);
  }
  if (reasons != nullptr) {
    out += ",\"reasons\":[";
    for (std::size_t i = 0; i < reasons->size(); ++i) {
      if (i > 0) out += ',';
      out += "{\"message\":";
      append_json_string(out, (*reasons)[i].message);
      out += ",\"rule\":";
      append_json_string(out, (*reasons)[i].rule);
      out += '}';
    }
    out += ']';
  }
  out += ",\"receivedAt\":";
  append_json_string(out, received_at);
  out += ",\"status\":";
  append_json_string(out, status);
  out += ",\"total\":";
  append_json_number(out, order.total);
  out += '}';
  return out;
}

std::string notification_data(const Order& order, const std::string& status,
                              const std::vector<Reason>& reasons) {
  std::string out;
  out.reserve(256);
  out += "{\"customer\":";
  append_json_string(out, order.customer);
  out += ",\"notify\":";
  append_json_notify(out, order);
  out += ",\"operation\":\"order.";
  out += status;  // "received", "valid" or "rejected": nothing to escape
  out += "\",\"order\":";
  append_json_string(out, order.id.value());
  out += ",\"reasons\":[";
  for (std::size_t i = 0; i < reasons.size(); ++i) {
    if (i > 0) out += ',';
    append_json_string(out, reasons[i].message);
  }
  out += "],\"total\":";
  append_json_number(out, order.total);
  out += '}';
  return out;
}

FraudConfig fraud_config(const json& config) {
  runtime::check_keys(config, {"maxAmount", "maxOrdersPerCustomer", "window", "blockedCustomers"});
  FraudConfig out;
  if (const auto it = config.find("maxAmount"); it != config.end()) {
    if (!it->is_number() || it->get<double>() < 0) {
      throw runtime::ConfigError("config.maxAmount: must be a number, 0 or more");
    }
    out.max_amount = it->get<double>();
  }
  if (config.contains("maxOrdersPerCustomer")) {
    out.max_per_customer = runtime::config_int(config, "maxOrdersPerCustomer", 0, 1, 1'000'000'000);
  }
  try {
    out.window = runtime::parse_duration(runtime::config_string(config, "window", "60s"));
  } catch (const runtime::ConfigError& e) {
    const std::string what = e.what();
    throw runtime::ConfigError(what.starts_with("config.") ? what : "config.window: " + what);
  }
  if (out.window.count() <= 0) throw runtime::ConfigError("config.window: must be over 0");
  for (const auto& c : runtime::config_strings(config, "blockedCustomers", {}))
    out.blocked.insert(c);
  return out;
}

FraudChecker::FraudChecker(FraudConfig config, std::size_t keep)
    : config_(std::move(config)), keep_(keep) {}

namespace {

// Orders of a customer with receive times in (time_ms - window, time_ms].
std::int64_t orders_in_window(const std::multiset<std::int64_t>& times, std::int64_t time_ms,
                              std::chrono::milliseconds window) {
  const auto from = times.upper_bound(time_ms - window.count());
  const auto to = times.upper_bound(time_ms);
  return static_cast<std::int64_t>(std::distance(from, to));
}

}  // namespace

FraudChecker::Decision FraudChecker::check(const json& order, std::int64_t time_ms) {
  auto model = order_model(order);
  model.id = order.at("id").get<std::string>();
  return check(model, time_ms);
}

FraudChecker::Decision FraudChecker::check(const Order& order, std::int64_t time_ms) {
  const auto& id = order.id.value();
  // One lookup for "seen before?" and the entry a new decision is kept in.
  const auto [entry, fresh] = decided_.try_emplace(id);
  if (!fresh) {
    auto again = entry->second;
    again.repeated = true;
    return again;
  }
  try {
    const auto& customer = order.customer;
    const auto total = order.total;
    Decision d;
    if (config_.blocked.contains(customer)) {
      d.reasons.push_back({"blockedCustomers", "customer " + customer + " is blocked"});
    }
    if (config_.max_amount && total > *config_.max_amount) {
      d.reasons.push_back({"maxAmount", "total " + amount_text(total) + " is over maxAmount " +
                                            amount_text(*config_.max_amount)});
    }
    // One lookup of the customer's times for the count and the record.
    auto& times = times_[customer];
    if (config_.max_per_customer) {
      // This order plus the ones the customer placed in the window before it.
      const auto n = orders_in_window(times, time_ms, config_.window) + 1;
      if (n > *config_.max_per_customer) {
        d.reasons.push_back({"maxOrdersPerCustomer",
                             "order " + std::to_string(n) + " of customer " + customer +
                                 " within " + std::to_string(config_.window.count() / 1000) +
                                 "s; the limit is " + std::to_string(*config_.max_per_customer)});
      }
    }
    const auto sum = items_sum(order);
    if (std::abs(total - sum) > kCent + 1e-9 * sum) {
      d.reasons.push_back(
          {"totalMismatch",
           "total " + amount_text(total) + " does not match the items' sum " + amount_text(sum)});
    }
    d.valid = d.reasons.empty();
    entry->second = d;
    record(id, customer, times, time_ms);
    return d;
  } catch (...) {
    // Nothing decided: no entry that a redelivery would take for this order's decision, and no
    // empty window left behind.
    decided_.erase(entry);
    if (const auto t = times_.find(order.customer); t != times_.end() && t->second.empty()) {
      times_.erase(t);
    }
    throw;
  }
}

void FraudChecker::remember(const std::string& id, const std::string& customer,
                            std::int64_t time_ms, const Decision& decision) {
  if (!decided_.try_emplace(id, decision).second) return;
  record(id, customer, times_[customer], time_ms);
}

void FraudChecker::record(const std::string& id, const std::string& customer, Times& times,
                          std::int64_t time_ms) {
  decided_order_.push_back({id, customer, time_ms});
  times.insert(time_ms);
  // Times far behind this customer's newest can no longer fall in anyone's window.
  const auto horizon = *times.rbegin() - 2 * config_.window.count();
  times.erase(times.begin(), times.lower_bound(horizon));
  if (decided_order_.size() > keep_) {
    const auto& old = decided_order_.front();
    decided_.erase(old.id);
    // Its time leaves the window too (if the horizon has not taken it already), and a customer
    // with no time left is forgotten: one order per new customer no longer grows memory.
    if (const auto it = times_.find(old.customer); it != times_.end()) {
      if (const auto t = it->second.find(old.time_ms); t != it->second.end()) it->second.erase(t);
      if (it->second.empty()) times_.erase(it);
    }
    decided_order_.pop_front();
  }
}

namespace {

// The digits text[at, at + n) as a number, or -1 when one is not a digit.
int fixed_digits(const std::string& text, std::size_t at, std::size_t n) {
  int v = 0;
  for (std::size_t i = at; i < at + n; ++i) {
    if (text[i] < '0' || text[i] > '9') return -1;
    v = v * 10 + (text[i] - '0');
  }
  return v;
}

// Days from 1970-01-01 to y-m-d of the proleptic Gregorian calendar (H. Hinnant's
// days_from_civil); linear in d, so a day past the month's end counts on into the next, as
// timegm() normalises it.
std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2 ? 1 : 0;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

}  // namespace

std::optional<std::int64_t> parse_rfc3339_ms(const std::string& text) {
  // What orders-api writes, "2026-11-23T09:00:00.123Z": read by position (sscanf and timegm
  // were 2 % of fraud's CPU). Anything else (other widths, signs, spaces, fields out of range)
  // takes the general reading below, which gives the same result for this shape.
  if (text.size() >= 24 && text[4] == '-' && text[7] == '-' && text[10] == 'T' && text[13] == ':' &&
      text[16] == ':' && text[19] == '.' && text[23] == 'Z') {
    const int y = fixed_digits(text, 0, 4), mo = fixed_digits(text, 5, 2),
              d = fixed_digits(text, 8, 2), h = fixed_digits(text, 11, 2),
              mi = fixed_digits(text, 14, 2), s = fixed_digits(text, 17, 2),
              ms = fixed_digits(text, 20, 3);
    if (y >= 0 && mo >= 1 && mo <= 12 && d >= 1 && d <= 31 && h >= 0 && h <= 23 && mi >= 0 &&
        mi <= 59 && s >= 0 && s <= 59 && ms >= 0) {
      const auto days = days_from_civil(y, static_cast<unsigned>(mo), static_cast<unsigned>(d));
      return ((days * 24 + h) * 60 + mi) * std::int64_t{60000} + std::int64_t{s} * 1000 + ms;
    }
  }
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, s = 0, ms = 0;
  char z = 0;
  if (std::sscanf(text.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d.%3d%c", &y, &mo, &d, &h, &mi, &s, &ms,
                  &z) != 8 ||
      z != 'Z') {
    return std::nullopt;
  }
  std::tm tm{};
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = s;
  return static_cast<std::int64_t>(timegm(&tm)) * 1000 + ms;
}

}  // namespace pipewright::workers::orders
