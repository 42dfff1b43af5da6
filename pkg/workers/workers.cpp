#include "pkg/workers/workers.h"

#include <algorithm>
#include <stdexcept>

#include "pkg/contract/workers.h"

namespace pipewright::workers {
namespace {

const std::vector<Kind>& kinds() {
  static const std::vector<Kind> all = [] {
    std::vector<Kind> out;
    for (auto list :
         {image_workers(), notify_workers(), calc_workers(), orders_workers(), events_workers()}) {
      out.insert(out.end(), list.begin(), list.end());
    }
    return out;
  }();
  return all;
}

const Kind* find(const std::string& type) {
  const auto& all = kinds();
  const auto it =
      std::find_if(all.begin(), all.end(), [&](const Kind& k) { return k.type == type; });
  return it == all.end() ? nullptr : &*it;
}

}  // namespace

// Only the catalogue's workers (pkg/contract/workers.h) run: what validation accepts as a worker
// is what this binary starts (tests/unit/contract_test.cpp checks that every one has a Kind).
bool implemented(const std::string& type) {
  return contract::find_worker(type) != nullptr && find(type) != nullptr;
}

int run(const std::string& type, runtime::Runtime& runtime) {
  if (const auto* kind = find(type)) return kind->run(runtime);
  throw std::invalid_argument("the " + type + " worker is not built in this version");
}

}  // namespace pipewright::workers
