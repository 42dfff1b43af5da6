# Sanitizer and fuzzing builds (docs/fuzzing.md; CMakePresets.json has `asan` and `tsan`).
#
#   PIPEWRIGHT_SANITIZE=address,undefined   ASan + UBSan on every target (clang or gcc)
#   PIPEWRIGHT_SANITIZE=thread              TSan on every target
#   PIPEWRIGHT_FUZZ=ON                      libFuzzer coverage on every target and one
#                                           fuzz_<target> binary per tests/fuzz target (clang)
# Without PIPEWRIGHT_FUZZ the fuzz targets still build, with a main that replays their corpus
# (tests/fuzz), so the seed and regression inputs run in every unit tier.

set(PIPEWRIGHT_SANITIZE "" CACHE STRING "Sanitizers for every target: address,undefined | thread")
option(PIPEWRIGHT_FUZZ "Build the libFuzzer targets of tests/fuzz (clang only)" OFF)

if(PIPEWRIGHT_SANITIZE)
  if(NOT PIPEWRIGHT_SANITIZE MATCHES "^(address|undefined|address,undefined|undefined,address|thread)$")
    message(FATAL_ERROR "PIPEWRIGHT_SANITIZE: address,undefined | address | undefined | thread, "
                        "not '${PIPEWRIGHT_SANITIZE}'")
  endif()
  # Every UBSan finding stops the program (a test then fails) instead of printing and going on;
  # frame pointers make the reports' stacks whole.
  add_compile_options(-fsanitize=${PIPEWRIGHT_SANITIZE} -fno-omit-frame-pointer
                      -fno-sanitize-recover=all)
  add_link_options(-fsanitize=${PIPEWRIGHT_SANITIZE})
  if(PIPEWRIGHT_SANITIZE MATCHES "undefined" AND CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    # vptr checks need the RTTI of uninstrumented system libraries (cpprestsdk, OpenCV) and
    # report their own classes; the other UB checks stay.
    add_compile_options(-fno-sanitize=vptr)
  endif()
endif()

if(PIPEWRIGHT_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    message(FATAL_ERROR "PIPEWRIGHT_FUZZ=ON needs clang (libFuzzer): configure with "
                        "-DCMAKE_CXX_COMPILER=clang++-14, or use the `asan` preset")
  endif()
  # Coverage for the fuzzer in every library it drives; the fuzz_* binaries add the driver.
  add_compile_options(-fsanitize=fuzzer-no-link)
endif()
