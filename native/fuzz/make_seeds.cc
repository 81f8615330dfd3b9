// Writes the fuzz targets' seed corpus (scripts/fuzz.sh runs it before fuzzing): inputs
// that reach deep into each parser from the first run, rather than making libFuzzer find the
// formats by itself. Packed layouts through packed_input.h's Encoder (valid ones of every
// shape the adapter writes, and near misses); compressed inputs written by our own codecs in
// the shapes other clients send (several gzip members or zstd frames in a row, a raw snappy
// block without xerial framing, lz4 frames with a content size).
//
//   make_seeds DIR   ->  DIR/packed/*, DIR/decompress/*
#include <sys/stat.h>

#include <lz4frame.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "../src/compress/codecs.h"
#include "packed_input.h"

namespace {

using Bytes = std::vector<uint8_t>;
using kafka_turbo::fuzz::Encoder;
namespace compress = kafka_turbo::compress;

bool Write(const std::string& dir, const std::string& name, const Bytes& data) {
  const std::string path = dir + "/" + name;
  FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) {
    std::perror(path.c_str());
    return false;
  }
  const bool ok = std::fwrite(data.data(), 1, data.size(), f) == data.size();
  return std::fclose(f) == 0 && ok;
}

Bytes Text(const std::string& s) { return Bytes(s.begin(), s.end()); }

