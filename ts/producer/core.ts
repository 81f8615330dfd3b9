/**
 * ProducerCore: what both API surfaces (the Java-style Producer and the KafkaJS facade) sit
 * on. It owns the backend accumulators, the cluster view, the partitioner and the sender,
 * and implements the append path:
 *
 *   enqueue(topic, records) → wait for topic metadata if needed (up to max.block.ms)
 *                          → partition each record
 *                          → accumulator.append per partition, one call per run of records
 *                          → when buffer.memory is full, wait in order (up to max.block.ms)
 *
 * Nothing here throws at the caller for a bad record: each record's sink is told.
 */
import { microtask } from '../microtask.js';
import { EventEmitter } from 'node:events';
import { CodecId, type Backend, type RecordInput } from '../backend/types.js';
import { codecFor, codecName, initCodecs } from '../compression/index.js';
import { getBackend } from '../backend/load.js';
import { RECORD_BATCH_OVERHEAD, recordSizeUpperBound } from '../protocol/record-batch.js';
import { errorForCode, ErrorCode } from '../protocol/error-codes.js';
import {
  BufferExhaustedError,
  ConfigError,
  KafkaJSError,
  KafkaJSProtocolError,
  KafkaJSTimeout,
  ProducerClosedError,
  RecordTooLargeError,
} from '../errors.js';
import { ProducerMetrics } from '../metrics/producer-metrics.js';
import { Cluster, CONNECTION_EVENTS, type TopicState } from './cluster.js';
import type { Acks, ResolvedConfig } from './options.js';
import { resolvePartitioner, type PartitionFn, type ResolvedPartitioner } from './partitioners.js';
import type { PendingRecord } from './record.js';
import { BatchEntry, FlushBarrier, Lane, Sender, type TopicPartition } from './sender.js';
import type { TransactionManager } from './transaction-manager.js';

/** One record ready to append: serialized, with its pending handle. `partition` is the
 * caller's explicit choice or undefined for the partitioner. */
export interface Outgoing {
  partition: number | undefined;
  input: RecordInput;
  pending: PendingRecord;
}

export interface LaneOptions {
  acks: Acks;
  timeoutMs: number;
  codec: CodecId;
}

/**
 * The most one-record sends a run group holds before they are appended without waiting for
 * the tick's end. A loop that sends 200k records in one tick would otherwise keep every
 * record's input object (and the scratch that packs them, regrown per call past what the
 * native backend keeps) alive through the scavenges the loop triggers; runs of a few hundred
 * already cost the backend as little per record as longer ones.
 */
export const RUN_GROUP_LIMIT = 512;

/** One partition's records of a call, partitioned by the caller (the KafkaJS facade's send
 * of many messages), all settled through one PendingRecord (see enqueueRuns). */
export interface PartitionRun {
  partition: number;
  inputs: RecordInput[];
  pending: PendingRecord;
}

/** One partition's share of ProducerCore's run (see runLane). */
interface RunGroup {
  tp: TopicPartition;
  inputs: RecordInput[];
  pendings: PendingRecord[];
}

interface Waiting {
  topic: string;
  items: Outgoing[];
  lane: Lane;
  sinceMs: number;
  /** flush() calls that wait for these records (each holds one unit of the barrier). */
  barriers?: FlushBarrier[] | null;
}

/** A run group's records from `from` on, as waiting items. */
/** appendOne()'s input array (one element during the call, empty otherwise). */
const ONE_INPUT: RecordInput[] = [];

function toOutgoing(tp: TopicPartition, inputs: readonly RecordInput[], pendings: readonly PendingRecord[], from: number): Outgoing[] {
  const items: Outgoing[] = [];
  for (let i = from; i < inputs.length; i++) items.push({ partition: tp.partition, input: inputs[i]!, pending: pendings[i]! });
  return items;
}

/** A partition run's records from `from` on, as waiting items (their PendingRecord shared). */
function runOutgoing(run: PartitionRun, from: number): Outgoing[] {
  const items: Outgoing[] = [];
  for (let i = from; i < run.inputs.length; i++) items.push({ partition: run.partition, input: run.inputs[i]!, pending: run.pending });
  return items;
}

/** Record bytes beyond key and value that a record without headers can take at most
 * (recordSizeUpperBound: length, attributes, timestamp and offset deltas, the two length
 * varints, the header count): below the limits by more than that, a record cannot be too large. */
const HEADERLESS_RECORD_SLACK = RECORD_BATCH_OVERHEAD + 5 + 1 + 10 + 5 + 5 + 5 + 1;

/** A key's or value's serialized size, -1 for null (as PendingRecord's sizes). */
function sizeOf(b: Buffer | null | undefined): number {
  return b ? b.length : -1;
}

/** Where the core reports what it cannot throw at anyone: exceptions from user callbacks. */
export interface CoreLogger {
  error(message: string, extra?: Record<string, unknown>): void;
}

