// FuzzHttpRequestParser: the HTTP request parser must reach the same result
// (request fields, or error status) however the bytes are split, never read
// past its head limit, and account for every byte it consumed. See
// fuzz_targets.h.
#include <string>

#include "src/server/http_request_parser.h"
#include "src/wire/buffer.h"
#include "tests/fuzz/fuzz_targets.h"

namespace muxchat::fuzz {
namespace {

using server::HttpRequest;
using server::HttpRequestParser;

struct Outcome {
  HttpRequestParser::Result result = HttpRequestParser::Result::kNeedMore;
  int status = 0;
  std::string fields;  // the request's fields, joined, when complete
  size_t consumed = 0;
};

Outcome Parse(const std::string& bytes, const server::HttpParserLimits& limits, uint32_t seed) {
  HttpRequestParser parser(limits);
  wire::Buffer in(16);
  Outcome out;
  uint32_t rng = seed | 1u;
  size_t fed = 0;
  while (fed < bytes.size() && out.result == HttpRequestParser::Result::kNeedMore) {
    size_t piece = bytes.size() - fed;
    if (seed != 0) {
      rng ^= rng << 13;
      rng ^= rng >> 17;
      rng ^= rng << 5;
      piece = std::min<size_t>(piece, 1 + rng % 17);
    }
    in.Append(bytes.data() + fed, piece);
    fed += piece;
    const size_t before = in.ReadableBytes();
    out.result = parser.Feed(&in);
    out.consumed += before - in.ReadableBytes();
    FUZZ_CHECK(parser.head_bytes() == out.consumed);
    FUZZ_CHECK(parser.head_bytes() <= limits.max_head_bytes);
  }
  if (out.result == HttpRequestParser::Result::kError) {
    out.status = server::HttpStatusCode(parser.error_status());
    FUZZ_CHECK(out.status == 400 || out.status == 405 || out.status == 413 || out.status == 431);
  }
  if (out.result == HttpRequestParser::Result::kComplete) {
    const HttpRequest& r = parser.request();
    FUZZ_CHECK(!r.path.empty() && r.path[0] == '/');
    FUZZ_CHECK(r.version_major == 1 && (r.version_minor == 0 || r.version_minor == 1));
    out.fields = r.target + '\n' + r.path + '\n' + r.query + '\n' + r.host + '\n' + r.origin + '\n' +
                 r.connection + '\n' + r.upgrade + '\n' + r.sec_websocket_key + '\n' + r.sec_websocket_version +
                 '\n' + (r.method == HttpRequest::Method::kHead ? "HEAD" : "GET") +
                 (r.upgrade_requested ? "+upgrade" : "");
  }
  return out;
}

}  // namespace

int FuzzHttpRequestParser(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  server::HttpParserLimits limits;
  limits.max_head_bytes = 64 + data[0] * 32u;  // 64 B .. 8 KiB, so the limit is hit often
  limits.max_headers = 1 + data[0] % 16u;
  const uint32_t seed = data[1];
  const std::string bytes(reinterpret_cast<const char*>(data + 2), size - 2);
  const Outcome whole = Parse(bytes, limits, 0);
  const Outcome split = Parse(bytes, limits, seed == 0 ? 1 : seed);
  // A split can only tell a too-long head (431) earlier or later than the
  // syntax error inside it (400); every other outcome must match.
  const bool limit_race = (whole.status == 431 && split.status == 400) || (whole.status == 400 && split.status == 431);
  if (!limit_race) {
    FUZZ_CHECK(whole.result == split.result);
    FUZZ_CHECK(whole.status == split.status);
    FUZZ_CHECK(whole.fields == split.fields);
  }
  if (whole.result == HttpRequestParser::Result::kComplete) FUZZ_CHECK(whole.consumed == split.consumed);
  return 0;
}

}  // namespace muxchat::fuzz
