// C-level tests of the native compression codecs (native/src/compress/). Build and run (also
// under ASan/UBSan) with
//   native/test/build-compress.sh && native/build/c/compress_test
//   SANITIZE=1 native/test/build-compress.sh && native/build/c-asan/compress_test
// It ends with "N passed, N failed" and exits non-zero on any failure.
//
// Two more modes serve the TypeScript cross-check (test/unit/compression/codecs.test.ts):
//   compress_test --dump DIR    writes DIR/<case>.raw and DIR/<codec>_<level>_<case>.c.bin,
//                               each input compressed by these codecs, for the TS codecs to
//                               decompress
//   compress_test --check DIR   decompresses every DIR/<codec>_<level>_<case>.ts.bin (written
//                               by the TS codecs) and compares it with DIR/<case>.raw
#include <dirent.h>
#include <lz4.h>
#include <lz4frame.h>
#include <snappy-c.h>
#include <zlib.h>
#include <zstd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "../src/compress/codecs.h"

namespace cz = kafka_turbo::compress;
using cz::CodecId;
using Bytes = std::vector<uint8_t>;

namespace {

int g_passed = 0;
int g_failed = 0;

void Check(bool ok, const std::string& what) {
  if (ok) {
    ++g_passed;
    return;
  }
  ++g_failed;
  if (g_failed <= 40) std::printf("FAIL %s\n", what.c_str());
}

// ---- inputs --------------------------------------------------------------------------------

struct Rng {
  uint64_t s;
  uint64_t Next() {
    s ^= s << 13;
    s ^= s >> 7;
    s ^= s << 17;
    return s;
  }
};

Bytes Random(size_t n, uint64_t seed) {
  Rng r{seed};
  Bytes b(n);
  for (auto& x : b) x = static_cast<uint8_t>(r.Next() >> 24);
  return b;
}

// ~100-byte JSON records, one per line, like the values of a Kafka batch.
Bytes JsonLike(size_t n, uint64_t seed) {
  static const char* kEvents[] = {"click", "view", "purchase", "signup", "logout"};
  Rng r{seed};
  std::string s;
  char line[256];
  while (s.size() < n) {
    const int len =
        std::snprintf(line, sizeof line,
                      "{\"id\":%llu,\"user\":\"user-%llu\",\"event\":\"%s\",\"ts\":%llu,\"amount\":"
                      "%llu.%02llu}\n",
                      static_cast<unsigned long long>(r.Next() % 1000000),
                      static_cast<unsigned long long>(r.Next() % 5000), kEvents[r.Next() % 5],
                      static_cast<unsigned long long>(1732590000000ull + r.Next() % 100000000),
                      static_cast<unsigned long long>(r.Next() % 1000),
                      static_cast<unsigned long long>(r.Next() % 100));
    s.append(line, static_cast<size_t>(len));
  }
  s.resize(n);
  return Bytes(s.begin(), s.end());
}

struct Case {
  std::string name;
  Bytes data;
};

std::vector<Case> Cases() {
  std::vector<Case> v;
  v.push_back({"empty", {}});
  v.push_back({"one-byte", {0x2a}});
  v.push_back({"json-100", JsonLike(100, 1)});
  v.push_back({"json-16k", JsonLike(16 * 1024, 2)});
  v.push_back({"json-64k-plus-1", JsonLike(64 * 1024 + 1, 3)});
  v.push_back({"json-1m", JsonLike(1024 * 1024, 4)});
  v.push_back({"random-100", Random(100, 5)});
  v.push_back({"random-300k", Random(300 * 1024, 6)});
  // A run of one byte across exactly two 64 KiB blocks: matches right up to each block's end.
  v.push_back({"zeros-128k", Bytes(128 * 1024, 0)});
  return v;
}

struct CodecLevels {
  CodecId codec;
  std::vector<int> levels;  // min, default, max, and the Java default spelled out
};

std::vector<CodecLevels> AllCodecs() {
  return {
      {CodecId::kGzip, {1, -1, 9, 6, cz::kDefaultLevel}},
      {CodecId::kSnappy, {0}},
      {CodecId::kLz4, {1, 9, 17, 3, cz::kDefaultLevel}},
      {CodecId::kZstd, {-131072, -5, 1, 3, 22, cz::kDefaultLevel}},
  };
}

std::string Label(CodecId c, int level, const std::string& name) {
  return std::string(cz::CodecName(c)) + "(" +
         (level == cz::kDefaultLevel ? std::string("default") : std::to_string(level)) + ") " +
         name;
}

Bytes CompressOrDie(CodecId c, int level, const Bytes& in, const std::string& label) {
  Bytes out;
  std::string err;
  const bool ok = cz::Compress(c, level, in.data(), in.size(), &out, &err);
  Check(ok, label + ": compress: " + err);
  return out;
}

bool RoundTrips(CodecId c, const Bytes& compressed, const Bytes& want, std::string* err) {
  Bytes back;
  if (!cz::Decompress(c, compressed.data(), compressed.size(), &back, err)) return false;
  if (back != want) {
    *err = "decompressed " + std::to_string(back.size()) + " bytes, differing from the " +
           std::to_string(want.size()) + " compressed";
    return false;
  }
  return true;
}

uint32_t Le32(const uint8_t* p) {
  return uint32_t{p[0]} | (uint32_t{p[1]} << 8) | (uint32_t{p[2]} << 16) | (uint32_t{p[3]} << 24);
}
uint32_t Be32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
}

