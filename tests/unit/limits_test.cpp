// Issue 14: limits that outside input meets outside pkg/http — the CRDs' string lengths, the
// shared duration rule, and local mode's mail catcher (threads, message size, MIME words).

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "pkg/local/smtp_catcher.h"
#include "pkg/units/duration.h"
#include "tests/support/suite_logs.h"

namespace pipewright {
namespace {

// Every string in a CRD's schema has a maxLength (or is an enum or a format): the API server
// then refuses a 100,000-digit failTimeout before the operator ever reads it.
TEST(Crds, EveryStringHasAMaxLength) {
  const std::filesystem::path root = std::getenv("PIPEWRIGHT_SOURCE_DIR");
  for (const char* file :
       {"crds/pipewright.io_pipelines.yaml", "crds/pipewright.io_weightedservices.yaml"}) {
    const auto doc = YAML::LoadFile((root / file).string());
    std::vector<std::string> unbounded;
    // `bounded`: inside the anyOf of an int-or-string whose schema has a maxLength (the API
    // server applies it to the string form; the branches themselves may only name their type).
    std::function<void(const YAML::Node&, const std::string&, bool)> walk =
        [&](const YAML::Node& n, const std::string& path, bool bounded) {
          if (n.IsMap()) {
            // A property may itself be named "type": only a scalar `type` is the schema's.
            if (n["type"] && n["type"].IsScalar() && n["type"].as<std::string>() == "string" &&
                !n["maxLength"] && !n["enum"] && !n["format"] && !bounded)
              unbounded.push_back(path);
            for (const auto& kv : n) {
              const auto key = kv.first.as<std::string>();
              walk(kv.second, path + "." + key, key == "anyOf" && n["maxLength"]);
            }
          } else if (n.IsSequence()) {
            for (std::size_t i = 0; i < n.size(); ++i)
              walk(n[i], path + "[" + std::to_string(i) + "]", bounded);
          }
        };
    for (std::size_t i = 0; i < doc["spec"]["versions"].size(); ++i)
      walk(doc["spec"]["versions"][i]["schema"], "versions[" + std::to_string(i) + "].schema",
           false);
    EXPECT_TRUE(unbounded.empty()) << file << ": " << ::testing::PrintToString(unbounded);
  }
}

TEST(Units, ADurationIsOneToNineDigitsAndAUnit) {
  EXPECT_EQ(units::parse_duration("200ms")->count(), 200);
  EXPECT_EQ(units::parse_duration("30s")->count(), 30000);
  EXPECT_EQ(units::parse_duration("5m")->count(), 300000);
  EXPECT_EQ(units::parse_duration("999999999h")->count(), 999999999LL * 3600000);
  for (const std::string bad : {"", "s", "10000000000ms", "1.5s", "5S", "5 s", "-1s", "5d", "5ms "})
    EXPECT_FALSE(units::parse_duration(bad)) << bad;
  EXPECT_FALSE(units::parse_duration(std::string(100000, '9') + "s"));
}

// A blocking client for the mail catcher.
class SmtpClient {
 public:
  explicit SmtpClient(int port) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    timeval tv{10, 0};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  }
  ~SmtpClient() { close(fd_); }
  SmtpClient(const SmtpClient&) = delete;
  SmtpClient& operator=(const SmtpClient&) = delete;
  void send(std::string_view data) {
    while (!data.empty()) {
      const auto n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (n <= 0) return;
      data.remove_prefix(static_cast<std::size_t>(n));
    }
  }
  // The next reply line ("" when the connection closed or went quiet).
  std::string line() {
    for (;;) {
      if (const auto nl = buf_.find("\r\n"); nl != std::string::npos) {
        auto out = buf_.substr(0, nl);
        buf_.erase(0, nl + 2);
        return out;
      }
      char chunk[4096];
      const auto n = ::recv(fd_, chunk, sizeof chunk, 0);
      if (n <= 0) return "";
      buf_.append(chunk, static_cast<std::size_t>(n));
    }
  }

 private:
  int fd_ = -1;
  std::string buf_;
};

// Issue 14, defect 8: one thread per connection without bound, and a message of any size.
TEST(SmtpCatcher, ConnectionsAreCappedAndAMessageOverTheLimitIsRefused) {
  const auto dir = testing::suite_dir() / "catcher";
  std::filesystem::create_directories(dir);
  local::SmtpCatcher catcher(0, dir / "mail.jsonl");
  std::vector<std::unique_ptr<SmtpClient>> held;
  for (int i = 0; i < 16; ++i) {
    held.push_back(std::make_unique<SmtpClient>(catcher.port()));
    ASSERT_EQ(held.back()->line().substr(0, 3), "220");
  }
  {
    SmtpClient over(catcher.port());
    EXPECT_EQ(over.line().substr(0, 3), "421");
  }
  auto& c = *held.front();
  c.send("HELO t\r\nMAIL FROM:<a@b.c>\r\nRCPT TO:<d@e.f>\r\nDATA\r\n");
  for (const char* code : {"250", "250", "250", "354"})
    ASSERT_EQ(c.line().substr(0, 3), code);
  const std::string line(1000, 'x');
  std::string data = "Subject: big\r\n\r\n";
  for (int i = 0; i < 11 * 1024; ++i)  // 11 MiB, over the 10 MiB limit
    data += line + "\r\n";
  c.send(data + ".\r\n");
  EXPECT_EQ(c.line().substr(0, 3), "552");
  EXPECT_TRUE(catcher.messages().empty());
  // A long encoded-word subject is decoded in one pass (std::regex recursed per character).
  c.send("MAIL FROM:<a@b.c>\r\nRCPT TO:<d@e.f>\r\nDATA\r\n");
  for (const char* code : {"250", "250", "354"})
    ASSERT_EQ(c.line().substr(0, 3), code);
  c.send("Subject: =?UTF-8?Q?" + std::string(200000, 'a') + "?= ok\r\n\r\nbody\r\n.\r\n");
  EXPECT_EQ(c.line().substr(0, 3), "250");
  ASSERT_EQ(catcher.messages().size(), 1u);
  EXPECT_EQ(catcher.messages()[0].subject, std::string(200000, 'a') + " ok");
  held.clear();
}

TEST(SmtpCatcher, MimeWordsDecodeAsBefore) {
  EXPECT_EQ(local::decode_mime_words("=?UTF-8?B?T2zDoQ==?= mundo"), "Olá mundo");
  EXPECT_EQ(local::decode_mime_words("=?utf-8?q?a_b=3Dc?="), "a b=c");
  EXPECT_EQ(local::decode_mime_words("plain =? not ?= a word"), "plain =? not ?= a word");
  EXPECT_EQ(local::decode_mime_words("=?UTF-8?Q?x?==?UTF-8?Q?y?="), "xy");
  EXPECT_EQ(local::decode_mime_words("=??Q?x?="), "=??Q?x?=");
}

}  // namespace
}  // namespace pipewright
