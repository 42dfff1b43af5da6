#pragma once
// Where the real components live: the cache scripts/install fills (Kafka jars, etcd,
// kube-apiserver, kubectl, helm, playwright-core) and Debian's programs (nginx, prometheus).

#include <filesystem>
#include <string>
#include <string_view>

namespace pipewright::local {

// $PIPEWRIGHT_CACHE, or the path scripts/versions.sh uses (fixed at build time).
std::filesystem::path cache_dir();

// A binary that scripts/install built into <cache>/bin. Throws std::runtime_error naming the
// install command when it is missing.
std::filesystem::path cached_tool(std::string_view name);

// A program from Debian's packages, found on PATH or in /usr/sbin. Throws when missing.
std::filesystem::path system_tool(std::string_view name);

// `pipewright-worker`: $PIPEWRIGHT_WORKER_BINARY, else next to the running program (installed
// side by side, or build/cmd/pipewright-worker/ in a build tree), else on PATH. Throws when
// none is found.
std::filesystem::path worker_binary();

// The Kafka broker's classpath directory (one jar per dependency).
std::filesystem::path kafka_libs();

// The last `max_bytes` of a log file ("" when it cannot be read), for error messages.
std::string tail(const std::filesystem::path& file, std::size_t max_bytes = 3000);

// playwright-core's node_modules folder.
std::filesystem::path node_modules();

}  // namespace pipewright::local
