// Picks the CRC32C level once and keeps it behind a function pointer (built with the
// baseline flags: nothing here may use an instruction the CPU might lack).
//
// The level is the best one the CPU allows (CPUID on x86-64; on Linux arm64 the CPU
// features the kernel reports in getauxval(AT_HWCAP), since the ID registers that say so
// are not readable from user space everywhere), unless KAFKA_TURBO_CRC32C forces one. A forced
// level the CPU cannot run, or an unknown value, is refused with a message (the addon
// turns it into a load error) rather than quietly replaced, so a benchmark or a test that
// asked for a level never measures another one.
#include <pthread.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <string>

#include "crc32c.h"
#include "internal.h"

#if defined(KAFKA_TURBO_CRC32C_X86)
#if defined(_MSC_VER)
#include <intrin.h>
#else
#include <cpuid.h>
#endif
#endif

#if defined(KAFKA_TURBO_CRC32C_ARM64)
#include <sys/auxv.h>
// The AT_HWCAP bits of the Linux arm64 ABI (arch/arm64/include/uapi/asm/hwcap.h); spelled
// out for C libraries whose headers lack them.
#ifndef HWCAP_PMULL
#define HWCAP_PMULL (1UL << 4)
#endif
#ifndef HWCAP_CRC32
#define HWCAP_CRC32 (1UL << 7)
#endif
#endif

