// A mutex and a condition variable over pthreads, for the compression pool.
//
// Why not std::mutex / std::condition_variable: their members are compiled into the C++
// library (libc++'s mutex.cpp, condition_variable.cpp), not the headers, so using them makes
// the addon link a C++ runtime. The prebuilt binaries link none (ARCHITECTURE.md,
// "Toolchain": building libc++ from source per target was most of the cross-build time), and
// pthreads is part of every C library the addon runs on. Failures of lock/wait on a valid,
// initialised object are programming errors; they abort rather than being ignored (std::
// would throw, which -fno-exceptions turns into an abort too).
//
// Plain C++, header only. Neither type is copyable or movable.
#ifndef KAFKA_TURBO_CORE_SYNC_H_
#define KAFKA_TURBO_CORE_SYNC_H_

#include <pthread.h>

#include <cstdlib>

namespace kafka_turbo {
namespace core {

class Mutex {
 public:
  Mutex() = default;
  ~Mutex() { pthread_mutex_destroy(&mutex_); }
  Mutex(const Mutex&) = delete;
  Mutex& operator=(const Mutex&) = delete;

  void Lock() {
    if (pthread_mutex_lock(&mutex_) != 0) std::abort();
  }
  void Unlock() {
    if (pthread_mutex_unlock(&mutex_) != 0) std::abort();
  }

 private:
  friend class CondVar;
  pthread_mutex_t mutex_ = PTHREAD_MUTEX_INITIALIZER;
};

// Holds the mutex for its scope; Unlock()/Lock() let a scope drop it for a while (the
// pool runs a job unlocked). The destructor unlocks only if it holds the mutex.
class MutexLock {
 public:
  explicit MutexLock(Mutex& mutex) : mutex_(mutex) { mutex_.Lock(); }
  ~MutexLock() {
    if (held_) mutex_.Unlock();
  }
  MutexLock(const MutexLock&) = delete;
  MutexLock& operator=(const MutexLock&) = delete;

  void Unlock() {
    held_ = false;
    mutex_.Unlock();
  }
  void Lock() {
    mutex_.Lock();
    held_ = true;
  }

 private:
  friend class CondVar;
  Mutex& mutex_;
  bool held_ = true;
};

class CondVar {
 public:
  CondVar() = default;
  ~CondVar() { pthread_cond_destroy(&cond_); }
  CondVar(const CondVar&) = delete;
  CondVar& operator=(const CondVar&) = delete;

  // Waits until done() is true; the lock must be held (it is again on return). Spurious
  // wake-ups are absorbed by the loop.
  template <typename Predicate>
  void Wait(MutexLock& lock, Predicate done) {
    while (!done()) {
      if (pthread_cond_wait(&cond_, &lock.mutex_.mutex_) != 0) std::abort();
    }
  }
  void NotifyOne() { pthread_cond_signal(&cond_); }
  void NotifyAll() { pthread_cond_broadcast(&cond_); }

 private:
  pthread_cond_t cond_ = PTHREAD_COND_INITIALIZER;
};

}  // namespace core
}  // namespace kafka_turbo

#endif  // KAFKA_TURBO_CORE_SYNC_H_
