#pragma once
// One partition's messages taken and not done yet, each with what the consume loop keeps for it
// until it is done (its outputs being sent), and which offset may be committed: a message counts
// as done once its outputs are acknowledged (or it had none), and the commit point is the lowest
// offset not done yet (or the one after the last message taken when none is pending).
// Acknowledgements arrive in any order; the commit point only moves forward.
// Single-threaded: the runtime's consume loop owns one per assigned partition.

#include <algorithm>
#include <cstdint>
#include <deque>
#include <optional>
#include <utility>

namespace pipewright::runtime {

template <class T>
class InFlight {
 public:
  // The message at `offset` was taken; `payload` is kept until done(offset). An offset taken
  // again while pending keeps its entry (counted once) and takes the new payload.
  T& begin(std::int64_t offset, T payload) {
    // The first offset taken is where the group's commit already is: nothing before it.
    if (next_ < 0) committed_ = offset;
    next_ = std::max(next_, offset + 1);
    if (taken_.empty() || offset > taken_.back().offset) {
      return taken_.emplace_back(Entry{offset, false, std::move(payload)}).payload;
    }
    // Out of order (never from one assignment's fetches): kept sorted.
    auto at = lower_bound(offset);
    if (at == taken_.end() || at->offset != offset) {
      return taken_.insert(at, Entry{offset, false, std::move(payload)})->payload;
    }
    if (at->done) {
      at->done = false;
      --done_;
    }
    at->payload = std::move(payload);
    return at->payload;
  }

  // The message at `offset` was taken and is done already (nothing of it to send).
  void skip(std::int64_t offset) {
    begin(offset, T{});
    done(offset);
  }

  // The payload of a pending offset, or nullptr (done, or never taken).
  T* find(std::int64_t offset) {
    const auto at = locate(offset);
    return at == taken_.end() || at->done ? nullptr : &at->payload;
  }

  // Its outputs are acknowledged: the payload is freed. Unknown or done offsets are ignored.
  void done(std::int64_t offset) {
    const auto at = locate(offset);
    if (at == taken_.end() || at->done) return;
    if (at != taken_.begin()) {
      at->done = true;
      at->payload = T{};
      ++done_;
      return;
    }
    taken_.pop_front();
    while (!taken_.empty() && taken_.front().done) {
      taken_.pop_front();
      --done_;
    }
  }

  // Messages taken and not done yet.
  std::size_t pending() const { return taken_.size() - done_; }

  // The next offset to commit when it moved past the last one committed.
  std::optional<std::int64_t> committable() const {
    const auto point = taken_.empty() ? next_ : taken_.front().offset;
    if (point > committed_) return point;
    return std::nullopt;
  }
  void committed(std::int64_t next) { committed_ = std::max(committed_, next); }

 private:
  // In offset order, so a deque does what a set did, without a node per message: entries done
  // behind one that is not stay (marked, their payload freed) until it is done too.
  struct Entry {
    std::int64_t offset = 0;
    bool done = false;
    T payload;
  };
  using Iterator = typename std::deque<Entry>::iterator;

  Iterator lower_bound(std::int64_t offset) {
    return std::lower_bound(taken_.begin(), taken_.end(), offset,
                            [](const Entry& e, std::int64_t o) { return e.offset < o; });
  }
  // A partition's offsets are mostly consecutive: the entry is where its distance from the
  // first says, unless offsets were skipped (compaction, transaction markers).
  Iterator locate(std::int64_t offset) {
    if (taken_.empty() || offset < taken_.front().offset) return taken_.end();
    const auto distance = static_cast<std::size_t>(offset - taken_.front().offset);
    if (distance < taken_.size() && taken_[distance].offset == offset) {
      return taken_.begin() + static_cast<std::ptrdiff_t>(distance);
    }
    const auto at = lower_bound(offset);
    return at != taken_.end() && at->offset == offset ? at : taken_.end();
  }

  std::deque<Entry> taken_;
  std::size_t done_ = 0;         // entries of `taken_` marked done
  std::int64_t next_ = -1;       // one past the highest offset taken
  std::int64_t committed_ = -1;  // the last next offset committed
};

}  // namespace pipewright::runtime
