// Backend.createAccumulator: the RecordAccumulator object. Each method unpacks its
// arguments, calls core::RecordAccumulator, and converts the result; the semantics all live
// in core/accumulator.cc.
//
// The object's methods are plain functions created per accumulator with the native
// accumulator as their data, so a call reaches it through napi_get_cb_info alone (no
// unwrap). Each function holds a count on the accumulator; the last one to be garbage
// collected frees it, so a method kept apart from its object still finds it alive.
//
// Drained batches go to JavaScript as external Buffers over the native memory they were
// encoded in (no copy); a Buffer's finalizer frees that memory or gives it back to the
// accumulator's BatchBufferPool. buffer.memory accounting is separate: it ends at complete().
//
// V8 learns about the native memory (napi_adjust_external_memory), so that a service whose
// JS allocates little still collects dropped accumulators and Buffers: each handle reports
// the accumulator's HeldBytes() (undrained batches, kept pool blocks; drained batches are
// their Buffers', which V8 counts itself) after every call that may change it, as a delta
// from what it reported before, and takes it all back at destroy() or when it is freed, so
// the adjustments always sum to zero.
//
// destroy() empties the accumulator at once (see core Destroy). Afterwards append() and
// drain() throw (code ERR_ACCUMULATOR_DESTROYED): nothing can be taken or handed out. The
// other methods answer as an empty accumulator would, because the sender still settles
// in-flight batches (complete) and may run once more (ready, expire) after a close.
#include "../core/accumulator.h"
#include "../core/sync.h"

#include <napi.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <unordered_map>
#include <vector>

#include "bindings.h"
#include "held_batches.h"

