// Shared by the CRC32C translation units: the per-level entry points and the GF(2)
// arithmetic the folding constants come from.
//
// Each SIMD translation unit is compiled with its own -m flags. Anything defined in a
// header and emitted by more than one of them (an inline function, a template) could be
// merged by the linker into the copy built with AVX-512 and then run on a CPU without it.
// So this header declares plain functions, and its constexpr helpers sit in an unnamed
// namespace: each translation unit keeps a private copy (they only run at compile time).
//
// Representation ("reflected", as the crc32 instruction and Kafka's byte order use it):
// a 32-bit value v stands for the polynomial  sum of x^(31-j) over the set bits j of v,
// so bit 0 is the coefficient of x^31 and 0x80000000 is 1. Multiplying by x is a right
// shift, and a bit shifted out past x^31 comes back as x^32 mod P, the reflected
// polynomial 0x82F63B78. A 64-bit word loaded little-endian from the message stands for
// sum of x^(63-j); the crc32 instruction computes crc32_u64(c, d) = (c*x^64 + d*x^32) mod P.
#ifndef KAFKA_TURBO_CRC32C_INTERNAL_H_
#define KAFKA_TURBO_CRC32C_INTERNAL_H_

#include <cstddef>
#include <cstdint>

namespace kafka_turbo {
namespace crc32c {
namespace internal {

// The level entry points work on the CRC register ("state"): state = ~crc. Extend()
// inverts on the way in and out, once, whatever the level.
uint32_t TableState(uint32_t state, const uint8_t* data, size_t size);
#if defined(KAFKA_TURBO_CRC32C_X86)
uint32_t Sse42State(uint32_t state, const uint8_t* data, size_t size);
// Two AVX-512 kernels: folding alone, for any AVX-512 + VPCLMULQDQ CPU, and folding with
// crc32 lanes beside it, for CPUs that start two crc32 per cycle (AMD Zen 5 and later),
// where folding alone leaves the crc32 ports idle (avx512.cc says more).
uint32_t Avx512FoldState(uint32_t state, const uint8_t* data, size_t size);
uint32_t Avx512FoldLanesState(uint32_t state, const uint8_t* data, size_t size);

// Joining registers (sse42.cc, used by avx512.cc too): x^(8S - 33) mod P for S a positive
// multiple of 8. crc32_u64(0, clmul(c, Sse42ShiftMultiplier(S))) = c * x^(8S) mod P, the
// register c carried past S more bytes (sse42.cc says why).
uint32_t Sse42ShiftMultiplier(size_t bytes);
#endif
#if defined(KAFKA_TURBO_CRC32C_ARM64)
// The ARMv8 crc32c instructions on three interleaved lanes, joined with PMULL (armv8.cc).
uint32_t Armv8State(uint32_t state, const uint8_t* data, size_t size);
#endif

constexpr uint32_t kPolyReflected = 0x82F63B78u;  // x^32 mod P, P = 0x1EDC6F41 reflected

namespace {

// a * x mod P.
constexpr uint32_t MulX(uint32_t a) {
  return (a >> 1) ^ ((a & 1u) != 0 ? kPolyReflected : 0u);
}

// a * b mod P, by Horner's rule over a's coefficients from x^31 (bit 0) down to x^0.
constexpr uint32_t MulMod(uint32_t a, uint32_t b) {
  uint32_t r = 0;
  for (int j = 0; j < 32; ++j) {
    r = MulX(r);
    if (((a >> j) & 1u) != 0) r ^= b;
  }
  return r;
}

// x^e mod P, by square-and-multiply over the bits of e.
constexpr uint32_t XPowMod(uint64_t e) {
  uint32_t result = 0x80000000u;  // 1
  uint32_t power = 0x40000000u;   // x^(2^i), starting at x
  while (e != 0) {
    if ((e & 1u) != 0) result = MulMod(result, power);
    power = MulMod(power, power);
    e >>= 1;
  }
  return result;
}

}  // namespace
}  // namespace internal
}  // namespace crc32c
}  // namespace kafka_turbo

#endif  // KAFKA_TURBO_CRC32C_INTERNAL_H_
