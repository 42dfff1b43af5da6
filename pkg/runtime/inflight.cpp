#include "pkg/runtime/inflight.h"

#include <algorithm>

namespace pipewright::runtime {

void InFlight::begin(const kafka::Partition& tp, std::int64_t offset) {
  // The first offset taken is where the group's commit already is: nothing to commit before it.
  auto [it, fresh] = partitions_.try_emplace(tp);
  auto& s = it->second;
  if (fresh) s.committed = offset;
  s.pending.insert(offset);
  s.next = std::max(s.next, offset + 1);
}

void InFlight::done(const kafka::Partition& tp, std::int64_t offset) {
  const auto it = partitions_.find(tp);
  if (it != partitions_.end()) it->second.pending.erase(offset);
}

std::size_t InFlight::pending() const {
  std::size_t n = 0;
  for (const auto& [tp, s] : partitions_)
    n += s.pending.size();
  return n;
}

std::size_t InFlight::pending(const kafka::Partition& tp) const {
  const auto it = partitions_.find(tp);
  return it == partitions_.end() ? 0 : it->second.pending.size();
}

std::vector<kafka::Offset> InFlight::committable() const {
  std::vector<kafka::Offset> out;
  for (const auto& [tp, s] : partitions_) {
    if (s.point() > s.committed) out.push_back({tp, s.point()});
  }
  return out;
}

std::vector<kafka::Offset> InFlight::committable(const std::vector<kafka::Partition>& only) const {
  auto all = committable();
  std::erase_if(all, [&](const kafka::Offset& o) {
    return std::find(only.begin(), only.end(), o.tp) == only.end();
  });
  return all;
}

void InFlight::committed(const std::vector<kafka::Offset>& offsets) {
  for (const auto& o : offsets) {
    const auto it = partitions_.find(o.tp);
    if (it != partitions_.end()) it->second.committed = std::max(it->second.committed, o.next);
  }
}

void InFlight::drop(const kafka::Partition& tp) {
  partitions_.erase(tp);
}

}  // namespace pipewright::runtime
