// bench/imaging, end to end: uploads per second through the image pipeline (upload → Kafka →
// rotate ×2 / grayscale → Kafka → notify) and the time from an upload to both of its
// notifications, against the peer in the same run: the same images through OpenCV alone
// (decode + rotate + encode, decode + grayscale + encode) on the same two cores.
//
// Usage: PIPEWRIGHT_BENCH_UPLOADS=200 PIPEWRIGHT_BENCH_UPLOAD_CLIENTS=4 build/bench/uploads_bench
// Real components: Kafka, the worker binaries wired by the plan (examples/images.yaml). notify
// posts to a local webhook that records when each notification arrives (an SMTP server would
// measure the mail server, not the pipeline).

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <iostream>
#include <mutex>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <thread>

#include <unistd.h>

#include "bench/support/pipeline_bench.h"
#include "bench/support/wrk.h"
#include "pkg/api/manifest.h"
#include "pkg/local/kafka_broker.h"
#include "pkg/proc/net.h"
#include "tests/support/http_client.h"
#include "tests/support/http_server.h"
#include "tests/support/suite_logs.h"
#include "tests/support/workers.h"

namespace pipewright {
namespace {

using bench::Clock;
using nlohmann::json;

// A photo-like 640x480 JPEG (0.3 MP): gradients, noise and shapes.
std::string photo() {
  cv::Mat m(480, 640, CV_8UC3);
  cv::randn(m, cv::Scalar(128, 128, 128), cv::Scalar(30, 30, 30));
  for (int y = 0; y < m.rows; ++y) {
    for (int x = 0; x < m.cols; ++x) {
      auto& p = m.at<cv::Vec3b>(y, x);
      p[0] = cv::saturate_cast<uchar>(p[0] / 2 + x / 5);
      p[2] = cv::saturate_cast<uchar>(p[2] / 2 + y / 4);
    }
  }
  cv::circle(m, {200, 180}, 90, {30, 160, 240}, -1);
  std::vector<uchar> out;
  cv::imencode(".jpg", m, out, {cv::IMWRITE_JPEG_QUALITY, 90});
  return {out.begin(), out.end()};
}

TEST(UploadsBench, EndToEndAgainstOpenCvAlone) {
  const int uploads = bench::env_int("PIPEWRIGHT_BENCH_UPLOADS", 200);
  const int concurrency = bench::env_int("PIPEWRIGHT_BENCH_UPLOAD_CLIENTS", 4);
  const auto image = photo();

  // The peer: the same work in OpenCV alone, two threads (the machine's cores); timed before
  // and after the pipeline's run, the mean of both is its rate.
  double peer_cpu_s = 0;  // the bench process's CPU while the peer runs
  const auto process_cpu = [] {
    timespec t{};
    ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) / 1e9;
  };
  const auto opencv_alone = [&] {
    const double cpu0 = process_cpu();
    const auto peer_start = Clock::now();
    std::vector<std::thread> threads;
    std::atomic<int> next{0};
    for (int t = 0; t < 2; ++t) {
      threads.emplace_back([&] {
        while (next.fetch_add(1) < uploads) {
          const cv::Mat src =
              cv::imdecode(std::vector<uchar>(image.begin(), image.end()), cv::IMREAD_COLOR);
          cv::Mat rotated, gray;
          cv::rotate(src, rotated, cv::ROTATE_90_CLOCKWISE);
          std::vector<uchar> out;
          cv::imencode(".jpg", rotated, out);
          gray = cv::imdecode(std::vector<uchar>(image.begin(), image.end()), cv::IMREAD_GRAYSCALE);
          cv::imencode(".jpg", gray, out);
        }
      });
    }
    for (auto& t : threads)
      t.join();
    peer_cpu_s += process_cpu() - cpu0;
    return std::chrono::duration<double>(Clock::now() - peer_start).count();
  };
  const double peer_before = opencv_alone();

