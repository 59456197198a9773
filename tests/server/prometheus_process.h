// Test helper: a real Prometheus server (Debian package prometheus) as a
// child process on a free loopback port, scraping one target every second,
// with its HTTP API wrapped for tests: wait for the target to be up, query a
// series. Everything lives in a temporary directory removed on Stop(). The
// process is stopped by its PID (SIGTERM, then SIGKILL after 10 s).
#ifndef MUXCHAT_TESTS_SERVER_PROMETHEUS_PROCESS_H_
#define MUXCHAT_TESTS_SERVER_PROMETHEUS_PROCESS_H_

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "tests/server/http_test_client.h"

namespace muxchat::server::testing {

inline constexpr char kPrometheusPath[] = "/usr/bin/prometheus";

inline bool HavePrometheus() { return ::access(kPrometheusPath, X_OK) == 0; }

// A loopback port that was free a moment ago (bind to port 0, read, close).
// Prometheus cannot be told to pick its own port and report it, so Start()
// retries if another process takes the port in between.
inline uint16_t PickFreeLoopbackPort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  uint16_t port = 0;
  if (fd >= 0 && ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  if (fd >= 0) ::close(fd);
  return port;
}

// Percent-encodes a query parameter (PromQL has {}, ", = and spaces).
inline std::string UrlEncode(const std::string& s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '_' || c == '-' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

class PrometheusProcess {
 public:
  PrometheusProcess() = default;
  ~PrometheusProcess() { Stop(); }
  PrometheusProcess(const PrometheusProcess&) = delete;
  PrometheusProcess& operator=(const PrometheusProcess&) = delete;

  // Starts Prometheus scraping `target` ("127.0.0.1:PORT", path /metrics)
  // every second, and waits until it logs that it serves web requests.
  absl::Status Start(const std::string& target, absl::Duration timeout = absl::Seconds(30)) {
    char dir[] = "/tmp/muxchat-prometheus-XXXXXX";
    if (::mkdtemp(dir) == nullptr) return absl::InternalError("mkdtemp");
    dir_ = dir;
    {
      std::ofstream config(dir_ + "/prometheus.yml");
      config << "global:\n"
                "  scrape_interval: 1s\n"
                "  scrape_timeout: 1s\n"
                "scrape_configs:\n"
                "  - job_name: muxchat\n"
                "    static_configs:\n"
                "      - targets: ['"
             << target << "']\n";
    }
    absl::Status last = absl::UnavailableError("not started");
    for (int attempt = 0; attempt < 3; ++attempt) {
      port_ = PickFreeLoopbackPort();
      if (port_ == 0) return absl::InternalError("no free loopback port");
      last = Spawn(timeout);
      if (last.ok()) return last;
      Kill();
    }
    return last;
  }

  uint16_t port() const { return port_; }
  pid_t pid() const { return pid_; }

  // Polls /api/v1/targets until `target` reports health "up" (a scrape
  // every second, so a few polls). The error carries the last answer, which
  // includes Prometheus's lastError for the target.
  absl::Status WaitForTargetUp(const std::string& target, absl::Duration timeout = absl::Seconds(30)) {
    const absl::Time deadline = absl::Now() + timeout;
    std::string last;
    while (absl::Now() < deadline) {
      absl::StatusOr<HttpReply> r = HttpGet(port_, "/api/v1/targets?state=active");
      if (r.ok()) {
        last = r->body;
        // One target in this config: its object holds scrapeUrl and health.
        if (absl::StrContains(r->body, absl::StrCat("\"scrapeUrl\":\"http://", target, "/metrics\"")) &&
            absl::StrContains(r->body, "\"health\":\"up\"")) {
          return absl::OkStatus();
        }
      } else {
        last = std::string(r.status().message());
      }
      absl::SleepFor(absl::Milliseconds(100));  // nothing to await: the scrape runs on Prometheus's clock
    }
    return absl::DeadlineExceededError(absl::StrCat("target ", target, " not up; last /api/v1/targets: ", last,
                                                    "\n--- prometheus log:\n", Log()));
  }

  // The value of the first sample an instant query returns (as Prometheus
  // writes it, e.g. "42"), polling until the result is not empty.
  absl::StatusOr<std::string> QueryValue(const std::string& promql, absl::Duration timeout = absl::Seconds(30)) {
    const absl::Time deadline = absl::Now() + timeout;
    std::string last;
    while (absl::Now() < deadline) {
      absl::StatusOr<HttpReply> r = HttpGet(port_, "/api/v1/query?query=" + UrlEncode(promql));
      if (r.ok()) {
        last = r->body;
        // {"status":"success","data":{"resultType":"vector","result":[{"metric":{...},"value":[t,"v"]}]}}
        const size_t v = r->body.find("\"value\":[");
        if (r->status == 200 && v != std::string::npos) {
          const size_t open = r->body.find(",\"", v);
          const size_t close = open == std::string::npos ? open : r->body.find('"', open + 2);
          if (close != std::string::npos) return r->body.substr(open + 2, close - open - 2);
        }
        if (r->status != 200) return absl::InvalidArgumentError(absl::StrCat("query '", promql, "': ", r->body));
      }
      absl::SleepFor(absl::Milliseconds(100));
    }
    return absl::DeadlineExceededError(absl::StrCat("query '", promql, "' stayed empty; last answer: ", last));
  }

  // Everything Prometheus has logged so far (for failure messages).
  std::string Log() {
    std::lock_guard<std::mutex> lock(mu_);
    return log_;
  }

  // SIGTERM to the PID, then SIGKILL if it has not exited within 10 s; the
  // temporary directory is removed.
  void Stop() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      if (!WaitExit(absl::Seconds(10))) Kill();
    }
    Reap();
    if (!dir_.empty()) {
      std::error_code ignored;
      std::filesystem::remove_all(dir_, ignored);
      dir_.clear();
    }
  }

