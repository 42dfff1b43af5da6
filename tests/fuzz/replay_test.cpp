// Runs every file of tests/fuzz/corpus/<target>/ through its fuzz target (the GCC build's view
// of the fuzzers): seeds and the inputs of past findings stay regression tests in the unit tier.
// A crash ends the binary with the file's name as the last line printed.
// PIPEWRIGHT_FUZZ_CORPUS=<dir> replays <dir>/<target>/ instead, e.g. tests/fuzz/findings (the
// inputs of findings not fixed yet); targets without a folder there are skipped.

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

#include "tests/fuzz/fuzz.h"

namespace fs = std::filesystem;

namespace {

std::vector<std::string> target_names() {
  std::vector<std::string> names;
  std::stringstream list(PW_FUZZ_TARGET_NAMES);  // "a,b,c" from CMake
  for (std::string name; std::getline(list, name, ',');)
    names.push_back(name);
  return names;
}

class CorpusReplay : public ::testing::TestWithParam<std::string> {};

TEST_P(CorpusReplay, EveryCorpusFileRunsCleanly) {
  const auto& name = GetParam();
  const auto it = pipewright::fuzz::registry().find(name);
  ASSERT_NE(it, pipewright::fuzz::registry().end()) << "no PW_FUZZ_TARGET(" << name << ")";
  const char* other = std::getenv("PIPEWRIGHT_FUZZ_CORPUS");
  const fs::path dir = fs::path(other != nullptr ? other : PW_FUZZ_CORPUS_DIR) / name;
  if (other != nullptr && !fs::is_directory(dir)) GTEST_SKIP() << "no " << dir;
  ASSERT_TRUE(fs::is_directory(dir)) << dir << " holds the seed corpus of " << name;
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(dir))
    if (entry.is_regular_file()) files.push_back(entry.path());
  std::sort(files.begin(), files.end());
  ASSERT_FALSE(files.empty()) << dir << " is empty";
  for (const auto& file : files) {
    std::ifstream in(file, std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::fprintf(stderr, "[replay] %s/%s (%zu bytes)\n", name.c_str(), file.filename().c_str(),
                 bytes.size());
    it->second(reinterpret_cast<const std::uint8_t*>(bytes.data()),  // NOLINT(*-reinterpret-cast)
               bytes.size());
  }
}

INSTANTIATE_TEST_SUITE_P(Fuzz, CorpusReplay, ::testing::ValuesIn(target_names()),
                         [](const auto& p) { return p.param; });

}  // namespace
