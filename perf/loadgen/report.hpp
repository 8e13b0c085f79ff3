// The load generator's results: one JSON object per measured step (written
// as JSON lines for scripts) and the summary tables printed from them, both
// from a live run and from a saved JSON-lines file.
// Thread safety: stateless free functions, safe from any thread.
#pragma once

#include <cstdio>
#include <istream>
#include <string>
#include <vector>

#include "ssehub/json_value.hpp"

namespace ssehub::bench {

// Rows whose "type" is "result" from a JSON-lines stream; other lines and
// lines that are not JSON objects are skipped.
std::vector<json::value> read_results(std::istream& in);

// Two tables: idle rows ("scenario":"idle") and publishing rows (the rest).
// Missing members print as "-".
void print_tables(std::FILE* out, const std::vector<json::value>& rows);

// A number with `digits` decimals, or "-" when `v` is absent or not a number.
std::string format_number(const json::value* v, int digits);

}  // namespace ssehub::bench
