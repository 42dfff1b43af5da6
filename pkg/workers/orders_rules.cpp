#include "pkg/workers/orders_rules.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <ctime>

#include "pkg/json/limited.h"
#include "pkg/runtime/wiring.h"

namespace pipewright::workers::orders {
namespace {

using nlohmann::json;

constexpr std::size_t kMaxItems = 1000;
constexpr std::int64_t kMaxQuantity = 1'000'000;
constexpr double kMaxMoney = 1e12;
constexpr double kCent = 0.005;

// A field of a body as the validation sees it, read from a document (fields_of) or from the
// text (FieldsReader): its kind and, for a string or a number, its value.
struct Value {
  enum class Kind : std::uint8_t {
    absent,
    null,
    string,
    integer,
    unsigned_integer,
    floating,
    object,
    array,
    other
  };
  Kind kind = Kind::absent;
  std::string text;
  std::int64_t integer = 0;
  std::uint64_t unsigned_integer = 0;
  double floating = 0;

  // Present and not null: a null field counts as absent.
  [[nodiscard]] bool given() const { return kind != Kind::absent && kind != Kind::null; }
  [[nodiscard]] bool number() const {
    return kind == Kind::integer || kind == Kind::unsigned_integer || kind == Kind::floating;
  }
  // As json's get<double>() reads the number.
  [[nodiscard]] double as_double() const {
    if (kind == Kind::integer) return static_cast<double>(integer);
    if (kind == Kind::unsigned_integer) return static_cast<double>(unsigned_integer);
    return floating;
  }
};

struct ItemFields {
  bool object = false;  // the entry is an object (its fields are read only then)
  Value sku, quantity, price;
};

// The fields of a body that an order has; any other is ignored.
struct Fields {
  bool object = false;  // the body is an object (nothing else is read otherwise)
  Value id, customer, items, total, notify, received_at;
  std::size_t item_count = 0;           // entries of items when it is a list
  std::vector<ItemFields> item_fields;  // the first kMaxItems of them (more is refused first)
  Value email, telegram;                // of notify when it is an object
};

// The path of a field: `name` of the body (`item` kNoItem) or of items[item] ("items[1].sku";
// "items[1]" for an empty name). Built only for an error: most orders have none.
constexpr std::size_t kNoItem = static_cast<std::size_t>(-1);
struct Path {
  std::size_t item;
  std::string_view name;
  [[nodiscard]] std::string text() const {
    if (item == kNoItem) return std::string(name);
    std::string out = "items[" + std::to_string(item) + "]";
    if (!name.empty()) (out += '.') += name;
    return out;
  }
};

OrderError error(const Path& path, std::string_view what) {
  auto field = path.text();
  auto message = field;
  message += what;
  return {std::move(field), message};
}

void require(const Value& v, const Path& path) {
  if (!v.given()) throw error(path, " is required");
}

std::string text_field(Value& v, const Path& path, std::size_t max) {
  require(v, path);
  if (v.kind != Value::Kind::string) throw error(path, " must be a string");
  if (v.text.find_first_not_of(" \t\r\n") == std::string::npos) {
    throw error(path, " must not be empty");
  }
  if (v.text.size() > max) {
    throw error(path, " must be at most " + std::to_string(max) + " characters");
  }
  return std::move(v.text);
}

double money_field(const Value& v, const Path& path) {
  require(v, path);
  if (!v.number()) throw error(path, " must be a number");
  const auto d = v.as_double();
  if (!std::isfinite(d) || d < 0) throw error(path, " must not be negative");
  if (d > kMaxMoney) throw error(path, " is too large");
  return d;
}

Order::Item item(ItemFields& in, std::size_t i) {
  if (!in.object) throw error({i, ""}, " must be an object");
  Order::Item out;
  out.sku = text_field(in.sku, {i, "sku"}, 100);
  const auto& q = in.quantity;
  const Path quantity{i, "quantity"};
  require(q, quantity);
  // 2 and 2.0 are the same number in JSON; 2.5 is not a quantity.
  const bool integer = q.kind == Value::Kind::integer || q.kind == Value::Kind::unsigned_integer;
  const bool whole =
      integer || (q.kind == Value::Kind::floating && std::isfinite(q.floating) &&
                  std::trunc(q.floating) == q.floating && std::abs(q.floating) < 1e15);
  if (!whole) throw error(quantity, " must be a whole number");
  // As json's get<std::int64_t>() reads an integer (an unsigned one converted).
  out.quantity = q.kind == Value::Kind::integer ? q.integer
                 : q.kind == Value::Kind::unsigned_integer
                     ? static_cast<std::int64_t>(q.unsigned_integer)
                     : static_cast<std::int64_t>(q.floating);
  if (out.quantity <= 0 || out.quantity > kMaxQuantity) {
    throw error(quantity, " must be from 1 to " + std::to_string(kMaxQuantity));
  }
  out.price = money_field(in.price, {i, "price"});
  return out;
}

// The order of the fields, or OrderError naming the first that is missing, of the wrong type or
// out of range: one validation, whether the fields came from a document or from the text.
Order order_from(Fields& f) {
  if (!f.object) throw OrderError("body", "the body must be a JSON object (the order)");
  Order order;
  if (f.id.given()) {
    if (f.id.kind != Value::Kind::string || !valid_order_id(f.id.text)) {
      throw OrderError("id", "id must be a string of 1 to 64 letters, digits, '.', '_', '-', ':'");
    }
    order.id = std::move(f.id.text);
  }
  order.customer = text_field(f.customer, {kNoItem, "customer"}, 200);
  require(f.items, {kNoItem, "items"});
  if (f.items.kind != Value::Kind::array) throw OrderError("items", "items must be a list");
  if (f.item_count == 0) throw OrderError("items", "items must not be empty");
  if (f.item_count > kMaxItems) {
    throw OrderError("items", "items must have at most " + std::to_string(kMaxItems) + " entries");
  }
  order.items.reserve(f.item_count);
  for (std::size_t i = 0; i < f.item_count; ++i)
    order.items.push_back(item(f.item_fields[i], i));
  order.total = money_field(f.total, {kNoItem, "total"});
  if (f.notify.given()) {
    if (f.notify.kind != Value::Kind::object)
      throw OrderError("notify", "notify must be an object");
    auto& notify = order.notify.emplace();
    if (f.email.given()) notify.email = text_field(f.email, {kNoItem, "notify.email"}, 320);
    if (f.telegram.given()) {
      notify.telegram = text_field(f.telegram, {kNoItem, "notify.telegram"}, 320);
    }
  }
  return order;
}

// --- the fields of a document ------------------------------------------------------------------

Value value_of(const json& v) {
  Value out;
  switch (v.type()) {
    case json::value_t::null:
      out.kind = Value::Kind::null;
      break;
    case json::value_t::string:
      out.kind = Value::Kind::string;
      out.text = v.get_ref<const std::string&>();
      break;
    case json::value_t::number_integer:
      out.kind = Value::Kind::integer;
      out.integer = v.get<std::int64_t>();
      break;
    case json::value_t::number_unsigned:
      out.kind = Value::Kind::unsigned_integer;
      out.unsigned_integer = v.get<std::uint64_t>();
      break;
    case json::value_t::number_float:
      out.kind = Value::Kind::floating;
      out.floating = v.get<double>();
      break;
    case json::value_t::object:
      out.kind = Value::Kind::object;
      break;
    case json::value_t::array:
      out.kind = Value::Kind::array;
      break;
    default:  // boolean, binary, discarded
      out.kind = Value::Kind::other;
  }
  return out;
}

Value member(const json& object, const char* key) {
  const auto it = object.find(key);
  return it == object.end() ? Value{} : value_of(*it);
}

Fields fields_of(const json& body) {
  Fields f;
  f.object = body.is_object();
  if (!f.object) return f;
  f.id = member(body, "id");
  f.customer = member(body, "customer");
  f.total = member(body, "total");
  if (const auto items = body.find("items"); items != body.end()) {
    f.items = value_of(*items);
    if (items->is_array()) {
      f.item_count = items->size();
      if (f.item_count <= kMaxItems) {
        f.item_fields.resize(f.item_count);
        for (std::size_t i = 0; i < f.item_count; ++i) {
          const auto& in = (*items)[i];
          auto& out = f.item_fields[i];
          out.object = in.is_object();
          if (!out.object) continue;
          out.sku = member(in, "sku");
          out.quantity = member(in, "quantity");
          out.price = member(in, "price");
        }
      }
    }
  }
  if (const auto notify = body.find("notify"); notify != body.end()) {
    f.notify = value_of(*notify);
    if (notify->is_object()) {
      f.email = member(*notify, "email");
      f.telegram = member(*notify, "telegram");
    }
  }
  return f;
}

// --- the fields of a text, as nlohmann's parser reads it (its SAX events) ----------------------

// Depth by depth: 1 the body, 2 the items list or the notify object, 3 an item. Any other value
// is skipped; a key seen again resets its field (a document keeps the last value). Deeper than
// pipewright::json::kMaxDepth it stops, as that parse would.
class FieldsReader {
 public:
  explicit FieldsReader(Fields& fields) : f_(fields) {}

