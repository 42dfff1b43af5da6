#pragma once
// Where a test suite's real components write their logs: $PIPEWRIGHT_TEST_LOGS/<suite>/.
// The folder is removed when the suite passes and kept, with each log's tail printed, when it
// fails (the listener installed by tests/support/main.cpp decides).

#include <filesystem>
#include <string>

namespace pipewright::testing {

// The folder of the test suite running now (created on first use).
std::filesystem::path suite_dir();

// A fresh sub-folder of suite_dir() for one component, e.g. "kafka".
std::filesystem::path component_dir(const std::string& name);

// The last `max_bytes` of a file (for assertion messages).
std::string tail(const std::filesystem::path& file, std::size_t max_bytes = 4000);

// The whole file, or "" when it cannot be read.
std::string read_file(const std::filesystem::path& file);

// The source tree (PIPEWRIGHT_SOURCE_DIR, set by ctest).
std::filesystem::path source_dir();

}  // namespace pipewright::testing
