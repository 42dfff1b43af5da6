#pragma once
// Kubernetes quantities ("1Gi", "1024Mi", "1.5Gi") in the form the API server stores them, so a
// rendered PVC compares equal to the live one and causes no write in steady state.

#include <string>

namespace pipewright::plan {

// "1024Mi" -> "1Gi", "1.5Gi" -> "1536Mi", "1000M" -> "1G", "1073741824" -> "1073741824".
// Values the server would write with a milli suffix (a fraction of a byte) come back unchanged.
std::string canonical_quantity(const std::string& quantity);

}  // namespace pipewright::plan
