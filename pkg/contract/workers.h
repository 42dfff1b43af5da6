#pragma once
// The built-in workers of `pipewright-worker <type>` (SPEC section 3) as one table of traits:
// what validation, the plan, the worker binary, its registry and the CRDs' enums know of them.

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pipewright::contract {

// What a string config value must look like (the notify worker's addresses and URLs).
enum class TextForm {
  any,
  nonempty,  // not ""
  host,      // a host name or address without a port; "" means "not given"
  email,     // one e-mail address with an '@' (SMTP's MAIL FROM)
  address,   // one e-mail address or "" (no spaces, no CR/LF, no '<' '>')
  http_url,  // starts with http:// or https://
};
// "" when `text` has the form, else the problem, e.g. "must start with http:// or https://".
std::string check_text(TextForm form, std::string_view text);

// A key of a worker's config, as the worker reads it at start (pkg/workers, pkg/notify); an
// object's own keys are its `fields`, so nested config is checked as deep as the worker looks.
struct ConfigKey {
  enum class Type {
    integer,
    number,
    string,
    strings,
    duration,
    object,
    boolean,
    id,          // a string or a whole number (a Telegram chat id)
    string_map,  // an object whose values are all strings (of `form`)
  };
  std::string_view name;
  Type type;
  std::string_view fallback;            // the value when left out, as text; "" when there is none
  long long min = 0, max = 0;           // integer and number: the bounds (number: min only);
                                        // strings: `min` is the fewest items
  std::vector<long long> allowed = {};  // integer: when not empty, the only values
  std::vector<std::string_view> choices = {};  // string, strings: when not empty, the only values
  std::vector<ConfigKey> fields = {};  // object: its keys, any other is refused; empty: not read
  TextForm form = TextForm::any;       // string, string_map values: the form of the text
  bool unique = false;                 // strings: no value twice
  bool nullable = false;               // null means "left out" (else a wrong type)
};

// A rule across keys: when the list `list` holds `value`, the key at `path` ("webhook.url")
// must be given. Validation and the worker both apply it, with this message.
struct ConfigRequirement {
  std::string_view list, value, path, message;
};

struct Count {
  std::size_t min = 0, max = 0;
  bool contains(std::size_t n) const { return n >= min && n <= max; }
};

struct WorkerTraits {
  std::string_view name;
  // Its outputs come from HTTP requests rather than from its inputs (its inputs are replies it
  // waits for), so a loop through it is request/reply, not a cycle.
  bool http_source;
  // Answers are pure functions of the request: a router may retry any request on another
  // backend (nginx `proxy_next_upstream non_idempotent`).
  bool pure;
  // May run as a WeightedService backend: needs no topics, no storage.
  bool weighted;
  bool needs_storage;  // refuses to start without `storage: true` (PIPEWRIGHT_DATA_DIR)
  Count inputs, outputs;
  std::vector<ConfigKey> config;
  // Logical outputs it writes to by name (the step must list them).
  std::vector<std::string_view> required_outputs = {};
  std::vector<ConfigRequirement> config_requires = {};  // rules across its config keys
};

inline constexpr std::size_t kAnyCount = 16;  // kMaxTopicRefs: "as many as a step may list"

// In the order `pipewright-worker --help` lists them.
const std::vector<WorkerTraits>& workers();
const WorkerTraits* find_worker(std::string_view name);
std::vector<std::string> worker_names();
std::vector<std::string> weighted_worker_names();

// "" when `count` inputs (or outputs) suit the worker, else the problem, e.g. "the upload step
// takes one output, not 2". The one rule the manifest's validation and the workers apply.
std::string check_inputs(const WorkerTraits& worker, std::size_t count);
std::string check_outputs(const WorkerTraits& worker, std::size_t count);
// "" when `outputs` names every output the worker writes to by name, else the problem.
std::string check_named_outputs(const WorkerTraits& worker,
                                const std::vector<std::string>& outputs);

// A key no config may hold because it would carry a credential (password, username, token):
// refused with kCredentialHint, by validation and by the worker.
bool is_credential_key(std::string_view key);
inline constexpr std::string_view kCredentialHint =
    "credentials are not accepted in the config; put them in a Secret and name it in secretRef";

// The key at a dotted path of a worker's config ("smtp.port"), or nullptr.
const ConfigKey* find_config_key(const WorkerTraits& worker, std::string_view path);
// "a, b, c": the names of keys or choices, for messages.
std::string name_list(const std::vector<std::string_view>& names);
std::vector<std::string_view> field_names(const ConfigKey& key);

// "" when the config value fits the key, else the problem (without the key's path). An object's
// fields are checked one by one by the caller (each is a ConfigKey of its own).
// `json_type`: what the JSON value is; `integer`, `number`, `text`, `items` describe it.
struct ConfigValue {
  std::string_view json_type;  // integer | number | string | array | object | boolean | null
  long long integer = 0;
  double number = 0;
  std::string_view text;
  bool all_strings = false;             // for an array
  std::vector<std::string_view> items;  // for an array of strings: its items
};
std::string check_config_value(const ConfigKey& key, const ConfigValue& value);

}  // namespace pipewright::contract

namespace pipewright::contract {

// A CEL rule of a CRD (x-kubernetes-validations) that says what this catalogue says, so the API
// server refuses what validation and the worker refuse. `path` as in FieldRule ("" the root).
struct CelRule {
  std::string_view kind;
  std::string path;
  std::string rule, message;
};
// The rules the CRDs must carry (tests/unit/contract_test.cpp checks they do, word for word).
std::vector<CelRule> cel_rules();

}  // namespace pipewright::contract
