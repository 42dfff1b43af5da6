#pragma once
// The built-in workers of `pipewright-worker <type>` (SPEC section 3): each one reads its config,
// adds its routes and handler to the shared runtime, and runs it.

#include <functional>
#include <string>
#include <vector>

#include "pkg/runtime/runtime.h"

namespace pipewright::workers {

// Sets up `type` on `runtime` and runs it until SIGTERM; returns the exit code. Throws
// runtime::ConfigError for a bad config (before anything is served), std::invalid_argument for
// a type that is not built in (yet).
int run(const std::string& type, runtime::Runtime& runtime);

// The worker types this build runs.
bool implemented(const std::string& type);

// One worker type and how to run it. Each area of workers lists its own (images.cpp, notify.cpp,
// calc.cpp, orders.cpp, events.cpp); workers.cpp only joins the lists.
struct Kind {
  std::string type;
  std::function<int(runtime::Runtime&)> run;
};
std::vector<Kind> image_workers();   // upload, rotate, grayscale (images.cpp)
std::vector<Kind> notify_workers();  // notify (notify.cpp)
std::vector<Kind> calc_workers();    // mult, calc (calc.cpp)
std::vector<Kind> orders_workers();  // orders-api, fraud, audit (orders.cpp)
std::vector<Kind> events_workers();  // events-api, enrich, events-gateway (events.cpp)

}  // namespace pipewright::workers