  bool null() { return scalar(Value::Kind::null); }
  bool boolean(bool /*value*/) { return scalar(Value::Kind::other); }
  bool number_integer(json::number_integer_t v) {
    if (auto* slot = scalar_slot(Value::Kind::integer)) slot->integer = v;
    return true;
  }
  bool number_unsigned(json::number_unsigned_t v) {
    if (auto* slot = scalar_slot(Value::Kind::unsigned_integer)) slot->unsigned_integer = v;
    return true;
  }
  bool number_float(json::number_float_t v, const json::string_t& /*text*/) {
    if (auto* slot = scalar_slot(Value::Kind::floating)) slot->floating = v;
    return true;
  }
  bool string(json::string_t& v) { return string(std::string_view(v)); }
  bool string(std::string_view v) {
    if (auto* slot = scalar_slot(Value::Kind::string)) slot->text = v;
    return true;
  }
  bool binary(json::binary_t& /*value*/) { return false; }  // not in JSON text

  bool start_object(std::size_t /*elements*/) {
    if (skip_ > 0) return deeper();
    if (depth_ == 0) {
      f_.object = true;
      return deeper();
    }
    if (depth_ == 2 && in_items_) return item(true, true);
    auto* slot = take(Value::Kind::object);
    if (depth_ == 1 && slot == &f_.notify) {
      in_items_ = false;
      return deeper();
    }
    return skip();
  }
  bool start_array(std::size_t /*elements*/) {
    if (skip_ > 0) return deeper();
    if (depth_ == 0) return skip();
    if (depth_ == 2 && in_items_) return item(false, true);
    auto* slot = take(Value::Kind::array);
    if (depth_ == 1 && slot == &f_.items) {
      in_items_ = true;
      return deeper();
    }
    return skip();
  }
  bool end_object() { return end(); }
  bool end_array() { return end(); }

