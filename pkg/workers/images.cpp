// The image pipeline's workers: upload (HTTP → shared volume → Kafka), rotate and grayscale
// (Kafka → OpenCV → shared volume → Kafka).

#include <algorithm>
#include <filesystem>
#include <string_view>

#include "pkg/http/multipart.h"
#include "pkg/http/work_pool.h"
#include "pkg/imaging/image.h"
#include "pkg/log/log.h"
#include "pkg/workers/files.h"
#include "pkg/workers/upload_page.h"
#include "pkg/workers/workers.h"

namespace pipewright::workers {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr std::int64_t kMiB = std::int64_t{1024} * 1024;

fs::path data_dir(const runtime::Runtime& runtime) {
  const auto& dir = runtime.wiring().data_dir;
  if (dir.empty()) {
    throw runtime::ConfigError("the " + runtime.wiring().worker +
                               " step needs `storage: true` (PIPEWRIGHT_DATA_DIR is not set)");
  }
  fs::create_directories(dir);
  return dir;
}

// The step's one output, or "" when it has none (files are still written).
std::string single_output(const runtime::Runtime& runtime) {
  const auto& outputs = runtime.wiring().outputs;
  if (outputs.size() > 1) {
    throw runtime::ConfigError("the " + runtime.wiring().worker + " step takes one output, not " +
                               std::to_string(outputs.size()));
  }
  return outputs.empty() ? "" : outputs.begin()->first;
}

imaging::Limits limits_from(const json& config) {
  imaging::Limits limits;
  limits.max_pixels = runtime::config_int(config, "maxPixels", limits.max_pixels, 1, 2'000'000'000);
  const auto names = runtime::config_strings(config, "formats", {"jpeg", "png", "bmp", "webp"});
  limits.formats.clear();
  for (std::size_t i = 0; i < names.size(); ++i) {
    const auto format = imaging::parse_format(names[i]);
    if (!format) {
      throw runtime::ConfigError("config.formats[" + std::to_string(i) + "]: '" + names[i] +
                                 "' is not one of jpeg, png, bmp, webp");
    }
    limits.formats.push_back(*format);
  }
  if (limits.formats.empty())
    throw runtime::ConfigError("config.formats: name at least one format");
  return limits;
}

std::string content_type(const std::string& name) {
  auto ext = split_name(name).second;
  std::transform(ext.begin(), ext.end(), ext.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  for (const auto f :
       {imaging::Format::jpeg, imaging::Format::png, imaging::Format::bmp, imaging::Format::webp}) {
    if (imaging::extension_matches(ext, f)) {
      const auto n = imaging::format_name(f);
      return "image/" + n;
    }
  }
  return "application/octet-stream";
}

// "<stem>.rotated.<ext>" / "<stem>.gray.<ext>": the result names of SPEC section 3.
const std::map<std::string, std::string> kSuffix = {{"rotate", "rotated"}, {"grayscale", "gray"}};

std::string result_name(const std::string& file, const std::string& operation) {
  const auto [stem, ext] = split_name(file);
  return stem + "." + kSuffix.at(operation) + (ext.empty() ? "" : "." + ext);
}

bool is_alpha(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}
bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

// local@domain.tld: a local part of 1 to 64 bytes without '@', blanks, <>,;" and a domain of
// letters, digits, '.' and '-' ending in a dot and 2 to 63 letters; 254 bytes at most (RFC
// 5321). By hand, in one pass: std::regex recursed per character and overflowed the stack on a
// 100 KB field.
bool is_email(std::string_view v) {
  if (v.size() > 254) return false;
  const auto at = v.find('@');
  if (at == std::string_view::npos || at == 0 || at > 64) return false;
  for (const char c : v.substr(0, at)) {
    if (std::string_view(" \t\r\n\f\v<>,;\"").find(c) != std::string_view::npos) return false;
  }
  const auto domain = v.substr(at + 1);
  const auto dot = domain.rfind('.');
  if (dot == std::string_view::npos || dot == 0) return false;
  for (const char c : domain.substr(0, dot)) {
    if (!is_alpha(c) && !is_digit(c) && c != '.' && c != '-') return false;
  }
  const auto tld = domain.substr(dot + 1);
  if (tld.size() < 2 || tld.size() > 63) return false;
  return std::all_of(tld.begin(), tld.end(), is_alpha);
}

// A Telegram chat: an id (-?digits, 1 to 20) or @username (a letter, then 4 to 31 of A-Za-z0-9_).
bool is_chat(std::string_view v) {
  if (!v.empty() && v.front() == '@') {
    const auto name = v.substr(1);
    return name.size() >= 5 && name.size() <= 32 && is_alpha(name.front()) &&
           std::all_of(name.begin(), name.end(),
                       [](char c) { return is_alpha(c) || is_digit(c) || c == '_'; });
  }
  if (!v.empty() && v.front() == '-') v.remove_prefix(1);
  return !v.empty() && v.size() <= 20 && std::all_of(v.begin(), v.end(), is_digit);
}

// Recipients from the form: `email`, `telegram`, or `notify` holding either.
json recipients(const std::vector<http::Part>& parts) {
  json out = json::object();
  for (const auto& p : parts) {
    if (p.name != "email" && p.name != "telegram" && p.name != "notify") continue;
    std::string v = p.data;
    v.erase(0, v.find_first_not_of(" \t\r\n"));
    v.erase(v.find_last_not_of(" \t\r\n") + 1);
    if (v.empty()) continue;
    const bool email = is_email(v);
    const bool chat = !email && is_chat(v);
    if (p.name == "email" && !email) throw std::invalid_argument("email");
    if (p.name == "telegram" && !chat) throw std::invalid_argument("telegram");
    if (p.name == "notify" && !email && !chat) throw std::invalid_argument("notify");
    out[email ? "email" : "telegram"] = v;
  }
  return out;
}

json list_files(const fs::path& dir) {
  struct Entry {
    std::string name;
    std::uintmax_t bytes;
    fs::file_time_type modified;
  };
  std::vector<Entry> originals;
  std::set<std::string> names;
  for (const auto& e : fs::directory_iterator(dir)) {
    const auto name = e.path().filename().string();
    if (name.starts_with(".") || !e.is_regular_file()) continue;
    names.insert(name);
  }
  for (const auto& name : names) {
    const auto stem = split_name(name).first;
    if (stem.ends_with(".rotated") || stem.ends_with(".gray")) continue;
    std::error_code ec;
    originals.push_back({name, fs::file_size(dir / name, ec), fs::last_write_time(dir / name, ec)});
  }
  std::sort(originals.begin(), originals.end(),
            [](const Entry& a, const Entry& b) { return a.modified > b.modified; });
  json files = json::array();
  for (const auto& o : originals) {
    json results = json::object();
    for (const auto& [operation, suffix] : kSuffix) {
      const auto r = result_name(o.name, operation);
      results[operation] = names.contains(r) ? json(r) : json(nullptr);
    }
    files.push_back({{"name", o.name}, {"bytes", o.bytes}, {"results", results}});
    if (files.size() >= 500) break;
  }
  return {{"files", files}};
}

// The checks that decode (on a pool thread), the file, and its event; 201 with the file once
// Kafka acknowledged the event (answered from its delivery report, no thread waiting).
void store_upload(runtime::Runtime& runtime, const fs::path& dir, const imaging::Limits& limits,
                  const std::string& output, const std::string& base, const std::string& name,
                  const std::string& original, const std::string& bytes, const json& notify,
                  const std::shared_ptr<http::Responder>& responder) {
  imaging::ImageInfo info{};
  try {
    info = imaging::validate(bytes, limits);
  } catch (const imaging::ImageError& e) {
    return responder->respond(http::Response::error(e.http_status(), e.what(), "file"));
  }
  auto [stem, ext] = split_name(name);
  if (!imaging::extension_matches(ext, info.format)) {
    if (!ext.empty() && imaging::parse_format(ext)) stem += "_" + ext;  // a.png that is a JPEG
    ext = imaging::extension(info.format);
  }
  const auto stored = write_unique(dir, stem, ext, bytes);
  const json data = {
      {"file", stored},      {"original", original},  {"format", imaging::format_name(info.format)},
      {"width", info.width}, {"height", info.height}, {"bytes", bytes.size()},
      {"notify", notify}};
  const auto envelope = event::make("pipewright.image.uploaded", runtime.wiring().source(), data);
  runtime.publish_async(
      {runtime.message(output, envelope.id, envelope)},
      [dir, stored, data, base, id = envelope.id, responder](const std::string& error) {
        if (!error.empty()) {
          // Not accepted: nothing may stay behind that no message points to.
          std::error_code ec;
          fs::remove(dir / stored, ec);
          log::error("upload not queued", {{"file", stored}, {"error", error}});
          responder->respond(
              http::Response::error(503, "the upload could not be queued: " + error));
          return;
        }
        log::info("uploaded", {{"id", id}, {"file", stored}, {"bytes", data["bytes"]}});
        json body = data;
        body["id"] = id;
        body["url"] = base + "/files/" + stored;
        auto res = http::Response::json(201, body);
        res.headers["Location"] = body["url"];
        responder->respond(std::move(res));
      });
}

int run_upload(runtime::Runtime& runtime) {
  const auto& config = runtime.config();
  runtime::check_keys(config, {"maxBytes", "maxPixels", "formats"});
  const auto max_bytes = runtime::config_int(config, "maxBytes", 20 * kMiB, 1, 1024 * kMiB);
  const auto limits = limits_from(config);
  const auto dir = data_dir(runtime);
  const auto output = single_output(runtime);
  if (output.empty()) throw runtime::ConfigError("the upload step needs an output topic");

  runtime::RuntimeOptions options;
  // Room for the multipart framing and form fields around a file of maxBytes; the file itself
  // is measured after parsing, so the 413 names maxBytes.
  options.max_body_bytes = static_cast<std::size_t>(max_bytes) + std::size_t{64} * 1024;
  runtime.set_options(options);
  const std::string base = runtime.wiring().base_path;

  // Checking (decoding) an image takes up to seconds and its pixels' memory: at most two at once,
  // four more waiting, off the I/O threads so the probes keep answering; more get 503.
  // Outlives run(): its last jobs finish before this returns, while `runtime` is still there.
  const auto pool = std::make_unique<http::WorkPool>(2, 4);

  std::string page = kUploadPage;
  page.replace(page.find("{{BASE}}"), 8, base);
  runtime.route("GET", "/", [page](const http::Request&) {
    return http::Response{200, "text/html; charset=utf-8", page, {}};
  });

  runtime.route(
      "POST", "/upload",
      [&runtime, dir, max_bytes, limits, output, base,
       pool = pool.get()](const http::Request& req) {
        const auto type = req.header("content-type");
        if (!type.starts_with("multipart/form-data")) {
          return http::Response::error(415, "send multipart/form-data with the image in `file`",
                                       "file");
        }
        std::vector<http::Part> parts;
        try {
          parts = http::parse_multipart(type, req.body);
        } catch (const http::MultipartError& e) {
          return http::Response::error(400, std::string("malformed form: ") + e.what(), "file");
        }
        const auto file = std::find_if(parts.begin(), parts.end(),
                                       [](const http::Part& p) { return p.name == "file"; });
        if (file == parts.end())
          return http::Response::error(400, "the form has no `file`", "file");
        std::string name;
        try {
          name = clean_upload_name(file->filename);
        } catch (const NameError& e) {
          return http::Response::error(400, std::string("invalid file name: ") + e.what(), "file");
        }
        if (file->data.empty()) return http::Response::error(400, "the file is empty", "file");
        if (static_cast<std::int64_t>(file->data.size()) > max_bytes) {
          return http::Response::error(
              413, "the file is over maxBytes (" + std::to_string(max_bytes) + " bytes)", "file");
        }
        json notify;
        try {
          notify = recipients(parts);
        } catch (const std::invalid_argument& e) {
          return http::Response::error(400, std::string("not a valid ") + e.what(), e.what());
        }
        // The result names of SPEC section 3 belong to the rotate and grayscale steps: an upload
        // named like one would take a victim's result's place.
        for (const auto& [operation, suffix] : kSuffix) {
          if (split_name(name).first.ends_with("." + suffix)) {
            return http::Response::error(400,
                                         "invalid file name: names ending in ." + suffix +
                                             ".<ext> are the " + operation + " step's results",
                                         "file");
          }
        }
        return pool->run_deferred(
            req, [&runtime, dir, limits, output, base, name, notify, original = file->filename,
                  bytes = std::move(file->data)](const std::shared_ptr<http::Responder>& r) {
              store_upload(runtime, dir, limits, output, base, name, original, bytes, notify, r);
            });
      });

  runtime.route("GET", "/files/{name}", [dir](const http::Request& req) {
    const auto& name = req.params.at("name");
    try {
      check_stored_name(name);
    } catch (const NameError&) {
      return http::Response::error(400, "invalid file name", "name");
    }
    const auto path = dir / name;
    std::error_code ec;
    if (!fs::is_regular_file(path, ec)) return http::Response::error(404, "no such file", "name");
    return http::Response{
        200, content_type(name), read_file(path), {{"Cache-Control", "no-cache"}}};
  });

  runtime.route("GET", "/api/files",
                [dir](const http::Request&) { return http::Response::json(200, list_files(dir)); });

  return runtime.run();
}

int run_image_operation(runtime::Runtime& runtime, const std::string& operation) {
  const auto& config = runtime.config();
  int angle = 90;
  if (operation == "rotate") {
    runtime::check_keys(config, {"angle"});
    angle = static_cast<int>(runtime::config_int(config, "angle", 90, 90, 270));
    if (angle % 90 != 0) throw runtime::ConfigError("config.angle: must be 90, 180 or 270");
  } else {
    runtime::check_keys(config, {});
  }
  const auto dir = data_dir(runtime);
  const auto output = single_output(runtime);
  // Results reach the disk a batch at a time, before the batch's offsets are committed.
  auto results = std::make_shared<BatchWriter>();
  runtime.set_before_commit([results] { results->sync(); });
  runtime::RuntimeOptions options;
  // Each commit first syncs the results written since the last one (their fsyncs, then the
  // folder's) on the loop's thread, and is a request to the broker: once a second rather than
  // every 100 ms (as fraud does). Results and outputs go out as soon as made; only the commit,
  // what a restart resumes from (rewriting the same results under the same names), is later.
  options.commit_interval = std::chrono::milliseconds(1000);
  runtime.set_options(options);

  return runtime.run([&runtime, dir, output, operation, angle,
                      results](const kafka::InMessage& m) -> std::vector<kafka::OutMessage> {
    const auto in = runtime::read_event(m);
    if (!in.data.is_object()) throw runtime::PermanentError("data: must be a JSON object");
    const std::string file = in.data.value("file", "");
    try {
      check_stored_name(file);
    } catch (const NameError& e) {
      throw runtime::PermanentError("data.file '" + file + "': " + e.what());
    }
    const auto result = result_name(file, operation);
    // Always written, also when a redelivered message finds its result there: a result is
    // synced only before its offset is committed, so one found for an uncommitted message may
    // be what a crash left of it. Rewriting gives the same bytes under the same name.
    const auto bytes = read_file(dir / file);  // missing: retried, the volume may lag
    std::string out;
    try {
      out = operation == "rotate" ? imaging::rotate(bytes, angle) : imaging::grayscale(bytes);
    } catch (const imaging::ImageError& e) {
      throw runtime::PermanentError(file + ": " + e.what());
    }
    results->write(dir / result, out);
    log::info("processed", {{"id", in.id}, {"file", file}, {"result", result}});
    if (output.empty()) return {};
    // The id follows from the input's, so a redelivery repeats the same event and notify's
    // de-duplication sees it.
    event::Envelope done{in.id + "." + operation, "pipewright.image.processed",
                         event::now_rfc3339(), runtime.wiring().source(),
                         json{{"file", in.data.value("original", file)},
                              {"stored", file},
                              {"result", result},
                              {"operation", operation},
                              {"notify", in.data.value("notify", json::object())}}};
    return {runtime.message(output, m.key.empty() ? in.id : m.key, done)};
  });
}

}  // namespace

std::vector<Kind> image_workers() {
  return {{"upload", run_upload},
          {"rotate", [](runtime::Runtime& r) { return run_image_operation(r, "rotate"); }},
          {"grayscale", [](runtime::Runtime& r) { return run_image_operation(r, "grayscale"); }}};
}

}  // namespace pipewright::workers
