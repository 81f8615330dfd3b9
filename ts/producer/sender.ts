/**
 * The sender: turns ready batches into ProduceRequests and their responses into completed
 * records. It runs on the JS thread, woken by appends, linger timers, retry backoffs and
 * responses, never on a fixed tick. It follows the Java client's Sender (and, for the
 * idempotent producer, its TransactionManager: ./transaction-manager.ts).
 *
 *   ready()  → which partitions have a sendable batch (full, lingered, flushing, memory
 *              waiters, retry due)
 *   drain()  → per leader, one batch per partition up to max.request.size; the idempotent
 *              producer stamps producer id, epoch and base sequence here
 *   produce  → one request per leader per lane, at most max.in.flight per connection
 *   complete → per batch: success; MESSAGE_TOO_LARGE → split in halves and resent; retriable
 *              → back to its partition's retry queue in sequence order; else fail it
 *
 * A "lane" is one (acks, request timeout, codec) combination: KafkaJS lets each send() call
 * choose them, so records of different lanes go into different batches and requests. Retry
 * order and sequences are per partition, across lanes.
 *
 * Failure rules (each from the Java client):
 * - delivery.timeout.ms bounds a batch from creation to its outcome, in flight too: a batch
 *   in flight past it fails at once (its memory is released when the request ends, since the
 *   socket may still be writing it), and the idempotent producer marks its partition
 *   unresolved (transaction-manager.ts).
 * - Retries go out oldest first; a partition with a batch waiting to be retried sends nothing
 *   newer. With idempotence a retried batch goes only as the partition's first unfinished
 *   batch; without it, order is kept only with max.in.flight=1 (as in Java).
 * - record_errors (Produce v8+) fail the records they name with their own message; the rest of
 *   the batch fails with the batch error (Java's InvalidRecordException handling).
 * - throttle_time_ms (KIP-219): nothing more is sent to that broker until the time has passed.
 * - current_leader / node_endpoints (KIP-951): a refused partition's new leader is taken at once.
 * - User code (sinks, callbacks) that throws is caught and reported through onUserError: one
 *   record's callback never stops the others from settling.
 */
import { performance } from 'node:perf_hooks';
import { microtask } from '../microtask.js';
import type { BatchHeaderInput, BatchResult, CodecId, DrainedBatch, RecordAccumulator, RecordInput } from '../backend/types.js';
import { ApiKey } from '../protocol/api-keys.js';
import { InitProducerId } from '../protocol/init-producer-id.js';
import { encodeProduceChunks, isHeldRecords, Produce, type HeldRecords, type ProducePartitionResponse, type ProduceResponse } from '../protocol/produce.js';
import { decodeRecordBatches, restampProducerState } from '../protocol/record-batch.js';
import { errorForCode, ErrorCode, isStaleMetadataError } from '../protocol/error-codes.js';
import { initCodecs } from '../compression/index.js';
import {
  KafkaJSError,
  KafkaJSNumberOfRetriesExceeded,
  KafkaJSProtocolError,
  KafkaJSTimeout,
} from '../errors.js';
import type { ProducerMetrics } from '../metrics/producer-metrics.js';
import { produceChannel, produceContext, subscribed } from '../metrics/tracing.js';
import type { RequestOptions, ResponseHandler } from '../net/connection.js';
import type { Broker, Cluster } from './cluster.js';
import type { ResolvedConfig } from './options.js';
import type { PartitionLoad } from './partitioners.js';
import type { PendingRecord } from './record.js';
import { TransactionManager } from './transaction-manager.js';

/** A topic-partition the producer has used; `id` is its index in Sender.partitions and the
 * partition number the backends see. Its retry queue is shared by every lane. */
export class TopicPartition {
  /** Batches waiting to be sent again, oldest (lowest sequence) first. While any wait, the
   * partition sends nothing newer. */
  readonly retries: BatchEntry[] = [];
  /** Batches of this partition in requests on the wire (for max.in.flight=1 ordering). */
  onWire = 0;
  /** Batches of this partition in the accumulator, not drained yet (adaptive partitioning's
   * queue size): counted when the core opens one, uncounted when drained or removed. */
  queued = 0;
  constructor(
    readonly id: number,
    readonly topic: string,
    readonly partition: number,
  ) {}
}

/** What a flush() waits for: the batches unfinished when it was called (and the appends then
 * still waiting for metadata or memory). Resolves when `pending` reaches 0. */
export class FlushBarrier {
  pending = 1; // the caller's own hold, released once every unit is registered
  readonly done: Promise<void>;
  private resolve!: () => void;
  constructor() {
    this.done = new Promise((r) => (this.resolve = r));
  }
  release(): void {
    if (--this.pending === 0) this.resolve();
  }
}

/** Batches split after MESSAGE_TOO_LARGE share their original's buffer.memory, released (and
 * the original's flush barriers) when the last piece finishes. */
class SplitGroup {
  live = 0;
  constructor(readonly original: BatchEntry) {}
}

/** JavaScript's side of one batch: the records to settle and the retry state. */
export class BatchEntry {
  readonly records: PendingRecord[] = [];
  /** The encoded batch, once drained; retries resend these same bytes (re-stamped after an
   * epoch bump). Held in native memory on the io_uring transport (HeldRecords: no Buffer). */
  bytes: Buffer | HeldRecords | null = null;
  attempts = 0;
  retryAtMs = 0;
  lastError: Error | null = null;
  /** Idempotence: what the batch carries, -1 when none. */
  producerId = -1n;
  producerEpoch = -1;
  baseSequence = -1;
  /** The sequence was rewritten (epoch bump): `bytes` must be re-stamped before the next send. */
  restamp = false;
  sequenceHasBeenReset = false;
  /** Settled (records told) — a late response only releases memory. */
  done = false;
  /** In a request whose outcome is not known yet (or being decoded for a split). */
  onWire = false;
  /** Settled while on the wire: its memory goes back to the accumulator when the request ends
   * (the socket may still be writing its bytes). */
  memoryPending = false;
  /** Set on the pieces of a split batch (and on the original, which keeps the memory). */
  split: SplitGroup | null = null;
  /** flush() calls waiting for this batch. */
  barriers: FlushBarrier[] | null = null;
  constructor(
    /** The accumulator's batch id, or -1 for the pieces of a split batch. */
    readonly id: number,
    readonly tp: TopicPartition,
    readonly createdMs: number,
    readonly lane: Lane,
  ) {
    if (id >= 0 && createdMs < lane.createdAtLeastMs) lane.createdAtLeastMs = createdMs;
  }
}

