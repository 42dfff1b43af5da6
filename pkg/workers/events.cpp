// The events pipelines' workers (events-api, enrich, events-gateway): not built yet.

#include "pkg/workers/workers.h"

namespace pipewright::workers {

std::vector<Kind> events_workers() { return {}; }

}  // namespace pipewright::workers
