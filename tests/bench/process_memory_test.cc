#include "bench/load/process_memory.h"

#include <unistd.h>

#include "bench/load/idle_connections.h"
#include <gtest/gtest.h>

namespace muxchat::bench {
namespace {

TEST(ProcessMemory, ParsesStatusFieldsInBytes) {
  ProcessMemory m;
  ParseProcMemoryText("Name:\tmuxchatd\nVmData:\t     966 kB\nVmRSS:\t    7452 kB\nRssAnon:\t     816 kB\n"
                      "RssFile:\t    6636 kB\nThreads:\t1\n",
                      &m);
  EXPECT_EQ(m.vm_rss, 7452 * 1024);
  EXPECT_EQ(m.rss_anon, 816 * 1024);
  EXPECT_EQ(m.vm_data, 966 * 1024);
  EXPECT_EQ(m.private_dirty, -1);
}

TEST(ProcessMemory, ParsesSmapsRollupFields) {
  ProcessMemory m;
  ParseProcMemoryText("55f0b20f0000-7ffff7131000 ---p 00000000 00:00 0   [rollup]\nRss:   1612 kB\n"
                      "Private_Dirty:       112 kB\nAnonymous:           120 kB\nAnonHugePages:  0 kB\n",
                      &m);
  EXPECT_EQ(m.private_dirty, 112 * 1024);
  EXPECT_EQ(m.anonymous, 120 * 1024);
  EXPECT_EQ(m.vm_rss, -1);  // smaps' "Rss" is not status' VmRSS
}

TEST(ProcessMemory, IgnoresLinesWithoutKilobytes) {
  ProcessMemory m;
  ParseProcMemoryText("VmRSS:\tlots\nRssAnon: 12\n", &m);
  EXPECT_EQ(m.vm_rss, -1);
  EXPECT_EQ(m.rss_anon, -1);
}

TEST(ProcessMemory, ReadsThisProcess) {
  absl::StatusOr<ProcessMemory> m = ReadProcessMemory(getpid());
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_GT(m->vm_rss, 0);
  EXPECT_GT(m->rss_anon, 0);
  EXPECT_GT(m->open_fds, 2);
}

TEST(ProcessMemory, PerConnectionIsTheDeltaOverCount) {
  EXPECT_DOUBLE_EQ(PerConnection(1000, 41000, 10), 4000);
  EXPECT_DOUBLE_EQ(PerConnection(-1, 41000, 10), -1);
  EXPECT_DOUBLE_EQ(PerConnection(1000, 41000, 0), -1);
}

}  // namespace
}  // namespace muxchat::bench
