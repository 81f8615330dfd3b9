// The packed record layout's parser (packed.h): the byte-level half of the packed fast
// paths, kept out of the binding so that libFuzzer reaches it without Node.js.
#include "packed.h"

namespace kafka_turbo {
namespace core {
namespace {

// Reads the fields of packed records one at a time, checking every length.
struct PackedCursor {
  const uint8_t* bytes;
  size_t length;
  size_t offset;
  const PackedBigs* bigs;

  // A field of length d: d bytes from `bytes` (the common case, inline), null (-1), or a
  // whole Uint8Array from bigs (-2 - index). False when the layout is wrong.
  inline bool Field(double d, bool nullable, const uint8_t** data, int64_t* size) {
    if (d >= 0 && d <= static_cast<double>(length - offset)) {
      const size_t n = static_cast<size_t>(d);
      if (static_cast<double>(n) != d) return false;
      *data = bytes + offset;
      *size = static_cast<int64_t>(n);
      offset += n;
      return true;
    }
    if (d == -1) {
      *data = nullptr;
      *size = kNullLength;
      return nullable;
    }
    return Big(d, data, size);
  }

  bool Big(double d, const uint8_t** data, int64_t* size) {
    const double index = -2 - d;
    if (!IsIntegerIn(index, 0, static_cast<double>(bigs->count) - 1)) return false;
    return bigs->resolve(bigs->ctx, static_cast<uint32_t>(index), data, size);
  }
};

}  // namespace

bool OpenPackedScratch(uint8_t* data, size_t length, const double* slots, size_t min_slots,
                       PackedScratch* out) {
  double n = -1;
  if (slots != nullptr) {
    n = *slots;
  } else if (length >= 8) {
    std::memcpy(&n, data, sizeof n);
  }
  if (!IsIntegerIn(n, static_cast<double>(min_slots), static_cast<double>(length / 8))) {
    return false;
  }
  *out = PackedScratch{data, length, static_cast<size_t>(n)};
  return true;
}

UnpackStatus UnpackPacked(size_t n, const PackedScratch& scratch, size_t first_slot,
                          const PackedBigs& bigs, const UnpackedRecords& out, size_t* bad) {
  std::vector<RecordView>& records_out = *out.records;
  std::vector<HeaderView>& headers = *out.headers;
  std::vector<size_t>& first_header = *out.first_header;
  records_out.clear();
  headers.clear();
  first_header.clear();
  *bad = 0;
  // Every record takes at least 4 slots: a larger count cannot be right (and must not size
  // the vectors below).
  if (first_slot > scratch.slots() || n > (scratch.slots() - first_slot) / 4) {
    return UnpackStatus::kCountTooLarge;
  }
  PackedCursor c{scratch.bytes(), scratch.bytes_length(), 0, &bigs};
  const size_t meta_length = scratch.slots();
  size_t m = first_slot;  // meta cursor
  records_out.resize(n);
  first_header.resize(n);
  RecordView* records = records_out.data();
  for (size_t i = 0; i < n; ++i) {
    *bad = i;
    RecordView& r = records[i];
    if (meta_length - m < 4) return UnpackStatus::kMalformed;
    const double timestamp = scratch.Load(m);
    if (!IsSafeInteger(timestamp)) return UnpackStatus::kBadTimestamp;
    r.timestamp = static_cast<int64_t>(timestamp);
    if (!c.Field(scratch.Load(m + 1), true, &r.key, &r.key_size) ||
        !c.Field(scratch.Load(m + 2), true, &r.value, &r.value_size)) {
      return UnpackStatus::kMalformed;
    }
    const double hn = scratch.Load(m + 3);
    m += 4;
    first_header[i] = headers.size();
    r.headers = nullptr;
    r.header_count = 0;
    if (hn == 0) continue;
    if (!IsIntegerIn(hn, 1, static_cast<double>((meta_length - m) / 2))) {
      return UnpackStatus::kMalformed;
    }
    r.header_count = static_cast<uint64_t>(hn);
    for (uint64_t j = 0; j < r.header_count; ++j, m += 2) {
      HeaderView h{nullptr, 0, nullptr, 0};
      int64_t key_size = 0;
      if (!c.Field(scratch.Load(m), false, &h.key, &key_size) ||
          !c.Field(scratch.Load(m + 1), true, &h.value, &h.value_size)) {
        return UnpackStatus::kMalformed;
      }
      h.key_size = static_cast<uint64_t>(key_size);
      headers.push_back(h);
    }
  }
  // headers stopped growing: its pointers are final now.
  for (size_t i = 0; i < n; ++i) {
    if (records[i].header_count > 0) records[i].headers = headers.data() + first_header[i];
  }
  *bad = 0;
  return UnpackStatus::kOk;
}

}  // namespace core
}  // namespace kafka_turbo
