// The image pipeline end to end on a real Kafka and a real SMTP server: the workers run as
// processes wired exactly as the plan wires them (examples/images.yaml).

#include <gtest/gtest.h>
#include <zlib.h>

#include <algorithm>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <set>

#include "pkg/api/manifest.h"
#include "pkg/plan/topics.h"
#include "pkg/proc/net.h"
#include "pkg/proc/run.h"
#include "tests/support/http_client.h"
#include "tests/support/kafka_suite.h"
#include "tests/support/servers.h"
#include "tests/support/workers.h"

namespace pipewright::testing {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
namespace fs = std::filesystem;

const std::string kRotated = "foi rotacionado.";
const std::string kGray = "foi transformado em preto e branco.";

api::Pipeline images_pipeline() {
  return api::load({source_dir() / "examples" / "images.yaml"}).pipelines.at(0);
}

// A colourful picture with structure, so rotation and grey conversion are visible in pixels.
std::string picture(int width, int height, const std::string& ext) {
  cv::Mat m(height, width, CV_8UC3);
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) {
      m.at<cv::Vec3b>(y, x) = {static_cast<uchar>(x * 255 / width),
                               static_cast<uchar>(y * 255 / height),
                               static_cast<uchar>((x + y) % 256)};
    }
  }
  cv::circle(m, {width / 3, height / 3}, std::min(width, height) / 5, {0, 0, 255}, -1);
  std::vector<uchar> out;
  cv::imencode("." + ext, m, out);
  return {out.begin(), out.end()};
}

cv::Mat decode(const std::string& bytes, int flags = cv::IMREAD_UNCHANGED) {
  return cv::imdecode(std::vector<uchar>(bytes.begin(), bytes.end()), flags);
}

double mean_abs_diff(const cv::Mat& a, const cv::Mat& b) {
  cv::Mat d;
  cv::absdiff(a, b, d);
  const auto s = cv::mean(d);
  return (s[0] + s[1] + s[2]) / a.channels();
}

// A PNG whose header claims 100000 x 100000 pixels (a decompression bomb), valid CRC and all.
std::string png_bomb() {
  auto be32 = [](std::uint32_t v) {
    return std::string{static_cast<char>(v >> 24), static_cast<char>(v >> 16),
                       static_cast<char>(v >> 8), static_cast<char>(v)};
  };
  auto chunk = [&](const std::string& type, const std::string& data) {
    const std::string body = type + data;
    const auto crc =
        crc32(0, reinterpret_cast<const Bytef*>(body.data()), static_cast<uInt>(body.size()));
    return be32(static_cast<std::uint32_t>(data.size())) + body +
           be32(static_cast<std::uint32_t>(crc));
  };
  std::string ihdr = be32(100000) + be32(100000) + std::string{8, 2, 0, 0, 0};
  std::string zeros(100000, '\0');  // a little real data; the header is the point
  return std::string("\x89PNG\r\n\x1a\n", 8) + chunk("IHDR", ihdr) + chunk("IDAT", zeros) +
         chunk("IEND", "");
}

class ImagesTest : public KafkaSuite {
 protected:
  static void SetUpTestSuite() {
    KafkaSuite::SetUpTestSuite();
    smtp = SmtpServer::start();
  }
  static void TearDownTestSuite() {
    smtp.reset();
    KafkaSuite::TearDownTestSuite();
  }

  // The example pipeline in its own namespace, notify pointed at the test's SMTP server.
  std::unique_ptr<PipelineRun> make_run(const std::string& ns) {
    auto run = std::make_unique<PipelineRun>(images_pipeline(), broker->bootstrap(), ns);
    run->set_config("notify", {{"channels", {"smtp", "log"}},
                               {"locale", "pt-BR"},
                               {"to", ns + "@example.com"},
                               {"smtp",
                                {{"host", "127.0.0.1"},
                                 {"port", smtp->port()},
                                 {"from", "pipewright@example.com"},
                                 {"starttls", false}}}});
    run->create_topics();
    return run;
  }

  static std::vector<MailMessage> mails_to(const std::string& to) {
    std::vector<MailMessage> out;
    for (auto& m : smtp->messages()) {
      if (m.to.find(to) != std::string::npos) out.push_back(m);
    }
    return out;
  }

