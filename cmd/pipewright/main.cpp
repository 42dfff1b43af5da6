// pipewright: the command line (SPEC section 7). Only wiring: flags, objects, signals.

#include <pthread.h>
#include <atomic>
#include <csignal>
#include <iostream>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "cmd/pipewright/dlq.h"
#include "cmd/pipewright/flags.h"
#include "pkg/api/manifest.h"
#include "pkg/local/up.h"
#include "pkg/plan/render.h"

namespace {

namespace local = pipewright::local;

constexpr const char* kUsage = R"(Usage: pipewright <command> [flags]

Event pipelines on Apache Kafka, from one manifest: the same resources run on Kubernetes (with
pipewright-operator) or on this machine (local mode).

Commands:
  up        run the resources in manifests on this machine (local Kafka included)
  down      stop a run started by `up`
  validate  check manifests; exit 1 with file:line: field: message for each problem
  render    print the Kubernetes objects the operator would create
  dlq       list, show and replay a step's dead letters
  version   print the version

Run `pipewright <command> --help` for a command's flags.
)";

const std::map<std::string, std::string> kCommandUsage = {
    {"up", R"(Usage: pipewright up -f FILE|DIR [-f ...] [flags]

Runs the Pipelines and WeightedServices in the files (folders: every .yaml in them) on this
machine until Ctrl-C or `pipewright down`: a local Kafka broker, the topics, every step replica
and WeightedService backend as a supervised `pipewright-worker` process (restarted with backoff),
an nginx router per WeightedService, one gateway serving every expose.path and the dashboard,
Prometheus scraping every process, and an SMTP catcher for `smtp` channels without a host.
Everything listens on 127.0.0.1 only. URLs and ports are printed and written to
<state-dir>/run.json.

Flags:
  -f, --filename FILE|DIR   manifests (repeatable)
  --bootstrap HOST:PORT     use this Kafka instead of starting a local broker
  --state-dir DIR           lock, logs and Kafka data (default ~/.local/state/pipewright)
  --kafka-port PORT         the local broker (default 9092, or any free port when it is taken)
  --gateway-port PORT       the gateway and dashboard (default 8080; 0: any free port)
  --prometheus-port PORT    Prometheus (default 9090; 0: any free port)
  --smtp-port PORT          the mail catcher (default 1025; 0: any free port)
  --quiet                   do not echo the processes' log lines (they stay in <state-dir>/logs)
  -h, --help                this text
)"},
    {"down", R"(Usage: pipewright down [--state-dir DIR]

Stops the run that `pipewright up` started with the same state folder, and waits for it.
)"},
    {"validate", R"(Usage: pipewright validate -f FILE|DIR [-f ...]

Checks the manifests without running anything; prints file:line: field path: message for every
problem and exits 1, or prints what it found and exits 0.
)"},
    {"render", R"(Usage: pipewright render -f FILE|DIR [-f ...] [flags]

Prints the Kubernetes objects the operator would create for the manifests, as one YAML stream
(`pipewright render -f examples/ | kubectl apply --dry-run=server -f -` checks them). Invalid
manifests print file:line: field path: message and exit 1.

Flags:
  -f, --filename FILE|DIR      manifests (repeatable)
  --worker-image IMAGE         the pipewright-worker image (default pipewright/worker:latest)
  --router-image IMAGE         the routers' nginx image (default pipewright/router:latest)
  --default-bootstrap-servers HOST:PORT
                               Kafka for Pipelines that name no spec.kafka.bootstrapServers
  -h, --help                   this text
)"},
    {"version", "Usage: pipewright version\n"},
};

struct Flags {
  std::vector<std::filesystem::path> files;
  std::string bootstrap;
  int gateway_port = 8080, prometheus_port = 9090, smtp_port = 1025, kafka_port = 9092;
  bool quiet = false;
  std::filesystem::path state_dir = local::default_state_dir();
  bool help = false;
  pipewright::plan::RenderOptions render;
};