// ---- tests ---------------------------------------------------------------------------------

void TestRoundTrips() {
  for (const auto& cl : AllCodecs()) {
    for (int level : cl.levels) {
      for (const auto& tc : Cases()) {
        // Level 22 and the slowest levels on a megabyte only once: they dominate the run.
        if (tc.name == "json-1m" && (level == 22 || level == 17)) continue;
        const std::string label = Label(cl.codec, level, tc.name);
        const Bytes z = CompressOrDie(cl.codec, level, tc.data, label);
        std::string err;
        Check(RoundTrips(cl.codec, z, tc.data, &err), label + ": round trip: " + err);
        Check(z.size() <= cz::CompressBound(cl.codec, tc.data.size()), label + ": within bound");
      }
    }
  }
  // Compressible input shrinks (a sanity check on levels actually reaching the library).
  const Bytes json = JsonLike(64 * 1024, 9);
  for (const auto& cl : AllCodecs()) {
    const Bytes z = CompressOrDie(cl.codec, cz::kDefaultLevel, json, "shrink");
    Check(z.size() < json.size() / 2,
          std::string(cz::CodecName(cl.codec)) + ": JSON shrinks by half");
  }
  const Bytes zstd_fast = CompressOrDie(CodecId::kZstd, -131072, json, "zstd fastest");
  const Bytes zstd_best = CompressOrDie(CodecId::kZstd, 19, json, "zstd 19");
  Check(zstd_best.size() < zstd_fast.size(), "zstd: level 19 smaller than level -131072");
  const Bytes lz4_fast = CompressOrDie(CodecId::kLz4, 9, json, "lz4 9");
  const Bytes lz4_hc = CompressOrDie(CodecId::kLz4, 12, json, "lz4 12");
  Check(lz4_hc.size() < lz4_fast.size(), "lz4: HC 12 smaller than the fast default 9");
}

void TestAppendAndCallerBuffer() {
  const Bytes json = JsonLike(5000, 11);
  for (const auto& cl : AllCodecs()) {
    const char* name = cz::CodecName(cl.codec);
    Bytes out(61, 0xAB);  // e.g. a batch header already in place
    std::string err;
    Check(cz::Compress(cl.codec, cz::kDefaultLevel, json.data(), json.size(), &out, &err),
          std::string(name) + ": append compress");
    bool kept = out.size() > 61;
    for (size_t i = 0; i < 61 && kept; ++i) kept = out[i] == 0xAB;
    Check(kept, std::string(name) + ": append keeps what was there");
    Bytes tail(out.begin() + 61, out.end());
    Check(RoundTrips(cl.codec, tail, json, &err), std::string(name) + ": appended part: " + err);

    Bytes back(7, 0xCD);
    Check(cz::Decompress(cl.codec, tail.data(), tail.size(), &back, &err) &&
              back.size() == 7 + json.size() && back[0] == 0xCD &&
              std::memcmp(back.data() + 7, json.data(), json.size()) == 0,
          std::string(name) + ": decompress appends");

    const size_t bound = cz::CompressBound(cl.codec, json.size());
    Bytes dst(bound);
    size_t written = 0;
    Check(cz::Compress(cl.codec, cz::kDefaultLevel, json.data(), json.size(), dst.data(), bound,
                       &written, &err) &&
              written > 0 && written <= bound,
          std::string(name) + ": caller buffer");
    Check(!cz::Compress(cl.codec, cz::kDefaultLevel, json.data(), json.size(), dst.data(),
                        bound - 1, &written, &err) &&
              err.find("CompressBound") != std::string::npos,
          std::string(name) + ": capacity below the bound is refused");
  }
}

