#pragma once
// Files on the shared volume: names a client or a message may use, and writes that a crash never
// leaves half-done (a reader sees the whole file or none).

#include <filesystem>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

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

// The whole file; throws std::runtime_error naming it when it cannot be read.
std::string read_file(const std::filesystem::path& file);

}  // namespace pipewright::workers
