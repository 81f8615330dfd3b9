/**
 * THE Backend interface. It is implemented twice: by the C++ addon (native/, adapted in
 * native.ts with no logic of its own) and by the pure-TypeScript fallback (fallback/).
 * Both must produce the same bytes for the same input; test/parity checks that.
 *
 * Why this shape: the per-record and per-byte work (holding records, encoding record batches,
 * CRC32C, memory accounting) lives behind this interface so that the native backend can keep
 * records in native memory. JavaScript never reads a record back after append(): it gets
 * batch ids, and later whole encoded batches ready to be framed into a ProduceRequest.
 * Everything the sender decides (which node, retries, sequence numbers, timeouts) stays in
 * TypeScript (ts/producer/).
 */

import type { Transport } from '../net/transport.js';
import type { HeldRecords } from '../protocol/produce.js';

/** Which CRC32C implementation a backend runs. */
export type Crc32cImpl = 'avx512-vpclmul' | 'sse42' | 'armv8-crc' | 'table' | 'ts';

/** Compression codec ids as they appear in record-batch attributes (bits 0..2). */
export const enum CodecId {
  None = 0,
  Gzip = 1,
  Snappy = 2,
  Lz4 = 3,
  Zstd = 4,
}

export interface RefusedCandidate {
  /** e.g. 'native (prebuilds/linux-x64)', 'native (build/Release)' */
  candidate: string;
  /** One line a user can act on. */
  reason: string;
  /** The underlying error, kept so nothing is swallowed. */
  cause?: unknown;
}

export interface BackendInfo {
  backend: 'native' | 'fallback';
  crc32c: Crc32cImpl;
  /** True when plain-TCP broker connections run on the io_uring transport (io === 'uring'). */
  ioUring: boolean;
  /** The transport of plain-TCP connections: 'uring' (the native backend's ring) or 'net'
   * (node:net). TLS connections use node:tls either way. */
  io: 'uring' | 'net';
  /** Why that transport: KAFKA_TURBO_IO, the probe's verdict, or what refused io_uring
   * (kernel.io_uring_disabled, seccomp, an old kernel, a build without it). */
  ioReason: string;
  codecs: string[];
  /** Why this backend was picked (environment override, addon loaded, addon refused, ...). */
  reason: string;
  /** Every candidate that was tried and refused before the one picked. */
  refused: RefusedCandidate[];
}

/** A record header. Keys are strings on the wire (UTF-8); values are bytes or null. */
export interface RecordHeaderInput {
  key: string;
  value: Buffer | null;
}

/** One record as handed to a backend: key and value already serialized. */
export interface RecordInput {
  key: Buffer | null;
  value: Buffer | null;
  headers: readonly RecordHeaderInput[] | null;
  /** Create time, ms since the epoch. */
  timestamp: number;
}

/** The fixed fields of a record batch v2 header that the caller decides. */
export interface BatchHeaderInput {
  /** -1n when not idempotent. */
  producerId: bigint;
  /** -1 when not idempotent. */
  producerEpoch: number;
  /** -1 when not idempotent. */
  baseSequence: number;
  /** Set the transactional bit (attributes bit 4). */
  transactional: boolean;
  codec: CodecId;
  /** The codec's level (compression.<codec>.level); undefined = the codec's default. */
  compressionLevel?: number;
}

/**
 * One buffer.memory for several accumulators: the bytes every accumulator created with the
 * pool holds (encoded records and batch headers, from append() until complete()) count
 * against one limit, as in the Java producer's single BufferPool. A producer keeps one
 * accumulator per lane (KafkaJS sends may pick their own acks, timeout and codec) and one
 * pool for all of them. Opaque: only the backend that made it can use it.
 */
export interface BufferPool {
  /** Bytes left under the limit (0 when used up; Infinity for an unlimited pool). */
  available(): number;
  /** The limit it was created with. */
  total(): number;
}

export interface AccumulatorConfig {
  /** batch.size: a batch closes when the next record would take it past this many bytes
   * (header included), or when an append() call ends with it at this size or more. */
  batchSize: number;
  /** How far the records of one append() call after its first may grow a batch (bytes,
   * header included; batchSize <= maxBatchSize <= 2147483586; undefined: batchSize). The
   * producer passes max.request.size, so that a send of many records to a partition is one
   * batch (as KafkaJS makes) rather than a batch every batch.size bytes: the brokers' cost is
   * per batch and per request. A record on its own (a call's first) still closes a batch at
   * batch.size, as in the Java producer. */
  maxBatchSize?: number;
  /** linger.ms: how long a non-full batch waits for more records. */
  lingerMs: number;
  /** buffer.memory: bytes of records the accumulator may hold, drained or not, until complete().
   * Ignored when `pool` is given: the pool's total is the limit. */
  bufferMemory: number;
  /** Count against this shared pool (from the same backend's createBufferPool) instead of a
   * limit of the accumulator's own. */
  pool?: BufferPool;
  /** Batches are compressed with this codec when drained, kept compressed only when smaller. */
  codec: CodecId;
  /** The codec's level (compression.<codec>.level); undefined = the codec's default. */
  compressionLevel?: number;
}

/** What append() did. */
export interface AppendResult {
  /** How many records (from the front of the input) were taken. Fewer than given means
   * buffer.memory is exhausted: the caller waits for complete() to free memory and then
   * appends the rest. */
  appended: number;
  /** The batches the taken records went into, in order, as flat pairs
   * [batchId, recordCount, batchId, recordCount, ...]. A record's offset delta inside its
   * batch is its position among the records appended to that batch so far. */
  batches: number[];
}