export class Lane {
  /** False while the lane's codec is still initializing: nothing is drained until then. */
  ready = true;
  /** Set when the lane can never send (its codec failed to initialize). */
  failure: Error | null = null;
  /** Every unfinished batch of the lane that the accumulator counts, by its batch id. */
  readonly batches = new Map<number, BatchEntry>();
  /** The partitions last given to accumulator.setBlocked(). */
  blocked: readonly number[] = [];
  /** No batch of the lane's accumulator was created before this (ms): a lower bound, lowered
   * by every new batch (BatchEntry's constructor, with the time the accumulator was given) and
   * made exact again only when delivery.timeout.ms passes it, so that a run asks the
   * accumulator to expire batches only when one may be that old (Sender.run). */
  createdAtLeastMs = Infinity;
  constructor(
    readonly acks: 0 | 1 | -1,
    readonly timeoutMs: number,
    readonly accumulator: RecordAccumulator,
    readonly codec: CodecId,
    readonly compressionLevel: number | undefined,
  ) {}
}

/** What one run may send to one leader in one lane. */
interface Work {
  lane: Lane;
  node: number;
  retry: BatchEntry[];
  fresh: number[];
}

/** The work of (lane, node), added after the last entry of its lane so that a lane's nodes
 * stay together, lanes in first-seen order and each lane's nodes in first-seen order. */
function slot(work: Work[], lane: Lane, node: number): Work {
  let at = work.length;
  for (let i = 0; i < work.length; i++) {
    const w = work[i]!;
    if (w.lane !== lane) continue;
    if (w.node === node) return w;
    at = i + 1;
  }
  const w: Work = { lane, node, retry: [], fresh: [] };
  if (at === work.length) work.push(w);
  else work.splice(at, 0, w);
  return w;
}

/**
 * One ProduceRequest on its way: the connection's handler for its response (requestWith():
 * one object per request, no closures or promise) and what the in-flight delivery timeout
 * walks (Sender.calls, a list threaded through the calls themselves).
 */
export class ProduceCall implements ResponseHandler<ProduceResponse | null> {
  prev: ProduceCall | null = null;
  next: ProduceCall | null = null;

  constructor(
    private readonly sender: Sender,
    readonly node: number,
    readonly lane: Lane,
    readonly batches: BatchEntry[],
    public oldestCreatedMs: number,
    /** performance.now() when written, with metrics on (else 0). */
    readonly sentAt: number,
  ) {}

  onResponse(res: ProduceResponse | null): void {
    this.sender.produceAnswered(this, res);
  }

  onError(err: Error): void {
    this.sender.produceFailed(this, err);
  }
}

/** The calls in flight, in the order they were written: a list through ProduceCall.prev/next
 * (a Set's entry per request allocated on every delete). */
class CallList {
  private head: ProduceCall | null = null;
  private tail: ProduceCall | null = null;

  add(c: ProduceCall): void {
    c.prev = this.tail;
    c.next = null;
    if (this.tail) this.tail.next = c;
    else this.head = c;
    this.tail = c;
  }

  delete(c: ProduceCall): void {
    if (c.prev) c.prev.next = c.next;
    else if (this.head === c) this.head = c.next;
    else return; // not in the list
    if (c.next) c.next.prev = c.prev;
    else this.tail = c.prev;
    c.prev = c.next = null;
  }

  /** The oldest call; walk on with `.next`, read before acting on the call (a visited call
   * may be removed). */
  first(): ProduceCall | null {
    return this.head;
  }
}

/** Encodes a whole batch with the backend (split batches). */
export type BatchEncoder = (records: readonly RecordInput[], header: BatchHeaderInput) => Buffer;

export class Sender implements PartitionLoad {
  readonly partitions: TopicPartition[] = [];
  private readonly byName = new Map<string, TopicPartition[]>();
  readonly lanes = new Map<string, Lane>();
  /** Produce requests in flight per broker node. */
  private readonly nodeInflight = new Map<number, number>();
  /** KIP-219: a broker that throttled us gets nothing before this time (ms since the epoch). */
  private readonly throttledUntil = new Map<number, number>();
  private readonly calls = new CallList();
  /** succeed()'s and succeedOne()'s one result (see there). */
  private readonly oneResult: BatchResult[] = [{ batchId: 0, errorCode: 0 }];
  /** Batches being decoded for a split (MESSAGE_TOO_LARGE). */
  private readonly splitting = new Set<BatchEntry>();
  private scheduled = false;
  /** holdWakeups(): a wakeup is noted in wokenWhileHeld instead of queueing a run. */
  private holding = false;
  private wokenWhileHeld = false;
  /** Microtask runs since the last loop turn or response (see wakeup()). */
  private eagerRuns = 0;
  private timer: NodeJS.Timeout | null = null;
  private timerAt = Infinity;
  private stopped = false;
  flushing = 0;
  /** The idempotent producer's state; null when idempotence is off. */
  readonly txn: TransactionManager | null;
  private initializingProducerId = false;
  /** Set when the producer can never send again (e.g. InitProducerId refused for good). */
  fatalError: Error | null = null;
  /** Called after batches complete and free memory (the producer retries blocked appends). */
  onMemoryFreed: () => void = () => undefined;
  /** Called on each run, for the producer's own deadlines (max.block.ms). Returns ms until
   * it next needs a run, or Infinity. */
  onRun: (now: number) => number = () => Infinity;
  /** True while appends wait for buffer.memory: every batch is then sendable (Java: exhausted). */
  memoryWaiting: () => boolean = () => false;
  /** Where exceptions thrown by user code go (the producer's logger). */
  onUserError: (err: unknown, what: string) => void = () => undefined;
  /** Encodes split batches; set by the producer (the backend's encodeRecordBatch). */
  encodeBatch: BatchEncoder | null = null;
  /** The backend's CRC32C, for re-stamping batches after an epoch bump. */
  crc32c: ((b: Uint8Array, init?: number) => number) | undefined = undefined;
  /** Set by the producer: counted once per request, response and failed or retried batch. */
  metrics: ProducerMetrics | null = null;
  /** Per broker: when it last had sendable batches and when it last took some (Java's
   * NodeLatencyStats), for partitioner.availability.timeout.ms. */
  private readonly nodeTimes = new Map<number, { readyMs: number; drainMs: number }>();

  constructor(
    private readonly config: ResolvedConfig,
    private readonly cluster: Cluster,
  ) {
    this.txn = config.idempotent ? new TransactionManager(config) : null;
  }

  topicPartition(topic: string, partition: number): TopicPartition {
    let list = this.byName.get(topic);
    if (!list) {
      list = [];
      this.byName.set(topic, list);
    }
    let tp = list[partition];
    if (!tp) {
      tp = new TopicPartition(this.partitions.length, topic, partition);
      this.partitions.push(tp);
      list[partition] = tp;
    }
    return tp;
  }

