#include "pkg/plan/hash.h"

#include <openssl/evp.h>

#include <array>

namespace pipewright::plan {

using nlohmann::json;

namespace {

std::string sha256_hex(const std::string& data) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int size = 0;
  EVP_Digest(data.data(), data.size(), digest.data(), &size, EVP_sha256(), nullptr);
  static constexpr const char* kHex = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < size; ++i) {
    out += kHex[digest[i] >> 4];
    out += kHex[digest[i] & 0xf];
  }
  return out;
}

}  // namespace

std::string spec_hash(const json& object) {
  json copy = object;
  if (copy.is_object()) {
    copy.erase("status");
    if (const auto md = copy.find("metadata"); md != copy.end() && md->is_object()) {
      if (const auto ann = md->find("annotations"); ann != md->end() && ann->is_object()) {
        ann->erase(kSpecHash);
        if (ann->empty()) md->erase(ann);
      }
    }
  }
  return sha256_hex(copy.dump());
}

std::string config_hash(const std::string& data) {
  return sha256_hex(data);
}

json stamped(json object) {
  const auto hash = spec_hash(object);
  object["metadata"]["annotations"][kSpecHash] = hash;
  return object;
}

}  // namespace pipewright::plan
