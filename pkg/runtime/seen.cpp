#include "pkg/runtime/seen.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <stdexcept>

namespace pipewright::runtime {
namespace {

// One key per line: a key's own '\n' or '\r' (event ids come from anyone's message) would split
// it into two, so those and '%' are written as %0A, %0D, %25.
std::string encode(const std::string& key) {
  std::string out;
  out.reserve(key.size());
  for (const char c : key) {
    if (c == '%') {
      out += "%25";
    } else if (c == '\n') {
      out += "%0A";
    } else if (c == '\r') {
      out += "%0D";
    } else {
      out += c;
    }
  }
  return out;
}

std::string decode(const std::string& line) {
  std::string out;
  out.reserve(line.size());
  for (std::size_t i = 0; i < line.size(); ++i) {
    const auto code = line.substr(i, 3);
    if (code == "%25" || code == "%0A" || code == "%0D") {
      out += code == "%25" ? '%' : code == "%0A" ? '\n' : '\r';
      i += 2;
    } else {
      out += line[i];
    }
  }
  return out;
}

}  // namespace

SeenLog::SeenLog(const std::filesystem::path& file, std::size_t keep) : keep_(keep) {
  if (file.empty()) return;
  std::filesystem::create_directories(file.parent_path());
  std::uintmax_t good = 0;  // bytes up to the end of the last complete line
  {
    std::ifstream in(file, std::ios::binary);
    std::string line;
    // An unterminated last line is a key cut short by a crash: not a key, and cut off below so
    // the next key starts on a line of its own.
    while (std::getline(in, line) && !in.eof()) {
      good += line.size() + 1;
      if (!line.empty()) remember(decode(line));
    }
  }
  std::error_code ec;
  if (std::filesystem::exists(file, ec) && std::filesystem::file_size(file, ec) > good)
    std::filesystem::resize_file(file, good, ec);
  path_ = file.string();
  file_ = std::fopen(file.c_str(), "a");
  if (file_ == nullptr) throw std::runtime_error("cannot write " + file.string());
}

SeenLog::~SeenLog() {
  if (file_ != nullptr) std::fclose(file_);
}

bool SeenLog::contains(const std::string& key) const {
  std::lock_guard lock(mutex_);
  return keys_.contains(key);
}

void SeenLog::add(const std::string& key) {
  std::lock_guard lock(mutex_);
  if (keys_.contains(key)) return;
  // Remembered first: a retry in this process does not act twice even when the write failed.
  remember(key);
  if (file_ == nullptr) return;
  const auto line = encode(key) + "\n";
  if (std::fwrite(line.data(), 1, line.size(), file_) != line.size() || std::fflush(file_) != 0 ||
      ::fdatasync(::fileno(file_)) != 0) {
    const std::string why = std::strerror(errno);
    std::clearerr(file_);
    throw std::runtime_error("cannot record '" + key.substr(0, 200) + "' in " + path_ + ": " + why);
  }
}

void SeenLog::remember(const std::string& key) {
  if (!keys_.insert(key).second) return;
  order_.push_back(key);
  if (order_.size() > keep_) {
    keys_.erase(order_.front());
    order_.pop_front();
  }
}

}  // namespace pipewright::runtime
