#pragma once
// Kubernetes quantities: the rule a manifest's resources and storage size are checked by (the
// CRDs carry the same patterns, compared by tests/unit/contract_test.cpp), and the form the API
// server stores them in, so a rendered object compares equal to the live one.

#include <cstddef>
#include <string>
#include <string_view>

namespace pipewright::contract {

// Container requests and limits as people write them: 100m, 0.5, 64Mi, 1G, 1e3.
inline constexpr std::string_view kResourceQuantityPattern =
    "^[0-9]{1,15}(\\.[0-9]{1,9})?(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei|e[0-9]{1,2})?$";
// A volume's size: whole or decimal bytes with a suffix (no milli, no exponent).
inline constexpr std::string_view kStorageSizePattern =
    "^[0-9]+(\\.[0-9]+)?(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?$";
// The CRDs' maxLength of a resource quantity; also the longest a storage size may be here.
inline constexpr std::size_t kMaxQuantityLength = 40;
inline constexpr std::string_view kResourceQuantityRule =
    "a quantity such as 100m, 0.5, 64Mi or 1Gi";
inline constexpr std::string_view kStorageSizeRule = "a size such as 1Gi or 500Mi";

bool is_resource_quantity(const std::string& text);
bool is_storage_size(const std::string& text);

// The value of a quantity that is_resource_quantity accepted, in base units (cores, bytes).
double quantity_value(const std::string& quantity);

// "1024Mi" -> "1Gi", "1.5Gi" -> "1536Mi", "1000M" -> "1G", "1073741824" -> "1073741824".
// Values the server would write with a milli suffix (a fraction of a byte) come back unchanged.
std::string canonical_quantity(const std::string& quantity);

}  // namespace pipewright::contract