void TestLevels() {
  struct L {
    CodecId c;
    int level;
    bool ok;
    int effective;
  };
  const L cases[] = {
      {CodecId::kGzip, 1, true, 1},
      {CodecId::kGzip, 9, true, 9},
      {CodecId::kGzip, -1, true, -1},
      {CodecId::kGzip, cz::kDefaultLevel, true, -1},
      {CodecId::kGzip, 0, false, 0},
      {CodecId::kGzip, 10, false, 0},
      {CodecId::kGzip, -2, false, 0},
      {CodecId::kLz4, 1, true, 1},
      {CodecId::kLz4, 17, true, 17},
      {CodecId::kLz4, cz::kDefaultLevel, true, 9},
      {CodecId::kLz4, 0, false, 0},
      {CodecId::kLz4, 18, false, 0},
      {CodecId::kZstd, -131072, true, -131072},
      {CodecId::kZstd, 22, true, 22},
      {CodecId::kZstd, cz::kDefaultLevel, true, 3},
      {CodecId::kZstd, 0, true, 0},
      {CodecId::kZstd, -131073, false, 0},
      {CodecId::kZstd, 23, false, 0},
      {CodecId::kSnappy, 5, true, 0},
      {CodecId::kNone, 0, false, 0},
      {static_cast<CodecId>(7), 0, false, 0},
  };
  for (const auto& c : cases) {
    int eff = 12345;
    std::string err;
    const bool ok = cz::ResolveLevel(c.c, c.level, &eff, &err);
    const std::string label = std::string("level ") +
                              (cz::CodecName(c.c) ? cz::CodecName(c.c) : "?") + " " +
                              std::to_string(c.level);
    Check(ok == c.ok, label + (c.ok ? " accepted" : " refused"));
    if (ok && c.ok)
      Check(eff == c.effective, label + " resolves to " + std::to_string(c.effective));
    if (!ok) Check(!err.empty(), label + " says why");
    if (!c.ok && c.c == CodecId::kLz4) {
      Check(err.find("1..17") != std::string::npos, label + ": message names the range: " + err);
    }
    if (!c.ok) {
      Bytes out;
      Check(!cz::Compress(c.c, c.level, nullptr, 0, &out, &err), label + ": Compress refuses it");
    }
  }
  Check(std::strcmp(cz::CodecName(CodecId::kZstd), "zstd") == 0, "CodecName");
  Check(cz::CodecName(static_cast<CodecId>(9)) == nullptr, "CodecName of an unknown id");
}

