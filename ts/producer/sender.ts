/**
 * The sender: turns ready batches into ProduceRequests and their responses into completed
 * records. It runs on the JS thread, woken by appends, linger timers, retry backoffs and
 * responses, never on a fixed tick.
 *
 *   ready()  → which partitions have a sendable batch (full, lingered, flushing, retry due)
 *   drain()  → per leader, one batch per partition up to max.request.size
 *   produce  → one request per leader per lane, at most max.in.flight per connection
 *   complete → resolve each record, or retry the batch in order, or fail it
 *
 * A "lane" is one (acks, request timeout, codec) combination: KafkaJS lets each send() call
 * choose them, so records of different lanes go into different batches and requests.
 */
import type { DrainedBatch, RecordAccumulator } from '../backend/types.js';
import { ApiKey } from '../protocol/api-keys.js';
import { Produce, type ProduceResponse } from '../protocol/produce.js';
import { errorForCode, ErrorCode } from '../protocol/error-codes.js';
import {
  KafkaJSError,
  KafkaJSNumberOfRetriesExceeded,
  KafkaJSProtocolError,
  KafkaJSTimeout,
} from '../errors.js';
import type { Cluster } from './cluster.js';
import type { ResolvedConfig } from './options.js';
import type { PendingRecord } from './record.js';

/** A topic-partition the producer has used; `id` is its index in Sender.partitions and the
 * partition number the backends see. */
export interface TopicPartition {
  readonly id: number;
  readonly topic: string;
  readonly partition: number;
}

/** JavaScript's side of one batch: the records to settle and the retry state. */
export class BatchEntry {
  readonly records: PendingRecord[] = [];
  /** The encoded batch, once drained; retries resend these same bytes. */
  bytes: Buffer | null = null;
  attempts = 0;
  retryAtMs = 0;
  lastError: Error | null = null;
  constructor(
    readonly id: number,
    readonly tp: TopicPartition,
    readonly createdMs: number,
  ) {}
}

export class Lane {
  /** False while the lane's codec is still initializing: nothing is drained until then. */
  ready = true;
  /** Set when the lane can never send (its codec failed to initialize). */
  failure: Error | null = null;
  readonly batches = new Map<number, BatchEntry>();
  /** Batches waiting to be sent again, per partition id, oldest first. A partition with
   * waiting retries sends nothing newer until they are out (order). */
  readonly retries = new Map<number, BatchEntry[]>();
  /** Batches in flight per partition id (for max.in.flight=1 ordering). */
  readonly inflight = new Map<number, number>();
  constructor(
    readonly acks: 0 | 1 | -1,
    readonly timeoutMs: number,
    readonly accumulator: RecordAccumulator,
  ) {}
}

export class Sender {
  readonly partitions: TopicPartition[] = [];
  private readonly byName = new Map<string, TopicPartition[]>();
  readonly lanes = new Map<string, Lane>();
  /** Produce requests in flight per broker node. */
  private readonly nodeInflight = new Map<number, number>();
  private scheduled = false;
  private timer: NodeJS.Timeout | null = null;
  private timerAt = Infinity;
  /** Records appended and not yet settled, for flush() and close(). */
  pendingRecords = 0;
  flushing = 0;
  private idleWaiters: (() => void)[] = [];
  /** Called after batches complete and free memory (the producer retries blocked appends). */
  onMemoryFreed: () => void = () => undefined;
  /** Called on each run, for the producer's own deadlines (max.block.ms). Returns ms until
   * it next needs a run, or Infinity. */
  onRun: (now: number) => number = () => Infinity;

  constructor(
    private readonly config: ResolvedConfig,
    private readonly cluster: Cluster,
  ) {}

  topicPartition(topic: string, partition: number): TopicPartition {
    let list = this.byName.get(topic);
    if (!list) {
      list = [];
      this.byName.set(topic, list);
    }
    let tp = list[partition];
    if (!tp) {
      tp = { id: this.partitions.length, topic, partition };
      this.partitions.push(tp);
      list[partition] = tp;
    }
    return tp;
  }