  /**
   * Ask for a run soon (coalesced: many appends in one tick make one run).
   *
   * With linger.ms 0 a batch is sendable the moment it has a record, so the run is a
   * microtask (Java's sender thread is woken by the append the same way): it runs once the
   * code that appended has returned, with every append of that stretch in it, and before
   * control goes back to the event loop. An awaited send's request is then written in the
   * same turn as the response before it (on the io_uring transport, in the same submission as
   * the read re-armed for it) instead of one setImmediate later (issue 15: that hop and the
   * loop phase around it were part of the native backend's extra latency). At most
   * EAGER_RUNS such runs follow each other without a loop turn: a run that fails at once and
   * wakes itself again (a retry with no backoff on a dead connection) then goes through
   * setImmediate, so I/O is never starved. With linger.ms > 0 nothing is gained by running
   * sooner, and setImmediate coalesces more.
   */
  wakeup(): void {
    if (this.scheduled || this.stopped) return;
    if (this.holding) {
      this.wokenWhileHeld = true;
      return;
    }
    this.scheduled = true;
    if (this.config.lingerMs === 0 && this.eagerRuns < EAGER_RUNS) {
      this.eagerRuns++;
      microtask(this.runEager);
    } else {
      setImmediate(this.runLater);
    }
  }

  /**
   * The accumulator's tick-end append (core.ts) is itself a microtask: a wakeup during it
   * would queue a second one for the run. Between holdWakeups() and releaseWakeups() a wakeup
   * is only noted, and releaseWakeups() then runs at once where the microtask would have
   * (same eager bound), one hop sooner on every awaited send.
   */
  holdWakeups(): void {
    this.holding = true;
  }

  releaseWakeups(): void {
    this.holding = false;
    if (!this.wokenWhileHeld) return;
    this.wokenWhileHeld = false;
    if (this.scheduled || this.stopped) return;
    if (this.config.lingerMs === 0 && this.eagerRuns < EAGER_RUNS) {
      this.eagerRuns++;
      this.run();
    } else {
      this.wakeup();
    }
  }

  private readonly runEager = (): void => {
    this.scheduled = false;
    this.run();
  };

  private readonly runLater = (): void => {
    this.scheduled = false;
    this.eagerRuns = 0; // a loop turn went by
    this.run();
  };

