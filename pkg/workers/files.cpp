#include "pkg/workers/files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <random>
#include <set>
#include <thread>

namespace pipewright::workers {
namespace {

constexpr std::string_view kShellCharacters = ";&|$`<>(){}[]*?!~'\"#%^:";

// Well-formed UTF-8 (RFC 3629, Unicode table 3-7): no overlong forms, no surrogates
// (U+D800..U+DFFF), nothing above U+10FFFF. A name that is not would be replaced or refused
// further on (JSON, Kafka), so it is refused here.
bool valid_utf8(std::string_view s) {
  const auto byte = [&s](std::size_t i) { return static_cast<unsigned char>(s[i]); };
  for (std::size_t i = 0; i < s.size();) {
    const auto c = byte(i);
    std::size_t n = 0;
    unsigned char lo = 0x80;  // the range of the second byte
    unsigned char hi = 0xBF;
    if (c < 0x80) {
      n = 0;
    } else if (c >= 0xC2 && c <= 0xDF) {
      n = 1;
    } else if (c >= 0xE0 && c <= 0xEF) {
      n = 2;
      if (c == 0xE0) lo = 0xA0;  // overlong below U+0800
      if (c == 0xED) hi = 0x9F;  // surrogates
    } else if (c >= 0xF0 && c <= 0xF4) {
      n = 3;
      if (c == 0xF0) lo = 0x90;  // overlong below U+10000
      if (c == 0xF4) hi = 0x8F;  // above U+10FFFF
    } else {
      return false;  // a continuation byte first, C0/C1 (overlong ASCII), F5..FF
    }
    if (n > 0 && i + n >= s.size()) return false;
    if (n > 0 && (byte(i + 1) < lo || byte(i + 1) > hi)) return false;
    for (std::size_t k = 2; k <= n; ++k) {
      if ((byte(i + k) & 0xC0) != 0x80) return false;
    }
    i += n + 1;
  }
  return true;
}

void write_all(int fd, std::string_view data, const std::string& what) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw std::runtime_error("writing " + what + ": " + std::strerror(errno));
    data.remove_prefix(static_cast<std::size_t>(n));
  }
}

// A temporary file in `dir` holding `data`, synced unless `sync` is false: the caller links or
// renames it into place.
std::filesystem::path write_temporary(const std::filesystem::path& dir, std::string_view data,
                                      bool sync = true) {
  static thread_local std::mt19937_64 random{std::random_device{}()};
  std::filesystem::create_directories(dir);
  for (;;) {
    auto path = dir / (".tmp-" + std::to_string(random()));
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0 && errno == EEXIST) continue;
    if (fd < 0) throw std::runtime_error("creating " + path.string() + ": " + std::strerror(errno));
    try {
      write_all(fd, data, path.string());
      if (sync && ::fsync(fd) != 0) throw std::runtime_error("syncing " + path.string());
    } catch (...) {
      ::close(fd);
      ::unlink(path.c_str());
      throw;
    }
    ::close(fd);
    return path;
  }
}

void sync_dir(const std::filesystem::path& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
}

// fsync of a file by name; a file that is gone (replaced or removed since) has nothing left to
// make durable. Empty when done, the reason otherwise.
std::string sync_path(const std::filesystem::path& file) {
  const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return errno == ENOENT ? "" : "opening " + file.string() + ": " + std::strerror(errno);
  const bool ok = ::fsync(fd) == 0;
  const int why = errno;
  ::close(fd);
  return ok ? "" : "syncing " + file.string() + ": " + std::strerror(why);
}

}  // namespace

std::string clean_upload_name(std::string_view raw) {
  if (raw.empty()) throw NameError("the file has no name");
  if (raw.size() > 180) throw NameError("the file name is over 180 bytes");
  std::string out;
  for (const char c : raw) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '\0') throw NameError("the file name contains a NUL byte");
    if (c == '/' || c == '\\') throw NameError("the file name contains a path separator");
    if (u < 0x20 || u == 0x7f) throw NameError("the file name contains a control character");
    if (kShellCharacters.find(c) != std::string_view::npos) {
      throw NameError(std::string("the file name contains the shell character '") + c + "'");
    }
    out += c == ' ' ? '_' : c;
  }
  if (out.find("..") != std::string::npos) throw NameError("the file name contains '..'");
  if (out.front() == '.' || out.front() == '-') {
    throw NameError("the file name starts with '" + std::string(1, out.front()) + "'");
  }
  if (!valid_utf8(out)) throw NameError("the file name is not UTF-8");
  return out;
}

void check_stored_name(std::string_view name) {
  if (name.find(' ') != std::string_view::npos || clean_upload_name(name) != name) {
    throw NameError("not a stored file name");
  }
}