/** The Java client logs callback exceptions at ERROR; without a logger, so do we (stderr). */
const STDERR_LOGGER: CoreLogger = {
  error: (message, extra) => console.error(`[kafka-turbo] ${message}`, extra ?? ''),
};

export class ProducerCore extends EventEmitter {
  readonly backend: Backend;
  readonly cluster: Cluster;
  readonly sender: Sender;
  /** Java's producer metrics (ts/metrics/), recorded by the sender per request and response. */
  readonly metrics: ProducerMetrics;
  private readonly partitioner: ResolvedPartitioner;
  /** Appends waiting for topic metadata, by topic, in arrival order. */
  private readonly waitingMetadata = new Map<string, Waiting[]>();
  /** Appends waiting for buffer.memory, in arrival order across all partitions. */
  private readonly waitingMemory: Waiting[] = [];
  private metadataRetry: NodeJS.Timeout | null = null;
  /** Set when close() begins: later sends are refused while earlier ones are flushed. */
  private closing: Promise<void> | null = null;
  private closed = false;
  logger: CoreLogger = STDERR_LOGGER;
  /** buffer.memory for every lane together (the Java producer's one BufferPool), made with the first lane. */
  private bufferPool: ReturnType<Backend['createBufferPool']> | undefined;
  /**
   * One-record sends of this tick to one lane, not appended yet, by partition: each would
   * cross into the backend alone (about 1 µs a crossing on the native backend, against
   * 0.2 µs a record in runs of 150, measured), so they are gathered and each partition's
   * handed over in one appendEach() call -- the batches that many one-record appends make
   * (a partition's batches do not depend on the others') -- when a send for another lane
   * comes, at the end of the tick (a microtask, so before the sender's setImmediate run: an
   * awaited send waits no longer), or before anything that reads or changes what is queued
   * (every other path starts with flushRun()).
   */
  private runLane: Lane | null = null;
  private runGroups = new Map<TopicPartition, RunGroup>();
  /** The run's first record while it is its only one (an awaited send's): kept here, not in a
   * group, so that a one-record run makes no map entry, group or arrays. A second record
   * moves it into its partition's group, first. */
  private runOneTp: TopicPartition | null = null;
  private runOneInput: RecordInput | null = null;
  private runOnePending: PendingRecord | null = null;
  /** The map flushRun() swaps in next (it swaps, not clears: a failure's callback may send
   * again while the groups taken are appended). */
  private spareRunGroups: Map<TopicPartition, RunGroup> | null = null;
  /** The group the last send went to (consecutive sends mostly share a partition). */
  private runLast: RunGroup | null = null;
  private runSinceMs = 0;
  private runScheduled = false;
  /** Key and value bytes up to which a record without headers cannot be too large (oversize()). */
  private readonly headerlessLimit: number;
  private readonly runAtTickEnd = (): void => {
    this.runScheduled = false;
    // The run this append wakes goes in this same microtask (Sender.holdWakeups()).
    this.sender.holdWakeups();
    try {
      this.flushRun();
    } finally {
      this.sender.releaseWakeups();
    }
  };