// Parses "--name value" and "--name=value" forms; unknown flags are an error that names them.
bool parse_flags(const std::string& command, const std::vector<std::string>& args, Flags& flags,
                 std::string& error) {
  const bool for_render = command == "render";
  for (pipewright::cli::FlagReader flag(args); flag.next();) {
    const std::string& name = flag.name();
    std::string value;
    auto take = [&] { return flag.take(value, error); };
    if (name == "-h" || name == "--help") {
      flags.help = true;
    } else if (name == "-f" || name == "--filename") {
      if (!take()) return false;
      flags.files.emplace_back(value);
    } else if (name == "--bootstrap") {
      if (!take()) return false;
      flags.bootstrap = value;
    } else if (name == "--state-dir") {
      if (!take()) return false;
      flags.state_dir = value;
    } else if (name == "--gateway-port" || name == "--prometheus-port" || name == "--smtp-port" ||
               name == "--kafka-port") {
      if (!take()) return false;
      int port = -1;
      try {
        std::size_t used = 0;
        port = std::stoi(value, &used);
        if (used != value.size()) port = -1;
      } catch (const std::exception&) {
        port = -1;
      }
      if (port < 0 || port > 65535) {
        error = "flag " + name + " needs a port number (0 to 65535), not '" + value + "'";
        return false;
      }
      (name == "--gateway-port"      ? flags.gateway_port
       : name == "--prometheus-port" ? flags.prometheus_port
       : name == "--kafka-port"      ? flags.kafka_port
                                     : flags.smtp_port) = port;
    } else if (name == "--quiet") {
      flags.quiet = true;
    } else if (for_render && name == "--worker-image") {
      if (!take()) return false;
      flags.render.worker_image = value;
    } else if (for_render && name == "--router-image") {
      if (!take()) return false;
      flags.render.router_image = value;
    } else if (for_render && name == "--default-bootstrap-servers") {
      if (!take()) return false;
      flags.render.default_bootstrap_servers = value;
    } else {
      error = "unknown flag '" + name + "'";
      return false;
    }
  }
  return true;
}

int validate(const Flags& flags) {
  try {
    const auto m = pipewright::api::load(flags.files);
    for (const auto& p : m.pipelines) {
      std::cout << "Pipeline " << p.meta.namespace_ << "/" << p.meta.name << ": " << p.steps.size()
                << " steps, " << p.topics.size() << " topics\n";
    }
    for (const auto& w : m.weighted_services) {
      std::cout << "WeightedService " << w.meta.namespace_ << "/" << w.meta.name << ": "
                << w.backends.size() << " backends\n";
    }
    std::cout << "valid\n";
    return 0;
  } catch (const pipewright::api::ManifestError& e) {
    std::cerr << e.what() << "\n";
    return 1;
  }
}

// Pipelines first, then WeightedServices, each in file order: the same files print the same bytes.
int render(const Flags& flags) {
  try {
    const auto m = pipewright::api::load(flags.files);
    std::vector<nlohmann::json> objects;
    for (const auto& p : m.pipelines) {
      auto children = pipewright::plan::render(p, flags.render);
      objects.insert(objects.end(), children.begin(), children.end());
    }
    for (const auto& w : m.weighted_services) {
      auto children = pipewright::plan::render(w, flags.render);
      objects.insert(objects.end(), children.begin(), children.end());
    }
    std::cout << pipewright::plan::to_yaml(objects);
    return 0;
  } catch (const pipewright::api::ManifestError& e) {
    std::cerr << e.what() << "\n";
    return 1;
  }
}

}  // namespace

int main(int argc, char** argv) {
  const std::vector<std::string> all(argv + 1, argv + argc);
  if (all.empty() || all[0] == "-h" || all[0] == "--help" || all[0] == "help") {
    std::cout << kUsage;
    return all.empty() ? 2 : 0;
  }
  const std::string& command = all[0];
  if (command == "dlq")
    return pipewright::cli::dlq({all.begin() + 1, all.end()}, std::cout, std::cerr);
  if (!kCommandUsage.contains(command)) {
    std::cerr << "pipewright: unknown command '" << command << "' (try pipewright --help)\n";
    return 2;
  }
  Flags flags;
  std::string error;
  if (!parse_flags(command, {all.begin() + 1, all.end()}, flags, error)) {
    std::cerr << "pipewright " << command << ": " << error << " (try pipewright " << command
              << " --help)\n";
    return 2;
  }
  if (flags.help) {
    std::cout << kCommandUsage.at(command);
    return 0;
  }
  if ((command == "up" || command == "validate" || command == "render") && flags.files.empty()) {
    std::cerr << "pipewright " << command << ": give at least one -f FILE|DIR\n";
    return 2;
  }

  if (command == "version") {
    std::cout << "pipewright 0.1.0\n";
    return 0;
  }
  if (command == "validate") return validate(flags);
  if (command == "render") return render(flags);
  if (command == "down") return local::down(flags.state_dir, std::cout, std::cerr);

  // up: SIGINT/SIGTERM are taken by one thread, so children and library threads never see them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  std::atomic<bool> stop{false};
  std::thread waiter([&] {
    int sig = 0;
    sigwait(&signals, &sig);
    stop = true;
  });
  waiter.detach();
  local::UpOptions options;
  options.files = flags.files;
  options.bootstrap = flags.bootstrap;
  options.state_dir = flags.state_dir;
  options.gateway_port = flags.gateway_port;
  options.kafka_port = flags.kafka_port;
  options.prometheus_port = flags.prometheus_port;
  options.smtp_port = flags.smtp_port;
  options.echo_logs = !flags.quiet;
  return local::up(options, stop, std::cout, std::cerr);
}
