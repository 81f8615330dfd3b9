/**
 * The Java-style producer: Java producer configuration keys, one record per send(), a
 * promise (and optionally a callback) per record that settles with its RecordMetadata when
 * the broker has answered (or, with acks=0, when the request was written).
 */
import { ConfigError, ProducerClosedError } from '../errors.js';
import { IllegalTransactionStateError, type TransactionManager, type TxnGroupMetadata, type TxnOffset } from './transaction-manager.js';
import { ProducerCore, type CoreLogger, type Outgoing } from './core.js';
import { resolveConfig, type ProducerConfig, type ResolvedConfig } from './options.js';
import type { PartitionFn } from './partitioners.js';
import { PendingRecord, toBytes, toHeaders, toTimestamp, type HeadersInput, type RecordSink } from './record.js';
import type { Lane } from './sender.js';

export interface ProducerRecord {
  topic: string;
  partition?: number;
  key?: Buffer | string | null;
  value: Buffer | string | null;
  headers?: HeadersInput;
  /** ms since the epoch (number, numeric string, bigint or Date); default now. */
  timestamp?: number | string | bigint | Date;
}

export interface RecordMetadata {
  topic: string;
  partition: number;
  /** -1 with acks=0. Offsets are numbers: exact up to 2^53. */
  offset: number;
  /** LogAppendTime when the topic uses it, else the record's create time. */
  timestamp: number;
  serializedKeySize: number;
  serializedValueSize: number;
}

/** One consumed position for sendOffsetsToTransaction: `offset` is the next one to consume
 * (the last processed + 1), as in Java's OffsetAndMetadata. */
export interface TransactionOffset {
  topic: string;
  partition: number;
  offset: number | bigint | string;
  metadata?: string | null;
  leaderEpoch?: number;
}

/** Java's ConsumerGroupMetadata (groupId, and generation / member for fencing, KIP-447). */
export interface ConsumerGroupMetadata {
  groupId: string;
  generationId?: number;
  memberId?: string;
  groupInstanceId?: string | null;
}

export type SendCallback = (err: Error | null, metadata: RecordMetadata | null) => void;

export interface ProducerOptions {
  /** 'default' (murmur2 for keyed records, uniform sticky for keyless, as the Java client),
   * 'round-robin', or your own function. */
  partitioner?: 'default' | 'round-robin' | PartitionFn;
  /** Where the producer logs what it cannot throw (e.g. an exception from a send callback);
   * default: stderr. */
  logger?: CoreLogger;
}

/** One record of the Java-style API: its pending state and its own sink (one object per
 * record instead of two), settling its promise and callback. */
class JavaRecord extends PendingRecord implements RecordSink {
  resolve!: (md: RecordMetadata) => void;
  reject!: (err: Error) => void;
  constructor(
    topic: string,
    timestamp: number,
    keySize: number,
    valueSize: number,
    private readonly callback: SendCallback | undefined,
  ) {
    super(null as unknown as RecordSink, topic, 0, timestamp, keySize, valueSize);
    this.sink = this;
  }
  /** Set by the producer: where a throwing callback is reported. */
  report!: (err: unknown, what: string) => void;
  ok(_rec: PendingRecord, offset: number, logAppendTime: number): void {
    const md: RecordMetadata = {
      topic: this.topic,
      partition: this.partition,
      offset,
      timestamp: logAppendTime >= 0 ? logAppendTime : this.timestamp,
      serializedKeySize: this.keySize,
      serializedValueSize: this.valueSize,
    };
    this.resolve(md);
    if (this.callback) this.call(null, md);
  }
  fail(_rec: PendingRecord, err: Error): void {
    this.reject(err);
    if (this.callback) this.call(err, null);
  }
  /** The user's callback, contained: a throw (or a rejected promise it returns) is logged and
   * the other records settle as usual (the Java client catches and logs callback exceptions). */
  private call(err: Error | null, md: RecordMetadata | null): void {
    try {
      const ret = this.callback!(err, md) as unknown;
      if (ret !== null && typeof ret === 'object' && typeof (ret as Promise<unknown>).then === 'function') {
        (ret as Promise<unknown>).then(undefined, (e: unknown) => this.report(e, 'a send callback (its returned promise)'));
      }
    } catch (e) {
      this.report(e, 'a send callback');
    }
  }
}

