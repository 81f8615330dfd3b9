// snappy (codec 2) on libsnappy's C API, inside xerial's framing, which is what the Java
// client's SnappyOutputStream writes (see codecs.h and ts/compression/snappy.ts):
//
//   0x82 'S' 'N' 'A' 'P' 'P' 'Y' 0x00 | int32 BE 1 | int32 BE 1 | (int32 BE len | block)*
//
// Each block holds at most 32 KiB of input. Empty input is the 16-byte header alone.
// Decompress() also takes one raw snappy block without framing (what librdkafka and other
// clients may send) and xerial streams written one after another.
#include <snappy-c.h>

#include <cstring>

#include "codecs.h"

namespace kafka_turbo {
namespace compress {
namespace snappy {

const uint8_t kXerialMagic[8] = {0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0x00};

namespace {

constexpr int32_t kXerialVersion = 1;
constexpr int32_t kXerialMinCompatibleVersion = 1;

void PutInt32BE(uint8_t* p, uint32_t v) {
  p[0] = static_cast<uint8_t>(v >> 24);
  p[1] = static_cast<uint8_t>(v >> 16);
  p[2] = static_cast<uint8_t>(v >> 8);
  p[3] = static_cast<uint8_t>(v);
}

uint32_t GetInt32BE(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
}

bool IsXerialHeader(const uint8_t* p, size_t n) {
  return n >= kXerialHeaderSize && std::memcmp(p, kXerialMagic, sizeof kXerialMagic) == 0;
}

// Appends one raw snappy block's content to *out.
bool UncompressBlock(const uint8_t* in, size_t n, std::vector<uint8_t>* out, size_t base,
                     size_t max_out, const char* what, std::string* err) {
  size_t len = 0;
  const char* src = reinterpret_cast<const char*>(in);
  if (snappy_uncompressed_length(src, n, &len) != SNAPPY_OK) {
    SetError(err, std::string("snappy: ") + what + ": bad uncompressed-length header");
    return false;
  }
  if (len > max_out - (out->size() - base)) {
    SetError(err, "snappy: output over the limit of " + std::to_string(max_out) + " bytes");
    return false;
  }
  const size_t at = out->size();
  out->resize(at + len);
  size_t got = len;
  if (snappy_uncompress(src, n, reinterpret_cast<char*>(out->data() + at), &got) != SNAPPY_OK ||
      got != len) {
    SetError(err, std::string("snappy: ") + what + ": corrupt block");
    return false;
  }
  return true;
}

}  // namespace

size_t Bound(size_t n) {
  const size_t chunks = (n + kXerialBlockSize - 1) / kXerialBlockSize;
  // Each chunk: 4-byte length + snappy's bound for its input; the bound is affine in the
  // input size, so chunks * (its constant part) covers the per-chunk overhead.
  return kXerialHeaderSize + chunks * 4 + snappy_max_compressed_length(n) +
         chunks * snappy_max_compressed_length(0);
}

bool Compress(const uint8_t* in, size_t n, uint8_t* dst, size_t capacity, size_t* written,
              std::string* err) {
  std::memcpy(dst, kXerialMagic, sizeof kXerialMagic);
  PutInt32BE(dst + 8, kXerialVersion);
  PutInt32BE(dst + 12, kXerialMinCompatibleVersion);
  size_t pos = kXerialHeaderSize;
  for (size_t off = 0; off < n; off += kXerialBlockSize) {
    const size_t len = n - off < kXerialBlockSize ? n - off : kXerialBlockSize;
    size_t out_len = capacity - pos - 4;
    if (snappy_compress(reinterpret_cast<const char*>(in + off), len,
                        reinterpret_cast<char*>(dst + pos + 4), &out_len) != SNAPPY_OK) {
      SetError(err, "snappy: snappy_compress failed");
      return false;
    }
    PutInt32BE(dst + pos, static_cast<uint32_t>(out_len));
    pos += 4 + out_len;
  }
  *written = pos;
  return true;
}

bool Decompress(const uint8_t* in, size_t n, std::vector<uint8_t>* out, size_t max_out,
                std::string* err) {
  const size_t base = out->size();
  if (!IsXerialHeader(in, n)) {
    if (UncompressBlock(in, n, out, base, max_out, "raw snappy block", err)) return true;
    out->resize(base);
    return false;
  }
  size_t pos = 0;
  while (pos < n) {
    if (IsXerialHeader(in + pos, n - pos)) {
      const int32_t compatible = static_cast<int32_t>(GetInt32BE(in + pos + 12));
      if (compatible > kXerialVersion) {
        SetError(err, "snappy: xerial stream needs reader version " + std::to_string(compatible));
        out->resize(base);
        return false;
      }
      pos += kXerialHeaderSize;
      continue;
    }
    if (n - pos < 4) {
      SetError(err, "snappy: truncated xerial chunk length at offset " + std::to_string(pos));
      out->resize(base);
      return false;
    }
    const int32_t len = static_cast<int32_t>(GetInt32BE(in + pos));
    pos += 4;
    if (len <= 0 || static_cast<size_t>(len) > n - pos) {
      SetError(err, "snappy: xerial chunk at offset " + std::to_string(pos - 4) + " has length " +
                        std::to_string(len) + ", " + std::to_string(n - pos) + " bytes left");
      out->resize(base);
      return false;
    }
    if (!UncompressBlock(in + pos, static_cast<size_t>(len), out, base, max_out, "xerial chunk",
                         err)) {
      out->resize(base);
      return false;
    }
    pos += static_cast<size_t>(len);
  }
  return true;
}

}  // namespace snappy
}  // namespace compress
}  // namespace kafka_turbo
