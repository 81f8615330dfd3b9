// The binding layer: one file per Backend member. Each one unpacks JavaScript arguments,
// calls the plain C++ core, and converts the result or the error back; no logic of its own.
#ifndef KAFKA_TURBO_BINDING_BINDINGS_H_
#define KAFKA_TURBO_BINDING_BINDINGS_H_

#include <napi.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "../core/packed.h"
#include "../core/record_batch.h"

namespace kafka_turbo {
namespace core {
class MemoryBudget;
}  // namespace core
}  // namespace kafka_turbo

namespace kafka_turbo {
namespace binding {

// crc32c(buf: Uint8Array, init?: number): number and crc32cImpl(): string.
// @thread JS (the environment's own thread, at module init)
void RegisterCrc32c(Napi::Env env, Napi::Object exports);

// encodeRecordBatch(records, header): Buffer and
// encodeRecordBatchPacked(count, bytes, meta, bigs, header): Buffer (record_batch.cc).
// Also creates the per-environment property keys (PropertyKey below), so it is
// registered before RegisterAccumulator.
// @thread JS (at module init)
void RegisterRecordBatch(Napi::Env env, Napi::Object exports);

// createAccumulator(config): the RecordAccumulator object (accumulator.cc).
// @thread JS (at module init)
void RegisterAccumulator(Napi::Env env, Napi::Object exports);

// Bytes all accumulators of the process have reported to V8 with napi_adjust_external_memory
// and not taken back (accumulator.cc). @thread any
int64_t ReportedExternalBytes();
// Bytes of drained batches' Buffers reported to V8 and not yet finalized. @thread any
int64_t ReportedBufferBytes();
// Drained batches smaller than this are copied into their Buffers (V8's own memory: no hint,
// finalizer or external-memory report, which cost more than copying an awaited send's few
// hundred bytes); larger ones are handed over as external Buffers that free the block when
// collected, and only those count in bufferBytes. memoryStats() reports it.
constexpr size_t kCopyDrainedBelow = 4096;

// Tests: the next drain fails after handing `after` batches to Buffers (-1: never), to
// check that a drain is all-or-nothing (accumulator.cc). @thread JS
void SetDrainFailureForTest(int after);

// memoryStats(): what the addon holds, for tests and diagnostics (memory_stats.cc).
// @thread JS (at module init)
void RegisterMemoryStats(Napi::Env env, Napi::Object exports);

// createBufferPool(totalBytes): the BufferPool object (buffer_pool.cc).
// @thread JS (at module init)
void RegisterBufferPool(Napi::Env env, Napi::Object exports);

#if defined(KAFKA_TURBO_IO_URING)
// ioUringProbe(): string | null and createRing(onEvents): the io_uring transport (uring.cc).
// @thread JS (at module init)
void RegisterUring(Napi::Env env, Napi::Object exports);
#endif

// ---- shared by record_batch.cc and accumulator.cc ----------------------------------------

// Property names the bindings read and write, created once per environment as internalized
// strings (what a JS property access uses), so a get or set does not hash and look up a C
// string each time as napi_get_named_property does.
enum PropertyKey : uint32_t {
  kKeyKey,  // "key"
  kKeyValue,
  kKeyHeaders,
  kKeyTimestamp,
  kKeyBatchSize,
  kKeyLingerMs,
  kKeyBufferMemory,
  kKeyCodec,
  kKeyCompressionLevel,
  kKeyProducerId,
  kKeyProducerEpoch,
  kKeyBaseSequence,
  kKeyTransactional,
  kKeyBaseSequences,
  kKeyAppended,
  kKeyBatches,
  kKeyPartitions,
  kKeyNextReadyInMs,
  kKeyBatchId,
  kKeyPartition,
  kKeyRecordCount,
  kKeyBytes,
  kKeyCreatedMs,
  kKeyErrorCode,
  kKeyBufferedBytes,
  kKeyUndrainedBatches,
  kKeyRecordsCompleted,
  kKeyRecordsFailed,
  kKeyPool,
  kPropertyKeyCount,
};

// Reads object.compressionLevel (undefined or null: the codec's default, as
// compress::kDefaultLevel) into *level and checks it for `codec`; throws a RangeError naming
// the range otherwise. @thread JS
bool ReadCompressionLevel(napi_env env, napi_value object, const char* fn, uint16_t codec, int* level);

// The MemoryBudget behind a BufferPool object from createBufferPool (borrowed: the caller
// takes its own reference), or null with a TypeError pending when `value` is not one.
// @thread JS
core::MemoryBudget* UnwrapBufferPool(napi_env env, napi_value value, const char* fn);

// The key as a napi_value of the current handle scope, or null with a JS error pending.
// @thread JS
napi_value GetPropertyKey(napi_env env, PropertyKey key);

// Every entry point is registered as Checked<F>: when F returns null (which JavaScript
// sees as undefined) with no exception pending -- a Node-API call failed without throwing
// -- an Error is thrown instead, so no entry point ever fails silently. Functions whose
// result is undefined return a real undefined value, never null.
// @thread JS
template <napi_value (*F)(napi_env, napi_callback_info)>
napi_value Checked(napi_env env, napi_callback_info info) {
  napi_value result = F(env, info);
  if (result == nullptr) {
    bool pending = false;
    if (napi_is_exception_pending(env, &pending) != napi_ok || !pending) {
      napi_throw_error(env, "ERR_KAFKA_TURBO_NAPI",
                       "kafka-turbo: a Node-API call failed without an exception (out of memory?)");
    }
  }
  return result;
}

// undefined, for entry points that return nothing. @thread JS
inline napi_value Undefined(napi_env env) {
  napi_value v = nullptr;
  napi_get_undefined(env, &v);
  return v;
}

// Throws a TypeError "<fn>: <what>" and returns null, for `return ThrowTypeError(...)`.
// @thread JS
napi_value ThrowTypeError(napi_env env, const char* fn, const char* what);
napi_value ThrowRangeError(napi_env env, const char* fn, const char* what);

// Reads a number that must be finite (TypeError naming `what` otherwise).
// @thread JS
bool GetFiniteNumber(napi_env env, napi_value v, const char* fn, const char* what, double* out);

// The scratch memory of the packed fast paths (see RecordUnpacker): one Uint8Array of
// float64 slots, then bytes; the layout and its parser are core/packed.h's (plain C++, so
// that native/fuzz reaches it without Node-API). One typed array per call instead of three,
// because every napi_get_typedarray_info costs tens of nanoseconds (per send(), that is most
// of a call).
using core::PackedScratch;

// Reads (scratch: Uint8Array, metaCapacity: number) with min_slots <= metaCapacity and
// 8 * metaCapacity <= scratch.length. A null `meta_capacity` takes it from slot 0 (the fast
// paths pass their numbers in the first slots rather than as arguments: each argument
// read through Node-API costs a few nanoseconds, a slot read none).
// @thread JS
bool ReadPackedScratch(napi_env env, napi_value scratch, napi_value meta_capacity, size_t min_slots,
                       const char* fn, PackedScratch* out);

// Whether d is an integer in [lo, hi] (core/packed.h).
using core::IsIntegerIn;

// A count: an integer in [0, 2^32 - 1].
inline bool ReadCount(double d, size_t* out) {
  if (!IsIntegerIn(d, 0, 4294967295.0)) return false;
  *out = static_cast<size_t>(d);
  return true;
}

// Turns the records handed to append() or encodeRecordBatch() into core::RecordViews, in
// one call per batch of records (never one native call per record). Two input shapes:
//
//  - Objects: RecordInput[] ({key: Buffer|null, value: Buffer|null, headers:
//    {key: string, value: Buffer|null}[] | null, timestamp: number}), read field by field
//    with Node-API. Header keys are converted to UTF-8 into scratch memory.
//  - Packed (the fast path ts/backend/native-backend.ts uses): the same fields laid out by
//    JavaScript, where reading them is cheap, in a PackedScratch:
//      meta slots, per record: timestamp, keyLen, valueLen, headerCount, then
//             (headerKeyLen, headerValueLen) per header;
//      bytes: each field's bytes in that order, back to back (header keys UTF-8);
//      bigs:  Uint8Array[] or null, fields passed by reference instead of copied.
//    A length >= 0 takes that many bytes from `bytes`; -1 is null; -2 - i is bigs[i].
//    Everything is bounds-checked: a malformed layout is a TypeError, never a stray read.
//    The parsing is core::UnpackPacked (core/packed.h); this class adds the bigs' lookup
//    through Node-API and the errors.
//
// The views point into the JavaScript Buffers (and this object's scratch), so they are valid
// until the native call returns, provided no ArrayBuffer involved is detached (transferred)
// meanwhile: only a getter on the inputs could run JS here, and the adapter passes none.
// One unpacker per environment, kept in AddonData; a call that re-enters it (a getter on a
// record calling back into the addon) is refused.
// @thread JS
class RecordUnpacker {
 public:
  // Each returns false with a TypeError (or RangeError) pending on a bad shape; `fn` names
  // the JS function in the message.
  bool FromObjects(napi_env env, napi_value records, const char* fn);
  // `count` records whose meta starts at slot `first_slot`; `bigs` null: no fields by
  // reference.
  bool FromPacked(napi_env env, size_t count, const PackedScratch& scratch, size_t first_slot,
                  napi_value bigs, const char* fn);

