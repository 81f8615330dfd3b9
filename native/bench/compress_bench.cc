// Is our compression (native/src/compress/, behind codecs.h) as fast as the library it wraps?
// For each codec at its default level this times, on the same batches:
//
//   ours  cz::Compress(codec, kDefaultLevel, ...): what the native backend calls per batch
//         (reused thread_local contexts, xerial framing for snappy, LZ4 frame as Java writes)
//   raw   the library called directly, the simplest way:
//           gzip    deflateInit2(Z_DEFAULT_COMPRESSION, windowBits 15 + 16) + deflate(Z_FINISH)
//                   + deflateEnd, a new stream per batch
//           lz4     LZ4F_compressFrame with the same preferences (64 KiB independent blocks, no
//                   checksums, default level)
//           zstd    ZSTD_compressCCtx at level 3 on one reused context
//           snappy  snappy_compress: one raw block, no xerial framing
//
// and prints MB/s (1e6 bytes of uncompressed input per second) for both and ours / raw.
// Built by native/test/build-compress.sh twice: an executable on the system's zlib, liblz4,
// libzstd and libsnappy, and compress_bench.node (end of this file), the same bench inside
// Node on the libraries the addon itself uses. They differ for gzip only: the addon calls the
// zlib Node exports (Node 20: 1.3.1, Chromium's fork), whose speed and output are not the
// system zlib's (on the default data here it compresses smaller and faster), so only the
// .node's gzip numbers describe the addon.
//
//   native/build/c/compress_bench [--file=PATH [--framed]] [--batch=16384] [--total=1048576]
//                                 [--min-ms=100] [--runs=15] [--codec=NAME] [--raw-first] [--tsv]
//
// Data: without --file, ~100-byte JSON records one per line (the generator of
// bench/compression.bench.ts, byte for byte), --total bytes cut into --batch-byte batches.
// --file=PATH cuts PATH into --batch-byte batches instead; with --framed, PATH is a sequence of
// batches each preceded by its length as a 4-byte little-endian integer (the TS bench passes
// the record sections of its record batches so, the bytes the backend compresses).
//
// Method: every batch first round-trips through each implementation (decompressed by our
// Decompress(), which reads raw snappy blocks too) and a codec that does not give the input
// back is not timed. Then --runs rounds, ours and raw alternating (which one goes first
// alternates too, so drift in CPU clock or neighbours' load hits both alike); in a round each
// compresses all batches over and over for at least --min-ms; the best round of each counts.
// (--raw-first starts with raw; --codec=NAME runs that codec alone.)
//
// Output: a markdown table, or with --tsv a "# zlib V, liblz4 V, libzstd V" line, then one
// line per codec and implementation:
//   <codec> <ours|raw> <compress MB/s> <compressed bytes> <input bytes>
#include <lz4.h>
#include <lz4frame.h>
#include <snappy-c.h>
#include <zlib.h>
#include <zstd.h>

#include <algorithm>
#include <chrono>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "../src/compress/codecs.h"

namespace cz = kafka_turbo::compress;
using Clock = std::chrono::steady_clock;

namespace {

using CompressFn = bool (*)(const uint8_t* in, size_t n, uint8_t* dst, size_t capacity,
                            size_t* written);

// ---- ours: codecs.h, as the backend calls it ------------------------------------------------

template <cz::CodecId kCodec>
bool Ours(const uint8_t* in, size_t n, uint8_t* dst, size_t capacity, size_t* written) {
  return cz::Compress(kCodec, cz::kDefaultLevel, in, n, dst, capacity, written, nullptr);
}

// ---- raw: the libraries alone ---------------------------------------------------------------

bool RawGzip(const uint8_t* in, size_t n, uint8_t* dst, size_t capacity, size_t* written) {
  z_stream zs;
  std::memset(&zs, 0, sizeof zs);
  if (deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) !=
      Z_OK) {
    return false;
  }
  zs.next_in = const_cast<Bytef*>(in);
  zs.avail_in = static_cast<uInt>(n);
  zs.next_out = dst;
  zs.avail_out = static_cast<uInt>(capacity);
  const int rc = deflate(&zs, Z_FINISH);
  *written = zs.total_out;
  deflateEnd(&zs);
  return rc == Z_STREAM_END;
}

