import os
import re

from conan import ConanFile
from conan.tools.build import check_min_cppstd
from conan.tools.cmake import CMake, CMakeDeps, CMakeToolchain, cmake_layout
from conan.tools.files import copy, load, rmdir

required_conan_version = ">=2.0.9"


class SsehubConan(ConanFile):
    name = "ssehub"
    description = "Server-Sent Events hub for C++20 coroutine applications on standalone Asio"
    license = "BSL-1.0"
    topics = ("sse", "server-sent-events", "eventsource", "asio", "coroutines")
    package_type = "library"
    settings = "os", "arch", "compiler", "build_type"
    options = {
        "shared": [True, False],
        "fPIC": [True, False],
        "with_openssl": [True, False],
        "with_redis": [True, False],
    }
    default_options = {
        "shared": False,
        "fPIC": True,
        "with_openssl": False,
        "with_redis": False,
    }
    implements = ["auto_shared_fpic"]

    def set_version(self):
        # One source of truth: project(ssehub VERSION x.y.z) in the top-level CMakeLists.txt.
        if not self.version:
            text = load(self, os.path.join(self.recipe_folder, "..", "CMakeLists.txt"))
            self.version = re.search(r"project\(\s*ssehub\s+VERSION\s+([0-9.]+)", text).group(1)

    def export_sources(self):
        root = os.path.join(self.recipe_folder, "..")
        for pattern in ("CMakeLists.txt", "LICENSE*", "README.md", "cmake/*", "include/*",
                        "coro/*", "src/*", "tests/*"):
            copy(self, pattern, root, self.export_sources_folder)

    def layout(self):
        self.folders.root = ".."
        cmake_layout(self)

    def requirements(self):
        # Public headers include Asio's, so consumers need its headers too.
        self.requires("asio/[>=1.22.1 <2]", transitive_headers=True)
        if self.options.with_openssl:
            self.requires("openssl/[>=1.1 <4]", transitive_headers=True)
        if self.options.with_redis:
            self.requires("hiredis/[>=1.0 <2]")

    def build_requirements(self):
        self.test_requires("catch2/[>=2.13.10 <3]")

    def validate(self):
        check_min_cppstd(self, 20)

    @property
    def _run_tests(self):
        # Unit tests are opt-in (-c tools.build:skip_test=False): a package build stays short.
        return self.conf.get("tools.build:skip_test", check_type=bool) is False

    def generate(self):
        tc = CMakeToolchain(self)
        tc.cache_variables["SSEHUB_BUILD_TESTS"] = self._run_tests
        if self._run_tests:
            # The consumer tests build ssehub outside this toolchain: not for a package build.
            tc.cache_variables["SSEHUB_BUILD_CONSUMER_TESTS"] = False
        tc.cache_variables["SSEHUB_BUILD_EXAMPLES"] = False
        tc.cache_variables["SSEHUB_BUILD_PERF"] = False
        tc.cache_variables["SSEHUB_INSTALL"] = True
        tc.cache_variables["SSEHUB_WITH_OPENSSL"] = bool(self.options.with_openssl)
        tc.cache_variables["SSEHUB_WITH_REDIS"] = bool(self.options.with_redis)
        tc.generate()
        CMakeDeps(self).generate()

    def build(self):
        cmake = CMake(self)
        cmake.configure()
        cmake.build()
        if self._run_tests:
            cmake.test()

    def package(self):
        copy(self, "LICENSE*", self.source_folder, os.path.join(self.package_folder, "licenses"))
        CMake(self).install()
        rmdir(self, os.path.join(self.package_folder, "lib", "cmake"))
        rmdir(self, os.path.join(self.package_folder, "share"))

    def package_info(self):
        self.cpp_info.set_property("cmake_file_name", "ssehub")
        self.cpp_info.set_property("cmake_target_name", "ssehub::ssehub")

        coro = self.cpp_info.components["coro"]
        coro.set_property("cmake_target_name", "ssehub::coro")
        coro.requires = ["asio::asio"]
        coro.bindirs = []
        coro.libdirs = []

        core = self.cpp_info.components["ssehub"]
        core.set_property("cmake_target_name", "ssehub::ssehub")
        core.libs = ["ssehub"]
        core.requires = ["coro", "asio::asio"]
        if self.options.with_openssl:
            # Same as the CMake target: links OpenSSL::SSL and ::Crypto, defines SSEHUB_HAS_OPENSSL publicly.
            core.requires += ["openssl::ssl", "openssl::crypto"]
            core.defines = ["SSEHUB_HAS_OPENSSL=1"]
        if self.settings.os in ("Linux", "FreeBSD"):
            core.system_libs = ["pthread"]

        if self.options.with_redis:
            redis = self.cpp_info.components["redis"]
            redis.set_property("cmake_target_name", "ssehub::redis")
            redis.libs = ["ssehub_redis"]
            redis.requires = ["ssehub", "hiredis::hiredis"]
