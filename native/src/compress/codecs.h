// Record-batch compression for the native backend: gzip (zlib), snappy (libsnappy, in
// xerial framing), lz4 (liblz4's frame API) and zstd (libzstd). Each writes what the Java
// client writes and reads what any Kafka client writes; ts/compression/ does the same in
// TypeScript for the fallback backend. The two need not produce the same bytes (the
// libraries differ), only bytes that decompress to the same records: tests cross-check them.
//
// Plain C++17: no napi.h. The binding (native/src/binding/) calls, per drained batch:
//
//   int level;                                   // TS validated it (validateLevel)
//   ResolveLevel(codec, level, &level, &err);    // checks again, maps "default"
//   size_t cap = CompressBound(codec, n);        // reserve room after the 61-byte header
//   Compress(codec, level, records, n, batch + 61, cap, &written, &err);
//
// and keeps the compressed form only when it is smaller than the records.
//
// @thread any. The codecs keep their library contexts (z_stream, ZSTD_CCtx, LZ4F_cctx, ...)
// in thread_local storage, created on a thread's first call and reused by its later calls,
// so each thread (the JS thread, a worker's thread) has its own and no call locks.
#ifndef KAFKA_TURBO_COMPRESS_CODECS_H_
#define KAFKA_TURBO_COMPRESS_CODECS_H_

