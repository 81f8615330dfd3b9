// The native RecordAccumulator: per-partition queues of open record batches in native
// memory, with exactly the semantics of the TypeScript fallback
// (ts/backend/fallback/accumulator.ts), which the contract tests
// (test/unit/backend/accumulator.test.ts) and the parity suite hold both to:
//
//  - Records are encoded (record batch v2 record format) into the last open batch of their
//    partition as they are appended, after a 61-byte gap where drain() writes the header.
//    A batch's size (header included) is therefore known exactly at all times.
//  - A record that would take a non-empty batch past its bound closes it and opens a new
//    one; a batch always takes its first record, however large. The bound is batch.size for
//    the first record of an Append() call and max_batch_size for the records after it, so a
//    call's run of records to a partition stays one batch up to max.request.size (issue 16:
//    the brokers' cost is per batch). A batch that ends a call at batch.size or more is full.
//    Its block grows (realloc) past batch.size + 61 when the run needs it.
//  - buffer.memory counts each record's encoded bytes plus 61 per batch, from append()
//    until complete() (drained batches still count: the sender may retry them). A record
//    that does not fit stops the append; when nothing is buffered a record is still taken.
//  - Partitions with undrained batches are kept in the order they last became non-empty
//    (the fallback's Set insertion order), which is the order ready(), expire() and
//    abortAll() report them in.
//
// Plain C++: no napi.h. Single-threaded: every method runs on the caller's thread and the
// object is not shared (@thread JS in the addon: one accumulator per producer, on the JS
// thread of its environment).
#ifndef KAFKA_TURBO_CORE_ACCUMULATOR_H_
#define KAFKA_TURBO_CORE_ACCUMULATOR_H_

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <unordered_map>

#include "../compress/codecs.h"
#include "compress_worker.h"
#include <vector>

#include "record_batch.h"

namespace kafka_turbo {
namespace core {

struct AccumulatorConfig {
  // batch.size: bytes (header included) past which a batch takes no more records.
  // 0 <= batch_size <= kMaxBatchSize - kLogOverhead - kRecordBatchOverhead (the binding
  // checks). A number, as in JavaScript: a fraction compares as it does there.
  double batch_size;
  // linger.ms: how long a batch that is not full waits before it is ready.
  double linger_ms;
  // buffer.memory: bytes of batches (encoded records + headers) held until complete().
  // >= 0, +infinity allowed.
  double buffer_memory;
  // The codec batches are compressed with at drain (attributes bits 0..2; 0: none). A batch
  // is kept compressed only when that makes it smaller, else it goes out with bits 0.
  uint16_t codec;
  // The codec's level, as compress::ResolveLevel takes it (compress::kDefaultLevel: default).
  int compression_level;
  // How far the records of one Append() call after its first may grow a batch (bytes, header
  // included). Below batch_size (0 when left out of an initializer) it means batch_size.
  double max_batch_size;
};

// Where the records of one append() went: `count` records into batch `batch_id`.
struct AppendedRun {
  uint64_t batch_id;
  uint32_t count;
};

// The producer state stamped into batches at drain.
struct DrainStamp {
  int64_t producer_id;
  int16_t producer_epoch;
  bool transactional;
  // base_sequences[i] is the sequence for partitions[i]'s batch; null means -1 for all.
  const int32_t* base_sequences;
};

// Recycles the memory of batches of the usual capacity (batch.size + 61). Drained batches
// live on as JavaScript Buffers until the garbage collector frees them, often thousands at
// once; giving that memory straight back to malloc lets it trim the heap, and the next
// batches then pay a page fault per 4 KiB all over again (most of the time of an append +
// drain loop, measured). Kept blocks are bounded by bytes.
//
// Reference-counted: the accumulator holds one reference and every drained batch whose
// memory came from here holds one, so the pool outlives the accumulator until the last such
// Buffer is collected. Not thread-safe: Buffers are finalized on their environment's JS
// thread, the same thread that runs the accumulator.
class BatchBufferPool {
 public:
  BatchBufferPool(size_t block_size, size_t max_kept_bytes);
  BatchBufferPool(const BatchBufferPool&) = delete;
  BatchBufferPool& operator=(const BatchBufferPool&) = delete;

