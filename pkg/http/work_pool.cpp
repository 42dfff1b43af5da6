#include "pkg/http/work_pool.h"

#include <exception>
#include <memory>

#include "pkg/log/log.h"

namespace pipewright::http {

WorkPool::WorkPool(int threads, std::size_t max_queued) {
  const int n = threads < 1 ? 1 : threads;
  capacity_ = static_cast<std::size_t>(n) + max_queued;
  for (int i = 0; i < n; ++i)
    threads_.emplace_back([this] { loop(); });
}

WorkPool::~WorkPool() {
  {
    const std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  for (auto& t : threads_)
    t.join();
}

std::size_t WorkPool::busy() const {
  const std::lock_guard lock(mu_);
  return running_ + queue_.size();
}

void WorkPool::loop() {
  std::unique_lock lock(mu_);
  for (;;) {
    cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
    if (queue_.empty()) return;  // stopping, and nothing left to run
    auto job = std::move(queue_.front());
    queue_.pop_front();
    ++running_;
    lock.unlock();
    job();
    job = nullptr;  // the request's data goes before the slot is given back
    lock.lock();
    --running_;
  }
}

bool WorkPool::post(std::function<void()> job) {
  {
    const std::lock_guard lock(mu_);
    if (stopping_ || running_ + queue_.size() >= capacity_) return false;
    queue_.push_back(std::move(job));
  }
  cv_.notify_one();
  return true;
}

Response WorkPool::run(const Request& request, std::function<Response()> work) {
  return run_deferred(request, [work = std::move(work)](const std::shared_ptr<Responder>& r) {
    r->respond(work());
  });
}

Response WorkPool::run_deferred(const Request& request,
                                std::function<void(const std::shared_ptr<Responder>&)> work) {
  // `work` may hold a request's body: moved, never copied.
  return request.later(
      [this, work = std::move(work)](const std::shared_ptr<Responder>& responder) mutable {
        {
          const std::lock_guard lock(mu_);
          if (!stopping_ && running_ + queue_.size() < capacity_) {
            queue_.emplace_back([responder, work = std::move(work)] {
              try {
                work(responder);
              } catch (const std::exception& e) {
                log::error("http work failed", {{"error", e.what()}});
                responder->respond(Response::error(500, "internal error"));
              }
            });
            cv_.notify_one();
            return;
          }
        }
        auto busy = Response::error(503, "the server is busy with other requests; retry shortly");
        busy.headers["Retry-After"] = "1";
        responder->respond(std::move(busy));
      });
}

}  // namespace pipewright::http
