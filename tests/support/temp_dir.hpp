// Test support: a directory of its own under /tmp (mkdtemp), removed with
// everything in it at the end of its scope.
#pragma once

#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>

namespace test {

struct temp_dir {
    std::string path;

    temp_dir() {
        char t[] = "/tmp/ssehub-test-XXXXXX";
        if (::mkdtemp(t) == nullptr) throw std::runtime_error("mkdtemp failed");
        path = t;
    }
    ~temp_dir() {
        std::error_code ec;
        std::filesystem::remove_all(path, ec);
    }
    temp_dir(const temp_dir&) = delete;
    temp_dir& operator=(const temp_dir&) = delete;

    std::string file(std::string_view name) const { return path + "/" + std::string(name); }
    // Writes `content` to the file `name`; returns its path.
    std::string write(std::string_view name, std::string_view content) const {
        const std::string p = file(name);
        std::ofstream(p, std::ios::binary | std::ios::trunc) << content;
        return p;
    }
    std::string read(std::string_view name) const {
        std::ifstream in(file(name), std::ios::binary);
        std::stringstream ss;
        ss << in.rdbuf();
        return ss.str();
    }
};

}  // namespace test
