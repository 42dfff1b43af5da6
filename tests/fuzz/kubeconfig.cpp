// Kubeconfig files as the operator and `pipewright` read them (pkg/kube/config): contexts,
// clusters, users, base64 `-data` fields, files named relative to the kubeconfig. The documented
// failure is std::runtime_error naming the problem; anything else escapes and is a finding.
// Inputs naming /dev, /proc or /sys are skipped: a kubeconfig may name any file to read, and a
// device that never ends is not a parser bug.

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>

#include "pkg/kube/config.h"
#include "tests/fuzz/fuzz.h"

namespace {

const std::filesystem::path& scratch() {
  static const std::filesystem::path dir = [] {
    auto d = std::filesystem::temp_directory_path() /
             ("pipewright-fuzz-kubeconfig-" + std::to_string(::getpid()));
    std::filesystem::create_directories(d);
    return d;
  }();
  return dir;
}

}  // namespace

PW_FUZZ_TARGET(kubeconfig) {
  const auto text = pipewright::fuzz::as_text(data, size);
  for (const char* device : {"/dev", "/proc", "/sys"})
    if (text.find(device) != std::string_view::npos) return;
  const auto file = scratch() / "config";
  {
    std::ofstream out(file, std::ios::binary | std::ios::trunc);
    out.write(text.data(), static_cast<std::streamsize>(text.size()));
  }
  try {
    const auto config = pipewright::kube::load_kubeconfig(file);
    pipewright::fuzz::check(!config.server.empty(), "a config without a server");
  } catch (const std::runtime_error&) {
  }
  try {
    (void)pipewright::kube::load_kubeconfig(file, "other");
  } catch (const std::runtime_error&) {
  }
}