  size_t block_size() const { return block_size_; }
  // A block of block_size() bytes (recycled, or new from malloc), or null when malloc fails.
  uint8_t* Take();
  // A block from Take() comes back: kept for reuse, or freed when the pool is full or closed.
  void Give(uint8_t* block);
  // Frees the blocks that no Take() needed for a whole period (kTrimPeriodMs) before
  // now_ms: an idle producer's pool empties, a busy one keeps what it uses.
  void Trim(double now_ms);
  // Bytes of the blocks kept for reuse.
  size_t kept_bytes() const { return kept_.size() * block_size_; }
  // The accumulator is gone: free the kept blocks, and free blocks that come back later.
  void Close();
  void Ref() { ++refs_; }
  // Drops a reference; the last one deletes the pool.
  void Unref();

 private:
  ~BatchBufferPool();

  static constexpr double kTrimPeriodMs = 1000;

  std::vector<uint8_t*> kept_;
  const size_t block_size_;
  const size_t max_kept_;
  // The fewest blocks kept at any moment since period_start_ms_: that many were not needed.
  size_t low_water_ = 0;
  double period_start_ms_ = -1e300;
  int refs_ = 1;
  bool closed_ = false;
};

// buffer.memory for a whole producer: the bytes every accumulator created with it holds
// (encoded records + batch headers, from append until complete), against one limit. KafkaJS
// lets each send() pick acks, timeout and codec, and each combination is an accumulator of
// its own (a lane); the Java producer bounds all of its batches with one BufferPool, and so
// do we. An accumulator created without one gets its own, sized from its config.
//
// Reference-counted (the JS object that stands for it and every accumulator using it hold
// one). Not thread-safe: every accumulator of one producer runs on its JS thread.
class MemoryBudget {
 public:
  // total: bytes, >= 0, +infinity allowed (as buffer.memory).
  explicit MemoryBudget(double total);
  MemoryBudget(const MemoryBudget&) = delete;
  MemoryBudget& operator=(const MemoryBudget&) = delete;

  double total() const { return total_; }
  uint64_t used() const { return used_; }
  // Whether `bytes` more would take the total used past the limit.
  bool WouldPass(uint64_t bytes) const { return used_ + bytes > over_; }
  // Bytes left under the limit (0 when it is used up), as a number: +infinity stays so.
  double Available() const;
  void Charge(uint64_t bytes) { used_ += bytes; }
  void Credit(uint64_t bytes) { used_ -= bytes; }
  void Ref() { ++refs_; }
  // Drops a reference; the last one deletes the budget.
  void Unref();

 private:
  ~MemoryBudget() = default;

  const double total_;
  // n > total <=> n > over_ (integer byte counts against a number that may be fractional).
  const uint64_t over_;
  uint64_t used_ = 0;
  int refs_ = 1;
};

// A drained batch. `bytes` is the whole record batch v2 (size bytes, CRC included). The
// caller owns it and hands it back with ReleaseBatchBytes(bytes, pool) when done.
struct DrainedBatch {
  uint64_t batch_id;
  uint32_t partition;
  int32_t record_count;
  double created_ms;
  uint8_t* bytes;
  size_t size;
  // The pool the memory goes back to (holding a reference for this batch), or null: malloc.
  BatchBufferPool* pool;
};

// A batch removed without being drained (expired or aborted).
struct RemovedBatch {
  uint64_t batch_id;
  uint32_t partition;
  int32_t record_count;
};

struct BatchResult {
  uint64_t batch_id;  // 0 never matches a batch (ids start at 1)
  bool ok;            // errorCode 0
};

struct AccumulatorStats {
  uint64_t buffered_bytes;
  uint64_t undrained_batches;
  uint64_t records_completed;
  uint64_t records_failed;
};

enum class AppendStatus {
  kOk,              // `appended` records were taken (fewer than given: buffer.memory is full)
  kRecordTooLarge,  // a record's body passes kMaxRecordBody: nothing was taken
  kOutOfMemory,     // malloc failed for a new batch; the records before it were taken
};

// Frees (or recycles) a DrainedBatch's bytes; `pool` is DrainedBatch::pool.
void ReleaseBatchBytes(uint8_t* bytes, BatchBufferPool* pool);

// Compresses batch[61, size) (a batch whose records follow 61 header bytes) with `codec` at
// `level` into a new malloc'd block (of exactly *out_size bytes) with 61 free bytes first;
// returns it with its size in *out_size, or nullptr when the result is not smaller (the
// batch then goes uncompressed).
// @thread any
uint8_t* CompressBatchRecords(compress::CodecId codec, int level, const uint8_t* batch, size_t size,
                              size_t* out_size);

class RecordAccumulator {
 public:
  // Partitions are the caller's small non-negative ids; they index a table.
  static constexpr uint32_t kMaxPartition = (1u << 24) - 1;
  // A partition id that never holds batches (drain() skips it), for ids the caller gave
  // that cannot be partitions (negative, fractional, too large).
  static constexpr uint32_t kNoPartition = 0xffffffffu;