  private scheduleIn(ms: number, nowMs?: number): void {
    if (!Number.isFinite(ms) || this.stopped) return;
    const at = (nowMs ?? Date.now()) + Math.max(0, ms);
    if (this.timer && this.timerAt <= at) return;
    if (this.timer) clearTimeout(this.timer);
    this.timerAt = at;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.timerAt = Infinity;
      this.eagerRuns = 0;
      this.run();
    }, Math.max(0, Math.ceil(ms)));
  }

  private leaderOf(tp: TopicPartition): number {
    return this.cluster.topics.get(tp.topic)?.partitions[tp.partition]?.leader ?? -1;
  }

  run(): void {
    if (this.stopped) return;
    const now = Date.now();
    let nextMs = this.onRun(now);
    nextMs = Math.min(nextMs, this.expireInflight(now));
    let needMetadata = false;
    const txn = this.txn;
    let canDrain = this.fatalError === null;
    if (txn && canDrain) {
      txn.maybeResolveAndBump();
      if (!txn.hasProducerId()) {
        // A transactional producer gets its id from initTransactions(), through its coordinator.
        if (!txn.isTransactional) this.initProducerId();
        canDrain = false;
      }
      // Transactions: errors to act on, and AddPartitionsToTxn for new partitions (V1).
      if (txn.isTransactional && !txn.beforeDrain((err) => this.abortUndrained(err))) canDrain = false;
    }
    const deliveryTimeoutMs = this.config.deliveryTimeoutMs;
    // Work per lane and node: retries first (in partition order), then fresh partitions. A
    // list searched in place (lanes × leaders is small), grouped by lane in first-seen order
    // as a map of maps would be, without two maps and a closure on every run.
    const work: Work[] = [];
    for (const lane of this.lanes.values()) {
      if (lane.failure) this.failLane(lane, lane.failure);
      if (!lane.ready) continue;
      // Batches that waited in the accumulator past delivery.timeout.ms fail here. Every batch
      // the accumulator holds has its entry in lane.batches until it finishes, so when none of
      // those is that old the accumulator is not asked (a call into the backend per run).
      const createdBefore = now - deliveryTimeoutMs;
      if (lane.createdAtLeastMs <= createdBefore) {
        let oldest = Infinity;
        for (const b of lane.batches.values()) if (b.createdMs < oldest) oldest = b.createdMs;
        lane.createdAtLeastMs = oldest;
        if (oldest <= createdBefore) {
          for (const r of lane.accumulator.expire(createdBefore)) {
            const entry = lane.batches.get(r.batchId);
            if (entry) this.failBatch(entry, this.deliveryTimeout(entry), false);
          }
        }
      }
    }
    if (canDrain) {
      for (const tp of this.partitions) {
        const queue = tp.retries;
        if (queue.length === 0) continue;
        const head = queue[0]!;
        if (now - head.createdMs >= deliveryTimeoutMs) {
          queue.shift();
          this.failBatch(head, this.deliveryTimeout(head), true);
          nextMs = 0;
          continue;
        }
        if (head.retryAtMs > now) {
          nextMs = Math.min(nextMs, head.retryAtMs - now);
          continue;
        }
        if (txn ? !txn.retryAllowed(head) : this.config.maxInFlight === 1 && tp.onWire > 0) continue;
        const leader = this.leaderOf(tp);
        if (leader < 0) {
          needMetadata = true;
          continue;
        }
        slot(work, head.lane, leader).retry.push(head);
      }
      const flushing = this.flushing > 0 || this.memoryWaiting();
      for (const lane of this.lanes.values()) {
        if (!lane.ready || lane.failure) continue;
        const { partitions, nextReadyInMs } = lane.accumulator.ready(now, flushing);
        nextMs = Math.min(nextMs, nextReadyInMs);
        for (const id of partitions) {
          const tp = this.partitions[id]!;
          if (tp.retries.length > 0) continue;
          if (txn ? txn.freshAllowed(id) === null : this.config.maxInFlight === 1 && tp.onWire > 0) continue;
          const leader = this.leaderOf(tp);
          if (leader < 0) {
            needMetadata = true;
            continue;
          }
          slot(work, lane, leader).fresh.push(id);
        }
      }
    }
    for (let k = 0; k < work.length; k++) {
      const w = work[k]!;
      const lane = w.lane;
      const node = w.node;
      this.nodeReady(node, now);
      if ((this.nodeInflight.get(node) ?? 0) >= this.config.maxInFlight) continue;
      const until = this.throttledUntil.get(node) ?? 0;
      if (until > now) {
        nextMs = Math.min(nextMs, until - now);
        continue;
      }
      const broker = this.cluster.broker(node);
      if (!broker) {
        needMetadata = true;
        continue;
      }
      const batches: BatchEntry[] = [];
      let bytes = 0;
      for (const entry of w.retry) {
        if (bytes > 0 && bytes + entry.bytes!.length > this.config.maxRequestSize) break;
        entry.tp.retries.shift();
        if (entry.restamp) {
          const held = entry.bytes!;
          if (isHeldRecords(held)) held.restamp(entry.producerId, entry.producerEpoch, entry.baseSequence);
          else restampProducerState(held, entry.producerId, entry.producerEpoch, entry.baseSequence, this.crc32c);
          entry.restamp = false;
        }
        batches.push(entry);
        bytes += entry.bytes!.length;
      }
      if (w.fresh.length > 0 && (bytes === 0 || bytes < this.config.maxRequestSize)) {
        this.drainFresh(lane, w.fresh, this.config.maxRequestSize - bytes, batches);
      }
      if (batches.length > 0) this.produce(node, broker, lane, batches);
    }
    if (needMetadata) {
      this.cluster.requestUpdate();
      nextMs = Math.min(nextMs, this.config.retryBackoffMs);
    }
    this.tellBlocked(now);
    this.scheduleIn(nextMs);
  }

  /**
   * Tells each lane's accumulator which partitions cannot be sent until something changes
   * (issue 16): their leader has all max.in.flight slots taken or is throttled, retries wait,
   * or max.in.flight=1 ordering holds them. Their open batch then grows past batch.size
   * instead of a new batch queueing behind it. Recomputed after every drain; a response
   * that frees a slot wakes a run, which lets the partition go.
   */
  private tellBlocked(now: number): void {
    const blocked: number[] = [];
    const maxInFlight = this.config.maxInFlight;
    for (const tp of this.partitions) {
      let held = tp.retries.length > 0 || (maxInFlight === 1 && tp.onWire > 0);
      if (!held) {
        const leader = this.leaderOf(tp);
        held =
          leader >= 0 &&
          ((this.nodeInflight.get(leader) ?? 0) >= maxInFlight || (this.throttledUntil.get(leader) ?? 0) > now);
      }
      if (held) blocked.push(tp.id);
    }
    for (const lane of this.lanes.values()) {
      if (sameIds(lane.blocked, blocked)) continue;
      lane.accumulator.setBlocked(blocked);
      lane.blocked = blocked;
    }
  }

  /** Drain fresh batches of `partitions` into `out`, stamping sequences when idempotent. */
  private drainFresh(lane: Lane, partitions: number[], maxBytes: number, out: BatchEntry[]): void {
    const txn = this.txn;
    if (!txn) {
      const drained = lane.accumulator.drain(partitions, maxBytes, NOT_IDEMPOTENT);
      for (const d of drained) out.push(this.attach(lane, d));
      return;
    }
    const states = new Map(partitions.map((id) => [id, txn.freshAllowed(id)!]));
    const drained = lane.accumulator.drain(partitions, maxBytes, {
      producerId: txn.producerId,
      producerEpoch: txn.producerEpoch,
      transactional: txn.isTransactional,
      baseSequences: partitions.map((id) => states.get(id)!.nextSequence),
    });
    for (const d of drained) {
      const entry = this.attach(lane, d);
      txn.addDrained(states.get(d.partition)!, entry, d.recordCount);
      out.push(entry);
    }
  }

  private attach(lane: Lane, d: DrainedBatch): BatchEntry {
    const entry = lane.batches.get(d.batchId)!;
    entry.bytes = d.held ?? d.bytes;
    entry.tp.queued--;
    return entry;
  }

  /** InitProducerId (idempotent producer) to the least-loaded broker; retried with backoff. */
  private initProducerId(): void {
    if (this.initializingProducerId || this.stopped) return;
    this.initializingProducerId = true;
    const attempt = async (): Promise<void> => {
      const broker = this.cluster.leastLoadedBroker();
      if (!broker) {
        await this.cluster.refresh();
        throw new KafkaJSError('No broker known yet for InitProducerId', { retriable: true });
      }
      await broker.ensureReady();
      const version = broker.version(InitProducerId);
      const res = await broker.conn.request(
        ApiKey.InitProducerId,
        version,
        version >= InitProducerId.flexibleFrom,
        InitProducerId.encode(version, { transactionalId: null, transactionTimeoutMs: 60000, producerId: -1n, producerEpoch: -1 }),
        InitProducerId.decode,
      );
      if (res.errorCode !== ErrorCode.NONE) throw new KafkaJSProtocolError(errorForCode(res.errorCode));
      this.txn!.setProducerIdAndEpoch(res.producerId, res.producerEpoch);
    };
    attempt().then(
      () => {
        this.initializingProducerId = false;
        this.wakeup();
      },
      (err: Error) => {
        this.initializingProducerId = false;
        if (this.stopped) return;
        if ((err as { retriable?: boolean }).retriable === true) {
          // Coordinator loading, connection refused, ...: try again after the backoff.
          this.scheduleIn(this.config.retryBackoffMs);
          return;
        }
        // e.g. CLUSTER_AUTHORIZATION_FAILED: the producer can never send (Java: fatal error).
        this.fatalError = err;
        this.abortUndrained(err);
      },
    );
  }

  private produce(node: number, broker: Broker, lane: Lane, batches: BatchEntry[]): void {
    this.nodeInflight.set(node, (this.nodeInflight.get(node) ?? 0) + 1);
    let oldest = Infinity;
    for (const b of batches) {
      b.tp.onWire++;
      b.onWire = true;
      if (b.createdMs < oldest) oldest = b.createdMs;
    }
    const metrics = this.metrics;
    const call = new ProduceCall(this, node, lane, batches, oldest, metrics ? performance.now() : 0);
    this.calls.add(call);
    if (!subscribed(produceChannel) && !broker.isClosed() && broker.isReady()) {
      // The common case: the call is the connection's handler, no promise (requestWith()).
      // The response is handled in the read callback that decoded it; errors come from a
      // microtask. The bookkeeping below comes after the write: it then runs while the
      // request is on its way, not before it leaves.
      try {
        this.writeProduce(broker, lane, batches, call);
      } catch (err) {
        microtask(() => call.onError(err as Error));
      }
      this.afterWrite(node, batches, oldest);
      return;
    }
    this.afterWrite(node, batches, oldest);
    // Traced (the diagnostics channel's tracePromise wants a promise), or a connection that is
    // not ready yet (ensureReady's promise): the same handler on a promise. A plain function,
    // not an async one (an async function returning the request's promise costs a promise and
    // two more microtask jobs). A throw becomes a rejection.
    const send = (): Promise<ProduceResponse | null> => {
      try {
        if (broker.isClosed() || !broker.isReady()) return broker.ensureReady().then(() => this.writeProducePromise(broker, lane, batches));
        return this.writeProducePromise(broker, lane, batches);
      } catch (err) {
        return Promise.reject(err);
      }
    };
    const request = subscribed(produceChannel)
      ? produceChannel.tracePromise(send, produceContext(node, broker.conn.broker, lane.acks, batches))
      : send();
    request.then(
      (res) => call.onResponse(res),
      (err: Error) => call.onError(err),
    );
  }

  /** A ProduceRequest is written (or queued on its connection): metrics, the node's drain
   * time, and a run at its batches' delivery deadline, even if the request never ends (a
   * paused broker). The clock is read after the write, not taken from the run: the timer's
   * delay counts from now, so an earlier reading would set it late by the write's time. */
  private afterWrite(node: number, batches: readonly BatchEntry[], oldestCreatedMs: number): void {
    const nowMs = Date.now();
    if (this.metrics) this.metrics.requestSent(node, batches, nowMs);
    const times = this.nodeTimes.get(node);
    if (times) times.drainMs = nowMs;
    this.scheduleIn(this.config.deliveryTimeoutMs - (nowMs - oldestCreatedMs), nowMs);
  }

  /** The request of `call` has ended: its slot and its batches' on-wire marks go back. */
  private callEnded(call: ProduceCall): void {
    this.nodeInflight.set(call.node, this.nodeInflight.get(call.node)! - 1);
    this.calls.delete(call);
    for (const b of call.batches) {
      b.tp.onWire--;
      b.onWire = false;
    }
  }

  /** ProduceCall.onResponse. */
  produceAnswered(call: ProduceCall, res: ProduceResponse | null): void {
    this.callEnded(call);
    this.eagerRuns = 0; // a response came in: the loop is turning
    const metrics = this.metrics;
    const nowMs = Date.now();
    if (metrics) metrics.responseReceived(call.node, performance.now() - call.sentAt, res ? res.throttleTimeMs : 0, nowMs);
    this.handleResponse(call.node, call.lane, call.batches, res);
    // A slot is free: appends made before the next run (the settled sends' own
    // continuations) must not grow a batch that can now be sent.
    this.tellBlocked(nowMs);
    if (this.runNeededAfterResponse()) this.wakeup();
  }

  /** ProduceCall.onError. */
  produceFailed(call: ProduceCall, err: Error): void {
    this.callEnded(call);
    // The whole request failed (connection lost, timeout, broker gone): every batch in it
    // may or may not have been written; retry them all (as the Java client does).
    this.cluster.requestUpdate();
    for (const b of call.batches) this.completeBatch(b, null, err, -1);
    this.tellBlocked(Date.now());
    this.wakeup();
  }

  private writeProducePromise(broker: Broker, lane: Lane, batches: BatchEntry[]): Promise<ProduceResponse | null> {
    return new Promise((resolve, reject) => this.writeProduce(broker, lane, batches, { onResponse: resolve, onError: reject }));
  }

  /** Encodes the ProduceRequest of `batches` (one lane, one leader) and hands it to the
   * connection. */
  private writeProduce(
    broker: Broker,
    lane: Lane,
    batches: BatchEntry[],
    handler: ResponseHandler<ProduceResponse | null>,
  ): void {
    // A transactional producer on transactions V2 speaks Produce v12 (transaction-manager.ts).
    const produce = this.txn?.produceDescriptor() ?? Produce;
    const version = broker.version(produce);
    const body = encodeProduceChunks(produce, version, {
      transactionalId: this.txn?.transactionalId ?? null,
      acks: lane.acks,
      timeoutMs: lane.timeoutMs,
      topicData: topicData(batches),
    });
    broker.conn.requestWith(ApiKey.Produce, version, version >= Produce.flexibleFrom, body, produce.decode, handler, lane.acks !== 0 ? EXPECT_RESPONSE : NO_RESPONSE);
  }

  /**
   * Whether the run a response wakes could do anything. When no lane holds a batch (none
   * waiting, in flight or to retry: each is in its lane's map until it finishes), nothing is
   * being split, no append waits for memory and the idempotence state is settled, that run
   * would find nothing, and it used to run before the settled sends' continuations could
   * append the next record (~5 µs on every awaited send, then a second run for the append).
   * The append wakes its own run; timers armed by earlier runs stay armed.
   */
  private runNeededAfterResponse(): boolean {
    for (const lane of this.lanes.values()) if (lane.batches.size > 0 || lane.failure !== null) return true;
    if (this.splitting.size > 0 || this.fatalError !== null || this.memoryWaiting()) return true;
    return this.txn !== null && !this.txn.idle();
  }

  private handleResponse(node: number, lane: Lane, batches: BatchEntry[], res: ProduceResponse | null): void {
    if (res === null) {
      // acks=0: written is all we will ever know.
      this.succeed(lane, batches, null);
      return;
    }
    if (res.throttleTimeMs > 0) this.throttledUntil.set(node, Date.now() + res.throttleTimeMs);
    if (batches.length === 1 && res.responses.length === 1 && res.responses[0]!.partitionResponses.length === 1) {
      // One batch answered without error (an awaited send's request): no matching and no
      // per-response arrays.
      const t = res.responses[0]!;
      const p = t.partitionResponses[0]!;
      const b = batches[0]!;
      if (p.errorCode === ErrorCode.NONE && p.index === b.tp.partition && t.name === b.tp.topic) {
        this.succeedOne(lane, b, Number(p.baseOffset), Number(p.logAppendTimeMs ?? -1n), Number(p.logStartOffset ?? -1n));
        return;
      }
    }
    // Each partition response is matched to its batch once (a repeated one is ignored); the
    // batches no response named are left. A small request (an awaited send's is one batch) is
    // searched in place: no string key per batch and no map per response.
    const answered = new Uint8Array(batches.length);
    const byKey = batches.length > SMALL_REQUEST ? new Map<string, number>() : null;
    if (byKey) for (let i = 0; i < batches.length; i++) byKey.set(`${batches[i]!.tp.topic}\u0000${batches[i]!.tp.partition}`, i);
    const ok: BatchEntry[] = [];
    const offsets: number[] = [];
    let stale = false;
    const failed: [BatchEntry, ProducePartitionResponse][] = [];
    for (const t of res.responses) {
      for (const p of t.partitionResponses) {
        let i = -1;
        if (byKey) {
          i = byKey.get(`${t.name}\u0000${p.index}`) ?? -1;
        } else {
          for (let j = 0; j < batches.length; j++) {
            const tp = batches[j]!.tp;
            if (tp.partition === p.index && tp.topic === t.name) {
              i = j;
              break;
            }
          }
        }
        if (i < 0 || answered[i] === 1) continue;
        answered[i] = 1;
        const b = batches[i]!;
        if (p.errorCode === ErrorCode.NONE) {
          ok.push(b);
          offsets.push(Number(p.baseOffset), Number(p.logAppendTimeMs ?? -1n), Number(p.logStartOffset ?? -1n));
          continue;
        }
        failed.push([b, p]);
        if (isStaleMetadataError(p.errorCode)) stale = true;
        if (p.currentLeader) {
          this.cluster.applyLeaderHint(t.name, p.index, p.currentLeader.leaderId, p.currentLeader.leaderEpoch, res.nodeEndpoints);
        }
      }
    }
    this.succeed(lane, ok, offsets);
    for (const [b, p] of failed) this.completeBatch(b, p, null, Number(p.logStartOffset ?? -1n));
    for (let i = 0; i < batches.length; i++) {
      if (answered[i] === 1) continue;
      const b = batches[i]!;
      this.completeBatch(b, null, new KafkaJSError(`The broker did not answer for ${b.tp.topic}-${b.tp.partition}`, { retriable: true }), -1);
    }
    if (stale) this.cluster.requestUpdate();
  }

  /** The outcome of one batch that did not succeed: a partition error `p`, or `err` for the
   * whole request. As the Java Sender's completeBatch. */
  private completeBatch(b: BatchEntry, p: ProducePartitionResponse | null, requestError: Error | null, logStartOffset: number): void {
    if (b.done) {
      this.releaseDone(b);
      return;
    }
    const code = p ? p.errorCode : -1;
    const err = p ? partitionError(p) : requestError!;
    b.lastError = err;
    if (code === ErrorCode.MESSAGE_TOO_LARGE && b.records.length > 1) {
      this.splitAndRequeue(b, err);
      return;
    }
    const now = Date.now();
    const retriable = (err as { retriable?: boolean }).retriable === true;
    const timedOut = now - b.createdMs >= this.config.deliveryTimeoutMs;
    const canRetry =
      !timedOut &&
      b.attempts < this.config.retries &&
      (this.txn && b.baseSequence >= 0 ? this.txn.canRetry(code, retriable, b, logStartOffset) : retriable);
    if (canRetry) {
      this.requeue(b, now);
      return;
    }
    if (this.txn && code === ErrorCode.DUPLICATE_SEQUENCE_NUMBER) {
      // The broker has it, past the batches whose offsets it remembers: success without an offset.
      this.succeed(b.lane, [b], [-1, -1, -1]);
      return;
    }
    let failure: Error = err;
    if (timedOut && retriable) failure = this.deliveryTimeout(b);
    else if (retriable) failure = new KafkaJSNumberOfRetriesExceeded(err, { retryCount: b.attempts, retryTime: now - b.createdMs });
    // Sequences are reassigned only when the broker surely did not write the batch.
    const adjust = !retriable && code !== -1;
    this.txn?.handleFailed(b, code, adjust);
    if (p && p.recordErrors.length > 0) this.failWithRecordErrors(b, p, failure);
    else this.failBatch(b, failure, true);
  }

  private requeue(b: BatchEntry, now: number): void {
    b.attempts++;
    this.metrics?.recordRetries(b.tp.topic, b.records.length, now);
    const backoff = Math.min(
      this.config.retryBackoffMaxMs,
      this.config.retryBackoffMs * this.config.retryMultiplier ** (b.attempts - 1),
    );
    // Jitter, as the Java client does, so that many producers do not retry in step.
    const j = this.config.retryJitter;
    b.retryAtMs = now + backoff * (1 - j + Math.random() * 2 * j);
    insertRetry(b);
  }

  /**
   * MESSAGE_TOO_LARGE on a batch of more than one record: the broker (or the topic's
   * max.message.bytes) takes less than we sent. Split it in halves and send those, halving
   * again as needed (the Java client, KAFKA-8350). The pieces keep the batch's creation time,
   * its sequences (consecutive) and its memory, which is released when the last piece ends.
   */
  private splitAndRequeue(b: BatchEntry, err: Error): void {
    const encode = this.encodeBatch;
    const bytes = isHeldRecords(b.bytes) ? b.bytes.toBuffer() : b.bytes!;
    const codec = (bytes.length > 22 ? bytes.readInt16BE(21) & 0x07 : 0) as CodecId;
    this.splitting.add(b);
    b.onWire = true; // its bytes are in use: a close meanwhile must not free them
    (codec === 0 ? Promise.resolve() : initCodecs([codec]))
      .then(() => {
        const decoded = decodeRecordBatches(bytes, this.crc32c)[0];
        if (!decoded || !encode || decoded.records.length !== b.records.length) {
          throw new Error('the batch could not be decoded for splitting');
        }
        return decoded;
      })
      .then(
        (batch) => {
          this.splitting.delete(b);
          b.onWire = false;
          if (b.done) return this.releaseDone(b);
          let group = b.split;
          if (group === null) {
            // The original keeps its memory and its flush barriers until every piece is done.
            group = b.split = new SplitGroup(b);
          } else {
            group.live--; // a piece split again gives way to its own pieces
          }
          b.done = true; // its records now belong to the pieces
          const half = Math.ceil(b.records.length / 2);
          for (const [from, to] of [
            [0, half],
            [half, b.records.length],
          ] as const) {
            const piece = new BatchEntry(-1, b.tp, b.createdMs, b.lane);
            for (let i = from; i < to; i++) piece.records.push(b.records[i]!);
            piece.split = group;
            piece.producerId = b.producerId;
            piece.producerEpoch = b.producerEpoch;
            piece.baseSequence = b.baseSequence < 0 ? -1 : b.baseSequence + from;
            piece.sequenceHasBeenReset = b.sequenceHasBeenReset;
            const records = batch.records.slice(from, to).map((r) => ({
              key: r.key,
              value: r.value,
              headers: r.headers.length > 0 ? r.headers : null,
              timestamp: r.timestamp,
            }));
            piece.bytes = encode!(records, {
              producerId: piece.producerId,
              producerEpoch: piece.producerEpoch,
              baseSequence: piece.baseSequence,
              transactional: this.txn?.isTransactional ?? false,
              codec: b.lane.codec,
              compressionLevel: b.lane.compressionLevel,
            });
            group.live++;
            if (piece.baseSequence >= 0) this.txn?.addInflight(piece);
            insertRetry(piece); // due now: the pieces are "not even tried" (Java)
          }
          this.txn?.removeInflight(b);
          this.wakeup();
        },
        (e: Error) => {
          this.splitting.delete(b);
          b.onWire = false;
          if (b.done) return this.releaseDone(b);
          this.txn?.handleFailed(b, ErrorCode.MESSAGE_TOO_LARGE, true);
          this.failBatch(b, new KafkaJSError(`${err.message} (and ${e.message})`, { cause: err, retriable: false }), true);
        },
      );
  }

  /** Records named in record_errors fail with their own message, the others with the batch's error. */
  private failWithRecordErrors(b: BatchEntry, p: ProducePartitionResponse, batchError: Error): void {
    const byIndex = new Map<number, string | null>();
    for (const e of p.recordErrors) byIndex.set(e.batchIndex, e.batchIndexErrorMessage);
    const info = errorForCode(p.errorCode);
    const others = new KafkaJSProtocolError({
      ...info,
      message: `Failed to append record because it was part of a batch which had one or more invalid records${p.errorMessage ? `: ${p.errorMessage}` : ''}`,
    });
    this.txn?.batchFailed(b, batchError);
    this.finish(b, true, (r, i) => {
      if (byIndex.has(i)) {
        const msg = byIndex.get(i);
        this.safeFail(r, new KafkaJSProtocolError({ ...info, message: `${info.message}${msg ? `: ${msg}` : ''}` }));
      } else {
        this.safeFail(r, byIndex.size > 0 ? others : batchError);
      }
    });
  }

  /** Settle the records of acknowledged batches. The backend hears of them once per response
   * (one boundary crossing), before any record settles, so that the memory they free is
   * there for appends the settlements trigger. `offsets` holds [baseOffset, logAppendTime,
   * logStartOffset] per batch, or null for acks=0. */
  private succeed(lane: Lane, ok: readonly BatchEntry[], offsets: readonly number[] | null): void {
    if (ok.length === 0) return;
    let results: BatchResult[] | null = null;
    let only = -1; // the one batch id to complete, while there is one
    for (let k = 0; k < ok.length; k++) {
      const b = ok[k]!;
      // Also for a batch already given up on (in-flight delivery timeout): the broker has it,
      // which resolves its partition's sequences without an epoch bump.
      this.txn?.handleCompleted(b, offsets ? offsets[3 * k]! : -1);
      if (b.done || b.split !== null) continue;
      if (results !== null) {
        results.push({ batchId: b.id, errorCode: 0 });
      } else if (only < 0) {
        only = b.id;
      } else {
        results = [{ batchId: only, errorCode: 0 }, { batchId: b.id, errorCode: 0 }];
      }
    }
    if (results !== null) {
      lane.accumulator.complete(results);
    } else if (only >= 0) {
      // The backends read the results during the call and keep nothing of them.
      const one = this.oneResult;
      one[0]!.batchId = only;
      lane.accumulator.complete(one);
    }
    for (let k = 0; k < ok.length; k++) {
      const b = ok[k]!;
      if (offsets) this.settleOk(lane, b, offsets[3 * k]!, offsets[3 * k + 1]!, offsets[3 * k + 2]!);
      else this.settleOk(lane, b, -1, -1, -1);
    }
    this.onMemoryFreed();
  }

  /** succeed() for one batch and its offsets, without the arrays. */
  private succeedOne(lane: Lane, b: BatchEntry, baseOffset: number, logAppendTime: number, logStartOffset: number): void {
    this.txn?.handleCompleted(b, baseOffset);
    if (!b.done && b.split === null) {
      const one = this.oneResult;
      one[0]!.batchId = b.id;
      lane.accumulator.complete(one);
    }
    this.settleOk(lane, b, baseOffset, logAppendTime, logStartOffset);
    this.onMemoryFreed();
  }

  /** The records of a batch the broker has (accumulator told already): their sends succeed. */
  private settleOk(lane: Lane, b: BatchEntry, baseOffset: number, logAppendTime: number, logStartOffset: number): void {
    if (b.done) {
      this.releaseDone(b);
      return;
    }
    b.done = true;
    if (b.split === null) lane.batches.delete(b.id);
    const recs = b.records;
    for (let i = 0; i < recs.length; i++) {
      const r = recs[i]!;
      try {
        r.sink.ok(r, baseOffset < 0 ? -1 : baseOffset + i, logAppendTime, logStartOffset);
      } catch (e) {
        this.onUserError(e, 'a send callback');
      }
    }
    this.finished(b);
  }

  private safeFail(r: PendingRecord, err: Error): void {
    try {
      r.sink.fail(r, err);
    } catch (e) {
      this.onUserError(e, 'a send callback');
    }
  }

  /** A batch leaves the producer: memory back to the accumulator (unless a request still
   * writes its bytes, or it is a split piece), flush barriers and split groups told. */
  private finish(b: BatchEntry, drained: boolean, settle: (r: PendingRecord, index: number) => void): void {
    if (b.done) return;
    b.done = true;
    this.metrics?.recordErrors(b.tp.topic, b.records.length, Date.now());
    if (b.split === null) {
      if (!drained) b.tp.queued--;
      b.lane.batches.delete(b.id);
      if (drained && b.onWire) b.memoryPending = true;
      else if (drained) b.lane.accumulator.complete([{ batchId: b.id, errorCode: -1 }]);
    }
    const recs = b.records;
    for (let i = 0; i < recs.length; i++) settle(recs[i]!, i);
    this.finished(b);
    this.onMemoryFreed();
  }

  /** Fail every record of a batch. `drained` says whether the accumulator still counts it. */
  failBatch(b: BatchEntry, err: Error, drained: boolean): void {
    if (!b.done) this.txn?.batchFailed(b, err);
    this.finish(b, drained, (r) => this.safeFail(r, err));
  }

  /** A settled batch whose request has ended: its memory goes back now. */
  private releaseDone(b: BatchEntry): void {
    if (!b.memoryPending || b.onWire) return;
    b.memoryPending = false;
    b.lane.accumulator.complete([{ batchId: b.id, errorCode: -1 }]);
    this.onMemoryFreed();
  }

  /** Barriers and split groups learn that `b` has finished. */
  private finished(b: BatchEntry): void {
    if (b.barriers) {
      for (const f of b.barriers) f.release();
      b.barriers = null;
    }
    const group = b.split;
    if (group && b !== group.original && --group.live === 0) {
      const original = group.original;
      original.lane.batches.delete(original.id);
      original.lane.accumulator.complete([{ batchId: original.id, errorCode: 0 }]);
      original.done = true;
      if (original.barriers) {
        for (const f of original.barriers) f.release();
        original.barriers = null;
      }
    }
  }

  /** Fail batches on the wire past delivery.timeout.ms (their requests may never end: a
   * paused broker). Returns ms until the next such deadline. */
  private expireInflight(now: number): number {
    const limit = this.config.deliveryTimeoutMs;
    let next = Infinity;
    for (let req = this.calls.first(), after = req?.next ?? null; req !== null; req = after, after = req?.next ?? null) {
      if (now - req.oldestCreatedMs < limit) {
        next = Math.min(next, limit - (now - req.oldestCreatedMs));
        continue;
      }
      let oldest = Infinity;
      for (const b of req.batches) {
        if (b.done) continue;
        if (now - b.createdMs >= limit) {
          // The broker may still write it: the idempotent producer waits for the partition's
          // other batches before it trusts its sequences again.
          this.txn?.removeInflight(b);
          if (b.baseSequence >= 0) this.txn?.markSequenceUnresolved(b);
          this.failBatch(b, this.deliveryTimeout(b), true);
        } else if (b.createdMs < oldest) {
          oldest = b.createdMs;
        }
      }
      req.oldestCreatedMs = oldest;
      if (Number.isFinite(oldest)) next = Math.min(next, limit - (now - oldest));
    }
    return next;
  }

  private deliveryTimeout(b: BatchEntry): Error {
    return new KafkaJSTimeout(
      `Expiring ${b.records.length} record(s) for ${b.tp.topic}-${b.tp.partition}: ${Date.now() - b.createdMs} ms has passed since batch creation (delivery.timeout.ms=${this.config.deliveryTimeoutMs})`,
      { code: 'DELIVERY_TIMEOUT', cause: b.lastError ?? undefined },
    );
  }

  /** A barrier over every batch unfinished now (flush). The caller adds its own units and
   * then calls release() once. */
  flushBarrier(): FlushBarrier {
    const f = new FlushBarrier();
    for (const lane of this.lanes.values()) {
      for (const b of lane.batches.values()) this.addBarrier(b, f);
    }
    return f;
  }

  addBarrier(b: BatchEntry, f: FlushBarrier): void {
    // A split original is done (its pieces own the records) but finishes with its last piece.
    if (b.done && !(b.split !== null && b.split.original === b && b.split.live > 0)) return;
    if (b.barriers === null) b.barriers = [f];
    else if (b.barriers.includes(f)) return;
    else b.barriers.push(f);
    f.pending++;
  }

  /** A lane that can never send fails every record it holds, and every later one. */
  failLane(lane: Lane, err: Error): void {
    lane.failure = err;
    for (const r of lane.accumulator.abortAll()) {
      const entry = lane.batches.get(r.batchId);
      if (entry) this.failBatch(entry, err, false);
    }
  }

  /** Fail everything not yet sent (close without flush, or a fatal error). */
  abortUndrained(err: Error): void {
    for (const lane of this.lanes.values()) {
      for (const r of lane.accumulator.abortAll()) {
        const entry = lane.batches.get(r.batchId);
        if (entry) this.failBatch(entry, err, false);
      }
    }
    for (const tp of this.partitions) {
      for (const b of tp.retries.splice(0)) this.failBatch(b, err, true);
    }
  }

  /** Fail everything still unsettled, on the wire too (close after its timeout). Memory held
   * by requests still on the wire is released when they end (the connections are closed next). */
  abortAll(err: Error): void {
    this.abortUndrained(err);
    for (let req = this.calls.first(), after = req?.next ?? null; req !== null; req = after, after = req?.next ?? null) {
      for (const b of req.batches) if (!b.done) this.failBatch(b, err, true);
    }
    for (const b of [...this.splitting]) if (!b.done) this.failBatch(b, err, true);
    for (const lane of this.lanes.values()) {
      for (const b of [...lane.batches.values()]) if (!b.done) this.failBatch(b, err, true);
    }
  }

  /** PartitionLoad (adaptive partitioning): batches of the partition waiting to be drained. */
  queueSize(topic: string, partition: number): number {
    return this.byName.get(topic)?.[partition]?.queued ?? 0;
  }

  /** PartitionLoad: false while the partition's leader has had sendable batches for longer
   * than partitioner.availability.timeout.ms without taking any (Java's RecordAccumulator). */
  isAvailable(topic: string, partition: number): boolean {
    const timeout = this.config.partitionAvailabilityTimeoutMs;
    if (timeout <= 0) return true;
    const leader = this.cluster.topics.get(topic)?.partitions[partition]?.leader ?? -1;
    const t = this.nodeTimes.get(leader);
    return t === undefined || t.readyMs - t.drainMs <= timeout;
  }

  private nodeReady(node: number, now: number): void {
    const t = this.nodeTimes.get(node);
    if (t === undefined) this.nodeTimes.set(node, { readyMs: now, drainMs: now });
    else t.readyMs = now;
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }
}

