#pragma once
// Files on the shared volume: names a client or a message may use, and writes that a crash never
// leaves half-done (a reader sees the whole file or none).

#include <filesystem>
#include <mutex>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace pipewright::workers {

class NameError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// An uploaded file's name made safe to store: spaces become '_'; refused (NameError saying why)
// when empty, over 180 bytes, not UTF-8, or holding a path ("/", "\\", ".."), NUL or another
// control character, a shell character (; & | $ ` < > ( ) { } [ ] * ? ! ~ ' " # % ^ :), or a
// leading '.' or '-'.
std::string clean_upload_name(std::string_view raw);

// A name taken from a URL or a message: must already be clean (clean_upload_name gives it back
// unchanged). Throws NameError.
void check_stored_name(std::string_view name);

// ("perfil", "jpg") for "perfil.jpg"; ("archive.tar", "gz"); ("README", "").
std::pair<std::string, std::string> split_name(const std::string& name);

// Writes `data` as dir/<stem>.<ext>, or <stem>-2.<ext>, -3, ... when that name is taken (also by
// a concurrent writer), durably, and returns the name used.
std::string write_unique(const std::filesystem::path& dir, const std::string& stem,
                         const std::string& ext, std::string_view data);

// Replaces `file` with `data` durably and atomically (temporary file, fsync, rename).
void write_atomic(const std::filesystem::path& file, std::string_view data);

// Results that become durable a batch at a time: write() puts each file in place atomically
// (readers see the old file or the whole new one, never a part) without waiting for the disk;
// sync() makes every file written since the last sync() durable, their names too, before it
// returns: all the files' fsyncs at once (the filesystem's journal commits them together, about
// one commit per batch instead of two per file), then each folder's. Meant for
// Runtime::set_before_commit, so offsets are committed only after their results are on disk.
// Until sync() returns, a crash may leave a named result empty or partial: whoever finds a
// result of an uncommitted message must write it again rather than trust it. Thread-safe.
class BatchWriter {
 public:
  void write(const std::filesystem::path& file, std::string_view data);
  // Throws std::runtime_error when a file cannot be synced; what was not synced stays pending.
  void sync();
  std::size_t pending() const;

 private:
  mutable std::mutex mu_;  // pending_
  std::vector<std::filesystem::path> pending_;
  std::mutex sync_mu_;  // one sync() at a time: a later batch never commits ahead of an earlier
};

// The whole file; throws std::runtime_error naming it when it cannot be read.
std::string read_file(const std::filesystem::path& file);

}  // namespace pipewright::workers
