// CRC32C with 512-bit VPCLMULQDQ folding (x86-64 only; built with -mavx512f -mavx512vl
// -mavx512bw -mvpclmulqdq -mpclmul and called only after dispatch.cc has seen those
// features in CPUID and the OS saving the AVX-512 register state in XCR0).
//
// Folding. Four 512-bit accumulators hold the last 256 bytes read, as sixteen 128-bit
// lanes. A 128-bit lane X, with H its first 8 bytes (the higher-degree half) and L its
// last 8, is carried forward past d bytes to where new data is XORed in:
//     X * x^(8d) = H * x^(8d + 64) + L * x^(8d)          (mod P)
// Read as a 128-bit lane, the carry-less product of a reflected 64-bit half and a
// reflected 32-bit multiplier stands for their product times x^33, so the multipliers are
// x^(8d + 31) for H and x^(8d - 33) for L; the two 96-bit products XORed together are
// congruent to X * x^(8d) and fit in the lane. Each 64-byte step is two VPCLMULQDQ and one
// three-way XOR (VPTERNLOGQ). At the end the accumulators are folded into one, its four
// lanes into one, and the last 128 bits X are reduced by two crc32 instructions: the
// register after X from zero is crc32_u64(crc32_u64(0, H), L).
//
// crc32 lanes beside the folding (Avx512FoldLanesState). On AMD Zen 5 a 512-bit
// VPCLMULQDQ issues once per two cycles, which caps folding near 16 bytes per cycle (63
// GB/s measured), while the two crc32 ports sit idle. So on such CPUs each loop iteration
// also advances five crc32 chains over stretches of their own, joined to the folded part
// at the end with the multipliers of sse42.cc: about 100 GB/s from 16 KiB up. Where one
// port runs crc32 (Intel) or VPCLMULQDQ is not the bottleneck, the chains would only
// compete with the folding, so dispatch.cc picks folding alone (Avx512FoldState) there.
//
// Short buffers go to the SSE4.2 lanes (below 512 bytes they are faster than loading and
// reducing four accumulators).
#include <immintrin.h>

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "internal.h"

