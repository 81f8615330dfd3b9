// The native RecordAccumulator; see accumulator.h. Each branch of Append() mirrors a branch
// of FallbackAccumulator.append (ts/backend/fallback/accumulator.ts) so that both take the
// same records into the same batches and count the same bytes.
#include "accumulator.h"

#include <algorithm>
#include <cstdlib>
#include <limits>

namespace kafka_turbo {
namespace core {
namespace {

// A varint offset delta plus a varlong timestamp delta take at most this many bytes: a
// record whose fixed part leaves this much room under kMaxRecordBody encodes anywhere.
constexpr uint64_t kMaxDeltaBytes = 5 + 10;

// A drained batch with at least this much unused capacity is shrunk (in place: glibc's
// realloc splits the chunk) before it goes to JavaScript, so that a lingered batch of one
// small record does not pin batch.size bytes until the garbage collector frees its Buffer.
constexpr size_t kShrinkSlack = 4096;

}  // namespace

void FreeBatchBytes(uint8_t* bytes) { std::free(bytes); }

RecordAccumulator::RecordAccumulator(const AccumulatorConfig& config) : config_(config) {}

RecordAccumulator::~RecordAccumulator() {
  for (auto& p : partitions_) {
    if (!p) continue;
    for (Batch& b : p->batches) std::free(b.data);
  }
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

void RecordAccumulator::NoteAppended(Batch& b, const RecordView& r,
                                     std::vector<AppendedRun>* runs) {
  if (b.record_count == 0) {
    b.base_timestamp = r.timestamp;
    b.max_timestamp = r.timestamp;
  } else if (r.timestamp > b.max_timestamp) {
    b.max_timestamp = r.timestamp;
  }
  b.record_count++;
  if (!runs->empty() && runs->back().batch_id == b.id) {
    runs->back().count++;
  } else {
    runs->push_back(AppendedRun{b.id, 1});
  }
}

AppendStatus RecordAccumulator::Append(uint32_t partition, const RecordView* records, size_t n,
                                       double now_ms, size_t* appended,
                                       std::vector<AppendedRun>* runs) {
  *appended = 0;
  runs->clear();
  // Refuse the whole call before touching any state when a record cannot be encoded.
  fixed_sizes_.resize(n);
  for (size_t i = 0; i < n; ++i) {
    const uint64_t fixed = RecordFixedBodySize(records[i]);
    if (fixed > kMaxRecordBody - kMaxDeltaBytes) return AppendStatus::kRecordTooLarge;
    fixed_sizes_[i] = fixed;
  }
  if (partition >= partitions_.size()) partitions_.resize(size_t{partition} + 1);
  std::unique_ptr<Partition>& slot = partitions_[partition];
  if (!slot) slot.reset(new Partition());
  Partition& part = *slot;
  const double batch_size = config_.batch_size;
  const double buffer_memory = config_.buffer_memory;

  for (size_t i = 0; i < n; ++i) {
    const RecordView& r = records[i];
    Batch* last = part.batches.empty() ? nullptr : &part.batches.back();
    if (last != nullptr && !last->full) {
      const uint64_t body = RecordBodySize(fixed_sizes_[i], last->record_count,
                                           r.timestamp - last->base_timestamp);
      const uint64_t grown = EncodedRecordSize(body);
      if (static_cast<double>(last->size + grown) > batch_size) {
        // Past batch.size: this batch is closed, the record opens the next one.
        last->full = true;
      } else if (static_cast<double>(buffered_bytes_ + grown) > buffer_memory) {
        break;
      } else {
        // last->size + grown <= batch_size < capacity: it fits the allocation.
        EncodeRecord(last->data + last->size, r, body, last->record_count,
                     r.timestamp - last->base_timestamp);
        last->size += grown;
        buffered_bytes_ += grown;
        NoteAppended(*last, r, runs);
        ++*appended;
        if (static_cast<double>(last->size) >= batch_size) last->full = true;
        continue;
      }
    }
    // A new batch: it costs its header on top of the record. When nothing at all is
    // buffered, a record larger than buffer.memory is still taken (the caller refuses
    // records larger than buffer.memory before they get here).
    const uint64_t body = RecordBodySize(fixed_sizes_[i], 0, 0);
    const uint64_t needed = kRecordBatchOverhead + EncodedRecordSize(body);
    if (static_cast<double>(buffered_bytes_ + needed) > buffer_memory && buffered_bytes_ > 0) {
      break;
    }
    const size_t capacity = std::max<size_t>(
        static_cast<size_t>(batch_size) + kRecordBatchOverhead, static_cast<size_t>(needed));
    uint8_t* data = static_cast<uint8_t*>(std::malloc(capacity));
    if (data == nullptr) return AppendStatus::kOutOfMemory;
    if (last != nullptr) last->full = true;
    part.batches.push_back(Batch{next_batch_id_++, partition, 0, now_ms, 0, 0, data,
                                 static_cast<size_t>(needed), capacity, false});
    Batch& fresh = part.batches.back();
    if (!part.listed) Link(partition, &part);
    ++undrained_;
    buffered_bytes_ += needed;
    EncodeRecord(data + kRecordBatchOverhead, r, body, 0, 0);
    NoteAppended(fresh, r, runs);
    ++*appended;
    if (static_cast<double>(fresh.size) >= batch_size) fresh.full = true;
  }
  return AppendStatus::kOk;
}

void RecordAccumulator::Ready(double now_ms, bool flushing, std::vector<uint32_t>* partitions,
                              double* next_ready_in_ms) const {
  partitions->clear();
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
  double total = 0;
  const uint16_t attributes =
      static_cast<uint16_t>((config_.codec & kCodecMask) |
                            (stamp.transactional ? kTransactionalFlag : 0));
  for (size_t i = 0; i < n; ++i) {
    const uint32_t id = partitions[i];
    Partition* part = Find(id);
    if (part == nullptr || part->batches.empty()) continue;
    Batch b = part->batches.front();
    if (total > 0 && total + static_cast<double>(b.size) > max_bytes) break;
    part->batches.pop_front();
    if (part->batches.empty()) Unlink(id, part);
    --undrained_;
    BatchHeader h;
    h.attributes = attributes;
    h.last_offset_delta = b.record_count - 1;
    h.base_timestamp = b.base_timestamp;
    h.max_timestamp = b.max_timestamp;
    h.producer_id = stamp.producer_id;
    h.producer_epoch = stamp.producer_epoch;
    h.base_sequence = stamp.base_sequences != nullptr ? stamp.base_sequences[i] : -1;
    h.record_count = b.record_count;
    WriteBatchHeader(b.data, b.size, h);
    total += static_cast<double>(b.size);
    in_flight_[b.id] = InFlight{b.size, b.record_count};
    if (b.capacity - b.size >= kShrinkSlack) {
      // Shrinking never moves the bytes with glibc; if an allocator does move them, it
      // copies them, and if it fails the original block stays valid.
      if (void* smaller = std::realloc(b.data, b.size)) b.data = static_cast<uint8_t*>(smaller);
    }
    out->push_back(DrainedBatch{b.id, id, b.record_count, b.created_ms, b.data, b.size});
  }
}

void RecordAccumulator::Remove(Batch& b, std::vector<RemovedBatch>* out) {
  --undrained_;
  buffered_bytes_ -= b.size;
  records_failed_ += static_cast<uint64_t>(b.record_count);
  out->push_back(RemovedBatch{b.id, b.partition, b.record_count});
  std::free(b.data);
  b.data = nullptr;
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
    buffered_bytes_ -= it->second.bytes;
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