 private:
  absl::Status Spawn(absl::Duration timeout) {
    int err[2];
    if (::pipe2(err, O_CLOEXEC) != 0) return absl::InternalError("pipe");
    const std::string listen = absl::StrCat("--web.listen-address=127.0.0.1:", port_);
    const std::string config = absl::StrCat("--config.file=", dir_, "/prometheus.yml");
    const std::string storage = absl::StrCat("--storage.tsdb.path=", dir_, "/data");
    std::vector<std::string> args = {kPrometheusPath, config, storage, listen, "--log.level=info"};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    pid_ = ::fork();
    if (pid_ == 0) {
      const int devnull = ::open("/dev/null", O_RDWR);
      ::dup2(devnull, STDIN_FILENO);
      ::dup2(devnull, STDOUT_FILENO);
      ::dup2(err[1], STDERR_FILENO);
      ::execv(kPrometheusPath, argv.data());
      _exit(127);
    }
    ::close(err[1]);
    if (pid_ < 0) {
      ::close(err[0]);
      return absl::InternalError("fork");
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      ready_ = false;
      eof_ = false;
      log_.clear();
    }
    reader_ = std::thread([this, fd = err[0]] { ReadLog(fd); });
    std::unique_lock<std::mutex> lock(mu_);
    const bool done = cv_.wait_for(lock, absl::ToChronoSeconds(timeout), [this] { return ready_ || eof_; });
    if (ready_) return absl::OkStatus();
    return absl::UnavailableError(absl::StrCat(done ? "prometheus exited" : "prometheus not ready in time",
                                               "; its log:\n", log_));
  }

  // Collects stderr until EOF (the process exited), noting the ready line.
  void ReadLog(int fd) {
    char buf[4096];
    for (;;) {
      const ssize_t n = ::read(fd, buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      std::lock_guard<std::mutex> lock(mu_);
      if (n <= 0) {
        eof_ = true;
        cv_.notify_all();
        break;
      }
      log_.append(buf, static_cast<size_t>(n));
      if (!ready_ && absl::StrContains(log_, "Server is ready to receive web requests.")) {
        ready_ = true;
        cv_.notify_all();
      }
    }
    ::close(fd);
  }

  bool WaitExit(absl::Duration timeout) {
    const int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid_, 0));
    if (pidfd < 0) return false;
    pollfd p{pidfd, POLLIN, 0};
    const bool exited = ::poll(&p, 1, static_cast<int>(absl::ToInt64Milliseconds(timeout))) == 1;
    ::close(pidfd);
    return exited;
  }

  void Kill() {
    if (pid_ > 0) ::kill(pid_, SIGKILL);
    Reap();
  }

  void Reap() {
    if (pid_ > 0) {
      ::waitpid(pid_, nullptr, 0);
      pid_ = -1;
    }
    if (reader_.joinable()) reader_.join();
  }

  std::string dir_;
  uint16_t port_ = 0;
  pid_t pid_ = -1;
  std::thread reader_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool ready_ = false;
  bool eof_ = false;
  std::string log_;
};

}  // namespace muxchat::server::testing

#endif  // MUXCHAT_TESTS_SERVER_PROMETHEUS_PROCESS_H_