/** Requests of at most this many batches match their partition responses by a scan, larger
 * ones through a map (Sender.handleResponse). */
const SMALL_REQUEST = 16;

/** The two request options a ProduceRequest takes, made once. */
const EXPECT_RESPONSE: RequestOptions = { expectResponse: true };
const NO_RESPONSE: RequestOptions = { expectResponse: false };

/** Microtask runs in a row before a wake-up waits for a loop turn (Sender.wakeup). */
const EAGER_RUNS = 16;

const NOT_IDEMPOTENT = { producerId: -1n, producerEpoch: -1, transactional: false, baseSequences: null } as const;

/** Puts a batch into its partition's retry queue, oldest first: by sequence when there is
 * one, else by creation (batch ids grow with it). */
function insertRetry(b: BatchEntry): void {
  const queue = b.tp.retries;
  let i = queue.length;
  while (i > 0 && retryOrder(queue[i - 1]!, b) > 0) i--;
  queue.splice(i, 0, b);
}

/** Retry queue order: by base sequence when both have one, else by creation. */
function retryOrder(a: BatchEntry, b: BatchEntry): number {
  if (a.baseSequence >= 0 && b.baseSequence >= 0 && a.producerEpoch === b.producerEpoch) return a.baseSequence - b.baseSequence;
  return a.createdMs - b.createdMs || a.id - b.id;
}