void TestGoldenFraming() {
  const Bytes json = JsonLike(200 * 1024, 21);
  const Bytes rnd = Random(100 * 1024, 22);

  // lz4: the Java client's header, 64 KiB blocks, stored blocks for incompressible data.
  for (const Bytes* in : {&json, &rnd}) {
    const Bytes z = CompressOrDie(CodecId::kLz4, cz::kDefaultLevel, *in, "lz4 golden");
    const uint8_t header[] = {0x04, 0x22, 0x4D, 0x18, 0x60, 0x40, 0x82};
    Check(z.size() >= 11 && std::memcmp(z.data(), header, 7) == 0,
          "lz4: header 04 22 4D 18 60 40 82");
    size_t pos = 7;
    size_t blocks = 0;
    size_t stored = 0;
    size_t content = 0;
    bool sane = true;
    while (sane && pos + 4 <= z.size()) {
      const uint32_t w = Le32(z.data() + pos);
      pos += 4;
      if (w == 0) break;
      const uint32_t size = w & 0x7FFFFFFFu;
      sane = size <= 65536 && pos + size <= z.size();
      if (w & 0x80000000u) {
        ++stored;
        content += size;
      }
      ++blocks;
      pos += size;
    }
    Check(sane && pos == z.size(), "lz4: blocks walk to an end mark at the end of the frame");
    Check(blocks == (in->size() + 65535) / 65536, "lz4: one block per 64 KiB of input");
    if (in == &rnd)
      Check(stored == blocks && content == rnd.size(),
            "lz4: incompressible blocks stored as they are");
  }
  {
    const Bytes z = CompressOrDie(CodecId::kLz4, cz::kDefaultLevel, {}, "lz4 empty");
    const uint8_t want[] = {0x04, 0x22, 0x4D, 0x18, 0x60, 0x40, 0x82, 0, 0, 0, 0};
    Check(z.size() == sizeof want && std::memcmp(z.data(), want, sizeof want) == 0,
          "lz4: empty frame is header + end mark");
  }

  // snappy: xerial header, chunks of at most 32 KiB input.
  {
    const Bytes z = CompressOrDie(CodecId::kSnappy, 0, json, "snappy golden");
    const uint8_t header[] = {0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0, 0, 0, 0, 1, 0, 0, 0, 1};
    Check(z.size() > 16 && std::memcmp(z.data(), header, 16) == 0, "snappy: xerial header");
    size_t pos = 16;
    size_t chunks = 0;
    size_t total = 0;
    bool sane = true;
    while (sane && pos < z.size()) {
      sane = pos + 4 <= z.size();
      if (!sane) break;
      const uint32_t len = Be32(z.data() + pos);
      pos += 4;
      size_t ulen = 0;
      sane = pos + len <= z.size() &&
             snappy_uncompressed_length(reinterpret_cast<const char*>(z.data() + pos), len,
                                        &ulen) == SNAPPY_OK &&
             ulen <= 32 * 1024;
      total += ulen;
      pos += len;
      ++chunks;
    }
    Check(sane && total == json.size() && chunks == (json.size() + 32767) / 32768,
          "snappy: 32 KiB chunks");
    const Bytes e = CompressOrDie(CodecId::kSnappy, 0, {}, "snappy empty");
    Check(e.size() == 16 && std::memcmp(e.data(), header, 16) == 0,
          "snappy: empty is the header alone");
  }
  // gzip and zstd magic.
  {
    const Bytes g = CompressOrDie(CodecId::kGzip, cz::kDefaultLevel, json, "gzip golden");
    Check(g.size() > 18 && g[0] == 0x1f && g[1] == 0x8b && g[2] == 8, "gzip: member header");
    const Bytes z = CompressOrDie(CodecId::kZstd, cz::kDefaultLevel, json, "zstd golden");
    Check(z.size() > 4 && Le32(z.data()) == 0xFD2FB528u, "zstd: frame magic");
    Check(ZSTD_getFrameContentSize(z.data(), z.size()) == json.size(),
          "zstd: frame carries the content size");
  }
}

