#include "pkg/workers/workers.h"

#include <stdexcept>

namespace pipewright::workers {

bool implemented(const std::string& type) {
  return type == "upload" || type == "rotate" || type == "grayscale" || type == "notify";
}

int run(const std::string& type, worker::Runtime& runtime) {
  if (type == "upload") return run_upload(runtime);
  if (type == "rotate" || type == "grayscale") return run_image_operation(runtime, type);
  if (type == "notify") return run_notify(runtime);
  throw std::invalid_argument("the " + type + " worker is not built in this version");
}

}  // namespace pipewright::workers
