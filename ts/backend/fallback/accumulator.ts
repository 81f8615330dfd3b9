/**
 * The pure-TypeScript record accumulator: per-partition queues of open batches whose records
 * are encoded (record-batch v2 record format) as they are appended, so that a batch's size
 * is known exactly and drain() only has to write the 61-byte header and the CRC.
 *
 * Batch boundaries (the native accumulator makes the same ones, byte for byte): a record that
 * arrives on its own (the first record of an append() call) goes into its partition's open
 * batch only while that stays within batch.size; the records after it in the same call keep
 * filling that batch up to maxBatchSize (max.request.size from the producer), so a KafkaJS-style
 * send of many messages becomes one batch per partition, as KafkaJS makes, instead of being cut
 * every batch.size bytes (issue 16: the brokers' cost is per batch). When the call ends, a
 * batch at or past batch.size is full.
 *
 * Memory accounting follows the Java producer in spirit: every record's encoded bytes and
 * every batch's header count against buffer.memory from append() until complete() frees them
 * (drained batches still count: they may be retried).
 */
import type {
  AccumulatorConfig,
  BufferPool,
  AccumulatorStats,
  AppendResult,
  BatchResult,
  DrainStamp,
  DrainedBatch,
  ReadyResult,
  RecordAccumulator,
  RecordInput,
  RemovedBatch,
} from '../types.js';
import { Writer } from '../../protocol/writer.js';
import { RECORD_BATCH_OVERHEAD, encodeRecord, sealBatch } from '../../protocol/record-batch.js';
import { crc32c } from '../../protocol/crc32c.js';

class OpenBatch {
  /** Encoded records, after RECORD_BATCH_OVERHEAD reserved bytes for the header. */
  readonly writer: Writer;
  recordCount = 0;
  /** The first record's timestamp: every record's timestamp is stored as a delta from it. */
  baseTimestamp = 0;
  maxTimestamp = 0;
  /** No more records go in: it reached batch.size (at the end of an append call), or a later
   * batch exists behind it. */
  full = false;

  constructor(
    readonly id: number,
    readonly partition: number,
    readonly createdMs: number,
    capacity: number,
  ) {
    this.writer = new Writer(capacity);
    this.writer.reserve(RECORD_BATCH_OVERHEAD);
  }

  get sizeInBytes(): number {
    return this.writer.length;
  }
}

/** The largest batch a later record of one append() call may make (AccumulatorConfig.maxBatchSize):
 * batch.size when not given. */
function checkMaxBatchSize(config: AccumulatorConfig): number {
  const m = config.maxBatchSize;
  if (m === undefined || m === null) return config.batchSize;
  if (typeof m !== 'number' || Number.isNaN(m)) throw new TypeError('createAccumulator: config.maxBatchSize must be a number');
  if (!(m >= config.batchSize && m <= MAX_BATCH_BYTES)) {
    throw new RangeError(`createAccumulator: config.maxBatchSize must be in [config.batchSize, ${MAX_BATCH_BYTES}]`);
  }
  return m;
}

/** The most a batch.size may be on either backend (the native binding's bound: a record batch's
 * length field is an int32 that does not count the 12-byte log overhead, and 61 header bytes). */
const MAX_BATCH_BYTES = 2147483586;

/** A batch's writer starts with room for batch.size but at most this (as the native backend's
 * first block): with a large batch.size most batches stay far smaller; a batch that needs
 * more grows its buffer. */
const MAX_FIRST_BLOCK = 64 * 1024;

function destroyedError(fn: string): Error {
  return Object.assign(new Error(`${fn}: the RecordAccumulator was destroyed`), { code: 'ERR_ACCUMULATOR_DESTROYED' });
}

/** The fallback's BufferPool: the bytes held by every accumulator sharing it. */
export class FallbackBufferPool implements BufferPool {
  /** Bytes counted by all its accumulators together. */
  used = 0;

  constructor(private readonly totalBytes: number) {
    if (typeof totalBytes !== 'number') throw new TypeError('createBufferPool: totalBytes must be a number');
    if (!(totalBytes >= 0)) throw new RangeError('createBufferPool: totalBytes must be a number >= 0');
  }

  available(): number {
    return Math.max(0, this.totalBytes - this.used);
  }

  total(): number {
    return this.totalBytes;
  }
}