  bool key(json::string_t& k) { return key(std::string_view(k)); }
  bool key(std::string_view k) {
    target_ = nullptr;
    if (skip_ > 0) return true;
    if (depth_ == 1) {
      if (k == "id") {
        target_ = &f_.id;
      } else if (k == "customer") {
        target_ = &f_.customer;
      } else if (k == "items") {
        target_ = &f_.items;
        f_.item_count = 0;
        f_.item_fields.clear();
      } else if (k == "total") {
        target_ = &f_.total;
      } else if (k == "notify") {
        target_ = &f_.notify;
        f_.email = {};
        f_.telegram = {};
      } else if (k == "receivedAt") {
        target_ = &f_.received_at;
      }
    } else if (depth_ == 2) {  // notify's (the items list has no keys)
      if (k == "email") {
        target_ = &f_.email;
      } else if (k == "telegram") {
        target_ = &f_.telegram;
      }
    } else if (depth_ == 3) {
      auto& i = f_.item_fields.back();
      if (k == "sku") {
        target_ = &i.sku;
      } else if (k == "quantity") {
        target_ = &i.quantity;
      } else if (k == "price") {
        target_ = &i.price;
      }
    }
    if (target_ != nullptr) *target_ = Value{};
    return true;
  }

  bool parse_error(std::size_t /*position*/, const std::string& /*token*/,
                   const nlohmann::detail::exception& /*ex*/) {
    return false;
  }