// What other clients write must decode too.
void TestForeignInput() {
  const Bytes json = JsonLike(300 * 1024, 31);
  std::string err;

  // snappy: one raw block, no framing (librdkafka and others).
  {
    Bytes raw(snappy_max_compressed_length(json.size()));
    size_t n = raw.size();
    snappy_compress(reinterpret_cast<const char*>(json.data()), json.size(),
                    reinterpret_cast<char*>(raw.data()), &n);
    raw.resize(n);
    Check(RoundTrips(CodecId::kSnappy, raw, json, &err), "snappy: raw block decodes: " + err);
    // Two xerial streams one after the other.
    const Bytes a =
        CompressOrDie(CodecId::kSnappy, 0, Bytes(json.begin(), json.begin() + 1000), "xerial a");
    const Bytes b =
        CompressOrDie(CodecId::kSnappy, 0, Bytes(json.begin() + 1000, json.end()), "xerial b");
    Bytes ab(a);
    ab.insert(ab.end(), b.begin(), b.end());
    Check(RoundTrips(CodecId::kSnappy, ab, json, &err),
          "snappy: concatenated xerial streams: " + err);
  }
  // lz4: default liblz4 frames (linked blocks, 64 KiB) with content size and checksums; a
  // frame with 4 MiB blocks; two frames in a row; the pre-KIP-57 header checksum.
  {
    LZ4F_preferences_t p;
    std::memset(&p, 0, sizeof p);
    p.frameInfo.blockMode = LZ4F_blockLinked;
    p.frameInfo.contentChecksumFlag = LZ4F_contentChecksumEnabled;
    p.frameInfo.blockChecksumFlag = LZ4F_blockChecksumEnabled;
    p.frameInfo.contentSize = json.size();
    Bytes f(LZ4F_compressFrameBound(json.size(), &p));
    f.resize(LZ4F_compressFrame(f.data(), f.size(), json.data(), json.size(), &p));
    Check(RoundTrips(CodecId::kLz4, f, json, &err),
          "lz4: linked blocks, checksums, content size: " + err);
    p.frameInfo.blockSizeID = LZ4F_max4MB;
    Bytes g(LZ4F_compressFrameBound(json.size(), &p));
    g.resize(LZ4F_compressFrame(g.data(), g.size(), json.data(), json.size(), &p));
    Check(RoundTrips(CodecId::kLz4, g, json, &err), "lz4: 4 MiB blocks: " + err);
    // A frame with a content size cut short, then a good frame without one on the same
    // thread: the failure must not leave its state in the thread's context (found by
    // native/fuzz/decompress_fuzz.cc: liblz4 1.9.4 then answered frameSize_wrong).
    Bytes cut_out;
    Check(!cz::Decompress(CodecId::kLz4, f.data(), f.size() / 2, &cut_out, &err),
          "lz4: a frame with a content size cut short is refused");
    const Bytes plain_frame = CompressOrDie(CodecId::kLz4, cz::kDefaultLevel, json, "after a cut frame");
    Check(RoundTrips(CodecId::kLz4, plain_frame, json, &err),
          "lz4: the next frame decodes after a failed one: " + err);
    Bytes two(f);
    two.insert(two.end(), g.begin(), g.end());
    Bytes both(json);
    both.insert(both.end(), json.begin(), json.end());
    Check(RoundTrips(CodecId::kLz4, two, both, &err), "lz4: two frames in a row: " + err);
    // Corrupting the content checksum is caught.
    Bytes bad(f);
    bad[bad.size() - 1] ^= 0xFF;
    Bytes out;
    Check(!cz::Decompress(CodecId::kLz4, bad.data(), bad.size(), &out, &err),
          "lz4: content checksum checked");

    Bytes legacy = CompressOrDie(CodecId::kLz4, cz::kDefaultLevel, json, "lz4 legacy");
    // XXH32 over magic + FLG + BD of 04 22 4D 18 60 40, second byte: what pre-KIP-57 clients wrote.
    // Compute it with liblz4's own frame code: not exposed, so find the byte by trying all 256.
    int accepted = 0;
    for (int v = 0; v < 256; ++v) {
      legacy[6] = static_cast<uint8_t>(v);
      Bytes o;
      if (cz::Decompress(CodecId::kLz4, legacy.data(), legacy.size(), &o, &err) && o == json)
        ++accepted;
    }
    Check(
        accepted == 2,
        "lz4: exactly two header checksums accepted (the right one and the pre-KIP-57 one), got " +
            std::to_string(accepted));
  }
  // zstd: a streamed frame without content size (what Java's zstd-jni writes); two frames.
  {
    ZSTD_CCtx* cctx = ZSTD_createCCtx();
    Bytes s(ZSTD_compressBound(json.size()) + 64);
    ZSTD_outBuffer ob{s.data(), s.size(), 0};
    // Feed in two pieces through the streaming API so no size is pledged.
    ZSTD_inBuffer ib1{json.data(), json.size() / 2, 0};
    ZSTD_compressStream2(cctx, &ob, &ib1, ZSTD_e_continue);
    ZSTD_inBuffer ib2{json.data() + json.size() / 2, json.size() - json.size() / 2, 0};
    size_t left = 1;
    while (left != 0) left = ZSTD_compressStream2(cctx, &ob, &ib2, ZSTD_e_end);
    s.resize(ob.pos);
    ZSTD_freeCCtx(cctx);
    Check(ZSTD_getFrameContentSize(s.data(), s.size()) == ZSTD_CONTENTSIZE_UNKNOWN,
          "zstd: streamed frame has no size");
    Check(RoundTrips(CodecId::kZstd, s, json, &err), "zstd: frame without content size: " + err);
    Bytes two(s);
    const Bytes small =
        CompressOrDie(CodecId::kZstd, 1, Bytes(json.begin(), json.begin() + 100), "zstd small");
    two.insert(two.end(), small.begin(), small.end());
    Bytes want(json);
    want.insert(want.end(), json.begin(), json.begin() + 100);
    Check(RoundTrips(CodecId::kZstd, two, want, &err), "zstd: two frames in a row: " + err);
  }
  // gzip: two members in a row, as Java's GZIPInputStream reads them.
  {
    const Bytes a =
        CompressOrDie(CodecId::kGzip, 1, Bytes(json.begin(), json.begin() + 5000), "gzip a");
    const Bytes b =
        CompressOrDie(CodecId::kGzip, 9, Bytes(json.begin() + 5000, json.end()), "gzip b");
    Bytes ab(a);
    ab.insert(ab.end(), b.begin(), b.end());
    Check(RoundTrips(CodecId::kGzip, ab, json, &err), "gzip: two members: " + err);
  }
}

