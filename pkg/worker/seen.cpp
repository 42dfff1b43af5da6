#include "pkg/worker/seen.h"

#include <unistd.h>

#include <fstream>
#include <stdexcept>

namespace pipewright::worker {

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
      if (!line.empty()) remember(line);
    }
  }
  std::error_code ec;
  if (std::filesystem::exists(file, ec) && std::filesystem::file_size(file, ec) > good)
    std::filesystem::resize_file(file, good, ec);
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
  remember(key);
  if (file_ != nullptr) {
    std::fputs((key + "\n").c_str(), file_);
    std::fflush(file_);
    fdatasync(fileno(file_));
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

}  // namespace pipewright::worker