export class FallbackAccumulator implements RecordAccumulator {
  private readonly queues: (OpenBatch[] | undefined)[] = [];
  /** Partitions that have at least one undrained batch, so ready() does not scan them all. */
  private readonly nonEmpty = new Set<number>();
  /** Bytes each drained-but-not-completed batch holds against buffer.memory. */
  private readonly drained = new Map<number, { bytes: number; records: number }>();
  private nextBatchId = 1;
  private bufferedBytes = 0;
  private undrained = 0;
  private recordsCompleted = 0;
  private recordsFailed = 0;
  private destroyed = false;

  /** buffer.memory: shared with other accumulators, or this one's own. */
  private readonly pool: FallbackBufferPool;
  /** How far the records of one append() call after its first may grow a batch. */
  private readonly maxBatchSize: number;

  constructor(private readonly config: AccumulatorConfig) {
    this.maxBatchSize = checkMaxBatchSize(config);
    const given = config.pool;
    if (given === undefined || given === null) {
      this.pool = new FallbackBufferPool(config.bufferMemory);
    } else if (given instanceof FallbackBufferPool) {
      this.pool = given;
    } else {
      throw new TypeError("createAccumulator: pool must be a BufferPool from this backend's createBufferPool()");
    }
  }

  /** Bytes counted against buffer.memory: this accumulator's and the pool's. */
  private charge(bytes: number): void {
    this.bufferedBytes += bytes;
    this.pool.used += bytes;
  }

  append(partition: number, records: readonly RecordInput[], nowMs: number): AppendResult {
    if (this.destroyed) throw destroyedError('append');
    let queue = this.queues[partition];
    if (queue === undefined) {
      queue = [];
      this.queues[partition] = queue;
    }
    const batches: number[] = [];
    const { batchSize } = this.config;
    const maxBatchSize = this.maxBatchSize;
    const pool = this.pool;
    const limit = pool.total();
    let appended = 0;
    for (let i = 0; i < records.length; i++) {
      const record = records[i]!;
      const last = queue.length > 0 ? queue[queue.length - 1]! : undefined;
      if (last && !last.full) {
        // Encode in place, then undo if the record took the batch past its bound (batch.size
        // for the call's first record, maxBatchSize for the ones after it; a batch always
        // takes its first record, however large) or past buffer.memory.
        const mark = last.writer.length;
        encodeRecord(last.writer, record, last.recordCount, record.timestamp - last.baseTimestamp);
        const grown = last.writer.length - mark;
        if (last.writer.length > (i === 0 ? batchSize : maxBatchSize)) {
          last.writer.truncate(mark);
          last.full = true;
        } else if (pool.used + grown > limit) {
          last.writer.truncate(mark);
          break;
        } else {
          this.charge(grown);
          this.noteAppended(last, record, batches);
          appended++;
          continue;
        }
      }
      // A new batch: it costs its header on top of the record. When nothing at all is
      // buffered (by any accumulator sharing the pool), a record larger than buffer.memory is
      // still taken (the caller refuses records larger than buffer.memory before they get
      // here).
      const fresh = new OpenBatch(this.nextBatchId, partition, nowMs, Math.min(batchSize, MAX_FIRST_BLOCK) + RECORD_BATCH_OVERHEAD);
      encodeRecord(fresh.writer, record, 0, 0);
      if (pool.used + fresh.sizeInBytes > limit && pool.used > 0) break;
      this.nextBatchId++;
      if (last) last.full = true;
      queue.push(fresh);
      this.nonEmpty.add(partition);
      this.undrained++;
      this.charge(fresh.sizeInBytes);
      this.noteAppended(fresh, record, batches);
      appended++;
    }
    // The call is over: its last batch takes more records later only while under batch.size.
    const tail = queue.length > 0 ? queue[queue.length - 1]! : undefined;
    if (tail && !tail.full && tail.writer.length >= batchSize) tail.full = true;
    return { appended, batches };
  }

  private noteAppended(batch: OpenBatch, record: RecordInput, batches: number[]): void {
    if (batch.recordCount === 0) {
      batch.baseTimestamp = record.timestamp;
      batch.maxTimestamp = record.timestamp;
    } else if (record.timestamp > batch.maxTimestamp) {
      batch.maxTimestamp = record.timestamp;
    }
    batch.recordCount++;
    const n = batches.length;
    if (n >= 2 && batches[n - 2] === batch.id) batches[n - 1]!++;
    else batches.push(batch.id, 1);
  }

