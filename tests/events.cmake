# The events pipeline (events-api, enrich, events-gateway) and the HTTP server's WebSocket and
# deferred answers it relies on.
pw_test(events_unit_test LABEL unit SOURCES unit/events_test.cpp unit/http_websocket_test.cpp
  DEPS pipewright_testsupport pipewright::workers pipewright::http prometheus-cpp::core)
pw_test(events_test LABEL integration TIMEOUT 600 SOURCES integration/events_test.cpp
  DEPS pipewright_testsupport pipewright::plan pipewright::workers PkgConfig::RDKAFKA)