  // `budget`: the producer's shared buffer.memory (a reference is taken), or null for one of
  // the accumulator's own sized from config.buffer_memory (which a given budget overrides).
  explicit RecordAccumulator(const AccumulatorConfig& config, MemoryBudget* budget = nullptr);
  ~RecordAccumulator();
  RecordAccumulator(const RecordAccumulator&) = delete;
  RecordAccumulator& operator=(const RecordAccumulator&) = delete;

  // Appends records[0..n) to `partition` (<= kMaxPartition) at time now_ms. `appended`
  // receives how many were taken from the front; `runs` (cleared first) where they went,
  // in order, one entry per batch.
  AppendStatus Append(uint32_t partition, const RecordView* records, size_t n, double now_ms,
                      size_t* appended, std::vector<AppendedRun>* runs);

  // Partitions whose first batch may be drained now (full, lingered, or flushing), in
  // non-empty order; *next_ready_in_ms gets the least remaining linger of the others, or
  // +infinity when there are none.
  void Ready(double now_ms, bool flushing, std::vector<uint32_t>* partitions,
             double* next_ready_in_ms) const;

  // Takes the first batch of each partition in partitions[0..n) (in that order; partitions
  // without batches are skipped), until the next one would take the total past max_bytes
  // (the first one is always taken). Writes each header with the stamp and hands the bytes
  // over in `out` (appended to).
  void Drain(const uint32_t* partitions, size_t n, double max_bytes, const DrainStamp& stamp,
             std::vector<DrainedBatch>* out);

  // Puts batches that Drain() handed out back at the front of their partitions, as they
  // were (the binding calls it when it cannot give them to JavaScript: a drain is
  // all-or-nothing). batches[i].bytes become the accumulator's again: the originals, or
  // malloc'd copies with pool null. Their next drain re-stamps them and rewrites the CRC
  // (no second compression). In reverse drain order is not needed: it restores the order.
  void Requeue(const DrainedBatch* batches, size_t n);

  // Removes undrained batches created at or before created_before_ms, oldest first per
  // partition, partitions in non-empty order. Their records count as failed.
  void Expire(double created_before_ms, std::vector<RemovedBatch>* out);

  // Removes every undrained batch, in the same order as Expire().
  void AbortAll(std::vector<RemovedBatch>* out);

  // Drained batches are done: their memory is freed and their records counted. Unknown
  // ids (never drained, or completed already) are ignored.
  void Complete(const BatchResult* results, size_t n);

  // Removes every undrained batch (as AbortAll), lets go of compression work (a running job
  // is handed off, never waited for), forgets drained batches not yet completed (their
  // bytes leave a shared budget now), and frees the block pool. Afterwards the accumulator
  // holds no memory but its own object; the binding refuses further calls. Idempotent in
  // effect: the destructor calls it when the binding did not.
  void Destroy(std::vector<RemovedBatch>* out);
  bool destroyed() const { return destroyed_; }

  bool HasUndrained() const { return undrained_ > 0; }
  // Batches whose compression ran on a pool thread, counted as drained (tests check the work
  // left this thread).
  uint64_t CompressedOffThread() const { return compressed_off_thread_; }
  // Native bytes this accumulator holds that no Buffer accounts for: its undrained batches'
  // blocks and the block pool's kept ones (what the binding reports to V8). Drained batches
  // are their Buffers' (V8 counts those itself).
  uint64_t HeldBytes() const { return held_bytes_ + pool_->kept_bytes(); }
  AccumulatorStats Stats() const;