namespace kafka_turbo {
namespace binding {
namespace {

using core::RecordAccumulator;

// The most entries a list argument (drain's partitions, complete's results) may have: far
// more than a producer has partitions or batches in flight, and small enough that sizing a
// vector from it cannot fail.
constexpr uint32_t kMaxListLength = 1u << 24;

struct AccumulatorHandle {
  AccumulatorHandle(const core::AccumulatorConfig& config, core::MemoryBudget* budget)
      : accumulator(config, budget) {}
  RecordAccumulator accumulator;
  // Method functions still alive (each has a finalizer that releases one).
  int live_functions = 0;
  // append()'s output, kept to reuse its capacity; taken out (swapped) while a call uses it
  // so that a re-entrant call cannot change it underneath.
  std::vector<core::AppendedRun> runs;
  // appendPackedEach's scratch for one record's runs (re-entry cannot reach it: the unpacker
  // scope refuses a nested append before any record is appended).
  std::vector<core::AppendedRun> each_runs;
  // readyPacked's and completePacked's lists, kept to reuse their capacity (neither calls
  // back into JavaScript while it uses them, so no re-entrant call can reach them).
  std::vector<uint32_t> ready_scratch;
  std::vector<core::BatchResult> complete_scratch;
  // Bytes reported to V8 for this accumulator so far.
  int64_t reported = 0;
  // Drained batches held natively (drainPacked with hold), by batch id: their refs in the
  // held table, dropped at complete() or destroy() (held_batches.h).
  std::unordered_map<uint64_t, uint64_t> held;
};

// What every accumulator of the process reported to V8, together (memoryStats(): a test
// checks it comes back to where it started).
std::atomic<int64_t> g_reported_bytes{0};
// What drained batches' Buffers reported (up when made, down in their finalizers). V8 does
// not count the memory behind an external Buffer towards its collection heuristics, so a
// program that drops big drained Buffers and allocates little JS would otherwise never
// collect them (hundreds of MiB seen in 200 cycles of 2 MB).
std::atomic<int64_t> g_buffer_bytes{0};

}  // namespace

// ---- held batches (held_batches.h) ---------------------------------------------------------

struct HeldBlock {
  uint8_t* bytes;
  size_t size;
  core::BatchBufferPool* pool;  // null: malloc'd
  int refs;                     // touched on its environment's JS thread only
};

namespace {

// The table of held batches, by ref. One per process (refs are unique across accumulators and
// environments, so a ring write can only name a batch that exists); the mutex guards the map,
// each block is used on its own environment's thread.
struct HeldEntry {
  HeldBlock* block;
  uint64_t batch_id;
};
// core::Mutex, not std::mutex, and made on first use and never destroyed: the prebuilt
// binaries link no C++ library (core/sync.h), and a global with a destructor would need
// __cxa_atexit from it.
struct HeldTable {
  core::Mutex mutex;
  std::unordered_map<uint64_t, HeldEntry> map;  // under mutex
  uint64_t next_ref = 1;  // under mutex; below 2^53, so a JS number holds it
};
HeldTable& Held() {
  static HeldTable* const table = new HeldTable();
  return *table;
}
std::atomic<int64_t> g_held_count{0};

// A block made for `size` bytes: reported to V8 and counted. @thread JS
HeldBlock* NewHeldBlock(napi_env env, uint8_t* bytes, size_t size, core::BatchBufferPool* pool) {
  auto* block = new HeldBlock{bytes, size, pool, 1};
  int64_t total = 0;
  napi_adjust_external_memory(env, static_cast<int64_t>(size), &total);
  g_buffer_bytes += static_cast<int64_t>(size);
  ++g_held_count;
  return block;
}

// Keeps drained batch `d` under a new ref (its bytes now belong to the table). @thread JS
uint64_t HoldBatch(napi_env env, AccumulatorHandle* handle, const core::DrainedBatch& d) {
  HeldBlock* block = NewHeldBlock(env, d.bytes, d.size, d.pool);
  uint64_t ref = 0;
  {
    HeldTable& held = Held();
    core::MutexLock lock(held.mutex);
    ref = held.next_ref++;
    held.map.emplace(ref, HeldEntry{block, d.batch_id});
  }
  handle->held[d.batch_id] = ref;
  return ref;
}

// Takes the entry `ref` out of the table; its block (null when unknown) keeps its references.
HeldBlock* TakeHeldEntry(uint64_t ref) {
  HeldTable& held = Held();
  core::MutexLock lock(held.mutex);
  auto it = held.map.find(ref);
  if (it == held.map.end()) return nullptr;
  HeldBlock* block = it->second.block;
  held.map.erase(it);
  return block;
}

// A drain that fails after holding batch `d`: the entry goes, the bytes stay d's (PutBack
// requeues them), and V8 and the counters take the report back. @thread JS
void UnholdBatch(napi_env env, AccumulatorHandle* handle, const core::DrainedBatch& d) {
  auto it = handle->held.find(d.batch_id);
  if (it == handle->held.end()) return;
  HeldBlock* block = TakeHeldEntry(it->second);
  handle->held.erase(it);
  if (block == nullptr) return;
  int64_t total = 0;
  napi_adjust_external_memory(env, -static_cast<int64_t>(block->size), &total);
  g_buffer_bytes -= static_cast<int64_t>(block->size);
  --g_held_count;
  delete block;
}

// The sender is done with batch `batch_id` (complete or destroy): the table's reference goes.
// @thread JS
void DropHeld(napi_env env, AccumulatorHandle* handle, uint64_t batch_id) {
  auto it = handle->held.find(batch_id);
  if (it == handle->held.end()) return;
  HeldBlock* block = TakeHeldEntry(it->second);
  handle->held.erase(it);
  if (block != nullptr) ReleaseHeldBlock(env, block);
}

void DropAllHeld(napi_env env, AccumulatorHandle* handle) {
  std::unordered_map<uint64_t, uint64_t> held;
  held.swap(handle->held);
  for (const auto& [batch_id, ref] : held) {
    HeldBlock* block = TakeHeldEntry(ref);
    if (block != nullptr) ReleaseHeldBlock(env, block);
  }
}

// The finalizer of a Buffer made over a held block (heldBatchBuffer). @thread JS
void FinalizeHeldBuffer(napi_env env, void* /*data*/, void* hint) {
  ReleaseHeldBlock(env, static_cast<HeldBlock*>(hint));
}

// Reads a ref argument: a positive integer number. 0 when it is not one.
uint64_t ReadRef(napi_env env, napi_value v) {
  double d = 0;
  if (napi_get_value_double(env, v, &d) != napi_ok || !IsIntegerIn(d, 1, 9007199254740991.0)) return 0;
  return static_cast<uint64_t>(d);
}

// heldBatchBuffer(ref): Buffer -- the held batch's bytes as a Buffer over its memory (copied
// where external memory is refused); the Buffer holds a reference until it is collected.
// For what truly needs the bytes in JavaScript: a connection that is not on the ring, the
// split after MESSAGE_TOO_LARGE. @thread JS
napi_value HeldBatchBuffer(napi_env env, napi_callback_info info) {
  static const char* const kFn = "heldBatchBuffer";
  size_t argc = 1;
  napi_value argv[1] = {nullptr};
  if (napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr) != napi_ok) return nullptr;
  const uint8_t* bytes = nullptr;
  size_t size = 0;
  HeldBlock* block = argc < 1 ? nullptr : AcquireHeldBatch(static_cast<double>(ReadRef(env, argv[0])), &bytes, &size);
  if (block == nullptr) return ThrowRangeError(env, kFn, "no batch is held under this ref (released already?)");
  napi_value out = nullptr;
  const napi_status s =
      napi_create_external_buffer(env, size, const_cast<uint8_t*>(bytes), FinalizeHeldBuffer, block, &out);
  if (s == napi_ok) return out;
  ReleaseHeldBlock(env, block);
  void* copy = nullptr;
  if (s == napi_no_external_buffers_allowed && napi_create_buffer_copy(env, size, bytes, &copy, &out) == napi_ok) {
    return out;
  }
  return nullptr;
}

// restampHeldBatch(ref, producerId: bigint, producerEpoch, baseSequence): undefined -- a retry
// after an epoch bump: the held batch's producer id, epoch and base sequence rewritten and its
// CRC32C recomputed, natively. Memory that something else still reads (a ring write of the
// earlier attempt, a Buffer made over it) is not written: the entry gets a rewritten copy and
// the old block lives on for its readers. @thread JS
napi_value RestampHeldBatch(napi_env env, napi_callback_info info) {
  static const char* const kFn = "restampHeldBatch";
  size_t argc = 4;
  napi_value argv[4] = {nullptr, nullptr, nullptr, nullptr};
  if (napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr) != napi_ok) return nullptr;
  if (argc < 4) return ThrowTypeError(env, kFn, "expected (ref, producerId, producerEpoch, baseSequence)");
  int64_t producer_id = 0;
  bool lossless = false;
  if (napi_get_value_bigint_int64(env, argv[1], &producer_id, &lossless) != napi_ok || !lossless) {
    return ThrowTypeError(env, kFn, "producerId must be a bigint that fits a signed 64-bit integer");
  }
  double epoch = 0;
  double sequence = 0;
  if (!GetFiniteNumber(env, argv[2], kFn, "producerEpoch", &epoch) ||
      !GetFiniteNumber(env, argv[3], kFn, "baseSequence", &sequence)) {
    return nullptr;
  }
  if (!IsIntegerIn(epoch, -32768, 32767) || !IsIntegerIn(sequence, -2147483648.0, 2147483647.0)) {
    return ThrowRangeError(env, kFn, "producerEpoch must be an int16 and baseSequence an int32");
  }
  const uint64_t ref = ReadRef(env, argv[0]);
  HeldBlock* block = nullptr;
  {
    HeldTable& held = Held();
    core::MutexLock lock(held.mutex);
    auto it = held.map.find(ref);
    if (it != held.map.end()) block = it->second.block;
  }
  if (block == nullptr) return ThrowRangeError(env, kFn, "no batch is held under this ref (released already?)");
  if (block->refs > 1) {
    auto* copy = static_cast<uint8_t*>(std::malloc(block->size));
    if (copy == nullptr) {
      napi_throw_error(env, "ERR_MEMORY_ALLOCATION_FAILED", "restampHeldBatch: out of memory");
      return nullptr;
    }
    std::memcpy(copy, block->bytes, block->size);
    HeldBlock* fresh = NewHeldBlock(env, copy, block->size, nullptr);
    {
      HeldTable& held = Held();
      core::MutexLock lock(held.mutex);
      held.map[ref].block = fresh;
    }
    ReleaseHeldBlock(env, block);
    block = fresh;
  }
  if (!core::RestampProducerState(block->bytes, block->size, producer_id, static_cast<int16_t>(epoch),
                                  static_cast<int32_t>(sequence))) {
    return ThrowRangeError(env, kFn, "the held bytes are not a record batch v2");
  }
  return Undefined(env);
}

// Brings what V8 was told in line with what the accumulator holds. @thread JS
void Report(napi_env env, AccumulatorHandle* handle) {
  const int64_t held = static_cast<int64_t>(handle->accumulator.HeldBytes());
  const int64_t delta = held - handle->reported;
  if (delta == 0) return;
  int64_t total = 0;
  if (napi_adjust_external_memory(env, delta, &total) != napi_ok) return;  // told next time
  handle->reported = held;
  g_reported_bytes += delta;
}

// Destroys the accumulator (if it was not) and takes back everything reported. @thread JS
void DestroyHandle(napi_env env, AccumulatorHandle* handle, std::vector<core::RemovedBatch>* removed) {
  if (!handle->accumulator.destroyed()) handle->accumulator.Destroy(removed);
  DropAllHeld(env, handle);
  Report(env, handle);
  std::vector<core::AppendedRun>().swap(handle->runs);
  std::vector<core::AppendedRun>().swap(handle->each_runs);
}

// @thread JS (a finalizer: at garbage collection or environment teardown)
void ReleaseHandle(napi_env env, void* data, void* /*hint*/) {
  auto* handle = static_cast<AccumulatorHandle*>(data);
  if (--handle->live_functions != 0) return;
  std::vector<core::RemovedBatch> removed;
  DestroyHandle(env, handle, &removed);
  delete handle;
}

// append() and drain() on a destroyed accumulator: a clear Error, not an empty answer.
// @thread JS
bool RefuseDestroyed(napi_env env, AccumulatorHandle* handle, const char* fn) {
  if (!handle->accumulator.destroyed()) return false;
  char message[128];
  std::snprintf(message, sizeof message, "%s: the RecordAccumulator was destroyed", fn);
  napi_throw_error(env, "ERR_ACCUMULATOR_DESTROYED", message);
  return true;
}

// What a drained batch's Buffer finalizer needs: where its memory goes back to, and how
// much was reported to V8 for it.
struct DrainedHint {
  core::BatchBufferPool* pool;  // null: malloc'd
  size_t size;
};

// @thread JS (finalizer of a drained batch's Buffer, at collection or environment teardown)
void FreeBatch(napi_env env, void* data, void* hint) {
  auto* h = static_cast<DrainedHint*>(hint);
  int64_t total = 0;
  napi_adjust_external_memory(env, -static_cast<int64_t>(h->size), &total);
  g_buffer_bytes -= static_cast<int64_t>(h->size);
  core::ReleaseBatchBytes(static_cast<uint8_t*>(data), h->pool);
  delete h;
}

AccumulatorHandle* Args(napi_env env, napi_callback_info info, size_t* argc, napi_value* argv) {
  void* data = nullptr;
  if (napi_get_cb_info(env, info, argc, argv, nullptr, &data) != napi_ok) return nullptr;
  return static_cast<AccumulatorHandle*>(data);
}

// A partition for append(): an integer in [0, kMaxPartition].
bool ReadPartition(napi_env env, napi_value v, const char* fn, uint32_t* out) {
  double d = 0;
  if (napi_get_value_double(env, v, &d) != napi_ok) {
    ThrowTypeError(env, fn, "partition must be a number");
    return false;
  }
  if (!IsIntegerIn(d, 0, RecordAccumulator::kMaxPartition)) {
    ThrowRangeError(env, fn, "partition must be an integer in [0, 16777215]");
    return false;
  }
  *out = static_cast<uint32_t>(d);
  return true;
}

// A number (any, NaN and infinities included: they compare as they do in JavaScript).
bool ReadNumber(napi_env env, napi_value v, const char* fn, const char* what, double* out) {
  if (napi_get_value_double(env, v, out) != napi_ok) {
    char message[128];
    std::snprintf(message, sizeof message, "%s must be a number", what);
    ThrowTypeError(env, fn, message);
    return false;
  }
  return true;
}

bool ReadTruthy(napi_env env, napi_value v, bool* out) {
  napi_value b = nullptr;
  return napi_coerce_to_bool(env, v, &b) == napi_ok && napi_get_value_bool(env, b, out) == napi_ok;
}

bool GetProperty(napi_env env, napi_value object, PropertyKey key, napi_value* out) {
  napi_value k = GetPropertyKey(env, key);
  return k != nullptr && napi_get_property(env, object, k, out) == napi_ok;
}

// A plain object with the given keys and values, made with define (not set) semantics.
template <size_t N>
napi_value MakeObject(napi_env env, const napi_value (&keys)[N], const napi_value (&values)[N]) {
  napi_value object = nullptr;
  if (napi_create_object(env, &object) != napi_ok) return nullptr;
  napi_property_descriptor descriptors[N];
  for (size_t i = 0; i < N; ++i) {
    descriptors[i] = napi_property_descriptor{
        nullptr, keys[i], nullptr, nullptr, nullptr, values[i], napi_default_jsproperty, nullptr};
  }
  if (napi_define_properties(env, object, N, descriptors) != napi_ok) return nullptr;
  return object;
}

template <size_t N>
bool GetKeys(napi_env env, const PropertyKey (&ids)[N], napi_value (&keys)[N]) {
  for (size_t i = 0; i < N; ++i) {
    keys[i] = GetPropertyKey(env, ids[i]);
    if (keys[i] == nullptr) return false;
  }
  return true;
}

napi_value Number(napi_env env, double d) {
  napi_value v = nullptr;
  napi_create_double(env, d, &v);
  return v;
}

// Throws for a failed append; false (report the result) when records were taken. An
// allocation failure part way took the records before it: that is reported as a short
// append (appended < given, as when buffer.memory is full) so that the caller keeps their
// promises and appends the rest later, not as a failure of records that were taken.
bool ThrowAppendStatus(napi_env env, core::AppendStatus status, size_t appended, const char* fn) {
  switch (status) {
    case core::AppendStatus::kOk:
      return false;
    case core::AppendStatus::kRecordTooLarge:
      ThrowRangeError(env, fn, "a record is too large to encode (over 2 GiB)");
      return true;
    case core::AppendStatus::kOutOfMemory:
      if (appended > 0) return false;
      napi_throw_error(env, "ERR_MEMORY_ALLOCATION_FAILED",
                       "append: out of memory allocating a record batch");
      return true;
  }
  return false;
}

// [{batchId, partition, recordCount}] for expire() and abortAll().
napi_value RemovedToJs(napi_env env, const std::vector<core::RemovedBatch>& removed) {
  const PropertyKey ids[3] = {kKeyBatchId, kKeyPartition, kKeyRecordCount};
  napi_value keys[3];
  napi_value array = nullptr;
  if (!GetKeys(env, ids, keys) ||
      napi_create_array_with_length(env, removed.size(), &array) != napi_ok) {
    return nullptr;
  }
  for (size_t i = 0; i < removed.size(); ++i) {
    const napi_value values[3] = {Number(env, static_cast<double>(removed[i].batch_id)),
                                  Number(env, removed[i].partition),
                                  Number(env, removed[i].record_count)};
    napi_value item = MakeObject(env, keys, values);
    if (item == nullptr ||
        napi_set_element(env, array, static_cast<uint32_t>(i), item) != napi_ok) {
      return nullptr;
    }
  }
  return array;
}

// The records of one append call, or (`each`) each record as a call of its own -- one
// Append() per record, so each sees batch.size as a lone send does: the batch boundaries of
// that many calls, in one crossing. `each` stops at the first record not taken; one that
// fails after others were taken ends the call with those (the caller's next append starts
// with it and gets the error alone). @thread JS
core::AppendStatus AppendRecords(AccumulatorHandle* handle, uint32_t partition,
                                 const core::RecordView* records, size_t n, double now, bool each,
                                 size_t* appended, std::vector<core::AppendedRun>* runs) {
  if (!each) return handle->accumulator.Append(partition, records, n, now, appended, runs);
  runs->clear();
  *appended = 0;
  std::vector<core::AppendedRun>& one = handle->each_runs;
  for (size_t i = 0; i < n; ++i) {
    size_t took = 0;
    const core::AppendStatus s =
        handle->accumulator.Append(partition, records + i, 1, now, &took, &one);
    if (took == 0) return *appended == 0 ? s : core::AppendStatus::kOk;
    *appended += took;
    for (const core::AppendedRun& r : one) {
      if (!runs->empty() && runs->back().batch_id == r.batch_id) {
        runs->back().count += r.count;
      } else {
        runs->push_back(r);
      }
    }
  }
  return core::AppendStatus::kOk;
}

// append(partition, records: RecordInput[], nowMs): {appended, batches: number[]}
// @thread JS; runs to completion. Getters on the records are the only JS it may run.
napi_value AppendBody(napi_env env, napi_callback_info info, const char* kFn, bool each) {
  size_t argc = 3;
  napi_value argv[3] = {nullptr, nullptr, nullptr};
  AccumulatorHandle* handle = Args(env, info, &argc, argv);
  if (handle == nullptr || RefuseDestroyed(env, handle, kFn)) return nullptr;
  if (argc < 3) return ThrowTypeError(env, kFn, "expected (partition, records, nowMs)");
  uint32_t partition = 0;
  double now = 0;
  if (!ReadPartition(env, argv[0], kFn, &partition) ||
      !ReadNumber(env, argv[2], kFn, "nowMs", &now)) {
    return nullptr;
  }
  RecordUnpacker* unpacker = GetRecordUnpacker(env);
  RecordUnpacker::Scope scope(unpacker);
  if (!scope.entered()) return ThrowTypeError(env, kFn, "re-entered while reading records");
  if (!unpacker->FromObjects(env, argv[1], kFn)) return nullptr;
  std::vector<core::AppendedRun> runs;
  runs.swap(handle->runs);
  size_t appended = 0;
  const core::AppendStatus status = AppendRecords(handle, partition, unpacker->records(),
                                                  unpacker->size(), now, each, &appended, &runs);
  Report(env, handle);
  napi_value result = nullptr;
  if (!ThrowAppendStatus(env, status, appended, kFn)) {
    const PropertyKey ids[2] = {kKeyAppended, kKeyBatches};
    napi_value keys[2];
    napi_value batches = nullptr;
    if (GetKeys(env, ids, keys) &&
        napi_create_array_with_length(env, runs.size() * 2, &batches) == napi_ok) {
      bool ok = true;
      for (size_t i = 0; ok && i < runs.size(); ++i) {
        ok = napi_set_element(env, batches, static_cast<uint32_t>(2 * i),
                              Number(env, static_cast<double>(runs[i].batch_id))) == napi_ok &&
             napi_set_element(env, batches, static_cast<uint32_t>(2 * i + 1),
                              Number(env, runs[i].count)) == napi_ok;
      }
      const napi_value values[2] = {Number(env, static_cast<double>(appended)), batches};
      if (ok) result = MakeObject(env, keys, values);
    }
  }
  if (handle->runs.empty()) handle->runs.swap(runs);
  return result;
}

napi_value Append(napi_env env, napi_callback_info info) {
  return AppendBody(env, info, "append", false);
}

// appendEach(partition, records, nowMs): append()'s result, each record appended as a call
// of its own (Backend appendEach). @thread JS
napi_value AppendEach(napi_env env, napi_callback_info info) {
  return AppendBody(env, info, "appendEach", true);
}

// appendPacked(scratch, bigs): undefined
// The fast path of append(): its numbers in the PackedScratch's first slots --
//   in:  [0] metaCapacity, [1] partition, [2] nowMs, [3] count, [4] number of bigs,
//        then the records' meta from slot 5 (bindings.h);
//   out: [0] records taken, [1] batches they went into, then [2 + 2i], [3 + 2i] each
//        batch's id and record count.
// @thread JS; runs to completion.
constexpr size_t kAppendSlots = 5;
// `each`: appendPackedEach -- every record is appended as if it came in a call of its own.
napi_value AppendPackedBody(napi_env env, napi_callback_info info, const char* kFn, bool each) {
  size_t argc = 2;
  napi_value argv[2] = {nullptr, nullptr};
  AccumulatorHandle* handle = Args(env, info, &argc, argv);
  if (handle == nullptr || RefuseDestroyed(env, handle, kFn)) return nullptr;
  if (argc < 2) return ThrowTypeError(env, kFn, "expected (scratch, bigs)");
  PackedScratch scratch;
  if (!ReadPackedScratch(env, argv[0], nullptr, kAppendSlots, kFn, &scratch)) return nullptr;
  const double partition_number = scratch.Load(1);
  const double now = scratch.Load(2);
  size_t count = 0;
  size_t bigs = 0;
  if (!IsIntegerIn(partition_number, 0, RecordAccumulator::kMaxPartition)) {
    return ThrowRangeError(env, kFn, "partition must be an integer in [0, 16777215]");
  }
  if (!ReadCount(scratch.Load(3), &count) || !ReadCount(scratch.Load(4), &bigs)) {
    return ThrowTypeError(env, kFn, "count and the number of bigs must be integers >= 0");
  }
  RecordUnpacker* unpacker = GetRecordUnpacker(env);
  RecordUnpacker::Scope scope(unpacker);
  if (!scope.entered()) return ThrowTypeError(env, kFn, "re-entered while reading records");
  if (!unpacker->FromPacked(env, count, scratch, kAppendSlots, bigs > 0 ? argv[1] : nullptr, kFn)) {
    return nullptr;
  }
  std::vector<core::AppendedRun> runs;
  runs.swap(handle->runs);
  size_t appended = 0;
  const core::AppendStatus status =
      AppendRecords(handle, static_cast<uint32_t>(partition_number), unpacker->records(),
                    unpacker->size(), now, each, &appended, &runs);
  Report(env, handle);
  if (!ThrowAppendStatus(env, status, appended, kFn)) {
    // At most one run per record, and each record took at least 4 slots after the first 5:
    // 2 + 2 * runs fits. The records' views are not used any more: overwriting is fine.
    scratch.Store(0, static_cast<double>(appended));
    scratch.Store(1, static_cast<double>(runs.size()));
    for (size_t i = 0; i < runs.size(); ++i) {
      scratch.Store(2 + 2 * i, static_cast<double>(runs[i].batch_id));
      scratch.Store(3 + 2 * i, runs[i].count);
    }
  }
  if (handle->runs.empty()) handle->runs.swap(runs);
  return status == core::AppendStatus::kOk || appended > 0 ? Undefined(env) : nullptr;
}

napi_value AppendPacked(napi_env env, napi_callback_info info) {
  return AppendPackedBody(env, info, "appendPacked", false);
}

// appendPackedEach(scratch, bigs): undefined -- appendPacked's slots in and out, but each
// record is appended as a call of its own (batch.size bounds every record, not only the
// first): the records of many one-record sends of one tick, in one crossing. @thread JS
napi_value AppendPackedEach(napi_env env, napi_callback_info info) {
  return AppendPackedBody(env, info, "appendPackedEach", true);
}

// ready(nowMs, flushing): {partitions: number[], nextReadyInMs}
// @thread JS
napi_value Ready(napi_env env, napi_callback_info info) {
  static const char* const kFn = "ready";
  size_t argc = 2;
  napi_value argv[2] = {nullptr, nullptr};
  AccumulatorHandle* handle = Args(env, info, &argc, argv);
  if (handle == nullptr) return nullptr;
  if (argc < 2) return ThrowTypeError(env, kFn, "expected (nowMs, flushing)");
  double now = 0;
  bool flushing = false;
  if (!ReadNumber(env, argv[0], kFn, "nowMs", &now) || !ReadTruthy(env, argv[1], &flushing)) {
    return nullptr;
  }
  std::vector<uint32_t> partitions;
  double next = 0;
  handle->accumulator.Ready(now, flushing, &partitions, &next);
  Report(env, handle);  // the idle block pool may have shrunk
  const PropertyKey ids[2] = {kKeyPartitions, kKeyNextReadyInMs};
  napi_value keys[2];
  napi_value array = nullptr;
  if (!GetKeys(env, ids, keys) ||
      napi_create_array_with_length(env, partitions.size(), &array) != napi_ok) {
    return nullptr;
  }
  for (size_t i = 0; i < partitions.size(); ++i) {
    if (napi_set_element(env, array, static_cast<uint32_t>(i), Number(env, partitions[i])) !=
        napi_ok) {
      return nullptr;
    }
  }
  const napi_value values[2] = {array, Number(env, next)};
  return MakeObject(env, keys, values);
}

// The start of the entry points whose one argument is the packed scratch (readyPacked,
// completePacked): the handle, and *scratch opened with at least min_slots slots; null with
// an exception pending otherwise. @thread JS
AccumulatorHandle* ScratchCall(napi_env env, napi_callback_info info, const char* fn, size_t min_slots,
                               PackedScratch* scratch) {
  size_t argc = 1;
  napi_value argv[1] = {nullptr};
  AccumulatorHandle* handle = Args(env, info, &argc, argv);
  if (handle == nullptr) return nullptr;
  if (argc < 1) {
    ThrowTypeError(env, fn, "expected (scratch)");
    return nullptr;
  }
  return ReadPackedScratch(env, argv[0], nullptr, min_slots, fn, scratch) ? handle : nullptr;
}

// readyPacked(scratch): undefined, or number[] when the partitions do not fit the slots
// ready() without making an object per call (an awaited send makes one run, and one ready(),
// per record; the object and its array through Node-API were most of that crossing):
//   in:  [0] metaCapacity, [1] nowMs, [2] flushing (0 or 1);
//   out: [0] count of ready partitions, [1] nextReadyInMs, then the partitions from slot 2
//        -- unless 2 + count > metaCapacity: then the partitions come back as an array (the
//        slots still hold count and nextReadyInMs).
// @thread JS; runs to completion (no getters: the only argument is a typed array).
constexpr size_t kReadySlots = 3;
napi_value ReadyPacked(napi_env env, napi_callback_info info) {
  static const char* const kFn = "readyPacked";
  PackedScratch scratch;
  AccumulatorHandle* handle = ScratchCall(env, info, kFn, kReadySlots, &scratch);
  if (handle == nullptr) return nullptr;
  const double now = scratch.Load(1);
  if (!std::isfinite(now)) return ThrowTypeError(env, kFn, "nowMs must be a finite number");
  const bool flushing = scratch.Load(2) != 0;
  std::vector<uint32_t>& partitions = handle->ready_scratch;
  partitions.clear();
  double next = 0;
  handle->accumulator.Ready(now, flushing, &partitions, &next);
  Report(env, handle);  // the idle block pool may have shrunk
  scratch.Store(0, static_cast<double>(partitions.size()));
  scratch.Store(1, next);
  if (2 + partitions.size() <= scratch.slots()) {
    for (size_t i = 0; i < partitions.size(); ++i) scratch.Store(2 + i, partitions[i]);
    return Undefined(env);
  }
  napi_value array = nullptr;
  if (napi_create_array_with_length(env, partitions.size(), &array) != napi_ok) return nullptr;
  for (size_t i = 0; i < partitions.size(); ++i) {
    if (napi_set_element(env, array, static_cast<uint32_t>(i), Number(env, partitions[i])) != napi_ok) {
      return nullptr;
    }
  }
  return array;
}

// Test hook (setDrainFailureForTest): the next drain fails after handing this many batches
// to Buffers, as a Node-API failure part way would; -1: never. @thread JS (one test at a time)
std::atomic<int> g_fail_drain_after{-1};

// A drain is all-or-nothing: when the drained batches cannot all reach JavaScript, every one
// goes back into the accumulator (those already in a Buffer as copies: the Buffer keeps its
// own memory until it is collected) and an Error is thrown; no batch and no byte of
// buffer.memory is lost. `in_buffer[i]`: batch i's bytes belong to a Buffer now.
// Returns null with the exception pending. @thread JS
napi_value PutBack(napi_env env, AccumulatorHandle* handle, std::vector<core::DrainedBatch>* drained,
                   const std::vector<uint8_t>& in_buffer, const uint8_t* const* originals, const char* fn) {
  for (size_t i = 0; i < drained->size(); ++i) {
    core::DrainedBatch& d = (*drained)[i];
    if (in_buffer[i] == 2) {
      UnholdBatch(env, handle, d);  // the bytes are still d's
      continue;
    }
    if (!in_buffer[i]) continue;
    // Still readable: the Buffer that owns it is alive in this call's handle scope.
    auto* copy = static_cast<uint8_t*>(std::malloc(d.size));
    if (copy == nullptr) std::abort();  // no memory for a copy of bytes we hold: as malloc's own failure
    std::memcpy(copy, originals[i], d.size);
    d.bytes = copy;
    d.pool = nullptr;
  }
  handle->accumulator.Requeue(drained->data(), drained->size());
  drained->clear();
  Report(env, handle);
  bool pending = false;
  napi_is_exception_pending(env, &pending);
  if (!pending) {
    char message[160];
    std::snprintf(message, sizeof message,
                  "%s: could not hand the batches to JavaScript; they were put back undrained", fn);
    napi_throw_error(env, "ERR_KAFKA_TURBO_NAPI", message);
  }
  return nullptr;
}

// drainPacked's slots out: the count, then per batch id, partition, record count, creation
// time, byte offset in the scratch (-1: a Buffer; -2 - ref: held under ref), size.
constexpr size_t kDrainOutOffset = 1;
constexpr size_t kDrainOutSlots = 6;

// Hands each drained batch's bytes to JavaScript: a small one copied (into `scratch`'s byte
// area when given and there is room, else into a Buffer), a larger one as an external Buffer
// over its block (no copy), in `buffers` (null for those in the scratch) -- or, with `hold`
// (drainPacked on the io_uring transport), a larger one is kept in the held table and only its
// ref goes out (no Buffer at all). When one cannot be made, puts every batch back (PutBack)
// and returns false with an exception pending. On success in_buffer / originals say which
// bytes the Buffers own (1) or the held table (2), for a PutBack after a later failure; the
// copied ones are still the accumulator's (ReleaseCopied frees them).
bool DrainedToBuffers(napi_env env, AccumulatorHandle* handle, std::vector<core::DrainedBatch>* drained,
                      std::vector<napi_value>* buffers, std::vector<uint8_t>* in_buffer,
                      std::vector<const uint8_t*>* originals, const char* fn, PackedScratch* scratch,
                      bool hold = false) {
  const size_t n = drained->size();
  buffers->assign(n, nullptr);
  in_buffer->assign(n, 0);
  originals->assign(n, nullptr);
  int fail_after = g_fail_drain_after.load();
  bool ok = true;
  size_t scratch_used = 0;
  for (size_t i = 0; ok && i < n; ++i) {
    core::DrainedBatch& d = (*drained)[i];
    originals->at(i) = d.bytes;
    if (fail_after >= 0 && i == static_cast<size_t>(fail_after)) {
      g_fail_drain_after = -1;
      ok = false;
      break;
    }
    if (scratch != nullptr) scratch->Store(kDrainOutOffset + kDrainOutSlots * i + 4, -1);
    if (scratch != nullptr && d.size < kCopyDrainedBelow && d.size <= scratch->bytes_length() - scratch_used) {
      // drainPacked: a small batch goes into the scratch's byte area, and JavaScript makes its
      // Buffer from there (a slice of Node's Buffer pool: no Node-API object at all).
      std::memcpy(scratch->data + 8 * scratch->slots() + scratch_used, d.bytes, d.size);
      scratch->Store(kDrainOutOffset + kDrainOutSlots * i + 4, static_cast<double>(scratch_used));
      scratch_used += d.size;
      continue;
    }
    if (hold && d.size >= kCopyDrainedBelow) {
      const uint64_t ref = HoldBatch(env, handle, d);
      scratch->Store(kDrainOutOffset + kDrainOutSlots * i + 4, -2.0 - static_cast<double>(ref));
      in_buffer->at(i) = 2;  // the held table owns it now
      continue;
    }
    if (d.size < kCopyDrainedBelow) {
      // A small batch (an awaited send's) is copied: a Buffer over V8's own memory costs no
      // hint, no finalizer and no external-memory report, which together cost more than
      // copying a few hundred bytes; the block goes back to the pool at the end of the drain.
      void* copy = nullptr;
      ok = napi_create_buffer_copy(env, d.size, d.bytes, &copy, &(*buffers)[i]) == napi_ok;
      continue;
    }
    auto* hint = new DrainedHint{d.pool, d.size};
    const napi_status s = napi_create_external_buffer(env, d.size, d.bytes, FreeBatch, hint, &(*buffers)[i]);
    if (s == napi_ok) {
      in_buffer->at(i) = 1;  // the Buffer owns it now
      int64_t total = 0;
      napi_adjust_external_memory(env, static_cast<int64_t>(d.size), &total);
      g_buffer_bytes += static_cast<int64_t>(d.size);
      continue;
    }
    delete hint;
    // Runtimes with a V8 sandbox (Electron) refuse external memory: copy instead (the bytes
    // stay ours until the drain has succeeded).
    void* copy = nullptr;
    ok = s == napi_no_external_buffers_allowed &&
         napi_create_buffer_copy(env, d.size, d.bytes, &copy, &(*buffers)[i]) == napi_ok;
  }
  if (!ok) {
    PutBack(env, handle, drained, *in_buffer, originals->data(), fn);
    return false;
  }
  return true;
}

// After a successful drain: frees the bytes that were copied into Buffers (not handed over).
void ReleaseCopied(std::vector<core::DrainedBatch>* drained, const std::vector<uint8_t>& in_buffer) {
  for (size_t i = 0; i < drained->size(); ++i) {
    if (!in_buffer[i]) core::ReleaseBatchBytes((*drained)[i].bytes, (*drained)[i].pool);
  }
}

// Reads the stamp's producer id and epoch.
bool ReadProducer(napi_env env, napi_value id, napi_value epoch, const char* fn,
                  core::DrainStamp* out) {
  bool lossless = false;
  if (napi_get_value_bigint_int64(env, id, &out->producer_id, &lossless) != napi_ok) {
    ThrowTypeError(env, fn, "stamp.producerId must be a bigint (-1n when not idempotent)");
    return false;
  }
  if (!lossless) {
    ThrowRangeError(env, fn, "stamp.producerId must fit a signed 64-bit integer");
    return false;
  }
  double e = 0;
  if (!GetFiniteNumber(env, epoch, fn, "stamp.producerEpoch", &e)) return false;
  if (!IsIntegerIn(e, -32768, 32767)) {
    ThrowRangeError(env, fn, "stamp.producerEpoch must be an int16");
    return false;
  }
  out->producer_epoch = static_cast<int16_t>(e);
  return true;
}

// A partition id from a number: ids that cannot be partitions hold no batches, as in the
// fallback, so drain() skips them.
uint32_t PartitionOrNone(double d) {
  return IsIntegerIn(d, 0, RecordAccumulator::kMaxPartition) ? static_cast<uint32_t>(d)
                                                             : RecordAccumulator::kNoPartition;
}

bool ReadSequence(napi_env env, double d, const char* fn, int32_t* out) {
  if (!IsIntegerIn(d, -2147483648.0, 2147483647.0)) {
    ThrowRangeError(env, fn, "stamp.baseSequences[i] must be an int32 (-1 for none)");
    return false;
  }
  *out = static_cast<int32_t>(d);
  return true;
}

// A `partitions: number[]` argument (drain, setBlocked) into `out`, each id through
// PartitionOrNone; false with a TypeError/RangeError pending (or the getter's exception).
// The length is checked before anything is sized from it: a sparse array can claim four
// billion elements (it used to end in std::bad_alloc and abort). @thread JS
bool ReadPartitionList(napi_env env, napi_value list, const char* kFn, std::vector<uint32_t>* out) {
  bool is_array = false;
  uint32_t n = 0;
  if (napi_is_array(env, list, &is_array) != napi_ok || !is_array ||
      napi_get_array_length(env, list, &n) != napi_ok) {
    ThrowTypeError(env, kFn, "partitions must be an array of numbers");
    return false;
  }
  if (n > kMaxListLength) {
    ThrowRangeError(env, kFn, "partitions has more than 16777216 entries");
    return false;
  }
  out->reserve(n);
  for (uint32_t i = 0; i < n; ++i) {
    napi_value e = nullptr;
    double d = -1;
    if (napi_get_element(env, list, i, &e) != napi_ok) return false;
    if (napi_get_value_double(env, e, &d) != napi_ok) {
      ThrowTypeError(env, kFn, "partitions must be an array of numbers (a hole or another type found)");
      return false;
    }
    out->push_back(PartitionOrNone(d));
  }
  return true;
}

// drain(partitions: number[], maxBytes, stamp): DrainedBatch[]
// @thread JS; argument getters are the only JS it may run, all before the core call.
napi_value Drain(napi_env env, napi_callback_info info) {
  static const char* const kFn = "drain";
  size_t argc = 3;
  napi_value argv[3] = {nullptr, nullptr, nullptr};
  AccumulatorHandle* handle = Args(env, info, &argc, argv);
  if (handle == nullptr || RefuseDestroyed(env, handle, kFn)) return nullptr;
  if (argc < 3) return ThrowTypeError(env, kFn, "expected (partitions, maxBytes, stamp)");
  std::vector<uint32_t> partitions;
  if (!ReadPartitionList(env, argv[0], kFn, &partitions)) return nullptr;
  double max_bytes = 0;
  if (!ReadNumber(env, argv[1], kFn, "maxBytes", &max_bytes)) return nullptr;
  napi_valuetype t = napi_undefined;
  if (napi_typeof(env, argv[2], &t) != napi_ok || t != napi_object) {
    return ThrowTypeError(env, kFn, "stamp must be an object");
  }
  core::DrainStamp stamp;
  napi_value id = nullptr;
  napi_value epoch = nullptr;
  napi_value v = nullptr;
  if (!GetProperty(env, argv[2], kKeyProducerId, &id) ||
      !GetProperty(env, argv[2], kKeyProducerEpoch, &epoch) ||
      !ReadProducer(env, id, epoch, kFn, &stamp) ||
      !GetProperty(env, argv[2], kKeyTransactional, &v) ||
      !ReadTruthy(env, v, &stamp.transactional) ||
      !GetProperty(env, argv[2], kKeyBaseSequences, &v) || napi_typeof(env, v, &t) != napi_ok) {
    return nullptr;
  }
  std::vector<int32_t> sequences;
  stamp.base_sequences = nullptr;
  const uint32_t n = static_cast<uint32_t>(partitions.size());
  if (t != napi_null && t != napi_undefined) {
    bool is_array = false;
    uint32_t length = 0;
    if (napi_is_array(env, v, &is_array) != napi_ok || !is_array ||
        napi_get_array_length(env, v, &length) != napi_ok || length < n) {
      return ThrowTypeError(env, kFn,
                            "stamp.baseSequences must be null or hold one number per partition");
    }
    sequences.resize(n);
    for (uint32_t i = 0; i < n; ++i) {
      napi_value e = nullptr;
      double d = 0.5;  // not a number: refused below
      if (napi_get_element(env, v, i, &e) != napi_ok) return nullptr;
      napi_get_value_double(env, e, &d);
      if (!ReadSequence(env, d, kFn, &sequences[i])) return nullptr;
    }
    stamp.base_sequences = sequences.data();
  }

  std::vector<core::DrainedBatch> drained;
  handle->accumulator.Drain(partitions.data(), partitions.size(), max_bytes, stamp, &drained);
  Report(env, handle);
  std::vector<napi_value> buffers;
  std::vector<uint8_t> in_buffer;
  std::vector<const uint8_t*> originals;
  if (!DrainedToBuffers(env, handle, &drained, &buffers, &in_buffer, &originals, kFn, nullptr)) return nullptr;

  const PropertyKey ids[5] = {kKeyBatchId, kKeyPartition, kKeyRecordCount, kKeyBytes,
                              kKeyCreatedMs};
  napi_value keys[5];
  napi_value array = nullptr;
  bool ok = GetKeys(env, ids, keys) &&
            napi_create_array_with_length(env, drained.size(), &array) == napi_ok;
  for (size_t i = 0; ok && i < drained.size(); ++i) {
    const core::DrainedBatch& d = drained[i];
    const napi_value values[5] = {Number(env, static_cast<double>(d.batch_id)),
                                  Number(env, d.partition), Number(env, d.record_count), buffers[i],
                                  Number(env, d.created_ms)};
    napi_value item = MakeObject(env, keys, values);
    ok = item != nullptr && napi_set_element(env, array, static_cast<uint32_t>(i), item) == napi_ok;
  }
  if (!ok) return PutBack(env, handle, &drained, in_buffer, originals.data(), kFn);
  ReleaseCopied(&drained, in_buffer);
  return array;
}

// drainPacked(scratch, producerId: bigint, hold?: boolean): (Buffer | undefined)[] | undefined
// The fast path of drain(): its numbers in the PackedScratch's first slots --
//   in:  [0] metaCapacity, [1] count of partitions, [2] maxBytes, [3] producerEpoch,
//        [4] transactional (0 or 1), [5] base sequences given (0 or 1), then the partitions
//        from slot 6 and, when given, their base sequences after them;
//   out: [0] batches drained, then [1 + 6i .. 6 + 6i] batch i's id, partition, record
//        count, creation time, the offset of its bytes in the scratch's byte area (-1: not
//        there) and its size.
// A batch under kCopyDrainedBelow bytes that fits in the byte area is copied there (no
// Node-API value made for it); with `hold` the others stay native under a ref (offset slot
// -2 - ref; see held_batches.h); else they come back as Buffers at their index in the
// returned array, which is undefined when there are none.
// @thread JS; runs to completion (no getters: the arguments are a typed array and a bigint).
constexpr size_t kDrainSlots = 6;
napi_value DrainPacked(napi_env env, napi_callback_info info) {
  static const char* const kFn = "drainPacked";
  size_t argc = 3;
  napi_value argv[3] = {nullptr, nullptr, nullptr};
  AccumulatorHandle* handle = Args(env, info, &argc, argv);
  if (handle == nullptr || RefuseDestroyed(env, handle, kFn)) return nullptr;
  if (argc < 2) return ThrowTypeError(env, kFn, "expected (scratch, producerId, hold?)");
  bool hold = false;
  if (argc >= 3 && !ReadTruthy(env, argv[2], &hold)) return nullptr;
  PackedScratch scratch;
  if (!ReadPackedScratch(env, argv[0], nullptr, kDrainSlots, kFn, &scratch)) return nullptr;
  size_t n = 0;
  const double max_bytes = scratch.Load(2);
  const double epoch = scratch.Load(3);
  const bool with_sequences = scratch.Load(5) != 0;
  // Room for the partitions (and sequences) in, and 1 + 6 slots per batch out.
  if (!ReadCount(scratch.Load(1), &n) || n > scratch.slots() / kDrainOutSlots ||
      kDrainOutOffset + kDrainOutSlots * n > scratch.slots() ||
      kDrainSlots + 2 * n > scratch.slots()) {
    return ThrowTypeError(env, kFn, "the count of partitions does not fit the scratch");
  }
  core::DrainStamp stamp;
  bool lossless = false;
  if (napi_get_value_bigint_int64(env, argv[1], &stamp.producer_id, &lossless) != napi_ok) {
    return ThrowTypeError(env, kFn, "stamp.producerId must be a bigint (-1n when not idempotent)");
  }
  if (!lossless)
    return ThrowRangeError(env, kFn, "stamp.producerId must fit a signed 64-bit integer");
  if (!IsIntegerIn(epoch, -32768, 32767)) {
    return ThrowRangeError(env, kFn, "stamp.producerEpoch must be an int16");
  }
  stamp.producer_epoch = static_cast<int16_t>(epoch);
  stamp.transactional = scratch.Load(4) != 0;
  std::vector<uint32_t> partitions(n);
  std::vector<int32_t> sequences(with_sequences ? n : 0);
  for (size_t i = 0; i < n; ++i) partitions[i] = PartitionOrNone(scratch.Load(kDrainSlots + i));
  for (size_t i = 0; i < sequences.size(); ++i) {
    if (!ReadSequence(env, scratch.Load(kDrainSlots + n + i), kFn, &sequences[i])) return nullptr;
  }
  stamp.base_sequences = with_sequences ? sequences.data() : nullptr;

  std::vector<core::DrainedBatch> drained;
  handle->accumulator.Drain(partitions.data(), n, max_bytes, stamp, &drained);
  Report(env, handle);
  // The slots first, before any JS value is made (drained.size() <= n: they fit).
  scratch.Store(0, static_cast<double>(drained.size()));
  for (size_t i = 0; i < drained.size(); ++i) {
    const core::DrainedBatch& d = drained[i];
    const size_t at = kDrainOutOffset + kDrainOutSlots * i;
    scratch.Store(at, static_cast<double>(d.batch_id));
    scratch.Store(at + 1, d.partition);
    scratch.Store(at + 2, d.record_count);
    scratch.Store(at + 3, d.created_ms);
    scratch.Store(at + 5, static_cast<double>(d.size));
  }
  std::vector<napi_value> buffers;
  std::vector<uint8_t> in_buffer;
  std::vector<const uint8_t*> originals;
  if (!DrainedToBuffers(env, handle, &drained, &buffers, &in_buffer, &originals, kFn, &scratch, hold)) {
    scratch.Store(0, 0);  // nothing drained
    return nullptr;
  }
  // Every batch in the scratch (an awaited send's): no array either.
  bool any_buffer = false;
  for (napi_value b : buffers) any_buffer = any_buffer || b != nullptr;
  napi_value array = nullptr;
  bool ok = true;
  if (any_buffer) {
    ok = napi_create_array_with_length(env, drained.size(), &array) == napi_ok;
    for (size_t i = 0; ok && i < drained.size(); ++i) {
      if (buffers[i] != nullptr) ok = napi_set_element(env, array, static_cast<uint32_t>(i), buffers[i]) == napi_ok;
    }
  }
  if (!ok) {
    scratch.Store(0, 0);
    return PutBack(env, handle, &drained, in_buffer, originals.data(), kFn);
  }
  ReleaseCopied(&drained, in_buffer);
  return any_buffer ? array : Undefined(env);
}

// expire(createdBeforeMs): RemovedBatch[]
// @thread JS
napi_value Expire(napi_env env, napi_callback_info info) {
  static const char* const kFn = "expire";
  size_t argc = 1;
  napi_value argv[1] = {nullptr};
  AccumulatorHandle* handle = Args(env, info, &argc, argv);
  if (handle == nullptr) return nullptr;
  double before = 0;
  if (argc < 1) return ThrowTypeError(env, kFn, "expected (createdBeforeMs)");
  if (!ReadNumber(env, argv[0], kFn, "createdBeforeMs", &before)) return nullptr;
  std::vector<core::RemovedBatch> removed;
  if (!handle->accumulator.destroyed()) handle->accumulator.Expire(before, &removed);
  Report(env, handle);
  return RemovedToJs(env, removed);
}

// abortAll(): RemovedBatch[]
// @thread JS
napi_value AbortAll(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  AccumulatorHandle* handle = Args(env, info, &argc, nullptr);
  if (handle == nullptr) return nullptr;
  std::vector<core::RemovedBatch> removed;
  if (!handle->accumulator.destroyed()) handle->accumulator.AbortAll(&removed);
  Report(env, handle);
  return RemovedToJs(env, removed);
}

// destroy(): RemovedBatch[] (the undrained batches, as abortAll; [] when destroyed already)
// @thread JS
napi_value Destroy(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  AccumulatorHandle* handle = Args(env, info, &argc, nullptr);
  if (handle == nullptr) return nullptr;
  std::vector<core::RemovedBatch> removed;
  DestroyHandle(env, handle, &removed);
  return RemovedToJs(env, removed);
}

// complete(results: {batchId, errorCode}[]): undefined
// @thread JS; getters on the results are the only JS it may run, all before the core call.
napi_value Complete(napi_env env, napi_callback_info info) {
  static const char* const kFn = "complete";
  size_t argc = 1;
  napi_value argv[1] = {nullptr};
  AccumulatorHandle* handle = Args(env, info, &argc, argv);
  if (handle == nullptr) return nullptr;
  bool is_array = false;
  uint32_t n = 0;
  if (argc < 1 || napi_is_array(env, argv[0], &is_array) != napi_ok || !is_array ||
      napi_get_array_length(env, argv[0], &n) != napi_ok) {
    return ThrowTypeError(env, kFn, "results must be an array of {batchId, errorCode}");
  }
  // Checked before anything is sized from it: a sparse array can claim four billion
  // elements (results(n) used to end in std::bad_alloc and abort).
  if (n > kMaxListLength) return ThrowRangeError(env, kFn, "results has more than 16777216 entries");
  napi_value k_batch_id = GetPropertyKey(env, kKeyBatchId);
  napi_value k_error_code = GetPropertyKey(env, kKeyErrorCode);
  if (k_batch_id == nullptr || k_error_code == nullptr) return nullptr;
  std::vector<core::BatchResult> results;
  results.reserve(std::min<uint32_t>(n, 4096));
  for (uint32_t i = 0; i < n; ++i) {
    napi_value r = nullptr;
    napi_value v = nullptr;
    napi_valuetype t = napi_undefined;
    if (napi_get_element(env, argv[0], i, &r) != napi_ok) return nullptr;
    if (napi_typeof(env, r, &t) != napi_ok || t != napi_object) {
      return ThrowTypeError(env, kFn, "results[i] must be an object {batchId, errorCode}");
    }
    double id = 0;
    double code = -1;
    if (napi_get_property(env, r, k_batch_id, &v) != napi_ok) return nullptr;
    napi_get_value_double(env, v, &id);  // not a number: matches no batch
    if (napi_get_property(env, r, k_error_code, &v) != napi_ok) return nullptr;
    // errorCode === 0 completes; anything else (another number, not a number) fails.
    const bool ok = napi_get_value_double(env, v, &code) == napi_ok && code == 0;
    const bool valid_id = IsIntegerIn(id, 1, 9007199254740991.0);
    results.push_back(core::BatchResult{valid_id ? static_cast<uint64_t>(id) : 0, ok});
  }
  // After destroy() no id is known any more: nothing to do (the sender still settles
  // in-flight batches after a close).
  if (!handle->accumulator.destroyed()) handle->accumulator.Complete(results.data(), results.size());
  if (!handle->held.empty()) {
    for (const core::BatchResult& r : results) DropHeld(env, handle, r.batch_id);
  }
  return Undefined(env);
}

// completePacked(scratch): undefined -- complete() with the results in slots instead of
// objects read through Node-API (two property reads per batch):
//   in: [0] metaCapacity, [1] n, then per result [2 + 2i] batchId, [3 + 2i] errorCode
//       (0 completes; anything else, NaN included, fails the batch).
// Ids that are not positive integers match no batch, as in complete().
// @thread JS; runs to completion.
constexpr size_t kCompleteSlots = 2;
napi_value CompletePacked(napi_env env, napi_callback_info info) {
  static const char* const kFn = "completePacked";
  PackedScratch scratch;
  AccumulatorHandle* handle = ScratchCall(env, info, kFn, kCompleteSlots, &scratch);
  if (handle == nullptr) return nullptr;
  size_t n = 0;
  if (!ReadCount(scratch.Load(1), &n) || n > (scratch.slots() - kCompleteSlots) / 2) {
    return ThrowRangeError(env, kFn, "the count of results does not fit the scratch");
  }
  std::vector<core::BatchResult>& results = handle->complete_scratch;
  results.clear();
  for (size_t i = 0; i < n; ++i) {
    const double id = scratch.Load(kCompleteSlots + 2 * i);
    const double code = scratch.Load(kCompleteSlots + 2 * i + 1);
    const bool valid_id = IsIntegerIn(id, 1, 9007199254740991.0);
    results.push_back(core::BatchResult{valid_id ? static_cast<uint64_t>(id) : 0, code == 0});
  }
  if (!handle->accumulator.destroyed()) handle->accumulator.Complete(results.data(), results.size());
  if (!handle->held.empty()) {
    for (const core::BatchResult& r : results) DropHeld(env, handle, r.batch_id);
  }
  return Undefined(env);
}

// setBlocked(partitions: number[]): the partitions the sender cannot send now (core
// SetBlocked); ids that cannot be partitions are skipped. After destroy(): nothing to do.
// @thread JS
napi_value SetBlocked(napi_env env, napi_callback_info info) {
  static const char* const kFn = "setBlocked";
  size_t argc = 1;
  napi_value argv[1] = {nullptr};
  AccumulatorHandle* handle = Args(env, info, &argc, argv);
  if (handle == nullptr) return nullptr;
  if (argc < 1) return ThrowTypeError(env, kFn, "expected (partitions)");
  std::vector<uint32_t> partitions;
  if (!ReadPartitionList(env, argv[0], kFn, &partitions)) return nullptr;
  handle->accumulator.SetBlocked(partitions.data(), partitions.size());
  Report(env, handle);
  return Undefined(env);
}

// hasUndrained(): boolean
// @thread JS
napi_value HasUndrained(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  AccumulatorHandle* handle = Args(env, info, &argc, nullptr);
  if (handle == nullptr) return nullptr;
  napi_value result = nullptr;
  napi_get_boolean(env, handle->accumulator.HasUndrained(), &result);
  return result;
}

// stats(): {bufferedBytes, undrainedBatches, recordsCompleted, recordsFailed}
// @thread JS
napi_value Stats(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  AccumulatorHandle* handle = Args(env, info, &argc, nullptr);
  if (handle == nullptr) return nullptr;
  const core::AccumulatorStats s = handle->accumulator.Stats();
  const PropertyKey ids[4] = {kKeyBufferedBytes, kKeyUndrainedBatches, kKeyRecordsCompleted,
                              kKeyRecordsFailed};
  napi_value keys[4];
  if (!GetKeys(env, ids, keys)) return nullptr;
  const napi_value values[4] = {Number(env, static_cast<double>(s.buffered_bytes)),
                                Number(env, static_cast<double>(s.undrained_batches)),
                                Number(env, static_cast<double>(s.records_completed)),
                                Number(env, static_cast<double>(s.records_failed))};
  return MakeObject(env, keys, values);
}

// Reads AccumulatorConfig {batchSize, maxBatchSize?, lingerMs, bufferMemory, codec,
// compressionLevel?, pool?}; *budget gets the pool's budget (borrowed) or null.
bool ReadConfig(napi_env env, napi_value config, const char* fn, core::AccumulatorConfig* out,
                core::MemoryBudget** budget) {
  napi_valuetype t = napi_undefined;
  if (napi_typeof(env, config, &t) != napi_ok || t != napi_object) {
    ThrowTypeError(env, fn, "config must be an object");
    return false;
  }
  napi_value v = nullptr;
  double batch_size = 0;
  double linger = 0;
  double memory = 0;
  double codec = 0;
  if (!GetProperty(env, config, kKeyBatchSize, &v) ||
      !GetFiniteNumber(env, v, fn, "config.batchSize", &batch_size)) {
    return false;
  }
  if (!(batch_size >= 0 &&
        batch_size <= static_cast<double>(core::kMaxBatchSize - core::kLogOverhead -
                                          core::kRecordBatchOverhead))) {
    ThrowRangeError(env, fn, "config.batchSize must be in [0, 2147483586]");
    return false;
  }
  // maxBatchSize: read once per accumulator, so by name (no interned key needed).
  double max_batch_size = batch_size;
  if (napi_get_named_property(env, config, "maxBatchSize", &v) != napi_ok ||
      napi_typeof(env, v, &t) != napi_ok) {
    return false;
  }
  if (t != napi_undefined && t != napi_null) {
    if (t != napi_number || napi_get_value_double(env, v, &max_batch_size) != napi_ok ||
        std::isnan(max_batch_size)) {
      ThrowTypeError(env, fn, "config.maxBatchSize must be a number");
      return false;
    }
    if (!(max_batch_size >= batch_size &&
          max_batch_size <= static_cast<double>(core::kMaxBatchSize - core::kLogOverhead -
                                                core::kRecordBatchOverhead))) {
      ThrowRangeError(env, fn, "config.maxBatchSize must be in [config.batchSize, 2147483586]");
      return false;
    }
  }
  if (!GetProperty(env, config, kKeyLingerMs, &v) ||
      !ReadNumber(env, v, fn, "config.lingerMs", &linger)) {
    return false;
  }
  if (!GetProperty(env, config, kKeyBufferMemory, &v) ||
      !ReadNumber(env, v, fn, "config.bufferMemory", &memory)) {
    return false;
  }
  if (std::isnan(linger)) {
    ThrowTypeError(env, fn, "config.lingerMs must not be NaN");
    return false;
  }
  if (!(memory >= 0)) {
    ThrowRangeError(env, fn, "config.bufferMemory must be a number >= 0");
    return false;
  }
  if (!GetProperty(env, config, kKeyCodec, &v) || !ReadNumber(env, v, fn, "config.codec", &codec)) {
    return false;
  }
  if (!IsIntegerIn(codec, 0, 4)) {
    ThrowRangeError(env, fn, "config.codec must be 0 (none), 1 (gzip), 2 (snappy), 3 (lz4) or 4 (zstd)");
    return false;
  }
  int level = 0;
  if (!ReadCompressionLevel(env, config, fn, static_cast<uint16_t>(codec), &level)) return false;
  *budget = nullptr;
  if (!GetProperty(env, config, kKeyPool, &v) || napi_typeof(env, v, &t) != napi_ok) return false;
  if (t != napi_undefined && t != napi_null) {
    *budget = UnwrapBufferPool(env, v, fn);
    if (*budget == nullptr) return false;
  }
  *out = core::AccumulatorConfig{batch_size, linger, memory, static_cast<uint16_t>(codec), level,
                                 max_batch_size};
  return true;
}

// createAccumulator(config: AccumulatorConfig): RecordAccumulator
// @thread JS
napi_value CreateAccumulator(napi_env env, napi_callback_info info) {
  static const char* const kFn = "createAccumulator";
  size_t argc = 1;
  napi_value argv[1] = {nullptr};
  if (napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr) != napi_ok) return nullptr;
  if (argc < 1) return ThrowTypeError(env, kFn, "expected (config)");
  core::AccumulatorConfig config;
  core::MemoryBudget* budget = nullptr;
  if (!ReadConfig(env, argv[0], kFn, &config, &budget)) return nullptr;

