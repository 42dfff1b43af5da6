#include "pkg/notify/smtp.h"
#include "pkg/notify/curl_errors.h"

#include <curl/curl.h>
#include <algorithm>
#include <cstring>
#include <ctime>
#include <memory>

namespace pipewright::notify {
namespace {

struct Reader {
  std::string data;
  std::size_t offset = 0;
};

std::size_t read_payload(char* buffer, std::size_t size, std::size_t nitems, void* user) {
  auto* r = static_cast<Reader*>(user);
  const std::size_t n = std::min(size * nitems, r->data.size() - r->offset);
  r->data.copy(buffer, n, r->offset);  // libcurl wants bytes, not a C string
  r->offset += n;
  return n;
}

// Header values must not carry line breaks: a recipient or subject from user input could
// otherwise add headers of its own.
std::string one_line(std::string s) {
  std::replace(s.begin(), s.end(), '\r', ' ');
  std::replace(s.begin(), s.end(), '\n', ' ');
  return s;
}

bool ascii(const std::string& s) {
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return static_cast<unsigned char>(c) < 0x80; });
}

std::string base64(const std::string& in) {
  static const char* t = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  std::size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    const unsigned v = (static_cast<unsigned char>(in[i]) << 16) |
                       (static_cast<unsigned char>(in[i + 1]) << 8) |
                       static_cast<unsigned char>(in[i + 2]);
    out += {t[(v >> 18) & 63], t[(v >> 12) & 63], t[(v >> 6) & 63], t[v & 63]};
  }
  if (i + 1 == in.size()) {
    const unsigned v = static_cast<unsigned char>(in[i]) << 16;
    out += {t[(v >> 18) & 63], t[(v >> 12) & 63], '=', '='};
  } else if (i + 2 == in.size()) {
    const unsigned v =
        (static_cast<unsigned char>(in[i]) << 16) | (static_cast<unsigned char>(in[i + 1]) << 8);
    out += {t[(v >> 18) & 63], t[(v >> 12) & 63], t[(v >> 6) & 63], '='};
  }
  return out;
}

// Keeps the server's last error reply (4xx/5xx), so an error can quote what the server said;
// later replies ("221 Bye" to QUIT) do not overwrite it.
int on_debug(CURL* /*handle*/, curl_infotype type, char* data, std::size_t size, void* user) {
  if (type == CURLINFO_HEADER_IN && size > 0 && (data[0] == '4' || data[0] == '5')) {
    std::string line(data, size);
    while (!line.empty() && (line.back() == '\n' || line.back() == '\r'))
      line.pop_back();
    *static_cast<std::string*>(user) = line;
  }
  return 0;
}

}  // namespace

std::string format_message(const SmtpSettings& settings, const Mail& mail) {
  char date[64];
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  std::strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S +0000", &tm);
  const std::string subject = one_line(mail.subject);
  std::string msg;
  msg += "Date: " + std::string(date) + "\r\n";
  msg += "From: " + one_line(settings.from) + "\r\n";
  msg += "To: " + one_line(mail.to) + "\r\n";
  msg += "Subject: " + (ascii(subject) ? subject : "=?UTF-8?B?" + base64(subject) + "?=") + "\r\n";
  msg += "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\n";
  msg += "Content-Transfer-Encoding: 8bit\r\n\r\n";
  // Lines are CRLF on the wire; a lone "." line is escaped by libcurl.
  for (char c : mail.body) {
    if (c == '\n' && (msg.empty() || msg.back() != '\r')) msg += '\r';
    msg += c;
  }
  msg += "\r\n";
  return msg;
}

void send_mail(const SmtpSettings& settings, const Mail& mail) {
  if (mail.to.empty()) throw SmtpError("smtp: no recipient");
  if (mail.to.find_first_of("\r\n<>") != std::string::npos) {
    throw SmtpError("smtp: invalid recipient '" + one_line(mail.to) + "'");
  }
  std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> curl(curl_easy_init(), curl_easy_cleanup);
  if (!curl) throw SmtpError("smtp: curl_easy_init failed", 0, true);
  const std::string url = std::string(settings.tls ? "smtps://" : "smtp://") + settings.host + ":" +
                          std::to_string(settings.port);
  Reader reader{format_message(settings, mail)};
  const std::string from = "<" + settings.from + ">";
  const std::string to = "<" + mail.to + ">";
  curl_slist* rcpt = curl_slist_append(nullptr, to.c_str());
  std::unique_ptr<curl_slist, decltype(&curl_slist_free_all)> rcpt_guard(rcpt, curl_slist_free_all);
  char errbuf[CURL_ERROR_SIZE] = {0};
  CURL* c = curl.get();
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_MAIL_FROM, from.c_str());
  curl_easy_setopt(c, CURLOPT_MAIL_RCPT, rcpt);
  curl_easy_setopt(c, CURLOPT_READFUNCTION, read_payload);
  curl_easy_setopt(c, CURLOPT_READDATA, &reader);
  curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_TIMEOUT, static_cast<long>(settings.timeout.count()));
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, static_cast<long>(settings.timeout.count()));
  if (settings.starttls) curl_easy_setopt(c, CURLOPT_USE_SSL, static_cast<long>(CURLUSESSL_ALL));
  if (!settings.verify_peer) {
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
  }
  if (!settings.ca_file.empty()) curl_easy_setopt(c, CURLOPT_CAINFO, settings.ca_file.c_str());
  if (!settings.username.empty()) {
    curl_easy_setopt(c, CURLOPT_USERNAME, settings.username.c_str());
    curl_easy_setopt(c, CURLOPT_PASSWORD, settings.password.c_str());
  }
  std::string last_error_reply;
  curl_easy_setopt(c, CURLOPT_DEBUGFUNCTION, on_debug);
  curl_easy_setopt(c, CURLOPT_DEBUGDATA, &last_error_reply);
  curl_easy_setopt(c, CURLOPT_VERBOSE, 1L);
  const CURLcode rc = curl_easy_perform(c);
  if (rc == CURLE_OK) return;
  long code = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
  std::string what = "smtp " + url + ": ";
  if (rc == CURLE_USE_SSL_FAILED) {
    what += "the server does not offer STARTTLS, and the settings require it (smtp.starttls)";
  } else {
    what += errbuf[0] ? std::string(errbuf) : curl_easy_strerror(rc);
  }
  if (code >= 400 && !last_error_reply.empty()) what += " (server said: " + last_error_reply + ")";
  // SMTP's own classes: 4xx is "try again later", 5xx is final.
  const bool retriable = code >= 500 ? false : code >= 400 ? true : transient_curl_error(rc);
  throw SmtpError(what, code >= 400 ? static_cast<int>(code) : 0, retriable);
}

}  // namespace pipewright::notify
