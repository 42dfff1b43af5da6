#pragma once
// The manifest fields' limits, defaults, enums and patterns: what `pipewright validate` (pkg/api)
// checks, what pkg/api's types default to, and what the CRDs say. tests/unit/contract_test.cpp
// compares every enum, default, pattern and limit of crds/*.yaml with field_rules(), both ways.

#include <array>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pipewright::contract {

inline constexpr const char* kGroupVersion = "pipewright.io/v1alpha1";

// An integer field: its bounds and the value it takes when left out. `crd_default` is false when
// the CRD must not write the default (a backup backend must have no weight at all).
struct IntRule {
  int min, max, fallback;
  bool crd_default = true;
};
inline constexpr IntRule kPartitions{1, 10000, 1};
inline constexpr IntRule kReplicationFactor{1, 32767, 1};
inline constexpr IntRule kStepReplicas{0, 1000, 1};
inline constexpr IntRule kMaxAttempts{1, 1000, 5};
inline constexpr IntRule kServicePort{1, 65535, 8080};
inline constexpr IntRule kBackendWeight{1, 1000, 1, false};
inline constexpr IntRule kBackendReplicas{0, 100, 1};
inline constexpr IntRule kMaxFails{0, 100, 1};

// Defaults of the other fields.
inline constexpr std::string_view kDefaultBackoffInitial = "200ms";
inline constexpr std::string_view kDefaultBackoffMax = "30s";
inline constexpr bool kDefaultDeadLetter = true;
inline constexpr std::string_view kDefaultFailTimeout = "10s";
inline constexpr std::string_view kDefaultConnectTimeout = "1s";
inline constexpr std::string_view kDefaultNamespace = "default";

inline constexpr std::array<std::string_view, 2> kDeletionPolicies = {"Retain", "Delete"};
inline constexpr std::string_view kDefaultDeletionPolicy = "Retain";
inline constexpr std::array<std::string_view, 2> kAccessModes = {"ReadWriteOnce", "ReadWriteMany"};
inline constexpr std::string_view kDefaultAccessMode = "ReadWriteOnce";

// String lengths. A step's or backend's name leaves room for "<owner>-" in a 63-character child.
inline constexpr std::size_t kMaxPartName = 40;
inline constexpr std::size_t kMaxTopicLogical = 200;
inline constexpr std::size_t kMaxImage = 1024;
inline constexpr std::size_t kMaxBootstrap = 1024;
inline constexpr std::size_t kMaxObjectRef = 253;  // names of Secrets, classes, hosts, Gateways
inline constexpr std::size_t kMaxNamespace = 63;
inline constexpr std::size_t kMaxExposePath = 256;
inline constexpr std::size_t kMaxTopicSetting = 1024;
inline constexpr std::size_t kMaxCidr = 43;  // an IPv6 address and /128
// List sizes.
inline constexpr std::size_t kMaxTopics = 64;
inline constexpr std::size_t kMaxSteps = 32;
inline constexpr std::size_t kMaxTopicRefs = 16;  // a step's inputs, its outputs
inline constexpr std::size_t kMaxBackends = 16;
inline constexpr std::size_t kMaxTopicSettings = 64;
inline constexpr std::size_t kMaxKafkaCidrs = 32;  // spec.networkPolicy.kafkaCIDRs

// expose.path: an absolute URL path nginx and Ingress take as it is.
inline constexpr std::string_view kExposePathPattern = "^/[A-Za-z0-9._~/-]*$";
inline constexpr std::string_view kExposePathRule =
    "must be an absolute URL path such as /images (letters, digits, '.', '_', '~', '-' and '/'; "
    "no '..' or '//')";
bool is_expose_path(std::string_view path);  // the pattern, at most kMaxExposePath, no '..', '//'

// One constraint set of one CRD property, as the CRD writes it. `path` is the property's path
// below the resource ("spec.topics[].partitions"; "[]" a list's items, ".*" a map's values).
struct FieldRule {
  std::string_view kind;  // Pipeline | WeightedService
  std::string path;
  std::optional<long long> minimum, maximum;
  std::optional<std::size_t> min_length, max_length, min_items, max_items, max_properties;
  std::string pattern;
  std::vector<std::string> enum_values;
  std::optional<std::string> default_value;  // as YAML text: "1", "Retain", "true"
};
const std::vector<FieldRule>& field_rules();

// An IPv4 or IPv6 network in CIDR notation ("10.0.0.0/8", "fd00::/8"), as the API server's CEL
// isCIDR() accepts it: a valid address and a prefix within its family's bit count.
bool is_cidr(std::string_view text);

}  // namespace pipewright::contract