void TestBadInput() {
  const Bytes json = JsonLike(100 * 1024, 41);
  const Bytes rnd = Random(4096, 42);
  for (const auto& cl : AllCodecs()) {
    const char* name = cz::CodecName(cl.codec);
    const Bytes z = CompressOrDie(cl.codec, cz::kDefaultLevel, json, "bad input base");
    std::string err;
    Bytes out(3, 7);
    // Every truncation fails cleanly and leaves *out as it was.
    bool all_fail = true;
    bool out_kept = true;
    for (size_t cut : {size_t{0}, size_t{1}, size_t{5}, size_t{17}, z.size() / 2, z.size() - 1}) {
      if (cut >= z.size()) continue;
      if (cz::Decompress(cl.codec, z.data(), cut, &out, &err)) all_fail = false;
      if (out.size() != 3) out_kept = false;
      out.assign(3, 7);
    }
    Check(all_fail, std::string(name) + ": truncated input refused");
    Check(out_kept, std::string(name) + ": failed decompress leaves the output as it was");
    // Random bytes are not a valid stream (snappy's raw reading may accept some: skip it).
    if (cl.codec != CodecId::kSnappy) {
      Check(!cz::Decompress(cl.codec, rnd.data(), rnd.size(), &out, &err) && !err.empty(),
            std::string(name) + ": garbage refused with a message");
    }
    // Corrupting bytes in the middle never crashes (ASan/UBSan runs watch this); it mostly fails.
    Bytes flipped(z);
    for (size_t i = 20; i < flipped.size(); i += 997) flipped[i] ^= 0x5A;
    out.clear();
    (void)cz::Decompress(cl.codec, flipped.data(), flipped.size(), &out, &err);
    // And a few hundred random mutations and cuts of a smaller stream.
    const Bytes small = CompressOrDie(cl.codec, cz::kDefaultLevel, JsonLike(3000, 43), "fuzz base");
    Rng rng{static_cast<uint64_t>(cl.codec) * 7919 + 1};
    for (int t = 0; t < 400; ++t) {
      Bytes m(small);
      for (uint64_t f = 0, flips = 1 + rng.Next() % 4; f < flips; ++f) {
        m[rng.Next() % m.size()] = static_cast<uint8_t>(rng.Next());
      }
      if (rng.Next() % 5 == 0) m.resize(rng.Next() % m.size());
      out.clear();
      (void)cz::Decompress(cl.codec, m.data(), m.size(), &out, &err, 1 << 20);
    }
    // The output limit holds.
    out.clear();
    Check(!cz::Decompress(cl.codec, z.data(), z.size(), &out, &err, 1000) && out.empty(),
          std::string(name) + ": max_out enforced");
    Check(cz::Decompress(cl.codec, z.data(), z.size(), &out, &err, json.size()) && out == json,
          std::string(name) + ": max_out equal to the size is enough");
  }
  Bytes out;
  std::string err;
  Check(!cz::Decompress(CodecId::kNone, nullptr, 0, &out, &err), "no codec: decompress refused");
  Check(cz::CompressBound(CodecId::kNone, 100) == 0, "no codec: no bound");
}