export interface ReadyResult {
  /** Partitions (caller's ids) whose first batch may be drained now. */
  partitions: number[];
  /** Milliseconds until the next batch will become ready by linger (Infinity when none). */
  nextReadyInMs: number;
}

/** Per-partition producer state stamped into a batch when it is drained. */
export interface DrainStamp {
  producerId: bigint;
  producerEpoch: number;
  transactional: boolean;
  /** baseSequences[i] is the sequence for partitions[i]'s batch, or -1. */
  baseSequences: readonly number[] | null;
}

export interface DrainedBatch {
  batchId: number;
  partition: number;
  recordCount: number;
  /** The whole record batch (v2), CRC included, ready to go into a ProduceRequest. When the
   * batch is `held`, reading this makes a Buffer over the native memory (held.toBuffer()). */
  readonly bytes: Buffer;
  /** Create time of the batch (ms since the epoch) for delivery.timeout.ms. */
  createdMs: number;
  /** The native backend on the io_uring transport: the batch stays in native memory (no
   * Buffer made) until complete() of its id; the ring writes it from there. */
  held?: HeldRecords;
}

/** A batch that was removed without being drained (expired or aborted). */
export interface RemovedBatch {
  batchId: number;
  partition: number;
  recordCount: number;
}

export interface BatchResult {
  batchId: number;
  /** Error code from the broker (0 = none) or -1 for a client-side failure. */
  errorCode: number;
}

export interface AccumulatorStats {
  /** Bytes this accumulator counts against buffer.memory right now (its own part of a shared
   * pool). */
  bufferedBytes: number;
  /** Batches not yet drained. */
  undrainedBatches: number;
  recordsCompleted: number;
  recordsFailed: number;
}

/**
 * Per-producer record accumulator. All methods run on the JS thread.
 * Partitions are small non-negative integers the caller assigns (one per topic-partition).
 */
export interface RecordAccumulator {
  append(partition: number, records: readonly RecordInput[], nowMs: number): AppendResult;
  /** append() of records that each came on their own (one-record sends gathered during a
   * tick): the same batches as one append() call per record, in one call. Stops at the
   * first record not taken, as append() does. */
  appendEach(partition: number, records: readonly RecordInput[], nowMs: number): AppendResult;
  /** Which partitions have a sendable batch: full, lingered, or everything when flushing. */
  ready(nowMs: number, flushing: boolean): ReadyResult;
  /** Take at most one batch from each partition, in order, closing and encoding it, until
   * the bytes taken would pass maxBytes (the first batch is always taken). */
  drain(partitions: readonly number[], maxBytes: number, stamp: DrainStamp): DrainedBatch[];
  /** Remove undrained batches created at or before `createdBeforeMs` (delivery.timeout.ms). */
  expire(createdBeforeMs: number): RemovedBatch[];
  /** Remove every undrained batch (close without flushing, fatal errors). */
  abortAll(): RemovedBatch[];
  /** Drained batches are finished: free their memory and count their records. */
  complete(results: readonly BatchResult[]): void;
  /** True when any partition holds undrained records. */
  hasUndrained(): boolean;
  /**
   * The partitions the sender cannot send now (their leader's in-flight slots all taken, a
   * throttled broker, retries waiting, ordering holding them back); every partition not
   * named is sendable. Replaces the previous set. While blocked, a partition's open batch
   * takes every record up to maxBatchSize (not only a call's later ones) and stays open past
   * batch.size, ready all the same: a batch that would wait anyway grows, where a new batch
   * would queue behind it (issue 16). A batch queued behind another of its partition grows
   * the same way, blocked or not (one batch per partition per request). When a partition
   * leaves the set, its only batch, if at batch.size or more, closes. Ids that cannot be
   * partitions are ignored; after destroy() it does nothing.
   */
  setBlocked(partitions: readonly number[]): void;
  stats(): AccumulatorStats;
  /**
   * The producer is done with it (close): removes every undrained batch and returns them as
   * abortAll() does, so the caller can fail their records; forgets drained batches not yet
   * completed (their bytes leave a shared pool now); stops its compression work and frees
   * its native memory at once instead of whenever the garbage collector gets to it.
   * Afterwards append() and drain() throw an Error with code ERR_ACCUMULATOR_DESTROYED;
   * the other methods answer as an empty accumulator (complete() ignores every id), because
   * a sender may still settle in-flight batches or run once more after a close. A second
   * destroy() returns [].
   */
  destroy(): RemovedBatch[];
}

export interface Backend {
  readonly info: BackendInfo;
  /** The byte stream this backend brings for plain-TCP connections (the native backend's
   * io_uring ring); absent: node:net. */
  readonly transport?: Transport;
  /** CRC32C (Castagnoli) of buf, continuing from `init` (0 to start). */
  crc32c(buf: Uint8Array, init?: number): number;
  /** Encode one whole record batch v2 with offsets 0..n-1 (used by tests and benches; the
   * accumulator produces the same bytes). */
  encodeRecordBatch(records: readonly RecordInput[], header: BatchHeaderInput): Buffer;
  createAccumulator(config: AccumulatorConfig): RecordAccumulator;
  /** A buffer.memory of `totalBytes` (>= 0, Infinity allowed) to share between accumulators
   * (AccumulatorConfig.pool). */
  createBufferPool(totalBytes: number): BufferPool;
}