  const core::RecordView* records() const { return records_.data(); }
  size_t size() const { return records_.size(); }

  // Marks the unpacker in use for the lifetime of the guard.
  class Scope {
   public:
    explicit Scope(RecordUnpacker* u) : u_(u), entered_(!u->busy_) { u->busy_ = true; }
    ~Scope() {
      if (entered_) u_->busy_ = false;
    }
    bool entered() const { return entered_; }

   private:
    RecordUnpacker* u_;
    bool entered_;
  };

 private:
  // Fills in the pointers into headers_ and key_bytes_ once both stopped growing.
  void Resolve();

  std::vector<core::RecordView> records_;
  std::vector<core::HeaderView> headers_;
  // Object shape: UTF-8 header keys, back to back, and where each header's key starts
  // (headers_[j].key is set from key_offsets_[j] by Resolve()).
  std::vector<uint8_t> key_bytes_;
  std::vector<size_t> key_offsets_;
  // Per record, the index of its first header in headers_ (records_[i].headers holds null
  // until Resolve()).
  std::vector<size_t> first_header_;
  bool busy_ = false;
};

// The unpacker of the calling environment (from its AddonData).
// @thread JS
RecordUnpacker* GetRecordUnpacker(napi_env env);

}  // namespace binding
}  // namespace kafka_turbo

#endif  // KAFKA_TURBO_BINDING_BINDINGS_H_
