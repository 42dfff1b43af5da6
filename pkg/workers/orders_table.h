#pragma once
// The fraud checker's index of strings (order ids, customers): open addressing with linear
// probing over 8-byte slots (a tag of the hash and the entry's number), at most half full, the
// entries in one vector. A lookup of a new key reads a line of slots and no entry; the
// std::unordered_map it replaces walked a bucket's chain of nodes spread over the heap, a cache
// miss per node: a tenth of fraud's CPU with a few hundred thousand orders kept.

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace pipewright::workers::orders {

template <class Value>
class StringTable {
 public:
  using Id = std::uint32_t;  // an entry's number: stable while it is in the table
  static constexpr Id kNone = ~Id{0};

  struct Entry {
    std::string key;
    Value value{};
    std::uint64_t hash = 0;  // of the key; of an erased entry, the next free entry
  };

  // The entry of `key`, or kNone.
  [[nodiscard]] Id find(std::string_view key) const {
    if (slots_.empty()) return kNone;
    const auto h = hash_of(key);
    for (auto i = h & mask();; i = (i + 1) & mask()) {
      const auto& s = slots_[i];
      if (s.id == kNone) return kNone;
      if (s.tag == tag_of(h) && entries_[s.id].key == key) return s.id;
    }
  }

  // The entry of `key` and whether it is new (its value default-made). All or nothing: a
  // bad_alloc leaves the table as it was.
  std::pair<Id, bool> try_emplace(std::string_view key) {
    if (2 * (size_ + 1) > slots_.size()) grow();
    const auto h = hash_of(key);
    auto i = h & mask();
    for (;; i = (i + 1) & mask()) {
      const auto& s = slots_[i];
      if (s.id == kNone) break;
      if (s.tag == tag_of(h) && entries_[s.id].key == key) return {s.id, false};
    }
    Entry made{std::string(key), Value{}, h};
    Id id = free_;
    if (id == kNone) {
      entries_.push_back(std::move(made));
      id = static_cast<Id>(entries_.size() - 1);
    } else {
      free_ = static_cast<Id>(entries_[id].hash);
      entries_[id] = std::move(made);
    }
    slots_[i] = {tag_of(h), id};
    ++size_;
    return {id, true};
  }

  // Takes out an entry of the table (its number may be given to a later one).
  void erase(Id id) noexcept {
    auto i = entries_[id].hash & mask();
    while (slots_[i].id != id)
      i = (i + 1) & mask();
    // Backward shift: a later slot of the run moves into the hole unless its home lies after
    // the hole, so no lookup stops at an empty slot before its entry.
    for (auto j = (i + 1) & mask(); slots_[j].id != kNone; j = (j + 1) & mask()) {
      const auto home = entries_[slots_[j].id].hash & mask();
      if (((j - home) & mask()) >= ((j - i) & mask())) {
        slots_[i] = slots_[j];
        i = j;
      }
    }
    slots_[i] = {0, kNone};
    entries_[id] = Entry{};  // its key and value freed now
    entries_[id].hash = free_;
    free_ = id;
    --size_;
  }

  Entry& operator[](Id id) { return entries_[id]; }
  const Entry& operator[](Id id) const { return entries_[id]; }
  [[nodiscard]] std::size_t size() const { return size_; }

 private:
  struct Slot {
    std::uint32_t tag;
    Id id;  // kNone: empty
  };

  static std::uint64_t hash_of(std::string_view key) { return std::hash<std::string_view>{}(key); }
  static std::uint32_t tag_of(std::uint64_t h) { return static_cast<std::uint32_t>(h >> 32U); }
  [[nodiscard]] std::uint64_t mask() const { return slots_.size() - 1; }

  void grow() {
    std::vector<Slot> slots(slots_.empty() ? 16 : 2 * slots_.size(), Slot{0, kNone});
    const std::uint64_t m = slots.size() - 1;
    for (const auto& s : slots_) {
      if (s.id == kNone) continue;
      auto i = entries_[s.id].hash & m;
      while (slots[i].id != kNone)
        i = (i + 1) & m;
      slots[i] = s;
    }
    slots_.swap(slots);
  }

  std::vector<Entry> entries_;
  std::vector<Slot> slots_;  // a power of two of them, or none
  std::size_t size_ = 0;
  Id free_ = kNone;  // the first erased entry, whose hash names the next
};

}  // namespace pipewright::workers::orders
