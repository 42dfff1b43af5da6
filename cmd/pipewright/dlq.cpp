#include "cmd/pipewright/dlq.h"
#include "cmd/pipewright/flags.h"

#include <chrono>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <optional>
#include <sstream>

#include "pkg/api/manifest.h"
#include "pkg/dlq/dlq.h"
#include "pkg/json/limited.h"
#include "pkg/local/up.h"
#include "pkg/plan/topics.h"
#include "pkg/units/rfc3339.h"

namespace pipewright::cli {

const char* const kDlqUsage =
    R"(Usage: pipewright dlq list|show|replay (--step [NAMESPACE/]PIPELINE/STEP -f FILE|DIR | --topic DLQ_TOPIC) [flags]

A step's dead letters: the messages it failed to process maxAttempts times (or could never
process), kept in "<input topic>.dlq" with the error, the attempt count and the source.
  list     one line per letter: where, when, event id and type, attempts, source, error, replayed
  show     the selected letters in full (headers and value), as JSON
  replay   writes the selected letters back to the topics they came from (key, value and headers
           kept, the dead-letter headers dropped) and records them as replayed in the same Kafka
           transaction: running it again replays nothing twice
Kafka: --bootstrap, else the run of `pipewright up` in --state-dir, else the Pipeline's
spec.kafka.bootstrapServers.

Flags:
  --step [NS/]PIPELINE/STEP   the step whose inputs' dead letters to read (needs -f)
  -f, --filename FILE|DIR     manifests (repeatable)
  --topic TOPIC               a dead-letter topic by its Kafka name (instead of --step)
  --bootstrap HOST:PORT       Kafka
  --kafka-config DIR          librdkafka properties, one file per property (as a mounted Secret:
                              security.protocol, sasl.mechanism, sasl.username, ...)
  --state-dir DIR             a local-mode run (default ~/.local/state/pipewright)
  --id ID                     letters of this event id (repeatable)
  --since TIME, --until TIME  letters dead-lettered in this range: RFC 3339 or a duration ago
                              (30m, 2h, 7d)
  --error TEXT                letters whose error contains TEXT
  --all                       every letter (replay needs --all or another selection)
  --dry-run                   replay: say what would be replayed, write nothing
  -o, --output text|json      list and replay: a table (default) or JSON
  -h, --help                  this text
)";