 private:
  // The field a value at this place fills (its kind set), or null when none is read.
  Value* scalar_slot(Value::Kind kind) {
    if (skip_ > 0 || depth_ == 0) return nullptr;  // a body that is no object: nothing read
    if (depth_ == 2 && in_items_) {
      (void)item(false, false);
      return nullptr;
    }
    return take(kind);
  }
  bool scalar(Value::Kind kind) {
    (void)scalar_slot(kind);
    return true;
  }
  // The field the key before named, given `kind`; the key is used up.
  Value* take(Value::Kind kind) {
    auto* slot = target_;
    target_ = nullptr;
    if (slot != nullptr) slot->kind = kind;
    return slot;
  }
  // An entry of items (`opens` an object or a list): its fields are read when it is an object
  // and one of the first kMaxItems.
  bool item(bool object, bool opens) {
    const bool kept = ++f_.item_count <= kMaxItems;
    if (kept) f_.item_fields.emplace_back().object = object;
    if (!opens) return true;
    return object && kept ? deeper() : skip();
  }
  bool skip() {
    skip_ = depth_ + 1;
    return deeper();
  }
  bool deeper() { return ++depth_ <= pipewright::json::kMaxDepth; }
  bool end() {
    --depth_;
    if (skip_ > depth_) skip_ = 0;
    target_ = nullptr;
    return true;
  }

  Fields& f_;
  int depth_ = 0;  // containers open
  int skip_ = 0;   // > 0: the depth of the container being skipped
  bool in_items_ = false;
  Value* target_ = nullptr;
};

// Feeds a SAX reader the events nlohmann's parser gives for the same text, without its lexer
// (which copies every byte into two buffers): for JSON text without whitespace, with ASCII
// strings whose escapes are the short ones, and numbers std::from_chars reads as strtod does
// (integers of at most 18 digits). Written so by dump(), as the orders' data is. Says no to any
// other text and to a reader that stops: the caller then reads the text with nlohmann's parser
// from the start, which decides it.
template <class Sax>
class PlainSax {
 public:
  PlainSax(std::string_view text, Sax& sax) : s_(text), sax_(sax) {}

  bool run() { return value() && i_ == s_.size(); }

 private:
  bool value() {
    if (i_ >= s_.size()) return false;
    switch (s_[i_]) {
      case '{':
        return object();
      case '[':
        return array();
      case '"': {
        std::string_view text;
        return string(text) && sax_.string(text);
      }
      case 't':
        return literal("true") && sax_.boolean(true);
      case 'f':
        return literal("false") && sax_.boolean(false);
      case 'n':
        return literal("null") && sax_.null();
      default:
        return number();
    }
  }

  bool object() {
    ++i_;
    if (!sax_.start_object(static_cast<std::size_t>(-1))) return false;
    if (next_is('}')) return sax_.end_object();
    for (;;) {
      std::string_view key;
      if (i_ >= s_.size() || s_[i_] != '"' || !string(key) || !sax_.key(key) || !next_is(':') ||
          !value()) {
        return false;
      }
      if (next_is('}')) return sax_.end_object();
      if (!next_is(',')) return false;
    }
  }

  bool array() {
    ++i_;
    if (!sax_.start_array(static_cast<std::size_t>(-1))) return false;
    if (next_is(']')) return sax_.end_array();
    for (;;) {
      if (!value()) return false;
      if (next_is(']')) return sax_.end_array();
      if (!next_is(',')) return false;
    }
  }