  static HttpResult upload(const WorkerProcess& w, const std::string& name,
                           const std::string& bytes, const std::string& type = "image/jpeg") {
    Form form;
    form.fields.push_back({"file", name, type, bytes});
    return http_request("POST", w.url() + "/upload", form.body(), form.content_type());
  }

  static inline std::unique_ptr<SmtpServer> smtp;
};

TEST_F(ImagesTest, OneUploadIsRotatedGrayscaledAndNotifiedExactlyTwice) {
  auto run = make_run("one");
  auto& upload_w = run->start("upload");
  run->start("rotate");
  run->start("grayscale");
  auto& notify_w = run->start("notify");

  const auto original = picture(320, 200, "jpg");
  const auto res = upload(upload_w, "perfil.jpg", original);
  ASSERT_EQ(res.status, 201) << res.body;
  const auto body = json::parse(res.body);
  EXPECT_EQ(body["file"], "perfil.jpg");
  EXPECT_EQ(body["width"], 320);

  const fs::path dir = run->data_dir();
  ASSERT_TRUE(proc::poll_until(60s,
                               [&] {
                                 return fs::exists(dir / "perfil.rotated.jpg") &&
                                        fs::exists(dir / "perfil.gray.jpg");
                               }))
      << "results missing; files: " << http_get(upload_w.url() + "/api/files").body;

  // Served back by the upload worker, under its expose path too.
  const auto rotated = http_get(upload_w.url() + "/images/files/perfil.rotated.jpg");
  ASSERT_EQ(rotated.status, 200);
  const cv::Mat src = decode(original, cv::IMREAD_COLOR);
  const cv::Mat rot = decode(rotated.body);
  ASSERT_EQ(rot.cols, src.rows);
  ASSERT_EQ(rot.rows, src.cols);
  cv::Mat expected;
  cv::rotate(src, expected, cv::ROTATE_90_CLOCKWISE);
  EXPECT_LT(mean_abs_diff(rot, expected), 3.0);

  const auto gray = http_get(upload_w.url() + "/files/perfil.gray.jpg");
  ASSERT_EQ(gray.status, 200);
  const cv::Mat g = decode(gray.body);
  EXPECT_EQ(g.channels(), 1);
  EXPECT_EQ(g.cols, src.cols);

  const auto files = json::parse(http_get(upload_w.url() + "/api/files").body);
  ASSERT_EQ(files["files"].size(), 1U) << files;
  EXPECT_EQ(files["files"][0]["results"]["rotate"], "perfil.rotated.jpg");

  // Both notifications consumed, then exactly two e-mails with the seed's sentences.
  ASSERT_TRUE(proc::poll_until(60s,
                               [&] {
                                 return metric_value(notify_w.metrics_url(),
                                                     "pipewright_messages_consumed_total") >= 2 &&
                                        mails_to("one@example.com").size() >= 2;
                               }))
      << mails_to("one@example.com").size() << " mails";
  const auto mails = mails_to("one@example.com");
  ASSERT_EQ(mails.size(), 2U);
  std::set<std::string> bodies;
  for (const auto& m : mails)
    bodies.insert(m.body.substr(0, m.body.find_last_not_of("\r\n") + 1));
  EXPECT_TRUE(bodies.contains("O arquivo perfil.jpg " + kRotated)) << *bodies.begin();
  EXPECT_TRUE(bodies.contains("O arquivo perfil.jpg " + kGray)) << *bodies.rbegin();

  // Every /metrics page is valid for Prometheus, and the pipeline's counters are there.
  const auto metrics = http_get(upload_w.metrics_url());
  EXPECT_NE(metrics.body.find("http_requests_total{"), std::string::npos);
  const auto scraped = suite_dir() / "upload.metrics";
  std::ofstream(scraped) << metrics.body;
  const auto check = proc::run({"sh", "-c", "promtool check metrics < " + scraped.string()});
  EXPECT_EQ(check.exit_code, 0) << check.output;
  EXPECT_EQ(metric_value(notify_w.metrics_url(), "pipewright_dead_letters_total"), 0);

  // SIGTERM: a clean stop.
  for (const auto& step : {"upload", "rotate", "grayscale", "notify"}) {
    EXPECT_EQ(run->processes(step).at(0)->process.stop(20s), 0) << step;
  }
}