LZ4F_preferences_t Lz4Preferences() {
  // What lz4.cc asks for at the default level.
  LZ4F_preferences_t p;
  std::memset(&p, 0, sizeof p);
  p.frameInfo.blockSizeID = LZ4F_max64KB;
  p.frameInfo.blockMode = LZ4F_blockIndependent;
  p.frameInfo.contentChecksumFlag = LZ4F_noContentChecksum;
  p.frameInfo.frameType = LZ4F_frame;
  p.frameInfo.blockChecksumFlag = LZ4F_noBlockChecksum;
  p.compressionLevel = 0;
  p.autoFlush = 1;
  return p;
}

bool RawLz4(const uint8_t* in, size_t n, uint8_t* dst, size_t capacity, size_t* written) {
  static const LZ4F_preferences_t kPrefs = Lz4Preferences();
  const size_t rc = LZ4F_compressFrame(dst, capacity, in, n, &kPrefs);
  if (LZ4F_isError(rc)) return false;
  *written = rc;
  return true;
}

ZSTD_CCtx* g_zstd_cctx = nullptr;

bool RawZstd(const uint8_t* in, size_t n, uint8_t* dst, size_t capacity, size_t* written) {
  const size_t rc = ZSTD_compressCCtx(g_zstd_cctx, dst, capacity, in, n, 3);
  if (ZSTD_isError(rc)) return false;
  *written = rc;
  return true;
}

bool RawSnappy(const uint8_t* in, size_t n, uint8_t* dst, size_t capacity, size_t* written) {
  size_t len = capacity;
  if (snappy_compress(reinterpret_cast<const char*>(in), n, reinterpret_cast<char*>(dst), &len) !=
      SNAPPY_OK) {
    return false;
  }
  *written = len;
  return true;
}

struct Codec {
  cz::CodecId id;
  CompressFn ours;
  CompressFn raw;
  const char* raw_label;
};

const Codec kCodecs[] = {
    {cz::CodecId::kGzip, Ours<cz::CodecId::kGzip>, RawGzip,
     "raw zlib (deflateInit2 + deflate + deflateEnd)"},
    {cz::CodecId::kSnappy, Ours<cz::CodecId::kSnappy>, RawSnappy,
     "raw libsnappy (snappy_compress, no framing)"},
    {cz::CodecId::kLz4, Ours<cz::CodecId::kLz4>, RawLz4, "raw liblz4 (LZ4F_compressFrame)"},
    {cz::CodecId::kZstd, Ours<cz::CodecId::kZstd>, RawZstd,
     "raw libzstd (ZSTD_compressCCtx, level 3)"},
};

// ---- data -----------------------------------------------------------------------------------

// bench/compression.bench.ts makeBatches(): xorshift32 from 1, one JSON record per line.
std::vector<uint8_t> MakeJsonLines(size_t total) {
  uint32_t s = 1;
  auto next = [&s] {
    s ^= s << 13;
    s ^= s >> 17;
    s ^= s << 5;
    return s;
  };
  static const char* const kEvents[] = {"click", "view", "purchase", "signup", "logout"};
  std::string text;
  char line[256];
  while (text.size() < total) {
    // One call per field, in the order the template literal evaluates them.
    const uint32_t id = next() % 1000000;
    const uint32_t user = next() % 5000;
    const char* event = kEvents[next() % 5];
    const unsigned long long ts = 1732590000000ULL + next() % 100000000;
    const uint32_t amount = next() % 1000;
    const uint32_t cents = next() % 100;
    std::snprintf(line, sizeof line,
                  "{\"id\":%u,\"user\":\"user-%u\",\"event\":\"%s\",\"ts\":%llu,\"amount\":%u.%02u}\n",
                  id, user, event, ts, amount, cents);
    text += line;
  }
  text.resize(total);
  return std::vector<uint8_t>(text.begin(), text.end());
}

