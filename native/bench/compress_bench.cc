// Throughput of the native codecs (native/src/compress/: zlib, liblz4, libzstd, libsnappy
// behind codecs.h, with no Node in the way) on the batches bench/compression.bench.ts
// writes, so the C and TypeScript numbers are on the same bytes. Built by
// native/test/build-compress.sh; run by the TS bench, or by hand:
//   native/build/c/compress_bench FILE [BATCH_BYTES] [MIN_MS]
// FILE is cut into batches of BATCH_BYTES (16384). Each codec at its default level first
// round-trips every batch (and refuses to time one that does not), then compresses and
// decompresses all batches in runs of at least MIN_MS (200) ms, best of 5. One line per codec:
//   <codec> <compress MB/s> <decompress MB/s> <compressed bytes> <input bytes>
// (MB = 1e6 bytes of uncompressed input).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <utility>
#include <vector>

#include "../src/compress/codecs.h"

namespace cz = kafka_turbo::compress;
using Clock = std::chrono::steady_clock;

namespace {

double Seconds(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

// Best MB/s of 5 runs of `fn` over all batches, each run repeated to last at least min_s.
template <typename Fn>
double BestMbps(size_t bytes_per_pass, double min_s, Fn fn) {
  double best = 0;
  for (int run = 0; run < 5; ++run) {
    size_t passes = 0;
    const auto t0 = Clock::now();
    double s = 0;
    do {
      fn();
      ++passes;
      s = Seconds(t0, Clock::now());
    } while (s < min_s);
    const double mbps = static_cast<double>(bytes_per_pass) * static_cast<double>(passes) / s / 1e6;
    if (mbps > best) best = mbps;
  }
  return best;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s FILE [BATCH_BYTES] [MIN_MS]\n", argv[0]);
    return 2;
  }
  const size_t batch = argc > 2 ? std::strtoul(argv[2], nullptr, 10) : 16384;
  const double min_s = (argc > 3 ? std::atof(argv[3]) : 200.0) / 1000.0;
  FILE* f = std::fopen(argv[1], "rb");
  if (f == nullptr || batch == 0) {
    std::fprintf(stderr, "cannot read %s\n", argv[1]);
    return 2;
  }
  std::vector<uint8_t> data;
  uint8_t buf[65536];
  size_t got;
  while ((got = std::fread(buf, 1, sizeof buf, f)) > 0) data.insert(data.end(), buf, buf + got);
  std::fclose(f);
  std::vector<std::pair<const uint8_t*, size_t>> batches;
  for (size_t off = 0; off < data.size(); off += batch) {
    batches.emplace_back(data.data() + off, data.size() - off < batch ? data.size() - off : batch);
  }

  for (cz::CodecId codec :
       {cz::CodecId::kGzip, cz::CodecId::kSnappy, cz::CodecId::kLz4, cz::CodecId::kZstd}) {
    const char* name = cz::CodecName(codec);
    std::vector<std::vector<uint8_t>> compressed(batches.size());
    std::string err;
    size_t total = 0;
    for (size_t i = 0; i < batches.size(); ++i) {
      std::vector<uint8_t> back;
      if (!cz::Compress(codec, cz::kDefaultLevel, batches[i].first, batches[i].second,
                        &compressed[i], &err) ||
          !cz::Decompress(codec, compressed[i].data(), compressed[i].size(), &back, &err) ||
          back.size() != batches[i].second ||
          !std::equal(back.begin(), back.end(), batches[i].first)) {
        std::fprintf(stderr, "%s: round trip of batch %zu failed: %s\n", name, i, err.c_str());
        return 1;
      }
      total += compressed[i].size();
    }
    std::vector<uint8_t> out(cz::CompressBound(codec, batch));
    const double c = BestMbps(data.size(), min_s, [&] {
      for (const auto& b : batches) {
        size_t written = 0;
        cz::Compress(codec, cz::kDefaultLevel, b.first, b.second, out.data(), out.size(), &written,
                     nullptr);
      }
    });
    std::vector<uint8_t> back;
    back.reserve(batch);
    const double d = BestMbps(data.size(), min_s, [&] {
      for (const auto& z : compressed) {
        back.clear();
        cz::Decompress(codec, z.data(), z.size(), &back, nullptr);
      }
    });
    std::printf("%s %.1f %.1f %zu %zu\n", name, c, d, total, data.size());
  }
  return 0;
}
