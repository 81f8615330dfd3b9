// Record batch v2 (magic 2) encoding: one record at a time (the accumulator encodes each
// record into its open batch as it is appended) and the 61-byte batch header with its
// CRC32C (written when a batch is drained). The same bytes as ts/protocol/record-batch.ts,
// which carries the Kafka grammar; the fields are repeated here only where the code needs
// their offsets.
//
// Plain C++: no napi.h. Records arrive as views (pointers + lengths) into memory the caller
// keeps alive for the duration of the call; nothing here allocates except
// EncodeRecordBatch's output, which the caller provides.
#ifndef KAFKA_TURBO_CORE_RECORD_BATCH_H_
#define KAFKA_TURBO_CORE_RECORD_BATCH_H_

#include <cstddef>
#include <cstdint>

#include "varint.h"

namespace kafka_turbo {
namespace core {

// The fixed v2 header, baseOffset through recordCount.
constexpr size_t kRecordBatchOverhead = 61;
// batchLength counts the bytes after baseOffset (8) and batchLength itself (4).
constexpr size_t kLogOverhead = 12;
// The CRC covers attributes (at this offset) to the end of the batch.
constexpr size_t kAttributesOffset = 21;
constexpr size_t kCrcOffset = 17;
constexpr uint16_t kTransactionalFlag = 0x10;
constexpr uint16_t kCodecMask = 0x07;

// The largest record body (the bytes after a record's length varint) we encode. The length
// is a zig-zag int32 on the wire, and a batch of just this record must still have a
// batchLength that fits an int32: 61 + 5 (length varint) + body - 12 <= INT32_MAX.
constexpr uint64_t kMaxRecordBody = 0x7fffffffull - kRecordBatchOverhead - 5;
// The largest whole batch: batchLength (size - 12) must fit an int32.
constexpr uint64_t kMaxBatchSize = 0x7fffffffull + kLogOverhead;

// A null key, value or header value has length -1 (written as varint -1, no bytes).
constexpr int64_t kNullLength = -1;

struct HeaderView {
  const uint8_t* key;  // UTF-8
  uint64_t key_size;
  const uint8_t* value;
  int64_t value_size;  // kNullLength for a null value
};

struct RecordView {
  const uint8_t* key;
  int64_t key_size;  // kNullLength for a null key
  const uint8_t* value;
  int64_t value_size;  // kNullLength for a null value
  const HeaderView* headers;
  uint64_t header_count;
  // Create time, ms since the epoch. Callers keep it a safe integer (|t| < 2^53), as the
  // TypeScript side does, so that timestamp deltas never overflow.
  int64_t timestamp;
};

// Bytes a length-prefixed field takes: varint length + data, or 1 (varint -1) for null.
inline uint64_t FieldSize(int64_t size) {
  return size < 0 ? 1 : SizeOfUvarint(ZigZag64(size)) + static_cast<uint64_t>(size);
}

// The part of a record's body that does not depend on where the record sits in its batch:
// attributes, key, value, header count and headers. Larger than kMaxRecordBody means the
// record cannot be encoded (the caller refuses it).
uint64_t RecordFixedBodySize(const RecordView& r);

// The body of a record at `offset_delta` with `timestamp_delta`, given its fixed part.
inline uint64_t RecordBodySize(uint64_t fixed, int32_t offset_delta, int64_t timestamp_delta) {
  return fixed + SizeOfVarint(offset_delta) + SizeOfVarlong(timestamp_delta);
}

// A whole encoded record: its length varint plus the body. body <= kMaxRecordBody.
inline uint64_t EncodedRecordSize(uint64_t body) {
  return SizeOfVarint(static_cast<int32_t>(body)) + body;
}

// Writes one record (length varint, then the body of `body` bytes as RecordBodySize
// computed it) at `out`, which has room for EncodedRecordSize(body) bytes. Returns the
// byte after it.
uint8_t* EncodeRecord(uint8_t* out, const RecordView& r, uint64_t body, int32_t offset_delta,
                      int64_t timestamp_delta);

// The header fields a batch gets when it is closed; baseOffset (0), partitionLeaderEpoch
// (-1) and magic (2) are fixed for a producer.
struct BatchHeader {
  uint16_t attributes;  // codec | transactional << 4
  int32_t last_offset_delta;
  int64_t base_timestamp;
  int64_t max_timestamp;
  int64_t producer_id;
  int16_t producer_epoch;
  int32_t base_sequence;
  int32_t record_count;
};

// Fills the first 61 bytes of `batch` (whose records are already at batch[61..size)) and
// then the CRC32C over attributes..end. size >= 61 and size <= kMaxBatchSize.
void WriteBatchHeader(uint8_t* batch, size_t size, const BatchHeader& h);

// Gives `packed` (a compressed copy of a finished batch `plain`: 61 header bytes, then the
// compressed records, `packed_size` bytes in all) plain's header with the batch length, the
// codec bits and the CRC32C rewritten for the compressed bytes.
void ResealCompressed(const uint8_t* plain, uint8_t* packed, size_t packed_size, uint16_t codec);

// A retry after an epoch bump (KIP-360) sends a drained batch again under a new producer id,
// epoch and base sequence: rewrites those three fields of the finished batch (size bytes,
// any codec) and its CRC32C, in place. False (nothing written) when it is not a batch v2.
bool RestampProducerState(uint8_t* batch, size_t size, int64_t producer_id, int16_t producer_epoch,
                          int32_t base_sequence);

// What a caller decides about a one-shot batch (Backend.encodeRecordBatch).
struct BatchInput {
  int64_t producer_id;
  int16_t producer_epoch;
  int32_t base_sequence;
  bool transactional;
  uint16_t codec;  // EncodeRecordBatch writes the records uncompressed; see ResealCompressed
};

enum class EncodeStatus {
  kOk,
  kNoRecords,       // a batch needs at least one record
  kRecordTooLarge,  // a record's body passes kMaxRecordBody
  kBatchTooLarge,   // the whole batch passes kMaxBatchSize
};

// Bytes EncodeRecordBatch will write for `records` (offsets 0..n-1, timestamps as deltas
// from the first record's), or a status other than kOk. `body_sizes` (n entries) receives
// each record's body size for EncodeRecordBatch to reuse.
EncodeStatus RecordBatchSize(const RecordView* records, size_t n, uint64_t* body_sizes,
                             uint64_t* size);

// Encodes the whole batch into `out` (exactly `size` bytes, as RecordBatchSize returned).
void EncodeRecordBatch(const RecordView* records, size_t n, const uint64_t* body_sizes,
                       const BatchInput& input, uint8_t* out, size_t size);

}  // namespace core
}  // namespace kafka_turbo

#endif  // KAFKA_TURBO_CORE_RECORD_BATCH_H_
