#include "compress_worker.h"

#include <cstdlib>

#include "accumulator.h"

namespace kafka_turbo {
namespace core {

CompressWorker::CompressWorker(compress::CodecId codec, int level)
    : codec_(codec), level_(level), thread_([this] { Run(); }) {}

CompressWorker::~CompressWorker() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
  // Jobs never started hold no result; jobs finished hand theirs to whoever Take()s or
  // Cancel()s them (the owner does that before it destroys the worker).
}

void CompressWorker::Compress(CompressJob* job) const {
  job->result = CompressBatchRecords(codec_, level_, job->batch, job->size, &job->result_size);
}

// @thread worker
void CompressWorker::Run() {
  std::unique_lock<std::mutex> lock(mutex_);
  for (;;) {
    wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
    if (stopping_) return;
    std::shared_ptr<CompressJob> job = std::move(queue_.front());
    queue_.pop_front();
    if (job->started) continue;  // taken or cancelled by the owner already
    job->started = true;
    ++ran_on_worker_;
    lock.unlock();
    Compress(job.get());
    lock.lock();
    job->done = true;
    finished_.notify_all();
  }
}

void CompressWorker::Submit(const std::shared_ptr<CompressJob>& job) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    queue_.push_back(job);
  }
  wake_.notify_one();
}

void CompressWorker::Take(const std::shared_ptr<CompressJob>& job) {
  std::unique_lock<std::mutex> lock(mutex_);
  if (!job->started) {
    // Not started: run it here rather than wait behind the queue. The worker skips it.
    job->started = true;
    lock.unlock();
    Compress(job.get());
    lock.lock();
    job->done = true;
    return;
  }
  finished_.wait(lock, [&job] { return job->done; });
}

void CompressWorker::Cancel(const std::shared_ptr<CompressJob>& job) {
  std::unique_lock<std::mutex> lock(mutex_);
  if (!job->started) {
    job->started = true;
    job->done = true;
  } else {
    finished_.wait(lock, [&job] { return job->done; });
  }
  lock.unlock();
  std::free(job->result);
  job->result = nullptr;
}

uint64_t CompressWorker::ran_on_worker() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return ran_on_worker_;
}

}  // namespace core
}  // namespace kafka_turbo
