// pipewright-worker <type>: one binary for every built-in worker (SPEC section 3). Only wiring:
// the environment and config in, the worker run until SIGTERM.

#include <iostream>
#include <string>

#include "pkg/contract/workers.h"
#include "pkg/log/log.h"
#include "pkg/workers/workers.h"

namespace {

constexpr const char* kUsage = R"(Usage: pipewright-worker <type> [--help]

Runs one built-in worker; its wiring (Kafka, topics, consumer group, config) comes from the
environment that the operator or `pipewright up` sets:

  PIPEWRIGHT_KAFKA_BOOTSTRAP   host:port of the Kafka brokers
  PIPEWRIGHT_INPUTS            Kafka topics to consume (comma-separated)
  PIPEWRIGHT_INPUT_TOPICS      logical=topic pairs of those inputs (comma-separated)
  PIPEWRIGHT_OUTPUTS           logical=topic pairs to produce to (comma-separated)
  PIPEWRIGHT_CONSUMER_GROUP    the step's consumer group
  PIPEWRIGHT_MAX_ATTEMPTS, PIPEWRIGHT_BACKOFF_INITIAL, PIPEWRIGHT_BACKOFF_MAX,
  PIPEWRIGHT_DEAD_LETTER       delivery policy (failures go to "<input>.dlq")
  PIPEWRIGHT_CONFIG            path of the step's config (JSON)
  PIPEWRIGHT_DATA_DIR          the shared volume, for steps with storage
  PIPEWRIGHT_HTTP_PORT (8080), PIPEWRIGHT_METRICS_PORT (9090), PIPEWRIGHT_BIND_HOST (all),
  PIPEWRIGHT_BASE_PATH         the step's expose.path
  PIPEWRIGHT_NAMESPACE, PIPEWRIGHT_PIPELINE, PIPEWRIGHT_STEP   names for logs and metrics

Every worker serves /healthz, /readyz and /metrics, logs JSON lines to stderr and stops cleanly
on SIGTERM (in-flight work finished, offsets committed).

Types:
  upload rotate grayscale notify            the image pipeline
  orders-api fraud audit                    the orders pipeline
  events-api enrich events-gateway          the events pipelines
  mult calc                                 weighted HTTP services
)";

}  // namespace

int main(int argc, char** argv) {
  using namespace pipewright;
  if (argc < 2 || std::string(argv[1]) == "--help" || std::string(argv[1]) == "-h") {
    std::cout << kUsage;
    return argc < 2 ? 2 : 0;
  }
  const std::string type = argv[1];
  if (contract::find_worker(type) == nullptr) {
    std::cerr << "pipewright-worker: unknown worker type '" << type << "' (try --help)\n";
    return 2;
  }
  if (argc > 2) {
    std::cerr << "pipewright-worker: unexpected argument '" << argv[2]
              << "' (the wiring comes from the environment; try --help)\n";
    return 2;
  }
  if (!workers::implemented(type)) {
    log::error("not yet: this worker is not built in this version", {{"worker", type}});
    return 1;
  }
  try {
    auto wiring = runtime::wiring_from_env(runtime::process_env());
    if (wiring.worker.empty()) wiring.worker = type;
    auto config = runtime::load_config(wiring.config_path);
    runtime::Runtime runtime(std::move(wiring), std::move(config));
    return workers::run(type, runtime);
  } catch (const runtime::ConfigError& e) {
    log::error("invalid configuration", {{"worker", type}, {"error", e.what()}});
    std::cerr << "pipewright-worker " << type << ": " << e.what() << "\n";
    return 2;
  } catch (const std::exception& e) {
    log::error("worker failed", {{"worker", type}, {"error", e.what()}});
    return 1;
  }
}
