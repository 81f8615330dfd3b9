// How packed_fuzz.cc turns libFuzzer's bytes into a packed-records call (core/packed.h), and
// the encoder make_seeds.cc writes the seed corpus with: one format, both directions, so the
// seeds are inputs the target reads the way they were meant.
//
// Why a format of our own and not the raw bytes as the scratch: slots are float64, and
// libFuzzer's comparison tracing sees integer compares, not floating-point ones, so random
// bytes are almost never a length that fits (most are NaN or huge). Small integers, bigs
// indexes and edge values are one or two bytes here, so mutations land on layouts the parser
// has to think about. Mode 1 still hands the bytes over raw, for what the tokens cannot say.
//
//   byte 0  mode: bit 0 raw (the rest is the scratch itself, metaCapacity from slot 0, first
//           slot 5: appendPacked's way; the count is byte 1);
//           otherwise bit 1 picks appendPacked's layout (first slot 5, metaCapacity in slot 0)
//           over encodeRecordBatchPacked's (first slot 0, metaCapacity an argument)
//   byte 1  count of records
//   byte 2  metaCapacity adjustment, int8 added to the number of slots written
//   byte 3  number of bigs (low 4 bits); each big: a length byte (0xFF: an entry that is not
//           a Uint8Array) and that many bytes
//   tokens  one meta slot each, up to kEnd:
//             0x00..0xDF  the integer t - 3 (-3..220: lengths, -1 null, -2 / -3 bigs 0 / 1)
//             0xE0 b      -2 - b (bigs[b])
//             0xE1 b4     int32, little-endian
//             0xE2 b8     a float64, little-endian
//             0xE3 b      kSpecials[b % size]
//             0xE4 b2     a real timestamp: 1.7e12 + int16 (little-endian)
//             0xFF        end of the meta slots
//   rest    the scratch's bytes region
#ifndef KAFKA_TURBO_FUZZ_PACKED_INPUT_H_
#define KAFKA_TURBO_FUZZ_PACKED_INPUT_H_

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

namespace kafka_turbo {
namespace fuzz {

constexpr uint8_t kModeRaw = 1;
constexpr uint8_t kModeAppendLayout = 2;
constexpr size_t kAppendFirstSlot = 5;  // appendPacked's fixed slots (binding/accumulator.cc)
constexpr uint8_t kSmallMax = 0xDF;
constexpr uint8_t kTokBig = 0xE0;
constexpr uint8_t kTokInt32 = 0xE1;
constexpr uint8_t kTokDouble = 0xE2;
constexpr uint8_t kTokSpecial = 0xE3;
constexpr uint8_t kTokTimestamp = 0xE4;
constexpr uint8_t kEnd = 0xFF;
constexpr uint8_t kNotBytes = 0xFF;  // a big that is not a Uint8Array
constexpr double kBaseTimestamp = 1700000000000.0;

// Values at the edges of every check the parser makes.
inline const double* Specials(size_t* n) {
  static const double kSpecials[] = {
      std::numeric_limits<double>::quiet_NaN(),
      std::numeric_limits<double>::infinity(),
      -std::numeric_limits<double>::infinity(),
      -0.0,
      0.5,
      -0.5,
      -1.5,
      9007199254740991.0,   // 2^53 - 1: the largest safe timestamp
      9007199254740992.0,   // 2^53: not safe
      -9007199254740991.0,
      -9007199254740992.0,
      4294967295.0,         // 2^32 - 1
      4294967296.0,
      2147483647.0,
      -2147483650.0,        // -2 - 2^31: bigs[2^31]
      -4294967297.0,        // -2 - (2^32 - 1): the last uint32 index
      -4294967298.0,        // -2 - 2^32: an index past uint32
      9223372036854775807.0,
      -9223372036854775808.0,
      1e300,
      -1e300,
      4.9e-324,
  };
  *n = sizeof kSpecials / sizeof kSpecials[0];
  return kSpecials;
}

struct Big {
  bool is_bytes;
  std::vector<uint8_t> bytes;
};

// One decoded call.
struct PackedCall {
  std::vector<uint8_t> scratch;  // slots, then bytes
  bool meta_from_slot0;          // OpenPackedScratch(..., null, ...)
  double meta_capacity;          // otherwise this
  size_t first_slot;
  size_t min_slots;
  size_t count;
  std::vector<Big> bigs;
};

class Reader {
 public:
  Reader(const uint8_t* p, size_t n) : p_(p), n_(n) {}
  bool empty() const { return n_ == 0; }
  uint8_t Byte() {
    if (n_ == 0) return 0;
    --n_;
    return *p_++;
  }
  // k bytes into out; zeros for what the input lacks.
  void Take(void* out, size_t k) {
    if (k == 0) return;
    std::memset(out, 0, k);
    const size_t m = k < n_ ? k : n_;
    std::memcpy(out, p_, m);
    p_ += m;
    n_ -= m;
  }
  const uint8_t* rest() const { return p_; }
  size_t left() const { return n_; }

