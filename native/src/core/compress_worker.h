// Compresses closed batches on a thread of its own, so that a producer's JS thread goes on
// encoding the next records while the last full batch is being compressed.
//
// A batch is submitted when it closes (it reached batch.size, or a later batch exists behind
// it): its bytes no longer change. drain() takes the result with Take(); if the worker has
// not started the job yet, Take() runs it on the calling thread instead of waiting behind
// others; if it is running, Take() waits for it. A batch removed without being drained is
// Cancel()ed before its bytes are freed, so the worker never reads freed memory.
//
// Plain C++ (no napi.h). @thread: Submit/Take/Cancel on the owner's thread (the JS thread);
// the worker thread only runs jobs.
#ifndef KAFKA_TURBO_CORE_COMPRESS_WORKER_H_
#define KAFKA_TURBO_CORE_COMPRESS_WORKER_H_

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>

#include "../compress/codecs.h"

namespace kafka_turbo {
namespace core {

struct CompressJob {
  // The batch: 61 header bytes, then the records. Owned by the accumulator, unchanged while
  // the job may run.
  const uint8_t* batch = nullptr;
  size_t size = 0;
  // The compressed copy (61 free bytes first, malloc'd), or null when it was not smaller.
  uint8_t* result = nullptr;
  size_t result_size = 0;
  // Guarded by the worker's mutex.
  bool started = false;
  bool done = false;
};

class CompressWorker {
 public:
  CompressWorker(compress::CodecId codec, int level);
  // Stops the thread; jobs not started are dropped (their batches are freed by the owner).
  ~CompressWorker();
  CompressWorker(const CompressWorker&) = delete;
  CompressWorker& operator=(const CompressWorker&) = delete;

  void Submit(const std::shared_ptr<CompressJob>& job);
  // Waits for (or runs) the job; afterwards job->result / result_size are final and owned by
  // the caller.
  void Take(const std::shared_ptr<CompressJob>& job);
  // The job will not touch its batch any more; frees its result if there is one.
  void Cancel(const std::shared_ptr<CompressJob>& job);

  // Jobs run on the worker thread so far (for tests).
  uint64_t ran_on_worker() const;

 private:
  void Run();
  void Compress(CompressJob* job) const;

  const compress::CodecId codec_;
  const int level_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable finished_;
  std::deque<std::shared_ptr<CompressJob>> queue_;
  bool stopping_ = false;
  uint64_t ran_on_worker_ = 0;
  std::thread thread_;
};

}  // namespace core
}  // namespace kafka_turbo

#endif  // KAFKA_TURBO_CORE_COMPRESS_WORKER_H_
