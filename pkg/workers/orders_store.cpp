#include "pkg/workers/orders_store.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <fstream>
#include <stdexcept>

#include "pkg/event/envelope.h"
#include "pkg/json/limited.h"
#include "pkg/log/log.h"
#include "pkg/runtime/runtime.h"
#include "pkg/units/rfc3339.h"

namespace pipewright::workers::orders {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

bool final_status(const std::string& status) {
  return status == "valid" || status == "rejected";
}

// The order without its id and receive time: what makes two requests "the same order".
json content(json order) {
  order.erase("id");
  order.erase("receivedAt");
  return order;
}

}  // namespace

std::string rfc3339_ms(std::int64_t epoch_ms) {
  return units::rfc3339_from_ms(epoch_ms);
}

std::uintmax_t read_json_lines(const fs::path& file,
                               const std::function<void(json, std::size_t)>& each) {
  std::uintmax_t good = 0;
  std::ifstream in(file, std::ios::binary);
  std::string line;
  std::size_t number = 0;
  while (std::getline(in, line)) {
    // No newline: the writer is mid-line (or died there). Not a line yet, whatever it parses as.
    if (in.eof()) break;
    good += line.size() + 1;
    each(json::parse(line, nullptr, false), ++number);
  }
  return good;
}

JsonLines::JsonLines(const fs::path& file, const std::function<void(json)>& each, bool flush_each)
    : flush_each_(flush_each), path_(file) {
  if (file.empty()) return;
  if (file.has_parent_path()) fs::create_directories(file.parent_path());
  const auto good = read_json_lines(file, [&](json line, std::size_t number) {
    if (line.is_discarded()) {
      log::warn("skipped a line that is not JSON", {{"file", file.string()}, {"line", number}});
      return;
    }
    each(std::move(line));
  });
  std::error_code ec;
  if (fs::exists(file, ec) && fs::file_size(file, ec) > good) {
    log::warn("cut off a torn last line", {{"file", file.string()}, {"bytes", good}});
    fs::resize_file(file, good);
  }
  file_ = std::fopen(file.c_str(), "ab");
  if (file_ == nullptr) {
    throw std::runtime_error("cannot open " + file.string() + ": " + std::strerror(errno));
  }
  // Lines kept until sync() go out in 64 KiB writes, not a write(2) per 4 KiB (fraud appends a
  // line per order).
  if (!flush_each_) std::setvbuf(file_, nullptr, _IOFBF, std::size_t{64} * 1024);
}

JsonLines::~JsonLines() {
  if (file_ != nullptr) std::fclose(file_);
}

void JsonLines::append(const json& line) {
  if (file_ == nullptr) return;
  // line.dump(replace) + "\n", written into one buffer sized for a line at once.
  std::string text;
  text.reserve(256);
  nlohmann::detail::serializer<json> writer(nlohmann::detail::output_adapter<char>(text), ' ',
                                            json::error_handler_t::replace);
  writer.dump(line, false, false, 0);
  append_text(text);
}

void JsonLines::append_text(std::string_view line) {
  if (file_ == nullptr) return;
  if (std::fwrite(line.data(), 1, line.size(), file_) != line.size() ||
      std::fputc('\n', file_) == EOF || (flush_each_ && std::fflush(file_) != 0)) {
    throw std::runtime_error("cannot write " + path_.string() + ": " + std::strerror(errno));
  }
}

void JsonLines::sync() {
  if (file_ == nullptr) return;
  if (std::fflush(file_) != 0 || ::fsync(::fileno(file_)) != 0) {
    throw std::runtime_error("cannot sync " + path_.string() + ": " + std::strerror(errno));
  }
}

// --- OrderStore ---

OrderStore::OrderStore(const fs::path& file, std::size_t max_orders)
    : max_orders_(std::max<std::size_t>(1, max_orders)) {
  lines_ = std::make_unique<JsonLines>(file, [this](const json& line) { apply(line); });
}

