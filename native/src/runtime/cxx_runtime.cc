// The few C++ runtime pieces the addon uses, for the prebuilt binaries, which link no C++
// library at all (binding.gyp: kt_no_cxx_runtime=1, linked with -nostdlib++).
//
// Why: zig's `c++` links its libc++, libc++abi and libunwind statically, and builds them
// from source once per target; on this machine that was most of the cross-build time of
// each prebuilt (ARCHITECTURE.md, "Toolchain", has the numbers). The addon is built with
// -fno-exceptions and -fno-rtti, keeps every library template inline
// (_LIBCPP_DISABLE_EXTERN_TEMPLATE, so std::string's members are instantiated here rather
// than taken from libc++), and uses pthreads directly (core/sync.h), so what it still needs
// from a C++ runtime is this list, found with `nm -u` on a link without the library
// (scripts/prebuild-zig.sh checks the result has no undefined C++ symbol):
//
//  - the replaceable operator new/delete (malloc/free; out of memory aborts, as libc++'s own
//    does when exceptions are off);
//  - the Itanium C++ ABI entry points the compiler emits: guards of function-local statics,
//    thread_local destructors, the pure-virtual trap;
//  - the handful of libc++ functions that live in its compiled part, not its headers, and
//    that the containers call: __libcpp_verbose_abort (assertion failures), __next_prime
//    (unordered_map bucket counts), shared_ptr's control-block members, to_string,
//    steady_clock::now (the C-level CRC32C bench), and the members of std::string that
//    libc++'s headers declare `extern template` (instantiated here, from the headers' own
//    list, as libc++'s string.cpp does).
//
// The last group is defined against the declarations in libc++'s own headers (the ones zig
// ships, pinned in scripts/zig/setup.sh), so a signature that changes there fails to
// compile rather than to link. Only the prebuilt build compiles this file; the developer
// build links the system's C++ library as usual.
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <chrono>
#include <cstddef>
#include <memory>
#include <new>
#include <string>

#ifndef _LIBCPP_VERSION
#error "cxx_runtime.cc stands in for libc++ (the prebuilt builds with zig); not for libstdc++"
#endif

// ---- operator new / delete ------------------------------------------------------------------
namespace {

[[noreturn]] void OutOfMemory(size_t size) {
  fprintf(stderr, "kafka-turbo: out of memory allocating %zu bytes\n", size);
  abort();
}

void* Allocate(size_t size) {
  void* p = malloc(size == 0 ? 1 : size);  // new of 0 bytes returns a unique pointer
  if (p == nullptr) OutOfMemory(size);
  return p;
}

void* AllocateAligned(size_t size, std::align_val_t align) {
  void* p = nullptr;
  size_t a = static_cast<size_t>(align);
  if (a < sizeof(void*)) a = sizeof(void*);
  if (posix_memalign(&p, a, size == 0 ? 1 : size) != 0) OutOfMemory(size);
  return p;
}

}  // namespace