// Each thread has its own contexts: compress and decompress on two threads at once.
void TestThreads() {
  bool ok[2] = {false, false};
  auto work = [&](int t) {
    const Bytes json = JsonLike(200 * 1024, 50 + t);
    bool good = true;
    for (int i = 0; i < 20 && good; ++i) {
      for (const auto& cl : AllCodecs()) {
        Bytes z;
        Bytes back;
        std::string err;
        const int level = cl.levels[static_cast<size_t>(i) % cl.levels.size()];
        if (level == 22) continue;
        good = good && cz::Compress(cl.codec, level, json.data(), json.size(), &z, &err) &&
               cz::Decompress(cl.codec, z.data(), z.size(), &back, &err) && back == json;
      }
    }
    ok[t] = good;
  };
  std::thread a(work, 0);
  std::thread b(work, 1);
  a.join();
  b.join();
  Check(ok[0] && ok[1], "two threads compress and decompress at once");
}

// ---- cross-check modes -----------------------------------------------------------------------

bool WriteFile(const std::string& path, const Bytes& b) {
  FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) return false;
  const bool ok = b.empty() || std::fwrite(b.data(), 1, b.size(), f) == b.size();
  return std::fclose(f) == 0 && ok;
}

bool ReadFile(const std::string& path, Bytes* b) {
  FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) return false;
  b->clear();
  uint8_t buf[65536];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) b->insert(b->end(), buf, buf + n);
  std::fclose(f);
  return true;
}

// The levels the cross-check covers: each codec's range ends and its default.
std::vector<int> CrossLevels(CodecId c) {
  switch (c) {
    case CodecId::kGzip:
      return {1, -1, 9};
    case CodecId::kLz4:
      return {1, 9, 17};
    case CodecId::kZstd:
      return {-131072, 3, 22};
    default:
      return {0};
  }
}

// Forms other Kafka clients and other liblz4/libzstd settings produce, named "<codec>_<variant>".
std::vector<std::pair<std::string, Bytes>> ForeignForms(const Bytes& data) {
  std::vector<std::pair<std::string, Bytes>> v;
  // lz4: liblz4's own defaults (linked blocks) with block + content checksums and the size.
  LZ4F_preferences_t p;
  std::memset(&p, 0, sizeof p);
  p.frameInfo.blockMode = LZ4F_blockLinked;
  p.frameInfo.contentChecksumFlag = LZ4F_contentChecksumEnabled;
  p.frameInfo.blockChecksumFlag = LZ4F_blockChecksumEnabled;
  p.frameInfo.contentSize = data.size();
  Bytes f(LZ4F_compressFrameBound(data.size(), &p));
  f.resize(LZ4F_compressFrame(f.data(), f.size(), data.data(), data.size(), &p));
  v.emplace_back("lz4_linked-checksums", f);
  p.frameInfo.blockSizeID = LZ4F_max4MB;
  p.frameInfo.blockMode = LZ4F_blockIndependent;
  p.frameInfo.blockChecksumFlag = LZ4F_noBlockChecksum;
  p.compressionLevel = 9;
  Bytes g(LZ4F_compressFrameBound(data.size(), &p));
  g.resize(LZ4F_compressFrame(g.data(), g.size(), data.data(), data.size(), &p));
  v.emplace_back("lz4_hc-4mb-blocks", g);
  // zstd: streamed, no content size (what the Java client's zstd-jni writes), with checksum.
  ZSTD_CCtx* cctx = ZSTD_createCCtx();
  ZSTD_CCtx_setParameter(cctx, ZSTD_c_checksumFlag, 1);
  Bytes s(ZSTD_compressBound(data.size()) + 64);
  ZSTD_outBuffer ob{s.data(), s.size(), 0};
  ZSTD_inBuffer ib1{data.data(), data.size() / 2, 0};
  ZSTD_compressStream2(cctx, &ob, &ib1, ZSTD_e_continue);
  ZSTD_inBuffer ib2{data.data() + data.size() / 2, data.size() - data.size() / 2, 0};
  size_t left = 1;
  while (left != 0) left = ZSTD_compressStream2(cctx, &ob, &ib2, ZSTD_e_end);
  s.resize(ob.pos);
  ZSTD_freeCCtx(cctx);
  v.emplace_back("zstd_streamed-no-size", s);
  // snappy: one raw block, no xerial framing.
  Bytes r(snappy_max_compressed_length(data.size()));
  size_t rn = r.size();
  snappy_compress(reinterpret_cast<const char*>(data.data()), data.size(),
                  reinterpret_cast<char*>(r.data()), &rn);
  r.resize(rn);
  v.emplace_back("snappy_raw-block", r);
  // gzip: two members, split in the middle.
  Bytes two;
  std::string err;
  const size_t half = data.size() / 2;
  cz::Compress(CodecId::kGzip, 1, data.data(), half, &two, &err);
  cz::Compress(CodecId::kGzip, 9, data.data() + half, data.size() - half, &two, &err);
  v.emplace_back("gzip_two-members", two);
  return v;
}

