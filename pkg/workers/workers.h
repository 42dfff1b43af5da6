#pragma once
// The built-in workers of `pipewright-worker <type>` (SPEC section 3): each one reads its config,
// adds its routes and handler to the shared runtime, and runs it.

#include <string>

#include "pkg/worker/runtime.h"

namespace pipewright::workers {

// Sets up `type` on `runtime` and runs it until SIGTERM; returns the exit code. Throws
// worker::ConfigError for a bad config (before anything is served), std::invalid_argument for
// a type that is not built in (yet).
int run(const std::string& type, worker::Runtime& runtime);

// The worker types this build runs.
bool implemented(const std::string& type);

// Per worker (images.cpp, notify.cpp).
int run_upload(worker::Runtime& runtime);
int run_image_operation(worker::Runtime& runtime, const std::string& operation);
int run_notify(worker::Runtime& runtime);

}  // namespace pipewright::workers
