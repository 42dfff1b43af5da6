# Two helpers so each pkg/ and tests/ folder is a few lines.

include(${CMAKE_CURRENT_LIST_DIR}/sanitize.cmake)  # PIPEWRIGHT_SANITIZE, PIPEWRIGHT_FUZZ

set(PIPEWRIGHT_WARNINGS -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor -Wold-style-cast
    -Wcast-align -Woverloaded-virtual -Wimplicit-fallthrough)
# clang (the sanitizer builds) also refuses reserved identifiers (_Upper, __x, _x at file scope):
# at compile time in every file, where clang-tidy's bugprone-reserved-identifier cost a tenth of
# the lint's time, most of it spent in system headers.
if(CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
  list(APPEND PIPEWRIGHT_WARNINGS -Wreserved-identifier)
endif()
if(PIPEWRIGHT_WERROR)
  list(APPEND PIPEWRIGHT_WARNINGS -Werror)
  # GCC 12 at -O3 reports std::string copies as overlapping or uninitialised (GCC bugs 105329,
  # 105651): still shown, but they do not fail a Release build (the Dockerfile's).
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    list(APPEND PIPEWRIGHT_WARNINGS -Wno-error=restrict -Wno-error=maybe-uninitialized)
  endif()
endif()

# Debug information: line tables only (GCC -g1, clang -gline-tables-only), enough for file:line in
# backtraces, perf and the sanitizers' reports. Full -g cost a third of a first build's CPU for
# locals nobody reads in CI; -DPIPEWRIGHT_FULL_DEBUG_INFO=ON brings them back for gdb.
option(PIPEWRIGHT_FULL_DEBUG_INFO "Full -g debug information (local variables) in RelWithDebInfo" OFF)
if(NOT PIPEWRIGHT_FULL_DEBUG_INFO)
  if(CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    add_compile_options($<$<CONFIG:RelWithDebInfo>:-gline-tables-only>)
  else()
    add_compile_options($<$<CONFIG:RelWithDebInfo>:-g1>)
  endif()
endif()
# The tests' own sources (gtest cases, tests/support, the fuzz harnesses; not the libraries they
# test, not bench/) barely optimised: they are most of the build's sources and spend their time
# waiting on real components, not computing. GCC: -Og (one test file 6.7 s at -O1, 5.3 s).
# Under a sanitizer: -O0, where clang's ASan + UBSan instrumentation of optimised code is most of
# the compile (13.6 s at -O1, 5.9 s at -O0 for the same file); the code under test stays -O2 and
# every access of the tests' own code is still checked.
if(PIPEWRIGHT_SANITIZE)
  set(PIPEWRIGHT_TEST_OPTIMIZE $<$<CONFIG:RelWithDebInfo,Release>:-O0>)
elseif(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
  set(PIPEWRIGHT_TEST_OPTIMIZE $<$<CONFIG:RelWithDebInfo,Release>:-Og>)
else()
  set(PIPEWRIGHT_TEST_OPTIMIZE $<$<CONFIG:RelWithDebInfo,Release>:-O1>)
endif()

# pw_library(<area> SOURCES ... [PUBLIC_DEPS ...] [PRIVATE_DEPS ...])
# Makes pipewright_<area> with the alias pipewright::<area>; headers are included as
# "pkg/<area>/x.h" from the source root.
function(pw_library area)
  cmake_parse_arguments(ARG "" "" "SOURCES;PUBLIC_DEPS;PRIVATE_DEPS" ${ARGN})
  set(target pipewright_${area})
  add_library(${target} STATIC ${ARG_SOURCES})
  add_library(pipewright::${area} ALIAS ${target})
  target_include_directories(${target} PUBLIC ${PROJECT_SOURCE_DIR})
  target_compile_options(${target} PRIVATE ${PIPEWRIGHT_WARNINGS})
  target_link_libraries(${target} PUBLIC ${ARG_PUBLIC_DEPS} PRIVATE ${ARG_PRIVATE_DEPS})
endfunction()

# pw_binary(<name> SOURCES ... DEPS ...)
function(pw_binary name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_compile_options(${name} PRIVATE ${PIPEWRIGHT_WARNINGS})
  target_link_libraries(${name} PRIVATE ${ARG_DEPS})
endfunction()

# pw_test(<name> LABEL unit|integration|e2e|cluster SOURCES ... [DEPS ...] [TIMEOUT s])
# One gtest binary, registered with ctest as a whole (one process per binary keeps the real
# components a suite starts shared by its tests).
function(pw_test name)
  cmake_parse_arguments(ARG "" "LABEL;TIMEOUT" "SOURCES;DEPS" ${ARGN})
  if(NOT ARG_LABEL MATCHES "^(unit|integration|e2e|cluster|faults)$")
    message(FATAL_ERROR "pw_test(${name}): LABEL must be unit, integration, e2e, cluster or faults")
  endif()
  if(NOT ARG_TIMEOUT)
    set(ARG_TIMEOUT 300)
  endif()
  add_executable(${name} ${ARG_SOURCES})
  target_compile_options(${name} PRIVATE ${PIPEWRIGHT_WARNINGS} ${PIPEWRIGHT_TEST_OPTIMIZE})
  target_link_libraries(${name} PRIVATE ${ARG_DEPS} GTest::gtest GTest::gtest_main GTest::gmock)
  add_test(NAME ${name} COMMAND ${name} --gtest_color=no)
  # One test at a time (they start real components and some measure outages); only the lint,
  # which holds no lock, runs beside them (scripts/test runs ctest -j2).
  set_tests_properties(${name} PROPERTIES LABELS ${ARG_LABEL} TIMEOUT ${ARG_TIMEOUT}
    RESOURCE_LOCK pipewright_suite
    ENVIRONMENT "PIPEWRIGHT_SOURCE_DIR=${PROJECT_SOURCE_DIR};PIPEWRIGHT_TEST_LOGS=${PROJECT_BINARY_DIR}/test-logs")
endfunction()
