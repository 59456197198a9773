// Runs every stored fuzz input (tests/fuzz/corpus/<target>/ seeds and
// tests/fuzz/regressions/<target>/ crashers once found) through the fuzz entry
// points under plain ctest, plus a few thousand deterministic mutations of the
// seeds, so a fixed bug stays fixed without libFuzzer or clang.
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tests/fuzz/fuzz_targets.h"

namespace muxchat::fuzz {
namespace {

namespace fs = std::filesystem;
using Entry = int (*)(const uint8_t*, size_t);

std::vector<std::string> ReadInputs(const std::string& target, const char* kind) {
  std::vector<std::string> out;
  const fs::path dir = fs::path(MUXCHAT_FUZZ_DIR) / kind / target;
  if (!fs::exists(dir)) return out;
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.is_regular_file() && e.path().filename().string()[0] != '.') files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());
  for (const auto& f : files) {
    std::ifstream in(f, std::ios::binary);
    out.emplace_back(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  return out;
}

void RunAll(Entry entry, const std::vector<std::string>& inputs) {
  for (const std::string& in : inputs) entry(reinterpret_cast<const uint8_t*>(in.data()), in.size());
}

// Byte flips, truncations, splices and insertions of the seeds.
void RunMutations(Entry entry, const std::vector<std::string>& seeds, int count) {
  std::mt19937 rng(1234);
  for (int i = 0; i < count && !seeds.empty(); ++i) {
    std::string s = seeds[rng() % seeds.size()];
    const int edits = 1 + static_cast<int>(rng() % 4);
    for (int e = 0; e < edits; ++e) {
      switch (rng() % 4) {
        case 0:
          if (!s.empty()) s[rng() % s.size()] = static_cast<char>(rng());
          break;
        case 1:
          if (!s.empty()) s.resize(rng() % s.size());
          break;
        case 2: {
          const std::string& other = seeds[rng() % seeds.size()];
          if (!other.empty()) s += other.substr(rng() % other.size());
          break;
        }
        default:
          s.insert(s.empty() ? 0 : rng() % s.size(), 1, static_cast<char>(rng()));
      }
    }
    entry(reinterpret_cast<const uint8_t*>(s.data()), s.size());
  }
}

TEST(FuzzCorpus, FrameDecoderSeedsAndRegressionsPass) {
  const auto seeds = ReadInputs("frame_decoder", "corpus");
  EXPECT_FALSE(seeds.empty()) << "no seeds under " << MUXCHAT_FUZZ_DIR;
  RunAll(FuzzFrameDecoder, seeds);
  RunAll(FuzzFrameDecoder, ReadInputs("frame_decoder", "regressions"));
}

TEST(FuzzCorpus, ChatServiceSeedsAndRegressionsPass) {
  const auto seeds = ReadInputs("chat_service", "corpus");
  EXPECT_FALSE(seeds.empty()) << "no seeds under " << MUXCHAT_FUZZ_DIR;
  RunAll(FuzzChatService, seeds);
  RunAll(FuzzChatService, ReadInputs("chat_service", "regressions"));
}

TEST(FuzzCorpus, WebSocketDecoderSeedsAndRegressionsPass) {
  const auto seeds = ReadInputs("websocket_decoder", "corpus");
  EXPECT_FALSE(seeds.empty()) << "no seeds under " << MUXCHAT_FUZZ_DIR;
  RunAll(FuzzWebSocketDecoder, seeds);
  RunAll(FuzzWebSocketDecoder, ReadInputs("websocket_decoder", "regressions"));
}

TEST(FuzzCorpus, WebSocketDecoderSurvivesSeedMutations) {
  RunMutations(FuzzWebSocketDecoder, ReadInputs("websocket_decoder", "corpus"), 10000);
}

TEST(FuzzCorpus, HttpRequestParserSeedsAndRegressionsPass) {
  const auto seeds = ReadInputs("http_request_parser", "corpus");
  EXPECT_FALSE(seeds.empty()) << "no seeds under " << MUXCHAT_FUZZ_DIR;
  RunAll(FuzzHttpRequestParser, seeds);
  RunAll(FuzzHttpRequestParser, ReadInputs("http_request_parser", "regressions"));
}

TEST(FuzzCorpus, HttpRequestParserSurvivesSeedMutations) {
  RunMutations(FuzzHttpRequestParser, ReadInputs("http_request_parser", "corpus"), 10000);
}

TEST(FuzzCorpus, FrameDecoderSurvivesSeedMutations) {
  RunMutations(FuzzFrameDecoder, ReadInputs("frame_decoder", "corpus"), 10000);
}

TEST(FuzzCorpus, ChatServiceSurvivesSeedMutations) {
  RunMutations(FuzzChatService, ReadInputs("chat_service", "corpus"), 10000);
}

TEST(FuzzCorpus, ConnectionFrontSeedsAndRegressionsPass) {
  const auto seeds = ReadInputs("connection_front", "corpus");
  EXPECT_FALSE(seeds.empty()) << "no seeds under " << MUXCHAT_FUZZ_DIR;
  RunAll(FuzzConnectionFront, seeds);
  RunAll(FuzzConnectionFront, ReadInputs("connection_front", "regressions"));
}

TEST(FuzzCorpus, ConnectionFrontSurvivesSeedMutations) {
  RunMutations(FuzzConnectionFront, ReadInputs("connection_front", "corpus"), 10000);
}

TEST(FuzzCorpus, ClusterPayloadSeedsAndRegressionsPass) {
  const auto seeds = ReadInputs("cluster_payload", "corpus");
  EXPECT_FALSE(seeds.empty()) << "no seeds under " << MUXCHAT_FUZZ_DIR;
  RunAll(FuzzClusterPayload, seeds);
  RunAll(FuzzClusterPayload, ReadInputs("cluster_payload", "regressions"));
}

TEST(FuzzCorpus, ClusterPayloadSurvivesSeedMutations) {
  RunMutations(FuzzClusterPayload, ReadInputs("cluster_payload", "corpus"), 10000);
}

}  // namespace
}  // namespace muxchat::fuzz
