// CRC32C with the SSE4.2 crc32 instruction (x86-64 only; built with -msse4.2 -mpclmul and
// called only after dispatch.cc has seen both features in CPUID).
//
// Why lanes: crc32 r64 has a latency of 3 cycles, so one dependent chain of crc32 runs at
// 8 bytes per 3 cycles however many the core could start. Intel cores start one crc32 per
// cycle (3 chains fill them); AMD Zen 5 starts two, and measured best with 8 chains (65-70
// GB/s at 64 KiB against 31 for 3 chains and 60 for 6). So a buffer is cut into lanes of
// equal length, each lane runs its own chain, and the lanes' registers are joined at the
// end. On a core with one crc32 port the extra lanes cost only registers.
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

// Lane counts by length, measured on AMD Zen 5 (native/bench/crc32c_bench.cc, TUNING=1):
// below 80 bytes one chain wins (joining costs about what the lanes save), 4 lanes win up
// to 256 bytes, 8 lanes beyond (6 lanes reach 60 GB/s at 64 KiB, 8 lanes 65-70; 10 or more
// run out of registers and slow down).
constexpr size_t kLanesMinBytes = 80;
constexpr size_t kWideLanesMinBytes = 256;

// Multipliers x^(64m - 33) mod P for a shift by m 8-byte words, m written in base 1024:
// kShiftDigits.k[d][v] is the multiplier for v * 1024^d words (v > 0), and MulShifted()
// below adds exponents, so any m < 2^30 (8 GiB) costs at most two carry-less products.
constexpr int kShiftDigitBits = 10;
constexpr size_t kShiftDigitValues = size_t{1} << kShiftDigitBits;
constexpr int kShiftDigits = 3;

struct ShiftDigitTable {
  uint32_t k[kShiftDigits][kShiftDigitValues];
};

constexpr ShiftDigitTable MakeShiftDigitTable() {
  ShiftDigitTable table{};
  for (int d = 0; d < kShiftDigits; ++d) {
    const uint64_t step_bits = uint64_t{64} << (kShiftDigitBits * d);  // 1024^d words
    const uint32_t step = XPowMod(step_bits);
    uint32_t k = XPowMod(step_bits - 33);
    table.k[d][0] = 0;  // unused: a zero digit contributes no factor
    for (size_t v = 1; v < kShiftDigitValues; ++v) {
      table.k[d][v] = k;
      k = MulMod(k, step);
    }
  }
  return table;
}

constexpr ShiftDigitTable kShiftDigitTable = MakeShiftDigitTable();

// x^(2^i - 33) mod P for i = 6..63: square-and-multiply steps for shifts past 8 GiB.
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

uint32_t ShiftMultiplierSlow(uint64_t words) {
  // words * 64 bits as a sum of powers of two, all >= 64, so each has a table entry.
  const uint64_t bits = words * 64;
  uint32_t k = 0;
  bool first = true;
  for (int i = 6; i < 64 && (bits >> i) != 0; ++i) {
    if (((bits >> i) & 1u) == 0) continue;
    k = first ? kPowerTable.k[i] : MulShifted(k, kPowerTable.k[i]);
    first = false;
  }
  return k;
}

// x^(64 * words - 33) mod P, words > 0.
inline uint32_t ShiftMultiplierWords(size_t words) {
  if (words < kShiftDigitValues) return kShiftDigitTable.k[0][words];
  if (static_cast<uint64_t>(words) >> (kShiftDigitBits * kShiftDigits) != 0) {
    return ShiftMultiplierSlow(words);
  }
  uint32_t k = 0;
  bool first = true;
  for (int d = 0; d < kShiftDigits; ++d) {
    const size_t v = (words >> (kShiftDigitBits * d)) & (kShiftDigitValues - 1);
    if (v == 0) continue;
    k = first ? kShiftDigitTable.k[d][v] : MulShifted(k, kShiftDigitTable.k[d][v]);
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

uint32_t Sse42ShiftMultiplier(size_t bytes) { return ShiftMultiplierWords(bytes / 8); }

namespace {

template <int kLanes>
uint32_t LanesState(uint32_t state, const uint8_t* data, size_t size) {
  // kLanes lanes of `lane` bytes; the first lane also takes the whole words that do not
  // divide evenly (its own length does not enter any multiplier), and the last < 8 bytes
  // go through the single chain after the join.
  const size_t lane = size / (8 * kLanes) * 8;
  const size_t head = (size - lane * kLanes) / 8 * 8;
  const size_t tail = size - head - lane * kLanes;

  // Multipliers first: they depend on nothing but the length, so they are ready by the
  // time the lanes are.
  uint32_t k[kLanes - 1];
  const size_t words = lane / 8;
  if (words * (kLanes - 1) < kShiftDigitValues) {
    for (int j = 0; j < kLanes - 1; ++j) k[j] = kShiftDigitTable.k[0][words * (kLanes - 1 - j)];
  } else {
    for (int j = 0; j < kLanes - 1; ++j) {
      k[j] = ShiftMultiplierWords(words * static_cast<size_t>(kLanes - 1 - j));
    }
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
  if (size < kWideLanesMinBytes) return LanesState<4>(state, data, size);
  return LanesState<8>(state, data, size);
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