  struct Method {
    const char* name;
    napi_callback callback;
  };
  static const Method kMethods[] = {
      {"append", Checked<Append>},
      {"appendEach", Checked<AppendEach>},
      {"appendPacked", Checked<AppendPacked>},
      {"appendPackedEach", Checked<AppendPackedEach>},
      {"ready", Checked<Ready>},
      {"readyPacked", Checked<ReadyPacked>},
      {"completePacked", Checked<CompletePacked>},
      {"drain", Checked<Drain>},
      {"drainPacked", Checked<DrainPacked>},
      {"expire", Checked<Expire>},
      {"abortAll", Checked<AbortAll>},
      {"complete", Checked<Complete>},
      {"hasUndrained", Checked<HasUndrained>},
      {"setBlocked", Checked<SetBlocked>},
      {"stats", Checked<Stats>},
      {"destroy", Checked<Destroy>},
  };
  napi_value object = nullptr;
  if (napi_create_object(env, &object) != napi_ok) return nullptr;
  auto* handle = new AccumulatorHandle(config, budget);
  // Held for the duration of this call, so a failure half-way cannot free it early.
  handle->live_functions = 1;
  bool ok = true;
  for (const Method& m : kMethods) {
    napi_value fn = nullptr;
    if (napi_create_function(env, m.name, NAPI_AUTO_LENGTH, m.callback, handle, &fn) != napi_ok) {
      ok = false;
      break;
    }
    if (napi_add_finalizer(env, fn, handle, ReleaseHandle, nullptr, nullptr) != napi_ok) {
      ok = false;
      break;
    }
    ++handle->live_functions;
    if (napi_set_named_property(env, object, m.name, fn) != napi_ok) {
      ok = false;
      break;
    }
  }
  if (--handle->live_functions == 0) delete handle;
  return ok ? object : nullptr;
}

}  // namespace