  // The string at i_ (its opening quote): a view into the text when it has no escape, else
  // into scratch_ after the escapes are replaced.
  bool string(std::string_view& out) {
    const std::size_t start = ++i_;
    while (i_ < s_.size()) {
      const auto c = static_cast<unsigned char>(s_[i_]);
      if (c == '"') {
        out = s_.substr(start, i_++ - start);
        return true;
      }
      if (c == '\\') return escaped(start, out);
      if (c < 0x20 || c >= 0x80) return false;  // a control or a non-ASCII byte: not here
      ++i_;
    }
    return false;
  }
  bool escaped(std::size_t start, std::string_view& out) {
    scratch_.assign(s_.substr(start, i_ - start));
    while (i_ < s_.size()) {
      const auto c = static_cast<unsigned char>(s_[i_++]);
      if (c == '"') {
        out = scratch_;
        return true;
      }
      if (c < 0x20 || c >= 0x80) return false;
      if (c != '\\') {
        scratch_ += static_cast<char>(c);
        continue;
      }
      if (i_ >= s_.size()) return false;
      switch (s_[i_++]) {
        case '"':
          scratch_ += '"';
          break;
        case '\\':
          scratch_ += '\\';
          break;
        case '/':
          scratch_ += '/';
          break;
        case 'b':
          scratch_ += '\b';
          break;
        case 'f':
          scratch_ += '\f';
          break;
        case 'n':
          scratch_ += '\n';
          break;
        case 'r':
          scratch_ += '\r';
          break;
        case 't':
          scratch_ += '\t';
          break;
        default:
          return false;  // \u: left to nlohmann's parser
      }
    }
    return false;
  }

  bool number() {
    // -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?, as JSON has it
    const std::size_t start = i_;
    const bool negative = next_is('-');
    const std::size_t int_start = i_;
    if (!digits()) return false;
    if (s_[int_start] == '0' && i_ - int_start > 1) return false;
    bool integer = true;
    if (next_is('.')) {
      integer = false;
      if (!digits()) return false;
    }
    if (i_ < s_.size() && (s_[i_] == 'e' || s_[i_] == 'E')) {
      integer = false;
      ++i_;
      if (i_ < s_.size() && (s_[i_] == '+' || s_[i_] == '-')) ++i_;
      if (!digits()) return false;
    }
    const char* first = s_.data() + start;
    const char* last = s_.data() + i_;
    if (integer && i_ - int_start <= 18) {
      std::int64_t v = 0;
      for (const char* p = s_.data() + int_start; p < last; ++p)
        v = v * 10 + (*p - '0');
      // nlohmann's lexer: an integer with a sign is signed, one without unsigned.
      return negative ? sax_.number_integer(-v)
                      : sax_.number_unsigned(static_cast<std::uint64_t>(v));
    }
    if (integer) return false;  // long integers: nlohmann's overflow rules decide
    double v = 0;
    const auto [end, error] = std::from_chars(first, last, v);
    if (error != std::errc() || end != last) return false;  // out of range: strtod's inf decides
    thread_local const json::string_t kUnread;              // the reader takes no number text
    return sax_.number_float(v, kUnread);
  }

  bool digits() {
    const std::size_t start = i_;
    while (i_ < s_.size() && s_[i_] >= '0' && s_[i_] <= '9')
      ++i_;
    return i_ > start;
  }
  bool next_is(char c) {
    if (i_ < s_.size() && s_[i_] == c) {
      ++i_;
      return true;
    }
    return false;
  }
  bool literal(std::string_view word) {
    if (s_.substr(i_, word.size()) != word) return false;
    i_ += word.size();
    return true;
  }