 private:
  const uint8_t* p_;
  size_t n_;
};

inline void PushDouble(std::vector<uint8_t>* out, double d) {
  uint8_t b[8];
  std::memcpy(b, &d, 8);
  out->insert(out->end(), b, b + 8);
}

inline PackedCall DecodeCall(const uint8_t* data, size_t size) {
  PackedCall call{};
  Reader r(data, size);
  const uint8_t mode = r.Byte();
  call.count = r.Byte();
  if (mode & kModeRaw) {
    call.meta_from_slot0 = true;
    call.first_slot = kAppendFirstSlot;
    call.min_slots = kAppendFirstSlot;
    call.scratch.assign(r.rest(), r.rest() + r.left());
    return call;
  }
  const bool append_layout = (mode & kModeAppendLayout) != 0;
  const int adjust = static_cast<int8_t>(r.Byte());
  const size_t nbigs = r.Byte() & 15;
  for (size_t i = 0; i < nbigs; ++i) {
    const uint8_t len = r.Byte();
    Big b{len != kNotBytes, {}};
    if (b.is_bytes) {
      b.bytes.resize(len < r.left() ? len : r.left());
      r.Take(b.bytes.data(), b.bytes.size());
    }
    call.bigs.push_back(std::move(b));
  }
  std::vector<uint8_t> meta;
  if (append_layout) {
    // [0] metaCapacity (filled in below), [1] partition, [2] nowMs, [3] count, [4] bigs.
    for (size_t i = 0; i < kAppendFirstSlot; ++i) PushDouble(&meta, 0);
  }
  size_t nspecials = 0;
  const double* specials = Specials(&nspecials);
  while (!r.empty()) {
    const uint8_t t = r.Byte();
    if (t == kEnd) break;
    double d = 0;
    if (t <= kSmallMax) {
      d = static_cast<double>(t) - 3;
    } else if (t == kTokBig) {
      d = -2.0 - r.Byte();
    } else if (t == kTokInt32) {
      int32_t v = 0;
      r.Take(&v, 4);
      d = v;
    } else if (t == kTokDouble) {
      r.Take(&d, 8);
    } else if (t == kTokSpecial) {
      d = specials[r.Byte() % nspecials];
    } else if (t == kTokTimestamp) {
      int16_t v = 0;
      r.Take(&v, 2);
      d = kBaseTimestamp + v;
    } else {
      d = static_cast<double>(t);  // unassigned tokens: their own value
    }
    PushDouble(&meta, d);
  }
  const double written = static_cast<double>(meta.size() / 8);
  call.meta_capacity = written + adjust;
  call.first_slot = append_layout ? kAppendFirstSlot : 0;
  call.min_slots = call.first_slot;
  call.meta_from_slot0 = append_layout;
  call.scratch = std::move(meta);
  call.scratch.insert(call.scratch.end(), r.rest(), r.rest() + r.left());
  if (append_layout) {
    std::memcpy(call.scratch.data(), &call.meta_capacity, 8);
    const double count = static_cast<double>(call.count);
    std::memcpy(call.scratch.data() + 3 * 8, &count, 8);
  }
  return call;
}

// Writes inputs DecodeCall reads back as the call described (for the seed corpus).
class Encoder {
 public:
  Encoder(bool append_layout, uint8_t count) {
    out_.push_back(append_layout ? kModeAppendLayout : 0);
    out_.push_back(count);
    out_.push_back(0);  // metaCapacity as written
    out_.push_back(0);  // bigs, set by Big()
  }
  void Adjust(int8_t delta) { out_[2] = static_cast<uint8_t>(delta); }
  // Bigs come before any slot.
  void Big(const std::vector<uint8_t>& bytes) {
    ++out_[3];
    out_.push_back(static_cast<uint8_t>(bytes.size()));
    out_.insert(out_.end(), bytes.begin(), bytes.end());
  }
  void NotBytesBig() {
    ++out_[3];
    out_.push_back(kNotBytes);
  }
  void Small(int v) { out_.push_back(static_cast<uint8_t>(v + 3)); }  // -3..220
  void BigRef(uint8_t i) {
    out_.push_back(kTokBig);
    out_.push_back(i);
  }
  void Timestamp(int16_t delta) {
    out_.push_back(kTokTimestamp);
    uint8_t b[2];
    std::memcpy(b, &delta, 2);
    out_.insert(out_.end(), b, b + 2);
  }
  void Double(double d) {
    out_.push_back(kTokDouble);
    PushDouble(&out_, d);
  }
  void Special(uint8_t i) {
    out_.push_back(kTokSpecial);
    out_.push_back(i);
  }
  // Ends the slots; the bytes region follows.
  void Bytes(const std::vector<uint8_t>& bytes) {
    out_.push_back(kEnd);
    out_.insert(out_.end(), bytes.begin(), bytes.end());
  }
  const std::vector<uint8_t>& data() const { return out_; }

 private:
  std::vector<uint8_t> out_;
};

}  // namespace fuzz
}  // namespace kafka_turbo

#endif  // KAFKA_TURBO_FUZZ_PACKED_INPUT_H_
