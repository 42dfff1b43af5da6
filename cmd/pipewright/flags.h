#pragma once
// The one way `pipewright` reads its command line: "--name value" and "--name=value".

#include <cstddef>
#include <string>
#include <vector>

namespace pipewright::cli {

class FlagReader {
 public:
  explicit FlagReader(const std::vector<std::string>& args) : args_(args) {}

  // Moves to the next argument; false after the last.
  bool next() {
    if (i_ >= args_.size()) return false;
    name_ = args_[i_++];
    value_.clear();
    has_value_ = false;
    if (const auto eq = name_.find('='); name_.rfind("--", 0) == 0 && eq != std::string::npos) {
      value_ = name_.substr(eq + 1);
      name_ = name_.substr(0, eq);
      has_value_ = true;
    }
    return true;
  }
  const std::string& name() const { return name_; }
  // The flag's value: after its "=", or the next argument; false (and `error` says which flag)
  // when there is none.
  bool take(std::string& value, std::string& error) {
    if (!has_value_) {
      if (i_ >= args_.size()) {
        error = "flag " + name_ + " needs a value";
        return false;
      }
      value_ = args_[i_++];
      has_value_ = true;
    }
    value = value_;
    return true;
  }

 private:
  const std::vector<std::string>& args_;
  std::size_t i_ = 0;
  std::string name_, value_;
  bool has_value_ = false;
};

}  // namespace pipewright::cli
