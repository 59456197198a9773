#include "src/server/tls_context.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <csignal>
#include <utility>

#include "absl/strings/str_cat.h"
#include "src/server/tls_transport.h"

namespace muxchat::server {
namespace {

// The server's ALPN list in wire format (length-prefixed names), in order of
// preference: muxchat first, HTTP for /metrics and /healthz.
constexpr unsigned char kAlpnWire[] = {9,   'm', 'u', 'x', 'c', 'h', 'a', 't', '/', '1',
                                       8,   'h', 't', 't', 'p', '/', '1', '.', '1'};

// Picks the first of our protocols the client offers. A client that offers
// none of them still gets through without ALPN (NOACK): the first bytes
// inside TLS tell muxchat from HTTP anyway.
int SelectAlpn(SSL* /*ssl*/, const unsigned char** out, unsigned char* out_len, const unsigned char* in,
               unsigned int in_len, void* /*arg*/) {
  unsigned char* selected = nullptr;
  if (SSL_select_next_proto(&selected, out_len, kAlpnWire, sizeof kAlpnWire, in, in_len) !=
      OPENSSL_NPN_NEGOTIATED) {
    return SSL_TLSEXT_ERR_NOACK;
  }
  *out = selected;
  return SSL_TLSEXT_ERR_OK;
}

struct CtxFree {
  void operator()(SSL_CTX* ctx) const { SSL_CTX_free(ctx); }
};

}  // namespace

std::string DrainTlsErrors(absl::string_view fallback) {
  // The oldest entry is the cause ("No such file or directory"); later ones
  // only say which layers it went through.
  const unsigned long first = ERR_get_error();
  ERR_clear_error();
  if (first == 0) return std::string(fallback);
  // "error:0A000086:SSL routines::certificate verify failed": kept whole,
  // the code is what one searches for.
  char buf[256];
  ERR_error_string_n(first, buf, sizeof buf);
  return buf;
}

absl::StatusOr<std::unique_ptr<TlsContext>> TlsContext::Create(const TlsOptions& options) {
  // OpenSSL writes with write(2) and sendmsg(2) without MSG_NOSIGNAL (the
  // plain path's guard); a peer that resets must not kill the server.
  ::signal(SIGPIPE, SIG_IGN);
  absl::StatusOr<SSL_CTX*> ctx = BuildContext(options);
  if (!ctx.ok()) return ctx.status();
  std::unique_ptr<TlsContext> context(new TlsContext(options));
  context->ctx_ = *ctx;
  return context;
}

TlsContext::~TlsContext() { SSL_CTX_free(ctx_); }

absl::StatusOr<SSL_CTX*> TlsContext::BuildContext(const TlsOptions& options) {
  int min_version;
  if (options.min_version == "1.2") {
    min_version = TLS1_2_VERSION;
  } else if (options.min_version == "1.3") {
    min_version = TLS1_3_VERSION;
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("TLS minimum version '", options.min_version, "': expected 1.2 or 1.3"));
  }
  ERR_clear_error();
  std::unique_ptr<SSL_CTX, CtxFree> ctx(SSL_CTX_new(TLS_server_method()));
  if (ctx == nullptr) return absl::InternalError(DrainTlsErrors("SSL_CTX_new failed"));
  SSL_CTX_set_min_proto_version(ctx.get(), min_version);
  // No renegotiation: it serves no purpose here and has been a source of
  // denial-of-service and injection bugs. The transport also ends a
  // connection that tries it (see TlsTransport::InfoCallback).
  // KTLS: let the kernel encrypt records when it has the `tls` module, so
  // writes stay plain sendmsg; OpenSSL falls back silently otherwise.
  // No compression (CRIME); the client cannot steer cipher order.
  SSL_CTX_set_options(ctx.get(), SSL_OP_NO_RENEGOTIATION | SSL_OP_ENABLE_KTLS | SSL_OP_NO_COMPRESSION |
                                     SSL_OP_CIPHER_SERVER_PREFERENCE);
  // Not RELEASE_BUFFERS: under fan-out it frees and reallocates a member's
  // record buffers on every flush (measured: BENCHMARKS.md §5); idle
  // connections release them from the server's 500 ms sweep instead
  // (TlsTransport::ReleaseIdleBuffers, SSL_free_buffers).
  // PARTIAL_WRITE: SSL_write returns after each record, so the bytes that
  // went out can be consumed from the queue as they go.
  // ACCEPT_MOVING_WRITE_BUFFER: a retried write may gather the same bytes
  // into a different place (the staging copy or the segment itself).
  SSL_CTX_set_mode(ctx.get(), SSL_MODE_ENABLE_PARTIAL_WRITE |
                                  SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  // Connections are long-lived and clients do not resume: no session cache
  // and no TLS 1.3 tickets, so nothing is kept or sent for resumption.
  SSL_CTX_set_session_cache_mode(ctx.get(), SSL_SESS_CACHE_OFF);
  SSL_CTX_set_num_tickets(ctx.get(), 0);
  SSL_CTX_set_alpn_select_cb(ctx.get(), SelectAlpn, nullptr);

  if (SSL_CTX_use_certificate_chain_file(ctx.get(), options.cert_file.c_str()) != 1) {
    return absl::FailedPreconditionError(absl::StrCat("TLS certificate ", options.cert_file, ": ",
                                                      DrainTlsErrors("cannot load")));
  }
  if (SSL_CTX_use_PrivateKey_file(ctx.get(), options.key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
    if (ERR_GET_REASON(ERR_peek_last_error()) == X509_R_KEY_VALUES_MISMATCH) {
      return absl::FailedPreconditionError(absl::StrCat("TLS key ", options.key_file, " does not match ",
                                                        options.cert_file, ": ", DrainTlsErrors("mismatch")));
    }
    return absl::FailedPreconditionError(
        absl::StrCat("TLS key ", options.key_file, ": ", DrainTlsErrors("cannot load")));
  }
  if (SSL_CTX_check_private_key(ctx.get()) != 1) {
    return absl::FailedPreconditionError(absl::StrCat("TLS key ", options.key_file, " does not match ",
                                                      options.cert_file, ": ", DrainTlsErrors("mismatch")));
  }
  return ctx.release();
}

absl::Status TlsContext::Reload() {
  absl::StatusOr<SSL_CTX*> fresh = BuildContext(options_);
  if (!fresh.ok()) return fresh.status();
  // Established SSLs hold their own reference to the old context, so
  // dropping ours frees it only once the last of them is gone.
  SSL_CTX_free(std::exchange(ctx_, *fresh));
  ++generation_;
  return absl::OkStatus();
}

std::unique_ptr<Transport> TlsContext::NewServerTransport(int fd) {
  SSL* ssl = SSL_new(ctx_);
  if (ssl == nullptr) return nullptr;
  if (SSL_set_fd(ssl, fd) != 1) {
    SSL_free(ssl);
    return nullptr;
  }
  SSL_set_accept_state(ssl);
  return std::make_unique<TlsTransport>(ssl, fd);
}

}  // namespace muxchat::server
