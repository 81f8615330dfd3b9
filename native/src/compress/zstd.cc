// zstd (codec 4) on libzstd: one frame per batch, written by ZSTD_compress2 (so it carries
// the content size; the Java client's streaming writer leaves it out, and readers take both).
// No content checksum, as Java's default.
//
// A ZSTD_CCtx and a ZSTD_DCtx live in thread_local storage and are reused (a CCtx at the
// default level is about 1 MiB of tables, and allocating it per 16 KiB batch costs more than
// compressing the batch). Decompression streams, so frames without a content size and
// several frames in a row decode too.
#include <zstd.h>

#include "codecs.h"

namespace kafka_turbo {
namespace compress {
namespace zstd {
namespace {

struct Contexts {
  ZSTD_CCtx* cctx = nullptr;
  ZSTD_DCtx* dctx = nullptr;
  ~Contexts() {
    ZSTD_freeCCtx(cctx);
    ZSTD_freeDCtx(dctx);
  }
};

thread_local Contexts t_contexts;

bool Failed(size_t rc, const char* what, std::string* err) {
  if (!ZSTD_isError(rc)) return false;
  SetError(err, std::string("zstd: ") + what + ": " + ZSTD_getErrorName(rc));
  return true;
}

}  // namespace

size_t Bound(size_t n) { return ZSTD_compressBound(n); }

bool Compress(int level, const uint8_t* in, size_t n, uint8_t* dst, size_t capacity,
              size_t* written, std::string* err) {
  Contexts& c = t_contexts;
  if (c.cctx == nullptr) c.cctx = ZSTD_createCCtx();
  if (c.cctx == nullptr) {
    SetError(err, "zstd: ZSTD_createCCtx failed");
    return false;
  }
  ZSTD_CCtx_reset(c.cctx, ZSTD_reset_session_only);
  if (Failed(ZSTD_CCtx_setParameter(c.cctx, ZSTD_c_compressionLevel, level), "compression level",
             err)) {
    return false;
  }
  const size_t rc = ZSTD_compress2(c.cctx, dst, capacity, in, n);
  if (Failed(rc, "compress", err)) return false;
  *written = rc;
  return true;
}

bool Decompress(const uint8_t* in, size_t n, std::vector<uint8_t>* out, size_t max_out,
                std::string* err) {
  Contexts& c = t_contexts;
  if (c.dctx == nullptr) c.dctx = ZSTD_createDCtx();
  if (c.dctx == nullptr) {
    SetError(err, "zstd: ZSTD_createDCtx failed");
    return false;
  }
  if (n == 0) {
    SetError(err, "zstd: empty input");
    return false;
  }
  ZSTD_DCtx_reset(c.dctx, ZSTD_reset_session_only);
  const size_t base = out->size();
  // A frame that declares its size gets exactly that room at once.
  unsigned long long declared = ZSTD_getFrameContentSize(in, n);
  size_t room = 65536;
  if (declared != ZSTD_CONTENTSIZE_UNKNOWN && declared != ZSTD_CONTENTSIZE_ERROR && declared > 0 &&
      declared <= max_out) {
    room = static_cast<size_t>(declared);
  } else if (n * 4 > room) {
    room = n * 4;
  }
  ZSTD_inBuffer src{in, n, 0};
  size_t produced = 0;
  size_t rc = 1;  // 0 once a frame is complete and flushed
  for (;;) {
    if (out->size() - base == produced) {
      const size_t want = produced == 0 ? room : produced;
      const size_t grow = want < max_out - produced ? want : max_out - produced;
      if (grow == 0) {
        SetError(err, "zstd: output over the limit of " + std::to_string(max_out) + " bytes");
        break;
      }
      out->resize(base + produced + grow);
    }
    ZSTD_outBuffer dst{out->data() + base + produced, out->size() - base - produced, 0};
    const size_t before = src.pos;
    rc = ZSTD_decompressStream(c.dctx, &dst, &src);
    if (Failed(rc, "decompress", err)) break;
    produced += dst.pos;
    if (rc == 0 && src.pos == src.size) {
      out->resize(base + produced);
      return true;
    }
    if (src.pos == src.size && src.pos == before && dst.pos == 0 && dst.pos < dst.size) {
      SetError(err, "zstd: truncated frame");
      break;
    }
  }
  ZSTD_DCtx_reset(c.dctx, ZSTD_reset_session_only);
  out->resize(base);
  return false;
}

}  // namespace zstd
}  // namespace compress
}  // namespace kafka_turbo