  constructor(
    readonly config: ResolvedConfig,
    partitioner: 'default' | 'sticky' | 'round-robin' | PartitionFn = 'default',
    backend: Backend = getBackend(),
  ) {
    super();
    this.backend = backend;
    this.headerlessLimit = Math.min(config.maxRequestSize, config.bufferMemory) - HEADERLESS_RECORD_SLACK;
    this.cluster = new Cluster(config);
    this.sender = new Sender(config, this.cluster);
    this.partitioner = resolvePartitioner(partitioner, config.batchSize, config.adaptivePartitioning ? this.sender : null);
    this.metrics = new ProducerMetrics(config.clientId, { samples: config.metricsNumSamples, windowMs: config.metricsSampleWindowMs });
    this.metrics.gauges = {
      bufferAvailableBytes: () => (this.bufferPool ? this.bufferPool.available() : config.bufferMemory),
      bufferTotalBytes: () => config.bufferMemory,
      waitingSends: () => this.waitingMemory.length,
      connectionCount: () => this.cluster.connectionCount(),
    };
    this.sender.metrics = this.metrics;
    this.sender.onMemoryFreed = () => this.retryWaitingMemory();
    this.sender.onRun = (now) => this.expireWaiting(now);
    this.sender.memoryWaiting = () => this.waitingMemory.length > 0;
    this.sender.onUserError = (err, what) => this.reportUserError(err, what);
    this.sender.encodeBatch = (records, header) => backend.encodeRecordBatch(records, header);
    this.sender.crc32c = (b, init) => backend.crc32c(b, init);
    this.sender.txn?.attach({
      cluster: this.cluster,
      config,
      wakeup: () => this.sender.wakeup(),
      flush: () => this.flush(),
      abortUndrained: (err) => this.abortUnsent(err),
    });
    this.cluster.on('metadata', () => this.onMetadata());
    // Connection events are forwarded from the cluster once someone listens here (see
    // Cluster.forwarded).
    const forwarded = new Set<string>();
    this.on('newListener', (ev: string | symbol) => {
      if (typeof ev !== 'string' || !CONNECTION_EVENTS.includes(ev) || forwarded.has(ev)) return;
      forwarded.add(ev);
      this.cluster.on(ev, (payload: unknown) => this.emit(ev, payload));
    });
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** True from the moment close() is called: new sends are refused. */
  get isClosing(): boolean {
    return this.closing !== null || this.closed;
  }

  get idempotent(): boolean {
    return this.sender.txn !== null;
  }

  /** An exception thrown by user code (a callback): logged, never rethrown into the producer. */
  reportUserError(err: unknown, what: string): void {
    try {
      const e = err as Error;
      this.logger.error(`An exception was thrown by ${what}; the producer carries on`, {
        error: e?.name ?? typeof err,
        message: e?.message ?? String(err),
        stack: e?.stack,
      });
    } catch {
      // A logger that throws has nowhere left to report to.
    }
  }

  /** The lane for these options, created on first use. Throws (a clear ConfigError) when the
   * backend cannot compress with the codec, e.g. the fallback's package for it is missing. */
  lane(opts: LaneOptions): Lane {
    const key = `${opts.acks}|${opts.timeoutMs}|${opts.codec}`;
    let lane = this.sender.lanes.get(key);
    if (!lane) {
      const level = opts.codec === this.config.codec ? this.config.compressionLevel : undefined;
      let codecsReady: Promise<void> | null = null;
      if (opts.codec !== CodecId.None) {
        const name = codecName(opts.codec);
        if (this.backend.info.backend === 'fallback') {
          codecFor(opts.codec); // throws, naming the npm package, when it is missing
          codecsReady = initCodecs([opts.codec]);
        } else if (!this.backend.info.codecs.includes(name)) {
          throw new ConfigError(`The ${this.backend.info.backend} backend cannot compress with ${name} (it has ${this.backend.info.codecs.join(', ')})`);
        }
      }
      const accumulator = this.backend.createAccumulator({
        batchSize: this.config.batchSize,
        // A send's run of records to one partition stays one batch up to max.request.size
        // (issue 16: the brokers pay per batch); a record on its own still closes at batch.size.
        maxBatchSize: Math.max(this.config.batchSize, Math.min(this.config.maxRequestSize, 2147483586)),
        lingerMs: this.config.lingerMs,
        bufferMemory: this.config.bufferMemory,
        codec: opts.codec,
        compressionLevel: level,
        pool: (this.bufferPool ??= this.backend.createBufferPool(this.config.bufferMemory)),
      });
      const created = new Lane(opts.acks, opts.timeoutMs, accumulator, opts.codec, level);
      lane = created;
      if (codecsReady) {
        // The WebAssembly codecs instantiate asynchronously: batches wait, records are taken.
        created.ready = false;
        codecsReady.then(
          () => {
            created.ready = true;
            this.sender.wakeup();
          },
          (err: Error) => this.sender.failLane(created, err),
        );
      }
      this.sender.lanes.set(key, lane);
    }
    return lane;
  }

  /** Bootstrap: fetch metadata (for `topics`, if any). Rejects when no broker answers. */
  connect(topics: readonly string[] = []): Promise<void> {
    return this.cluster.refresh(topics);
  }

  /** Hand records of one topic to the producer. Outcomes arrive through each record's sink. */
  enqueue(topic: string, items: Outgoing[], lane: Lane): void {
    this.flushRun(); // earlier one-record sends go first
    const refusal = this.refusal();
    if (refusal) {
      this.metrics.recordErrors(topic, items.length, Date.now());
      for (const it of items) it.pending.sink.fail(it.pending, refusal);
      return;
    }
    // Records too large for any request or for the whole buffer fail alone, at once.
    let accepted = items;
    for (let i = 0; i < items.length; i++) {
      const it = items[i]!;
      if (this.tooLarge(it.input, it.pending)) {
        if (accepted === items) accepted = items.slice(0, i);
      } else if (accepted !== items) {
        accepted.push(it);
      }
    }
    if (accepted.length === 0) return;
    const w: Waiting = { topic, items: accepted, lane, sinceMs: Date.now() };
    const topicState = this.cluster.topics.get(topic);
    if (!topicState || topicState.partitions.length === 0 || this.waitingMetadata.has(topic)) {
      this.waitForMetadata(w);
      return;
    }
    this.place(w, topicState);
  }

  /** Why sends are refused now (closing, closed, a fatal error), or null. */
  private refusal(): Error | null {
    if (this.closing !== null || this.closed) return new ProducerClosedError();
    const txn = this.sender.txn;
    if (txn !== null && txn.isTransactional) return txn.sendRefusal();
    return this.sender.fatalError;
  }

  /** The transaction manager, when the producer is transactional (transactional.id). */
  get transactions(): TransactionManager | null {
    const txn = this.sender.txn;
    return txn !== null && txn.isTransactional ? txn : null;
  }

  /** Fail every record not sent yet, with `err` (an aborted transaction, a fatal error):
   * appends waiting for metadata or memory, undrained batches and retry queues. */
  abortUnsent(err: Error): void {
    this.flushRun();
    for (const list of this.waitingMetadata.values()) for (const w of list) this.failWaiting(w, err);
    this.waitingMetadata.clear();
    for (const w of this.waitingMemory.splice(0)) this.failWaiting(w, err);
    this.sender.abortUndrained(err);
  }

  /** enqueue() for one record, without the per-call arrays: the Java-style send() path.
   * `nowMs`: the caller's clock reading for this send, when it has one (one Date.now() per send). */
  enqueueOne(topic: string, partition: number | undefined, input: RecordInput, pending: PendingRecord, lane: Lane, nowMs?: number): void {
    const state = this.cluster.topics.get(topic);
    if (
      this.closing !== null ||
      this.closed ||
      this.sender.fatalError !== null ||
      (this.sender.txn !== null && this.sender.txn.isTransactional && this.sender.txn.state !== 'IN_TRANSACTION') ||
      state === undefined ||
      state.partitions.length === 0 ||
      this.waitingMetadata.size > 0 ||
      this.waitingMemory.length > 0
    ) {
      this.enqueue(topic, [{ partition, input, pending }], lane);
      return;
    }
    if (this.tooLarge(input, pending)) return;
    const p = this.choosePartition(topic, partition, input, pending, state, state.partitions.length);
    if (p === null) return;
    const tp = this.sender.topicPartition(topic, p);
    if (lane !== this.runLane) {
      this.flushRun();
      this.runLane = lane;
      this.runSinceMs = nowMs ?? Date.now();
    }
    const transactional = this.sender.txn !== null && this.sender.txn.isTransactional;
    if (!transactional && this.runOneTp === null && this.runGroups.size === 0) {
      this.runOneTp = tp;
      this.runOneInput = input;
      this.runOnePending = pending;
      if (!this.runScheduled) {
        this.runScheduled = true;
        microtask(this.runAtTickEnd);
      }
      return;
    }
    if (this.runOneTp !== null) {
      const first: RunGroup = { tp: this.runOneTp, inputs: [this.runOneInput!], pendings: [this.runOnePending!] };
      this.runOneTp = null;
      this.runOneInput = null;
      this.runOnePending = null;
      this.runGroups.set(first.tp, first);
      this.runLast = first;
    }
    let group = this.runLast;
    if (group === null || group.tp !== tp) {
      group = this.runGroups.get(tp) ?? null;
      if (group === null) this.runGroups.set(tp, (group = { tp, inputs: [], pendings: [] }));
      this.runLast = group;
    }
    group.inputs.push(input);
    group.pendings.push(pending);
    // A transaction registers its partitions at append: nothing waits there (kept simple).
    if (transactional) this.flushRun();
    else if (group.inputs.length >= RUN_GROUP_LIMIT) {
      // A loop of many sends in one tick: hand this partition's share over now rather than
      // hold every record's input until the tick ends (see RUN_GROUP_LIMIT).
      // (Detached first: a failure's callback may send again, into this same group.)
      const full: RunGroup = { tp, inputs: group.inputs, pendings: group.pendings };
      group.inputs = [];
      group.pendings = [];
      this.appendGroup(lane, full);
    }
    else if (!this.runScheduled) {
      this.runScheduled = true;
      microtask(this.runAtTickEnd);
    }
  }

  /**
   * enqueue() for records the caller has partitioned already, one run per partition in the
   * order the call first reached each (the KafkaJS facade's send of many messages): each
   * run is appended in one call, without the per-record items, the regrouping and the
   * per-call arrays of the general path. Anything that path would make wait or fail (no
   * metadata yet, memory waiters, a closing producer, transactions, a record too large, a
   * partition the topic does not have) goes through enqueue() instead, with the same outcome.
   */
  enqueueRuns(topic: string, runs: readonly PartitionRun[], lane: Lane): void {
    this.flushRun(); // earlier one-record sends go first
    const state = this.cluster.topics.get(topic);
    let fast =
      this.closing === null &&
      !this.closed &&
      this.sender.fatalError === null &&
      this.sender.txn?.isTransactional !== true &&
      state !== undefined &&
      state.partitions.length > 0 &&
      this.waitingMetadata.size === 0 &&
      this.waitingMemory.length === 0;
    if (fast) {
      const numPartitions = state!.partitions.length;
      for (let r = 0; r < runs.length && fast; r++) {
        const run = runs[r]!;
        if (!Number.isInteger(run.partition) || run.partition < 0 || run.partition >= numPartitions) fast = false;
        const inputs = run.inputs;
        for (let i = 0; i < inputs.length && fast; i++) {
          // A record that may be too large takes the general path, which fails it alone.
          if (this.oversize(inputs[i]!) > 0) fast = false;
        }
      }
    }
    if (!fast) {
      const items: Outgoing[] = [];
      for (const run of runs) for (const it of runOutgoing(run, 0)) items.push(it);
      this.enqueue(topic, items, lane);
      return;
    }
    for (let r = 0; r < runs.length; r++) {
      const run = runs[r]!;
      const tp = this.sender.topicPartition(topic, run.partition);
      // After a run that did not fit, the rest wait behind it (arrival order), as appendTo's.
      const taken = this.waitingMemory.length > 0 ? 0 : this.tryAppend(lane, tp, run.inputs, run.pending);
      if (taken < run.inputs.length) {
        this.waitingMemory.push({ topic, items: runOutgoing(run, taken), lane, sinceMs: Date.now() });
      }
    }
    this.sender.wakeup();
  }

  /** Appends the gathered one-record sends (see runLane); what buffer.memory cannot take yet
   * waits for memory, in order, as a lone send's record would. */
  private flushRun(): void {
    const lane = this.runLane;
    if (lane === null) return;
    this.runLane = null;
    const oneTp = this.runOneTp;
    if (oneTp !== null) {
      // The run's only record (no group was made: see runOneTp).
      const input = this.runOneInput!;
      const pending = this.runOnePending!;
      this.runOneTp = null;
      this.runOneInput = null;
      this.runOnePending = null;
      this.appendOne(lane, oneTp, input, pending);
      this.sender.wakeup();
      return;
    }
    const groups = this.runGroups;
    this.runGroups = this.spareRunGroups ?? new Map();
    this.spareRunGroups = null;
    this.runLast = null;
    for (const group of groups.values()) if (group.inputs.length > 0) this.appendGroup(lane, group);
    groups.clear();
    this.spareRunGroups = groups;
    this.sender.wakeup();
  }

  /** appendGroup() for a run of one record, through a reused one-element array (the backends
   * read their input array during the call and keep nothing of it). */
  private appendOne(lane: Lane, tp: TopicPartition, input: RecordInput, pending: PendingRecord): void {
    let taken = 0;
    if (this.waitingMemory.length === 0) {
      ONE_INPUT[0] = input;
      try {
        taken = this.tryAppend(lane, tp, ONE_INPUT, pending, null, true);
      } catch (err) {
        this.failWaiting({ topic: tp.topic, items: [{ partition: tp.partition, input, pending }], lane, sinceMs: this.runSinceMs }, err as Error);
        return;
      } finally {
        ONE_INPUT.pop();
      }
    }
    if (taken === 0) {
      this.waitingMemory.push({ topic: tp.topic, items: [{ partition: tp.partition, input, pending }], lane, sinceMs: this.runSinceMs });
    }
  }

  /** Appends one run group's records (see flushRun); the caller wakes the sender. */
  private appendGroup(lane: Lane, { tp, inputs, pendings }: RunGroup): void {
    let taken = 0;
    // Once a partition's records wait for memory, the rest wait behind them (arrival order).
    if (this.waitingMemory.length === 0) {
      try {
        taken = this.tryAppend(lane, tp, inputs, pendings, null, true);
      } catch (err) {
        // The backend refused the records (e.g. destroyed): they fail, none is lost.
        this.failWaiting({ topic: tp.topic, items: toOutgoing(tp, inputs, pendings, 0), lane, sinceMs: this.runSinceMs }, err as Error);
        return;
      }
    }
    if (taken < inputs.length) {
      this.waitingMemory.push({ topic: tp.topic, items: toOutgoing(tp, inputs, pendings, taken), lane, sinceMs: this.runSinceMs });
    }
  }

  /** Fails a record too large for any request or for the whole buffer (it fails alone, at once). */
  private tooLarge(input: RecordInput, pending: PendingRecord): boolean {
    const size = this.oversize(input);
    if (size === 0) return false;
    this.metrics.recordErrors(pending.topic, 1, Date.now());
    const [limit, value] =
      size > this.config.maxRequestSize
        ? ['max.request.size', this.config.maxRequestSize]
        : ['buffer.memory', this.config.bufferMemory];
    pending.sink.fail(
      pending,
      new RecordTooLargeError(`The record is ${size} bytes when serialized, which is larger than ${limit} (${value}); it was not sent`),
    );
    return true;
  }

  /** The record's size bound when it is too large for any request or for the whole buffer, else 0. */
  private oversize(input: RecordInput): number {
    if (input.headers === null && sizeOf(input.key) + sizeOf(input.value) <= this.headerlessLimit) return 0;
    const size = RECORD_BATCH_OVERHEAD + recordSizeUpperBound(sizeOf(input.key), sizeOf(input.value), input.headers);
    return size <= this.config.maxRequestSize && size <= this.config.bufferMemory ? 0 : size;
  }

  private waitForMetadata(w: Waiting): void {
    let list = this.waitingMetadata.get(w.topic);
    if (!list) this.waitingMetadata.set(w.topic, (list = []));
    list.push(w);
    this.cluster.refresh([w.topic]).catch((err: Error) => this.onRefreshFailed(err));
    this.sender.wakeup();
  }

  /** A metadata fetch failed. A non-retriable error (an undecodable broker, an authorization
   * failure) fails every record waiting for metadata at once, with that error; anything else
   * is tried again after retry.backoff.ms until max.block.ms. */
  private onRefreshFailed(err: Error): void {
    if (err instanceof KafkaJSError && !err.retriable && !(err instanceof ProducerClosedError)) {
      for (const list of this.waitingMetadata.values()) for (const w of list) this.failWaiting(w, err);
      this.waitingMetadata.clear();
      return;
    }
    this.scheduleMetadataRetry();
  }

  private scheduleMetadataRetry(): void {
    if (this.metadataRetry || this.closed || this.waitingMetadata.size === 0) return;
    this.metadataRetry = setTimeout(() => {
      this.metadataRetry = null;
      if (this.waitingMetadata.size === 0) return;
      this.cluster.refresh([...this.waitingMetadata.keys()]).catch((err: Error) => this.onRefreshFailed(err));
    }, this.config.retryBackoffMs);
  }

  private onMetadata(): void {
    this.flushRun();
    for (const [topic, list] of this.waitingMetadata) {
      const state = this.cluster.topics.get(topic);
      if (!state) continue;
      if (state.errorCode !== ErrorCode.NONE && !errorForCode(state.errorCode).retriable) {
        // e.g. INVALID_TOPIC_EXCEPTION, TOPIC_AUTHORIZATION_FAILED: waiting will not help.
        this.waitingMetadata.delete(topic);
        const err = new KafkaJSProtocolError(errorForCode(state.errorCode));
        for (const w of list) this.failWaiting(w, err);
        continue;
      }
      if (state.partitions.length === 0) continue;
      this.waitingMetadata.delete(topic);
      for (const w of list) this.place(w, state);
    }
    if (this.waitingMetadata.size > 0) this.scheduleMetadataRetry();
    this.sender.wakeup();
  }

  /** Partition and append a topic's records (metadata known). */
  private place(w: Waiting, state: TopicState): void {
    const numPartitions = state.partitions.length;
    const items = w.items;
    // One append call per partition the call touches (not per record): records are grouped
    // by partition, keeping their order within each partition.
    if (items.length === 1) {
      const it = items[0]!;
      const p = this.choosePartition(w.topic, it.partition, it.input, it.pending, state, numPartitions);
      if (p !== null) this.appendTo(w.lane, this.sender.topicPartition(w.topic, p), items, w.sinceMs, w.barriers);
      this.releaseBarriers(w);
      return;
    }
    const groups = new Map<number, Outgoing[]>();
    for (const it of items) {
      const p = this.choosePartition(w.topic, it.partition, it.input, it.pending, state, numPartitions);
      if (p === null) continue;
      const g = groups.get(p);
      if (g) g.push(it);
      else groups.set(p, [it]);
    }
    for (const [p, group] of groups) this.appendTo(w.lane, this.sender.topicPartition(w.topic, p), group, w.sinceMs, w.barriers);
    this.releaseBarriers(w);
  }

  /** A waiting append's flush barriers: its records have moved on (into batches, another
   * wait, or a failure), each of which took its own unit. */
  private releaseBarriers(w: Waiting): void {
    if (!w.barriers) return;
    for (const f of w.barriers) f.release();
    w.barriers = null;
  }

  private holdBarriers(w: Waiting, barriers: FlushBarrier[] | null | undefined): Waiting {
    if (barriers && barriers.length > 0) {
      w.barriers = [...barriers];
      for (const f of barriers) f.pending++;
    }
    return w;
  }

  private choosePartition(
    topic: string,
    explicit: number | undefined,
    input: RecordInput,
    pending: PendingRecord,
    state: TopicState,
    numPartitions: number,
  ): number | null {
    if (explicit !== undefined) {
      if (explicit < 0 || explicit >= numPartitions || !Number.isInteger(explicit)) {
        this.failOne(
          pending,
          new KafkaJSProtocolError({
            ...errorForCode(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION),
            message: `Partition ${explicit} of topic ${topic} does not exist (the topic has ${numPartitions} partitions)`,
          }),
        );
        return null;
      }
      return explicit;
    }
    try {
      const key = this.config.partitionerIgnoreKeys ? null : input.key;
      const p = this.partitioner.partition({
        topic,
        key,
        value: input.value,
        numPartitions,
        availablePartitions: state.availablePartitions,
      });
      // Only keyless records move the sticky partition along (as in the Java client).
      if (key === null) this.partitioner.onAppend(topic, p, sizeOf(input.key) + sizeOf(input.value));
      return p;
    } catch (err) {
      this.failOne(pending, err as Error);
      return null;
    }
  }

  private appendTo(
    lane: Lane,
    tp: TopicPartition,
    items: Outgoing[],
    sinceMs: number,
    barriers?: FlushBarrier[] | null,
  ): void {
    if (this.waitingMemory.length > 0) {
      // Someone is already waiting for memory: keep arrival order.
      this.waitingMemory.push(
        this.holdBarriers({ topic: tp.topic, items: items.map((x) => ({ ...x, partition: tp.partition })), lane, sinceMs }, barriers),
      );
      this.sender.wakeup();
      return;
    }
    const taken = this.tryAppendItems(lane, tp, items, barriers);
    if (taken < items.length) {
      this.waitingMemory.push(
        this.holdBarriers(
          { topic: tp.topic, items: items.slice(taken).map((x) => ({ ...x, partition: tp.partition })), lane, sinceMs },
          barriers,
        ),
      );
    }
    this.sender.wakeup();
  }

  /** Append as many as fit; returns how many were taken. `pendings[i]` belongs to `inputs[i]`;
   * one PendingRecord instead of an array stands for every record of the call (a PartitionRun's). */
  private tryAppend(
    lane: Lane,
    tp: TopicPartition,
    inputs: readonly RecordInput[],
    pendings: readonly PendingRecord[] | PendingRecord,
    barriers?: FlushBarrier[] | null,
    each = false,
  ): number {
    const now = Date.now();
    const res = each ? lane.accumulator.appendEach(tp.id, inputs, now) : lane.accumulator.append(tp.id, inputs, now);
    if (res.appended > 0 && this.sender.txn !== null && this.sender.txn.isTransactional) this.sender.txn.maybeAddPartition(tp);
    const b = res.batches;
    let k = 0;
    for (let i = 0; i < b.length; i += 2) {
      const id = b[i]!;
      const count = b[i + 1]!;
      let entry = lane.batches.get(id);
      if (!entry) {
        lane.batches.set(id, (entry = new BatchEntry(id, tp, now, lane)));
        tp.queued++;
      }
      if (barriers) for (const f of barriers) this.sender.addBarrier(entry, f);
      const records = entry.records;
      if (Array.isArray(pendings)) {
        for (let c = 0; c < count; c++) {
          const pending = pendings[k++]!;
          pending.partition = tp.partition;
          records.push(pending);
        }
      } else {
        const pending = pendings as PendingRecord;
        pending.partition = tp.partition;
        for (let c = 0; c < count; c++) records.push(pending);
      }
    }
    return res.appended;
  }

  /** tryAppend() for Outgoing items. */
  private tryAppendItems(lane: Lane, tp: TopicPartition, items: readonly Outgoing[], barriers?: FlushBarrier[] | null): number {
    return this.tryAppend(lane, tp, items.map((x) => x.input), items.map((x) => x.pending), barriers);
  }

  private retryWaitingMemory(): void {
    this.flushRun();
    // Nobody waits for memory: there is nothing new to send (issue 15: this woke an empty
    // sender run on every response; an append wakes its own).
    if (this.waitingMemory.length === 0) return;
    while (this.waitingMemory.length > 0) {
      const w = this.waitingMemory[0]!;
      const tp = this.sender.topicPartition(w.topic, w.items[0]!.partition!);
      const taken = this.tryAppendItems(w.lane, tp, w.items, w.barriers);
      if (taken < w.items.length) {
        w.items = w.items.slice(taken);
        break;
      }
      this.waitingMemory.shift();
      const now = Date.now();
      this.metrics.recordBufferWait(now - w.sinceMs, now);
      this.releaseBarriers(w);
    }
    this.sender.wakeup();
  }

  /** Fail appends that waited longer than max.block.ms; returns ms until the next deadline. */
  private expireWaiting(now: number): number {
    // The sender's run starts here: what this tick gathered is appended before it looks.
    this.flushRun();
    const limit = this.config.maxBlockMs;
    let next = Infinity;
    while (this.waitingMemory.length > 0) {
      const w = this.waitingMemory[0]!;
      if (now - w.sinceMs < limit) {
        next = Math.min(next, limit - (now - w.sinceMs));
        break;
      }
      this.waitingMemory.shift();
      this.metrics.recordBufferWait(now - w.sinceMs, now);
      this.failWaiting(
        w,
        new BufferExhaustedError(
          `Failed to allocate memory within the configured max blocking time ${limit} ms (buffer.memory=${this.config.bufferMemory})`,
        ),
      );
    }
    for (const [topic, list] of this.waitingMetadata) {
      while (list.length > 0 && now - list[0]!.sinceMs >= limit) {
        const w = list.shift()!;
        const last = this.cluster.lastError;
        const state = this.cluster.topics.get(topic);
        const err =
          state && state.errorCode !== ErrorCode.NONE
            ? new KafkaJSProtocolError({
                ...errorForCode(state.errorCode),
                message: `Topic ${topic} not present in metadata after ${limit} ms: ${errorForCode(state.errorCode).message}`,
              })
            : new KafkaJSTimeout(
                `Topic ${topic} not present in metadata after ${limit} ms${last ? `: ${last.message}` : ''}`,
                { code: last ? ((last as { code?: string }).code ?? 'METADATA_TIMEOUT') : 'METADATA_TIMEOUT', cause: last ?? undefined },
              );
        this.failWaiting(w, err);
      }
      if (list.length === 0) this.waitingMetadata.delete(topic);
      else next = Math.min(next, limit - (now - list[0]!.sinceMs));
    }
    return next;
  }

  private failOne(pending: PendingRecord, err: Error): void {
    this.metrics.recordErrors(pending.topic, 1, Date.now());
    pending.sink.fail(pending, err);
  }

  private failWaiting(w: Waiting, err: Error): void {
    this.metrics.recordErrors(w.topic, w.items.length, Date.now());
    for (const it of w.items) {
      try {
        it.pending.sink.fail(it.pending, err);
      } catch (e) {
        this.reportUserError(e, 'a send callback');
      }
    }
    this.releaseBarriers(w);
    this.sender.wakeup();
  }

  /**
   * Send everything buffered now and resolve when every record sent before this call has
   * settled (the Java flush: records sent after it do not hold it up). While a flush is
   * pending every batch is sendable, linger or not (Java's flushInProgress). With `timeoutMs`
   * it rejects with a KafkaJSTimeout after that long; the records go on regardless.
   */
  flush(timeoutMs = Infinity): Promise<void> {
    this.flushRun();
    const barrier = this.sender.flushBarrier();
    for (const list of this.waitingMetadata.values()) for (const w of list) this.holdBarriers(w, [barrier]);
    for (const w of this.waitingMemory) this.holdBarriers(w, [barrier]);
    this.sender.flushing++;
    this.sender.wakeup();
    barrier.release();
    const done = barrier.done.finally(() => {
      this.sender.flushing--;
    });
    if (!Number.isFinite(timeoutMs)) return done;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new KafkaJSTimeout(`flush() did not complete within ${timeoutMs} ms`, { code: 'FLUSH_TIMEOUT' })),
        timeoutMs,
      );
    });
    return Promise.race([done, timeout]).finally(() => clearTimeout(timer));
  }

  /**
   * Refuse new sends at once (PRODUCER_CLOSED), flush what was sent before (unless `force`),
   * then release every socket and timer. With `timeoutMs` (Java's close(Duration)) whatever
   * has not settled by then fails with ProducerClosedError. Resolves when nothing of the
   * producer is left running.
   */
  close(opts: { force?: boolean; timeoutMs?: number } = {}): Promise<void> {
    this.flushRun(); // sends made before close() are the producer's to deliver or fail
    if (this.closing) return this.closing;
    if (this.closed) return Promise.resolve();
    this.closing = (async () => {
      const limit = opts.force ? 0 : (opts.timeoutMs ?? Infinity);
      const txn = this.transactions;
      if (limit > 0 && txn !== null && txn.hasOngoingTransaction()) {
        // As the Java producer's sender on shutdown: an open transaction is aborted, not left
        // for the coordinator to time out (its records would hold back read_committed readers).
        const aborted = txn.abortTransaction().catch(() => undefined);
        let timer: NodeJS.Timeout | undefined;
        if (Number.isFinite(limit)) await Promise.race([aborted, new Promise((r) => (timer = setTimeout(r, limit)))]);
        else await aborted;
        clearTimeout(timer);
      }
      // New sends are refused from here on, so flushing waits for everything sent before close();
      // a flush that runs out of time leaves the rest to fail below.
      if (limit > 0) await this.flush(limit).catch(() => undefined);
      this.closed = true;
      this.sender.txn?.close();
      const err = new ProducerClosedError('The producer was closed before the record was sent');
      for (const list of this.waitingMetadata.values()) for (const w of list) this.failWaiting(w, err);
      this.waitingMetadata.clear();
      for (const w of this.waitingMemory.splice(0)) this.failWaiting(w, err);
      this.sender.abortAll(err);
      // Frees native memory and compression work now (in-flight bytes live on in their Buffers).
      for (const lane of this.sender.lanes.values()) lane.accumulator.destroy();
      if (this.metadataRetry) clearTimeout(this.metadataRetry);
      this.metadataRetry = null;
      this.sender.stop();
      await this.cluster.close();
    })();
    return this.closing;
  }
}
