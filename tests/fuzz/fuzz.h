#pragma once
// One fuzz target = one PW_FUZZ_TARGET(name) { ... } over (data, size). Built two ways
// (tests/fuzz/CMakeLists.txt):
// - PIPEWRIGHT_FUZZ=ON (clang): each target is its own libFuzzer binary fuzz_<name>; the macro
//   is LLVMFuzzerTestOneInput.
// - otherwise: every target registers itself in one table and fuzz_replay_test runs each file
//   of tests/fuzz/corpus/<name>/ through it, so the corpus is a regression test in every build.
// A target returns normally for input it refuses; a crash, a sanitizer report, an uncaught
// exception the function does not document, or a broken invariant (fuzz::check) is a finding.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <map>
#include <string>
#include <string_view>

namespace pipewright::fuzz {

using Target = std::function<void(const std::uint8_t*, std::size_t)>;

// name -> target, filled before main by PW_FUZZ_TARGET in the replay build.
inline std::map<std::string, Target>& registry() {
  static std::map<std::string, Target> targets;
  return targets;
}

inline bool add(const char* name, Target target) {
  registry().emplace(name, std::move(target));
  return true;
}

// An invariant of the code under test; breaking it aborts (libFuzzer saves the input).
inline void check(bool ok, const char* what) {
  if (ok) return;
  std::fprintf(stderr, "fuzz invariant broken: %s\n", what);
  std::abort();
}

inline std::string_view as_text(const std::uint8_t* data, std::size_t size) {
  return {reinterpret_cast<const char*>(data), size};  // NOLINT(*-reinterpret-cast)
}

}  // namespace pipewright::fuzz

#ifdef PIPEWRIGHT_LIBFUZZER
#define PW_FUZZ_TARGET(name)                                                          \
  static void pw_fuzz_one(const std::uint8_t* data, std::size_t size);                \
  extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) { \
    pw_fuzz_one(data, size);                                                          \
    return 0;                                                                         \
  }                                                                                   \
  static void pw_fuzz_one(const std::uint8_t* data, std::size_t size)
#else
#define PW_FUZZ_TARGET(name)                                              \
  static void pw_fuzz_##name(const std::uint8_t* data, std::size_t size); \
  [[maybe_unused]] static const bool pw_fuzz_registered_##name =          \
      ::pipewright::fuzz::add(#name, pw_fuzz_##name);                     \
  static void pw_fuzz_##name(const std::uint8_t* data, std::size_t size)
#endif