 private:
  struct Batch {
    uint64_t id;
    uint32_t partition;
    int32_t record_count;
    double created_ms;
    // The first record's timestamp: every record stores its timestamp as a delta from it.
    int64_t base_timestamp;
    int64_t max_timestamp;
    // [0, 61) is left for the header; records follow. `capacity` bytes, from pool_ when
    // capacity == pool_->block_size(), else from malloc.
    uint8_t* data;
    size_t size;
    size_t capacity;
    // No more records go in: it reached batch.size (at the end of an Append() call), or a
    // later batch exists behind it.
    bool full;
    // Its compression on the worker thread, started when it closed (codec set only).
    std::shared_ptr<CompressJob> job;
    // Put back by Requeue(): `data` is a finished batch (compressed or not, codec bits in
    // sealed_codec) that the next drain only re-stamps; it counts `accounted` bytes against
    // buffer.memory (what its records were counted at when appended), not `size`.
    bool sealed = false;
    uint16_t sealed_codec = 0;
    uint64_t accounted = 0;
  };
  // Bytes the batch counts against buffer.memory.
  static uint64_t Accounted(const Batch& b) { return b.sealed ? b.accounted : b.size; }

  struct Partition {
    std::deque<Batch> batches;
    // Links of the non-empty list (partition ids; kNoPartition ends it).
    uint32_t prev = kNoPartition;
    uint32_t next = kNoPartition;
    bool listed = false;
  };

  // What a drained batch still holds against buffer.memory until complete().
  struct InFlight {
    uint64_t bytes;
    int32_t records;
  };

  Partition* Find(uint32_t partition) const;
  void Link(uint32_t partition, Partition* p);
  void Unlink(uint32_t partition, Partition* p);
  void Remove(Batch& b, std::vector<RemovedBatch>* out);
  void FreeData(Batch& b);
  // Bytes counted against buffer.memory (this accumulator's and the shared budget's).
  void Charge(uint64_t bytes) {
    buffered_bytes_ += bytes;
    budget_->Charge(bytes);
  }
  void Credit(uint64_t bytes) {
    buffered_bytes_ -= bytes;
    budget_->Credit(bytes);
  }
  // No more records go into `b`; with a codec, its compression starts on the worker thread.
  void Close(Batch* b);
  // Frees a batch that leaves without being drained (its compression job cancelled first).
  void Discard(Batch& b);
  // A compression job over the batch's bytes with the configured codec.
  std::shared_ptr<CompressJob> NewJob(const Batch& b) const;
  // Compresses the batches in taking_ (those whose job did not run yet in parallel), and
  // puts each result in its Taking.
  void CompressTaken();
  const AccumulatorConfig config_;
  // The config's limits as integers, for byte counts: n > batch_size <=> n > batch_over_;
  // n >= batch_size <=> n >= batch_full_.
  const uint64_t batch_over_;
  const uint64_t batch_full_;
  // n > max(batch_size, max_batch_size) <=> n > max_over_: the bound of a call's later records.
  const uint64_t max_over_;
  // buffer.memory: this accumulator's bytes count here with those of every other
  // accumulator sharing it; buffered_bytes_ below is this one's part.
  MemoryBudget* const budget_;
  BatchBufferPool* pool_;
  std::vector<std::unique_ptr<Partition>> partitions_;
  uint32_t head_ = kNoPartition;
  uint32_t tail_ = kNoPartition;
  std::unordered_map<uint64_t, InFlight> in_flight_;
  // A batch being drained (Drain's scratch, kept for its capacity).
  struct Taking {
    Batch batch;
    // Its position in Drain's partitions (for base_sequences).
    size_t index;
    // Its records compressed (61 free bytes first), or null: sent uncompressed.
    uint8_t* packed = nullptr;
    size_t packed_size = 0;
  };
  std::vector<Taking> taking_;
  std::vector<std::shared_ptr<CompressJob>> jobs_;
  // Capacity of the blocks of undrained batches (see HeldBytes()).
  uint64_t held_bytes_ = 0;
  uint64_t compressed_off_thread_ = 0;
  bool destroyed_ = false;
  // Each record's size-independent body part, computed once per Append() call.
  std::vector<uint64_t> fixed_sizes_;
  uint64_t next_batch_id_ = 1;
  uint64_t buffered_bytes_ = 0;
  uint64_t undrained_ = 0;
  uint64_t records_completed_ = 0;
  uint64_t records_failed_ = 0;
};

}  // namespace core
}  // namespace kafka_turbo

#endif  // KAFKA_TURBO_CORE_ACCUMULATOR_H_