namespace {

struct DlqFlags {
  std::string verb, step, topic, bootstrap, kafka_config, output = "text";
  std::vector<std::filesystem::path> files;
  std::filesystem::path state_dir = local::default_state_dir();
  dlq::Selection selection;
  bool dry_run = false, help = false;
};

bool parse(const std::vector<std::string>& args, DlqFlags& f, std::string& error) {
  const auto now = std::chrono::system_clock::now();
  for (FlagReader flag(args); flag.next();) {
    const std::string& name = flag.name();
    std::string value;
    auto take = [&] { return flag.take(value, error); };
    if (name == "-h" || name == "--help") {
      f.help = true;
    } else if (name == "--all") {
      f.selection.all = true;
    } else if (name == "--dry-run") {
      f.dry_run = true;
    } else if (name == "-f" || name == "--filename") {
      if (!take()) return false;
      f.files.emplace_back(value);
    } else if (name == "--step" || name == "--topic" || name == "--bootstrap" ||
               name == "--kafka-config" || name == "--error" || name == "--id" || name == "-o" ||
               name == "--output" || name == "--state-dir") {
      if (!take()) return false;
      if (name == "--step") f.step = value;
      if (name == "--topic") f.topic = value;
      if (name == "--bootstrap") f.bootstrap = value;
      if (name == "--kafka-config") f.kafka_config = value;
      if (name == "--error") f.selection.error = value;
      if (name == "--id") f.selection.ids.push_back(value);
      if (name == "-o" || name == "--output") f.output = value;
      if (name == "--state-dir") f.state_dir = value;
    } else if (name == "--since" || name == "--until") {
      if (!take()) return false;
      const auto t = dlq::parse_time(value, now);
      if (!t) {
        error = "flag " + name + " needs an RFC 3339 time or a duration ago (30m, 2h), not '" +
                value + "'";
        return false;
      }
      (name == "--since" ? f.selection.since_ms : f.selection.until_ms) = t;
    } else if (f.verb.empty() && !name.starts_with("-")) {
      f.verb = name;
    } else {
      error = "unknown flag '" + name + "'";
      return false;
    }
  }
  if (f.help) return true;
  if (f.verb != "list" && f.verb != "show" && f.verb != "replay") {
    error = f.verb.empty() ? "give list, show or replay" : "unknown verb '" + f.verb + "'";
    return false;
  }
  if (f.output != "text" && f.output != "json") {
    error = "flag --output takes text or json, not '" + f.output + "'";
    return false;
  }
  if (f.step.empty() == f.topic.empty()) {
    error = "give either --step [NAMESPACE/]PIPELINE/STEP (with -f) or --topic";
    return false;
  }
  if (!f.step.empty() && f.files.empty()) {
    error = "--step needs the manifests: -f FILE|DIR";
    return false;
  }
  if (f.verb == "replay" && f.selection.empty()) {
    error = "replay needs a selection: --all, --id, --since, --until or --error";
    return false;
  }
  return true;
}

// The dead-letter topics of the step's inputs, and its Pipeline's bootstrap servers.
std::vector<std::string> step_topics(const DlqFlags& f, std::string& manifest_bootstrap) {
  const auto m = api::load(f.files);
  std::string ns, pipeline, step = f.step;
  if (const auto last = step.rfind('/'); last != std::string::npos) {
    pipeline = step.substr(0, last);
    step = step.substr(last + 1);
    if (const auto first = pipeline.find('/'); first != std::string::npos) {
      ns = pipeline.substr(0, first);
      pipeline = pipeline.substr(first + 1);
    }
  }
  if (pipeline.empty() || step.empty())
    throw std::invalid_argument("--step takes [NAMESPACE/]PIPELINE/STEP, not '" + f.step + "'");
  for (const auto& p : m.pipelines) {
    if (p.meta.name != pipeline || (!ns.empty() && p.meta.namespace_ != ns)) continue;
    for (const auto& s : p.steps) {
      if (s.name != step) continue;
      if (s.inputs.empty())
        throw std::invalid_argument("step " + f.step +
                                    " reads no topic, so it has no dead letters");
      std::vector<std::string> out;
      for (const auto& input : s.inputs) {
        for (const auto& t : p.topics)
          if (t.name == input) out.push_back(plan::dead_letter_topic(plan::topic_name(p, t)));
      }
      manifest_bootstrap = p.bootstrap_servers;
      return out;
    }
    throw std::invalid_argument("Pipeline " + p.meta.namespace_ + "/" + pipeline +
                                " has no step '" + step + "'");
  }
  throw std::invalid_argument("no Pipeline '" + pipeline + "' in the manifests");
}

std::string bootstrap_of(const DlqFlags& f, const std::string& manifest_bootstrap) {
  if (!f.bootstrap.empty()) return f.bootstrap;
  if (std::ifstream in(f.state_dir / "run.json"); in) {
    std::stringstream s;
    s << in.rdbuf();
    if (auto run = json::try_parse(s.str());
        run && run->contains("kafka") && (*run)["kafka"].is_string())
      return (*run)["kafka"].get<std::string>();
  }
  if (!manifest_bootstrap.empty()) return manifest_bootstrap;
  throw std::invalid_argument(
      "no Kafka: give --bootstrap, run `pipewright up`, or name "
      "spec.kafka.bootstrapServers in the Pipeline");
}

std::string when(std::int64_t ms) {
  return units::rfc3339_from_ms(ms, units::Precision::seconds);
}

void print_table(const std::vector<dlq::Letter>& letters, std::ostream& out) {
  out << std::left << std::setw(10) << "OFFSET" << std::setw(22) << "TIME" << std::setw(28) << "ID"
      << std::setw(9) << "ATTEMPT" << std::setw(10) << "REPLAYED"
      << "ERROR\n";
  for (const auto& l : letters) {
    const std::string error = l.error.size() > 100 ? l.error.substr(0, 97) + "..." : l.error;
    out << std::left << std::setw(10)
        << (std::to_string(l.message.partition) + "/" + std::to_string(l.message.offset))
        << std::setw(22) << when(l.message.timestamp_ms) << std::setw(28)
        << (l.id.empty() ? "-" : l.id) << std::setw(9) << l.attempt << std::setw(10)
        << (l.replayed ? "yes" : "no") << error << "\n";
  }
}

}  // namespace

int dlq(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  DlqFlags f;
  std::string error;
  if (!parse(args, f, error)) {
    err << "pipewright dlq: " << error << " (try pipewright dlq --help)\n";
    return 2;
  }
  if (f.help) {
    out << kDlqUsage;
    return 0;
  }
  try {
    std::string manifest_bootstrap;
    const auto topics =
        f.topic.empty() ? step_topics(f, manifest_bootstrap) : std::vector<std::string>{f.topic};
    const auto properties =
        kafka::client_properties(bootstrap_of(f, manifest_bootstrap), f.kafka_config);
    auto all = nlohmann::json::array();
    for (const auto& topic : topics) {
      if (f.verb == "replay") {
        const auto report = dlq::replay(properties, topic, f.selection, f.dry_run);
        if (f.output == "json") {
          auto replayed = nlohmann::json::array();
          for (const auto& l : report.replayed)
            replayed.push_back(dlq::to_json(l, false));
          all.push_back({{"topic", topic},
                         {"dry_run", f.dry_run},
                         {"replayed", replayed},
                         {"already_replayed", report.already_replayed}});
        } else {
          out << topic << ": " << (f.dry_run ? "would replay " : "replayed ")
              << report.replayed.size() << " letter(s)";
          if (report.already_replayed > 0)
            out << ", " << report.already_replayed << " selected letter(s) replayed before";
          out << "\n";
        }
        continue;
      }
      std::vector<dlq::Letter> chosen;
      for (auto& l : dlq::read(properties, topic))
        if (f.selection.empty() || dlq::selected(l, f.selection)) chosen.push_back(std::move(l));
      if (f.verb == "show" || f.output == "json") {
        for (const auto& l : chosen)
          all.push_back(dlq::to_json(l, f.verb == "show"));
      } else {
        out << topic << ": " << chosen.size() << " letter(s)\n";
        print_table(chosen, out);
      }
    }
    if (f.verb == "show" || f.output == "json") out << all.dump(2) << "\n";
    return 0;
  } catch (const api::ManifestError& e) {
    err << e.what() << "\n";
    return 1;
  } catch (const std::exception& e) {
    err << "pipewright dlq: " << e.what() << "\n";
    return 1;
  }
}

}  // namespace pipewright::cli