  ready(nowMs: number, flushing: boolean): ReadyResult {
    const partitions: number[] = [];
    let nextReadyInMs = Infinity;
    const { lingerMs } = this.config;
    for (const p of this.nonEmpty) {
      const head = this.queues[p]![0]!;
      const waited = nowMs - head.createdMs;
      if (flushing || head.full || waited >= lingerMs) partitions.push(p);
      else nextReadyInMs = Math.min(nextReadyInMs, lingerMs - waited);
    }
    return { partitions, nextReadyInMs };
  }

  drain(partitions: readonly number[], maxBytes: number, stamp: DrainStamp): DrainedBatch[] {
    if (this.destroyed) throw destroyedError('drain');
    const out: DrainedBatch[] = [];
    let total = 0;
    for (let i = 0; i < partitions.length; i++) {
      const p = partitions[i]!;
      const queue = this.queues[p];
      const head = queue?.[0];
      if (!queue || !head) continue;
      if (total > 0 && total + head.sizeInBytes > maxBytes) break;
      queue.shift();
      if (queue.length === 0) this.nonEmpty.delete(p);
      this.undrained--;
      // Counted against buffer.memory as appended (uncompressed), freed as such at complete().
      const accounted = head.sizeInBytes;
      const bytes = sealBatch(
        head.writer.detach(),
        {
          lastOffsetDelta: head.recordCount - 1,
          baseTimestamp: head.baseTimestamp,
          maxTimestamp: head.maxTimestamp,
          producerId: stamp.producerId,
          producerEpoch: stamp.producerEpoch,
          baseSequence: stamp.baseSequences ? stamp.baseSequences[i]! : -1,
          recordCount: head.recordCount,
          transactional: stamp.transactional,
        },
        this.config.codec,
        this.config.compressionLevel,
        crc32c,
      );
      // maxBytes counts what was appended (uncompressed), as the native backend does: which
      // batches a drain takes never depends on how well they compress.
      total += accounted;
      this.drained.set(head.id, { bytes: accounted, records: head.recordCount });
      out.push({ batchId: head.id, partition: p, recordCount: head.recordCount, bytes, createdMs: head.createdMs });
    }
    return out;
  }

  expire(createdBeforeMs: number): RemovedBatch[] {
    const removed: RemovedBatch[] = [];
    for (const p of [...this.nonEmpty]) {
      const queue = this.queues[p]!;
      while (queue.length > 0 && queue[0]!.createdMs <= createdBeforeMs) this.remove(queue.shift()!, removed);
      if (queue.length === 0) this.nonEmpty.delete(p);
    }
    return removed;
  }

  abortAll(): RemovedBatch[] {
    const removed: RemovedBatch[] = [];
    for (const p of this.nonEmpty) for (const b of this.queues[p]!.splice(0)) this.remove(b, removed);
    this.nonEmpty.clear();
    return removed;
  }

  private remove(b: OpenBatch, removed: RemovedBatch[]): void {
    this.undrained--;
    this.charge(-b.sizeInBytes);
    this.recordsFailed += b.recordCount;
    removed.push({ batchId: b.id, partition: b.partition, recordCount: b.recordCount });
  }

  complete(results: readonly BatchResult[]): void {
    for (const r of results) {
      const d = this.drained.get(r.batchId);
      if (d === undefined) continue;
      this.drained.delete(r.batchId);
      this.charge(-d.bytes);
      if (r.errorCode === 0) this.recordsCompleted += d.records;
      else this.recordsFailed += d.records;
    }
  }

  hasUndrained(): boolean {
    return this.undrained > 0;
  }

  destroy(): RemovedBatch[] {
    if (this.destroyed) return [];
    const removed = this.abortAll();
    for (const d of this.drained.values()) this.charge(-d.bytes);
    this.drained.clear();
    this.queues.length = 0;
    this.destroyed = true;
    return removed;
  }

  stats(): AccumulatorStats {
    return {
      bufferedBytes: this.bufferedBytes,
      undrainedBatches: this.undrained,
      recordsCompleted: this.recordsCompleted,
      recordsFailed: this.recordsFailed,
    };
  }
}
