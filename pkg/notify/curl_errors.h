#pragma once
// Which libcurl failures another attempt may not meet (no connection, timeouts, a reply cut
// short): the one rule the SMTP and HTTP channels share. TLS verification, a missing STARTTLS, a
// bad URL or refused credentials fail the same way again.

#include <curl/curl.h>

namespace pipewright::notify {

inline bool transient_curl_error(CURLcode rc) {
  switch (rc) {
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_WEIRD_SERVER_REPLY:
      return true;
    default:
      return false;
  }
}

}  // namespace pipewright::notify
