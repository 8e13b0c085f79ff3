# Driver for the consumer tests; one ctest test = one `cmake -P` of this script.
#   cmake -DMODE=install|installed|subdirectory -DSOURCE_DIR=<ssehub> -DCONSUMER_DIR=<project>
#         -DWORK_DIR=<scratch> [-DGENERATOR=..] [-DCXX_COMPILER=..] [-DBUILD_TYPE=..]
#         [-DSHARED=ON|OFF] [-DUNITY=ON|OFF] [-DJOBS=n] [-DBUILD_DIR=<ssehub build> -DCONFIG=..] -P run_consumer.cmake
# install:      configure + build + install ssehub (tests/examples/perf OFF) into WORK_DIR/prefix,
#               check the exported targets carry no private flags, then build and run the
#               find_package consumer against that prefix.
# installed:    the same, but install the library that BUILD_DIR (the build running this test,
#               already built) has built instead of building it again: `cmake --install` of its
#               ssehub_runtime and ssehub_development components (CONFIG: multi-config generators).
# subdirectory: build (target `consumer` only) and run the consumer that does add_subdirectory(<ssehub>).
cmake_minimum_required(VERSION 3.20)

foreach(v MODE SOURCE_DIR CONSUMER_DIR WORK_DIR)
  if(NOT DEFINED ${v} OR "${${v}}" STREQUAL "")
    message(FATAL_ERROR "run_consumer.cmake: -D${v}=... is required")
  endif()
endforeach()
if(NOT BUILD_TYPE)
  set(BUILD_TYPE Release)
endif()
if(NOT DEFINED SHARED OR "${SHARED}" STREQUAL "")
  set(SHARED OFF)
endif()
if(NOT JOBS)
  include(ProcessorCount)
  ProcessorCount(JOBS)
  if(JOBS EQUAL 0)
    set(JOBS 2)
  endif()
endif()

set(common_args -DCMAKE_BUILD_TYPE=${BUILD_TYPE})
string(TOUPPER "${BUILD_TYPE}" build_type_upper)
if(GENERATOR)
  list(APPEND common_args -G "${GENERATOR}")
endif()
if(CXX_COMPILER)
  list(APPEND common_args -DCMAKE_CXX_COMPILER=${CXX_COMPILER})
endif()
if(UNITY)  # the calling build's CMAKE_UNITY_BUILD (tests/run.sh sets it): as fast to compile
  list(APPEND common_args -DCMAKE_UNITY_BUILD=ON)
endif()

function(step what)
  message(STATUS "[consumer/${MODE}] ${what}")
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "[consumer/${MODE}] ${what}: failed (${rc})")
  endif()
endfunction()

set(consumer_build "${WORK_DIR}/consumer-build")
file(REMOVE_RECURSE "${consumer_build}")

if(MODE STREQUAL "install" OR MODE STREQUAL "installed")
  set(prefix "${WORK_DIR}/prefix")
  file(REMOVE_RECURSE "${prefix}")
endif()
if(MODE STREQUAL "install")
  set(ssehub_build "${WORK_DIR}/ssehub-build")
  # From scratch: a cache left by an older configure would hide changed option defaults.
  file(REMOVE_RECURSE "${ssehub_build}")
  step("configure ssehub"
    "${CMAKE_COMMAND}" -S "${SOURCE_DIR}" -B "${ssehub_build}" ${common_args}
      -DBUILD_SHARED_LIBS=${SHARED}
      -DSSEHUB_BUILD_TESTS=OFF -DSSEHUB_BUILD_EXAMPLES=OFF -DSSEHUB_BUILD_PERF=OFF
      -DSSEHUB_INSTALL=ON -DSSEHUB_SANITIZE=
      "-DCMAKE_INSTALL_PREFIX=${prefix}")
  step("build ssehub" "${CMAKE_COMMAND}" --build "${ssehub_build}" --config ${BUILD_TYPE} --parallel ${JOBS})
  step("install ssehub" "${CMAKE_COMMAND}" --install "${ssehub_build}" --config ${BUILD_TYPE})
elseif(MODE STREQUAL "installed")
  if(NOT BUILD_DIR OR NOT EXISTS "${BUILD_DIR}/cmake_install.cmake")
    message(FATAL_ERROR "[consumer/installed] -DBUILD_DIR=<ssehub build with install rules> is required")
  endif()
  set(config_args "")
  if(CONFIG)
    set(config_args --config "${CONFIG}")
  endif()
  # Only the library's components: the examples (ssehub_basic) are not the package.
  foreach(component ssehub_runtime ssehub_development)
    step("install ssehub (${component}) from ${BUILD_DIR}"
      "${CMAKE_COMMAND}" --install "${BUILD_DIR}" ${config_args} --prefix "${prefix}" --component ${component})
  endforeach()
endif()
if(MODE STREQUAL "install" OR MODE STREQUAL "installed")
  # Consumers get include dirs, cxx_std_20 and dependency targets; never our own flags.
  file(GLOB_RECURSE exported "${prefix}/*/ssehubTargets*.cmake")
  if(NOT exported)
    message(FATAL_ERROR "[consumer/${MODE}] no ssehubTargets.cmake under ${prefix}")
  endif()
  foreach(f IN LISTS exported)
    file(READ "${f}" text)
    foreach(bad ssehub_private_flags INTERFACE_COMPILE_OPTIONS INTERFACE_LINK_OPTIONS
                ASIO_NO_DEPRECATED -Wall -fsanitize -std=)
      string(FIND "${text}" "${bad}" at)
      if(NOT at EQUAL -1)
        message(FATAL_ERROR "[consumer/${MODE}] ${f} forces '${bad}' on consumers")
      endif()
    endforeach()
  endforeach()
  foreach(h ssehub/hub.hpp ssehub/coro/error.hpp)
    if(NOT EXISTS "${prefix}/include/${h}")
      message(FATAL_ERROR "[consumer/${MODE}] ${prefix}/include/${h} not installed")
    endif()
  endforeach()

  step("configure find_package consumer"
    "${CMAKE_COMMAND}" -S "${CONSUMER_DIR}" -B "${consumer_build}" ${common_args}
      "-DCMAKE_PREFIX_PATH=${prefix}")
elseif(MODE STREQUAL "subdirectory")
  # What is checked is that the tree builds and links under add_subdirectory, not its code:
  # -O1 without debug information compiles the library 2.4x faster than -O2 -g (g++ 12,
  # src/connection/connection.cpp: 12.7 s against 30.8 s), and faster than -O0.
  step("configure add_subdirectory consumer"
    "${CMAKE_COMMAND}" -S "${CONSUMER_DIR}" -B "${consumer_build}" ${common_args}
      "-DCMAKE_CXX_FLAGS_${build_type_upper}=-O1 -DNDEBUG"
      -DBUILD_SHARED_LIBS=${SHARED}
      "-DSSEHUB_SOURCE_DIR=${SOURCE_DIR}")
else()
  message(FATAL_ERROR "run_consumer.cmake: MODE must be install, installed or subdirectory, not '${MODE}'")
endif()

# Only the consumer and what it links: under add_subdirectory that is ssehub itself, not the
# optional ssehub_redis, which the outer build compiles from the same CMake code anyway.
step("build consumer" "${CMAKE_COMMAND}" --build "${consumer_build}" --config ${BUILD_TYPE}
  --parallel ${JOBS} --target consumer)
step("run consumer" "${consumer_build}/bin/consumer")
message(STATUS "[consumer/${MODE}] passed")