  auto broker = local::KafkaBroker::start({testing::component_dir("kafka")});
  std::mutex mutex;
  std::map<std::string, std::vector<Clock::time_point>> arrived;  // file -> notification times
  testing::HttpServer hook([&](const testing::TestRequest& req) {
    const auto j = json::parse(req.body, nullptr, false);
    if (!j.is_discarded()) {
      std::lock_guard lock(mutex);
      arrived[j["data"].value("file", "")].push_back(Clock::now());
    }
    return testing::TestResponse{200, "application/json", "{}"};
  });
  auto pipeline = api::load({testing::source_dir() / "examples" / "images.yaml"}).pipelines.at(0);
  testing::PipelineRun run(pipeline, broker->bootstrap(), "bench");
  run.set_config("notify", {{"channels", {"webhook"}}, {"webhook", {{"url", hook.url() + "/"}}}});
  run.create_topics();
  auto& upload = run.start("upload");
  // Replicas as in the example (rotate 2, grayscale 1) unless PIPEWRIGHT_BENCH_ROTATE /
  // PIPEWRIGHT_BENCH_GRAYSCALE say otherwise (to compare process counts on these cores).
  for (int i = bench::env_int("PIPEWRIGHT_BENCH_ROTATE", 2); i > 0; --i)
    run.start("rotate");
  for (int i = bench::env_int("PIPEWRIGHT_BENCH_GRAYSCALE", 1); i > 0; --i)
    run.start("grayscale");
  run.start("notify");

  // Warm-up, not timed: /readyz answers before the consumers have their partitions, so the first
  // uploads wait for the group to form (seconds), and the broker's JVM compiles its hot paths
  // under the first load; both are start-up, not throughput.
  const int warmup = bench::env_int("PIPEWRIGHT_BENCH_UPLOAD_WARMUP", 20);
  for (int i = 0; i < warmup; ++i) {
    testing::Form form;
    form.fields.push_back({"file", "warmup" + std::to_string(i) + ".jpg", "image/jpeg", image});
    const auto res =
        testing::http_request("POST", upload.url() + "/upload", form.body(), form.content_type());
    ASSERT_EQ(res.status, 201) << res.body;
  }
  ASSERT_TRUE(proc::poll_until(std::chrono::minutes(2), [&] {
    std::lock_guard lock(mutex);
    return std::count_if(arrived.begin(), arrived.end(),
                         [](const auto& a) { return a.second.size() >= 2; }) >= warmup;
  })) << "the warm-up uploads were not all notified twice";
  {
    std::lock_guard lock(mutex);
    arrived.clear();
  }
  // The profile: CPU time of each process over the timed part, per upload.
  std::vector<std::pair<std::string, pid_t>> pids = {{"kafka", broker->pid()}};
  for (const auto* step : {"upload", "rotate", "grayscale", "notify"}) {
    for (auto* p : run.processes(step))
      pids.emplace_back(step, p->process.pid());
  }
  const auto cpu_now = [&] {
    std::map<std::string, double> cpu = {{"bench (clients, webhook)", process_cpu()}};
    for (const auto& [name, pid] : pids)
      cpu[name] += bench::cpu_seconds(pid);
    return cpu;
  };
  // What the processes burn idle (polls, heartbeats, the JVM), per second, for the profile.
  const auto idle0 = cpu_now();
  std::this_thread::sleep_for(std::chrono::seconds(2));
  const auto idle1 = cpu_now();
  const auto cpu_before = cpu_now();

