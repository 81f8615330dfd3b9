// Record batch v2 encoding; see record_batch.h and ts/protocol/record-batch.ts.
#include "record_batch.h"

#include <cstring>

#include "../crc32c/crc32c.h"

namespace kafka_turbo {
namespace core {
namespace {

// Byte offsets of the header fields (see ts/protocol/record-batch.ts for the grammar).
constexpr size_t kBatchLengthOffset = 8;
constexpr size_t kPartitionLeaderEpochOffset = 12;
constexpr size_t kMagicOffset = 16;
constexpr size_t kLastOffsetDeltaOffset = 23;
constexpr size_t kBaseTimestampOffset = 27;
constexpr size_t kMaxTimestampOffset = 35;
constexpr size_t kProducerIdOffset = 43;
constexpr size_t kProducerEpochOffset = 51;
constexpr size_t kBaseSequenceOffset = 53;
constexpr size_t kRecordCountOffset = 57;

// A length-prefixed field: varint length and the bytes, or varint -1 for null.
inline uint8_t* WriteField(uint8_t* p, const uint8_t* data, int64_t size) {
  if (size < 0) return WriteVarint(p, -1);
  p = WriteVarint(p, static_cast<int32_t>(size));
  if (size > 0) {
    std::memcpy(p, data, static_cast<size_t>(size));
    p += size;
  }
  return p;
}

}  // namespace

uint64_t RecordFixedBodySize(const RecordView& r) {
  // attributes (1) + key + value + header count + headers. Every length is at most
  // 2^32 (a JavaScript Buffer's limit), so this sum cannot wrap a uint64.
  uint64_t size = 1 + FieldSize(r.key_size) + FieldSize(r.value_size) +
                  SizeOfUvarint(ZigZag64(static_cast<int64_t>(r.header_count)));
  for (uint64_t i = 0; i < r.header_count; ++i) {
    const HeaderView& h = r.headers[i];
    size += FieldSize(static_cast<int64_t>(h.key_size)) + FieldSize(h.value_size);
  }
  return size;
}

uint8_t* EncodeRecord(uint8_t* out, const RecordView& r, uint64_t body, int32_t offset_delta,
                      int64_t timestamp_delta) {
  uint8_t* p = WriteVarint(out, static_cast<int32_t>(body));
  *p++ = 0;  // attributes: unused
  p = WriteVarlong(p, timestamp_delta);
  p = WriteVarint(p, offset_delta);
  p = WriteField(p, r.key, r.key_size);
  p = WriteField(p, r.value, r.value_size);
  p = WriteVarint(p, static_cast<int32_t>(r.header_count));
  for (uint64_t i = 0; i < r.header_count; ++i) {
    const HeaderView& h = r.headers[i];
    p = WriteField(p, h.key, static_cast<int64_t>(h.key_size));
    p = WriteField(p, h.value, h.value_size);
  }
  return p;
}

void WriteBatchHeader(uint8_t* batch, size_t size, const BatchHeader& h) {
  StoreBe64(batch, 0);  // baseOffset: the broker assigns offsets
  StoreBe32(batch + kBatchLengthOffset, static_cast<uint32_t>(size - kLogOverhead));
  StoreBe32(batch + kPartitionLeaderEpochOffset, 0xffffffffu);  // -1: set by the broker
  batch[kMagicOffset] = 2;
  StoreBe16(batch + kAttributesOffset, h.attributes);
  StoreBe32(batch + kLastOffsetDeltaOffset, static_cast<uint32_t>(h.last_offset_delta));
  StoreBe64(batch + kBaseTimestampOffset, static_cast<uint64_t>(h.base_timestamp));
  StoreBe64(batch + kMaxTimestampOffset, static_cast<uint64_t>(h.max_timestamp));
  StoreBe64(batch + kProducerIdOffset, static_cast<uint64_t>(h.producer_id));
  StoreBe16(batch + kProducerEpochOffset, static_cast<uint16_t>(h.producer_epoch));
  StoreBe32(batch + kBaseSequenceOffset, static_cast<uint32_t>(h.base_sequence));
  StoreBe32(batch + kRecordCountOffset, static_cast<uint32_t>(h.record_count));
  StoreBe32(batch + kCrcOffset,
            crc32c::Extend(0, batch + kAttributesOffset, size - kAttributesOffset));
}

void ResealCompressed(const uint8_t* plain, uint8_t* packed, size_t packed_size, uint16_t codec) {
  std::memcpy(packed, plain, kRecordBatchOverhead);
  StoreBe32(packed + kBatchLengthOffset, static_cast<uint32_t>(packed_size - kLogOverhead));
  const uint16_t attributes = static_cast<uint16_t>((plain[kAttributesOffset] << 8) | plain[kAttributesOffset + 1]);
  StoreBe16(packed + kAttributesOffset, static_cast<uint16_t>((attributes & ~kCodecMask) | (codec & kCodecMask)));
  StoreBe32(packed + kCrcOffset,
            crc32c::Extend(0, packed + kAttributesOffset, packed_size - kAttributesOffset));
}

bool RestampProducerState(uint8_t* batch, size_t size, int64_t producer_id, int16_t producer_epoch,
                          int32_t base_sequence) {
  if (size < kRecordBatchOverhead || batch[kMagicOffset] != 2) return false;
  StoreBe64(batch + kProducerIdOffset, static_cast<uint64_t>(producer_id));
  StoreBe16(batch + kProducerEpochOffset, static_cast<uint16_t>(producer_epoch));
  StoreBe32(batch + kBaseSequenceOffset, static_cast<uint32_t>(base_sequence));
  StoreBe32(batch + kCrcOffset, crc32c::Extend(0, batch + kAttributesOffset, size - kAttributesOffset));
  return true;
}

EncodeStatus RecordBatchSize(const RecordView* records, size_t n, uint64_t* body_sizes,
                             uint64_t* size) {
  if (n == 0) return EncodeStatus::kNoRecords;
  // Offset deltas are int32 on the wire.
  if (n > 0x7fffffffu) return EncodeStatus::kBatchTooLarge;
  const int64_t base = records[0].timestamp;
  uint64_t total = kRecordBatchOverhead;
  for (size_t i = 0; i < n; ++i) {
    const uint64_t fixed = RecordFixedBodySize(records[i]);
    if (fixed > kMaxRecordBody) return EncodeStatus::kRecordTooLarge;
    const uint64_t body =
        RecordBodySize(fixed, static_cast<int32_t>(i), records[i].timestamp - base);
    if (body > kMaxRecordBody) return EncodeStatus::kRecordTooLarge;
    body_sizes[i] = body;
    total += EncodedRecordSize(body);
    if (total > kMaxBatchSize) return EncodeStatus::kBatchTooLarge;
  }
  *size = total;
  return EncodeStatus::kOk;
}

void EncodeRecordBatch(const RecordView* records, size_t n, const uint64_t* body_sizes,
                       const BatchInput& input, uint8_t* out, size_t size) {
  const int64_t base = records[0].timestamp;
  int64_t max_timestamp = base;
  uint8_t* p = out + kRecordBatchOverhead;
  for (size_t i = 0; i < n; ++i) {
    const RecordView& r = records[i];
    if (r.timestamp > max_timestamp) max_timestamp = r.timestamp;
    p = EncodeRecord(p, r, body_sizes[i], static_cast<int32_t>(i), r.timestamp - base);
  }
  BatchHeader h;
  h.attributes = static_cast<uint16_t>((input.codec & kCodecMask) |
                                       (input.transactional ? kTransactionalFlag : 0));
  h.last_offset_delta = static_cast<int32_t>(n - 1);
  h.base_timestamp = base;
  h.max_timestamp = max_timestamp;
  h.producer_id = input.producer_id;
  h.producer_epoch = input.producer_epoch;
  h.base_sequence = input.base_sequence;
  h.record_count = static_cast<int32_t>(n);
  WriteBatchHeader(out, size, h);
}

}  // namespace core
}  // namespace kafka_turbo