bool ReadFile(const char* path, std::vector<uint8_t>* data) {
  FILE* f = std::fopen(path, "rb");
  if (f == nullptr) return false;
  uint8_t buf[65536];
  size_t got;
  while ((got = std::fread(buf, 1, sizeof buf, f)) > 0) data->insert(data->end(), buf, buf + got);
  const bool ok = std::ferror(f) == 0;
  std::fclose(f);
  return ok;
}

using Batches = std::vector<std::pair<const uint8_t*, size_t>>;

// ---- timing ---------------------------------------------------------------------------------

// MB/s of one round: all batches compressed over and over for at least min_s.
double RoundMbps(const Batches& batches, size_t bytes_per_pass, double min_s, CompressFn fn,
                 std::vector<uint8_t>* out) {
  size_t passes = 0;
  size_t sink = 0;
  const auto t0 = Clock::now();
  double s = 0;
  do {
    for (const auto& b : batches) {
      size_t written = 0;
      fn(b.first, b.second, out->data(), out->size(), &written);
      sink += written;
    }
    ++passes;
    s = std::chrono::duration<double>(Clock::now() - t0).count();
  } while (s < min_s);
  if (sink == 1) std::fputc(' ', stderr);  // keeps the calls' results live
  return static_cast<double>(bytes_per_pass) * static_cast<double>(passes) / s / 1e6;
}

// Compresses every batch with fn, checks that cz::Decompress gives it back, and returns the
// compressed total (0 after printing why, on failure).
size_t RoundTrip(cz::CodecId codec, const char* impl, const Batches& batches, CompressFn fn,
                 std::vector<uint8_t>* out) {
  size_t total = 0;
  std::vector<uint8_t> back;
  std::string err;
  for (size_t i = 0; i < batches.size(); ++i) {
    size_t written = 0;
    back.clear();
    if (!fn(batches[i].first, batches[i].second, out->data(), out->size(), &written) ||
        !cz::Decompress(codec, out->data(), written, &back, &err) ||
        back.size() != batches[i].second ||
        !std::equal(back.begin(), back.end(), batches[i].first)) {
      std::fprintf(stderr, "%s %s: round trip of batch %zu failed %s\n", cz::CodecName(codec),
                   impl, i, err.c_str());
      return 0;
    }
    total += written;
  }
  return total;
}

// Where the results go: stdout, or (in compress_bench.node) a string handed back to JS.
std::string* g_capture = nullptr;

void Out(const char* fmt, ...) {
  char buf[1024];
  va_list ap;
  va_start(ap, fmt);
  const int n = std::vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  if (n <= 0) return;
  const size_t len = std::min(static_cast<size_t>(n), sizeof buf - 1);
  if (g_capture != nullptr) {
    g_capture->append(buf, len);
  } else {
    std::fwrite(buf, 1, len, stdout);
  }
}

bool Flag(const char* arg, const char* name, const char** value) {
  const size_t n = std::strlen(name);
  if (std::strncmp(arg, name, n) != 0 || arg[n] != '=') return false;
  *value = arg + n + 1;
  return true;
}

}  // namespace

