// C-level tests of the record-batch encoder and the RecordAccumulator core (native/src/core),
// without Node: hand-computed byte vectors for varints, records and the batch header (its
// CRC against a bitwise CRC32C that shares nothing with the code under test), and the
// accumulator's semantics, which must be the fallback's (ts/backend/fallback/accumulator.ts;
// the same cases as test/unit/backend/accumulator.test.ts and a few more). Build and run
// (also under ASan/UBSan) with
//   native/test/build.sh && native/build/c/core_test
//   SANITIZE=1 native/test/build.sh && native/build/c-asan/core_test
// It ends with "N passed, N failed" and exits non-zero on any failure.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "../src/core/accumulator.h"
#include "../src/core/record_batch.h"
#include "../src/core/varint.h"
#include "../src/compress/codecs.h"

namespace core = kafka_turbo::core;

namespace {

int g_passed = 0;
int g_failed = 0;

#define CHECK(cond)                                               \
  do {                                                            \
    if (cond) {                                                   \
      ++g_passed;                                                 \
    } else {                                                      \
      ++g_failed;                                                 \
      std::printf("FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond); \
    }                                                             \
  } while (0)

using Bytes = std::vector<uint8_t>;

std::string Hex(const uint8_t* p, size_t n) {
  std::string s;
  char b[4];
  for (size_t i = 0; i < n; ++i) {
    std::snprintf(b, sizeof b, i ? " %02x" : "%02x", p[i]);
    s += b;
  }
  return s;
}

void CheckBytes(const char* what, const uint8_t* got, size_t got_size, const Bytes& want) {
  if (got_size == want.size() && std::memcmp(got, want.data(), want.size()) == 0) {
    ++g_passed;
    return;
  }
  ++g_failed;
  std::printf("FAIL %s:\n  got  %s\n  want %s\n", what, Hex(got, got_size).c_str(),
              Hex(want.data(), want.size()).c_str());
}

// CRC32C one bit at a time: the definition.
uint32_t BitwiseCrc32c(const uint8_t* p, size_t n) {
  uint32_t r = 0xffffffffu;
  for (size_t i = 0; i < n; ++i) {
    r ^= p[i];
    for (int b = 0; b < 8; ++b) r = (r >> 1) ^ (0x82F63B78u & (0u - (r & 1u)));
  }
  return ~r;
}

uint64_t Be(const uint8_t* p, int n) {
  uint64_t v = 0;
  for (int i = 0; i < n; ++i) v = (v << 8) | p[i];
  return v;
}

const uint8_t* U8(const char* s) { return reinterpret_cast<const uint8_t*>(s); }

// ---- varints ---------------------------------------------------------------------------

void TestVarints() {
  struct Case {
    int64_t v;
    Bytes want;
  };
  const Case varints[] = {
      {0, {0x00}},
      {-1, {0x01}},
      {1, {0x02}},
      {63, {0x7e}},
      {-64, {0x7f}},
      {64, {0x80, 0x01}},
      {-65, {0x81, 0x01}},
      {300, {0xd8, 0x04}},
      {2147483647, {0xfe, 0xff, 0xff, 0xff, 0x0f}},
      {-2147483647 - 1, {0xff, 0xff, 0xff, 0xff, 0x0f}},
  };
  for (const Case& c : varints) {
    uint8_t buf[16];
    const uint8_t* end = core::WriteVarint(buf, static_cast<int32_t>(c.v));
    CheckBytes("varint", buf, static_cast<size_t>(end - buf), c.want);
    CHECK(core::SizeOfVarint(static_cast<int32_t>(c.v)) == c.want.size());
  }
  const Case varlongs[] = {
      {0, {0x00}},
      {-1, {0x01}},
      {1, {0x02}},
      {1700000000000, {0x80, 0xa0, 0xab, 0xfe, 0xf9, 0x62}},
      // 2^53 - 1 and -(2^53 - 1): timestamps and deltas a JavaScript number holds exactly.
      {9007199254740991, {0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x1f}},
      {-9007199254740991, {0xfd, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x1f}},
      {std::numeric_limits<int64_t>::max(),
       {0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}},
      {std::numeric_limits<int64_t>::min(),
       {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}},
  };
  for (const Case& c : varlongs) {
    uint8_t buf[16];
    const uint8_t* end = core::WriteVarlong(buf, c.v);
    CheckBytes("varlong", buf, static_cast<size_t>(end - buf), c.want);
    CHECK(core::SizeOfVarlong(c.v) == c.want.size());
  }
  // SizeOfUvarint agrees with what WriteUvarint writes at every bit length.
  bool sizes_ok = true;
  for (int bits = 0; bits < 64; ++bits) {
    for (uint64_t v : {uint64_t{1} << bits, (uint64_t{1} << bits) - 1, (uint64_t{1} << bits) + 1}) {
      uint8_t buf[16];
      sizes_ok &= core::SizeOfUvarint(v) == static_cast<size_t>(core::WriteUvarint(buf, v) - buf);
    }
  }
  CHECK(sizes_ok);
}

// ---- records -----------------------------------------------------------------------------

core::RecordView Record(const char* key, const char* value, const core::HeaderView* headers,
                        uint64_t header_count, int64_t timestamp) {
  core::RecordView r;
  r.key = U8(key);
  r.key_size = key ? static_cast<int64_t>(std::strlen(key)) : core::kNullLength;
  r.value = U8(value);
  r.value_size = value ? static_cast<int64_t>(std::strlen(value)) : core::kNullLength;
  r.headers = headers;
  r.header_count = header_count;
  r.timestamp = timestamp;
  return r;
}

Bytes EncodeOne(const core::RecordView& r, int32_t offset_delta, int64_t timestamp_delta) {
  const uint64_t body =
      core::RecordBodySize(core::RecordFixedBodySize(r), offset_delta, timestamp_delta);
  Bytes out(core::EncodedRecordSize(body) + 8, 0xee);
  const uint8_t* end = core::EncodeRecord(out.data(), r, body, offset_delta, timestamp_delta);
  const size_t written = static_cast<size_t>(end - out.data());
  CHECK(written == core::EncodedRecordSize(body));
  CHECK(out[written] == 0xee);  // nothing past the computed size
  out.resize(written);
  return out;
}

void TestRecords() {
  // Null key, null value, no headers, deltas 0: length 6, attributes 0, timestampDelta 0,
  // offsetDelta 0, keyLength -1, valueLength -1, headersCount 0.
  {
    const Bytes got = EncodeOne(Record(nullptr, nullptr, nullptr, 0, 0), 0, 0);
    CheckBytes("null record", got.data(), got.size(), {0x0c, 0x00, 0x00, 0x00, 0x01, 0x01, 0x00});
  }
  // key "k", value "v1", header h=x, timestampDelta 5, offsetDelta 2: body 13 bytes.
  {
    const core::HeaderView h[1] = {{U8("h"), 1, U8("x"), 1}};
    const Bytes got = EncodeOne(Record("k", "v1", h, 1, 0), 2, 5);
    CheckBytes(
        "record with a header", got.data(), got.size(),
        {0x1a, 0x00, 0x0a, 0x04, 0x02, 0x6b, 0x04, 0x76, 0x31, 0x02, 0x02, 0x68, 0x02, 0x78});
  }
  // Empty (not null) key and value, a null header value and a two-byte UTF-8 header key
  // ("é" = c3 a9), timestampDelta -1 (a record older than the batch's first).
  {
    const core::HeaderView h[2] = {{U8("\xc3\xa9"), 2, nullptr, core::kNullLength},
                                   {U8(""), 0, U8(""), 0}};
    const Bytes got = EncodeOne(Record("", "", h, 2, 0), 0, -1);
    CheckBytes("empty fields, null header value", got.data(), got.size(),
               {0x18, 0x00, 0x01, 0x00, 0x00, 0x00, 0x04, 0x04, 0xc3, 0xa9, 0x01, 0x00, 0x00});
  }
  // A large timestamp delta takes a long varlong; the length varint counts it.
  {
    const Bytes got = EncodeOne(Record(nullptr, "a", nullptr, 0, 0), 1, int64_t{1} << 40);
    CheckBytes("large timestamp delta", got.data(), got.size(),
               {0x18, 0x00, 0x80, 0x80, 0x80, 0x80, 0x80, 0x40, 0x02, 0x01, 0x02, 0x61, 0x00});
  }
  // A 200-byte value: two-byte value length (400 = 0x90 0x03) and two-byte record length.
  {
    std::string value(200, 'z');
    const Bytes got = EncodeOne(Record(nullptr, value.c_str(), nullptr, 0, 0), 0, 0);
    // body = 1 + 1 + 1 + 1 (null key) + 2 + 200 + 1 = 207 -> zig-zag 414 = 0x9e 0x03
    CHECK(got.size() == 2 + 207);
    CHECK(got[0] == 0x9e && got[1] == 0x03);
    CHECK(got[6] == 0x90 && got[7] == 0x03);
    CHECK(got.back() == 0x00);
  }
  // Sizes too large for a record are reported, not wrapped.
  {
    core::RecordView r = Record(nullptr, nullptr, nullptr, 0, 0);
    r.value_size = int64_t{3} << 30;  // never read: refused by size
    CHECK(core::RecordFixedBodySize(r) > core::kMaxRecordBody);
  }
}

// ---- batch header ------------------------------------------------------------------------

void TestBatch() {
  const core::RecordView records[2] = {Record(nullptr, nullptr, nullptr, 0, 1000),
                                       Record("k", "v", nullptr, 0, 990)};
  uint64_t bodies[2];
  uint64_t size = 0;
  CHECK(core::RecordBatchSize(records, 2, bodies, &size) == core::EncodeStatus::kOk);
  // record 0: 7 bytes (as "null record"); record 1: body 1 + 1 (delta -10 = 0x13) + 1 + 2 + 2
  // + 1 = 8, so 9 bytes.
  CHECK(size == 61 + 7 + 9);
  Bytes out(size);
  core::BatchInput input{0x0102030405060708, 0x0a0b, 7, true, 0};
  core::EncodeRecordBatch(records, 2, bodies, input, out.data(), out.size());
  const uint8_t* p = out.data();
  CHECK(Be(p, 8) == 0);                 // baseOffset
  CHECK(Be(p + 8, 4) == size - 12);     // batchLength
  CHECK(Be(p + 12, 4) == 0xffffffffu);  // partitionLeaderEpoch -1
  CHECK(p[16] == 2);                    // magic
  CHECK(Be(p + 17, 4) == BitwiseCrc32c(p + 21, size - 21));
  CHECK(Be(p + 21, 2) == 0x10);                 // attributes: transactional
  CHECK(Be(p + 23, 4) == 1);                    // lastOffsetDelta
  CHECK(Be(p + 27, 8) == 1000);                 // baseTimestamp: the first record's
  CHECK(Be(p + 35, 8) == 1000);                 // maxTimestamp: the largest
  CHECK(Be(p + 43, 8) == 0x0102030405060708u);  // producerId
  CHECK(Be(p + 51, 2) == 0x0a0b);               // producerEpoch
  CHECK(Be(p + 53, 4) == 7);                    // baseSequence
  CHECK(Be(p + 57, 4) == 2);                    // recordCount
  CheckBytes("batch records", p + 61, size - 61,
             {0x0c, 0x00, 0x00, 0x00, 0x01, 0x01, 0x00,                // offset 0, delta 0
              0x10, 0x00, 0x13, 0x02, 0x02, 0x6b, 0x02, 0x76, 0x00});  // offset 1, delta -10

  // Not idempotent: producer id / epoch / sequence -1, no flags.
  core::BatchInput plain{-1, -1, -1, false, 0};
  core::EncodeRecordBatch(records, 1, bodies, plain, out.data(), 61 + 7);
  CheckBytes("header, not idempotent", out.data() + 43, 14,
             {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff});
  CHECK(Be(out.data() + 21, 2) == 0);
  CHECK(Be(out.data() + 17, 4) == BitwiseCrc32c(out.data() + 21, 7 + 40));

  CHECK(core::RecordBatchSize(records, 0, bodies, &size) == core::EncodeStatus::kNoRecords);
}

// ---- accumulator -------------------------------------------------------------------------

// Records with their own storage, like the TS test's rec(i, size, ts).
struct Owned {
  std::string key;
  std::string value;
  bool has_key;
  std::vector<core::HeaderView> headers;
  core::RecordView view;
};

std::vector<Owned> MakeRecords(int n, size_t value_size, int64_t ts0 = 1700000000000) {
  std::vector<Owned> v(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) {
    Owned& o = v[static_cast<size_t>(i)];
    o.has_key = i % 2 == 1;
    o.key = "k" + std::to_string(i);
    o.value.assign(value_size, static_cast<char>(i & 0xff));
    if (i % 3 == 0) {
      o.headers.push_back({U8("h"), 1, U8("v"), 1});
      o.headers.push_back({U8("n"), 1, nullptr, core::kNullLength});
    }
  }
  for (int i = 0; i < n; ++i) {
    Owned& o = v[static_cast<size_t>(i)];
    o.view = core::RecordView{o.has_key ? U8(o.key.data()) : nullptr,
                              o.has_key ? static_cast<int64_t>(o.key.size()) : core::kNullLength,
                              U8(o.value.data()),
                              static_cast<int64_t>(o.value.size()),
                              o.headers.empty() ? nullptr : o.headers.data(),
                              o.headers.size(),
                              ts0 + i};
  }
  return v;
}

std::vector<core::RecordView> Views(const std::vector<Owned>& owned, size_t from = 0,
                                    size_t to = SIZE_MAX) {
  std::vector<core::RecordView> v;
  for (size_t i = from; i < owned.size() && i < to; ++i) v.push_back(owned[i].view);
  return v;
}

core::AccumulatorConfig Config(double batch_size = 1024, double linger = 50,
                               double memory = 1 << 20) {
  // max_batch_size 0: batch.size bounds every record (TestCallRunGrowsBatch sets it).
  return core::AccumulatorConfig{batch_size, linger, memory, 0, kafka_turbo::compress::kDefaultLevel, 0};
}

const core::DrainStamp kNoStamp{-1, -1, false, nullptr};

void Release(std::vector<core::DrainedBatch>* drained) {
  for (core::DrainedBatch& d : *drained) core::ReleaseBatchBytes(d.bytes, d.pool);
  drained->clear();
}

void TestAppendFillsBatches() {
  core::RecordAccumulator acc(Config(200));
  auto owned = MakeRecords(20, 20);
  auto views = Views(owned);
  size_t appended = 0;
  std::vector<core::AppendedRun> runs;
  CHECK(acc.Append(0, views.data(), views.size(), 1000, &appended, &runs) ==
        core::AppendStatus::kOk);
  CHECK(appended == 20);
  CHECK(runs.size() > 1);
  uint32_t total = 0;
  uint64_t expect_id = 1;  // ids start at 1 and go up by one per batch
  for (const auto& r : runs) {
    total += r.count;
    CHECK(r.batch_id == expect_id++);
  }
  CHECK(total == 20);
  // Every batch but the last is closed and within batch.size; drain all and check.
  std::vector<uint32_t> ready;
  double next = 0;
  acc.Ready(1000, false, &ready, &next);
  CHECK(ready.size() == 1 && ready[0] == 0);  // the first batch is full: ready before linger
  std::vector<core::DrainedBatch> drained;
  const uint32_t p0 = 0;
  while (acc.HasUndrained()) acc.Drain(&p0, 1, 1e18, kNoStamp, &drained);
  CHECK(drained.size() == runs.size());
  size_t at = 0;
  for (size_t i = 0; i < drained.size(); ++i) {
    CHECK(drained[i].batch_id == runs[i].batch_id);
    CHECK(static_cast<uint32_t>(drained[i].record_count) == runs[i].count);
    CHECK(drained[i].size <= 200 || drained[i].record_count == 1);
    // Each batch holds what the one-shot encoder makes of the same records.
    std::vector<uint64_t> bodies(runs[i].count);
    uint64_t size = 0;
    core::RecordBatchSize(views.data() + at, runs[i].count, bodies.data(), &size);
    Bytes one_shot(size);
    core::EncodeRecordBatch(views.data() + at, runs[i].count, bodies.data(),
                            core::BatchInput{-1, -1, -1, false, 0}, one_shot.data(), size);
    CheckBytes("drained == one-shot", drained[i].bytes, drained[i].size, one_shot);
    // A record more would have passed batch.size (what closed it), except the last batch.
    if (i + 1 < drained.size()) {
      const core::RecordView& next_record = views[at + runs[i].count];
      const uint64_t body =
          core::RecordBodySize(core::RecordFixedBodySize(next_record), drained[i].record_count,
                               next_record.timestamp - views[at].timestamp);
      CHECK(drained[i].size + core::EncodedRecordSize(body) > 200);
    }
    at += runs[i].count;
  }
  Release(&drained);
}

// One Append() call's run of records past batch.size grows its batch (realloc, several
// times here) up to max_batch_size instead of opening batches of batch.size; the batch is
// then byte for byte what the one-shot encoder makes, and closed to the next call's records.
void TestCallRunGrowsBatch() {
  core::AccumulatorConfig config = Config(200);
  config.max_batch_size = 4000;
  core::RecordAccumulator acc(config);
  auto owned = MakeRecords(60, 20);
  auto views = Views(owned);
  size_t appended = 0;
  std::vector<core::AppendedRun> runs;
  CHECK(acc.Append(0, views.data(), views.size(), 1000, &appended, &runs) ==
        core::AppendStatus::kOk);
  CHECK(appended == 60);
  CHECK(runs.size() == 1 && runs[0].count == 60);
  CHECK(acc.HeldBytes() >= 2000);  // the block grew past batch.size + 61
  std::vector<uint32_t> ready;
  double next = 0;
  acc.Ready(1000, false, &ready, &next);
  CHECK(ready.size() == 1);  // it ended the call past batch.size: full
  std::vector<core::AppendedRun> later;
  CHECK(acc.Append(0, views.data(), 1, 1000, &appended, &later) == core::AppendStatus::kOk);
  CHECK(later.size() == 1 && later[0].batch_id != runs[0].batch_id);
  std::vector<core::DrainedBatch> drained;
  const uint32_t p0 = 0;
  acc.Drain(&p0, 1, 1e18, kNoStamp, &drained);
  CHECK(drained.size() == 1 && drained[0].record_count == 60);
  std::vector<uint64_t> bodies(60);
  uint64_t size = 0;
  core::RecordBatchSize(views.data(), 60, bodies.data(), &size);
  CHECK(size > 200 && size <= 4000);
  Bytes one_shot(size);
  core::EncodeRecordBatch(views.data(), 60, bodies.data(), core::BatchInput{-1, -1, -1, false, 0},
                          one_shot.data(), size);
  CheckBytes("grown batch == one-shot", drained[0].bytes, drained[0].size, one_shot);
  Release(&drained);
  // Past max_batch_size the run opens the next batch; none is larger.
  core::RecordAccumulator small(config);
  auto many = MakeRecords(400, 20);
  auto many_views = Views(many);
  CHECK(small.Append(1, many_views.data(), many_views.size(), 0, &appended, &runs) ==
        core::AppendStatus::kOk);
  CHECK(appended == 400 && runs.size() > 1);
  const uint32_t p1 = 1;
  while (small.HasUndrained()) small.Drain(&p1, 1, 1e18, kNoStamp, &drained);
  CHECK(drained.size() == runs.size());
  for (const core::DrainedBatch& d : drained) CHECK(d.size <= 4000);
  Release(&drained);
}

// A blocked partition (SetBlocked) takes records one Append() call at a time past
// batch.size, up to max_batch_size, in one batch; let go, the batch closes (with a codec its
// compression starts then) and the next record opens a new one. Ids past the table grow it;
// kNoPartition is skipped; after Destroy() nothing happens.
void TestBlockedPartitionGrows() {
  core::AccumulatorConfig config = Config(200);
  config.max_batch_size = 4000;
  config.codec = 1;  // gzip: closing starts a compression job
  core::RecordAccumulator acc(config);
  auto owned = MakeRecords(61, 20);
  auto views = Views(owned);
  size_t appended = 0;
  std::vector<core::AppendedRun> runs;
  const uint32_t blocked[] = {0, 0, 5000, core::RecordAccumulator::kNoPartition};
  acc.SetBlocked(blocked, 4);
  uint64_t first = 0;
  for (size_t i = 0; i < 60; ++i) {
    CHECK(acc.Append(0, views.data() + i, 1, 1000, &appended, &runs) == core::AppendStatus::kOk);
    CHECK(appended == 1 && runs.size() == 1);
    if (i == 0) first = runs[0].batch_id;
    CHECK(runs[0].batch_id == first);
  }
  CHECK(acc.HeldBytes() >= 2000);
  std::vector<uint32_t> ready;
  double next = 0;
  acc.Ready(1000, false, &ready, &next);
  CHECK(ready.size() == 1 && ready[0] == 0);  // past batch.size: ready, blocked or not
  acc.SetBlocked(nullptr, 0);
  CHECK(acc.Append(0, views.data() + 60, 1, 1000, &appended, &runs) == core::AppendStatus::kOk);
  CHECK(runs.size() == 1 && runs[0].batch_id != first);
  std::vector<core::DrainedBatch> drained;
  const uint32_t p0 = 0;
  while (acc.HasUndrained()) acc.Drain(&p0, 1, 1e18, kNoStamp, &drained);
  CHECK(drained.size() == 2 && drained[0].record_count == 60 && drained[1].record_count == 1);
  std::vector<core::BatchResult> done;
  for (const core::DrainedBatch& d : drained) done.push_back(core::BatchResult{d.batch_id, true});
  acc.Complete(done.data(), done.size());
  CHECK(acc.Stats().buffered_bytes == 0 && acc.Stats().records_completed == 61);
  Release(&drained);
  acc.SetBlocked(blocked, 4);
  std::vector<core::RemovedBatch> removed;
  acc.Destroy(&removed);
  acc.SetBlocked(blocked, 4);
}

void TestLargeRecordAndLinger() {
  core::RecordAccumulator acc(Config(100, 50));
  auto owned = MakeRecords(3, 500);
  auto views = Views(owned);
  size_t appended = 0;
  std::vector<core::AppendedRun> runs;
  // Each 500-byte record is larger than batch.size: each gets a batch of its own.
  acc.Append(3, views.data(), 3, 1000, &appended, &runs);
  CHECK(appended == 3 && runs.size() == 3);
  std::vector<uint32_t> ready;
  double next = 0;
  acc.Ready(1000, false, &ready, &next);
  CHECK(ready.size() == 1 && std::isinf(next));

  core::RecordAccumulator lone(Config(1024, 50));
  auto small = MakeRecords(1, 10);
  lone.Append(3, &small[0].view, 1, 1000, &appended, &runs);
  lone.Ready(1010, false, &ready, &next);
  CHECK(ready.empty() && next == 40);
  lone.Ready(1010, true, &ready, &next);
  CHECK(ready.size() == 1 && ready[0] == 3);
  lone.Ready(1050, false, &ready, &next);
  CHECK(ready.size() == 1 && std::isinf(next));
  // Fractional batch.size compares as a JavaScript number does.
  core::RecordAccumulator frac(Config(61 + 7 + 0.5, 50));
  auto nulls = std::vector<core::RecordView>(2, Record(nullptr, nullptr, nullptr, 0, 0));
  frac.Append(0, nulls.data(), 2, 0, &appended, &runs);
  CHECK(runs.size() == 2);  // 68 <= 68.5: the first fits; 68 >= 68.5 is false: not full;
                            // 68 + 7 > 68.5: the second opens a new batch
}

void TestDrainOrderAndStamp() {
  core::RecordAccumulator acc(Config(100));
  auto owned = MakeRecords(4, 500);
  size_t appended = 0;
  std::vector<core::AppendedRun> runs;
  for (uint32_t p = 0; p < 4; ++p) acc.Append(p, &owned[p].view, 1, 0, &appended, &runs);
  const uint32_t all[4] = {0, 1, 2, 3};
  std::vector<core::DrainedBatch> drained;
  acc.Drain(all, 4, 10, kNoStamp, &drained);  // the first is always taken, then maxBytes stops
  CHECK(drained.size() == 1 && drained[0].partition == 0);
  // Partitions without batches (7, kNoPartition) are skipped but keep their sequence slots.
  const uint32_t rest[5] = {7, 1, core::RecordAccumulator::kNoPartition, 2, 3};
  const int32_t sequences[5] = {100, 101, 102, 103, 104};
  core::DrainStamp stamp{4242, 3, true, sequences};
  acc.Drain(rest, 5, 1e18, stamp, &drained);
  CHECK(drained.size() == 4);
  CHECK(drained[1].partition == 1 && drained[2].partition == 2 && drained[3].partition == 3);
  CHECK(Be(drained[1].bytes + 53, 4) == 101);
  CHECK(Be(drained[2].bytes + 53, 4) == 103);
  CHECK(Be(drained[3].bytes + 53, 4) == 104);
  CHECK(Be(drained[3].bytes + 43, 8) == 4242 && Be(drained[3].bytes + 51, 2) == 3);
  CHECK(Be(drained[3].bytes + 21, 2) == 0x10);
  CHECK(Be(drained[3].bytes + 17, 4) == BitwiseCrc32c(drained[3].bytes + 21, drained[3].size - 21));
  CHECK(Be(drained[0].bytes + 53, 4) == 0xffffffffu);
  CHECK(!acc.HasUndrained());
  Release(&drained);
}

void TestMemory() {
  core::RecordAccumulator acc(Config(1000, 50, 3000));
  auto owned = MakeRecords(10, 900);
  auto views = Views(owned);
  size_t appended = 0;
  std::vector<core::AppendedRun> runs;
  acc.Append(0, views.data(), 10, 0, &appended, &runs);
  // Each 900-byte record fills a batch of its own (61 + ~907 bytes): three fit in 3000.
  CHECK(appended == 3);
  const core::AccumulatorStats s = acc.Stats();
  CHECK(s.buffered_bytes <= 3000 && s.undrained_batches == 3);
  std::vector<core::DrainedBatch> drained;
  const uint32_t p0 = 0;
  while (acc.HasUndrained()) acc.Drain(&p0, 1, 1e18, kNoStamp, &drained);
  uint64_t sum = 0;
  for (const auto& d : drained) sum += d.size;
  CHECK(drained.size() == 3 && sum == s.buffered_bytes);  // 61 per batch + encoded records
  // Drained batches still count until complete().
  CHECK(acc.Stats().buffered_bytes == sum);
  acc.Append(0, views.data() + 3, 7, 0, &appended, &runs);
  CHECK(appended == 0);
  std::vector<core::BatchResult> results;
  results.push_back({drained[0].batch_id, false});  // errorCode != 0: failed
  for (size_t i = 1; i < drained.size(); ++i) results.push_back({drained[i].batch_id, true});
  results.push_back({999, false});  // unknown ids are ignored
  acc.Complete(results.data(), results.size());
  acc.Complete(results.data(), results.size());  // and completing twice counts once
  CHECK(acc.Stats().records_completed == 2 && acc.Stats().records_failed == 1);
  CHECK(acc.Stats().buffered_bytes == 0);
  acc.Append(0, views.data() + 3, 7, 0, &appended, &runs);
  CHECK(appended == 3);
  Release(&drained);

  // When nothing is buffered a record larger than buffer.memory is still taken, alone.
  core::RecordAccumulator tiny(Config(1 << 20, 0, 100));
  tiny.Append(0, views.data(), 2, 0, &appended, &runs);
  CHECK(appended == 1);
  CHECK(tiny.Stats().buffered_bytes > 100);
  // A record whose body cannot be encoded is refused before anything changes.
  core::RecordView huge = Record(nullptr, nullptr, nullptr, 0, 0);
  huge.value_size = int64_t{3} << 30;  // never read
  CHECK(tiny.Append(1, &huge, 1, 0, &appended, &runs) == core::AppendStatus::kRecordTooLarge);
  CHECK(appended == 0 && tiny.Stats().undrained_batches == 1);
}

void TestExpireAbortOrder() {
  core::RecordAccumulator acc(Config(100));
  auto owned = MakeRecords(10, 200);
  size_t appended = 0;
  std::vector<core::AppendedRun> runs;
  acc.Append(0, &owned[0].view, 1, 100, &appended, &runs);
  acc.Append(1, &owned[1].view, 1, 200, &appended, &runs);
  std::vector<core::RemovedBatch> removed;
  acc.Expire(150, &removed);
  CHECK(removed.size() == 1 && removed[0].partition == 0 && removed[0].batch_id == 1);
  removed.clear();
  acc.AbortAll(&removed);
  CHECK(removed.size() == 1 && removed[0].partition == 1 && removed[0].record_count == 1);
  CHECK(!acc.HasUndrained());
  CHECK(acc.Stats().buffered_bytes == 0 && acc.Stats().records_failed == 2);

  // Non-empty order: a partition that empties and fills again goes to the back, as in a
  // JavaScript Set (delete, then add).
  core::RecordAccumulator order(Config(100, 1000));
  for (uint32_t p : {5u, 2u, 9u}) order.Append(p, &owned[p].view, 1, 10, &appended, &runs);
  std::vector<core::DrainedBatch> drained;
  const uint32_t two = 2;
  order.Drain(&two, 1, 1e18, kNoStamp, &drained);
  order.Append(2, &owned[2].view, 1, 20, &appended, &runs);
  order.Append(5, &owned[5].view, 1, 30, &appended, &runs);  // 5 still listed: keeps its place
  std::vector<uint32_t> ready;
  double next = 0;
  order.Ready(0, true, &ready, &next);
  CHECK((ready == std::vector<uint32_t>{5, 9, 2}));
  // Expire: oldest first per partition, partitions in that order.
  removed.clear();
  order.Expire(25, &removed);
  CHECK(removed.size() == 3);
  CHECK(removed[0].partition == 5 && removed[1].partition == 9 && removed[2].partition == 2);
  order.Ready(0, true, &ready, &next);
  CHECK((ready == std::vector<uint32_t>{5}));  // partition 5's second batch (created at 30)
  Release(&drained);
}

void TestPoolOutlivesAccumulator() {
  // Drained bytes stay valid after their accumulator is gone, and go back (to a closed pool:
  // freed) when released; ASan reports any leak or use after free.
  std::vector<core::DrainedBatch> drained;
  {
    core::RecordAccumulator acc(Config(1024));
    auto owned = MakeRecords(50, 100);
    auto views = Views(owned);
    size_t appended = 0;
    std::vector<core::AppendedRun> runs;
    acc.Append(0, views.data(), views.size(), 0, &appended, &runs);
    const uint32_t p0 = 0;
    while (acc.HasUndrained()) acc.Drain(&p0, 1, 1e18, kNoStamp, &drained);
    // and one undrained batch left for the destructor
    acc.Append(0, views.data(), 1, 0, &appended, &runs);
  }
  bool crc_ok = true;
  for (const auto& d : drained) {
    crc_ok &= Be(d.bytes + 17, 4) == BitwiseCrc32c(d.bytes + 21, d.size - 21);
  }
  CHECK(crc_ok && drained.size() > 1);
  Release(&drained);
  // Recycled blocks: many rounds reuse pooled memory (no growth; ASan checks the rest).
  core::RecordAccumulator acc(Config(4096));
  auto owned = MakeRecords(200, 100);
  auto views = Views(owned);
  for (int round = 0; round < 50; ++round) {
    size_t appended = 0;
    std::vector<core::AppendedRun> runs;
    acc.Append(static_cast<uint32_t>(round % 3), views.data(), views.size(), round, &appended,
               &runs);
    const uint32_t ps[3] = {0, 1, 2};
    while (acc.HasUndrained()) acc.Drain(ps, 3, 1e18, kNoStamp, &drained);
    std::vector<core::BatchResult> results;
    for (const auto& d : drained) results.push_back({d.batch_id, round % 2 == 0});
    acc.Complete(results.data(), results.size());
    Release(&drained);
  }
  CHECK(acc.Stats().buffered_bytes == 0);
  CHECK(acc.Stats().records_completed + acc.Stats().records_failed == 50 * 200);
}

// Waits until the compression pool runs and queues nothing (jobs that earlier accumulators
// handed off finish in their own time: seconds under ASan on a loaded machine). The bound is
// only for a stuck pool.
bool WaitPoolIdle(core::CompressPool& pool) {
  for (int i = 0; i < 12000 && !pool.IdleForTest(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return pool.IdleForTest();
}

// With a codec, closed batches are compressed on the worker thread while appends go on; a
// drained batch carries the codec bits, a CRC over the compressed bytes, and decompresses
// to what the uncompressed accumulator holds. Batches removed with jobs pending are safe.
void TestCompressionOffThread() {
  namespace compress = kafka_turbo::compress;
  for (int codec = 1; codec <= 4; ++codec) {
    core::AccumulatorConfig config = Config(4096, 1e9, 1 << 24);
    config.codec = static_cast<uint16_t>(codec);
    core::RecordAccumulator packed(config);
    core::RecordAccumulator plain(Config(4096, 1e9, 1 << 24));
    auto owned = MakeRecords(400, 60);
    auto views = Views(owned);
    size_t appended = 0;
    std::vector<core::AppendedRun> runs;
    core::CompressPool& compress_pool = core::CompressPool::Get();
    CHECK(packed.Append(0, views.data(), views.size(), 0, &appended, &runs) == core::AppendStatus::kOk);
    CHECK(plain.Append(0, views.data(), views.size(), 0, &appended, &runs) == core::AppendStatus::kOk);
    const size_t closed = runs.size() - 1;  // every batch but the last closed while appending
    // Give the pool time: all closed batches get compressed off this thread. Waiting for the
    // pool to go idle, not for ran() to move by `closed`: jobs that an earlier accumulator
    // handed off move ran() too, and the loop then ended before these were all done.
    CHECK(WaitPoolIdle(compress_pool));
    std::vector<core::DrainedBatch> a;
    std::vector<core::DrainedBatch> b;
    const uint32_t p0 = 0;
    while (packed.HasUndrained()) packed.Drain(&p0, 1, 1e18, kNoStamp, &a);
    while (plain.HasUndrained()) plain.Drain(&p0, 1, 1e18, kNoStamp, &b);
    CHECK(packed.CompressedOffThread() == closed);
    CHECK(compress_pool.threads() >= 1 && compress_pool.threads() <= compress_pool.capacity());
    CHECK(a.size() == b.size());
    for (size_t i = 0; i < a.size() && i < b.size(); ++i) {
      const uint8_t* p = a[i].bytes;
      const uint16_t attributes = static_cast<uint16_t>((p[21] << 8) | p[22]);
      CHECK((attributes & 7) == codec);
      CHECK(a[i].size < b[i].size);
      const uint32_t stored = (uint32_t{p[17]} << 24) | (uint32_t{p[18]} << 16) | (uint32_t{p[19]} << 8) | p[20];
      CHECK(stored == BitwiseCrc32c(p + 21, a[i].size - 21));
      std::vector<uint8_t> records;
      std::string err;
      CHECK(compress::Decompress(static_cast<compress::CodecId>(codec), p + 61, a[i].size - 61, &records, &err));
      CHECK(records.size() == b[i].size - 61 && std::memcmp(records.data(), b[i].bytes + 61, records.size()) == 0);
    }
    // Buffer memory is what was appended, uncompressed, until complete().
    CHECK(packed.Stats().buffered_bytes == plain.Stats().buffered_bytes);
    Release(&a);
    Release(&b);
    // Jobs still pending when batches are expired, aborted, or the accumulator goes away.
    {
      core::RecordAccumulator acc(config);
      acc.Append(0, views.data(), views.size(), 0, &appended, &runs);
      acc.Append(1, views.data(), views.size(), 10, &appended, &runs);
      std::vector<core::RemovedBatch> removed;
      acc.Expire(5, &removed);
      CHECK(!removed.empty());
      acc.Append(2, views.data(), views.size(), 20, &appended, &runs);
    }
  }
}

// A small batch in a large block is shrunk before it goes out (realloc). Wherever the
// allocator puts the shrunk block (ASan and valgrind always move it), the drained bytes must
// be that block, intact, with and without a codec that leaves the batch uncompressed.
void TestShrunkBatchesStayValid() {
  for (uint16_t codec : {uint16_t{0}, uint16_t{1}}) {
    core::AccumulatorConfig config = Config(65536, 0, 1 << 22);
    config.codec = codec;
    core::RecordAccumulator acc(config);
    auto owned = MakeRecords(3, 5);
    auto views = Views(owned);
    size_t appended = 0;
    std::vector<core::AppendedRun> runs;
    acc.Append(0, views.data(), views.size(), 0, &appended, &runs);
    std::vector<core::DrainedBatch> drained;
    const uint32_t p0 = 0;
    acc.Drain(&p0, 1, 1e18, kNoStamp, &drained);
    CHECK(drained.size() == 1);
    const uint8_t* p = drained[0].bytes;
    const uint32_t stored = (uint32_t{p[17]} << 24) | (uint32_t{p[18]} << 16) | (uint32_t{p[19]} << 8) | p[20];
    CHECK(stored == BitwiseCrc32c(p + 21, drained[0].size - 21));
    Release(&drained);
  }
}


// Two accumulators on one MemoryBudget count against one limit; what one gives back (complete,
// abort, destruction) the other can use.
void TestSharedBudget() {
  auto* budget = new core::MemoryBudget(20000);
  {
    core::RecordAccumulator a(Config(4096, 0, 1e12), budget);
    core::RecordAccumulator b(Config(4096, 0, 1e12), budget);
    auto owned = MakeRecords(100, 500);
    auto views = Views(owned);
    size_t taken_a = 0;
    size_t taken_b = 0;
    std::vector<core::AppendedRun> runs;
    a.Append(0, views.data(), 20, 0, &taken_a, &runs);
    b.Append(0, views.data(), views.size(), 0, &taken_b, &runs);
    CHECK(taken_a == 20);
    CHECK(taken_b > 0 && taken_b < 25);
    CHECK(budget->used() == a.Stats().buffered_bytes + b.Stats().buffered_bytes);
    CHECK(budget->used() <= 20000);
    std::vector<core::DrainedBatch> drained;
    const uint32_t p0 = 0;
    while (a.HasUndrained()) a.Drain(&p0, 1, 1e18, kNoStamp, &drained);
    size_t more = 0;
    b.Append(1, views.data(), 1, 0, &more, &runs);
    CHECK(more == 0);  // drained batches still count
    std::vector<core::BatchResult> results;
    for (const auto& d : drained) results.push_back(core::BatchResult{d.batch_id, true});
    a.Complete(results.data(), results.size());
    b.Append(1, views.data(), views.size(), 0, &more, &runs);
    CHECK(more >= 19);
    Release(&drained);
    // a goes away with nothing; b's destruction gives its bytes back.
  }
  CHECK(budget->used() == 0);
  budget->Unref();
}

// Destroy(): removes every undrained batch (reported like AbortAll), forgets drained ones not
// completed (their bytes leave the budget), frees the block pool at once; HeldBytes() is what
// the binding reports to V8 and must come back to 0.
void TestDestroy() {
  for (uint16_t codec : {uint16_t{0}, uint16_t{4}}) {
    auto* budget = new core::MemoryBudget(1e12);
    core::AccumulatorConfig config = Config(16384, 1e9, 1e12);
    config.codec = codec;
    core::RecordAccumulator acc(config, budget);
    CHECK(acc.HeldBytes() == 0);
    auto owned = MakeRecords(400, 200);
    auto views = Views(owned);
    size_t appended = 0;
    std::vector<core::AppendedRun> runs;
    acc.Append(0, views.data(), views.size(), 0, &appended, &runs);
    acc.Append(1, views.data(), views.size(), 0, &appended, &runs);
    CHECK(acc.HeldBytes() >= 2 * 400 * 200);
    std::vector<core::DrainedBatch> drained;
    const uint32_t p0 = 0;
    acc.Drain(&p0, 1, 1e18, kNoStamp, &drained);
    std::vector<core::BatchResult> results{{drained[0].batch_id, true}};
    acc.Complete(results.data(), 1);
    Release(&drained);  // its block goes back to the pool: kept, so still held
    acc.Drain(&p0, 1, 1e18, kNoStamp, &drained);  // in flight at destroy
    const uint64_t undrained = acc.Stats().undrained_batches;
    std::vector<core::RemovedBatch> removed;
    acc.Destroy(&removed);
    CHECK(removed.size() == undrained && undrained > 0);
    CHECK(acc.HeldBytes() == 0);
    CHECK(acc.Stats().buffered_bytes == 0);
    CHECK(budget->used() == 0);
    CHECK(acc.destroyed());
    Release(&drained);  // a block drained before destroy comes back to a closed pool: freed
    CHECK(acc.HeldBytes() == 0);
    budget->Unref();
  }
}

// The idle block pool empties: blocks no append needed for a whole period are freed.
void TestIdlePoolShrinks() {
  core::RecordAccumulator acc(Config(4096, 0, 1e12));
  auto owned = MakeRecords(200, 100);
  auto views = Views(owned);
  size_t appended = 0;
  std::vector<core::AppendedRun> runs;
  acc.Append(0, views.data(), views.size(), 0, &appended, &runs);
  std::vector<core::DrainedBatch> drained;
  const uint32_t p0 = 0;
  while (acc.HasUndrained()) acc.Drain(&p0, 1, 1e18, kNoStamp, &drained);
  Release(&drained);  // full blocks back to the pool
  const uint64_t kept = acc.HeldBytes();
  CHECK(kept > 0);
  std::vector<uint32_t> ready;
  double next = 0;
  acc.Ready(500, false, &ready, &next);
  CHECK(acc.HeldBytes() == kept);  // within the first period
  acc.Ready(1100, false, &ready, &next);
  acc.Ready(2200, false, &ready, &next);  // a whole period with no block taken
  CHECK(acc.HeldBytes() == 0);
}

// One pool of compression threads for every accumulator: 200 compressing accumulators leave
// no more threads than the pool's capacity; with thread creation refused, batches are still
// compressed (on this thread).
void TestCompressPoolBounded() {
  core::CompressPool& pool = core::CompressPool::Get();
  auto owned = MakeRecords(200, 200);
  auto views = Views(owned);
  for (int i = 0; i < 200; ++i) {
    core::AccumulatorConfig config = Config(4096, 0, 1e12);
    config.codec = static_cast<uint16_t>(1 + i % 4);
    core::RecordAccumulator acc(config);
    size_t appended = 0;
    std::vector<core::AppendedRun> runs;
    acc.Append(0, views.data(), views.size(), 0, &appended, &runs);
    if (i % 2 == 0) {
      std::vector<core::DrainedBatch> drained;
      const uint32_t p0 = 0;
      while (acc.HasUndrained()) acc.Drain(&p0, 1, 1e18, kNoStamp, &drained);
      Release(&drained);
    }
  }
  CHECK(pool.threads() >= 1 && pool.threads() <= pool.capacity());
  CHECK(pool.capacity() <= core::CompressPool::kMaxThreads);
}

void TestCompressWithoutThreads() {
  namespace compress = kafka_turbo::compress;
  core::CompressPool& pool = core::CompressPool::Get();
  CHECK(WaitPoolIdle(pool));
  const size_t threads = pool.threads();
  const uint64_t ran = pool.ran();
  pool.RefuseThreadsForTest(true);
  core::AccumulatorConfig config = Config(4096, 0, 1e12);
  config.codec = 1;
  core::RecordAccumulator acc(config);
  auto owned = MakeRecords(200, 200);
  auto views = Views(owned);
  size_t appended = 0;
  std::vector<core::AppendedRun> runs;
  acc.Append(0, views.data(), views.size(), 0, &appended, &runs);
  std::vector<core::DrainedBatch> drained;
  const uint32_t p0 = 0;
  while (acc.HasUndrained()) acc.Drain(&p0, 1, 1e18, kNoStamp, &drained);
  CHECK(!drained.empty());
  bool all_gzip = true;
  for (const auto& d : drained) {
    std::vector<uint8_t> records;
    std::string err;
    all_gzip &= (d.bytes[22] & 7) == 1 &&
                compress::Decompress(compress::CodecId::kGzip, d.bytes + 61, d.size - 61, &records, &err);
  }
  CHECK(all_gzip);
  CHECK(pool.threads() == threads);  // none started while refused
  CHECK(pool.ran() == ran && acc.CompressedOffThread() == 0);  // all of it on this thread
  Release(&drained);
  pool.RefuseThreadsForTest(false);
}

// Destroying an accumulator while a pool thread runs a long job (zstd 19 over 512 KiB; the
// issue saw 892 ms with 4 MiB) does not
// wait for it: the job is handed off and frees its batch when done (ASan: no leak, no use
// after free).
void TestDestroyDoesNotWaitForRunningJob() {
  core::CompressPool& pool = core::CompressPool::Get();
  core::AccumulatorConfig config = Config(256 << 10, 1e9, 1e12);
  config.codec = 4;
  config.compression_level = 19;
  auto owned = MakeRecords(1, 512 << 10);
  // Text-like (words picked at random): zstd 19 works hard on it (a second or more here).
  static const char* const kWords[] = {"alpha ", "beta ", "gamma ", "delta ", "{\"id\": ", "42, ", "event", "\n", "click ", "view "};
  uint64_t x = 88172645463325252ull;
  for (size_t i = 0; i < owned[0].value.size();) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    for (const char* w = kWords[x % 10]; *w != 0 && i < owned[0].value.size(); ++w) owned[0].value[i++] = *w;
  }
  auto views = Views(owned);
  auto small = MakeRecords(1, 10);
  auto small_views = Views(small);
  core::RecordAccumulator acc(config);
  size_t appended = 0;
  std::vector<core::AppendedRun> runs;
  CHECK(WaitPoolIdle(pool));
  const uint64_t started_before = pool.started();
  acc.Append(0, views.data(), 1, 0, &appended, &runs);
  acc.Append(0, small_views.data(), 1, 0, &appended, &runs);  // closes the big batch: submitted
  const uint64_t ran = pool.ran();
  // Wait until a pool thread has picked it up (the job itself takes about a second here, so
  // Destroy() finds it running). A fixed sleep is not enough on a loaded CI machine: a pool
  // thread that had not started yet left the job queued, Destroy() took it back, and it never
  // ran. The bound is only for a stuck pool.
  for (int i = 0; i < 6000 && pool.started() - started_before < 1; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  CHECK(pool.started() - started_before == 1);
  CHECK(pool.ran() == ran);  // still running: the test means something only if it is
  std::vector<core::RemovedBatch> removed;
  acc.Destroy(&removed);
  CHECK(removed.size() == 2);
  // Had Destroy() waited for the job, the pool would have finished it by now.
  CHECK(pool.ran() == ran);
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < 3000 && pool.ran() == ran; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  std::printf("a zstd 19 job over 512 KiB finished %lld ms after Destroy() returned\n",
              static_cast<long long>(std::chrono::duration_cast<std::chrono::milliseconds>(
                  std::chrono::steady_clock::now() - t0).count()));
  CHECK(pool.ran() == ran + 1);  // and it did finish, on its own
}

}  // namespace

int main() {
  TestVarints();
  TestRecords();
  TestBatch();
  TestAppendFillsBatches();
  TestCallRunGrowsBatch();
  TestBlockedPartitionGrows();
  TestLargeRecordAndLinger();
  TestDrainOrderAndStamp();
  TestMemory();
  TestExpireAbortOrder();
  TestPoolOutlivesAccumulator();
  TestCompressionOffThread();
  TestShrunkBatchesStayValid();
  TestSharedBudget();
  TestDestroy();
  TestIdlePoolShrinks();
  TestCompressPoolBounded();
  TestCompressWithoutThreads();
  TestDestroyDoesNotWaitForRunningJob();
  std::printf("%d passed, %d failed\n", g_passed, g_failed);
  return g_failed == 0 ? 0 : 1;
}