OrderStore::Entry* OrderStore::entry(const std::string& id) {
  if (const auto it = orders_.find(id); it != orders_.end()) return &it->second;
  if (orders_.size() >= max_orders_) {
    // The oldest entry that is not being published goes; pending ones go to the back.
    bool evicted = false;
    for (std::size_t tries = age_.size(); tries > 0 && !evicted; --tries) {
      auto [seq, old] = std::move(age_.front());
      age_.pop_front();
      const auto it = orders_.find(old);
      if (it == orders_.end() || it->second.seq != seq) continue;  // released, or re-made later
      if (it->second.pending) {
        age_.emplace_back(seq, std::move(old));
        continue;
      }
      orders_.erase(it);
      evicted = true;
    }
    if (!evicted) return nullptr;
  }
  // Ids released after a failed publish leave stale pairs: dropped once they outnumber the rest.
  if (age_.size() > 2 * max_orders_) {
    std::erase_if(age_, [this](const auto& p) {
      const auto it = orders_.find(p.second);
      return it == orders_.end() || it->second.seq != p.first;
    });
  }
  auto& e = orders_[id];
  e.seq = ++seq_;
  age_.emplace_back(e.seq, id);
  return &e;
}

void OrderStore::apply(const json& line) {
  const auto id = line.value("id", "");
  if (id.empty()) return;
  Entry* found = entry(id);
  if (found == nullptr) return;  // cannot happen at start: nothing is pending yet
  auto& e = *found;
  if (line.contains("order")) e.order = line["order"];
  const auto status = line.value("status", "received");
  if (!final_status(e.status) || final_status(status)) {
    e.status = status;
    e.reasons = line.value("reasons", json());
  }
}

OrderStore::Claim OrderStore::claim(const std::string& id, const json& order,
                                    std::chrono::steady_clock::time_point wait_until) {
  std::unique_lock lock(mutex_);
  for (;;) {
    const auto it = orders_.find(id);
    if (it == orders_.end()) {
      Entry* e = entry(id);
      if (e == nullptr) return Claim::full;
      e->order = order;
      e->pending = true;
      return Claim::fresh;
    }
    if (!it->second.pending) {
      return content(it->second.order) == content(order) ? Claim::same : Claim::conflict;
    }
    if (settled_.wait_until(lock, wait_until) == std::cv_status::timeout) return Claim::pending;
  }
}

void OrderStore::accept(const std::string& id, const std::string& received_at) {
  std::lock_guard lock(mutex_);
  auto& e = orders_.at(id);
  e.pending = false;
  settled_.notify_all();
  e.order["receivedAt"] = received_at;
  // The pipeline may have answered already (a fast fraud step): keep its final status.
  lines_->append({{"id", id}, {"status", "received"}, {"order", e.order}});
  if (final_status(e.status)) {
    lines_->append({{"id", id}, {"status", e.status}, {"reasons", e.reasons}});
  }
}

void OrderStore::release(const std::string& id) {
  std::lock_guard lock(mutex_);
  const auto it = orders_.find(id);
  if (it != orders_.end() && it->second.pending) orders_.erase(it);
  settled_.notify_all();
}

void OrderStore::settle(const std::string& id, const std::string& status, const json& reasons,
                        const json& order) {
  std::lock_guard lock(mutex_);
  Entry* found = entry(id);
  if (found == nullptr) return;  // every kept order pending: nothing to attach the status to
  auto& e = *found;
  json line = {{"id", id}, {"status", status}, {"reasons", reasons}};
  if (e.order.is_null()) {
    e.order = order;
    line["order"] = order;
  }
  e.status = status;
  e.reasons = reasons;
  if (!e.pending) lines_->append(line);  // a pending one is written whole by accept()
}

std::optional<json> OrderStore::get(const std::string& id) const {
  std::lock_guard lock(mutex_);
  const auto it = orders_.find(id);
  if (it == orders_.end() || it->second.pending) return std::nullopt;
  json out = it->second.order;
  out["id"] = id;
  out["status"] = it->second.status;
  if (it->second.status == "rejected") out["reasons"] = it->second.reasons;
  return out;
}

