# Issue 14 (hostile input): limits outside pkg/http (unit), and the abuse tests against real
# worker processes on a real Kafka (integration). One owner: the data-plane hostile-input work.
pw_test(limits_unit_test LABEL unit SOURCES unit/limits_test.cpp
  DEPS pipewright_testsupport pipewright::local yaml-cpp)
pw_test(abuse_test LABEL integration TIMEOUT 300 SOURCES integration/abuse_test.cpp
  DEPS pipewright_testsupport pipewright::plan opencv_core opencv_imgcodecs)