namespace kafka_turbo {
namespace crc32c {
namespace internal {
namespace {

struct FoldMultipliers {
  uint64_t high_half;  // x^(8d + 31) mod P, for the first 8 bytes of a lane
  uint64_t low_half;   // x^(8d - 33) mod P, for the last 8 bytes
};

constexpr FoldMultipliers FoldBy(uint64_t bytes) {
  return FoldMultipliers{XPowMod(8 * bytes + 31), XPowMod(8 * bytes - 33)};
}

constexpr FoldMultipliers kFold16 = FoldBy(16);
constexpr FoldMultipliers kFold32 = FoldBy(32);
constexpr FoldMultipliers kFold48 = FoldBy(48);
constexpr FoldMultipliers kFold64 = FoldBy(64);
constexpr FoldMultipliers kFold128 = FoldBy(128);
constexpr FoldMultipliers kFold192 = FoldBy(192);
constexpr FoldMultipliers kFold256 = FoldBy(256);

inline __m512i Broadcast(FoldMultipliers m) {
  const auto hi = static_cast<int64_t>(m.high_half);
  const auto lo = static_cast<int64_t>(m.low_half);
  return _mm512_set_epi64(lo, hi, lo, hi, lo, hi, lo, hi);
}

inline __m512i Load512(const uint8_t* p) { return _mm512_loadu_si512(p); }

inline uint64_t Load64(const uint8_t* p) {
  uint64_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

// acc carried past the distance `k` was built for, XORed with `data`.
inline __m512i Fold(__m512i acc, __m512i k, __m512i data) {
  return _mm512_ternarylogic_epi64(_mm512_clmulepi64_epi128(acc, k, 0x00),
                                   _mm512_clmulepi64_epi128(acc, k, 0x11), data, 0x96);
}

// The four accumulators (the last 256 bytes) folded into one (the last 64 bytes).
inline __m512i Merge(const __m512i acc[4]) {
  __m512i x = Fold(acc[0], Broadcast(kFold192), acc[3]);
  const __m512i k128 = Broadcast(kFold128);
  x = _mm512_ternarylogic_epi64(x, _mm512_clmulepi64_epi128(acc[1], k128, 0x00),
                                _mm512_clmulepi64_epi128(acc[1], k128, 0x11), 0x96);
  return Fold(acc[2], Broadcast(kFold64), x);
}

// The register after the 64 bytes in x (CRC state already folded in), from zero.
inline uint32_t Reduce(__m512i x) {
  // Lanes 0, 1, 2 carried past 48, 32, 16 bytes onto lane 3; lane 3 kept as it is.
  const __m512i k = _mm512_set_epi64(0, 0, static_cast<int64_t>(kFold16.low_half),
                                     static_cast<int64_t>(kFold16.high_half),
                                     static_cast<int64_t>(kFold32.low_half),
                                     static_cast<int64_t>(kFold32.high_half),
                                     static_cast<int64_t>(kFold48.low_half),
                                     static_cast<int64_t>(kFold48.high_half));
  __m512i y = _mm512_xor_si512(_mm512_clmulepi64_epi128(x, k, 0x00),
                               _mm512_clmulepi64_epi128(x, k, 0x11));
  y = _mm512_mask_xor_epi64(y, 0xC0, y, x);
  // (The maskz forms: GCC 12 warns about the undefined source of the plain ones.)
  const __m256i h = _mm256_xor_si256(_mm512_maskz_extracti64x4_epi64(0xF, y, 0),
                                     _mm512_maskz_extracti64x4_epi64(0xF, y, 1));
  const __m128i r = _mm_xor_si128(_mm256_castsi256_si128(h), _mm256_extracti128_si256(h, 1));
  const uint64_t first = _mm_crc32_u64(0, static_cast<uint64_t>(_mm_cvtsi128_si64(r)));
  return static_cast<uint32_t>(
      _mm_crc32_u64(first, static_cast<uint64_t>(_mm_extract_epi64(r, 1))));
}

// The buffer is cut as [head | folded stretch | lane 0 | lane 1 | ... ]: the folded
// stretch takes 256 bytes per iteration and each crc32 lane kScalarWords words, and the
// head (what does not fill an iteration) runs through the SSE4.2 lanes from `state`. The
// three parts depend on nothing of each other until the join, so the head's crc32 work
// overlaps the folding instead of following it. The join carries each part's register
// past the bytes after it, with the multipliers of sse42.cc, and XORs them.
template <int kScalarLanes, int kScalarWords>
uint32_t FoldWithLanes(uint32_t state, const uint8_t* data, size_t size) {
  constexpr size_t kVectorStep = 256;
  constexpr size_t kScalarStep = 8 * kScalarWords;
  constexpr size_t kStep = kVectorStep + kScalarLanes * kScalarStep;
  const size_t iterations = size / kStep;
  const size_t body = iterations * kStep;
  const size_t head = size - body;
  const size_t lane_bytes = iterations * kScalarStep;
  const uint8_t* const vector_part = data + head;
  const uint8_t* const lanes = vector_part + iterations * kVectorStep;

  // Multipliers: for the head past the body, for the folded stretch past the lanes, for
  // lane j past the lanes after it.
  // Without a head and without lanes the folded stretch is everything: it starts from
  // `state` (XORed into its first 4 bytes, as crc32 would) and there is nothing to join.
  const bool fold_is_everything = kScalarLanes == 0 && head == 0;
  uint32_t k_head = 0;
  uint32_t head_state = 0;
  if (!fold_is_everything) {
    k_head = Sse42ShiftMultiplier(body);
    head_state = Sse42State(state, data, head);
  }
  uint32_t k[kScalarLanes > 0 ? kScalarLanes : 1];
  for (int j = 0; j < kScalarLanes; ++j) {
    k[j] = Sse42ShiftMultiplier(lane_bytes * static_cast<size_t>(kScalarLanes - j));
  }

  __m512i acc[4];
  for (int i = 0; i < 4; ++i) acc[i] = Load512(vector_part + 64 * i);
  if (fold_is_everything) {
    acc[0] = _mm512_xor_si512(acc[0],
                              _mm512_zextsi128_si512(_mm_cvtsi32_si128(static_cast<int>(state))));
  }
  uint64_t c[kScalarLanes > 0 ? kScalarLanes : 1];
  for (int j = 0; j < kScalarLanes; ++j) c[j] = 0;
  for (int w = 0; w < kScalarWords; ++w) {
    for (int j = 0; j < kScalarLanes; ++j) {
      c[j] = _mm_crc32_u64(c[j], Load64(lanes + j * lane_bytes + 8 * w));
    }
  }

  const __m512i k256 = Broadcast(kFold256);
  for (size_t it = 1; it < iterations; ++it) {
    const uint8_t* v = vector_part + it * kVectorStep;
    for (int i = 0; i < 4; ++i) acc[i] = Fold(acc[i], k256, Load512(v + 64 * i));
    const uint8_t* s = lanes + it * kScalarStep;
    for (int w = 0; w < kScalarWords; ++w) {
      for (int j = 0; j < kScalarLanes; ++j) {
        c[j] = _mm_crc32_u64(c[j], Load64(s + j * lane_bytes + 8 * w));
      }
    }
  }

  const uint32_t folded = Reduce(Merge(acc));
  if (fold_is_everything) return folded;
  __m128i sum = _mm_clmulepi64_si128(_mm_cvtsi32_si128(static_cast<int>(head_state)),
                                     _mm_cvtsi32_si128(static_cast<int>(k_head)), 0x00);
  uint32_t last = folded;
  if (kScalarLanes > 0) {
    sum = _mm_xor_si128(sum, _mm_clmulepi64_si128(_mm_cvtsi32_si128(static_cast<int>(folded)),
                                                  _mm_cvtsi32_si128(static_cast<int>(k[0])),
                                                  0x00));
    for (int j = 0; j + 1 < kScalarLanes; ++j) {
      sum = _mm_xor_si128(sum, _mm_clmulepi64_si128(
                                   _mm_cvtsi64_si128(static_cast<int64_t>(c[j])),
                                   _mm_cvtsi32_si128(static_cast<int>(k[j + 1])), 0x00));
    }
    last = static_cast<uint32_t>(c[kScalarLanes - 1]);
  }
  return static_cast<uint32_t>(_mm_crc32_u64(0, static_cast<uint64_t>(_mm_cvtsi128_si64(sum)))) ^
         last;
}

// Measured on AMD Zen 5 (native/bench/crc32c_bench.cc, TUNING=1): five chains of six
// words beside the folding beat 3..6 chains of 4..8 words, and folding alone beats any
// split below 2 KiB (the split leaves a longer remainder); below 512 bytes the 8 crc32
// lanes of sse42.cc beat folding (loading and reducing four accumulators costs ~40 cycles).
constexpr int kScalarLanes = 5;
constexpr int kScalarWords = 6;
constexpr size_t kFoldMinBytes = 512;
constexpr size_t kLanesMinBytes = 2048;

}  // namespace

uint32_t Avx512FoldState(uint32_t state, const uint8_t* data, size_t size) {
  if (size < kFoldMinBytes) return Sse42State(state, data, size);
  return FoldWithLanes<0, 1>(state, data, size);
}

uint32_t Avx512FoldLanesState(uint32_t state, const uint8_t* data, size_t size) {
  if (size < kLanesMinBytes) return Avx512FoldState(state, data, size);
  return FoldWithLanes<kScalarLanes, kScalarWords>(state, data, size);
}

#if defined(KAFKA_TURBO_CRC32C_TUNING)
// Bench-only: the same kernel with other splits, to measure which one this CPU likes.
uint32_t Avx512TuningState(int variant, uint32_t state, const uint8_t* data, size_t size) {
  if (variant == 0) {
    return size < 256 ? Sse42State(state, data, size) : FoldWithLanes<0, 1>(state, data, size);
  }
  if (size < 256 + 6 * 8 * 7) return Sse42State(state, data, size);
  switch (variant) {
    case 0: return FoldWithLanes<0, 1>(state, data, size);
    case 1: return FoldWithLanes<4, 5>(state, data, size);
    case 2: return FoldWithLanes<4, 6>(state, data, size);
    case 3: return FoldWithLanes<5, 5>(state, data, size);
    case 4: return FoldWithLanes<5, 6>(state, data, size);
    case 5: return FoldWithLanes<5, 7>(state, data, size);
    case 6: return FoldWithLanes<6, 5>(state, data, size);
    case 7: return FoldWithLanes<3, 6>(state, data, size);
    default: return FoldWithLanes<2, 4>(state, data, size);
  }
}
#endif

}  // namespace internal
}  // namespace crc32c
}  // namespace kafka_turbo
