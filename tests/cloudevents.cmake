# CloudEvents 1.0 (docs/messages.md): the envelope's pure parts, then the official Python and
# Go SDKs against real Kafka, the pipelines' workers and the HTTP binding.
pw_test(cloudevents_unit_test LABEL unit SOURCES unit/cloudevents_test.cpp
  DEPS pipewright_testsupport pipewright::runtime)
# Needs scripts/install's ce-go and CloudEvents venv (tests/infra/cloudevents).
pw_test(cloudevents_test LABEL integration TIMEOUT 600 SOURCES integration/cloudevents_test.cpp
  DEPS pipewright_testsupport pipewright::kafka opencv_core opencv_imgcodecs)
