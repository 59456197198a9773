// A Storage for ChatService tests: keeps the batches and reads it is handed
// and completes them only when the test says so (OK or failed), so a test
// can look at the moment between accepting a write and its commit.
#ifndef MUXCHAT_TESTS_SERVER_FAKE_STORAGE_H_
#define MUXCHAT_TESTS_SERVER_FAKE_STORAGE_H_

#include <sys/eventfd.h>
#include <unistd.h>

#include <deque>
#include <vector>

#include "src/server/storage.h"

namespace muxchat::server::testing {

class FakeStorage : public Storage {
 public:
  FakeStorage() : fd_(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {}
  ~FakeStorage() override { ::close(fd_); }

  int completion_fd() const override { return fd_; }
  void Submit(Batch batch) override { submitted_.push_back(std::move(batch)); }
  void Read(HistoryRead read) override { reads_.push_back(read); }
  void TakeCompletions(std::vector<CommitResult>* commits, std::vector<ReadResult>* reads) override {
    for (CommitResult& c : done_commits_) commits->push_back(std::move(c));
    for (ReadResult& r : done_reads_) reads->push_back(std::move(r));
    done_commits_.clear();
    done_reads_.clear();
  }
  void Close() override {}

  // The oldest submitted batch not yet completed, completed with `status`;
  // when it succeeds, its ops are appended to committed() and handed back
  // with the result, as SqliteStorage does.
  // `hand_back_ops` false: a Storage breaking that contract.
  void CompleteNext(absl::Status status = absl::OkStatus(), bool hand_back_ops = true) {
    Batch b = std::move(submitted_.front());
    submitted_.pop_front();
    CommitResult result{b.id, status, {}};
    if (status.ok()) {
      committed_.insert(committed_.end(), b.ops.begin(), b.ops.end());
      if (hand_back_ops) result.ops = std::move(b.ops);
    }
    done_commits_.push_back(std::move(result));
  }
  void AnswerRead(std::vector<MessageRecord> messages, uint64_t oldest_seq) {
    HistoryRead r = reads_.front();
    reads_.pop_front();
    done_reads_.push_back(ReadResult{r.id, absl::OkStatus(), std::move(messages), oldest_seq});
  }

  const std::deque<Batch>& submitted() const { return submitted_; }
  const std::deque<HistoryRead>& reads() const { return reads_; }
  const std::vector<StorageOp>& committed() const { return committed_; }

 private:
  const int fd_;
  std::deque<Batch> submitted_;
  std::deque<HistoryRead> reads_;
  std::vector<CommitResult> done_commits_;
  std::vector<ReadResult> done_reads_;
  std::vector<StorageOp> committed_;
};

}  // namespace muxchat::server::testing

#endif  // MUXCHAT_TESTS_SERVER_FAKE_STORAGE_H_