// Records as the adapter packs them: key, value, two headers (one with a null value).
Bytes PlainRecords(bool append_layout, int n, bool with_headers) {
  Encoder e(append_layout, static_cast<uint8_t>(n));
  Bytes bytes;
  for (int i = 0; i < n; ++i) {
    const std::string key = "key-" + std::to_string(i);
    const std::string value = "value " + std::to_string(i) + " of the seed";
    e.Timestamp(static_cast<int16_t>(i * 3 - 4));
    e.Small(static_cast<int>(key.size()));
    e.Small(static_cast<int>(value.size()));
    bytes.insert(bytes.end(), key.begin(), key.end());
    bytes.insert(bytes.end(), value.begin(), value.end());
    if (with_headers && i % 2 == 0) {
      e.Small(2);
      e.Small(5);  // "trace"
      e.Small(2);
      e.Small(1);  // "n"
      e.Small(-1);
      const std::string h = "tracet" + std::to_string(i % 10) + "n";
      bytes.insert(bytes.end(), h.begin(), h.end());
    } else {
      e.Small(0);
    }
  }
  e.Bytes(bytes);
  return e.data();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s DIR\n", argv[0]);
    return 2;
  }
  const std::string dir = argv[1];
  const std::string packed = dir + "/packed";
  const std::string decomp = dir + "/decompress";
  mkdir(dir.c_str(), 0755);
  mkdir(packed.c_str(), 0755);
  mkdir(decomp.c_str(), 0755);
  bool ok = true;

  // ---- packed layouts ----
  ok &= Write(packed, "one-record", PlainRecords(false, 1, false));
  ok &= Write(packed, "three-records-headers", PlainRecords(false, 3, true));
  ok &= Write(packed, "append-layout-five", PlainRecords(true, 5, true));
  {
    // Null key and value, an empty value, then fields by reference (bigs), one of which is
    // not a Uint8Array.
    Encoder e(false, 3);
    e.Big(Text("a value too big to copy"));
    e.Big(Text("k"));
    e.NotBytesBig();
    e.Timestamp(0);
    e.Small(-1);
    e.Small(-1);
    e.Small(0);
    e.Timestamp(1);
    e.Small(0);
    e.Small(0);
    e.Small(0);
    e.Timestamp(2);
    e.BigRef(1);
    e.BigRef(0);
    e.Small(1);
    e.Small(3);
    e.BigRef(2);
    e.Bytes(Text("hdr"));
    ok &= Write(packed, "nulls-and-bigs", e.data());
  }
  {
    // A header count that claims more slots than are left.
    Encoder e(false, 1);
    e.Timestamp(0);
    e.Small(1);
    e.Small(1);
    e.Small(200);
    e.Small(1);
    e.Small(1);
    e.Bytes(Text("kvhk"));
    ok &= Write(packed, "header-count-past-slots", e.data());
  }
  {
    // A metaCapacity past the scratch, and a count past the slots.
    Encoder e(true, 9);
    e.Adjust(100);
    e.Timestamp(0);
    e.Small(0);
    e.Small(0);
    e.Small(0);
    e.Bytes({});
    ok &= Write(packed, "capacity-past-scratch", e.data());
  }
  {
    // Edge numbers: an unsafe timestamp, a fractional length, a bigs index past uint32.
    Encoder e(false, 2);
    e.Big(Text("b"));
    e.Special(7);  // 2^53 - 1: still safe
    e.Double(0.5);
    e.Special(16);
    e.Small(0);
    e.Special(8);  // 2^53: refused
    e.Small(0);
    e.Small(0);
    e.Small(0);
    e.Bytes(Text("x"));
    ok &= Write(packed, "edge-numbers", e.data());
  }
  {
    // Raw mode: the scratch verbatim, metaCapacity 9 in slot 0, one record from slot 5.
    Bytes raw = {1, 1};
    const double slots[] = {9, 0, 0, 1, 0, 1700000000000.0, 2, 3, 0};
    for (double d : slots) kafka_turbo::fuzz::PushDouble(&raw, d);
    const Bytes text = Text("kvvv");
    raw.insert(raw.end(), text.begin(), text.end());
    ok &= Write(packed, "raw-append", raw);
  }

  // ---- compressed inputs ----
  std::string json;
  for (int i = 0; i < 60; ++i) {
    json += "{\"id\":" + std::to_string(i) + ",\"name\":\"user-" + std::to_string(i % 7) +
            "\",\"tags\":[\"a\",\"b\"]}";
  }
  const Bytes plain = Text(json);
  const char* names[] = {"gzip", "snappy", "lz4", "zstd"};
  const compress::CodecId codecs[] = {compress::CodecId::kGzip, compress::CodecId::kSnappy,
                                      compress::CodecId::kLz4, compress::CodecId::kZstd};
  for (int c = 0; c < 4; ++c) {
    Bytes packed_bytes;
    std::string err;
    if (!compress::Compress(codecs[c], compress::kDefaultLevel, plain.data(), plain.size(),
                            &packed_bytes, &err)) {
      std::fprintf(stderr, "make_seeds: %s: %s\n", names[c], err.c_str());
      return 1;
    }
    // Decode with the largest limit (bits 3-7 all set), and with one just below the size.
    Bytes seed = {static_cast<uint8_t>(c | 0xf8), 0};
    seed.insert(seed.end(), packed_bytes.begin(), packed_bytes.end());
    ok &= Write(decomp, std::string(names[c]) + "-decode", seed);
    seed[0] = static_cast<uint8_t>(c | (17 << 3));
    ok &= Write(decomp, std::string(names[c]) + "-decode-small-limit", seed);
    // Two members / frames / chunks in a row.
    Bytes twice = {static_cast<uint8_t>(c | 0xf8), 0};
    twice.insert(twice.end(), packed_bytes.begin(), packed_bytes.end());
    if (codecs[c] == compress::CodecId::kSnappy) {
      // xerial: a second chunk follows the first without a second header.
      twice.insert(twice.end(), packed_bytes.begin() + compress::snappy::kXerialHeaderSize,
                   packed_bytes.end());
      // And one raw snappy block: the first chunk without its framing.
      Bytes raw = {static_cast<uint8_t>(c | 0xf8), 0};
      raw.insert(raw.end(), packed_bytes.begin() + compress::snappy::kXerialHeaderSize + 4,
                 packed_bytes.end());
      ok &= Write(decomp, "snappy-raw-block", raw);
    } else {
      twice.insert(twice.end(), packed_bytes.begin(), packed_bytes.end());
    }
    ok &= Write(decomp, std::string(names[c]) + "-two-in-a-row", twice);
    // Round trips: the text, and nothing at all.
    Bytes trip = {static_cast<uint8_t>(c | 4), 0xff};
    trip.insert(trip.end(), plain.begin(), plain.begin() + 600);
    ok &= Write(decomp, std::string(names[c]) + "-round-trip", trip);
    ok &= Write(decomp, std::string(names[c]) + "-round-trip-empty", {static_cast<uint8_t>(c | 4), 1});
  }
  {
    // lz4 frames as other writers make them: with a content size, whole and cut short
    // (liblz4 1.9.4 kept a cut frame's remaining size in its context, which failed the next
    // frame without one on the same thread).
    LZ4F_preferences_t p;
    std::memset(&p, 0, sizeof p);
    p.frameInfo.contentSize = plain.size();
    Bytes frame(LZ4F_compressFrameBound(plain.size(), &p));
    const size_t n = LZ4F_compressFrame(frame.data(), frame.size(), plain.data(), plain.size(), &p);
    if (LZ4F_isError(n)) {
      std::fprintf(stderr, "make_seeds: LZ4F_compressFrame: %s\n", LZ4F_getErrorName(n));
      return 1;
    }
    frame.resize(n);
    Bytes seed = {static_cast<uint8_t>(2 | 0xf8), 0};
    seed.insert(seed.end(), frame.begin(), frame.end());
    ok &= Write(decomp, "lz4-content-size", seed);
    seed.resize(seed.size() - 7);
    ok &= Write(decomp, "lz4-content-size-cut", seed);
  }
  if (!ok) return 1;
  std::printf("make_seeds: wrote %s and %s\n", packed.c_str(), decomp.c_str());
  return 0;
}