TEST_F(ImagesTest, FiftyUploadsWhileRotateIsKilledAreEachRotatedAndNotifiedOnce) {
  auto run = make_run("fifty");
  auto& upload_w = run->start("upload");
  run->start("rotate");
  run->start("grayscale");
  auto& notify_w = run->start("notify");

  const auto image = picture(200, 120, "png");
  const fs::path dir = run->data_dir();
  const auto send = [&](int from, int to) {
    for (int i = from; i < to; ++i) {
      const auto res = upload(upload_w, "img" + std::to_string(i) + ".png", image, "image/png");
      ASSERT_EQ(res.status, 201) << res.body;
    }
  };
  send(0, 25);
  // Kill the rotate worker once it is busy (its first result written, the rest in its hands),
  // keep uploading while it is dead, then start it again.
  ASSERT_TRUE(proc::poll_until(60s, [&] { return fs::exists(dir / "img0.rotated.png"); }));
  run->processes("rotate").back()->process.kill(SIGKILL);
  send(25, 50);
  run->start("rotate");

  ASSERT_TRUE(proc::poll_until(120s, [&] {
    for (int i = 0; i < 50; ++i) {
      const auto stem = dir / ("img" + std::to_string(i));
      if (!fs::exists(stem.string() + ".rotated.png") || !fs::exists(stem.string() + ".gray.png"))
        return false;
    }
    return true;
  }));
  // Every notification event consumed (repeats included) and its mail sent, then count the
  // mails. The runtime counts a message consumed when it takes it from Kafka, before its
  // handler runs (many are in flight at once), so the mails are waited for as well.
  const auto notifications = run->topic("notifications");
  std::vector<MailMessage> mails;
  ASSERT_TRUE(proc::poll_until(
      120s,
      [&] {
        const auto published = topic_messages(broker->bootstrap(), notifications);
        mails = mails_to("fifty@example.com");
        return published >= 100 && mails.size() >= 100 &&
               metric_value(notify_w.metrics_url(), "pipewright_messages_consumed_total") >=
                   static_cast<double>(published);
      }))
      << mails.size() << " mails";
  std::map<std::string, int> count;
  for (const auto& m : mails)
    ++count[m.body.substr(0, m.body.find_last_not_of("\r\n") + 1)];
  EXPECT_EQ(mails.size(), 100U);
  for (int i = 0; i < 50; ++i) {
    const auto name = "O arquivo img" + std::to_string(i) + ".png ";
    EXPECT_EQ(count[name + kRotated], 1) << name;
    EXPECT_EQ(count[name + kGray], 1) << name;
  }
}

