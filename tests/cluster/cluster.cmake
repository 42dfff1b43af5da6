# cluster: the chart and the examples on a real one-node cluster (scripts/cluster up; needs root).
# It brings the cluster up when none runs (the first time also builds the images: minutes), and
# takes down what it brought up. Run it alone with `ctest -L cluster`.
pw_test(cluster_test LABEL cluster TIMEOUT 3600 SOURCES cluster/cluster_test.cpp
  DEPS pipewright_testsupport opencv_core opencv_imgproc opencv_imgcodecs)
# Nothing else may use the bridge or the node's ports while it runs.
set_tests_properties(cluster_test PROPERTIES RUN_SERIAL TRUE)
