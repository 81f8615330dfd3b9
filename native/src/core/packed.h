// The packed record layout that JavaScript writes for the fast paths (appendPacked,
// encodeRecordBatchPacked), parsed here without Node-API so that the same code the addon
// runs can be fuzzed on its own (native/fuzz/packed_fuzz.cc) and tested under sanitizers.
// The binding (binding/record_batch.cc, RecordUnpacker::FromPacked) only finds the typed
// array, resolves `bigs` entries through Node-API and turns a status into a TypeError.
//
// Scratch memory: one Uint8Array whose first 8 * meta_capacity bytes are float64 slots
// (numbers in: the records' meta, a drain's partitions; numbers out: append's batch runs,
// drained batches' fields) and whose rest holds the records' bytes. Slots are read and
// written with memcpy: no alignment is assumed.
//
// Records, from slot `first_slot` on:
//   meta slots, per record: timestamp, keyLen, valueLen, headerCount, then
//          (headerKeyLen, headerValueLen) per header;
//   bytes: each field's bytes in that order, back to back (header keys UTF-8);
//   bigs:  fields passed by reference instead of copied (a JS array of Uint8Array).
// A length >= 0 takes that many bytes from `bytes`; -1 is null (not for a header key);
// -2 - i is bigs[i]. Every slot is checked before use: a malformed layout is a status,
// never a read outside the scratch.
//
// Plain C++: no napi.h. @thread any (the caller owns the memory and the vectors).
#ifndef KAFKA_TURBO_CORE_PACKED_H_
#define KAFKA_TURBO_CORE_PACKED_H_

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "record_batch.h"

namespace kafka_turbo {
namespace core {

// Whether d is an integer in [lo, hi] (bounds within +-2^63; NaN is not). Casts rather than
// std::trunc, which is a libm call on baseline x86-64 (no SSE4.1 roundsd).
inline bool IsIntegerIn(double d, double lo, double hi) {
  return d >= lo && d <= hi && static_cast<double>(static_cast<int64_t>(d)) == d;
}

// |t| <= 2^53 - 1: a timestamp JavaScript holds exactly, and whose deltas fit an int64.
constexpr double kMaxSafeInteger = 9007199254740991.0;
inline bool IsSafeInteger(double d) { return IsIntegerIn(d, -kMaxSafeInteger, kMaxSafeInteger); }

struct PackedScratch {
  uint8_t* data;
  size_t length;         // bytes
  size_t meta_capacity;  // float64 slots at the front

  size_t slots() const { return meta_capacity; }
  double Load(size_t i) const {
    double d;
    std::memcpy(&d, data + 8 * i, sizeof d);
    return d;
  }
  void Store(size_t i, double d) { std::memcpy(data + 8 * i, &d, sizeof d); }
  const uint8_t* bytes() const { return data + 8 * meta_capacity; }
  size_t bytes_length() const { return length - 8 * meta_capacity; }
};

// Makes *out over data[0, length) when `slots` (the metaCapacity the caller gave; null:
// read it from slot 0, the fast paths' way) is an integer with min_slots <= slots and
// 8 * slots <= length. False otherwise, *out untouched.
bool OpenPackedScratch(uint8_t* data, size_t length, const double* slots, size_t min_slots,
                       PackedScratch* out);

// The fields passed by reference. resolve(ctx, i, ...) gives bigs[i] (i < count) as bytes,
// or false when that entry is not a Uint8Array (the binding: a napi_get_element).
struct PackedBigs {
  uint32_t count;
  bool (*resolve)(void* ctx, uint32_t index, const uint8_t** data, int64_t* size);
  void* ctx;
};

enum class UnpackStatus {
  kOk,
  kCountTooLarge,  // more records than 4 slots each leave room for (nothing was sized)
  kBadTimestamp,   // record *bad's timestamp is not a safe integer
  kMalformed,      // record *bad's lengths, header count or bigs index do not fit
};

// Where the unpacked records go. The vectors are the caller's so that their capacity is kept
// from call to call (one unpacker per environment); they are cleared first.
struct UnpackedRecords {
  std::vector<RecordView>* records;
  std::vector<HeaderView>* headers;
  // Per record, the index of its first header (pointers into *headers are set at the end,
  // once it stopped growing).
  std::vector<size_t>* first_header;
};

// Reads `count` records whose meta starts at slot `first_slot`. On kOk every view points into
// scratch.bytes() or a big, and every record's headers into *out.headers; otherwise *bad is
// the record at fault (0 for kCountTooLarge) and the vectors hold a prefix of no use.
UnpackStatus UnpackPacked(size_t count, const PackedScratch& scratch, size_t first_slot,
                          const PackedBigs& bigs, const UnpackedRecords& out, size_t* bad);

}  // namespace core
}  // namespace kafka_turbo

#endif  // KAFKA_TURBO_CORE_PACKED_H_
