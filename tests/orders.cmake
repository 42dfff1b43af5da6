# The orders pipeline (orders-api, fraud, audit): its pure parts, then its workers as processes
# on a real Kafka.
pw_test(orders_unit_test LABEL unit SOURCES unit/orders_test.cpp unit/orders_fast_test.cpp
  unit/json_lines_test.cpp
  DEPS pipewright_testsupport pipewright::workers pipewright::json)
pw_test(orders_test LABEL integration TIMEOUT 600 SOURCES integration/orders_test.cpp
  DEPS pipewright_testsupport pipewright::plan pipewright::workers)