std::pair<std::string, std::string> split_name(const std::string& name) {
  const auto dot = name.rfind('.');
  if (dot == std::string::npos || dot == 0) return {name, ""};
  return {name.substr(0, dot), name.substr(dot + 1)};
}

std::string write_unique(const std::filesystem::path& dir, const std::string& stem,
                         const std::string& ext, std::string_view data) {
  const auto temporary = write_temporary(dir, data);
  for (int n = 1;; ++n) {
    std::string name =
        (n == 1 ? stem : stem + "-" + std::to_string(n)) + (ext.empty() ? "" : "." + ext);
    // link() fails when the name exists: claiming it is atomic even between processes.
    if (::link(temporary.c_str(), (dir / name).c_str()) == 0) {
      ::unlink(temporary.c_str());
      sync_dir(dir);
      return name;
    }
    if (errno != EEXIST || n > 10000) {
      const std::string why = std::strerror(errno);
      ::unlink(temporary.c_str());
      throw std::runtime_error("storing " + name + ": " + why);
    }
  }
}

void write_atomic(const std::filesystem::path& file, std::string_view data) {
  const auto temporary = write_temporary(file.parent_path(), data);
  if (::rename(temporary.c_str(), file.c_str()) != 0) {
    const std::string why = std::strerror(errno);
    ::unlink(temporary.c_str());
    throw std::runtime_error("writing " + file.string() + ": " + why);
  }
  sync_dir(file.parent_path());
}

void BatchWriter::write(const std::filesystem::path& file, std::string_view data) {
  const auto temporary = write_temporary(file.parent_path(), data, false);
  if (::rename(temporary.c_str(), file.c_str()) != 0) {
    const std::string why = std::strerror(errno);
    ::unlink(temporary.c_str());
    throw std::runtime_error("writing " + file.string() + ": " + why);
  }
  const std::lock_guard lock(mu_);
  pending_.push_back(file);
}

std::size_t BatchWriter::pending() const {
  const std::lock_guard lock(mu_);
  return pending_.size();
}

void BatchWriter::sync() {
  const std::lock_guard one(sync_mu_);
  std::vector<std::filesystem::path> files;
  {
    const std::lock_guard lock(mu_);
    files.swap(pending_);
  }
  if (files.empty()) return;
  // Concurrent fsyncs join one journal commit; one after another, each waits for its own.
  constexpr std::size_t kThreads = 8;
  std::vector<std::string> errors(files.size());
  std::vector<std::thread> threads;
  const std::size_t n = std::min(kThreads, files.size());
  for (std::size_t t = 1; t < n; ++t) {
    threads.emplace_back([&, t] {
      for (std::size_t i = t; i < files.size(); i += n)
        errors[i] = sync_path(files[i]);
    });
  }
  for (std::size_t i = 0; i < files.size(); i += n)
    errors[i] = sync_path(files[i]);
  for (auto& t : threads)
    t.join();
  std::set<std::filesystem::path> dirs;
  for (const auto& f : files)
    dirs.insert(f.parent_path());
  for (const auto& d : dirs)
    sync_dir(d);
  std::string error;
  std::vector<std::filesystem::path> failed;
  for (std::size_t i = 0; i < files.size(); ++i) {
    if (errors[i].empty()) continue;
    if (error.empty()) error = errors[i];
    failed.push_back(files[i]);
  }
  if (failed.empty()) return;
  {
    const std::lock_guard lock(mu_);
    pending_.insert(pending_.begin(), failed.begin(), failed.end());
  }
  throw std::runtime_error(error);
}

std::string read_file(const std::filesystem::path& file) {
  // One read of the size fstat gives (an image is read by every step that takes it): the
  // ifstream-into-stringstream before read 8 KiB per call and copied the bytes twice more.
  const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw std::runtime_error("cannot read " + file.string());
  struct stat st {};
  std::string out;
  if (::fstat(fd, &st) == 0 && st.st_size > 0) out.resize(static_cast<std::size_t>(st.st_size));
  std::size_t used = 0;
  std::array<char, 4096> more{};  // past the size fstat gave: the file grew, or has no size
  for (;;) {
    const bool full = used == out.size();
    const ssize_t n = full ? ::read(fd, more.data(), more.size())
                           : ::read(fd, out.data() + used, out.size() - used);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const std::string why = std::strerror(errno);
      ::close(fd);
      throw std::runtime_error("cannot read " + file.string() + ": " + why);
    }
    if (n == 0) break;
    if (full) out.append(more.data(), static_cast<std::size_t>(n));
    used += static_cast<std::size_t>(n);
  }
  ::close(fd);
  out.resize(used);
  return out;
}

}  // namespace pipewright::workers
