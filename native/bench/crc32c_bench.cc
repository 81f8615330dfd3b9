// CRC32C throughput per level, called from C (no Node in the way), in GB/s (1e9 bytes/s).
// Build and run:
//   native/test/build.sh && native/build/c/crc32c_bench
// (the one-off equivalent: compile sse42.cc with -msse4.2 -mpclmul and avx512.cc with
//  -mavx512f -mavx512vl -mavx512bw -mvpclmulqdq -mpclmul, each to its own object, then
//  g++ -std=c++17 -O3 -DKAFKA_TURBO_CRC32C_X86 -pthread native/bench/crc32c_bench.cc
//  native/src/crc32c/{dispatch,portable}.cc sse42.o avx512.o)
//
// Each measurement first checks the level against the table level on the same bytes,
// then times calls that each continue from the previous result (so a call cannot overlap
// the one before it: this is the latency a caller sees, not a pipelined best case), over
// at least 5 ms, and keeps the best of 15 runs (short runs, many of them: the best one is
// the one no other process disturbed). "aligned" buffers start on a 64-byte
// boundary, "offset 1" one byte past it. TUNING=1 builds also measure other AVX-512 splits.
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <vector>

#include "../src/crc32c/crc32c.h"

namespace crc = kafka_turbo::crc32c;

#if defined(KAFKA_TURBO_CRC32C_TUNING)
namespace kafka_turbo {
namespace crc32c {
namespace internal {
uint32_t Avx512TuningState(int variant, uint32_t state, const uint8_t* data, size_t size);
uint32_t Sse42TuningState(int variant, uint32_t state, const uint8_t* data, size_t size);
}
}  // namespace crc32c
}  // namespace kafka_turbo
#endif

namespace {

using Clock = std::chrono::steady_clock;
using Fn = uint32_t (*)(uint32_t, const uint8_t*, size_t);

volatile uint32_t g_sink;

double MeasureGbps(Fn f, const uint8_t* p, size_t n) {
  double best = 0;
  for (int run = 0; run < 15; ++run) {
    size_t calls = 0;
    uint32_t c = 0;
    const auto start = Clock::now();
    double seconds = 0;
    do {
      for (int i = 0; i < 64; ++i) c = f(c, p, n);
      calls += 64;
      seconds = std::chrono::duration<double>(Clock::now() - start).count();
    } while (seconds < 0.005);
    g_sink = c;
    const double gbps = static_cast<double>(calls) * static_cast<double>(n) / seconds / 1e9;
    if (gbps > best) best = gbps;
  }
  return best;
}

#if defined(KAFKA_TURBO_CRC32C_TUNING)
template <int kVariant>
uint32_t Tuning(uint32_t crc, const uint8_t* p, size_t n) {
  return ~kafka_turbo::crc32c::internal::Avx512TuningState(kVariant, ~crc, p, n);
}

template <int kVariant>
uint32_t TuningSse42(uint32_t crc, const uint8_t* p, size_t n) {
  return ~kafka_turbo::crc32c::internal::Sse42TuningState(kVariant, ~crc, p, n);
}
#endif

}  // namespace

int main(int argc, char** argv) {
  // Sizes in bytes may be given as arguments; these are the default.
  std::vector<size_t> sizes = {64, 256, 1024, 4096, 16384, 65536, 1u << 20};
  if (argc > 1) {
    sizes.clear();
    for (int i = 1; i < argc; ++i) sizes.push_back(std::strtoull(argv[i], nullptr, 0));
  }
  size_t largest = 0;
  for (size_t n : sizes) largest = n > largest ? n : largest;
  std::vector<uint8_t> storage(largest + 256);
  std::mt19937_64 rng(7);
  for (auto& b : storage) b = static_cast<uint8_t>(rng());
  uint8_t* aligned = storage.data();
  while (reinterpret_cast<uintptr_t>(aligned) % 64 != 0) ++aligned;

  struct Candidate {
    const char* name;
    Fn f;
  };
  std::vector<Candidate> candidates;
  for (crc::Level level : {crc::Level::kTable, crc::Level::kSse42, crc::Level::kAvx512,
                           crc::Level::kArmv8}) {
    if (crc::ExtendFunction f = crc::ExtendFunctionFor(level)) {
      candidates.push_back({crc::LevelName(level), f});
    }
  }
#if defined(KAFKA_TURBO_CRC32C_TUNING)
  if (crc::CpuSupports(crc::Level::kSse42)) {
    candidates.push_back({"sse42 serial", &TuningSse42<0>});
    candidates.push_back({"sse42 3 lanes", &TuningSse42<1>});
    candidates.push_back({"sse42 4 lanes", &TuningSse42<2>});
    candidates.push_back({"sse42 6 l/48", &TuningSse42<3>});
    candidates.push_back({"sse42 6 l/128", &TuningSse42<4>});
    candidates.push_back({"sse42 8 lanes", &TuningSse42<5>});
    candidates.push_back({"sse42 10 lanes", &TuningSse42<6>});
    candidates.push_back({"sse42 12 lanes", &TuningSse42<7>});
    candidates.push_back({"sse42 16 lanes", &TuningSse42<8>});
  }
  if (crc::CpuSupports(crc::Level::kAvx512)) {
    candidates.push_back({"fold only", &Tuning<0>});
    candidates.push_back({"fold+4x5", &Tuning<1>});
    candidates.push_back({"fold+4x6", &Tuning<2>});
    candidates.push_back({"fold+5x5", &Tuning<3>});
    candidates.push_back({"fold+5x6", &Tuning<4>});
    candidates.push_back({"fold+5x7", &Tuning<5>});
    candidates.push_back({"fold+6x5", &Tuning<6>});
    candidates.push_back({"fold+3x6", &Tuning<7>});
    candidates.push_back({"fold+2x4", &Tuning<8>});
  }
#endif
  const Fn table = crc::ExtendFunctionFor(crc::Level::kTable);

  std::printf("%-16s %-9s", "level", "start");
  for (size_t n : sizes) {
    if (n >= 1024 && n % 1024 == 0) {
      std::printf(" %8zuK", n / 1024);
    } else {
      std::printf(" %8zuB", n);
    }
  }
  std::printf("   (GB/s)\n");
  int mismatches = 0;
  for (const Candidate& c : candidates) {
    for (size_t offset : {size_t{0}, size_t{1}}) {
      std::printf("%-16s %-9s", c.name, offset == 0 ? "aligned" : "offset 1");
      for (size_t n : sizes) {
        const uint8_t* p = aligned + offset;
        if (c.f(0x1234u, p, n) != table(0x1234u, p, n)) {
          ++mismatches;
          std::printf(" %9s", "MISMATCH");
          continue;
        }
        std::printf(" %9.2f", MeasureGbps(c.f, p, n));
        std::fflush(stdout);
      }
      std::printf("\n");
    }
  }
  return mismatches == 0 ? 0 : 1;
}
