#include "pkg/runtime/inflight.h"

#include <algorithm>

namespace pipewright::runtime {

std::deque<InFlight::Taken>::iterator InFlight::find(std::deque<Taken>& taken,
                                                     std::int64_t offset) {
  return std::lower_bound(taken.begin(), taken.end(), offset,
                          [](const Taken& t, std::int64_t o) { return t.offset < o; });
}

void InFlight::begin(const kafka::Partition& tp, std::int64_t offset) {
  // The first offset taken is where the group's commit already is: nothing to commit before it.
  auto [it, fresh] = partitions_.try_emplace(tp);
  auto& s = it->second;
  if (fresh) s.committed = offset;
  s.next = std::max(s.next, offset + 1);
  if (s.taken.empty() || offset > s.taken.back().offset) {
    s.taken.push_back({offset, false});
    return;
  }
  // Out of order (never from one assignment's fetches): kept sorted, a repeat counted once.
  const auto at = find(s.taken, offset);
  if (at == s.taken.end() || at->offset != offset) {
    s.taken.insert(at, {offset, false});
  } else if (at->done) {
    at->done = false;
    --s.done;
  }
}

void InFlight::done(const kafka::Partition& tp, std::int64_t offset) {
  const auto it = partitions_.find(tp);
  if (it == partitions_.end()) return;
  auto& s = it->second;
  const auto at = find(s.taken, offset);
  if (at == s.taken.end() || at->offset != offset || at->done) return;
  if (at != s.taken.begin()) {
    at->done = true;
    ++s.done;
    return;
  }
  s.taken.pop_front();
  while (!s.taken.empty() && s.taken.front().done) {
    s.taken.pop_front();
    --s.done;
  }
}

std::size_t InFlight::pending() const {
  std::size_t n = 0;
  for (const auto& [tp, s] : partitions_)
    n += s.pending();
  return n;
}

std::size_t InFlight::pending(const kafka::Partition& tp) const {
  const auto it = partitions_.find(tp);
  return it == partitions_.end() ? 0 : it->second.pending();
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
