// libFuzzer target over the codecs' decode paths (native/src/compress/*): the bytes a
// broker or another client wrote are the input a consumer of this code would hand them, and
// part of each decoder is ours, not the library's (snappy's xerial framing, lz4's legacy
// header checksum fix, the output limits and growth of all four). Built with ASan and UBSan
// by scripts/fuzz.sh.
//
//   byte 0  bits 0-1: codec (gzip, snappy, lz4, zstd); bit 2: round trip instead of decode;
//           bits 3-7: the output limit for a decode (small limits reach the limit paths)
//   byte 1  the compression level for a round trip (mapped into the codec's range)
//   rest    the compressed input (decode) or the plain bytes (round trip)
//
// A decode may fail, but it must keep what *out held before, never append more than its
// limit, and leave the thread's codec context fit for the next call: after every decode a
// good stream of the same codec must still decode (the contexts are thread_local and reused,
// so a bad batch must not spoil the next good one). A round trip must give back the input
// exactly, and Compress must stay within CompressBound.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "../src/compress/codecs.h"

namespace {

namespace compress = kafka_turbo::compress;

#define CHECK(cond)                                                                 \
  do {                                                                              \
    if (!(cond)) {                                                                  \
      std::fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                 \
    }                                                                               \
  } while (0)

const compress::CodecId kCodecs[] = {compress::CodecId::kGzip, compress::CodecId::kSnappy,
                                     compress::CodecId::kLz4, compress::CodecId::kZstd};

// A level in the codec's range (or its default), from one byte. zstd's range reaches
// -131072; the fast negative levels are as valid an input as the slow high ones, but levels
// above 19 are left out: their windows make each call take tens of milliseconds under ASan.
int LevelFor(compress::CodecId codec, uint8_t b) {
  compress::LevelRange range{0, 0, 0};
  switch (codec) {
    case compress::CodecId::kGzip:
      range = compress::kGzipLevels;
      break;
    case compress::CodecId::kLz4:
      range = compress::kLz4Levels;
      break;
    case compress::CodecId::kZstd:
      range = compress::LevelRange{-7, 19, 3};
      if (b == 0xfe) return compress::kZstdLevels.min;
      break;
    default:
      return compress::kDefaultLevel;
  }
  if (b == 0xff) return compress::kDefaultLevel;
  return range.min + static_cast<int>(b % static_cast<unsigned>(range.max - range.min + 1));
}

// A good stream per codec, compressed once: what every decode is followed by.
const std::vector<uint8_t>& GoodStream(compress::CodecId codec, std::vector<uint8_t>* plain) {
  static std::vector<uint8_t> text;
  static std::vector<uint8_t> streams[4];
  if (text.empty()) {
    // Small: it is decoded after every input.
    for (int i = 0; i < 16; ++i) {
      const std::string line = "record " + std::to_string(i) + " of the reference stream\n";
      text.insert(text.end(), line.begin(), line.end());
    }
    for (int c = 0; c < 4; ++c) {
      std::string err;
      CHECK(compress::Compress(kCodecs[c], compress::kDefaultLevel, text.data(), text.size(),
                               &streams[c], &err));
    }
  }
  *plain = text;
  return streams[static_cast<int>(codec) - 1];
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const compress::CodecId codec = kCodecs[data[0] & 3];
  const bool round_trip = (data[0] & 4) != 0;
  // 0 -> 1 byte, up to 31 -> 1 MiB: the limits the decoders must stop at, small and large.
  const size_t limit = size_t{1} << ((data[0] >> 3) * 20 / 31);
  // In its own allocation of exactly its size: ASan sees any read past it.
  const size_t n = size - 2;
  // (malloc(0) under ASan is a valid pointer to no bytes.)
  uint8_t* in = static_cast<uint8_t*>(std::malloc(n));
  CHECK(in != nullptr);
  if (n > 0) std::memcpy(in, data + 2, n);

  std::string err;
  if (!round_trip) {
    static const uint8_t kPrefix[] = {'k', 'e', 'p', 't'};
    std::vector<uint8_t> out(kPrefix, kPrefix + sizeof kPrefix);
    const bool ok = compress::Decompress(codec, in, n, &out, &err, limit);
    CHECK(out.size() >= sizeof kPrefix);
    CHECK(std::memcmp(out.data(), kPrefix, sizeof kPrefix) == 0);
    CHECK(out.size() - sizeof kPrefix <= limit);
    CHECK(ok || !err.empty());
    std::vector<uint8_t> plain;
    const std::vector<uint8_t>& good = GoodStream(codec, &plain);
    std::vector<uint8_t> back;
    const bool next_ok = compress::Decompress(codec, good.data(), good.size(), &back, &err);
    if (!next_ok) std::fprintf(stderr, "the good stream after it: %s\n", err.c_str());
    CHECK(next_ok && back == plain);
    std::free(in);
    return 0;
  }

  const int level = LevelFor(codec, data[1]);
  const size_t bound = compress::CompressBound(codec, n);
  CHECK(bound > 0);
  std::vector<uint8_t> packed(bound + 1);
  size_t written = 0;
  const bool compressed = compress::Compress(codec, level, in, n, packed.data(), bound, &written, &err);
  if (!compressed) std::fprintf(stderr, "compress failed: %s\n", err.c_str());
  CHECK(compressed);
  CHECK(written <= bound);
  std::vector<uint8_t> back;
  const bool decompressed = compress::Decompress(codec, packed.data(), written, &back, &err);
  if (!decompressed) std::fprintf(stderr, "decompress failed: %s\n", err.c_str());
  CHECK(decompressed);
  CHECK(back.size() == n);
  CHECK(n == 0 || std::memcmp(back.data(), in, n) == 0);
  std::free(in);
  return 0;
}
