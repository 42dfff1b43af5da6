#include "pkg/worker/wiring.h"

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "pkg/json/limited.h"
#include "pkg/units/duration.h"

namespace pipewright::worker {
namespace {

std::string get(const Getenv& getenv, const std::string& name, const std::string& fallback = "") {
  const auto v = getenv(name);
  return v ? *v : fallback;
}

int get_int(const Getenv& getenv, const std::string& name, int fallback, int min, int max) {
  const auto v = getenv(name);
  if (!v || v->empty()) return fallback;
  try {
    std::size_t used = 0;
    const int n = std::stoi(*v, &used);
    if (used != v->size() || n < min || n > max) throw std::out_of_range(name);
    return n;
  } catch (const std::logic_error&) {
    throw ConfigError(name + "=" + *v + ": must be a whole number from " + std::to_string(min) +
                      " to " + std::to_string(max));
  }
}

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::stringstream in(s);
  std::string part;
  while (std::getline(in, part, sep)) {
    if (!part.empty()) out.push_back(part);
  }
  return out;
}

}  // namespace

std::string Wiring::source() const {
  if (!service.empty()) return "/pipewright/" + namespace_ + "/" + service + "/" + backend;
  return "/pipewright/" + namespace_ + "/" + pipeline + "/" + step;
}

const std::string& Wiring::output(const std::string& logical) const {
  const auto it = outputs.find(logical);
  if (it == outputs.end()) {
    throw ConfigError("step " + step + " has no output '" + logical +
                      "' (add it to the step's outputs)");
  }
  return it->second;
}

Getenv process_env() {
  return [](const std::string& name) -> std::optional<std::string> {
    const char* v = std::getenv(name.c_str());
    if (v == nullptr) return std::nullopt;
    return std::string(v);
  };
}

std::chrono::milliseconds parse_duration(const std::string& text) {
  const auto d = units::parse_duration(text);
  // The text is quoted whole only when short: it may come from anywhere.
  if (!d) {
    throw ConfigError("'" + (text.size() <= 32 ? text : text.substr(0, 32) + "...") + "' is not " +
                      std::string(units::kDurationRule));
  }
  return *d;
}

Wiring wiring_from_env(const Getenv& getenv) {
  Wiring w;
  w.namespace_ = get(getenv, "PIPEWRIGHT_NAMESPACE", "default");
  w.pipeline = get(getenv, "PIPEWRIGHT_PIPELINE");
  w.step = get(getenv, "PIPEWRIGHT_STEP");
  w.worker = get(getenv, "PIPEWRIGHT_WORKER");
  w.service = get(getenv, "PIPEWRIGHT_SERVICE");
  w.backend = get(getenv, "PIPEWRIGHT_BACKEND");
  w.bootstrap = get(getenv, "PIPEWRIGHT_KAFKA_BOOTSTRAP");
  w.inputs = split(get(getenv, "PIPEWRIGHT_INPUTS"), ',');
  for (const auto& pair : split(get(getenv, "PIPEWRIGHT_OUTPUTS"), ',')) {
    const auto eq = pair.find('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == pair.size()) {
      throw ConfigError("PIPEWRIGHT_OUTPUTS: '" + pair + "' is not logical=topic");
    }
    w.outputs[pair.substr(0, eq)] = pair.substr(eq + 1);
  }
  w.group = get(getenv, "PIPEWRIGHT_CONSUMER_GROUP");
  w.max_attempts = get_int(getenv, "PIPEWRIGHT_MAX_ATTEMPTS", 5, 1, 1000);
  try {
    w.backoff_initial = parse_duration(get(getenv, "PIPEWRIGHT_BACKOFF_INITIAL", "200ms"));
    w.backoff_max = parse_duration(get(getenv, "PIPEWRIGHT_BACKOFF_MAX", "30s"));
  } catch (const ConfigError& e) {
    throw ConfigError(std::string("PIPEWRIGHT_BACKOFF_*: ") + e.what());
  }
  const auto dl = get(getenv, "PIPEWRIGHT_DEAD_LETTER", "true");
  if (dl != "true" && dl != "false")
    throw ConfigError("PIPEWRIGHT_DEAD_LETTER must be true or false");
  w.dead_letter = dl == "true";
  w.config_path = get(getenv, "PIPEWRIGHT_CONFIG");
  w.data_dir = get(getenv, "PIPEWRIGHT_DATA_DIR");
  w.kafka_secret_dir = get(getenv, "PIPEWRIGHT_KAFKA_SECRET_DIR");
  w.bind_host = get(getenv, "PIPEWRIGHT_BIND_HOST");
  w.base_path = get(getenv, "PIPEWRIGHT_BASE_PATH");
  while (w.base_path.size() > 1 && w.base_path.back() == '/')
    w.base_path.pop_back();
  if (w.base_path == "/") w.base_path.clear();
  if (!w.base_path.empty() && w.base_path.front() != '/') {
    throw ConfigError("PIPEWRIGHT_BASE_PATH must start with '/'");
  }
  w.http_port = get_int(getenv, "PIPEWRIGHT_HTTP_PORT", 8080, 0, 65535);
  w.metrics_port = get_int(getenv, "PIPEWRIGHT_METRICS_PORT", 9090, 0, 65535);
  if (const auto t = getenv("PIPEWRIGHT_HTTP_REQUEST_TIMEOUT"); t && !t->empty()) {
    try {
      w.http_request_timeout = parse_duration(*t);
    } catch (const ConfigError& e) {
      throw ConfigError(std::string("PIPEWRIGHT_HTTP_REQUEST_TIMEOUT: ") + e.what());
    }
    if (w.http_request_timeout.count() <= 0)
      throw ConfigError("PIPEWRIGHT_HTTP_REQUEST_TIMEOUT must be above zero");
  }
  w.http_max_connections = get_int(getenv, "PIPEWRIGHT_HTTP_MAX_CONNECTIONS", 512, 1, 1'000'000);
  if (!w.inputs.empty() && w.group.empty()) {
    throw ConfigError("PIPEWRIGHT_CONSUMER_GROUP must be set when PIPEWRIGHT_INPUTS is");
  }
  if ((!w.inputs.empty() || !w.outputs.empty()) && w.bootstrap.empty()) {
    throw ConfigError("PIPEWRIGHT_KAFKA_BOOTSTRAP must be set for a step with topics");
  }
  return w;
}