// --- AuditLog ---

AuditLog::AuditLog(const fs::path& file, std::size_t keep, std::size_t max_bytes)
    : keep_(keep), max_bytes_(max_bytes) {
  // Buffered until sync(): the runtime syncs before committing, and a crash before that leaves
  // the batch uncommitted, so it is redelivered and appended then.
  lines_ = std::make_unique<JsonLines>(
      file,
      [this](json line) {
        const auto bytes = line.dump(-1, ' ', false, json::error_handler_t::replace).size();
        remember(std::move(line), bytes);
      },
      false);
}

void AuditLog::remember(json entry, std::size_t bytes) {
  const auto topic = entry.value("topic", "");
  const auto key = topic + "/" + std::to_string(entry.value("partition", 0));
  auto& max = max_offset_.try_emplace(key, -1).first->second;
  max = std::max(max, entry.value("offset", std::int64_t{-1}));
  auto& recent = recent_[topic];
  recent.push_back({seq_++, std::move(entry), bytes});
  bytes_ += bytes;
  if (recent.size() > keep_) {
    bytes_ -= recent.front().bytes;
    recent.pop_front();
  }
  // Over the byte budget: the oldest entries of any topic go first (few topics: a scan).
  while (bytes_ > max_bytes_) {
    std::deque<Entry>* oldest = nullptr;
    for (auto& [name, entries] : recent_) {
      if (!entries.empty() && (oldest == nullptr || entries.front().seq < oldest->front().seq))
        oldest = &entries;
    }
    if (oldest == nullptr || oldest->size() <= 1) break;  // one entry is always kept
    bytes_ -= oldest->front().bytes;
    oldest->pop_front();
  }
}

bool AuditLog::append(const kafka::InMessage& m) {
  std::lock_guard lock(mutex_);
  const auto it = max_offset_.find(m.topic + "/" + std::to_string(m.partition));
  if (it != max_offset_.end() && m.offset <= it->second) return false;
  // A CloudEvent (either mode, or an old envelope) is logged whole, in its structured form: the
  // value alone is only its data in binary mode. Anything else is kept as JSON if it parses
  // (nesting bounded) and as text otherwise.
  std::optional<json> parsed;
  try {
    parsed = event::to_structured(runtime::read_event(m));
  } catch (const runtime::PermanentError&) {
    parsed = pipewright::json::try_parse(m.value);
  }
  json entry = {
      {"topic", m.topic}, {"partition", m.partition},           {"offset", m.offset},
      {"key", m.key},     {"time", rfc3339_ms(m.timestamp_ms)}, {"loggedAt", event::now_rfc3339()}};
  if (!parsed) {
    entry["value"] = m.value;  // not JSON: kept as it came
  } else {
    entry["event"] = std::move(*parsed);
  }
  lines_->append(entry);
  remember(std::move(entry), m.value.size() + m.key.size() + m.topic.size() + 128);
  return true;
}

json AuditLog::latest(const std::string& topic, std::size_t limit) const {
  std::lock_guard lock(mutex_);
  std::vector<const Entry*> picked;
  for (const auto& [name, entries] : recent_) {
    const bool match = topic.empty() || name == topic ||
                       (name.size() > topic.size() && name.ends_with("." + topic));
    if (!match) continue;
    const auto from = entries.size() > limit ? entries.size() - limit : 0;
    for (auto i = from; i < entries.size(); ++i)
      picked.push_back(&entries[i]);
  }
  std::sort(picked.begin(), picked.end(), [](auto* a, auto* b) { return a->seq < b->seq; });
  const auto from = picked.size() > limit ? picked.size() - limit : 0;
  json out = json::array();
  for (auto i = from; i < picked.size(); ++i)
    out.push_back(picked[i]->entry);
  return out;
}

std::size_t AuditLog::size() const {
  std::lock_guard lock(mutex_);
  return seq_;
}

}  // namespace pipewright::workers::orders
