#include "tests/support/servers.h"

#include <algorithm>
#include <fstream>
#include <regex>
#include <stdexcept>

#include "pkg/local/tools.h"
#include "pkg/proc/net.h"
#include "pkg/proc/run.h"
#include "tests/support/http_client.h"
#include "tests/support/suite_logs.h"

namespace pipewright::testing {
namespace {

using std::chrono::seconds;

void wait_ready(proc::Process& p, const std::filesystem::path& log, const std::string& what,
                const std::function<bool()>& ready) {
  const bool ok = proc::poll_until(
      seconds(60), [&] { return !p.running() || ready(); }, std::chrono::milliseconds(100));
  if (!ok || !p.running()) {
    throw std::runtime_error(what + " did not become ready; " + log.string() + ":\n" + tail(log));
  }
}

std::string replace_all(std::string s, const std::string& from, const std::string& to) {
  for (auto pos = s.find(from); pos != std::string::npos; pos = s.find(from, pos + to.size())) {
    s.replace(pos, from.size(), to);
  }
  return s;
}

}  // namespace

std::unique_ptr<Prometheus> Prometheus::start(const std::vector<std::string>& targets) {
  auto p = std::make_unique<Prometheus>();
  std::vector<local::ScrapeTarget> scrape;
  for (const auto& t : targets)
    scrape.push_back({t, {}});
  p->server_ = local::Prometheus::start(component_dir("prometheus"), 0, scrape, "1s");
  return p;
}

std::unique_ptr<Nginx> Nginx::start(const std::string& http_body) {
  auto n = std::make_unique<Nginx>();
  n->dir_ = component_dir("nginx");
  n->port_ = proc::free_port();
  const auto d = n->dir_.string();
  {
    std::ofstream cfg(n->dir_ / "nginx.conf");
    cfg << "daemon off;\nworker_processes 1;\npid " << d << "/nginx.pid;\n"
        << "error_log " << d << "/error.log info;\n"
        << "events { worker_connections 1024; }\n"
        << "http {\n  access_log " << d << "/access.log;\n"
        << "  client_body_temp_path " << d << "/client_body;\n"
        << "  proxy_temp_path " << d << "/proxy;\n  fastcgi_temp_path " << d << "/fastcgi;\n"
        << "  uwsgi_temp_path " << d << "/uwsgi;\n  scgi_temp_path " << d << "/scgi;\n"
        << replace_all(http_body, "{{port}}", std::to_string(n->port_)) << "\n}\n";
  }
  const auto nginx = local::system_tool("nginx").string();
  n->process_ =
      proc::Process::start({{nginx, "-p", d, "-c", d + "/nginx.conf", "-e", d + "/error.log"},
                            {},
                            n->dir_ / "nginx.log",
                            n->dir_});
  wait_ready(n->process_, n->dir_ / "error.log", "nginx",
             [&] { return proc::port_open(n->port_); });
  return n;
}

std::unique_ptr<SmtpServer> SmtpServer::start(const SmtpOptions& options) {
  auto s = std::make_unique<SmtpServer>();
  s->dir_ = component_dir("smtp");
  s->port_ = options.port != 0 ? options.port : proc::free_port();
  const auto maildir = s->dir_ / "maildir";
  // Debian's python3 (it has python3-aiosmtpd), not whatever python3 comes first on PATH.
  std::vector<std::string> argv = {
      "/usr/bin/python3", (source_dir() / "tests/support/smtp_server.py").string(),
      "--listen",         "127.0.0.1:" + std::to_string(s->port_),
      "--maildir",        maildir.string()};
  if (options.starttls || options.require_starttls) {
    const auto key = s->dir_ / "key.pem";
    // A certificate for the address clients dial, so they can verify it with cert_file().
    const auto r =
        proc::run({"openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                   "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1", "-keyout",
                   key.string(), "-out", s->cert_file().string()});
    if (r.exit_code != 0) throw std::runtime_error("openssl req failed:\n" + r.output);
    argv.insert(argv.end(), {"--cert", s->cert_file().string(), "--key", key.string()});
  }
  if (options.require_starttls) argv.emplace_back("--require-starttls");
  if (!options.username.empty()) {
    argv.insert(argv.end(), {"--username", options.username, "--password", options.password});
  }
  if (!options.only_mechanism.empty()) {
    argv.insert(argv.end(), {"--only-mechanism", options.only_mechanism});
  }
  for (const auto& r : options.refuse_recipients)
    argv.insert(argv.end(), {"--refuse", r});
  s->process_ = proc::Process::start({argv, {}, s->dir_ / "smtp.log", s->dir_});
  wait_ready(s->process_, s->dir_ / "smtp.log", "aiosmtpd",
             [&] { return proc::port_open(s->port_); });
  return s;
}

std::vector<MailMessage> SmtpServer::messages() const {
  std::vector<std::filesystem::path> files;
  for (const char* sub : {"new", "cur"}) {
    const auto d = dir_ / "maildir" / sub;
    if (!std::filesystem::exists(d)) continue;
    for (const auto& e : std::filesystem::directory_iterator(d))
      files.push_back(e.path());
  }
  // Maildir names start with the delivery time in seconds, then a unique part.
  std::sort(files.begin(), files.end(), [](const auto& a, const auto& b) {
    return std::filesystem::last_write_time(a) < std::filesystem::last_write_time(b);
  });
  std::vector<MailMessage> out;
  for (const auto& f : files) {
    const std::string raw = read_file(f);
    MailMessage m;
    const auto split = raw.find("\n\n");
    const std::string head = raw.substr(0, split);
    m.body = split == std::string::npos ? "" : raw.substr(split + 2);
    auto header = [&](const std::string& name) {
      const std::regex re("(^|\n)" + name + ": ([^\n]*)", std::regex::icase);
      std::smatch match;
      return std::regex_search(head, match, re) ? match[2].str() : std::string();
    };
    m.from = header("From");
    m.to = header("To");
    m.subject = header("Subject");
    m.tls = header("X-Pipewright-TLS") == "yes";
    m.user = header("X-Pipewright-User");
    out.push_back(m);
  }
  return out;
}

}  // namespace pipewright::testing
