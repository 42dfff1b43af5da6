#pragma once
// Work too slow for an I/O thread (decoding an image, waiting for Kafka) runs here, so the I/O
// threads keep answering the probes: a fixed set of threads and a bounded queue; a request that
// finds both full is answered 503 at once instead of waiting without bound.

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "pkg/http/server.h"

namespace pipewright::http {

class WorkPool {
 public:
  // `threads` run the work; `max_queued` more requests may wait for one.
  WorkPool(int threads, std::size_t max_queued);
  // Runs what is queued, then joins the threads.
  ~WorkPool();
  WorkPool(const WorkPool&) = delete;
  WorkPool& operator=(const WorkPool&) = delete;

  // What a handler returns to answer with `work()` computed on a pool thread (Request::later);
  // 503 {"error"} with Retry-After when the pool is full, 500 when `work` throws.
  Response run(const Request& request, std::function<Response()> work);
  // The same for work that answers through the Responder itself, possibly later (from a Kafka
  // delivery report, without holding the pool thread); a throw before it answered is a 500.
  Response run_deferred(const Request& request,
                        std::function<void(const std::shared_ptr<Responder>&)> work);
  // Queues `job` (which answers for itself); false, and nothing queued, when the pool is full.
  bool post(std::function<void()> job);

  std::size_t busy() const;  // running and queued

 private:
  void loop();

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> queue_;
  std::size_t running_ = 0;
  std::size_t capacity_;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace pipewright::http
