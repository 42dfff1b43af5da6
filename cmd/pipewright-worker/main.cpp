// pipewright-worker <type>: one binary for every built-in worker (SPEC section 3).
// This build only knows the worker types; each worker is built by a later issue.

#include <iostream>
#include <set>
#include <string>

#include "pkg/log/log.h"

namespace {

constexpr const char* kUsage = R"(Usage: pipewright-worker <type> [--help]

Runs one built-in worker; its wiring (Kafka, topics, consumer group, config) comes from the
environment that the operator or `pipewright up` sets.

Types:
  upload rotate grayscale notify            the image pipeline
  orders-api fraud audit                    the orders pipeline
  events-api enrich events-gateway          the events pipelines
  mult calc                                 weighted HTTP services
)";

const std::set<std::string> kTypes = {"upload",     "rotate",         "grayscale", "notify",
                                      "orders-api", "fraud",          "audit",     "events-api",
                                      "enrich",     "events-gateway", "mult",      "calc"};

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || std::string(argv[1]) == "--help" || std::string(argv[1]) == "-h") {
    std::cout << kUsage;
    return argc < 2 ? 2 : 0;
  }
  const std::string type = argv[1];
  if (!kTypes.contains(type)) {
    std::cerr << "pipewright-worker: unknown worker type '" << type << "' (try --help)\n";
    return 2;
  }
  pipewright::log::error("not yet: this worker is not built in this version", {{"worker", type}});
  return 1;
}
