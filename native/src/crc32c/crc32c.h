// CRC32C (Castagnoli, the checksum of Kafka record batches v2): the core's public API.
//
// Plain C++: no napi.h here, so the C-level tests and benches use it directly and the
// binding layer only unpacks arguments and calls Extend().
//
// Three implementations compute the same function:
//   table          portable slice-by-16 (any CPU, any architecture)
//   sse42          the SSE4.2 crc32 instruction on interleaved lanes, lanes joined with
//                  PCLMULQDQ (x86-64)
//   avx512-vpclmul 512-bit VPCLMULQDQ folding, beside crc32 lanes on CPUs that start two
//                  crc32 per cycle (x86-64 with AVX-512 F/VL/BW + VPCLMULQDQ, and an OS
//                  that saves the AVX-512 state)
//   armv8-crc      the ARMv8 crc32c instructions on interleaved lanes, lanes joined with
//                  PMULL (arm64 with the CRC32 and PMULL features)
// One of them is chosen once, on first use, from CPUID on x86-64 or getauxval(AT_HWCAP) on
// Linux arm64 (or the KAFKA_TURBO_CRC32C environment variable) and kept behind a function
// pointer.
#ifndef KAFKA_TURBO_CRC32C_CRC32C_H_
#define KAFKA_TURBO_CRC32C_CRC32C_H_

#include <cstddef>
#include <cstdint>

namespace kafka_turbo {
namespace crc32c {

enum class Level : int {
  kTable = 0,
  kSse42 = 1,
  kAvx512 = 2,
  kArmv8 = 3,
};

// Every function here may be called from any thread (@thread any): the dispatch state is
// resolved once under std::call_once and never changes after that.

// CRC32C of data[0, size), continuing from `crc`: 0 starts a new checksum, a previous
// result continues it, so Extend(Extend(0, a, n), a + n, m) == Extend(0, a, n + m).
// `data` may be null when size is 0. Any alignment.
uint32_t Extend(uint32_t crc, const uint8_t* data, size_t size);

// The environment variable that forces a level: table | sse42 | avx512 | armv8
// (avx512-vpclmul and armv8-crc are accepted too). Unset or empty: the best level the CPU supports.
constexpr const char* kLevelEnvVar = "KAFKA_TURBO_CRC32C";

// Null when dispatch went fine; otherwise one line saying why the forced level was refused
// (unknown value, or a level this CPU or OS cannot run). Extend() still works then, on the
// best level the CPU supports; the addon refuses to load so the user sees the message.
const char* DispatchError();

// The level Extend() runs.
Level ActiveLevel();

// "table", "sse42", "avx512-vpclmul" or "armv8-crc" (the names BackendInfo.crc32c reports).
const char* LevelName(Level level);

// Whether this build has the level compiled in and this CPU + OS can run it.
bool CpuSupports(Level level);

// The Extend() of one level, or null when CpuSupports(level) is false. For tests and
// benches that compare levels in one process; production code calls Extend().
using ExtendFunction = uint32_t (*)(uint32_t crc, const uint8_t* data, size_t size);
ExtendFunction ExtendFunctionFor(Level level);

}  // namespace crc32c
}  // namespace kafka_turbo

#endif  // KAFKA_TURBO_CRC32C_CRC32C_H_
