// C-level tests of the CRC32C core: every level this CPU runs against a bitwise
// reference and the table level. Build and run (also under ASan/UBSan) with
//   native/test/build.sh && native/build/c/crc32c_test
//   SANITIZE=1 native/test/build.sh && native/build/c-asan/crc32c_test
// It ends with "N passed, N failed" and exits non-zero on any failure.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <vector>

#include "../src/crc32c/crc32c.h"
#include "../src/crc32c/internal.h"

namespace crc = kafka_turbo::crc32c;

namespace {

int g_passed = 0;
int g_failed = 0;

void Check(bool ok, const char* level, const char* what, size_t a, size_t b, uint32_t got,
           uint32_t want) {
  if (ok) {
    ++g_passed;
    return;
  }
  ++g_failed;
  if (g_failed <= 20) {
    std::printf("FAIL [%s] %s (%zu, %zu): got 0x%08X want 0x%08X\n", level, what, a, b, got,
                want);
  }
}

// The definition, one bit at a time: nothing shared with the code under test.
uint32_t Bitwise(uint32_t crc, const uint8_t* p, size_t n) {
  uint32_t r = ~crc;
  for (size_t i = 0; i < n; ++i) {
    r ^= p[i];
    for (int b = 0; b < 8; ++b) r = (r >> 1) ^ (0x82F63B78u & (0u - (r & 1u)));
  }
  return ~r;
}

struct Vector {
  const char* name;
  std::vector<uint8_t> data;
  uint32_t crc;
};

std::vector<Vector> KnownVectors() {
  std::vector<Vector> v;
  v.push_back({"RFC 3720 32 x 0x00", std::vector<uint8_t>(32, 0x00), 0x8A9136AAu});
  v.push_back({"RFC 3720 32 x 0xFF", std::vector<uint8_t>(32, 0xFF), 0x62A8AB43u});
  std::vector<uint8_t> up(32);
  std::vector<uint8_t> down(32);
  for (int i = 0; i < 32; ++i) {
    up[i] = static_cast<uint8_t>(i);
    down[i] = static_cast<uint8_t>(31 - i);
  }
  v.push_back({"RFC 3720 0..31", up, 0x46DD794Eu});
  v.push_back({"RFC 3720 31..0", down, 0x113FDB5Cu});
  const char* digits = "123456789";
  v.push_back({"\"123456789\"", std::vector<uint8_t>(digits, digits + 9), 0xE3069283u});
  v.push_back({"empty", {}, 0x00000000u});
  return v;
}

void TestImplementation(const char* name, crc::ExtendFunction f,
                        const std::vector<uint8_t>& random) {
  const crc::ExtendFunction table = crc::ExtendFunctionFor(crc::Level::kTable);
  const bool is_table = f == table;
  const uint8_t* data = random.data();

  for (const Vector& v : KnownVectors()) {
    const uint32_t got = f(0, v.data.data(), v.data.size());
    Check(got == v.crc, name, v.name, v.data.size(), 0, got, v.crc);
  }

  // Every prefix length 0..4096, at offsets 0 and 1..7, against the table level; the
  // table level itself against the bitwise definition. Each input is copied into a heap
  // block of exactly its size, so under ASan a read past either end is reported.
  for (size_t offset = 0; offset < 8; ++offset) {
    for (size_t n = 0; n <= 4096; ++n) {
      std::unique_ptr<uint8_t[]> exact(new uint8_t[n + offset]);
      std::memcpy(exact.get() + offset, data + offset, n);
      const uint32_t want = table(0, data + offset, n);
      const uint32_t got = f(0, exact.get() + offset, n);
      Check(got == want, name, "prefix (offset, length)", offset, n, got, want);
      if (is_table && offset < 2) {
        const uint32_t bitwise = Bitwise(0, data + offset, n);
        Check(want == bitwise, name, "table vs bitwise (offset, length)", offset, n, want,
              bitwise);
      }
    }
  }

  // Every split point of a 4096-byte buffer and of a 1000-byte one: the checksum of the
  // whole equals the first part's checksum extended by the second part.
  for (size_t total : {size_t{1000}, size_t{4096}}) {
    const uint32_t whole = table(0, data + 3, total);
    for (size_t split = 0; split <= total; ++split) {
      const uint32_t first = f(0, data + 3, split);
      const uint32_t got = f(first, data + 3 + split, total - split);
      Check(got == whole, name, "split (total, split)", total, split, got, whole);
    }
  }

  // Arbitrary init values.
  std::mt19937 rng(12345);
  for (int i = 0; i < 2000; ++i) {
    const uint32_t init = static_cast<uint32_t>(rng());
    const size_t offset = rng() % 64;
    const size_t n = rng() % 8192;
    const uint32_t want = table(init, data + offset, n);
    const uint32_t got = f(init, data + offset, n);
    Check(got == want, name, "init (offset, length)", offset, n, got, want);
  }

  // Long buffers: past the precomputed join multipliers (8 KiB lanes), odd lengths.
  const size_t longs[] = {16384, 65536, 65536 + 7, 100003, 1u << 20, (1u << 20) + 1,
                          3u << 20, (3u << 20) + 255};
  for (size_t n : longs) {
    for (size_t offset : {size_t{0}, size_t{1}, size_t{61}}) {
      const uint32_t want = table(0x12345678u, data + offset, n);
      const uint32_t got = f(0x12345678u, data + offset, n);
      Check(got == want, name, "long (offset, length)", offset, n, got, want);
    }
  }
}

}  // namespace

