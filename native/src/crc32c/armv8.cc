// CRC32C with the ARMv8 CRC32 instructions (arm64 only; built with
// -march=armv8-a+crc+crypto and called only after dispatch.cc has seen HWCAP_CRC32 and
// HWCAP_PMULL in getauxval(AT_HWCAP)).
//
// Why lanes: crc32cx (8 bytes) has a latency of 2-3 cycles on the Neoverse and Apple cores
// and a throughput of one per cycle, so a single dependent chain leaves most of the unit
// idle. Three chains fill it on every core we know of; more only cost registers. So the
// buffer is cut into blocks of three equal lanes, each lane runs its own chain, and the
// three registers are joined at the end of each block.
//
// Joining lanes: the same identity as sse42.cc. A lane's register c, followed by S more
// bytes, contributes c * x^(8S) mod P to the block's register. With K = x^(8S - 33) mod P,
// the 64-bit carry-less product c * K (PMULL, vmull_p64) read as a message word has the
// value c * K * x, and crc32cx(0, w) = w * x^32 mod P, so
//     crc32cx(0, pmull(c, K)) = c * x^(8S) mod P.
// crc32cx(0, .) is linear: the two products are XORed and reduced by one crc32cx, then
// XORed with the last lane's register.
//
// Unlike sse42.cc, the lane length here is fixed per block size (a few KiB, then a few
// hundred bytes, then a single chain for the rest), so every multiplier is a compile-time
// constant and no table of multipliers is needed: blocks of a few KiB already make the join's
// cost (two PMULL and one crc32cx) negligible, and the remainder is short.
#include <arm_acle.h>
#include <arm_neon.h>

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "internal.h"

namespace kafka_turbo {
namespace crc32c {
namespace internal {
namespace {

constexpr int kLanes = 3;
// Lane lengths of the two block sizes (bytes, multiples of 8): 3 x 1024 for the bulk of a
// long buffer, 3 x 128 for what is left; below 3 x 128 bytes one chain finishes it.
constexpr size_t kLongLane = 1024;
constexpr size_t kShortLane = 128;

// x^(8S - 33) mod P: the multiplier that carries a register past S bytes.
constexpr uint32_t ShiftMultiplier(size_t bytes) { return XPowMod(uint64_t{8} * bytes - 33); }

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

// The single-chain loop: 8 bytes per crc32cx, then 4, 2, 1.
inline uint32_t SerialState(uint32_t state, const uint8_t* p, size_t size) {
  while (size >= 8) {
    state = __crc32cd(state, Load64(p));
    p += 8;
    size -= 8;
  }
  if ((size & 4) != 0) {
    state = __crc32cw(state, Load32(p));
    p += 4;
  }
  if ((size & 2) != 0) {
    state = __crc32ch(state, Load16(p));
    p += 2;
  }
  if ((size & 1) != 0) state = __crc32cb(state, *p);
  return state;
}

// The 64-bit carry-less product of two 32-bit values (it fits in 63 bits).
inline uint64_t ClMul(uint32_t a, uint32_t b) {
  const poly128_t product = vmull_p64(static_cast<poly64_t>(a), static_cast<poly64_t>(b));
  return vgetq_lane_u64(vreinterpretq_u64_p128(product), 0);
}

// One block of kLanes lanes of kLane bytes at p, continuing from `state`.
template <size_t kLane>
inline uint32_t BlockState(uint32_t state, const uint8_t* p) {
  // Lane 0 is followed by two lanes, lane 1 by one; the constants are folded at compile time.
  constexpr uint32_t k0 = ShiftMultiplier(2 * kLane);
  constexpr uint32_t k1 = ShiftMultiplier(kLane);
  uint32_t c0 = state;
  uint32_t c1 = 0;
  uint32_t c2 = 0;
  for (size_t i = 0; i < kLane; i += 8) {
    c0 = __crc32cd(c0, Load64(p + i));
    c1 = __crc32cd(c1, Load64(p + kLane + i));
    c2 = __crc32cd(c2, Load64(p + 2 * kLane + i));
  }
  return __crc32cd(0, ClMul(c0, k0) ^ ClMul(c1, k1)) ^ c2;
}

}  // namespace

uint32_t Armv8State(uint32_t state, const uint8_t* data, size_t size) {
  const uint8_t* p = data;
  while (size >= kLanes * kLongLane) {
    state = BlockState<kLongLane>(state, p);
    p += kLanes * kLongLane;
    size -= kLanes * kLongLane;
  }
  while (size >= kLanes * kShortLane) {
    state = BlockState<kShortLane>(state, p);
    p += kLanes * kShortLane;
    size -= kLanes * kShortLane;
  }
  return SerialState(state, p, size);
}

}  // namespace internal
}  // namespace crc32c
}  // namespace kafka_turbo