/** A rejected send, for input refused before a record exists. */
function refused(err: Error, callback: SendCallback | undefined): Promise<RecordMetadata> {
  const p = Promise.reject(err);
  if (callback) {
    p.catch(() => undefined);
    callback(err, null);
  }
  return p;
}

export class Producer {
  readonly config: ResolvedConfig;
  private readonly core: ProducerCore;
  private readonly lane: Lane;

  constructor(config: ProducerConfig, options: ProducerOptions = {}) {
    this.config = resolveConfig(config);
    this.core = new ProducerCore(this.config, options.partitioner ?? 'default');
    if (options.logger) this.core.logger = options.logger;
    this.lane = this.core.lane({ acks: this.config.acks, timeoutMs: this.config.requestTimeoutMs, codec: this.config.codec });
  }

  /** Optional: fetch cluster metadata now (rejects when no broker answers). send() does it lazily. */
  connect(topics: readonly string[] = []): Promise<void> {
    return this.core.connect(topics);
  }

  /**
   * Append a record. Returns once the record is buffered; the promise settles when the broker
   * answers. Bad input, a closed producer, a full buffer past max.block.ms: the promise
   * rejects (and the callback gets the error); nothing throws.
   */
  send(record: ProducerRecord, callback?: SendCallback): Promise<RecordMetadata> {
    let rec: JavaRecord;
    let input: Outgoing['input'];
    try {
      if (record === null || typeof record !== 'object') throw new ConfigError('send() takes a record object');
      if (typeof record.topic !== 'string' || record.topic.length === 0) {
        throw new ConfigError(`Invalid topic ${JSON.stringify(record.topic)}: expected a non-empty string`);
      }
      if (record.partition !== undefined && record.partition !== null && (!Number.isInteger(record.partition) || record.partition < 0)) {
        throw new ConfigError(`Invalid partition ${JSON.stringify(record.partition)}: expected a non-negative integer`);
      }
      const key = toBytes(record.key, 'Record key');
      const value = toBytes(record.value, 'Record value');
      const timestamp = toTimestamp(record.timestamp, Date.now());
      input = { key, value, headers: toHeaders(record.headers), timestamp };
      rec = new JavaRecord(record.topic, timestamp, key ? key.length : -1, value ? value.length : -1, callback);
      rec.report = this.report;
    } catch (err) {
      return refused(err as Error, callback);
    }
    const promise = new Promise<RecordMetadata>((resolve, reject) => {
      rec.resolve = resolve;
      rec.reject = reject;
    });
    // With a callback the caller may ignore the promise: do not report it as unhandled.
    if (callback) promise.catch(() => undefined);
    this.core.enqueueOne(record.topic, record.partition ?? undefined, input, rec, this.lane);
    return promise;
  }

  private readonly report = (err: unknown, what: string): void => this.core.reportUserError(err, what);

  // ---- transactions (transactional.id), as the Java producer's methods -------------------

  /**
   * Registers transactional.id with its coordinator: a new epoch fences any earlier producer
   * with the same id, and a transaction it left open is aborted (or finished) first. Call
   * once, before the first beginTransaction(). Rejects after max.block.ms with a KafkaJSTimeout
   * (call it again to keep waiting).
   */
  initTransactions(): Promise<void> {
    return this.txnCall('initTransactions', (t) => t.initTransactions());
  }

  /** Starts a transaction (synchronous, as in Java: the coordinator hears of it with the first
   * record or offsets). Throws when the state does not allow it. */
  beginTransaction(): void {
    this.txnManager('beginTransaction').beginTransaction();
  }

  /**
   * Adds consumed offsets to the transaction: they become `group`'s committed offsets when
   * it commits, and are dropped when it aborts. `group` is a group id or the consumer's group
   * metadata (generation and member id let the coordinator fence a zombie, KIP-447).
   */
  sendOffsetsToTransaction(offsets: readonly TransactionOffset[], group: string | ConsumerGroupMetadata): Promise<void> {
    return this.txnCall('sendOffsetsToTransaction', (t) => t.sendOffsetsToTransaction(toTxnOffsets(offsets), toGroupMetadata(group)));
  }

