#include "bench/load/process_memory.h"

#include <dirent.h>

#include <fstream>
#include <sstream>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace muxchat::bench {
namespace {

bool ReadWhole(const std::string& path, std::string* out) {
  std::ifstream f(path);
  if (!f) return false;
  std::ostringstream ss;
  ss << f.rdbuf();
  *out = ss.str();
  return true;
}

}  // namespace

void ParseProcMemoryText(absl::string_view text, ProcessMemory* m) {
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    const size_t colon = line.find(':');
    if (colon == absl::string_view::npos) continue;
    const absl::string_view name = line.substr(0, colon);
    int64_t* field = nullptr;
    if (name == "VmRSS") field = &m->vm_rss;
    else if (name == "RssAnon") field = &m->rss_anon;
    else if (name == "VmData") field = &m->vm_data;
    else if (name == "Private_Dirty") field = &m->private_dirty;
    else if (name == "Anonymous") field = &m->anonymous;
    if (field == nullptr) continue;
    absl::string_view value = absl::StripAsciiWhitespace(line.substr(colon + 1));
    if (!absl::ConsumeSuffix(&value, " kB")) continue;
    int64_t kib = 0;
    if (absl::SimpleAtoi(absl::StripAsciiWhitespace(value), &kib)) *field = kib * 1024;
  }
}

absl::StatusOr<ProcessMemory> ReadProcessMemory(pid_t pid) {
  ProcessMemory m;
  std::string text;
  const std::string dir = absl::StrCat("/proc/", pid);
  if (!ReadWhole(dir + "/status", &text)) return absl::NotFoundError(absl::StrCat("no process ", pid));
  ParseProcMemoryText(text, &m);
  if (ReadWhole(dir + "/smaps_rollup", &text)) ParseProcMemoryText(text, &m);
  if (DIR* d = ::opendir((dir + "/fd").c_str())) {
    m.open_fds = 0;
    while (dirent* e = ::readdir(d)) {
      if (e->d_name[0] != '.') ++m.open_fds;
    }
    ::closedir(d);
  }
  return m;
}

}  // namespace muxchat::bench
