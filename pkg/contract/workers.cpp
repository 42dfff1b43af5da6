#include "pkg/contract/workers.h"

#include <algorithm>

#include "pkg/contract/duration.h"

namespace pipewright::contract {
namespace {

using T = ConfigKey::Type;
constexpr long long kMiB = 1024LL * 1024;

Count any() {
  return {0, kAnyCount};
}
Count exactly(std::size_t n) {
  return {n, n};
}

}  // namespace

// Each worker's own code (pkg/workers) refuses at start what this table refuses; validation
// refuses the same, before anything runs. Keys and bounds as the workers read them.
const std::vector<WorkerTraits>& workers() {
  static const std::vector<WorkerTraits> all = {
      {"upload",
       true,
       false,
       false,
       true,
       any(),
       exactly(1),
       {{"maxBytes", T::integer, "20971520", 1, 1024 * kMiB},
        {"maxPixels", T::integer, "50000000", 1, 2'000'000'000},
        {"formats", T::strings, "[jpeg, png, bmp, webp]"}}},
      {"rotate",
       false,
       false,
       false,
       true,
       any(),
       {0, 1},
       {{"angle", T::integer, "90", 90, 270, {90, 180, 270}}}},
      {"grayscale", false, false, false, true, any(), {0, 1}, {}},
      {"notify",
       false,
       false,
       false,
       false,
       any(),
       any(),
       // As pkg/notify/settings.cpp reads it (SPEC section 3); null is "left out" there.
       {{.name = "channels",
         .type = T::strings,
         .fallback = "[log]",
         .min = 1,
         .choices = {"smtp", "telegram", "webhook", "log"},
         .unique = true,
         .nullable = true},
        {.name = "locale",
         .type = T::string,
         .fallback = "pt-BR",
         .choices = {"pt-BR", "en"},
         .nullable = true},
        {.name = "to",
         .type = T::string,
         .fallback = "",
         .form = TextForm::address,
         .nullable = true},
        {.name = "smtp",
         .type = T::object,
         .fallback = "",
         .fields = {{.name = "host",
                     .type = T::string,
                     .fallback = "127.0.0.1",
                     .form = TextForm::host,
                     .nullable = true},
                    // 1025 without a host (the local catcher), else 587 with STARTTLS, 25 without.
                    {.name = "port",
                     .type = T::integer,
                     .fallback = "1025",
                     .min = 1,
                     .max = 65535,
                     .nullable = true},
                    {.name = "from",
                     .type = T::string,
                     .fallback = "pipewright@localhost",
                     .form = TextForm::email,
                     .nullable = true},
                    // true when a host is given, false for the local catcher.
                    {.name = "starttls", .type = T::boolean, .fallback = "", .nullable = true},
                    {.name = "secretRef", .type = T::string, .fallback = "", .nullable = true}},
         .nullable = true},
        {.name = "telegram",
         .type = T::object,
         .fallback = "",
         .fields = {{.name = "baseUrl",
                     .type = T::string,
                     .fallback = "https://api.telegram.org",
                     .form = TextForm::http_url,
                     .nullable = true},
                    {.name = "chatId", .type = T::id, .fallback = "", .nullable = true},
                    {.name = "secretRef", .type = T::string, .fallback = "", .nullable = true}},
         .nullable = true},
        {.name = "webhook",
         .type = T::object,
         .fallback = "",
         .fields = {{.name = "url",
                     .type = T::string,
                     .fallback = "",
                     .form = TextForm::http_url,
                     .nullable = true}},
         .nullable = true},
        {.name = "templates",
         .type = T::string_map,
         .fallback = "",
         .form = TextForm::nonempty,
         .nullable = true}},
       {},
       {{"channels", "webhook", "webhook.url", "required when channels lists webhook"}}},
      {"orders-api",
       true,
       false,
       false,
       false,
       any(),
       any(),
       {{"maxBodyBytes", T::integer, "1048576", 1, 64 * kMiB}},
       {"orders"}},
      {"fraud",
       false,
       false,
       false,
       false,
       {1, kAnyCount},
       any(),
       {{"maxAmount", T::number, "", 0, 0},
        {"maxOrdersPerCustomer", T::integer, "", 1, 1'000'000'000},
        {"window", T::duration, "60s", 1},
        {"blockedCustomers", T::strings, "[]"}},
       {"orders-valid", "orders-rejected"}},
      {"audit", false, false, false, false, any(), any(), {{"logPath", T::string, "audit.jsonl"}}},
      {"events-api",
       true,
       false,
       false,
       false,
       {1, kAnyCount},
       exactly(1),
       {{"maxWait", T::duration, "30s", 1}, {"maxBodyBytes", T::integer, "1048576", 1, 64 * kMiB}}},
      {"enrich",
       false,
       false,
       false,
       false,
       any(),
       exactly(1),
       {{"dictionary", T::string, "/usr/share/dict/brazilian"}}},
      {"events-gateway",
       true,
       false,
       false,
       false,
       {1, kAnyCount},
       exactly(1),
       {{"topic", T::string, ""},
        {"maxFrameBytes", T::integer, "65536", 1, 16 * kMiB},
        {"clientQueue", T::integer, "1000", 1, 1'000'000}}},
      {"mult", true, true, true, false, any(), any(), {}},
      {"calc", true, true, true, false, any(), any(), {}},
  };
  return all;
}

const WorkerTraits* find_worker(std::string_view name) {
  const auto& all = workers();
  const auto it =
      std::find_if(all.begin(), all.end(), [&](const WorkerTraits& w) { return w.name == name; });
  return it == all.end() ? nullptr : &*it;
}

std::vector<std::string> worker_names() {
  std::vector<std::string> out;
  for (const auto& w : workers())
    out.emplace_back(w.name);
  return out;
}

std::vector<std::string> weighted_worker_names() {
  std::vector<std::string> out;
  for (const auto& w : workers()) {
    if (w.weighted) out.emplace_back(w.name);
  }
  return out;
}

namespace {

std::string count_problem(const WorkerTraits& worker, std::size_t count, const Count& allowed,
                          const char* what) {
  if (allowed.contains(count)) return {};
  std::string wanted;
  if (allowed.min == allowed.max) {
    wanted = allowed.min == 1 ? std::string("one ") + what
                              : std::to_string(allowed.min) + " " + what + "s";
  } else if (allowed.max >= kAnyCount) {
    wanted = "at least " + std::to_string(allowed.min) + " " + what + (allowed.min == 1 ? "" : "s");
  } else {
    wanted = std::to_string(allowed.min) + " to " + std::to_string(allowed.max) + " " + what + "s";
  }
  return "the " + std::string(worker.name) + " step takes " + wanted + ", not " +
         std::to_string(count);
}

}  // namespace

std::string check_inputs(const WorkerTraits& worker, std::size_t count) {
  return count_problem(worker, count, worker.inputs, "input");
}

std::string check_outputs(const WorkerTraits& worker, std::size_t count) {
  return count_problem(worker, count, worker.outputs, "output");
}

std::string check_named_outputs(const WorkerTraits& worker,
                                const std::vector<std::string>& outputs) {
  for (const auto& name : worker.required_outputs) {
    if (std::find(outputs.begin(), outputs.end(), name) == outputs.end()) {
      return "the " + std::string(worker.name) + " step writes to an output named '" +
             std::string(name) + "' (add it to the step's outputs)";
    }
  }
  return {};
}

std::string check_text(TextForm form, std::string_view text) {
  const auto has_any = [&](std::string_view chars) {
    return text.find_first_of(chars) != std::string_view::npos;
  };
  switch (form) {
    case TextForm::any:
      return {};
    case TextForm::nonempty:
      return text.empty() ? "must not be empty" : std::string();
    case TextForm::host:
      return has_any(" /:\r\n") ? "must be a host name or address, without a port" : std::string();
    case TextForm::email:
      return text.empty() || has_any("\r\n<> ") || text.find('@') == std::string_view::npos
                 ? "must be an e-mail address like name@example.com"
                 : std::string();
    case TextForm::address:
      return has_any("\r\n<> ") ? "must be one e-mail address like name@example.com"
                                : std::string();
    case TextForm::http_url:
      return text.rfind("http://", 0) == 0 || text.rfind("https://", 0) == 0
                 ? std::string()
                 : "must start with http:// or https://";
  }
  return {};
}

bool is_credential_key(std::string_view key) {
  return key == "password" || key == "username" || key == "token";
}

const ConfigKey* find_config_key(const WorkerTraits& worker, std::string_view path) {
  const std::vector<ConfigKey>* keys = &worker.config;
  const ConfigKey* found = nullptr;
  while (!path.empty()) {
    const auto dot = path.find('.');
    const auto name = path.substr(0, dot);
    const auto it = std::find_if(keys->begin(), keys->end(),
                                 [&](const ConfigKey& k) { return k.name == name; });
    if (it == keys->end()) return nullptr;
    found = &*it;
    keys = &it->fields;
    path = dot == std::string_view::npos ? std::string_view() : path.substr(dot + 1);
  }
  return found;
}

std::string name_list(const std::vector<std::string_view>& names) {
  std::string out;
  for (const auto& n : names)
    out += (out.empty() ? "" : ", ") + std::string(n);
  return out;
}

std::vector<std::string_view> field_names(const ConfigKey& key) {
  std::vector<std::string_view> out;
  for (const auto& f : key.fields)
    out.push_back(f.name);
  return out;
}

std::string check_config_value(const ConfigKey& key, const ConfigValue& value) {
  const auto one_of = [&](std::string_view text) {
    if (key.choices.empty() ||
        std::find(key.choices.begin(), key.choices.end(), text) != key.choices.end())
      return std::string();
    return "'" + std::string(text) + "' is not one of " + name_list(key.choices);
  };
  switch (key.type) {
    case T::integer: {
      if (value.json_type != "integer") return "must be a whole number";
      if (!key.allowed.empty()) {
        if (std::find(key.allowed.begin(), key.allowed.end(), value.integer) != key.allowed.end())
          return {};
        std::string list;
        for (const auto a : key.allowed)
          list += (list.empty() ? "" : ", ") + std::to_string(a);
        return "must be one of " + list;
      }
      if (value.integer < key.min || value.integer > key.max) {
        return "must be from " + std::to_string(key.min) + " to " + std::to_string(key.max);
      }
      return {};
    }
    case T::number:
      if (value.json_type != "integer" && value.json_type != "number") return "must be a number";
      if (value.number < static_cast<double>(key.min))
        return "must be a number, " + std::to_string(key.min) + " or more";
      return {};
    case T::string:
      if (value.json_type != "string") return "must be a string";
      if (auto problem = one_of(value.text); !problem.empty()) return problem;
      return check_text(key.form, value.text);
    case T::strings: {
      if (value.json_type != "array" || !value.all_strings) return "must be a list of strings";
      if (static_cast<long long>(value.items.size()) < key.min)
        return "must list at least " + std::to_string(key.min);
      for (std::size_t i = 0; i < value.items.size(); ++i) {
        if (auto problem = one_of(value.items[i]); !problem.empty()) return problem;
        if (key.unique &&
            std::find(value.items.begin(), value.items.begin() + static_cast<std::ptrdiff_t>(i),
                      value.items[i]) != value.items.begin() + static_cast<std::ptrdiff_t>(i))
          return "lists '" + std::string(value.items[i]) + "' twice";
      }
      return {};
    }
    case T::duration:
      if (value.json_type != "string") return "must be " + std::string(kDurationRule);
      if (const auto d = parse_duration(value.text); !d) {
        return "must be " + std::string(kDurationRule);
      } else if (key.min > 0 && d->count() <= 0) {
        return "must be above zero";
      }
      return {};
    case T::object:
    case T::string_map:
      return value.json_type == "object" ? std::string() : "must be a mapping";
    case T::boolean:
      return value.json_type == "boolean" ? std::string() : "must be true or false";
    case T::id:
      return value.json_type == "string" || value.json_type == "integer"
                 ? std::string()
                 : "must be a string or a whole number";
  }
  return {};
}

}  // namespace pipewright::contract

namespace pipewright::contract {
namespace {

std::string cel_list(const std::vector<std::string_view>& names) {
  std::string out;
  for (const auto& n : names)
    out += (out.empty() ? "'" : ", '") + std::string(n) + "'";
  return "[" + out + "]";
}

std::string english_list(const std::vector<std::string_view>& names) {
  std::string out;
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (i > 0) out += i + 1 == names.size() ? " and " : ", ";
    out += std::string(names[i]);
  }
  return out;
}

// "has(self.outputs) && size(self.outputs) == 1" for a step's list field and its count.
std::string count_condition(const std::string& field, const Count& c) {
  const std::string has = "has(self." + field + ")";
  const std::string size = "size(self." + field + ")";
  if (c.min == 0) return "!" + has + " || " + size + " <= " + std::to_string(c.max);
  if (c.min == c.max) return has + " && " + size + " == " + std::to_string(c.min);
  if (c.max >= kAnyCount) return has + " && " + size + " >= " + std::to_string(c.min);
  return has + " && " + size + " >= " + std::to_string(c.min) + " && " + size +
         " <= " + std::to_string(c.max);
}

std::string count_words(const Count& c, const std::string& what) {
  if (c.min == c.max)
    return (c.min == 1 ? "one " + what : std::to_string(c.min) + " " + what + "s");
  if (c.min == 0) return "at most " + std::to_string(c.max) + " " + what;
  if (c.max >= kAnyCount) return "at least " + std::to_string(c.min) + " " + what;
  return std::to_string(c.min) + " to " + std::to_string(c.max) + " " + what + "s";
}

// One rule per distinct count, naming the workers it applies to.
void count_rules(std::vector<CelRule>& out, const std::string& field, const std::string& what,
                 Count WorkerTraits::*member) {
  std::vector<Count> seen;
  for (const auto& w : workers()) {
    const Count c = w.*member;
    if (c.min == 0 && c.max >= kAnyCount) continue;
    if (std::any_of(seen.begin(), seen.end(),
                    [&](const Count& s) { return s.min == c.min && s.max == c.max; }))
      continue;
    seen.push_back(c);
    std::vector<std::string_view> names;
    for (const auto& other : workers()) {
      const Count o = other.*member;
      if (o.min == c.min && o.max == c.max) names.push_back(other.name);
    }
    out.push_back({"Pipeline", "spec.steps[]",
                   "!has(self.worker) || !(self.worker in " + cel_list(names) + ") || (" +
                       count_condition(field, c) + ")",
                   "the " + english_list(names) + " workers take " + count_words(c, what)});
  }
}

}  // namespace

std::vector<CelRule> cel_rules() {
  std::vector<CelRule> out;
  count_rules(out, "inputs", "input", &WorkerTraits::inputs);
  count_rules(out, "outputs", "output", &WorkerTraits::outputs);
  for (const auto& w : workers()) {
    if (w.required_outputs.empty()) continue;
    out.push_back({"Pipeline", "spec.steps[]",
                   "!has(self.worker) || self.worker != '" + std::string(w.name) +
                       "' || (has(self.outputs) && " + cel_list(w.required_outputs) +
                       ".all(o, o in self.outputs))",
                   "the " + std::string(w.name) + " worker writes to outputs named " +
                       english_list(w.required_outputs)});
  }
  std::vector<std::string_view> storage;
  for (const auto& w : workers()) {
    if (w.needs_storage) storage.push_back(w.name);
  }
  out.push_back({"Pipeline", "spec.steps[]",
                 "!has(self.worker) || !(self.worker in " + cel_list(storage) +
                     ") || (has(self.storage) && self.storage)",
                 "the " + english_list(storage) + " workers keep files: they need storage: true"});
  return out;
}

}  // namespace pipewright::contract