  std::map<std::string, Clock::time_point> sent;
  std::atomic<int> next{0}, failed{0};
  const auto start = Clock::now();
  std::vector<std::thread> clients;
  for (int c = 0; c < concurrency; ++c) {
    clients.emplace_back([&] {
      for (int i; (i = next.fetch_add(1)) < uploads;) {
        const std::string name = "photo" + std::to_string(i) + ".jpg";
        testing::Form form;
        form.fields.push_back({"file", name, "image/jpeg", image});
        {
          std::lock_guard lock(mutex);
          sent[name] = Clock::now();
        }
        const auto res = testing::http_request("POST", upload.url() + "/upload", form.body(),
                                               form.content_type());
        if (res.status != 201) ++failed;
      }
    });
  }
  for (auto& t : clients)
    t.join();
  const double accept_seconds = std::chrono::duration<double>(Clock::now() - start).count();
  ASSERT_EQ(failed.load(), 0);

  const bool done = proc::poll_until(std::chrono::minutes(10), [&] {
    std::lock_guard lock(mutex);
    return std::count_if(arrived.begin(), arrived.end(),
                         [](const auto& a) { return a.second.size() >= 2; }) >= uploads;
  });
  ASSERT_TRUE(done) << arrived.size() << " of " << uploads << " files notified";
  std::vector<double> latency;
  Clock::time_point last = start;
  {
    std::lock_guard lock(mutex);
    for (const auto& [name, times] : arrived) {
      const auto both = *std::max_element(times.begin(), times.end());
      last = std::max(last, both);
      latency.push_back(std::chrono::duration<double, std::milli>(both - sent[name]).count());
    }
  }
  std::map<std::string, double> cpu_ms;  // per upload
  double cpu_total_ms = 0;
  const auto cpu_after = cpu_now();
  for (const auto& [name, seconds] : cpu_after) {
    cpu_ms[name] = (seconds - cpu_before.at(name)) * 1000 / uploads;
    cpu_total_ms += cpu_ms[name];
  }
  const double total_seconds = std::chrono::duration<double>(last - start).count();
  const double pipeline_rate = uploads / total_seconds;
  const double peer_after = opencv_alone();
  const double peer_rate = (uploads / peer_before + uploads / peer_after) / 2;
  std::cout << "\nbench/imaging end to end: " << uploads << " uploads of a 0.3 MP JPEG, "
            << concurrency << " clients\n"
            << "| measure | value |\n|---|---|\n"
            << "| uploads accepted per second (201) | " << uploads / accept_seconds << " |\n"
            << "| uploads fully processed per second (both notifications) | " << pipeline_rate
            << " |\n"
            << "| OpenCV alone, same work, 2 threads (images/s) | " << peer_rate << " |\n"
            << "| ratio pipeline / OpenCV alone | " << pipeline_rate / peer_rate << " |\n"
            << "| upload → both notifications p50 (ms) | " << bench::percentile(latency, 0.5)
            << " |\n"
            << "| upload → both notifications p99 (ms) | " << bench::percentile(latency, 0.99)
            << " |\n\nCPU per upload (ms), by process:\n";
  json cpu_json = json::object();
  for (const auto& [name, ms] : cpu_ms) {
    std::cout << "  " << name << ": " << ms << " (idle: " << (idle1.at(name) - idle0.at(name)) * 500
              << " ms/s)\n";
    cpu_json[name] = ms;
  }
  const double peer_cpu_ms = peer_cpu_s * 1000 / (2 * uploads);
  std::cout << "  total: " << cpu_total_ms << " (OpenCV alone: " << peer_cpu_ms << ")\n";
  bench::record({{"name", "uploads"},
                 {"ours", pipeline_rate},
                 {"peer", peer_rate},
                 {"ratio", pipeline_rate / peer_rate},
                 {"p50_ms", bench::percentile(latency, 0.5)},
                 {"p99_ms", bench::percentile(latency, 0.99)},
                 {"unit", "images/s"},
                 {"accepted_per_s", uploads / accept_seconds},
                 {"count", uploads},
                 {"clients", concurrency},
                 {"cpu_per_upload_ms", cpu_json},
                 {"cpu_per_upload_total_ms", cpu_total_ms},
                 {"peer_cpu_per_upload_ms", peer_cpu_ms}});
}

}  // namespace
}  // namespace pipewright
