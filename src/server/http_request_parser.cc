#include "src/server/http_request_parser.h"

#include <http_parser.h>

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace muxchat::server {
namespace {

// A header name longer than this is none of ours; only its prefix is kept.
constexpr size_t kMaxFieldNameBytes = 32;

}  // namespace

struct HttpRequestParser::Impl {
  http_parser parser;
  http_parser_settings settings;
};

// The C callbacks, with access to the parser's private state. Each returns 0
// to go on; non-zero stops http_parser_execute with an HPE_CB_* error after
// Fail() has recorded the status to answer.
struct HttpRequestParser::Callbacks {
  static HttpRequestParser* Self(http_parser* p) { return static_cast<HttpRequestParser*>(p->data); }

  static int OnUrl(http_parser* p, const char* at, size_t n) {
    HttpRequestParser* self = Self(p);
    if (p->method != HTTP_GET && p->method != HTTP_HEAD) {
      self->Fail(HttpStatus::kMethodNotAllowed,
                 absl::StrCat("method ", http_method_str(static_cast<http_method>(p->method)), " not allowed"));
      return 1;
    }
    self->request_.target.append(at, n);
    return 0;
  }

  static int OnHeaderField(http_parser* p, const char* at, size_t n) {
    HttpRequestParser* self = Self(p);
    if (self->in_value_ || self->header_count_ == 0) {  // a new header starts
      if (++self->header_count_ > self->limits_.max_headers) {
        self->Fail(HttpStatus::kHeaderFieldsTooLarge,
                   absl::StrCat("more than ", self->limits_.max_headers, " header fields"));
        return 1;
      }
      self->in_value_ = false;
      self->field_.clear();
    }
    const size_t room = kMaxFieldNameBytes + 1 - std::min(self->field_.size(), kMaxFieldNameBytes + 1);
    self->field_.append(at, std::min(n, room));
    return 0;
  }

  static int OnHeaderValue(http_parser* p, const char* at, size_t n) {
    HttpRequestParser* self = Self(p);
    if (!self->in_value_) {  // the first piece of this header's value
      self->in_value_ = true;
      if (!self->StartValue()) return 1;
    }
    if (self->value_ != nullptr) self->value_->append(at, n);
    return 0;
  }

  static int OnHeadersComplete(http_parser* p) {
    HttpRequestParser* self = Self(p);
    if ((p->flags & F_CHUNKED) != 0 || p->uses_transfer_encoding ||
        ((p->flags & F_CONTENTLENGTH) != 0 && p->content_length > 0)) {
      self->Fail(HttpStatus::kPayloadTooLarge, "a GET or HEAD request with a body");
      return 3;  // any value but 0, 1, 2 is an error
    }
    self->request_.method = p->method == HTTP_HEAD ? HttpRequest::Method::kHead : HttpRequest::Method::kGet;
    self->request_.version_major = p->http_major;
    self->request_.version_minor = p->http_minor;
    self->request_.upgrade_requested = p->upgrade != 0;
    return self->FinishHead() ? 0 : 3;
  }

  static int OnMessageComplete(http_parser* p) {
    Self(p)->result_ = Result::kComplete;
    http_parser_pause(p, 1);  // one request: stop right after its head
    return 0;
  }
};

HttpRequestParser::HttpRequestParser(HttpParserLimits limits) : limits_(limits), impl_(std::make_unique<Impl>()) {
  http_parser_init(&impl_->parser, HTTP_REQUEST);
  impl_->parser.data = this;
  http_parser_settings_init(&impl_->settings);
  impl_->settings.on_url = &Callbacks::OnUrl;
  impl_->settings.on_header_field = &Callbacks::OnHeaderField;
  impl_->settings.on_header_value = &Callbacks::OnHeaderValue;
  impl_->settings.on_headers_complete = &Callbacks::OnHeadersComplete;
  impl_->settings.on_message_complete = &Callbacks::OnMessageComplete;
}

HttpRequestParser::~HttpRequestParser() = default;

HttpRequestParser::Result HttpRequestParser::Fail(HttpStatus status, std::string why) {
  if (result_ != Result::kError) {
    result_ = Result::kError;
    error_status_ = status;
    error_ = std::move(why);
  }
  return result_;
}

// Chooses where the value of the header named field_ goes. Returns false
// (after Fail) for a second Host.
bool HttpRequestParser::StartValue() {
  struct Known {
    const char* name;
    std::string HttpRequest::*member;
  };
  static constexpr Known kKnown[] = {
      {"host", &HttpRequest::host},
      {"origin", &HttpRequest::origin},
      {"connection", &HttpRequest::connection},
      {"upgrade", &HttpRequest::upgrade},
      {"sec-websocket-key", &HttpRequest::sec_websocket_key},
      {"sec-websocket-version", &HttpRequest::sec_websocket_version},
  };
  value_ = nullptr;
  for (size_t i = 0; i < sizeof kKnown / sizeof kKnown[0]; ++i) {
    if (!absl::EqualsIgnoreCase(field_, kKnown[i].name)) continue;
    const unsigned bit = 1u << i;
    value_ = &(request_.*kKnown[i].member);
    if ((seen_ & bit) != 0) {
      if (i == 0) {
        Fail(HttpStatus::kBadRequest, "more than one Host header");
        return false;
      }
      value_->append(", ");
    }
    seen_ |= bit;
    return true;
  }
  return true;
}

bool HttpRequestParser::FinishHead() {
  const http_parser& p = impl_->parser;
  if (p.http_major != 1 || p.http_minor > 1) {
    Fail(HttpStatus::kBadRequest, absl::StrCat("unsupported version HTTP/", p.http_major, ".", p.http_minor));
    return false;
  }
  if (p.http_minor == 1 && (seen_ & 1u) == 0) {
    Fail(HttpStatus::kBadRequest, "HTTP/1.1 request without Host");
    return false;
  }
  http_parser_url url;
  http_parser_url_init(&url);
  if (request_.target.empty() || request_.target[0] == '*' ||
      http_parser_parse_url(request_.target.data(), request_.target.size(), /*is_connect=*/0, &url) != 0) {
    Fail(HttpStatus::kBadRequest, "request target is not a path or URL");
    return false;
  }
  auto field = [&](int f) -> std::string {
    if ((url.field_set & (1u << f)) == 0) return "";
    return request_.target.substr(url.field_data[f].off, url.field_data[f].len);
  };
  request_.path = field(UF_PATH);
  if (request_.path.empty()) request_.path = "/";
  request_.query = field(UF_QUERY);
  return true;
}

HttpRequestParser::Result HttpRequestParser::Feed(wire::Buffer* in) {
  if (result_ != Result::kNeedMore) return result_;
  // Never past the head limit: what lies beyond it is not parsed at all.
  const size_t n = std::min(in->ReadableBytes(), limits_.max_head_bytes - head_bytes_);
  if (n == 0) {  // zero bytes would mean EOF to http_parser
    if (head_bytes_ >= limits_.max_head_bytes) {
      return Fail(HttpStatus::kHeaderFieldsTooLarge,
                  absl::StrCat("request head longer than ", limits_.max_head_bytes, " bytes"));
    }
    return result_;
  }
  const size_t used = http_parser_execute(&impl_->parser, &impl_->settings, in->Peek(), n);
  in->Consume(used);
  head_bytes_ += used;
  const http_errno err = HTTP_PARSER_ERRNO(&impl_->parser);
  if (result_ == Result::kComplete || result_ == Result::kError) return result_;
  if (err != HPE_OK) {
    // The method is whole once any later part fails. Without this, whether a
    // malformed POST got 405 or 400 would depend on how its bytes were split
    // (on_url fires at the end of each piece, not only at the end of the URL).
    const unsigned method = impl_->parser.method;
    if (err != HPE_INVALID_METHOD && method != HTTP_GET && method != HTTP_HEAD) {
      return Fail(HttpStatus::kMethodNotAllowed,
                  absl::StrCat("method ", http_method_str(static_cast<http_method>(method)), " not allowed"));
    }
    return Fail(err == HPE_HEADER_OVERFLOW ? HttpStatus::kHeaderFieldsTooLarge : HttpStatus::kBadRequest,
                http_errno_description(err));
  }
  if (head_bytes_ >= limits_.max_head_bytes) {
    return Fail(HttpStatus::kHeaderFieldsTooLarge,
                absl::StrCat("request head longer than ", limits_.max_head_bytes, " bytes"));
  }
  return result_;
}

}  // namespace muxchat::server