int BenchMain(int argc, char** argv) {
  const char* file = nullptr;
  const char* only = nullptr;
  bool framed = false;
  bool raw_first = false;
  bool tsv = false;
  size_t batch = 16384;
  size_t total = 1 << 20;
  double min_ms = 100;
  int runs = 15;
  for (int i = 1; i < argc; ++i) {
    const char* v = nullptr;
    if (Flag(argv[i], "--file", &v)) {
      file = v;
    } else if (Flag(argv[i], "--codec", &v)) {
      only = v;
    } else if (std::strcmp(argv[i], "--framed") == 0) {
      framed = true;
    } else if (std::strcmp(argv[i], "--raw-first") == 0) {
      raw_first = true;
    } else if (std::strcmp(argv[i], "--tsv") == 0) {
      tsv = true;
    } else if (Flag(argv[i], "--batch", &v)) {
      batch = std::strtoul(v, nullptr, 10);
    } else if (Flag(argv[i], "--total", &v)) {
      total = std::strtoul(v, nullptr, 10);
    } else if (Flag(argv[i], "--min-ms", &v)) {
      min_ms = std::atof(v);
    } else if (Flag(argv[i], "--runs", &v)) {
      runs = std::atoi(v);
    } else {
      std::fprintf(stderr,
                   "usage: %s [--file=PATH [--framed]] [--batch=16384] [--total=1048576] "
                   "[--min-ms=100] [--runs=15] [--codec=NAME] [--raw-first] [--tsv]\n",
                   argv[0]);
      return 2;
    }
  }
  if (batch == 0 || runs < 1 || min_ms <= 0) {
    std::fprintf(stderr, "--batch, --runs and --min-ms must be positive\n");
    return 2;
  }

  std::vector<uint8_t> data;
  if (file == nullptr) {
    data = MakeJsonLines(total);
  } else if (!ReadFile(file, &data)) {
    std::fprintf(stderr, "cannot read %s\n", file);
    return 2;
  }
  Batches batches;
  if (framed) {
    for (size_t off = 0; off < data.size();) {
      if (data.size() - off < 4) {
        std::fprintf(stderr, "%s: truncated length at offset %zu\n", file, off);
        return 2;
      }
      const size_t len = uint32_t{data[off]} | (uint32_t{data[off + 1]} << 8) |
                         (uint32_t{data[off + 2]} << 16) | (uint32_t{data[off + 3]} << 24);
      off += 4;
      if (len == 0 || len > data.size() - off) {
        std::fprintf(stderr, "%s: batch at offset %zu has length %zu\n", file, off - 4, len);
        return 2;
      }
      batches.emplace_back(data.data() + off, len);
      off += len;
    }
  } else {
    for (size_t off = 0; off < data.size(); off += batch) {
      batches.emplace_back(data.data() + off, std::min(batch, data.size() - off));
    }
  }
  size_t input = 0;
  size_t largest = 0;
  for (const auto& b : batches) {
    input += b.second;
    largest = std::max(largest, b.second);
  }
  if (batches.empty()) {
    std::fprintf(stderr, "no data\n");
    return 2;
  }
  if (g_zstd_cctx == nullptr) g_zstd_cctx = ZSTD_createCCtx();  // kept for later calls (.node)

  struct Result {
    const Codec* codec;
    double ours, raw;
    size_t ours_bytes, raw_bytes;
  };
  std::vector<Result> results;
  const double min_s = min_ms / 1000.0;
  for (const Codec& c : kCodecs) {
    const char* name = cz::CodecName(c.id);
    if (only != nullptr && std::strcmp(only, name) != 0) continue;
    std::vector<uint8_t> out(cz::CompressBound(c.id, largest));
    Result r{&c, 0, 0, 0, 0};
    r.ours_bytes = RoundTrip(c.id, "ours", batches, c.ours, &out);
    r.raw_bytes = RoundTrip(c.id, "raw", batches, c.raw, &out);
    if (r.ours_bytes == 0 || r.raw_bytes == 0) return 1;
    for (int run = 0; run < runs; ++run) {
      const bool ours_first = (run % 2 == 0) != raw_first;
      for (int k = 0; k < 2; ++k) {
        const bool ours = (k == 0) == ours_first;
        const double mbps = RoundMbps(batches, input, min_s, ours ? c.ours : c.raw, &out);
        double& best = ours ? r.ours : r.raw;
        best = std::max(best, mbps);
      }
    }
    if (tsv && results.empty()) {
      Out("# zlib %s, liblz4 %s, libzstd %s\n", zlibVersion(), LZ4_versionString(),
          ZSTD_versionString());
    }
    if (tsv) {
      Out("%s ours %.1f %zu %zu\n%s raw %.1f %zu %zu\n", name, r.ours, r.ours_bytes, input, name,
          r.raw, r.raw_bytes, input);
      if (g_capture == nullptr) std::fflush(stdout);
    }
    results.push_back(r);
  }
  if (tsv) return 0;

  Out("Compression, MB/s of uncompressed input, best of %d rounds of >= %.0f ms, ours and raw "
      "alternating; %zu batches, %.1f KiB on average, %.0f KiB in all (%s); zlib %s, liblz4 %s, "
      "libzstd %s\n\n",
      runs, min_ms, batches.size(), static_cast<double>(input) / batches.size() / 1024,
      static_cast<double>(input) / 1024,
      file == nullptr ? "~100 B JSON records, one per line" : file, zlibVersion(),
      LZ4_versionString(), ZSTD_versionString());
  Out("| codec | implementation | MB/s (input) | ours / raw | compression ratio |\n");
  Out("|---|---|---|---|---|\n");
  for (const Result& r : results) {
    const char* name = cz::CodecName(r.codec->id);
    Out("| %s | ours (codecs.h Compress, default level) | %.1f | %.3f | %.2f |\n", name, r.ours,
        r.ours / r.raw, static_cast<double>(input) / r.ours_bytes);
    Out("| %s | %s | %.1f | 1 | %.2f |\n", name, r.codec->raw_label, r.raw,
        static_cast<double>(input) / r.raw_bytes);
  }
  return 0;
}

