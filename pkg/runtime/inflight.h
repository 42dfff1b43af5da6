#pragma once
// Which offsets of each partition may be committed: a message's offset counts as done once its
// outputs are acknowledged (or it had none), and a partition's commit point is its lowest offset
// not yet done (or the one after the last message taken when none is pending). Acknowledgements
// arrive in any order across and within partitions; the commit point only moves forward.
// Single-threaded: the runtime's consume loop owns it.

#include <cstdint>
#include <deque>
#include <map>
#include <vector>

#include "pkg/kafka/client.h"

namespace pipewright::runtime {

class InFlight {
 public:
  // The message at `offset` was taken from the partition (its outputs are being sent).
  void begin(const kafka::Partition& tp, std::int64_t offset);
  // Its outputs are acknowledged. Unknown offsets (a revoked partition's) are ignored.
  void done(const kafka::Partition& tp, std::int64_t offset);
  // Messages taken and not done yet, over every partition.
  std::size_t pending() const;
  std::size_t pending(const kafka::Partition& tp) const;
  // Next offsets that moved past the last committed ones; committed(those) after the commit.
  std::vector<kafka::Offset> committable() const;
  std::vector<kafka::Offset> committable(const std::vector<kafka::Partition>& only) const;
  void committed(const std::vector<kafka::Offset>& offsets);
  // The partition is no longer ours: forget everything about it.
  void drop(const kafka::Partition& tp);

 private:
  // Offsets come in order, so a deque in offset order does what a set did, without a node per
  // message: entries done behind one that is not stay (marked) until it is done too.
  struct Taken {
    std::int64_t offset = 0;
    bool done = false;
  };
  struct State {
    std::deque<Taken> taken;      // from the lowest offset not done, increasing
    std::size_t done = 0;         // entries of `taken` marked done
    std::int64_t next = -1;       // one past the highest offset taken
    std::int64_t committed = -1;  // the last next offset committed
    std::int64_t point() const { return taken.empty() ? next : taken.front().offset; }
    std::size_t pending() const { return taken.size() - done; }
  };
  // The entry of `offset` in `taken`, or where it would go.
  static std::deque<Taken>::iterator find(std::deque<Taken>& taken, std::int64_t offset);
  std::map<kafka::Partition, State> partitions_;
};

}  // namespace pipewright::runtime