  /** Flushes, then commits: resolves when the commit is durable. An error sent in the
   * transaction makes it reject; the transaction must then be aborted. */
  commitTransaction(): Promise<void> {
    return this.txnCall('commitTransaction', (t) => t.commitTransaction());
  }

  /** Drops what was not sent, waits for what is on the wire, then aborts: none of the
   * transaction's records or offsets become visible to read_committed readers. */
  abortTransaction(): Promise<void> {
    return this.txnCall('abortTransaction', (t) => t.abortTransaction());
  }

  private txnManager(what: string): TransactionManager {
    if (this.core.isClosing) throw new ProducerClosedError(`Cannot call ${what}(): the producer is closed`);
    const t = this.core.transactions;
    if (t === null) throw new IllegalTransactionStateError(`Cannot call ${what}() without transactional.id in the configuration`);
    return t;
  }

  private txnCall(what: string, fn: (t: TransactionManager) => Promise<void>): Promise<void> {
    try {
      return fn(this.txnManager(what));
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** True when enable.idempotence is in effect (the default, unless acks/retries/max.in.flight rule it out). */
  isIdempotent(): boolean {
    return this.core.idempotent;
  }

  /** Send everything buffered now; resolves when every record sent before it has settled
   * (records sent after it do not hold it up). `timeoutMs` bounds the wait (rejects with a
   * KafkaJSTimeout; the records go on). */
  flush(opts: { timeoutMs?: number } = {}): Promise<void> {
    return this.core.flush(opts.timeoutMs);
  }

  /**
   * Refuse new sends at once (they reject with PRODUCER_CLOSED), flush what was sent before,
   * then release every socket and timer. `timeoutMs` bounds the wait (Java's close(Duration)):
   * what has not settled by then fails with ProducerClosedError.
   */
  close(opts: { timeoutMs?: number } = {}): Promise<void> {
    return this.core.close({ timeoutMs: opts.timeoutMs });
  }

  /** Buffered bytes, undrained batches and record counts, from the backend. */
  metrics(): { bufferedBytes: number; undrainedBatches: number; recordsCompleted: number; recordsFailed: number } {
    return this.lane.accumulator.stats();
  }
}

function toTxnOffsets(offsets: readonly TransactionOffset[]): TxnOffset[] {
  if (!Array.isArray(offsets)) throw new ConfigError('sendOffsetsToTransaction() takes an array of { topic, partition, offset }');
  return offsets.map((o) => {
    if (o === null || typeof o !== 'object' || typeof o.topic !== 'string' || o.topic.length === 0) {
      throw new ConfigError(`Invalid offset entry ${JSON.stringify(o)}: expected { topic, partition, offset }`);
    }
    if (!Number.isInteger(o.partition) || o.partition < 0) throw new ConfigError(`Invalid partition ${JSON.stringify(o.partition)} for ${o.topic}`);
    let offset: bigint;
    try {
      offset = BigInt(o.offset);
    } catch {
      throw new ConfigError(`Invalid offset ${JSON.stringify(String(o.offset))} for ${o.topic}-${o.partition}: expected an integer`);
    }
    if (offset < 0n) throw new ConfigError(`Invalid offset ${offset} for ${o.topic}-${o.partition}: must not be negative`);
    return { topic: o.topic, partition: o.partition, offset, metadata: o.metadata ?? null, leaderEpoch: o.leaderEpoch ?? -1 };
  });
}

function toGroupMetadata(group: string | ConsumerGroupMetadata): TxnGroupMetadata {
  const g = typeof group === 'string' ? { groupId: group } : group;
  if (g === null || typeof g !== 'object' || typeof g.groupId !== 'string' || g.groupId.length === 0) {
    throw new ConfigError('sendOffsetsToTransaction() needs a consumer group id (a non-empty string or { groupId })');
  }
  return g;
}