void* operator new(size_t size) { return Allocate(size); }
void* operator new[](size_t size) { return Allocate(size); }
void* operator new(size_t size, const std::nothrow_t&) noexcept { return malloc(size == 0 ? 1 : size); }
void* operator new[](size_t size, const std::nothrow_t&) noexcept { return malloc(size == 0 ? 1 : size); }
void* operator new(size_t size, std::align_val_t align) { return AllocateAligned(size, align); }
void* operator new[](size_t size, std::align_val_t align) { return AllocateAligned(size, align); }
void operator delete(void* p) noexcept { free(p); }
void operator delete[](void* p) noexcept { free(p); }
void operator delete(void* p, size_t) noexcept { free(p); }
void operator delete[](void* p, size_t) noexcept { free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { free(p); }
void operator delete(void* p, std::align_val_t) noexcept { free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { free(p); }
void operator delete(void* p, size_t, std::align_val_t) noexcept { free(p); }
void operator delete[](void* p, size_t, std::align_val_t) noexcept { free(p); }

// ---- the Itanium C++ ABI --------------------------------------------------------------------
namespace {

// Function-local statics: the guard's first byte says "initialised" (read without the lock
// on the fast path, by the code the compiler emits), its second "being initialised by some
// thread". One process-wide lock and condition variable, never held while an initialiser
// runs, so an initialiser may itself initialise other statics.
pthread_mutex_t g_guard_mutex = PTHREAD_MUTEX_INITIALIZER;
pthread_cond_t g_guard_cond = PTHREAD_COND_INITIALIZER;

// Destructors of thread_local objects, per thread, run when the thread exits (by a pthread
// key's destructor: the C library's __cxa_thread_atexit_impl is glibc 2.18, above the
// prebuilt's floor of 2.17, and musl has none).
struct ThreadDtor {
  void (*dtor)(void*);
  void* obj;
  ThreadDtor* next;
};
pthread_key_t g_dtor_key;
pthread_once_t g_dtor_once = PTHREAD_ONCE_INIT;

void RunThreadDtors(void* head) {
  // Newest first (reverse order of construction). A destructor that makes a new
  // thread_local registers it under the key again, and this loop runs it too.
  auto* d = static_cast<ThreadDtor*>(head);
  while (d != nullptr) {
    pthread_setspecific(g_dtor_key, d->next);
    d->dtor(d->obj);
    free(d);
    d = static_cast<ThreadDtor*>(pthread_getspecific(g_dtor_key));
  }
}

void MakeDtorKey() {
  if (pthread_key_create(&g_dtor_key, RunThreadDtors) != 0) abort();
}

}  // namespace

extern "C" {

int __cxa_guard_acquire(uint64_t* guard) {
  auto* bytes = reinterpret_cast<uint8_t*>(guard);
  if (__atomic_load_n(&bytes[0], __ATOMIC_ACQUIRE) != 0) return 0;
  pthread_mutex_lock(&g_guard_mutex);
  while (bytes[1] != 0) pthread_cond_wait(&g_guard_cond, &g_guard_mutex);
  const bool done = __atomic_load_n(&bytes[0], __ATOMIC_ACQUIRE) != 0;
  if (!done) bytes[1] = 1;  // ours to initialise
  pthread_mutex_unlock(&g_guard_mutex);
  return done ? 0 : 1;
}

void __cxa_guard_release(uint64_t* guard) {
  auto* bytes = reinterpret_cast<uint8_t*>(guard);
  pthread_mutex_lock(&g_guard_mutex);
  __atomic_store_n(&bytes[0], 1, __ATOMIC_RELEASE);
  bytes[1] = 0;
  pthread_cond_broadcast(&g_guard_cond);
  pthread_mutex_unlock(&g_guard_mutex);
}

void __cxa_guard_abort(uint64_t* guard) {
  auto* bytes = reinterpret_cast<uint8_t*>(guard);
  pthread_mutex_lock(&g_guard_mutex);
  bytes[1] = 0;
  pthread_cond_broadcast(&g_guard_cond);
  pthread_mutex_unlock(&g_guard_mutex);
}

int __cxa_thread_atexit(void (*dtor)(void*), void* obj, void* /*dso_symbol*/) {
  pthread_once(&g_dtor_once, MakeDtorKey);
  auto* d = static_cast<ThreadDtor*>(malloc(sizeof(ThreadDtor)));
  if (d == nullptr) return -1;
  d->dtor = dtor;
  d->obj = obj;
  d->next = static_cast<ThreadDtor*>(pthread_getspecific(g_dtor_key));
  if (pthread_setspecific(g_dtor_key, d) != 0) {
    free(d);
    return -1;
  }
  return 0;
}

[[noreturn]] void __cxa_pure_virtual() {
  fputs("kafka-turbo: pure virtual function called\n", stderr);
  abort();
}

[[noreturn]] void __cxa_deleted_virtual() {
  fputs("kafka-turbo: deleted virtual function called\n", stderr);
  abort();
}

}  // extern "C"

// ---- libc++'s compiled part -------------------------------------------------------------------
_LIBCPP_BEGIN_NAMESPACE_STD

void __libcpp_verbose_abort(const char* format, ...) noexcept {
  va_list args;
  va_start(args, format);
  fputs("kafka-turbo: ", stderr);
  vfprintf(stderr, format, args);
  va_end(args);
  abort();
}

// The smallest prime >= n (0 for 0, as libc++'s table starts), by trial division over
// 6k +/- 1: bucket counts are small, and this runs once per rehash.
size_t __next_prime(size_t n) {
  if (n <= 2) return n == 0 ? 0 : 2;
  if (n == 3) return 3;
  for (size_t c = n | 1;; c += 2) {
    if (c % 3 == 0) continue;
    bool prime = true;
    for (size_t d = 5; d <= c / d; d += 6) {
      if (c % d == 0 || c % (d + 2) == 0) {
        prime = false;
        break;
      }
    }
    if (prime) return c;
  }
}

// shared_ptr's control block: the members libc++ keeps out of line (their semantics as in
// libc++'s memory.cpp: the weak count is the number of weak owners minus one, so 0 means
// "the last one").
__shared_count::~__shared_count() {}
__shared_weak_count::~__shared_weak_count() {}

void __shared_weak_count::__release_weak() noexcept {
  if (__atomic_load_n(&__shared_weak_owners_, __ATOMIC_ACQUIRE) == 0 ||
      __atomic_add_fetch(&__shared_weak_owners_, -1, __ATOMIC_ACQ_REL) == -1) {
    __on_zero_shared_weak();
  }
}

__shared_weak_count* __shared_weak_count::lock() noexcept {
  long owners = __atomic_load_n(&__shared_owners_, __ATOMIC_RELAXED);
  while (owners != -1) {  // -1: the object is gone
    if (__atomic_compare_exchange_n(&__shared_owners_, &owners, owners + 1, true, __ATOMIC_ACQ_REL,
                                    __ATOMIC_RELAXED)) {
      return this;
    }
  }
  return nullptr;
}

const void* __shared_weak_count::__get_deleter(const type_info&) const noexcept { return nullptr; }

namespace {
template <typename T>
string Format(const char* format, T value) {
  char buf[32];
  const int n = snprintf(buf, sizeof buf, format, value);
  return string(buf, n > 0 ? static_cast<size_t>(n) : 0);
}
}  // namespace

string to_string(int v) { return Format("%d", v); }
string to_string(unsigned v) { return Format("%u", v); }
string to_string(long v) { return Format("%ld", v); }
string to_string(unsigned long v) { return Format("%lu", v); }
string to_string(long long v) { return Format("%lld", v); }
string to_string(unsigned long long v) { return Format("%llu", v); }

// std::string's members that the headers declare extern (instantiated once, here).
#define KT_INSTANTIATE(...) template __VA_ARGS__;
#ifdef _LIBCPP_ABI_STRING_OPTIMIZED_EXTERNAL_INSTANTIATION
_LIBCPP_STRING_UNSTABLE_EXTERN_TEMPLATE_LIST(KT_INSTANTIATE, char)
#else
_LIBCPP_STRING_V1_EXTERN_TEMPLATE_LIST(KT_INSTANTIATE, char)
#endif
#undef KT_INSTANTIATE
template string operator+ <char, char_traits<char>, allocator<char> >(char const*, string const&);

namespace chrono {
steady_clock::time_point steady_clock::now() noexcept {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return time_point(seconds(ts.tv_sec) + nanoseconds(ts.tv_nsec));
}
}  // namespace chrono

_LIBCPP_END_NAMESPACE_STD