  std::string_view s_;
  Sax& sax_;
  std::size_t i_ = 0;
  std::string scratch_;
};

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
  auto fields = fields_of(body);
  return order_from(fields);
}

namespace {

// The rest of a ReceivedOrder once its order (id set) and receivedAt are known.
void receive(ReceivedOrder& r, bool own_id, std::int64_t timestamp_ms) {
  // An id from the envelope (not checked as the data's is) must be valid UTF-8 to be written
  // into the decision's data, as dump() required: the same error when it is not.
  if (!own_id) (void)json(*r.order.id).dump();
  r.time_ms = parse_rfc3339_ms(r.received_at).value_or(timestamp_ms);
}

}  // namespace

ReceivedOrder received_order(const json& data, const std::string& event_id,
                             const std::string& event_time, std::int64_t timestamp_ms) {
  ReceivedOrder r;
  r.order = order_model(data);
  // value(): a present id or receivedAt that is not a string throws json's type_error, as it did
  // when these went into the order's document.
  r.order.id = data.value("id", event_id);
  r.received_at = data.value("receivedAt", event_time);
  receive(r, data.contains("id"), timestamp_ms);
  return r;
}

std::optional<ReceivedOrder> received_order_text(std::string_view data, const std::string& event_id,
                                                 const std::string& event_time,
                                                 std::int64_t timestamp_ms) {
  Fields fields;
  FieldsReader reader(fields);
  if (!PlainSax<FieldsReader>(data, reader).run()) {
    fields = Fields{};  // from the start, by the parser whose reading this is
    FieldsReader again(fields);
    if (!json::sax_parse(data.begin(), data.end(), &again)) return std::nullopt;
  }
  // What value() throws type_error for is left to the document's path.
  const auto& at = fields.received_at;
  if (fields.object && (fields.id.kind == Value::Kind::null ||
                        (at.kind != Value::Kind::absent && at.kind != Value::Kind::string))) {
    return std::nullopt;
  }
  ReceivedOrder r;
  r.order = order_from(fields);
  const bool own_id = r.order.id.has_value();
  if (!own_id) r.order.id = event_id;
  if (at.kind == Value::Kind::string) {
    r.received_at = std::move(fields.received_at.text);
  } else {
    r.received_at = event_time;
  }
  receive(r, own_id, timestamp_ms);
  return r;
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
  // Runs of bytes that need no escape (nearly all of them) go in one append each, not a
  // push_back per byte.
  std::size_t run = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    out.append(text.data() + run, i - run);
    run = i + 1;
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
        out += "\\u00";
        out += kHex[c >> 4U];
        out += kHex[c & 15U];
    }
  }
  out.append(text.data() + run, text.size() - run);
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
    auto again = decided_[entry].value;
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
    // One lookup of the customer for the count and the record.
    const auto kept = customers_.try_emplace(customer).first;
    if (config_.max_per_customer) {
      // This order plus the ones the customer placed in the window before it.
      const auto n = orders_in_window(customers_[kept].value.times, time_ms, config_.window) + 1;
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
    decided_[entry].value = d;
    record(entry, kept, time_ms);
    return d;
  } catch (...) {
    undo(entry, order.customer);
    throw;
  }
}

void FraudChecker::undo(Decided::Id order, const std::string& customer) {
  // Nothing decided: no entry that a redelivery would take for this order's decision, and no
  // customer left behind without an order.
  decided_.erase(order);
  if (const auto c = customers_.find(customer);
      c != Customers::kNone && customers_[c].value.kept == 0) {
    customers_.erase(c);
  }
}

void FraudChecker::remember(const std::string& id, const std::string& customer,
                            std::int64_t time_ms, const Decision& decision) {
  const auto [entry, fresh] = decided_.try_emplace(id);
  if (!fresh) return;
  try {
    decided_[entry].value = decision;
    record(entry, customers_.try_emplace(customer).first, time_ms);
  } catch (...) {
    undo(entry, customer);
    throw;
  }
}

void FraudChecker::record(Decided::Id order, Customers::Id customer, std::int64_t time_ms) {
  auto& times = customers_[customer].value.times;
  decided_order_.push_back({order, customer, time_ms});
  try {
    times.insert(time_ms);
  } catch (...) {
    decided_order_.pop_back();  // all or nothing
    throw;
  }
  if (times.size() == 1) ++with_times_;
  ++customers_[customer].value.kept;
  // Times far behind this customer's newest can no longer fall in anyone's window (the newest
  // stays: the customer keeps a time).
  const auto horizon = *times.rbegin() - 2 * config_.window.count();
  times.erase(times.begin(), times.lower_bound(horizon));
  if (decided_order_.size() > keep_) {
    const auto old = decided_order_.front();
    decided_order_.pop_front();
    decided_.erase(old.order);
    // Its time leaves the window too (if the horizon has not taken it already), and a customer
    // with no order left is forgotten: one order per new customer no longer grows memory.
    auto& c = customers_[old.customer].value;
    if (const auto t = c.times.find(old.time_ms); t != c.times.end()) {
      c.times.erase(t);
      if (c.times.empty()) --with_times_;
    }
    if (--c.kept == 0) customers_.erase(old.customer);
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