  /** Ask for a run soon (coalesced: many appends in one tick make one run). */
  wakeup(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.run();
    });
  }

  private scheduleIn(ms: number): void {
    if (!Number.isFinite(ms)) return;
    const at = Date.now() + Math.max(0, ms);
    if (this.timer && this.timerAt <= at) return;
    if (this.timer) clearTimeout(this.timer);
    this.timerAt = at;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.timerAt = Infinity;
      this.run();
    }, Math.max(0, Math.ceil(ms)));
  }

  private leaderOf(tp: TopicPartition): number {
    return this.cluster.topics.get(tp.topic)?.partitions[tp.partition]?.leader ?? -1;
  }

  run(): void {
    const now = Date.now();
    let nextMs = this.onRun(now);
    let needMetadata = false;
    for (const lane of this.lanes.values()) {
      if (lane.failure) this.failLane(lane, lane.failure);
      if (!lane.ready) continue;
      // Batches that waited in the accumulator past delivery.timeout.ms fail here.
      for (const r of lane.accumulator.expire(now - this.config.deliveryTimeoutMs)) {
        const entry = lane.batches.get(r.batchId);
        if (entry) this.failBatch(lane, entry, this.deliveryTimeout(entry), false);
      }
      const flushing = this.flushing > 0;
      const { partitions, nextReadyInMs } = lane.accumulator.ready(now, flushing);
      nextMs = Math.min(nextMs, nextReadyInMs);
      const byNode = new Map<number, { retry: BatchEntry[]; fresh: number[] }>();
      const slot = (node: number) => {
        let s = byNode.get(node);
        if (!s) byNode.set(node, (s = { retry: [], fresh: [] }));
        return s;
      };
      for (const [id, queue] of lane.retries) {
        const head = queue[0]!;
        if (now - head.createdMs >= this.config.deliveryTimeoutMs) {
          queue.shift();
          if (queue.length === 0) lane.retries.delete(id);
          this.failBatch(lane, head, this.deliveryTimeout(head), true);
          continue;
        }
        if (head.retryAtMs > now) {
          nextMs = Math.min(nextMs, head.retryAtMs - now);
          continue;
        }
        const leader = this.leaderOf(head.tp);
        if (leader < 0) {
          needMetadata = true;
          continue;
        }
        if (this.config.maxInFlight === 1 && (lane.inflight.get(id) ?? 0) > 0) continue;
        slot(leader).retry.push(head);
      }
      for (const id of partitions) {
        if (lane.retries.has(id)) continue;
        if (this.config.maxInFlight === 1 && (lane.inflight.get(id) ?? 0) > 0) continue;
        const leader = this.leaderOf(this.partitions[id]!);
        if (leader < 0) {
          needMetadata = true;
          continue;
        }
        slot(leader).fresh.push(id);
      }
      for (const [node, work] of byNode) {
        if ((this.nodeInflight.get(node) ?? 0) >= this.config.maxInFlight) continue;
        const broker = this.cluster.broker(node);
        if (!broker) {
          needMetadata = true;
          continue;
        }
        const batches: BatchEntry[] = [];
        let bytes = 0;
        for (const entry of work.retry) {
          if (bytes > 0 && bytes + entry.bytes!.length > this.config.maxRequestSize) break;
          const queue = lane.retries.get(entry.tp.id)!;
          queue.shift();
          if (queue.length === 0) lane.retries.delete(entry.tp.id);
          batches.push(entry);
          bytes += entry.bytes!.length;
        }
        if (work.fresh.length > 0 && (bytes === 0 || bytes < this.config.maxRequestSize)) {
          const drained = lane.accumulator.drain(work.fresh, this.config.maxRequestSize - bytes, {
            producerId: -1n,
            producerEpoch: -1,
            transactional: false,
            baseSequences: null,
          });
          for (const d of drained) batches.push(this.attach(lane, d));
        }
        if (batches.length > 0) this.produce(node, lane, batches);
      }
    }
    if (needMetadata) {
      this.cluster.requestUpdate();
      nextMs = Math.min(nextMs, this.config.retryBackoffMs);
    }
    this.scheduleIn(nextMs);
    this.checkIdle();
  }

  private attach(lane: Lane, d: DrainedBatch): BatchEntry {
    const entry = lane.batches.get(d.batchId)!;
    entry.bytes = d.bytes;
    return entry;
  }

  private produce(node: number, lane: Lane, batches: BatchEntry[]): void {
    const broker = this.cluster.broker(node)!;
    this.nodeInflight.set(node, (this.nodeInflight.get(node) ?? 0) + 1);
    for (const b of batches) lane.inflight.set(b.tp.id, (lane.inflight.get(b.tp.id) ?? 0) + 1);
    const done = () => {
      this.nodeInflight.set(node, this.nodeInflight.get(node)! - 1);
      for (const b of batches) lane.inflight.set(b.tp.id, lane.inflight.get(b.tp.id)! - 1);
      this.wakeup();
    };
    const send = async (): Promise<ProduceResponse | null> => {
      await broker.ensureReady();
      const version = broker.version(Produce);
      const byTopic = new Map<string, { index: number; records: Buffer }[]>();
      for (const b of batches) {
        let list = byTopic.get(b.tp.topic);
        if (!list) byTopic.set(b.tp.topic, (list = []));
        list.push({ index: b.tp.partition, records: b.bytes! });
      }
      const body = Produce.encode(version, {
        transactionalId: null,
        acks: lane.acks,
        timeoutMs: lane.timeoutMs,
        topicData: [...byTopic].map(([name, partitionData]) => ({ name, partitionData })),
      });
      return broker.conn.request(ApiKey.Produce, version, version >= Produce.flexibleFrom, body, Produce.decode, {
        expectResponse: lane.acks !== 0,
      });
    };
    send().then(
      (res) => {
        done();
        this.handleResponse(lane, batches, res);
      },
      (err: Error) => {
        done();
        // The whole request failed (connection lost, timeout, broker gone): every batch in it
        // may or may not have been written; retry them all (as the Java client does).
        this.cluster.requestUpdate();
        for (const b of batches) this.retryOrFail(lane, b, err);
      },
    );
  }

  private handleResponse(lane: Lane, batches: BatchEntry[], res: ProduceResponse | null): void {
    if (res === null) {
      // acks=0: written is all we will ever know.
      this.succeedAll(lane, batches, null);
      return;
    }
    const byKey = new Map<string, BatchEntry>();
    for (const b of batches) byKey.set(`${b.tp.topic}\u0000${b.tp.partition}`, b);
    const ok: BatchEntry[] = [];
    const offsets: number[] = [];
    const failed: [BatchEntry, Error][] = [];
    let stale = false;
    for (const t of res.responses) {
      for (const p of t.partitionResponses) {
        const key = `${t.name}\u0000${p.index}`;
        const b = byKey.get(key);
        if (!b) continue;
        byKey.delete(key);
        if (p.errorCode === ErrorCode.NONE) {
          ok.push(b);
          offsets.push(Number(p.baseOffset), Number(p.logAppendTimeMs ?? -1n), Number(p.logStartOffset ?? -1n));
          continue;
        }
        const info = errorForCode(p.errorCode);
        failed.push([b, new KafkaJSProtocolError(p.errorMessage ? { ...info, message: `${info.message}: ${p.errorMessage}` } : info)]);
        if (STALE_METADATA.has(p.errorCode)) stale = true;
      }
    }
    for (const b of byKey.values()) {
      failed.push([b, new KafkaJSError(`The broker did not answer for ${b.tp.topic}-${b.tp.partition}`)]);
    }
    this.succeedAll(lane, ok, offsets);
    for (const [b, err] of failed) this.retryOrFail(lane, b, err);
    if (stale) this.cluster.requestUpdate();
  }

  /** Settle the records of acknowledged batches. The backend hears of them once per response
   * (one boundary crossing), before any record settles, so that the memory they free is
   * there for appends the settlements trigger. `offsets` holds [baseOffset, logAppendTime,
   * logStartOffset] per batch, or null for acks=0. */
  private succeedAll(lane: Lane, ok: readonly BatchEntry[], offsets: readonly number[] | null): void {
    if (ok.length === 0) return;
    lane.accumulator.complete(ok.map((b) => ({ batchId: b.id, errorCode: 0 })));
    let settled = 0;
    for (let k = 0; k < ok.length; k++) {
      const b = ok[k]!;
      lane.batches.delete(b.id);
      const baseOffset = offsets ? offsets[3 * k]! : -1;
      const logAppendTime = offsets ? offsets[3 * k + 1]! : -1;
      const logStartOffset = offsets ? offsets[3 * k + 2]! : -1;
      const recs = b.records;
      for (let i = 0; i < recs.length; i++) {
        const r = recs[i]!;
        r.sink.ok(r, baseOffset < 0 ? -1 : baseOffset + i, logAppendTime, logStartOffset);
      }
      settled += recs.length;
    }
    this.settled(settled);
  }

  private retryOrFail(lane: Lane, b: BatchEntry, err: Error): void {
    const retriable = (err as { retriable?: boolean }).retriable === true;
    const now = Date.now();
    b.lastError = err;
    if (!retriable) return this.failBatch(lane, b, err, true);
    if (now - b.createdMs >= this.config.deliveryTimeoutMs) return this.failBatch(lane, b, this.deliveryTimeout(b), true);
    if (b.attempts >= this.config.retries) {
      return this.failBatch(
        lane,
        b,
        new KafkaJSNumberOfRetriesExceeded(err, { retryCount: b.attempts, retryTime: now - b.createdMs }),
        true,
      );
    }
    b.attempts++;
    const backoff = Math.min(
      this.config.retryBackoffMaxMs,
      this.config.retryBackoffMs * 2 ** (b.attempts - 1),
    );
    // ±20% jitter, as the Java client does, so that many producers do not retry in step.
    b.retryAtMs = now + backoff * (0.8 + Math.random() * 0.4);
    let queue = lane.retries.get(b.tp.id);
    if (!queue) lane.retries.set(b.tp.id, (queue = []));
    // Keep retries oldest first: batch ids grow with creation order.
    let i = queue.length;
    while (i > 0 && queue[i - 1]!.id > b.id) i--;
    queue.splice(i, 0, b);
    this.wakeup();
  }

  private deliveryTimeout(b: BatchEntry): Error {
    const err = new KafkaJSTimeout(
      `Expiring ${b.records.length} record(s) for ${b.tp.topic}-${b.tp.partition}: ${Date.now() - b.createdMs} ms has passed since batch creation (delivery.timeout.ms=${this.config.deliveryTimeoutMs})`,
      { code: 'DELIVERY_TIMEOUT', cause: b.lastError ?? undefined },
    );
    return err;
  }

  /** Fail every record of a batch. `drained` says whether the accumulator still counts it. */
  failBatch(lane: Lane, b: BatchEntry, err: Error, drained: boolean): void {
    lane.batches.delete(b.id);
    if (drained) lane.accumulator.complete([{ batchId: b.id, errorCode: -1 }]);
    for (const r of b.records) r.sink.fail(r, err);
    this.settled(b.records.length);
  }

  private settled(n: number): void {
    this.pendingRecords -= n;
    this.onMemoryFreed();
    this.checkIdle();
  }

  private checkIdle(): void {
    if (this.pendingRecords === 0 && this.idleWaiters.length > 0) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const w of waiters) w();
    }
  }

  /** Resolves when every record appended so far is settled. */
  whenIdle(): Promise<void> {
    if (this.pendingRecords === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** A lane that can never send fails every record it holds, and every later one. */
  failLane(lane: Lane, err: Error): void {
    lane.failure = err;
    for (const r of lane.accumulator.abortAll()) {
      const entry = lane.batches.get(r.batchId);
      if (entry) this.failBatch(lane, entry, err, false);
    }
  }

  /** Fail everything not yet sent (close without flush, or a fatal error). */
  abortUndrained(err: Error): void {
    for (const lane of this.lanes.values()) {
      for (const r of lane.accumulator.abortAll()) {
        const entry = lane.batches.get(r.batchId);
        if (entry) this.failBatch(lane, entry, err, false);
      }
      for (const [id, queue] of lane.retries) {
        lane.retries.delete(id);
        for (const b of queue) this.failBatch(lane, b, err, true);
      }
    }
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }
}

/** Partition errors that mean our idea of the leader is out of date. */
const STALE_METADATA = new Set<number>([
  ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
  ErrorCode.LEADER_NOT_AVAILABLE,
  ErrorCode.NOT_LEADER_OR_FOLLOWER,
  ErrorCode.FENCED_LEADER_EPOCH,
  ErrorCode.UNKNOWN_LEADER_EPOCH,
  ErrorCode.KAFKA_STORAGE_ERROR,
]);
