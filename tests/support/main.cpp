// The main of every test binary: gtest plus the listener that keeps component logs on failure.
#include <gtest/gtest.h>
#include <signal.h>

namespace pipewright::testing {
void install_log_listener();
}

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  ::signal(SIGPIPE, SIG_IGN);
  pipewright::testing::install_log_listener();
  return RUN_ALL_TESTS();
}