int main() {
  std::vector<uint8_t> random((4u << 20) + 64);
  std::mt19937_64 rng(20240601);
  for (auto& b : random) b = static_cast<uint8_t>(rng());

  const char* error = crc::DispatchError();
  std::printf("dispatch: %s%s%s\n", crc::LevelName(crc::ActiveLevel()), error ? ", error: " : "",
              error ? error : "");
  // Extend() goes through the dispatched pointer: check it once like any level.
  {
    const uint8_t digits[] = {'1', '2', '3', '4', '5', '6', '7', '8', '9'};
    const uint32_t got = crc::Extend(0, digits, 9);
    Check(got == 0xE3069283u, "dispatch", "\"123456789\"", 9, 0, got, 0xE3069283u);
    Check(crc::Extend(0, nullptr, 0) == 0, "dispatch", "null, 0", 0, 0, 0, 0);
  }

  struct Implementation {
    const char* name;
    crc::ExtendFunction f;
  };
  std::vector<Implementation> implementations;
  for (crc::Level level : {crc::Level::kTable, crc::Level::kSse42, crc::Level::kAvx512,
                           crc::Level::kArmv8}) {
    if (crc::ExtendFunctionFor(level) == nullptr) {
      std::printf("%s: skipped, this CPU cannot run it\n", crc::LevelName(level));
    } else {
      implementations.push_back({crc::LevelName(level), crc::ExtendFunctionFor(level)});
    }
  }
#if defined(KAFKA_TURBO_CRC32C_X86)
  // Both AVX-512 kernels, whichever one dispatch picked for this CPU.
  if (crc::CpuSupports(crc::Level::kAvx512)) {
    implementations.push_back({"avx512 fold", [](uint32_t c, const uint8_t* p, size_t n) {
                                 return ~crc::internal::Avx512FoldState(~c, p, n);
                               }});
    implementations.push_back({"avx512 fold+lanes", [](uint32_t c, const uint8_t* p, size_t n) {
                                 return ~crc::internal::Avx512FoldLanesState(~c, p, n);
                               }});
  }
#endif
#if defined(KAFKA_TURBO_CRC32C_X86)
  // The join multipliers x^(8S - 33) mod P against the constexpr definition, across all
  // three table digits and the square-and-multiply path past 8 GiB.
  if (crc::CpuSupports(crc::Level::kSse42)) {
    std::mt19937_64 shifts(99);
    std::vector<uint64_t> words = {1, 2, 1023, 1024, 1025, 4096, (1u << 20) - 1, 1u << 20,
                                   (1u << 20) + 1, (1u << 30) - 1, 1u << 30, (1ull << 30) + 7};
    for (int i = 0; i < 3000; ++i) words.push_back(1 + (shifts() >> (24 + i % 40)));
    for (uint64_t w : words) {
      const uint32_t got = crc::internal::Sse42ShiftMultiplier(static_cast<size_t>(w * 8));
      const uint32_t want = crc::internal::XPowMod(w * 64 - 33);
      Check(got == want, "sse42", "shift multiplier (words)", static_cast<size_t>(w), 0, got,
            want);
    }
  }
#endif
  for (const Implementation& impl : implementations) {
    const int before = g_failed;
    TestImplementation(impl.name, impl.f, random);
    std::printf("%s: %s\n", impl.name, g_failed == before ? "ok" : "FAILED");
  }
  std::printf("%d passed, %d failed\n", g_passed, g_failed);
  return g_failed == 0 ? 0 : 1;
}
