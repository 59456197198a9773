#include "src/server/web_root.h"

#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace muxchat::server {
namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// realpath(3) into a std::string; empty on failure.
std::string RealPath(const std::string& path) {
  char resolved[PATH_MAX];
  if (::realpath(path.c_str(), resolved) == nullptr) return "";
  return resolved;
}

// Reads a regular file of at most kMaxWebFileBytes; false otherwise.
bool ReadSmallFile(const std::string& path, std::string* out) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return false;
  struct stat st {};
  bool ok = ::fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && static_cast<uint64_t>(st.st_size) <= kMaxWebFileBytes;
  if (ok) {
    out->resize(static_cast<size_t>(st.st_size));
    size_t done = 0;
    while (done < out->size()) {
      const ssize_t n = ::read(fd, out->data() + done, out->size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;  // an error, or the file shrank under us
      done += static_cast<size_t>(n);
    }
    ok = done == out->size();
  }
  ::close(fd);
  return ok;
}

}  // namespace

absl::StatusOr<std::string> WebRelativePath(std::string_view url_path) {
  if (url_path.empty() || url_path.front() != '/') return absl::InvalidArgumentError("path must start with '/'");
  std::string decoded;
  decoded.reserve(url_path.size());
  for (size_t i = 0; i < url_path.size(); ++i) {
    char c = url_path[i];
    if (c == '%') {
      const int hi = i + 2 < url_path.size() ? HexValue(url_path[i + 1]) : -1;
      const int lo = hi >= 0 ? HexValue(url_path[i + 2]) : -1;
      if (lo < 0) return absl::InvalidArgumentError("bad percent escape");
      c = static_cast<char>(hi * 16 + lo);
      i += 2;
    }
    if (c == '\0') return absl::InvalidArgumentError("NUL in path");
    if (c == '\\') return absl::InvalidArgumentError("backslash in path");
    decoded.push_back(c);
  }
  if (decoded == "/") return std::string("index.html");
  const std::string_view rest = std::string_view(decoded).substr(1);
  for (absl::string_view segment : absl::StrSplit(absl::string_view(rest.data(), rest.size()), '/')) {
    if (segment.empty()) return absl::InvalidArgumentError("empty path segment");
    if (segment.front() == '.') return absl::InvalidArgumentError("'.', '..' or hidden path segment");
  }
  return std::string(rest);
}

std::string_view WebContentType(std::string_view file_name) {
  struct Type {
    std::string_view extension;
    std::string_view content_type;
  };
  static constexpr Type kTypes[] = {
      {".html", "text/html; charset=utf-8"},
      {".js", "text/javascript; charset=utf-8"},
      {".mjs", "text/javascript; charset=utf-8"},
      {".css", "text/css; charset=utf-8"},
      {".map", "application/json"},
      {".json", "application/json"},
      {".png", "image/png"},
      {".svg", "image/svg+xml"},
      {".ico", "image/x-icon"},
      {".txt", "text/plain; charset=utf-8"},
  };
  const size_t slash = file_name.rfind('/');
  const std::string_view base = slash == std::string_view::npos ? file_name : file_name.substr(slash + 1);
  const size_t dot = base.rfind('.');
  if (dot != std::string_view::npos && dot > 0) {
    const std::string_view ext = base.substr(dot);
    for (const Type& t : kTypes) {
      if (ext == t.extension) return t.content_type;
    }
  }
  return "application/octet-stream";
}

absl::StatusOr<WebRoot> WebRoot::Open(const std::string& dir) {
  const std::string real = RealPath(dir);
  if (real.empty()) return absl::NotFoundError(absl::StrCat(dir, ": ", std::strerror(errno)));
  struct stat st {};
  const std::string index = absl::StrCat(real, "/index.html");
  if (::stat(index.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) {
    return absl::NotFoundError(absl::StrCat(real, " has no index.html"));
  }
  return WebRoot(real == "/" ? std::string() : real);
}

HttpResponse WebRoot::Serve(std::string_view url_path) const {
  absl::StatusOr<std::string> relative = WebRelativePath(url_path);
  if (!relative.ok()) return HttpResponse::Text(HttpStatus::kBadRequest, "bad path");
  // Symlinks inside the root are followed only as far as the root: the
  // resolved file must still be below it.
  const std::string real = RealPath(absl::StrCat(dir_, "/", *relative));
  const std::string prefix = absl::StrCat(dir_, "/");
  HttpResponse r;
  if (real.empty() || real.compare(0, prefix.size(), prefix) != 0 || !ReadSmallFile(real, &r.body)) {
    return HttpResponse::Text(HttpStatus::kNotFound, "not found");
  }
  r.content_type = std::string(WebContentType(real));
  r.headers.push_back({"Content-Security-Policy", kWebContentSecurityPolicy});
  r.headers.push_back({"X-Content-Type-Options", "nosniff"});
  // Not fingerprinted: revalidate rather than keep a stale app.js.
  r.headers.push_back({"Cache-Control", "no-cache"});
  return r;
}

HttpResponse WebClientNotBuiltResponse() {
  return HttpResponse::Text(HttpStatus::kNotFound,
                            "the web client is not built: run scripts/web-build.sh (or point --web_root at a "
                            "built web/dist) and reload");
}

}  // namespace muxchat::server
