// memoryStats(): what the addon holds right now, for tests and diagnostics -- the native
// bytes reported to V8 (which must come back to where they started once accumulators are
// destroyed), the compression pool's threads, and malloc's own count of bytes in use
// (glibc's mallinfo2, so a test can see native memory stay flat without reading RSS);
// and setDrainFailureForTest, the one fault-injection hook (a drain is all-or-nothing).
#include <napi.h>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include "../core/compress_worker.h"
#include "bindings.h"
#include "held_batches.h"

namespace kafka_turbo {
namespace binding {
namespace {

// Bytes malloc has handed out and not had back (-1 where glibc's mallinfo2 is missing).
double MallocInUse() {
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 33))
  const struct mallinfo2 m = mallinfo2();
  return static_cast<double>(m.uordblks) + static_cast<double>(m.hblkhd);
#else
  return -1;
#endif
}

// memoryStats(): {externalBytes, bufferBytes, compressThreads, compressThreadLimit, mallocBytes,
// drainCopyBelow}
// @thread JS
Napi::Value MemoryStats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  core::CompressPool& pool = core::CompressPool::Get();
  Napi::Object out = Napi::Object::New(env);
  out.Set("externalBytes", Napi::Number::New(env, static_cast<double>(ReportedExternalBytes())));
  out.Set("bufferBytes", Napi::Number::New(env, static_cast<double>(ReportedBufferBytes())));
  out.Set("heldBatches", Napi::Number::New(env, static_cast<double>(HeldBatchCount())));
  out.Set("compressThreads", Napi::Number::New(env, static_cast<double>(pool.threads())));
  out.Set("compressThreadLimit", Napi::Number::New(env, static_cast<double>(pool.capacity())));
  out.Set("mallocBytes", Napi::Number::New(env, MallocInUse()));
  out.Set("drainCopyBelow", Napi::Number::New(env, static_cast<double>(kCopyDrainedBelow)));
  return out;
}

// setDrainFailureForTest(after: number): undefined -- see SetDrainFailureForTest.
// @thread JS
Napi::Value SetDrainFailure(const Napi::CallbackInfo& info) {
  SetDrainFailureForTest(info.Length() > 0 && info[0].IsNumber() ? info[0].As<Napi::Number>().Int32Value() : -1);
  return info.Env().Undefined();
}

}  // namespace

void RegisterMemoryStats(Napi::Env env, Napi::Object exports) {
  exports.Set("memoryStats", Napi::Function::New(env, MemoryStats, "memoryStats"));
  exports.Set("setDrainFailureForTest", Napi::Function::New(env, SetDrainFailure, "setDrainFailureForTest"));
}

}  // namespace binding
}  // namespace kafka_turbo
