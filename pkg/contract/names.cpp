#include "pkg/contract/names.h"

namespace pipewright::contract {
namespace {

bool lower_or_digit(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

}  // namespace

// By hand rather than std::regex: names may come from anywhere, of any length.
bool is_dns_label(std::string_view text) {
  if (text.empty() || text.size() > kMaxObjectName) return false;
  if (!lower_or_digit(text.front()) || !lower_or_digit(text.back())) return false;
  for (const char c : text) {
    if (!lower_or_digit(c) && c != '-') return false;
  }
  return true;
}

bool is_topic_name(std::string_view text) {
  if (text.empty() || text.size() > kMaxKafkaTopic) return false;
  for (const char c : text) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

bool is_internal_topic(std::string_view name) {
  return name.starts_with("__");
}

std::string topic_name(const std::string& namespace_, const std::string& pipeline,
                       const std::string& logical) {
  return namespace_ + "." + pipeline + "." + logical;
}

std::string consumer_group(const std::string& namespace_, const std::string& pipeline,
                           const std::string& step) {
  return namespace_ + "." + pipeline + "." + step;
}

std::string dead_letter_topic(const std::string& kafka_topic) {
  return kafka_topic + std::string(kDeadLetterSuffix);
}

bool is_dead_letter_topic(std::string_view kafka_topic) {
  return kafka_topic.ends_with(kDeadLetterSuffix);
}

std::string dead_letter_logical(const std::string& logical) {
  return logical + std::string(kDeadLetterSuffix);
}

std::string child_name(const std::string& owner, const std::string& part) {
  return owner + "-" + part;
}

}  // namespace pipewright::contract
