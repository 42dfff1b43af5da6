#pragma once
// A test fixture whose suite shares a control plane (no controller manager) with the CRDs of
// crds/ installed and a namespace "demo".

#include <gtest/gtest.h>

#include "tests/support/control_plane.h"
#include "tests/support/operator.h"
#include "tests/support/shared.h"

namespace pipewright::testing {

class CrdSuite : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    plane.start([] {
      ControlPlane::Options options;
      options.controller_manager = false;
      auto cp = ControlPlane::start(options);
      install_crds(*cp);
      cp->kubectl({"create", "namespace", "demo"});
      return cp;
    });
  }
  static void TearDownTestSuite() { plane.reset(); }
  void SetUp() override { ASSERT_TRUE(plane) << plane.error; }
  static inline Shared<ControlPlane> plane;
};

}  // namespace pipewright::testing