int64_t ReportedExternalBytes() { return g_reported_bytes.load(); }
void SetDrainFailureForTest(int after) { g_fail_drain_after = after; }
int64_t ReportedBufferBytes() { return g_buffer_bytes.load(); }
int64_t HeldBatchCount() { return g_held_count.load(); }

HeldBlock* AcquireHeldBatch(double ref, const uint8_t** bytes, size_t* size) {
  if (!IsIntegerIn(ref, 1, 9007199254740991.0)) return nullptr;
  HeldTable& held = Held();
  core::MutexLock lock(held.mutex);
  auto it = held.map.find(static_cast<uint64_t>(ref));
  if (it == held.map.end()) return nullptr;
  HeldBlock* block = it->second.block;
  ++block->refs;
  *bytes = block->bytes;
  *size = block->size;
  return block;
}

void ReleaseHeldBlock(napi_env env, HeldBlock* block) {
  if (--block->refs != 0) return;
  if (env != nullptr) {
    int64_t total = 0;
    napi_adjust_external_memory(env, -static_cast<int64_t>(block->size), &total);
  }
  g_buffer_bytes -= static_cast<int64_t>(block->size);
  --g_held_count;
  core::ReleaseBatchBytes(block->bytes, block->pool);
  delete block;
}

void RegisterAccumulator(Napi::Env env, Napi::Object exports) {
  napi_value fn = nullptr;
  NAPI_THROW_IF_FAILED_VOID(env, napi_create_function(env, "createAccumulator", NAPI_AUTO_LENGTH,
                                                      Checked<CreateAccumulator>, nullptr, &fn));
  exports.Set("createAccumulator", Napi::Value(env, fn));
  NAPI_THROW_IF_FAILED_VOID(env, napi_create_function(env, "heldBatchBuffer", NAPI_AUTO_LENGTH,
                                                      Checked<HeldBatchBuffer>, nullptr, &fn));
  exports.Set("heldBatchBuffer", Napi::Value(env, fn));
  NAPI_THROW_IF_FAILED_VOID(env, napi_create_function(env, "restampHeldBatch", NAPI_AUTO_LENGTH,
                                                      Checked<RestampHeldBatch>, nullptr, &fn));
  exports.Set("restampHeldBatch", Napi::Value(env, fn));
}

}  // namespace binding
}  // namespace kafka_turbo
