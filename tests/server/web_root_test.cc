// WebRoot: which URL paths map to which files (traversal refused, encoded or
// not, and through symlinks), the Content-Types, and the headers the page is
// served with.
#include "src/server/web_root.h"

#include <sys/stat.h>
#include <unistd.h>

#include <string>

#include "absl/status/status.h"
#include "gtest/gtest.h"
#include "tests/test_certs.h"

namespace muxchat::server {
namespace {

using muxchat::testing::TempDir;

std::string HeaderValue(const HttpResponse& r, const std::string& name) {
  for (const auto& [n, v] : r.headers) {
    if (n == name) return v;
  }
  return "";
}

void ExpectRefused(const std::string& url_path) {
  absl::StatusOr<std::string> p = WebRelativePath(url_path);
  EXPECT_EQ(p.status().code(), absl::StatusCode::kInvalidArgument) << url_path << " -> " << p.value_or("");
}

TEST(WebRelativePath, RootIsIndexHtml) { EXPECT_EQ(WebRelativePath("/").value_or(""), "index.html"); }

TEST(WebRelativePath, PlainAndNestedPathsAreKept) {
  EXPECT_EQ(WebRelativePath("/app.js").value_or(""), "app.js");
  EXPECT_EQ(WebRelativePath("/assets/logo.png").value_or(""), "assets/logo.png");
}

TEST(WebRelativePath, PercentEscapesAreDecoded) {
  EXPECT_EQ(WebRelativePath("/a%20b.css").value_or(""), "a b.css");
}

TEST(WebRelativePath, DotDotIsRefused) {
  ExpectRefused("/..");
  ExpectRefused("/../etc/passwd");
  ExpectRefused("/assets/../../etc/passwd");
}

TEST(WebRelativePath, EncodedDotDotIsRefused) {
  ExpectRefused("/%2e%2e/etc/passwd");
  ExpectRefused("/%2E%2E%2Fetc%2Fpasswd");
  ExpectRefused("/assets%2f..%2f..%2fetc/passwd");
  ExpectRefused("/.%2e/etc/passwd");
}

TEST(WebRelativePath, BackslashesAreRefused) {
  ExpectRefused("/..\\etc\\passwd");
  ExpectRefused("/..%5cetc%5cpasswd");
}

TEST(WebRelativePath, DotAndHiddenSegmentsAreRefused) {
  ExpectRefused("/./index.html");
  ExpectRefused("/.git/config");
  ExpectRefused("/assets/.htpasswd");
}

TEST(WebRelativePath, EmptySegmentsAreRefused) {
  ExpectRefused("//etc/passwd");
  ExpectRefused("/assets/");
}

TEST(WebRelativePath, BadEscapesAndNulAreRefused) {
  ExpectRefused("/%zz");
  ExpectRefused("/%2");
  ExpectRefused("/index.html%00.png");
}

TEST(WebRelativePath, PathsNotStartingWithSlashAreRefused) {
  ExpectRefused("");
  ExpectRefused("index.html");
}

TEST(WebContentType, KnownExtensions) {
  EXPECT_EQ(WebContentType("index.html"), "text/html; charset=utf-8");
  EXPECT_EQ(WebContentType("app.js"), "text/javascript; charset=utf-8");
  EXPECT_EQ(WebContentType("style.css"), "text/css; charset=utf-8");
  EXPECT_EQ(WebContentType("app.js.map"), "application/json");
  EXPECT_EQ(WebContentType("/srv/web/logo.png"), "image/png");
  EXPECT_EQ(WebContentType("icon.svg"), "image/svg+xml");
}

TEST(WebContentType, UnknownOrMissingExtensionIsOctetStream) {
  EXPECT_EQ(WebContentType("data.bin"), "application/octet-stream");
  EXPECT_EQ(WebContentType("README"), "application/octet-stream");
  EXPECT_EQ(WebContentType("a.html/x"), "application/octet-stream");
}

TEST(WebRoot, OpenFailsForAMissingDirectory) {
  TempDir dir;
  EXPECT_EQ(WebRoot::Open(dir.path() + "/dist").status().code(), absl::StatusCode::kNotFound);
}

TEST(WebRoot, OpenFailsWithoutIndexHtml) {
  TempDir dir;
  dir.Write("app.js", "x");
  EXPECT_EQ(WebRoot::Open(dir.path()).status().code(), absl::StatusCode::kNotFound);
}

TEST(WebRoot, ServesIndexForSlashWithTypePolicyAndNosniff) {
  TempDir dir;
  dir.Write("index.html", "<!doctype html>");
  absl::StatusOr<WebRoot> root = WebRoot::Open(dir.path());
  ASSERT_TRUE(root.ok()) << root.status();
  const HttpResponse r = root->Serve("/");
  EXPECT_EQ(r.status, HttpStatus::kOk);
  EXPECT_EQ(r.body, "<!doctype html>");
  EXPECT_EQ(r.content_type, "text/html; charset=utf-8");
  EXPECT_EQ(HeaderValue(r, "Content-Security-Policy"), kWebContentSecurityPolicy);
  EXPECT_EQ(HeaderValue(r, "X-Content-Type-Options"), "nosniff");
}

TEST(WebRoot, ServesAnAssetInASubdirectory) {
  TempDir dir;
  dir.Write("index.html", "i");
  ASSERT_EQ(::mkdir((dir.path() + "/assets").c_str(), 0755), 0);
  dir.Write("assets/app.js", "console.log(1)");
  absl::StatusOr<WebRoot> root = WebRoot::Open(dir.path());
  ASSERT_TRUE(root.ok()) << root.status();
  const HttpResponse r = root->Serve("/assets/app.js");
  EXPECT_EQ(r.status, HttpStatus::kOk);
  EXPECT_EQ(r.body, "console.log(1)");
  EXPECT_EQ(r.content_type, "text/javascript; charset=utf-8");
}

TEST(WebRoot, MissingFileAndDirectoryAre404) {
  TempDir dir;
  dir.Write("index.html", "i");
  ASSERT_EQ(::mkdir((dir.path() + "/assets").c_str(), 0755), 0);
  absl::StatusOr<WebRoot> root = WebRoot::Open(dir.path());
  ASSERT_TRUE(root.ok()) << root.status();
  EXPECT_EQ(root->Serve("/nope.js").status, HttpStatus::kNotFound);
  EXPECT_EQ(root->Serve("/assets").status, HttpStatus::kNotFound);
}

TEST(WebRoot, TraversalIsRefusedWithoutReadingOutside) {
  TempDir outer;
  outer.Write("secret.txt", "secret");
  ASSERT_EQ(::mkdir((outer.path() + "/dist").c_str(), 0755), 0);
  outer.Write("dist/index.html", "i");
  absl::StatusOr<WebRoot> root = WebRoot::Open(outer.path() + "/dist");
  ASSERT_TRUE(root.ok()) << root.status();
  for (const char* path : {"/../secret.txt", "/%2e%2e/secret.txt", "/%2e%2e%2fsecret.txt"}) {
    const HttpResponse r = root->Serve(path);
    EXPECT_EQ(r.status, HttpStatus::kBadRequest) << path;
    EXPECT_NE(r.body, "secret") << path;
  }
}

TEST(WebRoot, ASymlinkLeadingOutOfTheRootIs404) {
  TempDir outer;
  outer.Write("secret.txt", "secret");
  ASSERT_EQ(::mkdir((outer.path() + "/dist").c_str(), 0755), 0);
  outer.Write("dist/index.html", "i");
  ASSERT_EQ(::symlink((outer.path() + "/secret.txt").c_str(), (outer.path() + "/dist/leak.txt").c_str()), 0);
  absl::StatusOr<WebRoot> root = WebRoot::Open(outer.path() + "/dist");
  ASSERT_TRUE(root.ok()) << root.status();
  const HttpResponse r = root->Serve("/leak.txt");
  EXPECT_EQ(r.status, HttpStatus::kNotFound);
  EXPECT_NE(r.body, "secret");
}

TEST(WebRoot, AFileOverTheCapIs404) {
  TempDir dir;
  dir.Write("index.html", "i");
  const std::string big = dir.Write("big.js", "");
  ASSERT_EQ(::truncate(big.c_str(), static_cast<off_t>(kMaxWebFileBytes) + 1), 0);
  absl::StatusOr<WebRoot> root = WebRoot::Open(dir.path());
  ASSERT_TRUE(root.ok()) << root.status();
  EXPECT_EQ(root->Serve("/big.js").status, HttpStatus::kNotFound);
}

TEST(WebClientNotBuiltResponse, Is404SayingHowToBuild) {
  const HttpResponse r = WebClientNotBuiltResponse();
  EXPECT_EQ(r.status, HttpStatus::kNotFound);
  EXPECT_NE(r.body.find("scripts/web-build.sh"), std::string::npos) << r.body;
}

}  // namespace
}  // namespace muxchat::server