int Dump(const std::string& dir) {
  int files = 0;
  for (const auto& tc : Cases()) {
    if (!WriteFile(dir + "/" + tc.name + ".raw", tc.data)) {
      std::printf("cannot write %s/%s.raw\n", dir.c_str(), tc.name.c_str());
      return 1;
    }
    for (const auto& cl : AllCodecs()) {
      for (int level : CrossLevels(cl.codec)) {
        if (level == 22 && tc.name == "json-1m") continue;
        Bytes z;
        std::string err;
        if (!cz::Compress(cl.codec, level, tc.data.data(), tc.data.size(), &z, &err)) {
          std::printf("compress %s failed: %s\n", Label(cl.codec, level, tc.name).c_str(),
                      err.c_str());
          return 1;
        }
        const std::string path = dir + "/" + cz::CodecName(cl.codec) + "_" + std::to_string(level) +
                                 "_" + tc.name + ".c.bin";
        if (!WriteFile(path, z)) {
          std::printf("cannot write %s\n", path.c_str());
          return 1;
        }
        ++files;
      }
    }
    // What other clients write, for the TS readers: <codec>_<variant>_<case>.c.bin.
    if (tc.data.empty()) continue;
    for (const auto& f : ForeignForms(tc.data)) {
      if (!WriteFile(dir + "/" + f.first + "_" + tc.name + ".c.bin", f.second)) return 1;
      ++files;
    }
  }
  std::printf("dumped %d compressed files to %s\n", files, dir.c_str());
  return 0;
}

int CheckDir(const std::string& dir) {
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) {
    std::printf("cannot open %s\n", dir.c_str());
    return 1;
  }
  std::vector<std::string> names;
  while (dirent* e = readdir(d)) {
    const std::string n = e->d_name;
    if (n.size() > 7 && n.compare(n.size() - 7, 7, ".ts.bin") == 0) names.push_back(n);
  }
  closedir(d);
  for (const auto& n : names) {
    // <codec>_<level>_<case>.ts.bin
    const size_t a = n.find('_');
    const size_t b = a == std::string::npos ? a : n.find('_', a + 1);
    if (b == std::string::npos) {
      Check(false, n + ": unexpected name");
      continue;
    }
    const std::string codec = n.substr(0, a);
    const std::string tc = n.substr(b + 1, n.size() - 7 - b - 1);
    CodecId id = CodecId::kNone;
    for (CodecId c : {CodecId::kGzip, CodecId::kSnappy, CodecId::kLz4, CodecId::kZstd}) {
      if (codec == cz::CodecName(c)) id = c;
    }
    Bytes z;
    Bytes raw;
    if (id == CodecId::kNone || !ReadFile(dir + "/" + n, &z) ||
        !ReadFile(dir + "/" + tc + ".raw", &raw)) {
      Check(false, n + ": unknown codec or missing files");
      continue;
    }
    std::string err;
    Check(RoundTrips(id, z, raw, &err), n + " (TS-compressed) decompresses here: " + err);
  }
  Check(!names.empty(), "found *.ts.bin files to check in " + dir);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 3 && std::strcmp(argv[1], "--dump") == 0) return Dump(argv[2]);
  if (argc == 3 && std::strcmp(argv[1], "--check") == 0) {
    CheckDir(argv[2]);
  } else if (argc != 1) {
    std::printf("usage: %s [--dump DIR | --check DIR]\n", argv[0]);
    return 2;
  } else {
    std::printf("zlib %s, lz4 %s, zstd %s\n", zlibVersion(), LZ4_versionString(),
                ZSTD_versionString());
    TestLevels();
    TestRoundTrips();
    TestAppendAndCallerBuffer();
    TestGoldenFraming();
    TestForeignInput();
    TestBadInput();
    TestThreads();
  }
  std::printf("%d passed, %d failed\n", g_passed, g_failed);
  return g_failed == 0 ? 0 : 1;
}
