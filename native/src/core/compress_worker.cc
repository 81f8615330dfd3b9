// The process-wide compression pool; see compress_worker.h.
#include "compress_worker.h"

#include <pthread.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>

#include "accumulator.h"

namespace kafka_turbo {
namespace core {
namespace {

size_t PoolSize() {
  // The online cores, as std::thread::hardware_concurrency() reports them (-1 when unknown).
  const long cores = sysconf(_SC_NPROCESSORS_ONLN);
  return std::min<size_t>(CompressPool::kMaxThreads, cores < 1 ? 1 : static_cast<size_t>(cores));
}

}  // namespace

CompressPool::CompressPool() : capacity_(PoolSize()) {}

CompressPool& CompressPool::Get() {
  // Never destroyed: its threads may still be blocked on its condition variable when the
  // process exits, and a static destructor would free them from under them.
  static CompressPool* pool = new CompressPool();
  return *pool;
}

void CompressPool::Run(CompressJob* job) {
  job->result = CompressBatchRecords(job->codec, job->level, job->batch, job->size, &job->result_size);
}

// @thread pool
void* CompressPool::ThreadMain(void* self) {
  static_cast<CompressPool*>(self)->Loop();
  return nullptr;
}

// @thread pool. Entered counted as idle (by the thread that started it).
void CompressPool::Loop() {
  MutexLock lock(mutex_);
  for (;;) {
    wake_.Wait(lock, [this] { return !queue_.empty(); });
    std::shared_ptr<CompressJob> job = std::move(queue_.front());
    queue_.pop_front();
    if (job->state != CompressJob::State::kQueued) continue;  // taken or cancelled already
    job->state = CompressJob::State::kRunning;
    job->ran_on_worker = true;
    ++started_;
    --idle_;
    lock.Unlock();
    Run(job.get());
    lock.Lock();
    ++idle_;
    ++ran_;
    job->state = CompressJob::State::kDone;
    if (job->orphaned) {
      // Its accumulator let go of it while it ran: the batch and the result are ours.
      std::free(job->batch);
      std::free(job->result);
      job->batch = nullptr;
      job->result = nullptr;
    } else {
      finished_.NotifyAll();
    }
  }
}

bool CompressPool::EnsureThreadsLocked() {
  if (refuse_for_test_) return false;  // as a process that can start no thread at all
  while (threads_ < capacity_ && idle_ < queue_.size()) {
    pthread_attr_t attr;
    if (pthread_attr_init(&attr) != 0) break;
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_t thread;
    const int rc = pthread_create(&thread, &attr, &CompressPool::ThreadMain, this);
    pthread_attr_destroy(&attr);
    if (rc != 0) break;  // EAGAIN at the thread limit: go on with the threads there are
    ++threads_;
    ++idle_;
  }
  return threads_ > 0;
}

bool CompressPool::Submit(const std::shared_ptr<CompressJob>* jobs, size_t n) {
  if (n == 0) return true;
  {
    MutexLock lock(mutex_);
    for (size_t i = 0; i < n; ++i) queue_.push_back(jobs[i]);
    if (!EnsureThreadsLocked()) {
      for (size_t i = 0; i < n; ++i) queue_.pop_back();
      return false;
    }
  }
  if (n == 1) {
    wake_.NotifyOne();
  } else {
    wake_.NotifyAll();
  }
  return true;
}

void CompressPool::RunIfQueued(const std::shared_ptr<CompressJob>& job) {
  {
    MutexLock lock(mutex_);
    if (job->state != CompressJob::State::kQueued) return;
    job->state = CompressJob::State::kRunning;  // the pool skips it
  }
  Run(job.get());
  MutexLock lock(mutex_);
  job->state = CompressJob::State::kDone;
}

void CompressPool::Take(const std::shared_ptr<CompressJob>& job) {
  // Not started: run it here rather than wait behind the queue.
  RunIfQueued(job);
  MutexLock lock(mutex_);
  finished_.Wait(lock, [&job] { return job->state == CompressJob::State::kDone; });
}

bool CompressPool::Cancel(const std::shared_ptr<CompressJob>& job) {
  MutexLock lock(mutex_);
  switch (job->state) {
    case CompressJob::State::kQueued:
      job->state = CompressJob::State::kDone;  // the pool skips it
      return true;
    case CompressJob::State::kRunning:
      job->orphaned = true;
      return false;
    case CompressJob::State::kDone:
      break;
  }
  lock.Unlock();
  std::free(job->result);
  job->result = nullptr;
  return true;
}

size_t CompressPool::threads() const {
  MutexLock lock(mutex_);
  return threads_;
}

uint64_t CompressPool::ran() const {
  MutexLock lock(mutex_);
  return ran_;
}

uint64_t CompressPool::started() const {
  MutexLock lock(mutex_);
  return started_;
}

bool CompressPool::IdleForTest() const {
  MutexLock lock(mutex_);
  if (started_ != ran_) return false;
  for (const auto& job : queue_) {
    if (job->state == CompressJob::State::kQueued) return false;
  }
  return true;
}

void CompressPool::RefuseThreadsForTest(bool refuse) {
  MutexLock lock(mutex_);
  refuse_for_test_ = refuse;
}

}  // namespace core
}  // namespace kafka_turbo
