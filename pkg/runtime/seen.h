#pragma once
// Which events a worker has already acted on, so a redelivered message (at-least-once) causes
// no second e-mail and no second file: an in-memory set backed by an append-only file that
// survives restarts when the step has storage.

#include <cstdio>
#include <deque>
#include <filesystem>
#include <mutex>
#include <string>
#include <unordered_set>

namespace pipewright::runtime {

class SeenLog {
 public:
  // `file` empty: memory only. Remembers the newest `keep` keys.
  explicit SeenLog(const std::filesystem::path& file, std::size_t keep = 200000);
  ~SeenLog();
  SeenLog(const SeenLog&) = delete;
  SeenLog& operator=(const SeenLog&) = delete;

  bool contains(const std::string& key) const;
  // Records `key` durably (flushed and synced) before returning; any key, '\n' included. Throws
  // std::runtime_error when the file cannot be written (the key is still remembered in memory).
  void add(const std::string& key);

 private:
  void remember(const std::string& key);

  mutable std::mutex mutex_;
  std::size_t keep_;
  std::unordered_set<std::string> keys_;
  std::deque<std::string> order_;
  std::FILE* file_ = nullptr;
  std::string path_;
};

}  // namespace pipewright::runtime
