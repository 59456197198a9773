// Certificates made in-process for TLS tests: a throwaway CA (EC P-256) that
// issues server certificates with chosen subject alternative names, and a
// temporary directory to write their PEM files into. Shared by the server
// and client tests; header-only. Not thread-safe; test code only.
#ifndef MUXCHAT_TESTS_TEST_CERTS_H_
#define MUXCHAT_TESTS_TEST_CERTS_H_

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <stdexcept>
#include <string>

namespace muxchat::testing {

struct PemPair {
  std::string cert;
  std::string key;
};

namespace certs_internal {

struct KeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};
using Key = std::unique_ptr<EVP_PKEY, KeyFree>;
using Cert = std::unique_ptr<X509, X509Free>;

inline void Check(bool ok, const char* what) {
  if (!ok) throw std::runtime_error(std::string("test_certs: ") + what);
}

inline Key NewKey() {
  Key key(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  Check(key != nullptr, "EC key generation");
  return key;
}

inline void AddExt(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
  Check(ext != nullptr, value);
  X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
}

inline Cert NewCert(const std::string& common_name, EVP_PKEY* key, long serial) {
  Cert cert(X509_new());
  X509_set_version(cert.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), serial);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 24 * 3600);
  X509_set_pubkey(cert.get(), key);
  X509_NAME_add_entry_by_txt(X509_get_subject_name(cert.get()), "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(common_name.c_str()), -1, -1, 0);
  return cert;
}

inline std::string CertPem(X509* cert) {
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_X509(bio, cert);
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio, &data);
  std::string pem(data, static_cast<size_t>(len));
  BIO_free(bio);
  return pem;
}

inline std::string KeyPem(EVP_PKEY* key) {
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(bio, key, nullptr, nullptr, 0, nullptr, nullptr);
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio, &data);
  std::string pem(data, static_cast<size_t>(len));
  BIO_free(bio);
  return pem;
}

}  // namespace certs_internal

// A certificate authority that lives as long as the object.
class TestCa {
 public:
  explicit TestCa(const std::string& common_name = "muxchat test CA") : key_(certs_internal::NewKey()) {
    using namespace certs_internal;
    cert_ = NewCert(common_name, key_.get(), 1);
    X509_set_issuer_name(cert_.get(), X509_get_subject_name(cert_.get()));
    AddExt(cert_.get(), cert_.get(), NID_basic_constraints, "critical,CA:TRUE");
    AddExt(cert_.get(), cert_.get(), NID_key_usage, "critical,keyCertSign,cRLSign");
    AddExt(cert_.get(), cert_.get(), NID_subject_key_identifier, "hash");
    Check(X509_sign(cert_.get(), key_.get(), EVP_sha256()) > 0, "CA signature");
  }

  std::string cert_pem() const { return certs_internal::CertPem(cert_.get()); }

  // A server certificate for `common_name` with `subject_alt_names` in
  // OpenSSL's syntax ("DNS:localhost,IP:127.0.0.1,IP:::1").
  PemPair Issue(const std::string& common_name, const std::string& subject_alt_names) {
    using namespace certs_internal;
    Key key = NewKey();
    Cert cert = NewCert(common_name, key.get(), ++serial_);
    X509_set_issuer_name(cert.get(), X509_get_subject_name(cert_.get()));
    AddExt(cert.get(), cert_.get(), NID_basic_constraints, "critical,CA:FALSE");
    AddExt(cert.get(), cert_.get(), NID_ext_key_usage, "serverAuth");
    AddExt(cert.get(), cert_.get(), NID_subject_key_identifier, "hash");
    AddExt(cert.get(), cert_.get(), NID_authority_key_identifier, "keyid:always");
    AddExt(cert.get(), cert_.get(), NID_subject_alt_name, subject_alt_names.c_str());
    Check(X509_sign(cert.get(), key_.get(), EVP_sha256()) > 0, "leaf signature");
    return {CertPem(cert.get()), KeyPem(key.get())};
  }

 private:
  certs_internal::Key key_;
  certs_internal::Cert cert_;
  long serial_ = 1;
};

// A directory under $TMPDIR (or /tmp), removed with everything in it.
class TempDir {
 public:
  TempDir() {
    const char* base = std::getenv("TMPDIR");
    std::string pattern = std::string(base != nullptr && *base != '\0' ? base : "/tmp") + "/muxchat-tls-XXXXXX";
    certs_internal::Check(::mkdtemp(pattern.data()) != nullptr, "mkdtemp");
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  // Writes (replacing) `name` in the directory; returns its path.
  std::string Write(const std::string& name, const std::string& content) const {
    const std::string file = path_ + "/" + name;
    std::ofstream(file, std::ios::binary | std::ios::trunc) << content;
    return file;
  }

 private:
  std::string path_;
};

}  // namespace muxchat::testing

#endif  // MUXCHAT_TESTS_TEST_CERTS_H_