TEST_F(ImagesTest, BadUploadsGetAClearErrorAndNothingIsStoredOrPublished) {
  auto run = make_run("bad");
  run->set_config("upload", {{"maxBytes", 1048576}, {"maxPixels", 50000000}});
  auto& w = run->start("upload");
  const auto topic = run->topic("images");
  const auto jpeg = picture(300, 300, "jpg");
  const auto png = picture(64, 64, "png");
  std::string gif = "GIF89a";
  gif += std::string("\x10\x00\x10\x00\x80\x00\x00", 7) + std::string(64, '\x01') + ";";

  struct Case {
    std::string what, name, bytes;
    int status;
    std::string field;
  };
  const std::vector<Case> cases = {
      {"not an image", "notes.jpg", "hello, this is text, not a picture\n", 400, "file"},
      {"a truncated JPEG", "cut.jpg", jpeg.substr(0, jpeg.size() / 2), 400, "file"},
      {"a truncated PNG", "cut.png", png.substr(0, png.size() - 20), 400, "file"},
      {"zero bytes", "empty.jpg", "", 400, "file"},
      {"a file over maxBytes", "big.jpg", jpeg + std::string(1048576, 'x'), 413, "file"},
      {"a decompression bomb", "bomb.png", png_bomb(), 413, "file"},
      {"a path in the name", "../../etc/passwd.jpg", jpeg, 400, "file"},
      {"a NUL in the name", std::string("a\0b.jpg", 7), jpeg, 400, "file"},
      {"shell characters", "x;rm -rf ~.jpg", jpeg, 400, "file"},
      {"a command substitution", "$(reboot).jpg", jpeg, 400, "file"},
      {"an unsupported format", "anim.gif", gif, 415, "file"},
  };
  for (const auto& c : cases) {
    const auto res = upload(w, c.name, c.bytes);
    EXPECT_EQ(res.status, c.status) << c.what << ": " << res.body;
    json body;
    ASSERT_NO_THROW(body = json::parse(res.body)) << c.what << ": " << res.body;
    EXPECT_FALSE(body.value("error", "").empty()) << c.what;
    EXPECT_EQ(body.value("field", ""), c.field) << c.what << ": " << res.body;
  }
  // A body far over the limit is refused before it is read, and the server stays up.
  const auto huge = upload(w, "huge.jpg", std::string(3 * 1048576, 'x'));
  EXPECT_EQ(huge.status, 413) << huge.body;
  const auto not_form = http_request("POST", w.url() + "/upload", jpeg, "image/jpeg");
  EXPECT_EQ(not_form.status, 415) << not_form.body;
  Form no_file;
  no_file.fields.push_back({"email", "", "", "a@example.com"});
  EXPECT_EQ(
      http_request("POST", w.url() + "/upload", no_file.body(), no_file.content_type()).status,
      400);
  EXPECT_EQ(http_get(w.url() + "/files/..%2F..%2Fetc%2Fpasswd").status / 100, 4);
  EXPECT_EQ(http_get(w.url() + "/files/nothere.jpg").status, 404);

  std::vector<std::string> stored;
  for (const auto& e : fs::directory_iterator(run->data_dir()))
    stored.push_back(e.path().filename().string());
  EXPECT_TRUE(stored.empty()) << stored.size() << " files stored, first " << stored.front();
  EXPECT_EQ(topic_messages(broker->bootstrap(), topic), 0);

  // Still serving: a good upload goes through.
  EXPECT_EQ(upload(w, "good.jpg", jpeg).status, 201);
  EXPECT_EQ(topic_messages(broker->bootstrap(), topic), 1);
}

TEST_F(ImagesTest, AFailingMailServerMeansRetriesThenTheDeadLetterTopic) {
  auto run = make_run("dlq");
  run->pipeline().delivery.max_attempts = 3;
  run->pipeline().delivery.backoff_initial = "50ms";
  run->pipeline().delivery.backoff_max = "200ms";
  const int dead_port = proc::free_port();  // nothing listens there
  run->set_config("notify", {{"channels", {"smtp"}},
                             {"to", "dlq@example.com"},
                             {"smtp", {{"host", "127.0.0.1"}, {"port", dead_port}}}});
  auto& upload_w = run->start("upload");
  run->start("rotate");
  auto& notify_w = run->start("notify");

  ASSERT_EQ(upload(upload_w, "mail.jpg", picture(64, 48, "jpg")).status, 201);
  const auto dlq = plan::dead_letter_topic(run->topic("notifications"));
  const auto dead = read_topic(broker->bootstrap(), dlq, 1, 60s);
  ASSERT_EQ(dead.size(), 1U);
  EXPECT_EQ(dead[0].headers.at("pipewright-attempt"), "3");
  EXPECT_NE(dead[0].headers.at("pipewright-error").find("smtp"), std::string::npos)
      << dead[0].headers.at("pipewright-error");
  EXPECT_NE(dead[0].value.find("mail.jpg"), std::string::npos);
  EXPECT_EQ(metric_value(notify_w.metrics_url(), "pipewright_dead_letters_total"), 1);
  EXPECT_EQ(metric_value(notify_w.metrics_url(), "pipewright_errors_total"), 3);
  // The worker keeps serving.
  EXPECT_EQ(http_get(notify_w.url() + "/readyz").status, 200);
  EXPECT_TRUE(notify_w.process.running());
}

}  // namespace
}  // namespace pipewright::testing
