// libFuzzer target over the packed-append unpacker, the parser every appendPacked and
// encodeRecordBatchPacked call runs over bytes JavaScript wrote (core/packed.h): the scratch's
// metaCapacity check (OpenPackedScratch), then UnpackPacked. Built with ASan and UBSan by
// scripts/fuzz.sh, so a read outside the scratch or a big, an overflow in a length sum or a
// vector sized from a hostile count is a crash here before it is one in a producer.
//
// What an accepted layout must give, checked after every call:
//   - count records, their headers all in `headers`, each header run where its record says;
//   - every non-null field inside the scratch's bytes region (fields taken from it in order,
//     none overlapping) or exactly one big's bytes, never a big that is not a Uint8Array;
//   - the records then encode (core::RecordBatchSize + EncodeRecordBatch into a buffer of
//     exactly that size) to a batch that this file's own reader, written from the record
//     batch v2 grammar, reads back field for field, with a CRC32C computed bit by bit here.
// A refused layout must name a record below the count.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "../src/core/packed.h"
#include "../src/core/record_batch.h"
#include "packed_input.h"

namespace {

using kafka_turbo::core::HeaderView;
using kafka_turbo::core::RecordView;
using kafka_turbo::fuzz::PackedCall;

#define CHECK(cond)                                                              \
  do {                                                                           \
    if (!(cond)) {                                                               \
      std::fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                              \
    }                                                                            \
  } while (0)

bool ResolveBig(void* ctx, uint32_t index, const uint8_t** data, int64_t* size) {
  const PackedCall* call = static_cast<const PackedCall*>(ctx);
  CHECK(index < call->bigs.size());
  const kafka_turbo::fuzz::Big& b = call->bigs[index];
  if (!b.is_bytes) return false;
  *data = b.bytes.data();
  *size = static_cast<int64_t>(b.bytes.size());
  return true;
}

// Where a field's bytes came from: the bytes region (advancing `inline_end`) or a big.
void CheckField(const PackedCall& call, const kafka_turbo::core::PackedScratch& s,
                const uint8_t* data, int64_t size, bool nullable, size_t* inline_end) {
  if (size == kafka_turbo::core::kNullLength) {
    CHECK(nullable);
    CHECK(data == nullptr);
    return;
  }
  CHECK(size >= 0);
  const size_t n = static_cast<size_t>(size);
  for (const kafka_turbo::fuzz::Big& b : call.bigs) {
    if (b.is_bytes && data == b.bytes.data() && n == b.bytes.size()) return;
  }
  // As integers: pointers into different allocations do not compare in C++.
  const uintptr_t region = reinterpret_cast<uintptr_t>(s.bytes());
  const uintptr_t at = reinterpret_cast<uintptr_t>(data);
  if (at >= region && at - region == *inline_end) {
    CHECK(n <= s.bytes_length() - *inline_end);
    *inline_end += n;
    return;
  }
  CHECK(!"a field outside the bytes region and every big");
}

// ---- an independent reader of what EncodeRecordBatch wrote ---------------------------------

uint32_t Crc32cBitwise(const uint8_t* p, size_t n) {
  uint32_t crc = 0xffffffffu;
  for (size_t i = 0; i < n; ++i) {
    crc ^= p[i];
    for (int k = 0; k < 8; ++k) crc = (crc >> 1) ^ (0x82f63b78u & (0u - (crc & 1u)));
  }
  return ~crc;
}

struct In {
  const uint8_t* p;
  const uint8_t* end;
  uint64_t Be(int bytes) {
    CHECK(end - p >= bytes);
    uint64_t v = 0;
    for (int i = 0; i < bytes; ++i) v = (v << 8) | *p++;
    return v;
  }
  int64_t Varlong() {
    uint64_t u = 0;
    for (int shift = 0;; shift += 7) {
      CHECK(p < end && shift < 64);
      const uint8_t b = *p++;
      u |= static_cast<uint64_t>(b & 0x7f) << shift;
      if ((b & 0x80) == 0) break;
    }
    return static_cast<int64_t>(u >> 1) ^ -static_cast<int64_t>(u & 1);
  }
  // A length-prefixed field equal to (data, size).
  void Field(const uint8_t* data, int64_t size) {
    const int64_t n = Varlong();
    CHECK(n == (size < 0 ? -1 : size));
    if (n <= 0) return;
    CHECK(end - p >= n);
    CHECK(std::memcmp(p, data, static_cast<size_t>(n)) == 0);
    p += n;
  }
};

void CheckBatch(const std::vector<RecordView>& records, const uint8_t* batch, size_t size) {
  In in{batch, batch + size};
  CHECK(in.Be(8) == 0);                   // baseOffset
  CHECK(in.Be(4) == size - 12);           // batchLength
  CHECK(in.Be(4) == 0xffffffffu);         // partitionLeaderEpoch
  CHECK(in.Be(1) == 2);                   // magic
  const uint32_t crc = static_cast<uint32_t>(in.Be(4));
  CHECK(crc == Crc32cBitwise(batch + 21, size - 21));
  CHECK(in.Be(2) == 0);                   // attributes: no codec, not transactional
  CHECK(in.Be(4) == records.size() - 1);  // lastOffsetDelta
  const int64_t base = static_cast<int64_t>(in.Be(8));
  CHECK(base == records[0].timestamp);
  int64_t max = base;
  for (const RecordView& r : records) max = r.timestamp > max ? r.timestamp : max;
  CHECK(static_cast<int64_t>(in.Be(8)) == max);
  CHECK(static_cast<int64_t>(in.Be(8)) == -1);  // producerId
  CHECK(in.Be(2) == 0xffff);                    // producerEpoch
  CHECK(in.Be(4) == 0xffffffffu);               // baseSequence
  CHECK(in.Be(4) == records.size());
  for (size_t i = 0; i < records.size(); ++i) {
    const RecordView& r = records[i];
    const int64_t length = in.Varlong();
    CHECK(length > 0 && length <= in.end - in.p);
    const uint8_t* record_end = in.p + length;
    CHECK(in.Be(1) == 0);  // attributes
    CHECK(in.Varlong() == r.timestamp - base);
    CHECK(in.Varlong() == static_cast<int64_t>(i));
    in.Field(r.key, r.key_size);
    in.Field(r.value, r.value_size);
    CHECK(in.Varlong() == static_cast<int64_t>(r.header_count));
    for (uint64_t j = 0; j < r.header_count; ++j) {
      in.Field(r.headers[j].key, static_cast<int64_t>(r.headers[j].key_size));
      in.Field(r.headers[j].value, r.headers[j].value_size);
    }
    CHECK(in.p == record_end);
  }
  CHECK(in.p == in.end);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  PackedCall call = kafka_turbo::fuzz::DecodeCall(data, size);
  // Exactly the decoded length, in its own allocation: ASan sees any read past the scratch.
  // (malloc(0) under ASan is a valid pointer to no bytes.)
  uint8_t* scratch_bytes = static_cast<uint8_t*>(std::malloc(call.scratch.size()));
  CHECK(scratch_bytes != nullptr);
  if (!call.scratch.empty()) std::memcpy(scratch_bytes, call.scratch.data(), call.scratch.size());
  kafka_turbo::core::PackedScratch scratch{};
  const bool opened = kafka_turbo::core::OpenPackedScratch(
      scratch_bytes, call.scratch.size(), call.meta_from_slot0 ? nullptr : &call.meta_capacity,
      call.min_slots, &scratch);
  if (!opened) {
    std::free(scratch_bytes);
    return 0;
  }
  CHECK(scratch.meta_capacity >= call.min_slots && 8 * scratch.meta_capacity <= scratch.length);

  // Kept from call to call, as the binding's per-environment unpacker keeps them: a stale
  // element from an earlier input must not leak into this one.
  static std::vector<RecordView> records;
  static std::vector<HeaderView> headers;
  static std::vector<size_t> first_header;
  const kafka_turbo::core::PackedBigs bigs{static_cast<uint32_t>(call.bigs.size()), ResolveBig, &call};
  size_t bad = 0;
  const kafka_turbo::core::UnpackStatus status = kafka_turbo::core::UnpackPacked(
      call.count, scratch, call.first_slot, bigs, {&records, &headers, &first_header}, &bad);
  if (status != kafka_turbo::core::UnpackStatus::kOk) {
    CHECK(bad < (call.count > 0 ? call.count : 1));
    std::free(scratch_bytes);
    return 0;
  }
  CHECK(records.size() == call.count);
  size_t inline_end = 0;
  size_t header_total = 0;
  for (const RecordView& r : records) {
    CHECK(kafka_turbo::core::IsSafeInteger(static_cast<double>(r.timestamp)));
    CheckField(call, scratch, r.key, r.key_size, true, &inline_end);
    CheckField(call, scratch, r.value, r.value_size, true, &inline_end);
    if (r.header_count == 0) {
      CHECK(r.headers == nullptr);
      continue;
    }
    CHECK(r.headers == headers.data() + header_total);
    header_total += r.header_count;
    CHECK(header_total <= headers.size());
    for (uint64_t j = 0; j < r.header_count; ++j) {
      const HeaderView& h = r.headers[j];
      CheckField(call, scratch, h.key, static_cast<int64_t>(h.key_size), false, &inline_end);
      CheckField(call, scratch, h.value, h.value_size, true, &inline_end);
    }
  }
  CHECK(header_total == headers.size());

  if (!records.empty()) {
    std::vector<uint64_t> body_sizes(records.size());
    uint64_t batch_size = 0;
    // Fields are at most the input's size: nothing here can pass the 2 GiB limits.
    CHECK(kafka_turbo::core::RecordBatchSize(records.data(), records.size(), body_sizes.data(),
                                             &batch_size) == kafka_turbo::core::EncodeStatus::kOk);
    uint8_t* batch = static_cast<uint8_t*>(std::malloc(batch_size));
    CHECK(batch != nullptr);
    const kafka_turbo::core::BatchInput input{-1, -1, -1, false, 0};
    kafka_turbo::core::EncodeRecordBatch(records.data(), records.size(), body_sizes.data(), input,
                                         batch, batch_size);
    CheckBatch(records, batch, batch_size);
    std::free(batch);
  }
  std::free(scratch_bytes);
  return 0;
}
