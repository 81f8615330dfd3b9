// lz4 (codec 3) on liblz4's frame API (lz4frame.h): the frame the Java client's
// Lz4BlockOutputStream writes since KIP-57 - 64 KiB blocks, each compressed on its own (the
// Java reader refuses dependent blocks), no block or content checksum, no content size, and
// a header checksum over the descriptor only. liblz4 stores a block that does not shrink as
// it is (bit 31 of its size), as Java does.
//
// Levels follow the Java client: its default, 9, uses lz4's fast compressor and every other
// level lz4 HC at that level. liblz4's frame API compresses levels below 3 with the fast
// compressor, so 1 and 2 are the fast compressor here (Java uses HC 1 and 2); 3..17 are HC
// (liblz4 caps HC at 12, as lz4-java does).
//
// The compression and decompression contexts live in thread_local storage and are reused:
// an HC context is about 256 KiB, too much to allocate for every batch.
#include <lz4frame.h>

#include <cstring>

#include "codecs.h"

namespace kafka_turbo {
namespace compress {
namespace lz4 {
namespace {

constexpr uint32_t kFrameMagic = 0x184D2204;

LZ4F_preferences_t Preferences(int level) {
  LZ4F_preferences_t p;
  std::memset(&p, 0, sizeof p);
  p.frameInfo.blockSizeID = LZ4F_max64KB;
  p.frameInfo.blockMode = LZ4F_blockIndependent;
  p.frameInfo.contentChecksumFlag = LZ4F_noContentChecksum;
  p.frameInfo.frameType = LZ4F_frame;
  p.frameInfo.contentSize = 0;
  p.frameInfo.dictID = 0;
  p.frameInfo.blockChecksumFlag = LZ4F_noBlockChecksum;
  p.compressionLevel = level == kLz4Levels.default_level ? 0 : level;
  p.autoFlush = 1;
  p.favorDecSpeed = 0;
  return p;
}

struct CompressionContext {
  LZ4F_cctx* cctx = nullptr;
  ~CompressionContext() {
    if (cctx != nullptr) LZ4F_freeCompressionContext(cctx);
  }
};

struct DecompressionContext {
  LZ4F_dctx* dctx = nullptr;
  ~DecompressionContext() {
    if (dctx != nullptr) LZ4F_freeDecompressionContext(dctx);
  }
};

thread_local CompressionContext t_compress;
thread_local DecompressionContext t_decompress;

bool LZ4FFailed(size_t rc, const char* what, std::string* err) {
  if (!LZ4F_isError(rc)) return false;
  SetError(err, std::string("lz4: ") + what + ": " + LZ4F_getErrorName(rc));
  return true;
}

// XXH32, for the one place liblz4 cannot help: recognising the header checksum that Kafka
// clients before KIP-57 wrote (over the magic and the descriptor). Written from the xxHash
// specification; only ever hashes a few bytes.
uint32_t Rotl(uint32_t x, int r) { return (x << r) | (x >> (32 - r)); }
uint32_t Read32LE(const uint8_t* p) {
  return uint32_t{p[0]} | (uint32_t{p[1]} << 8) | (uint32_t{p[2]} << 16) | (uint32_t{p[3]} << 24);
}
uint32_t Xxh32(const uint8_t* p, size_t n) {
  constexpr uint32_t kP1 = 0x9E3779B1u, kP2 = 0x85EBCA77u, kP3 = 0xC2B2AE3Du, kP4 = 0x27D4EB2Fu,
                     kP5 = 0x165667B1u;
  const uint8_t* end = p + n;
  uint32_t acc;
  if (n >= 16) {
    uint32_t v[4] = {kP1 + kP2, kP2, 0, 0u - kP1};
    for (; end - p >= 16; p += 16) {
      for (int i = 0; i < 4; ++i) v[i] = Rotl(v[i] + Read32LE(p + 4 * i) * kP2, 13) * kP1;
    }
    acc = Rotl(v[0], 1) + Rotl(v[1], 7) + Rotl(v[2], 12) + Rotl(v[3], 18);
  } else {
    acc = kP5;
  }
  acc += static_cast<uint32_t>(n);
  for (; end - p >= 4; p += 4) acc = Rotl(acc + Read32LE(p) * kP3, 17) * kP4;
  for (; p < end; ++p) acc = Rotl(acc + *p * kP5, 11) * kP1;
  acc ^= acc >> 15;
  acc *= kP2;
  acc ^= acc >> 13;
  acc *= kP3;
  acc ^= acc >> 16;
  return acc;
}

// When the frame at p has the pre-KIP-57 header checksum, returns the offset of its checksum
// byte and the correct value (for a fixed-up copy); otherwise returns 0.
size_t LegacyHeaderChecksumFix(const uint8_t* p, size_t n, uint8_t* correct) {
  if (n < 7 || Read32LE(p) != kFrameMagic) return 0;
  const uint8_t flg = p[4];
  const size_t descriptor_end = 6 + ((flg & 0x08) ? 8 : 0) + ((flg & 0x01) ? 4 : 0);
  if (n <= descriptor_end) return 0;
  const uint8_t good = static_cast<uint8_t>(Xxh32(p + 4, descriptor_end - 4) >> 8);
  const uint8_t legacy = static_cast<uint8_t>(Xxh32(p, descriptor_end) >> 8);
  if (p[descriptor_end] == good || p[descriptor_end] != legacy) return 0;
  *correct = good;
  return descriptor_end;
}

}  // namespace

size_t Bound(size_t n) {
  const LZ4F_preferences_t p = Preferences(kLz4Levels.default_level);
  return LZ4F_compressFrameBound(n, &p);
}

bool Compress(int level, const uint8_t* in, size_t n, uint8_t* dst, size_t capacity,
              size_t* written, std::string* err) {
  CompressionContext& c = t_compress;
  if (c.cctx == nullptr &&
      LZ4FFailed(LZ4F_createCompressionContext(&c.cctx, LZ4F_VERSION), "create context", err)) {
    c.cctx = nullptr;
    return false;
  }
  const LZ4F_preferences_t p = Preferences(level);
  // Begin / update / end on a reused context: LZ4F_compressFrame would allocate an HC
  // context on every call.
  size_t pos = LZ4F_compressBegin(c.cctx, dst, capacity, &p);
  if (LZ4FFailed(pos, "compressBegin", err)) return false;
  if (n > 0) {
    const size_t rc = LZ4F_compressUpdate(c.cctx, dst + pos, capacity - pos, in, n, nullptr);
    if (LZ4FFailed(rc, "compressUpdate", err)) return false;
    pos += rc;
  }
  const size_t rc = LZ4F_compressEnd(c.cctx, dst + pos, capacity - pos, nullptr);
  if (LZ4FFailed(rc, "compressEnd", err)) return false;
  *written = pos + rc;
  return true;
}

bool Decompress(const uint8_t* in, size_t n, std::vector<uint8_t>* out, size_t max_out,
                std::string* err) {
  DecompressionContext& d = t_decompress;
  if (d.dctx == nullptr &&
      LZ4FFailed(LZ4F_createDecompressionContext(&d.dctx, LZ4F_VERSION), "create context", err)) {
    d.dctx = nullptr;
    return false;
  }
  if (n == 0) {
    SetError(err, "lz4: empty input");
    return false;
  }
  const size_t base = out->size();
  size_t produced = 0;
  size_t pos = 0;
  bool frame_start = true;
  std::vector<uint8_t> fixed;  // a frame header with its legacy checksum corrected
  for (;;) {
    if (frame_start) {
      if (pos == n) {
        out->resize(base + produced);
        return true;
      }
      // LZ4F_decompress reads skippable frames itself; a legacy header needs fixing first.
      LZ4F_resetDecompressionContext(d.dctx);
      frame_start = false;
      uint8_t correct = 0;
      const size_t at = LegacyHeaderChecksumFix(in + pos, n - pos, &correct);
      if (at != 0) {
        fixed.assign(in + pos, in + pos + at + 1);
        fixed[at] = correct;
        size_t src_size = fixed.size();
        size_t dst_size = 0;
        const size_t rc =
            LZ4F_decompress(d.dctx, nullptr, &dst_size, fixed.data(), &src_size, nullptr);
        if (LZ4FFailed(rc, "frame header", err)) break;
        pos += src_size;
        continue;
      }
    }
    if (out->size() - base == produced) {
      const size_t room = produced == 0 ? (n * 4 < 65536 ? 65536 : n * 4) : produced;
      const size_t grow = room < max_out - produced ? room : max_out - produced;
      if (grow == 0) {
        SetError(err, "lz4: output over the limit of " + std::to_string(max_out) + " bytes");
        break;
      }
      out->resize(base + produced + grow);
    }
    size_t src_size = n - pos;
    size_t dst_size = out->size() - base - produced;
    const size_t hint = LZ4F_decompress(d.dctx, out->data() + base + produced, &dst_size, in + pos,
                                        &src_size, nullptr);
    if (LZ4FFailed(hint, "decompress", err)) break;
    pos += src_size;
    produced += dst_size;
    if (hint == 0) {
      frame_start = true;
    } else if (pos == n && dst_size == 0 && out->size() - base > produced) {
      // All input read, room left, nothing more came out: the frame is cut short.
      SetError(err, "lz4: truncated frame");
      break;
    }
  }
  out->resize(base);
  // A frame left part way keeps state that LZ4F_resetDecompressionContext does not clear
  // (liblz4 1.9.4: the remaining content size of a frame that declared one), and the next
  // frame without a content size on this thread would then fail with frameSize_wrong. A new
  // context after a failure costs nothing on the good path.
  LZ4F_freeDecompressionContext(d.dctx);
  d.dctx = nullptr;
  return false;
}

}  // namespace lz4
}  // namespace compress
}  // namespace kafka_turbo
