// CRC32C with the SSE4.2 crc32 instruction (x86-64 only; built with -msse4.2 -mpclmul and
// called only after dispatch.cc has seen both features in CPUID).
//
// Why lanes: crc32 r64 has a latency of 3 cycles, so one dependent chain of crc32 runs at
// 8 bytes per 3 cycles whatever the core can issue. Intel cores start one crc32 per cycle
// (3 chains fill them), AMD Zen 5 starts two (6 chains fill it). So a long buffer is cut
// into kLanes lanes of equal length, each lane runs its own chain, and the lanes' registers
// are joined at the end. kLanes = 6 measured fastest on both shapes (see
// native/bench/crc32c_bench.cc); on a core with one crc32 port the extra lanes cost
// nothing but registers.
//
// Joining lanes: a lane's register c, followed by S more bytes, contributes c * x^(8S)
// mod P to the final register. With K = x^(8S - 33) mod P, the 64-bit carry-less product
// c * K, read as a message word, has the value c * K * x (the product of two reflected
// values lands one bit low), and crc32_u64(0, w) = w * x^32 mod P, so
//     crc32_u64(0, clmul(c, K)) = c * x^(8S) mod P.
// crc32_u64(0, .) is linear, so all lanes but the last are multiplied, their products
// XORed, reduced with a single crc32, and XORed with the last lane's register.
#include <emmintrin.h>
#include <nmmintrin.h>
#include <wmmintrin.h>

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "internal.h"