nlohmann::json load_config(const std::filesystem::path& path) {
  if (path.empty()) return nlohmann::json::object();
  std::ifstream in(path);
  if (!in) return nlohmann::json::object();
  std::stringstream s;
  s << in.rdbuf();
  if (s.str().find_first_not_of(" \t\r\n") == std::string::npos) return nlohmann::json::object();
  nlohmann::json j;
  try {
    j = json::parse(s.str());
  } catch (const json::ParseError& e) {
    throw ConfigError(path.string() + ": not JSON: " + e.what());
  }
  if (!j.is_object()) throw ConfigError(path.string() + ": the config must be a JSON object");
  return j;
}

void check_keys(const nlohmann::json& config, const std::set<std::string>& known,
                const std::string& path) {
  for (const auto& [key, value] : config.items()) {
    if (known.contains(key)) continue;
    std::string list;
    for (const auto& k : known)
      list += (list.empty() ? "" : ", ") + k;
    throw ConfigError(path + "." + key + ": unknown key (known: " + (list.empty() ? "none" : list) +
                      ")");
  }
}

std::int64_t config_int(const nlohmann::json& config, const std::string& key, std::int64_t fallback,
                        std::int64_t min, std::int64_t max) {
  const auto it = config.find(key);
  if (it == config.end()) return fallback;
  if (!it->is_number_integer()) throw ConfigError("config." + key + ": must be a whole number");
  const auto n = it->get<std::int64_t>();
  if (n < min || n > max) {
    throw ConfigError("config." + key + ": must be from " + std::to_string(min) + " to " +
                      std::to_string(max));
  }
  return n;
}

std::string config_string(const nlohmann::json& config, const std::string& key,
                          const std::string& fallback) {
  const auto it = config.find(key);
  if (it == config.end()) return fallback;
  if (!it->is_string()) throw ConfigError("config." + key + ": must be a string");
  return it->get<std::string>();
}

std::vector<std::string> config_strings(const nlohmann::json& config, const std::string& key,
                                        const std::vector<std::string>& fallback) {
  const auto it = config.find(key);
  if (it == config.end()) return fallback;
  std::vector<std::string> out;
  if (!it->is_array()) throw ConfigError("config." + key + ": must be a list of strings");
  for (const auto& v : *it) {
    if (!v.is_string()) throw ConfigError("config." + key + ": must be a list of strings");
    out.push_back(v.get<std::string>());
  }
  return out;
}

}  // namespace pipewright::worker
