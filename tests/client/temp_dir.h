// Test helper: a fresh directory under $TMPDIR (or /tmp), removed with its
// files (one level: the tests make no subdirectories but those they name) on destruction.
#ifndef MUXCHAT_TESTS_CLIENT_TEMP_DIR_H_
#define MUXCHAT_TESTS_CLIENT_TEMP_DIR_H_

#include <ftw.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstdio>
#include <string>

namespace muxchat::testing {

class TempDir {
 public:
  TempDir() {
    const char* base = std::getenv("TMPDIR");
    std::string pattern = std::string(base != nullptr && base[0] != '\0' ? base : "/tmp") + "/muxchat-test-XXXXXX";
    if (::mkdtemp(pattern.data()) != nullptr) path_ = pattern;
  }
  ~TempDir() {
    if (!path_.empty()) {
      ::nftw(
          path_.c_str(), [](const char* p, const struct stat*, int, struct FTW*) { return ::remove(p); }, 16,
          FTW_DEPTH | FTW_PHYS);
    }
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  std::string File(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

}  // namespace muxchat::testing

#endif  // MUXCHAT_TESTS_CLIENT_TEMP_DIR_H_
