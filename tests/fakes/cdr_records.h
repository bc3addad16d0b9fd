#pragma once
// Every record of every .cdr file in a directory (a test's CF card), decoded to JSON by the
// production decoder, files in name order; a file that does not decode is a test failure.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "controlplane/cdr/cdr_decode.h"

namespace tally::testing {

inline std::vector<nlohmann::ordered_json> decodedRecords(const std::string& dir) {
  std::vector<nlohmann::ordered_json> out;
  std::vector<std::string> files;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    if (e.path().extension() == ".cdr") {
      files.push_back(e.path());
    }
  }
  std::sort(files.begin(), files.end());
  for (const std::string& f : files) {
    auto r = cdr::decodeCdrFileToJson(f);
    EXPECT_TRUE(r.ok()) << f << ": " << r.error().message;
    if (r.ok()) {
      out.insert(out.end(), r->begin(), r->end());
    }
  }
  return out;
}

}  // namespace tally::testing