namespace kafka_turbo {
namespace crc32c {
namespace {

struct CpuLevels {
  bool sse42 = false;   // crc32 instruction + PCLMULQDQ (the lanes are joined with it)
  bool avx512 = false;  // the above + AVX-512 F/VL/BW + VPCLMULQDQ, state enabled by the OS
  // Starts two crc32 per cycle (AMD family 1Ah, Zen 5, and later): the AVX-512 level then
  // runs crc32 lanes beside the folding. Elsewhere they would compete with it for one port.
  bool wide_crc32 = false;
  bool armv8 = false;  // arm64: the crc32c instructions + PMULL (the lanes are joined with it)
};

#if defined(KAFKA_TURBO_CRC32C_X86)
void Cpuid(unsigned leaf, unsigned subleaf, unsigned regs[4]) {
#if defined(_MSC_VER)
  int r[4];
  __cpuidex(r, static_cast<int>(leaf), static_cast<int>(subleaf));
  for (int i = 0; i < 4; ++i) regs[i] = static_cast<unsigned>(r[i]);
#else
  __cpuid_count(leaf, subleaf, regs[0], regs[1], regs[2], regs[3]);
#endif
}

// XCR0: which register states the OS saves on a context switch. Read with the raw
// instruction so this file needs no -mxsave.
unsigned long long ReadXcr0() {
#if defined(_MSC_VER)
  return _xgetbv(0);
#else
  unsigned eax = 0;
  unsigned edx = 0;
  __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
  return (static_cast<unsigned long long>(edx) << 32) | eax;
#endif
}

CpuLevels DetectCpu() {
  CpuLevels levels;
  unsigned r[4];
  Cpuid(0, 0, r);
  const unsigned max_leaf = r[0];
  // "AuthenticAMD" in EBX, EDX, ECX.
  const bool amd = r[1] == 0x68747541u && r[3] == 0x69746E65u && r[2] == 0x444D4163u;
  if (max_leaf < 1) return levels;
  Cpuid(1, 0, r);
  const unsigned eax1 = r[0];
  const unsigned ecx1 = r[2];
  const unsigned base_family = (eax1 >> 8) & 0xFu;
  const unsigned family = base_family == 0xFu ? base_family + ((eax1 >> 20) & 0xFFu) : base_family;
  levels.wide_crc32 = amd && family >= 0x1Au;
  const bool has_sse42 = (ecx1 >> 20) & 1u;
  const bool has_pclmul = (ecx1 >> 1) & 1u;
  const bool has_osxsave = (ecx1 >> 27) & 1u;
  levels.sse42 = has_sse42 && has_pclmul;
  if (!levels.sse42 || !has_osxsave || max_leaf < 7) return levels;

  // XMM (bit 1), YMM (2), opmask (5), ZMM0-15 upper halves (6), ZMM16-31 (7).
  constexpr unsigned long long kAvx512State = 0xE6;
  if ((ReadXcr0() & kAvx512State) != kAvx512State) return levels;
  Cpuid(7, 0, r);
  const unsigned ebx7 = r[1];
  const unsigned ecx7 = r[2];
  const bool has_avx512f = (ebx7 >> 16) & 1u;
  const bool has_avx512bw = (ebx7 >> 30) & 1u;
  const bool has_avx512vl = (ebx7 >> 31) & 1u;
  const bool has_vpclmulqdq = (ecx7 >> 10) & 1u;
  levels.avx512 = has_avx512f && has_avx512bw && has_avx512vl && has_vpclmulqdq;
  return levels;
}
#elif defined(KAFKA_TURBO_CRC32C_ARM64)
CpuLevels DetectCpu() {
  CpuLevels levels;
  const unsigned long hwcap = getauxval(AT_HWCAP);
  levels.armv8 = (hwcap & HWCAP_CRC32) != 0 && (hwcap & HWCAP_PMULL) != 0;
  return levels;
}
#else
CpuLevels DetectCpu() { return CpuLevels{}; }
#endif

uint32_t ExtendTable(uint32_t crc, const uint8_t* data, size_t size) {
  return ~internal::TableState(~crc, data, size);
}

#if defined(KAFKA_TURBO_CRC32C_X86)
uint32_t ExtendSse42(uint32_t crc, const uint8_t* data, size_t size) {
  return ~internal::Sse42State(~crc, data, size);
}

uint32_t ExtendAvx512(uint32_t crc, const uint8_t* data, size_t size) {
  return ~internal::Avx512FoldState(~crc, data, size);
}

uint32_t ExtendAvx512Lanes(uint32_t crc, const uint8_t* data, size_t size) {
  return ~internal::Avx512FoldLanesState(~crc, data, size);
}
#endif

#if defined(KAFKA_TURBO_CRC32C_ARM64)
uint32_t ExtendArmv8(uint32_t crc, const uint8_t* data, size_t size) {
  return ~internal::Armv8State(~crc, data, size);
}
#endif

struct Dispatch {
  CpuLevels cpu;
  Level level = Level::kTable;
  ExtendFunction extend = &ExtendTable;
  std::string error;  // empty when dispatch went fine
};

Dispatch* g_dispatch = nullptr;  // written once under g_once, never freed
// pthread_once, not std::call_once: the latter is compiled into the C++ library, which the
// prebuilt binaries do not link (core/sync.h says why).
pthread_once_t g_once = PTHREAD_ONCE_INIT;
uint32_t ExtendFirstCall(uint32_t crc, const uint8_t* data, size_t size);
// The pointer every Extend() goes through: the resolver until the first call, then the
// chosen level. Relaxed loads are enough: every value it ever holds is a correct function.
std::atomic<ExtendFunction> g_extend{&ExtendFirstCall};

bool Supported(const CpuLevels& cpu, Level level) {
  switch (level) {
    case Level::kTable: return true;
    case Level::kSse42: return cpu.sse42;
    case Level::kAvx512: return cpu.avx512;
    case Level::kArmv8: return cpu.armv8;
  }
  return false;
}

ExtendFunction FunctionOf(const CpuLevels& cpu, Level level) {
  switch (level) {
    case Level::kTable: return &ExtendTable;
#if defined(KAFKA_TURBO_CRC32C_X86)
    case Level::kSse42: return &ExtendSse42;
    case Level::kAvx512: return cpu.wide_crc32 ? &ExtendAvx512Lanes : &ExtendAvx512;
#endif
#if defined(KAFKA_TURBO_CRC32C_ARM64)
    case Level::kArmv8: return &ExtendArmv8;
#endif
    default:
      (void)cpu;
      return nullptr;
  }
  return nullptr;
}

bool ParseLevel(const char* text, Level* level) {
  if (std::strcmp(text, "table") == 0) {
    *level = Level::kTable;
  } else if (std::strcmp(text, "sse42") == 0) {
    *level = Level::kSse42;
  } else if (std::strcmp(text, "avx512") == 0 || std::strcmp(text, "avx512-vpclmul") == 0) {
    *level = Level::kAvx512;
  } else if (std::strcmp(text, "armv8") == 0 || std::strcmp(text, "armv8-crc") == 0) {
    *level = Level::kArmv8;
  } else {
    return false;
  }
  return true;
}

const char* Missing(Level level) {
  switch (level) {
    case Level::kSse42:
      return "it needs an x86-64 CPU with SSE4.2 and PCLMULQDQ";
    case Level::kAvx512:
      return "it needs an x86-64 CPU with AVX-512 F/VL/BW and VPCLMULQDQ, and an OS that "
             "enables the AVX-512 register state";
    case Level::kArmv8:
      return "it needs an arm64 CPU with the CRC32 and PMULL features (AT_HWCAP)";
    case Level::kTable:
      break;
  }
  return "";
}

void Resolve() {
  auto* d = new Dispatch();
  d->cpu = DetectCpu();
  d->level = d->cpu.avx512  ? Level::kAvx512
             : d->cpu.sse42 ? Level::kSse42
             : d->cpu.armv8 ? Level::kArmv8
                            : Level::kTable;

  const char* forced = std::getenv(kLevelEnvVar);
  if (forced != nullptr && forced[0] != '\0') {
    Level wanted = Level::kTable;
    if (!ParseLevel(forced, &wanted)) {
      d->error = std::string(kLevelEnvVar) + "=" + forced +
                 " is not a CRC32C level: use table, sse42, avx512 or armv8, or unset it";
    } else if (!Supported(d->cpu, wanted)) {
      d->error = std::string(kLevelEnvVar) + "=" + forced + " cannot run here: " +
                 Missing(wanted) + " (best level here: " + LevelName(d->level) + ")";
    } else {
      d->level = wanted;
    }
  }
  d->extend = FunctionOf(d->cpu, d->level);
  g_dispatch = d;
  g_extend.store(d->extend, std::memory_order_release);
}

const Dispatch& Get() {
  pthread_once(&g_once, Resolve);
  return *g_dispatch;
}

uint32_t ExtendFirstCall(uint32_t crc, const uint8_t* data, size_t size) {
  return Get().extend(crc, data, size);
}

}  // namespace

uint32_t Extend(uint32_t crc, const uint8_t* data, size_t size) {
  return g_extend.load(std::memory_order_relaxed)(crc, data, size);
}

const char* DispatchError() {
  const Dispatch& d = Get();
  return d.error.empty() ? nullptr : d.error.c_str();
}

Level ActiveLevel() { return Get().level; }

const char* LevelName(Level level) {
  switch (level) {
    case Level::kTable: return "table";
    case Level::kSse42: return "sse42";
    case Level::kAvx512: return "avx512-vpclmul";
    case Level::kArmv8: return "armv8-crc";
  }
  return "table";
}

bool CpuSupports(Level level) { return Supported(Get().cpu, level); }

ExtendFunction ExtendFunctionFor(Level level) {
  const Dispatch& d = Get();
  return Supported(d.cpu, level) ? FunctionOf(d.cpu, level) : nullptr;
}

}  // namespace crc32c
}  // namespace kafka_turbo
