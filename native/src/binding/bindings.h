// The binding layer: one file per Backend member. Each one unpacks JavaScript arguments,
// calls the plain C++ core, and converts the result or the error back; no logic of its own.
#ifndef KAFKA_TURBO_BINDING_BINDINGS_H_
#define KAFKA_TURBO_BINDING_BINDINGS_H_

#include <napi.h>

#include <cstddef>
#include <cstdint>
#include <vector>

#include "../core/record_batch.h"

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
  kPropertyKeyCount,
};

// The key as a napi_value of the current handle scope, or null with a JS error pending.
// @thread JS
napi_value GetPropertyKey(napi_env env, PropertyKey key);

// Throws a TypeError "<fn>: <what>" and returns null, for `return ThrowTypeError(...)`.
// @thread JS
napi_value ThrowTypeError(napi_env env, const char* fn, const char* what);
napi_value ThrowRangeError(napi_env env, const char* fn, const char* what);

// Reads a number that must be finite (TypeError naming `what` otherwise).
// @thread JS
bool GetFiniteNumber(napi_env env, napi_value v, const char* fn, const char* what, double* out);

// Turns the records handed to append() or encodeRecordBatch() into core::RecordViews, in
// one call per batch of records (never one native call per record). Two input shapes:
//
//  - Objects: RecordInput[] ({key: Buffer|null, value: Buffer|null, headers:
//    {key: string, value: Buffer|null}[] | null, timestamp: number}), read field by field
//    with Node-API. Header keys are converted to UTF-8 into scratch memory.
//  - Packed (the fast path ts/backend/native-backend.ts uses): the same fields laid out by
//    JavaScript, where reading them is cheap, into
//      meta:  Float64Array, per record: timestamp, keyLen, valueLen, headerCount, then
//             (headerKeyLen, headerValueLen) per header;
//      bytes: Uint8Array, each field's bytes in that order, back to back;
//      bigs:  Uint8Array[] or null, fields passed by reference instead of copied.
//    A length >= 0 takes that many bytes from `bytes`; -1 is null; -2 - i is bigs[i].
//    Everything is bounds-checked: a malformed layout is a TypeError, never a stray read.
//
// The views point into the JavaScript Buffers (and this object's scratch), so they are valid
// until the native call returns. One unpacker per environment, kept in AddonData; a call
// that re-enters it (a getter on a record calling back into the addon) is refused.
// @thread JS
class RecordUnpacker {
 public:
  // Each returns false with a TypeError (or RangeError) pending on a bad shape; `fn` names
  // the JS function in the message.
  bool FromObjects(napi_env env, napi_value records, const char* fn);
  bool FromPacked(napi_env env, napi_value count, napi_value bytes, napi_value meta,
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
