// gzip (codec 1) on zlib: one gzip member (deflateInit2 with windowBits 15 + 16), as the
// Java client's GZIPOutputStream writes. In the addon, zlib is the copy Node exports (its
// headers ship zlib.h); the C tests link the system's -lz.
//
// The z_streams live in thread_local storage: deflateInit2 allocates about 270 KiB of window
// and hash tables, too much to do again for every 16 KiB batch, so each thread keeps one
// deflate and one inflate stream and resets them (deflateReset keeps the allocations).
#include <zlib.h>

#include <cstring>

#include "codecs.h"

namespace kafka_turbo {
namespace compress {
namespace gzip {
namespace {

constexpr int kGzipWindowBits = 15 + 16;  // 32 KiB window, gzip wrapper
constexpr int kMemLevel = 8;              // zlib's default, as Java's Deflater

struct Deflater {
  z_stream zs;
  bool ready = false;
  int level = 0;

  Deflater() { std::memset(&zs, 0, sizeof zs); }
  ~Deflater() {
    if (ready) deflateEnd(&zs);
  }
  // A stream at `level`, reset for a new member.
  bool Prepare(int want, std::string* err) {
    if (ready && level == want) return deflateReset(&zs) == Z_OK || Fail(err, "deflateReset");
    if (ready) {
      deflateEnd(&zs);
      ready = false;
    }
    std::memset(&zs, 0, sizeof zs);
    const int rc =
        deflateInit2(&zs, want, Z_DEFLATED, kGzipWindowBits, kMemLevel, Z_DEFAULT_STRATEGY);
    if (rc != Z_OK) return Fail(err, "deflateInit2");
    ready = true;
    level = want;
    return true;
  }
  bool Fail(std::string* err, const char* what) {
    SetError(err,
             std::string("gzip: ") + what + " failed" + (zs.msg ? std::string(": ") + zs.msg : ""));
    return false;
  }
};

struct Inflater {
  z_stream zs;
  bool ready = false;

  Inflater() { std::memset(&zs, 0, sizeof zs); }
  ~Inflater() {
    if (ready) inflateEnd(&zs);
  }
  bool Prepare(std::string* err) {
    if (ready) {
      if (inflateReset(&zs) == Z_OK) return true;
      SetError(err, "gzip: inflateReset failed");
      return false;
    }
    std::memset(&zs, 0, sizeof zs);
    if (inflateInit2(&zs, kGzipWindowBits) != Z_OK) {
      SetError(err, "gzip: inflateInit2 failed");
      return false;
    }
    ready = true;
    return true;
  }
};

thread_local Deflater t_deflater;
thread_local Inflater t_inflater;

}  // namespace

size_t Bound(size_t n) {
  // deflateBound()'s conservative form (any level, any memLevel) plus the 18-byte gzip
  // header and trailer.
  return n + ((n + 7) >> 3) + ((n + 63) >> 6) + 5 + 18;
}

bool Compress(int level, const uint8_t* in, size_t n, uint8_t* dst, size_t capacity,
              size_t* written, std::string* err) {
  Deflater& d = t_deflater;
  if (!d.Prepare(level, err)) return false;
  // zlib counts in uInt (32 bits): feed and drain in pieces that fit.
  constexpr size_t kStep = size_t{1} << 30;
  d.zs.next_in = const_cast<Bytef*>(in);
  d.zs.next_out = dst;
  size_t in_left = n;
  size_t out_left = capacity;
  int rc = Z_OK;
  while (rc == Z_OK) {
    const uInt in_now = static_cast<uInt>(in_left < kStep ? in_left : kStep);
    const uInt out_now = static_cast<uInt>(out_left < kStep ? out_left : kStep);
    d.zs.avail_in = in_now;
    d.zs.avail_out = out_now;
    rc = deflate(&d.zs, in_left == in_now ? Z_FINISH : Z_NO_FLUSH);
    in_left -= in_now - d.zs.avail_in;
    out_left -= out_now - d.zs.avail_out;
    if (rc == Z_BUF_ERROR && out_left > 0 && in_left > 0) rc = Z_OK;  // no progress possible yet
    if (rc == Z_OK && out_left == 0) break;
  }
  if (rc != Z_STREAM_END) {
    SetError(err, std::string("gzip: deflate did not finish (") + std::to_string(rc) + ")");
    return false;
  }
  *written = capacity - out_left;
  return true;
}

bool Decompress(const uint8_t* in, size_t n, std::vector<uint8_t>* out, size_t max_out,
                std::string* err) {
  Inflater& f = t_inflater;
  if (!f.Prepare(err)) return false;
  if (n == 0) {
    SetError(err, "gzip: empty input");
    return false;
  }
  const size_t base = out->size();
  size_t produced = 0;
  size_t pos = 0;
  for (;;) {
    if (out->size() == base + produced) {
      const size_t room = produced == 0 ? (n * 4 < 65536 ? 65536 : n * 4) : produced;
      const size_t grow = room < max_out - produced ? room : max_out - produced;
      if (grow == 0) {
        SetError(err, "gzip: output over the limit of " + std::to_string(max_out) + " bytes");
        out->resize(base);
        return false;
      }
      out->resize(base + produced + grow);
    }
    const size_t in_left = n - pos;
    const size_t out_left = out->size() - base - produced;
    const uInt in_now =
        static_cast<uInt>(in_left < (size_t{1} << 30) ? in_left : (size_t{1} << 30));
    const uInt out_now =
        static_cast<uInt>(out_left < (size_t{1} << 30) ? out_left : (size_t{1} << 30));
    f.zs.next_in = const_cast<Bytef*>(in + pos);
    f.zs.avail_in = in_now;
    f.zs.next_out = out->data() + base + produced;
    f.zs.avail_out = out_now;
    const int rc = inflate(&f.zs, Z_NO_FLUSH);
    pos += in_now - f.zs.avail_in;
    produced += out_now - f.zs.avail_out;
    if (rc == Z_STREAM_END) {
      // Another member may follow (Java's GZIPInputStream reads them all); anything else
      // after a member is ignored, as Java and node:zlib do.
      if (n - pos >= 2 && in[pos] == 0x1f && in[pos + 1] == 0x8b) {
        if (inflateReset(&f.zs) != Z_OK) break;
        continue;
      }
      out->resize(base + produced);
      return true;
    }
    if (rc == Z_OK) continue;
    if (rc == Z_BUF_ERROR && f.zs.avail_out == 0) continue;  // needs more room: grow
    SetError(err,
             std::string("gzip: ") +
                 (rc == Z_BUF_ERROR ? "truncated input" : (f.zs.msg ? f.zs.msg : "corrupt input")));
    out->resize(base);
    return false;
  }
  SetError(err, "gzip: inflateReset failed");
  out->resize(base);
  return false;
}

}  // namespace gzip
}  // namespace compress
}  // namespace kafka_turbo
