// One bounded pool of compression threads for the whole process: every accumulator of every
// Node.js environment (the main thread and each worker_thread loading the addon) submits
// its closed batches here, instead of each compressing accumulator starting a thread of its
// own (which left dozens of threads behind after producers were closed).
//
// Why a pool and not the JS thread: a batch that closed (it reached batch.size, or a later
// batch exists behind it) no longer changes, so a worker compresses it while the JS thread
// goes on appending; and batches drained before they closed (linger, flush) are submitted
// together and compressed in parallel, the JS thread taking its share, so one drain of many
// lingered batches does not cost their compression one after another on the event loop.
//
// The rules:
//  - Size: the number of cores the system reports (at least 1, at most kMaxThreads),
//    started lazily as work arrives. Threads are made with pthread_create, whose failure is
//    a return code (std::thread would throw, and with -fno-exceptions that ends the
//    process). When no thread can be started, Submit() says so and the caller compresses on
//    its own thread: slower, never wrong.
//  - Take() waits for a running job, or runs a queued one on the calling thread (never
//    waits behind the queue).
//  - Cancel() never waits: a queued job is dropped; a running one is handed off (its batch
//    and result become the worker's to free when it finishes), so destroying an accumulator
//    or tearing down an environment does not block on a long job (a zstd 19 job on a 4 MiB
//    batch took 892 ms).
//  - The pool itself lives until the process exits (threads blocked on its condition
//    variable cost nothing; joining them at exit would only add a way to hang).
//
// Plain C++ (no napi.h). @thread: Submit/Take/Cancel on an accumulator's thread (a JS
// thread); jobs run on the pool's threads or in Take().
#ifndef KAFKA_TURBO_CORE_COMPRESS_WORKER_H_
#define KAFKA_TURBO_CORE_COMPRESS_WORKER_H_

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <vector>

#include "../compress/codecs.h"
#include "sync.h"

namespace kafka_turbo {
namespace core {

struct CompressJob {
  compress::CodecId codec = compress::CodecId::kNone;
  int level = 0;
  // The batch: 61 header bytes, then the records. Owned by the accumulator, unchanged while
  // the job may run; a job cancelled while running owns it from then on (frees it).
  uint8_t* batch = nullptr;
  size_t size = 0;
  // The compressed copy (61 free bytes first, malloc'd, exactly result_size bytes), or null
  // when it was not smaller.
  uint8_t* result = nullptr;
  size_t result_size = 0;
  // Guarded by the pool's mutex.
  enum class State { kQueued, kRunning, kDone } state = State::kQueued;
  // Cancelled while running: the worker frees batch and result when it is done.
  bool orphaned = false;
  // It ran on a pool thread (not in Take()).
  bool ran_on_worker = false;
};

class CompressPool {
 public:
  static constexpr size_t kMaxThreads = 16;

  // The process's pool.
  static CompressPool& Get();

  // Queues the jobs (one lock, one wake-up for all). False when no pool thread runs and none
  // could be started: the jobs are not queued and the caller compresses them itself.
  bool Submit(const std::shared_ptr<CompressJob>* jobs, size_t n);
  bool Submit(const std::shared_ptr<CompressJob>& job) { return Submit(&job, 1); }
  // Waits for a running job, or runs a queued one here; afterwards job->result and
  // result_size are final and the caller's.
  void Take(const std::shared_ptr<CompressJob>& job);
  // Runs the job here if it is still queued (a job that never reached the queue counts as
  // queued); returns at once otherwise.
  void RunIfQueued(const std::shared_ptr<CompressJob>& job);
  // The caller is done with the job and never waits: true when the caller still owns the
  // batch (the job had not started, or it finished: its result is freed here); false when a
  // worker is running it and now owns the batch (it frees batch and result when done).
  bool Cancel(const std::shared_ptr<CompressJob>& job);

  // Pool threads started so far (tests: flat, whatever the number of accumulators).
  size_t threads() const;
  // Jobs the pool's threads finished so far.
  uint64_t ran() const;
  // Jobs a pool thread has picked up so far (running or finished).
  uint64_t started() const;
  // The most threads it will start.
  size_t capacity() const { return capacity_; }
  // Tests: no job is running and none is queued (jobs an earlier accumulator handed off are
  // all done), so ran() and started() stay where they are until the next Submit().
  bool IdleForTest() const;
  // Tests: behave as a process that can start no thread (Submit() refuses every job).
  void RefuseThreadsForTest(bool refuse);

  // Compresses job->batch into job->result (the work of a job, on whichever thread).
  static void Run(CompressJob* job);

 private:
  CompressPool();
  // Starts threads until there are min(capacity, queued jobs) of them, or creation fails.
  // Called with mutex_ held. False when there are none.
  bool EnsureThreadsLocked();
  static void* ThreadMain(void* self);
  void Loop();

  const size_t capacity_;
  // sync.h, not std::mutex: the prebuilt binaries link no C++ library.
  mutable Mutex mutex_;
  CondVar wake_;
  CondVar finished_;
  std::deque<std::shared_ptr<CompressJob>> queue_;
  size_t threads_ = 0;
  // Threads waiting for work (so that a submit starts a new thread only when none is idle).
  size_t idle_ = 0;
  uint64_t ran_ = 0;
  uint64_t started_ = 0;
  bool refuse_for_test_ = false;
};

}  // namespace core
}  // namespace kafka_turbo

#endif  // KAFKA_TURBO_CORE_COMPRESS_WORKER_H_
