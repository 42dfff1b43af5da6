#pragma once
// A component started once per test suite. A failed start is reported by every test of the
// suite (with the component's own words) instead of crashing on a null pointer.

#include <functional>
#include <memory>
#include <string>

namespace pipewright::testing {

template <class T>
struct Shared {
  std::unique_ptr<T> value;
  std::string error;

  void start(const std::function<std::unique_ptr<T>()>& make) {
    try {
      value = make();
    } catch (const std::exception& e) {
      error = e.what();
    }
  }
  void reset() { value.reset(); }
  T* operator->() const { return value.get(); }
  T& operator*() const { return *value; }
  explicit operator bool() const { return value != nullptr; }
};

}  // namespace pipewright::testing