#ifdef KAFKA_TURBO_BENCH_NODE
// The same bench as a Node-API module (compress_bench.node, built by build-compress.sh when
// Node's headers are found): compiled against Node's zlib.h and not linked with -lz, so gzip
// here is the zlib Node exports, the one the addon binds to; lz4, zstd and snappy are the
// shared libraries the addon links. bench/compression.bench.ts calls
//   require('native/build/c/compress_bench.node').run(['--file=...', '--framed', '--tsv', ...])
// which returns what the executable would print (and throws where it would exit non-zero),
// one round at a time, between its own rounds of the native backend.
#include <node_api.h>

namespace {

napi_value Run(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value list = nullptr;
  bool is_array = false;
  if (napi_get_cb_info(env, info, &argc, &list, nullptr, nullptr) != napi_ok || argc < 1 ||
      napi_is_array(env, list, &is_array) != napi_ok || !is_array) {
    napi_throw_type_error(env, nullptr, "run(args: string[])");
    return nullptr;
  }
  uint32_t n = 0;
  napi_get_array_length(env, list, &n);
  std::vector<std::string> args{"compress_bench.node"};
  for (uint32_t i = 0; i < n; ++i) {
    napi_value v = nullptr;
    size_t len = 0;
    if (napi_get_element(env, list, i, &v) != napi_ok ||
        napi_get_value_string_utf8(env, v, nullptr, 0, &len) != napi_ok) {
      napi_throw_type_error(env, nullptr, "run(args: string[])");
      return nullptr;
    }
    std::string s(len + 1, '\0');
    napi_get_value_string_utf8(env, v, &s[0], s.size(), &len);
    s.resize(len);
    args.push_back(std::move(s));
  }
  std::vector<char*> argv;
  for (std::string& s : args) argv.push_back(&s[0]);
  argv.push_back(nullptr);
  std::string output;
  g_capture = &output;
  const int rc = BenchMain(static_cast<int>(args.size()), argv.data());
  g_capture = nullptr;
  std::fflush(stderr);
  if (rc != 0) {
    // What went wrong is on stderr already.
    napi_throw_error(env, nullptr, ("compress_bench failed (" + std::to_string(rc) + ")").c_str());
    return nullptr;
  }
  napi_value out = nullptr;
  napi_create_string_utf8(env, output.data(), output.size(), &out);
  return out;
}

}  // namespace

NAPI_MODULE_INIT() {
  napi_value fn = nullptr;
  if (napi_create_function(env, "run", NAPI_AUTO_LENGTH, Run, nullptr, &fn) != napi_ok ||
      napi_set_named_property(env, exports, "run", fn) != napi_ok) {
    return nullptr;
  }
  return exports;
}
#else
int main(int argc, char** argv) { return BenchMain(argc, argv); }
#endif