/** The error of one partition response, with the broker's message when it sent one. */
function partitionError(p: ProducePartitionResponse): Error {
  const info = errorForCode(p.errorCode);
  return new KafkaJSProtocolError(p.errorMessage ? { ...info, message: `${info.message}: ${p.errorMessage}` } : info);
}

function sameIds(a: readonly number[], b: readonly number[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** The request's topic_data: batches grouped by topic, topics in first-seen order, partitions
 * in batch order. One topic (the usual request) needs no map. */
function topicData(batches: readonly BatchEntry[]): { name: string; partitionData: { index: number; records: Buffer | HeldRecords }[] }[] {
  const first = batches[0]!.tp.topic;
  let oneTopic = true;
  for (let i = 1; i < batches.length; i++) {
    if (batches[i]!.tp.topic !== first) {
      oneTopic = false;
      break;
    }
  }
  if (oneTopic) {
    const partitionData: { index: number; records: Buffer | HeldRecords }[] = [];
    for (let i = 0; i < batches.length; i++) partitionData.push({ index: batches[i]!.tp.partition, records: batches[i]!.bytes! });
    return [{ name: first, partitionData }];
  }
  const byTopic = new Map<string, { index: number; records: Buffer | HeldRecords }[]>();
  for (const b of batches) {
    let list = byTopic.get(b.tp.topic);
    if (!list) byTopic.set(b.tp.topic, (list = []));
    list.push({ index: b.tp.partition, records: b.bytes! });
  }
  return [...byTopic].map(([name, partitionData]) => ({ name, partitionData }));
}
