# Install rules and the CMake package (find_package(ssehub CONFIG)).
# Included from the top-level CMakeLists.txt when SSEHUB_INSTALL is ON.
#
# Exported: ssehub::ssehub, ssehub::coro (and ssehub::redis, ssehub::h2, ssehub::mercure, ssehub::nats
# when built; ssehub::nats only when libnats came from pkg-config, which the installed config can find
# again). Never exported:
# ssehub_private_flags (warnings, sanitizers, ASIO_NO_DEPRECATED) — `ssehub` links it as
# $<BUILD_INTERFACE:...>, which install(EXPORT) drops, so consumers get only cxx_std_20.

include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

# Optional dependencies; recorded in ssehubConfig.cmake so consumers find the same ones.
option(SSEHUB_WITH_OPENSSL "Build ssehub with OpenSSL (TLS)" OFF)
option(SSEHUB_WITH_REDIS "Build ssehub with hiredis (ssehub::redis)" OFF)
option(SSEHUB_WITH_H2 "Build ssehub with nghttp2 (ssehub::h2)" OFF)
option(SSEHUB_WITH_NATS "Build ssehub with the NATS C client (ssehub::nats)" OFF)
set(SSEHUB_EXPORT_NATS OFF)
if(TARGET ssehub_nats AND TARGET PkgConfig::LIBNATS)
  set(SSEHUB_EXPORT_NATS ON)
endif()
option(SSEHUB_WITH_MERCURE "Build ssehub::mercure (needs RE2 and OpenSSL)" OFF)

set(SSEHUB_INSTALL_CMAKEDIR "${CMAKE_INSTALL_LIBDIR}/cmake/ssehub"
  CACHE STRING "Where ssehubConfig.cmake is installed, relative to the prefix")
mark_as_advanced(SSEHUB_INSTALL_CMAKEDIR)

# Public headers: include/ssehub and coro/ssehub/coro both land in <prefix>/include/ssehub.
install(DIRECTORY "${PROJECT_SOURCE_DIR}/include/" "${PROJECT_SOURCE_DIR}/coro/"
  DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}"
  COMPONENT ssehub_development
  FILES_MATCHING PATTERN "*.hpp" PATTERN "*.ipp")

set(_ssehub_export_targets ssehub ssehub_coro)
if(TARGET ssehub_redis)
  list(APPEND _ssehub_export_targets ssehub_redis)
endif()
if(TARGET ssehub_h2)
  list(APPEND _ssehub_export_targets ssehub_h2)
endif()
if(SSEHUB_EXPORT_NATS)
  list(APPEND _ssehub_export_targets ssehub_nats)
endif()
if(TARGET ssehub_mercure)
  list(APPEND _ssehub_export_targets ssehub_mercure)
endif()
install(TARGETS ${_ssehub_export_targets}
  EXPORT ssehubTargets
  RUNTIME DESTINATION "${CMAKE_INSTALL_BINDIR}" COMPONENT ssehub_runtime
  LIBRARY DESTINATION "${CMAKE_INSTALL_LIBDIR}" COMPONENT ssehub_runtime
          NAMELINK_COMPONENT ssehub_development
  ARCHIVE DESTINATION "${CMAKE_INSTALL_LIBDIR}" COMPONENT ssehub_development)
unset(_ssehub_export_targets)

install(EXPORT ssehubTargets
  NAMESPACE ssehub::
  FILE ssehubTargets.cmake
  DESTINATION "${SSEHUB_INSTALL_CMAKEDIR}"
  COMPONENT ssehub_development)

# Where asio.hpp was found at build time: only a hint for the installed config.
set(SSEHUB_ASIO_INCLUDE_HINT "")
if(SSEHUB_ASIO_INCLUDE_DIR)
  set(SSEHUB_ASIO_INCLUDE_HINT "${SSEHUB_ASIO_INCLUDE_DIR}")
endif()
configure_package_config_file(
  "${CMAKE_CURRENT_LIST_DIR}/ssehubConfig.cmake.in"
  "${PROJECT_BINARY_DIR}/ssehubConfig.cmake"
  INSTALL_DESTINATION "${SSEHUB_INSTALL_CMAKEDIR}"
  NO_SET_AND_CHECK_MACRO
  NO_CHECK_REQUIRED_COMPONENTS_MACRO)
write_basic_package_version_file(
  "${PROJECT_BINARY_DIR}/ssehubConfigVersion.cmake"
  VERSION "${PROJECT_VERSION}"
  COMPATIBILITY SameMajorVersion)
# The licence travels with the headers and libraries (share/doc/ssehub/LICENSE).
install(FILES "${PROJECT_SOURCE_DIR}/LICENSE"
  DESTINATION "${CMAKE_INSTALL_DOCDIR}"
  COMPONENT ssehub_development)

install(FILES
  "${PROJECT_BINARY_DIR}/ssehubConfig.cmake"
  "${PROJECT_BINARY_DIR}/ssehubConfigVersion.cmake"
  DESTINATION "${SSEHUB_INSTALL_CMAKEDIR}"
  COMPONENT ssehub_development)

# The example server, so an install can be tried without writing code.
if(TARGET ssehub_basic)
  if(BUILD_SHARED_LIBS)
    set_property(TARGET ssehub_basic APPEND PROPERTY
      INSTALL_RPATH "$ORIGIN/../${CMAKE_INSTALL_LIBDIR}")
  endif()
  install(TARGETS ssehub_basic
    RUNTIME DESTINATION "${CMAKE_INSTALL_BINDIR}" COMPONENT ssehub_examples)
endif()