namespace kafka_turbo {
namespace crc32c {
namespace internal {
namespace {

constexpr int kLanes = 6;

// Below this many bytes one chain wins: joining lanes costs about as much as it saves.
constexpr size_t kLanesMinBytes = 64;

// Multipliers x^(64m - 33) mod P for m 8-byte words, m < kShiftTableWords. Covers every
// join up to 8 KiB; longer shifts are computed by ShiftMultiplierSlow().
constexpr size_t kShiftTableWords = 1024;

struct ShiftTable {
  uint32_t k[kShiftTableWords];
};

constexpr ShiftTable MakeShiftTable() {
  ShiftTable table{};
  table.k[0] = 0;  // unused: a shift by zero bytes never needs a multiplier
  const uint32_t x64 = XPowMod(64);
  uint32_t k = XPowMod(64 - 33);
  table.k[1] = k;
  for (size_t m = 2; m < kShiftTableWords; ++m) {
    k = MulMod(k, x64);
    table.k[m] = k;
  }
  return table;
}

constexpr ShiftTable kShiftTable = MakeShiftTable();

// x^(2^i - 33) mod P for i = 6..63: the square-and-multiply steps for long shifts.
struct PowerTable {
  uint32_t k[64];
};

constexpr PowerTable MakePowerTable() {
  PowerTable table{};
  for (int i = 6; i < 64; ++i) {
    // x^(2^i - 33) = (x^(2^(i-1) - 33))^2 * x^33
    table.k[i] = i == 6 ? XPowMod(64 - 33)
                        : MulMod(MulMod(table.k[i - 1], table.k[i - 1]), XPowMod(33));
  }
  return table;
}

constexpr PowerTable kPowerTable = MakePowerTable();

inline uint64_t Load64(const uint8_t* p) {
  uint64_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

inline uint32_t Load32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

inline uint16_t Load16(const uint8_t* p) {
  uint16_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

// a * b * x^33 mod P: the carry-less product reduced by one crc32. On multipliers of the
// form x^(e - 33) it adds exponents: MulShifted(x^(a-33), x^(b-33)) = x^(a+b-33).
inline uint32_t MulShifted(uint32_t a, uint32_t b) {
  const __m128i product =
      _mm_clmulepi64_si128(_mm_cvtsi32_si128(static_cast<int>(a)),
                           _mm_cvtsi32_si128(static_cast<int>(b)), 0x00);
  return static_cast<uint32_t>(
      _mm_crc32_u64(0, static_cast<uint64_t>(_mm_cvtsi128_si64(product))));
}

uint32_t ShiftMultiplierSlow(size_t words) {
  // words * 64 bits, as a sum of powers of two (all >= 64, so every step has a table entry).
  uint64_t bits = static_cast<uint64_t>(words) * 64;
  uint32_t k = 0;
  bool first = true;
  for (int i = 6; bits >> i != 0; ++i) {
    if (((bits >> i) & 1u) == 0) continue;
    k = first ? kPowerTable.k[i] : MulShifted(k, kPowerTable.k[i]);
    first = false;
  }
  return k;
}

// The single-chain loop: 8 bytes per crc32, then 4, 2, 1.
inline uint32_t SerialState(uint32_t state, const uint8_t* p, size_t size) {
  uint64_t s = state;
  while (size >= 8) {
    s = _mm_crc32_u64(s, Load64(p));
    p += 8;
    size -= 8;
  }
  uint32_t s32 = static_cast<uint32_t>(s);
  if ((size & 4) != 0) {
    s32 = _mm_crc32_u32(s32, Load32(p));
    p += 4;
  }
  if ((size & 2) != 0) {
    s32 = _mm_crc32_u16(s32, Load16(p));
    p += 2;
  }
  if ((size & 1) != 0) s32 = _mm_crc32_u8(s32, *p);
  return s32;
}

}  // namespace

uint32_t Sse42ShiftMultiplier(size_t bytes) {
  const size_t words = bytes / 8;
  return words < kShiftTableWords ? kShiftTable.k[words] : ShiftMultiplierSlow(words);
}

namespace {

template <int kLanes>
uint32_t LanesState(uint32_t state, const uint8_t* data, size_t size) {
  // kLanes lanes of `lane` bytes; the first lane also takes the whole words that do not
  // divide evenly (its own length does not enter any multiplier), and the last < 8 bytes
  // go through the single chain after the join.
  const size_t lane = size / (8 * kLanes) * 8;
  const size_t head = (size - lane * kLanes) / 8 * 8;
  const size_t tail = size - head - lane * kLanes;

  // Multipliers first: they depend on nothing but the length, so they run while the lanes
  // do.
  uint32_t k[kLanes - 1];
  const size_t words = lane / 8;
  if (words * (kLanes - 1) < kShiftTableWords) {
    for (int j = 0; j < kLanes - 1; ++j) k[j] = kShiftTable.k[words * (kLanes - 1 - j)];
  } else {
    k[kLanes - 2] = ShiftMultiplierSlow(words);
    for (int j = kLanes - 3; j >= 0; --j) k[j] = MulShifted(k[j + 1], k[kLanes - 2]);
  }

  uint64_t c[kLanes];
  c[0] = SerialState(state, data, head);
  for (int j = 1; j < kLanes; ++j) c[j] = 0;
  const uint8_t* p = data + head;
  for (size_t i = 0; i < lane; i += 8) {
    for (int j = 0; j < kLanes; ++j) c[j] = _mm_crc32_u64(c[j], Load64(p + j * lane + i));
  }

  __m128i joined = _mm_setzero_si128();
  for (int j = 0; j < kLanes - 1; ++j) {
    joined = _mm_xor_si128(
        joined, _mm_clmulepi64_si128(_mm_cvtsi64_si128(static_cast<int64_t>(c[j])),
                                     _mm_cvtsi32_si128(static_cast<int>(k[j])), 0x00));
  }
  const uint32_t s = static_cast<uint32_t>(
                         _mm_crc32_u64(0, static_cast<uint64_t>(_mm_cvtsi128_si64(joined)))) ^
                     static_cast<uint32_t>(c[kLanes - 1]);
  return SerialState(s, p + kLanes * lane, tail);
}

}  // namespace

uint32_t Sse42State(uint32_t state, const uint8_t* data, size_t size) {
  if (size < kLanesMinBytes) return SerialState(state, data, size);
  return LanesState<kLanes>(state, data, size);
}

#if defined(KAFKA_TURBO_CRC32C_TUNING)
// Bench-only: other lane counts and thresholds, to measure which one this CPU likes.
uint32_t Sse42TuningState(int variant, uint32_t state, const uint8_t* data, size_t size) {
  switch (variant) {
    case 0: return SerialState(state, data, size);
    case 1: return size < 24 ? SerialState(state, data, size) : LanesState<3>(state, data, size);
    case 2: return size < 32 ? SerialState(state, data, size) : LanesState<4>(state, data, size);
    case 3: return size < 48 ? SerialState(state, data, size) : LanesState<6>(state, data, size);
    case 4: return size < 128 ? SerialState(state, data, size) : LanesState<6>(state, data, size);
    case 5: return size < 64 ? SerialState(state, data, size) : LanesState<8>(state, data, size);
    case 6: return size < 80 ? SerialState(state, data, size) : LanesState<10>(state, data, size);
    case 7: return size < 96 ? SerialState(state, data, size) : LanesState<12>(state, data, size);
    default: return size < 128 ? SerialState(state, data, size) : LanesState<16>(state, data, size);
  }
}
#endif

}  // namespace internal
}  // namespace crc32c
}  // namespace kafka_turbo
