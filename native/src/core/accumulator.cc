// The native RecordAccumulator; see accumulator.h. Each branch of Append() mirrors a branch
// of FallbackAccumulator.append (ts/backend/fallback/accumulator.ts) so that both take the
// same records into the same batches and count the same bytes.
#include "accumulator.h"

#include "../compress/codecs.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <limits>

namespace kafka_turbo {
namespace core {
namespace {

// A varint offset delta plus a varlong timestamp delta take at most this many bytes: a
// record whose fixed part leaves this much room under kMaxRecordBody encodes anywhere.
constexpr uint64_t kMaxDeltaBytes = 5 + 10;

// A drained batch that uses less than half its capacity, and leaves at least this much
// unused, is shrunk (in place: glibc's realloc splits the chunk) before it goes to
// JavaScript, so that a lingered batch of one small record does not pin batch.size bytes
// until the garbage collector frees its Buffer. (Full batches go back to the pool instead.)
constexpr size_t kShrinkSlack = 4096;

// The pool keeps at most this many bytes of free blocks (and never more than buffer.memory).
constexpr double kMaxPooledBytes = 32.0 * 1024 * 1024;

// A batch's first block holds batch.size (+ the header) but at most this much: with a large
// batch.size (the KafkaJS-style API's is max.request.size) most batches stay far smaller, and
// an open batch per partition must not pin (and report to V8) a whole batch.size each. A
// batch that needs more grows its block (realloc, doubling). The fallback starts its writer
// at the same capacity (the bytes do not depend on it).
constexpr size_t kMaxFirstBlock = 64 * 1024;

// floor(x) and ceil(x) for 0 <= x, saturated to UINT64_MAX (x may be +infinity).
uint64_t FloorToU64(double x) {
  return x >= 18446744073709549568.0 ? UINT64_MAX : static_cast<uint64_t>(std::floor(x));
}
uint64_t CeilToU64(double x) {
  return x >= 18446744073709549568.0 ? UINT64_MAX : static_cast<uint64_t>(std::ceil(x));
}

}  // namespace

BatchBufferPool::BatchBufferPool(size_t block_size, size_t max_kept_bytes)
    : block_size_(block_size), max_kept_(max_kept_bytes / (block_size == 0 ? 1 : block_size)) {}

BatchBufferPool::~BatchBufferPool() {
  for (uint8_t* block : kept_) std::free(block);
}

uint8_t* BatchBufferPool::Take() {
  if (!kept_.empty()) {
    uint8_t* block = kept_.back();
    kept_.pop_back();
    low_water_ = std::min(low_water_, kept_.size());
    return block;
  }
  low_water_ = 0;
  return static_cast<uint8_t*>(std::malloc(block_size_));
}

void BatchBufferPool::Trim(double now_ms) {
  // A clock that went back starts a new period rather than waiting for it to come back.
  if (now_ms >= period_start_ms_ && now_ms - period_start_ms_ < kTrimPeriodMs) return;
  for (size_t unused = std::min(low_water_, kept_.size()); unused > 0; --unused) {
    std::free(kept_.back());
    kept_.pop_back();
  }
  if (kept_.empty()) kept_.shrink_to_fit();
  period_start_ms_ = now_ms;
  low_water_ = kept_.size();
}

void BatchBufferPool::Give(uint8_t* block) {
  if (closed_ || kept_.size() >= max_kept_) {
    std::free(block);
  } else {
    kept_.push_back(block);
  }
}

void BatchBufferPool::Close() {
  closed_ = true;
  for (uint8_t* block : kept_) std::free(block);
  kept_.clear();
  kept_.shrink_to_fit();
}

void BatchBufferPool::Unref() {
  if (--refs_ == 0) delete this;
}

void ReleaseBatchBytes(uint8_t* bytes, BatchBufferPool* pool) {
  if (pool == nullptr) {
    std::free(bytes);
  } else {
    pool->Give(bytes);
    pool->Unref();
  }
}

MemoryBudget::MemoryBudget(double total) : total_(total), over_(FloorToU64(total)) {}

double MemoryBudget::Available() const {
  const double left = total_ - static_cast<double>(used_);
  return left > 0 ? left : 0;
}

void MemoryBudget::Unref() {
  if (--refs_ == 0) delete this;
}

namespace {

MemoryBudget* TakeBudget(MemoryBudget* given, double buffer_memory) {
  if (given == nullptr) return new MemoryBudget(buffer_memory);
  given->Ref();
  return given;
}

}  // namespace

RecordAccumulator::RecordAccumulator(const AccumulatorConfig& config, MemoryBudget* budget)
    : config_(config),
      batch_over_(FloorToU64(config.batch_size)),
      batch_full_(CeilToU64(config.batch_size)),
      max_over_(FloorToU64(std::max(config.batch_size, config.max_batch_size))),
      budget_(TakeBudget(budget, config.buffer_memory)),
      pool_(new BatchBufferPool(
          std::min(static_cast<size_t>(config.batch_size), kMaxFirstBlock) + kRecordBatchOverhead,
          static_cast<size_t>(std::max(0.0, std::min(kMaxPooledBytes, budget_->total()))))) {}

RecordAccumulator::~RecordAccumulator() {
  if (!destroyed_) {
    std::vector<RemovedBatch> removed;
    Destroy(&removed);
  }
  pool_->Unref();
  budget_->Unref();
}

void RecordAccumulator::Destroy(std::vector<RemovedBatch>* out) {
  AbortAll(out);
  // Drained batches never completed leave a shared budget with the accumulator (their bytes
  // live on in their Buffers until those are collected).
  for (const auto& entry : in_flight_) Credit(entry.second.bytes);
  in_flight_.clear();
  std::unordered_map<uint64_t, InFlight>().swap(in_flight_);
  pool_->Close();
  partitions_.clear();
  partitions_.shrink_to_fit();
  std::vector<uint64_t>().swap(fixed_sizes_);
  destroyed_ = true;
}

std::shared_ptr<CompressJob> RecordAccumulator::NewJob(const Batch& b) const {
  auto job = std::make_shared<CompressJob>();
  job->codec = static_cast<compress::CodecId>(config_.codec);
  job->level = config_.compression_level;
  job->batch = b.data;
  job->size = b.size;
  return job;
}

void RecordAccumulator::Close(Batch* b) {
  b->full = true;
  if (config_.codec == 0 || b->job) return;
  std::shared_ptr<CompressJob> job = NewJob(*b);
  // No pool thread could be started: it is compressed at drain, on this thread.
  if (CompressPool::Get().Submit(job)) b->job = std::move(job);
}

void RecordAccumulator::Discard(Batch& b) {
  bool ours = true;
  if (b.job) {
    ours = CompressPool::Get().Cancel(b.job);
    b.job.reset();
  }
  if (ours) {
    FreeData(b);
  } else {
    // A pool thread is compressing it and frees it when done: no longer ours to count.
    held_bytes_ -= b.capacity;
    b.data = nullptr;
  }
}

void RecordAccumulator::FreeData(Batch& b) {
  if (b.capacity == pool_->block_size()) {
    pool_->Give(b.data);
  } else {
    std::free(b.data);
  }
  held_bytes_ -= b.capacity;
  b.data = nullptr;
}

RecordAccumulator::Partition* RecordAccumulator::Find(uint32_t partition) const {
  return partition < partitions_.size() ? partitions_[partition].get() : nullptr;
}

void RecordAccumulator::Link(uint32_t partition, Partition* p) {
  p->listed = true;
  p->prev = tail_;
  p->next = kNoPartition;
  if (tail_ == kNoPartition) {
    head_ = partition;
  } else {
    partitions_[tail_]->next = partition;
  }
  tail_ = partition;
}

void RecordAccumulator::Unlink(uint32_t partition, Partition* p) {
  if (p->prev == kNoPartition) {
    head_ = p->next;
  } else {
    partitions_[p->prev]->next = p->next;
  }
  if (p->next == kNoPartition) {
    tail_ = p->prev;
  } else {
    partitions_[p->next]->prev = p->prev;
  }
  p->prev = p->next = kNoPartition;
  p->listed = false;
  (void)partition;
}

namespace {

// Counts a record appended to `b` at index b.record_count, and where it went.
inline void NoteAppended(int32_t& record_count, int64_t& base_timestamp, int64_t& max_timestamp,
                         uint64_t batch_id, int64_t timestamp, std::vector<AppendedRun>* runs) {
  if (record_count == 0) {
    base_timestamp = timestamp;
    max_timestamp = timestamp;
  } else if (timestamp > max_timestamp) {
    max_timestamp = timestamp;
  }
  ++record_count;
  if (!runs->empty() && runs->back().batch_id == batch_id) {
    runs->back().count++;
  } else {
    // Fields stored one by one: pushing a temporary made GCC store it in two parts and
    // load it back as one 16-byte word, a store-forwarding stall on every new batch.
    runs->emplace_back();
    AppendedRun& run = runs->back();
    run.batch_id = batch_id;
    run.count = 1;
  }
}

}  // namespace

AppendStatus RecordAccumulator::Append(uint32_t partition, const RecordView* records, size_t n,
                                       double now_ms, size_t* appended,
                                       std::vector<AppendedRun>* runs) {
  *appended = 0;
  runs->clear();
  pool_->Trim(now_ms);
  // Refuse the whole call before touching any state when a record cannot be encoded.
  fixed_sizes_.resize(n);
  uint64_t* fixed_sizes = fixed_sizes_.data();
  for (size_t i = 0; i < n; ++i) {
    const uint64_t fixed = RecordFixedBodySize(records[i]);
    if (fixed > kMaxRecordBody - kMaxDeltaBytes) return AppendStatus::kRecordTooLarge;
    fixed_sizes[i] = fixed;
  }
  if (partition >= partitions_.size()) partitions_.resize(size_t{partition} + 1);
  std::unique_ptr<Partition>& slot = partitions_[partition];
  if (!slot) slot.reset(new Partition());
  Partition& part = *slot;
  // Elements of a deque stay where they are when others are pushed at the back.
  Batch* last = part.batches.empty() ? nullptr : &part.batches.back();
  size_t taken = 0;
  AppendStatus status = AppendStatus::kOk;

  for (size_t i = 0; i < n; ++i) {
    const RecordView& r = records[i];
    if (last != nullptr && !last->full) {
      const int32_t offset_delta = last->record_count;
      const int64_t timestamp_delta = r.timestamp - last->base_timestamp;
      const uint64_t body = RecordBodySize(fixed_sizes[i], offset_delta, timestamp_delta);
      const uint64_t grown = EncodedRecordSize(body);
      if (last->size + grown > (i == 0 ? batch_over_ : max_over_)) {
        // Past its bound: this batch is closed, the record opens the next one.
        Close(last);
      } else if (budget_->WouldPass(grown)) {
        break;
      } else {
        const uint64_t need = last->size + grown;
        if (need > last->capacity) {
          // Past its first block (batch.size over kMaxFirstBlock, or a call's run past
          // batch.size): the block grows (doubling, at most to the bound) rather than a new
          // batch being opened. It is no longer the pool's size, so it goes back to malloc
          // when done.
          const uint64_t doubled = std::min<uint64_t>(uint64_t{last->capacity} * 2, max_over_);
          const size_t capacity = static_cast<size_t>(std::max(need, doubled));
          void* bigger = std::realloc(last->data, capacity);
          if (bigger == nullptr) {
            status = AppendStatus::kOutOfMemory;
            break;
          }
          held_bytes_ += capacity - last->capacity;
          last->data = static_cast<uint8_t*>(bigger);
          last->capacity = capacity;
        }
        EncodeRecord(last->data + last->size, r, body, offset_delta, timestamp_delta);
        last->size += grown;
        Charge(grown);
        NoteAppended(last->record_count, last->base_timestamp, last->max_timestamp, last->id,
                     r.timestamp, runs);
        ++taken;
        continue;
      }
    }
    // A new batch: it costs its header on top of the record. When nothing at all is
    // buffered (by any accumulator sharing the budget), a record larger than buffer.memory
    // is still taken (the caller refuses records larger than buffer.memory before they get
    // here).
    const uint64_t body = RecordBodySize(fixed_sizes[i], 0, 0);
    const uint64_t needed = kRecordBatchOverhead + EncodedRecordSize(body);
    if (budget_->WouldPass(needed) && budget_->used() > 0) break;
    // Room for batch.size (+ the header, as the fallback's writer reserves) up to
    // kMaxFirstBlock, or for this one record when it is larger.
    const size_t capacity = std::max<size_t>(pool_->block_size(), static_cast<size_t>(needed));
    uint8_t* data = capacity == pool_->block_size() ? pool_->Take()
                                                    : static_cast<uint8_t*>(std::malloc(capacity));
    if (data == nullptr) {
      status = AppendStatus::kOutOfMemory;
      break;
    }
    held_bytes_ += capacity;
    if (last != nullptr && !last->full) Close(last);
    part.batches.push_back(Batch{next_batch_id_++, partition, 0, now_ms, 0, 0, data,
                                 static_cast<size_t>(needed), capacity, false, nullptr});
    last = &part.batches.back();
    if (!part.listed) Link(partition, &part);
    ++undrained_;
    Charge(needed);
    EncodeRecord(data + kRecordBatchOverhead, r, body, 0, 0);
    NoteAppended(last->record_count, last->base_timestamp, last->max_timestamp, last->id,
                 r.timestamp, runs);
    ++taken;
  }
  // The call is over: its last batch takes more records later only while under batch.size
  // (and, with a codec, starts compressing now if it is full).
  if (last != nullptr && !last->full && last->size >= batch_full_) Close(last);
  *appended = taken;
  return status;
}

void RecordAccumulator::Ready(double now_ms, bool flushing, std::vector<uint32_t>* partitions,
                              double* next_ready_in_ms) const {
  partitions->clear();
  pool_->Trim(now_ms);
  double next = std::numeric_limits<double>::infinity();
  const double linger = config_.linger_ms;
  for (uint32_t id = head_; id != kNoPartition; id = partitions_[id]->next) {
    const Batch& head = partitions_[id]->batches.front();
    const double waited = now_ms - head.created_ms;
    if (flushing || head.full || waited >= linger) {
      partitions->push_back(id);
    } else {
      next = std::min(next, linger - waited);
    }
  }
  *next_ready_in_ms = next;
}

void RecordAccumulator::Drain(const uint32_t* partitions, size_t n, double max_bytes,
                              const DrainStamp& stamp, std::vector<DrainedBatch>* out) {
  // First the batches to take (which depends only on their uncompressed sizes), then their
  // compression, all of it at once, then the headers.
  double total = 0;
  taking_.clear();
  for (size_t i = 0; i < n; ++i) {
    const uint32_t id = partitions[i];
    Partition* part = Find(id);
    if (part == nullptr || part->batches.empty()) continue;
    const Batch& front = part->batches.front();
    if (total > 0 && total + static_cast<double>(Accounted(front)) > max_bytes) break;
    taking_.push_back(Taking{front, i});
    part->batches.pop_front();
    if (part->batches.empty()) Unlink(id, part);
    --undrained_;
    total += static_cast<double>(Accounted(taking_.back().batch));
  }
  if (config_.codec != 0) CompressTaken();
  const uint16_t flags = stamp.transactional ? kTransactionalFlag : 0;
  for (Taking& t : taking_) {
    Batch& b = t.batch;
    // Keep the compressed records only when smaller. buffer.memory keeps counting the
    // uncompressed size (b.size) until complete(), as it was counted at append.
    uint8_t* data = b.data;
    size_t size = b.size;
    uint16_t codec_bits = 0;
    BatchBufferPool* pool = nullptr;
    if (b.sealed) {
      codec_bits = b.sealed_codec;
      held_bytes_ -= b.capacity;
    } else if (t.packed != nullptr) {
      FreeData(b);
      data = t.packed;
      size = t.packed_size;
      codec_bits = config_.codec & kCodecMask;
    } else {
      held_bytes_ -= b.capacity;  // the block leaves with its Buffer
    }
    BatchHeader h;
    h.attributes = static_cast<uint16_t>(codec_bits | flags);
    h.last_offset_delta = b.record_count - 1;
    h.base_timestamp = b.base_timestamp;
    h.max_timestamp = b.max_timestamp;
    h.producer_id = stamp.producer_id;
    h.producer_epoch = stamp.producer_epoch;
    h.base_sequence = stamp.base_sequences != nullptr ? stamp.base_sequences[t.index] : -1;
    h.record_count = b.record_count;
    WriteBatchHeader(data, size, h);
    in_flight_[b.id] = InFlight{Accounted(b), b.record_count};
    if (data != b.data) {
      // The compressed copy is a malloc'd block of its own, exactly its size (freed by its
      // finalizer).
    } else if (b.capacity - b.size >= kShrinkSlack && b.size < b.capacity / 2) {
      // Shrinking never moves the bytes with glibc; if an allocator does move them, it
      // copies them, and if it fails the original block stays valid (and is not pooled:
      // the capacity it would be recognized by is not passed along).
      // The header is already written, so a moved block carries it along.
      if (void* smaller = std::realloc(data, size)) data = static_cast<uint8_t*>(smaller);
    } else if (b.capacity == pool_->block_size()) {
      pool = pool_;
      pool->Ref();
    }
    out->push_back(DrainedBatch{b.id, b.partition, b.record_count, b.created_ms, data, size, pool});
  }
  taking_.clear();
}

void RecordAccumulator::CompressTaken() {
  // Batches drained before they closed (lingered, flushed) have no job yet: submit them all
  // together, so the pool's threads and this one compress them in parallel.
  jobs_.clear();
  for (Taking& t : taking_) {
    if (!t.batch.job && !t.batch.sealed) {
      t.batch.job = NewJob(t.batch);
      jobs_.push_back(t.batch.job);
    }
  }
  CompressPool& compress_pool = CompressPool::Get();
  if (jobs_.size() > 1 && !compress_pool.Submit(jobs_.data(), jobs_.size())) {
    // No pool thread: each is run by Take() below, on this thread.
  }
  // This thread takes its share from the back while the pool's threads start at the front,
  // then collects every result in order (waiting only for jobs running elsewhere).
  for (size_t j = taking_.size(); j-- > 0;) {
    if (taking_[j].batch.job) compress_pool.RunIfQueued(taking_[j].batch.job);
  }
  for (Taking& t : taking_) {
    if (!t.batch.job) continue;  // sealed: compressed (or not) already
    compress_pool.Take(t.batch.job);
    if (t.batch.job->ran_on_worker) ++compressed_off_thread_;
    t.packed = t.batch.job->result;
    t.packed_size = t.batch.job->result_size;
    t.batch.job->result = nullptr;
    t.batch.job.reset();
  }
  jobs_.clear();
}

uint8_t* CompressBatchRecords(compress::CodecId codec, int level, const uint8_t* batch, size_t size,
                              size_t* out_size) {
  const size_t n = size - kRecordBatchOverhead;
  const size_t bound = compress::CompressBound(codec, n);
  if (bound == 0) return nullptr;
  uint8_t* out = static_cast<uint8_t*>(std::malloc(kRecordBatchOverhead + bound));
  if (out == nullptr) return nullptr;
  size_t written = 0;
  if (!compress::Compress(codec, level, batch + kRecordBatchOverhead, n, out + kRecordBatchOverhead, bound,
                          &written, nullptr) ||
      written >= n) {
    // Not smaller (or the codec failed, which the level checks at creation rule out): the
    // batch goes uncompressed, as the Java client sends it.
    std::free(out);
    return nullptr;
  }
  *out_size = kRecordBatchOverhead + written;
  // The block was sized for the codec's bound: give the rest back, so that the batch's
  // memory is its compressed size (what its Buffer reports to V8), not up to 34 times that.
  if (void* exact = std::realloc(out, *out_size)) out = static_cast<uint8_t*>(exact);
  return out;
}

namespace {

int64_t ReadBe64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | p[i];
  return static_cast<int64_t>(v);
}

}  // namespace

void RecordAccumulator::Requeue(const DrainedBatch* batches, size_t n) {
  for (size_t k = n; k-- > 0;) {
    const DrainedBatch& d = batches[k];
    auto it = in_flight_.find(d.batch_id);
    if (it == in_flight_.end() || d.partition >= partitions_.size() || !partitions_[d.partition]) {
      ReleaseBatchBytes(d.bytes, d.pool);  // not one of ours (never happens): not lost
      continue;
    }
    Partition* part = partitions_[d.partition].get();
    Batch b{d.batch_id, d.partition, d.record_count, d.created_ms,
            ReadBe64(d.bytes + 27), ReadBe64(d.bytes + 35), d.bytes, d.size,
            d.pool != nullptr ? pool_->block_size() : d.size, true, nullptr};
    b.sealed = true;
    b.sealed_codec = static_cast<uint16_t>(d.bytes[22] & kCodecMask);
    b.accounted = it->second.bytes;
    in_flight_.erase(it);
    if (d.pool != nullptr) d.pool->Unref();  // the reference its Buffer would have held
    held_bytes_ += b.capacity;
    ++undrained_;
    part->batches.push_front(b);
    if (!part->listed) {
      // Back at the front of the non-empty order, where it was drained from.
      part->listed = true;
      part->prev = kNoPartition;
      part->next = head_;
      if (head_ == kNoPartition) {
        tail_ = d.partition;
      } else {
        partitions_[head_]->prev = d.partition;
      }
      head_ = d.partition;
    }
  }
}

void RecordAccumulator::Remove(Batch& b, std::vector<RemovedBatch>* out) {
  --undrained_;
  Credit(Accounted(b));
  records_failed_ += static_cast<uint64_t>(b.record_count);
  out->push_back(RemovedBatch{b.id, b.partition, b.record_count});
  Discard(b);
}

void RecordAccumulator::Expire(double created_before_ms, std::vector<RemovedBatch>* out) {
  uint32_t id = head_;
  while (id != kNoPartition) {
    Partition* part = partitions_[id].get();
    const uint32_t next = part->next;
    while (!part->batches.empty() && part->batches.front().created_ms <= created_before_ms) {
      Remove(part->batches.front(), out);
      part->batches.pop_front();
    }
    if (part->batches.empty()) Unlink(id, part);
    id = next;
  }
}

void RecordAccumulator::AbortAll(std::vector<RemovedBatch>* out) {
  uint32_t id = head_;
  while (id != kNoPartition) {
    Partition* part = partitions_[id].get();
    const uint32_t next = part->next;
    for (Batch& b : part->batches) Remove(b, out);
    part->batches.clear();
    part->prev = part->next = kNoPartition;
    part->listed = false;
    id = next;
  }
  head_ = tail_ = kNoPartition;
}

void RecordAccumulator::Complete(const BatchResult* results, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    auto it = in_flight_.find(results[i].batch_id);
    if (it == in_flight_.end()) continue;
    Credit(it->second.bytes);
    if (results[i].ok) {
      records_completed_ += static_cast<uint64_t>(it->second.records);
    } else {
      records_failed_ += static_cast<uint64_t>(it->second.records);
    }
    in_flight_.erase(it);
  }
}

AccumulatorStats RecordAccumulator::Stats() const {
  return AccumulatorStats{buffered_bytes_, undrained_, records_completed_, records_failed_};
}

}  // namespace core
}  // namespace kafka_turbo