#include <climits>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace kafka_turbo {
namespace compress {

// The record-batch attributes value (bits 0..2), as ts/backend/types.ts CodecId.
enum class CodecId : int {
  kNone = 0,
  kGzip = 1,
  kSnappy = 2,
  kLz4 = 3,
  kZstd = 4,
};

// "gzip", "snappy", "lz4", "zstd"; "none" for kNone; nullptr for any other value.
inline const char* CodecName(CodecId codec);

// The Java producer's level ranges and defaults (compression.<codec>.level, KIP-390).
struct LevelRange {
  int min;
  int max;
  int default_level;
};
constexpr LevelRange kGzipLevels{1, 9, -1};  // -1: zlib's default, level 6
constexpr LevelRange kLz4Levels{1, 17, 9};   // 9: liblz4's fast compressor, others: lz4 HC
constexpr LevelRange kZstdLevels{-131072, 22, 3};

// Pass as `level` for the codec's default.
constexpr int kDefaultLevel = INT_MIN;

// Checks `level` for `codec` and stores the level to compress with in *effective (the default
// for kDefaultLevel; any level for snappy, which has none, becomes 0). Returns false with a
// message in *err (if err is not null) for a level out of range or a codec without one.
inline bool ResolveLevel(CodecId codec, int level, int* effective, std::string* err);

// The most bytes Compress() writes for n input bytes; 0 for a codec without compression.
inline size_t CompressBound(CodecId codec, size_t n);

// Compresses in[0, n) into dst[0, capacity), capacity >= CompressBound(codec, n), and stores
// the size written in *written. `level` goes through ResolveLevel first. On failure returns
// false with a message in *err (if not null); dst's content is then unspecified.
// `in` may be null when n is 0.
inline bool Compress(CodecId codec, int level, const uint8_t* in, size_t n, uint8_t* dst,
                     size_t capacity, size_t* written, std::string* err);

// The same, appending to *out (which keeps what it held before).
inline bool Compress(CodecId codec, int level, const uint8_t* in, size_t n,
                     std::vector<uint8_t>* out, std::string* err);

// Upper bound of what one Decompress() call returns by default (a corrupt or hostile length
// field must not make us allocate without limit); far above any batch Kafka accepts.
constexpr size_t kMaxDecompressedBytes = size_t{256} << 20;

// Decompresses in[0, n), appending to *out; at most max_out bytes are appended. Accepts what
// other clients write: gzip members in a row; xerial-framed or raw snappy; LZ4 frames with
// dependent blocks, checksums or the pre-KIP-57 header checksum; zstd frames with or without
// a content size, several in a row. For tests, the TS cross-checks and a future consumer.
inline bool Decompress(CodecId codec, const uint8_t* in, size_t n, std::vector<uint8_t>* out,
                       std::string* err, size_t max_out = kMaxDecompressedBytes);

// The codecs one by one (gzip.cc, snappy.cc, lz4.cc, zstd.cc). `level` is already resolved;
// the dispatchers above check the arguments common to all.
namespace gzip {
size_t Bound(size_t n);
bool Compress(int level, const uint8_t* in, size_t n, uint8_t* dst, size_t capacity,
              size_t* written, std::string* err);
bool Decompress(const uint8_t* in, size_t n, std::vector<uint8_t>* out, size_t max_out,
                std::string* err);
}  // namespace gzip

namespace snappy {
// xerial framing: magic 0x82 "SNAPPY" 0x00, int32 BE version 1, int32 BE compatible 1, then
// chunks of int32 BE compressed length + raw snappy block, each of at most 32 KiB of input.
constexpr size_t kXerialHeaderSize = 16;
constexpr size_t kXerialBlockSize = 32 * 1024;
extern const uint8_t kXerialMagic[8];
size_t Bound(size_t n);
bool Compress(const uint8_t* in, size_t n, uint8_t* dst, size_t capacity, size_t* written,
              std::string* err);
bool Decompress(const uint8_t* in, size_t n, std::vector<uint8_t>* out, size_t max_out,
                std::string* err);
}  // namespace snappy

namespace lz4 {
// LZ4 frame: 64 KiB independent blocks, no block or content checksum, no content size; the
// header is then 04 22 4D 18 60 40 82, as the Java client writes since KIP-57.
size_t Bound(size_t n);
bool Compress(int level, const uint8_t* in, size_t n, uint8_t* dst, size_t capacity,
              size_t* written, std::string* err);
bool Decompress(const uint8_t* in, size_t n, std::vector<uint8_t>* out, size_t max_out,
                std::string* err);
}  // namespace lz4

namespace zstd {
size_t Bound(size_t n);
bool Compress(int level, const uint8_t* in, size_t n, uint8_t* dst, size_t capacity,
              size_t* written, std::string* err);
bool Decompress(const uint8_t* in, size_t n, std::vector<uint8_t>* out, size_t max_out,
                std::string* err);
}  // namespace zstd

// ---- dispatch (inline: one switch, no state of its own) --------------------------------------

inline void SetError(std::string* err, const std::string& what) {
  if (err != nullptr) *err = what;
}

inline const char* CodecName(CodecId codec) {
  switch (codec) {
    case CodecId::kNone:
      return "none";
    case CodecId::kGzip:
      return "gzip";
    case CodecId::kSnappy:
      return "snappy";
    case CodecId::kLz4:
      return "lz4";
    case CodecId::kZstd:
      return "zstd";
  }
  return nullptr;
}

inline bool ResolveLevel(CodecId codec, int level, int* effective, std::string* err) {
  const LevelRange* range = nullptr;
  switch (codec) {
    case CodecId::kGzip:
      range = &kGzipLevels;
      break;
    case CodecId::kLz4:
      range = &kLz4Levels;
      break;
    case CodecId::kZstd:
      range = &kZstdLevels;
      break;
    case CodecId::kSnappy:
      *effective = 0;
      return true;
    default:
      SetError(err, "no compression codec with id " + std::to_string(static_cast<int>(codec)));
      return false;
  }
  if (level == kDefaultLevel) level = range->default_level;
  if ((level < range->min || level > range->max) && level != range->default_level) {
    SetError(err, std::string("invalid compression.") + CodecName(codec) + ".level " +
                      std::to_string(level) + ": " + CodecName(codec) + " levels are " +
                      std::to_string(range->min) + ".." + std::to_string(range->max) +
                      " (default " + std::to_string(range->default_level) + ")");
    return false;
  }
  *effective = level;
  return true;
}

inline size_t CompressBound(CodecId codec, size_t n) {
  switch (codec) {
    case CodecId::kGzip:
      return gzip::Bound(n);
    case CodecId::kSnappy:
      return snappy::Bound(n);
    case CodecId::kLz4:
      return lz4::Bound(n);
    case CodecId::kZstd:
      return zstd::Bound(n);
    default:
      return 0;
  }
}

inline bool Compress(CodecId codec, int level, const uint8_t* in, size_t n, uint8_t* dst,
                     size_t capacity, size_t* written, std::string* err) {
  *written = 0;
  int resolved = 0;
  if (!ResolveLevel(codec, level, &resolved, err)) return false;
  if (capacity < CompressBound(codec, n)) {
    SetError(err, std::string(CodecName(codec)) + ": output capacity " + std::to_string(capacity) +
                      " is below CompressBound " + std::to_string(CompressBound(codec, n)));
    return false;
  }
  static const uint8_t kEmpty = 0;
  if (in == nullptr) in = &kEmpty;  // n == 0: the libraries want a valid pointer
  switch (codec) {
    case CodecId::kGzip:
      return gzip::Compress(resolved, in, n, dst, capacity, written, err);
    case CodecId::kSnappy:
      return snappy::Compress(in, n, dst, capacity, written, err);
    case CodecId::kLz4:
      return lz4::Compress(resolved, in, n, dst, capacity, written, err);
    case CodecId::kZstd:
      return zstd::Compress(resolved, in, n, dst, capacity, written, err);
    default:
      return false;  // ResolveLevel refused it
  }
}

inline bool Compress(CodecId codec, int level, const uint8_t* in, size_t n,
                     std::vector<uint8_t>* out, std::string* err) {
  const size_t before = out->size();
  const size_t bound = CompressBound(codec, n);
  out->resize(before + bound);
  size_t written = 0;
  const bool ok = Compress(codec, level, in, n, out->data() + before, bound, &written, err);
  out->resize(before + (ok ? written : 0));
  return ok;
}

inline bool Decompress(CodecId codec, const uint8_t* in, size_t n, std::vector<uint8_t>* out,
                       std::string* err, size_t max_out) {
  static const uint8_t kEmpty = 0;
  if (in == nullptr) in = &kEmpty;
  switch (codec) {
    case CodecId::kGzip:
      return gzip::Decompress(in, n, out, max_out, err);
    case CodecId::kSnappy:
      return snappy::Decompress(in, n, out, max_out, err);
    case CodecId::kLz4:
      return lz4::Decompress(in, n, out, max_out, err);
    case CodecId::kZstd:
      return zstd::Decompress(in, n, out, max_out, err);
    default:
      SetError(err, "no compression codec with id " + std::to_string(static_cast<int>(codec)));
      return false;
  }
}

}  // namespace compress
}  // namespace kafka_turbo

#endif  // KAFKA_TURBO_COMPRESS_CODECS_H_
