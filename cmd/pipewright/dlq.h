#pragma once
// `pipewright dlq list|show|replay`: a step's dead letters, from local mode's Kafka or a
// cluster's.

#include <iosfwd>
#include <string>
#include <vector>

namespace pipewright::cli {

extern const char* const kDlqUsage;

// args: what follows `pipewright dlq`. Exit code: 0 done, 1 failed, 2 bad usage.
int dlq(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

}  // namespace pipewright::cli
