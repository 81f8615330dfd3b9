/**
 * The Java-style producer: Java producer configuration keys, one record per send(), a
 * promise (and optionally a callback) per record that settles with its RecordMetadata when
 * the broker has answered (or, with acks=0, when the request was written).
 *
 * send() path, as Java's doSend: interceptors' onSend → key/value serializers → the core
 * (partitioner, accumulator); each record's outcome → interceptors' onAcknowledgement → its
 * promise and callback. Traced on the kafka-turbo:send channel when anyone subscribes
 * (ts/metrics/tracing.ts).
 */
import { ConfigError, KafkaJSProtocolError, KafkaJSTimeout, ProducerClosedError } from '../errors.js';
import type { Metric } from '../metrics/producer-metrics.js';
import { sendChannel, subscribed } from '../metrics/tracing.js';
import { errorForCode, ErrorCode } from '../protocol/error-codes.js';
import { IllegalTransactionStateError, type TransactionManager, type TxnGroupMetadata, type TxnOffset } from './transaction-manager.js';
import { ProducerCore, type CoreLogger, type Outgoing } from './core.js';
import { ProducerInterceptors } from './interceptors.js';
import { resolveConfig, type ProducerConfig, type ResolvedConfig } from './options.js';
import type { PartitionFn } from './partitioners.js';
import { PendingRecord, rejection, toBytes, toHeaders, toTimestamp, type HeadersInput, type RecordSink } from './record.js';
import type { Lane } from './sender.js';

/** What send() takes when no serializer is set. */
export type DefaultData = Buffer | Uint8Array | string | null;

/** K and V are the key and value types: bytes or strings by default, anything a
 * key.serializer / value.serializer takes when one is set. */
export interface ProducerRecord<K = DefaultData, V = DefaultData> {
  topic: string;
  partition?: number;
  key?: K | null;
  value: V | null;
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

/** A broker as partitionsFor() describes it (Java's Node). */
export interface NodeInfo {
  id: number;
  host: string;
  port: number;
}

/** One partition as partitionsFor() describes it (Java's PartitionInfo). */
export interface PartitionInfo {
  topic: string;
  partition: number;
  /** null while the partition has no leader. */
  leader: NodeInfo | null;
  replicas: NodeInfo[];
  inSyncReplicas: NodeInfo[];
  offlineReplicas: NodeInfo[];
}

export interface ProducerOptions {
  /** 'default' (murmur2 for keyed records, uniform sticky for keyless, as the Java client),
   * 'round-robin', or your own function. */
  partitioner?: 'default' | 'round-robin' | PartitionFn;
  /** Where the producer logs what it cannot throw (e.g. an exception from a send callback);
   * default: stderr. */
  logger?: CoreLogger;
}

/** What every record of one producer shares (one reference per record instead of several). */
interface SendContext {
  /** Where a throwing callback is reported. */
  report: (err: unknown, what: string) => void;
  /** null without interceptor.classes. */
  interceptors: ProducerInterceptors<unknown, unknown> | null;
}

/** The record whose promise is being made: capture() stores its resolve function there.
 * One module-level executor instead of a closure per send (the executor runs synchronously
 * inside `new Promise`, so nothing else can see this in between). The reject function is not
 * kept: a record that fails resolves its promise with a rejected one, which rejects it with
 * the same error (two microtasks later), and one function fewer per pending record is 56
 * bytes less for every scavenge to copy while the record waits for its broker. */
let capturing: JavaRecord | null = null;
function capture(resolve: (md: RecordMetadata | Promise<never>) => void): void {
  capturing!.resolve = resolve;
}

/** A timestamp's multiple of 2^30 ms, and the rest: see JavaRecord's timestamp. */
const TIMESTAMP_SPLIT = 2 ** 30;

/** One record of the Java-style API: its pending state and its own sink (one object per
 * record instead of two), settling its promise and callback. */
class JavaRecord extends PendingRecord implements RecordSink {
  resolve!: (md: RecordMetadata | Promise<never>) => void;
  /**
   * The create time in two small integers: a millisecond timestamp does not fit one, and a
   * field holding it as a number costs a separate 16-byte heap object per record, copied by
   * every scavenge while the record waits for its broker (a loop of 200k sends keeps 200k).
   */
  private readonly timestampHigh: number;
  private readonly timestampLow: number;
  constructor(
    topic: string,
    timestamp: number,
    keySize: number,
    valueSize: number,
    private readonly callback: SendCallback | undefined,
    private readonly context: SendContext,
  ) {
    super(null as unknown as RecordSink, topic, keySize, valueSize);
    this.sink = this;
    this.timestampHigh = Math.floor(timestamp / TIMESTAMP_SPLIT);
    this.timestampLow = timestamp - this.timestampHigh * TIMESTAMP_SPLIT;
  }
  get timestamp(): number {
    return this.timestampHigh * TIMESTAMP_SPLIT + this.timestampLow;
  }
  /** The record's promise, settled by ok() / fail(). */
  promise(): Promise<RecordMetadata> {
    capturing = this;
    const p = new Promise<RecordMetadata>(capture);
    capturing = null;
    return p;
  }
  ok(_rec: PendingRecord, offset: number, logAppendTime: number): void {
    const md: RecordMetadata = {
      topic: this.topic,
      partition: this.partition,
      offset,
      timestamp: logAppendTime >= 0 ? logAppendTime : this.timestamp,
      serializedKeySize: this.keySize,
      serializedValueSize: this.valueSize,
    };
    const interceptors = this.context.interceptors;
    if (interceptors) interceptors.onAcknowledgement(md, null);
    this.resolve(md);
    if (this.callback) this.call(null, md);
  }
  fail(_rec: PendingRecord, err: Error): void {
    const interceptors = this.context.interceptors;
    if (interceptors) interceptors.onAcknowledgement(failedMetadata(this.topic, this.partition, this.keySize, this.valueSize), err);
    this.resolve(rejection(err));
    if (this.callback) this.call(err, null);
  }
  /** The user's callback, contained: a throw (or a rejected promise it returns) is logged and
   * the other records settle as usual (the Java client catches and logs callback exceptions). */
  private call(err: Error | null, md: RecordMetadata | null): void {
    try {
      const ret = this.callback!(err, md) as unknown;
      if (ret !== null && typeof ret === 'object' && typeof (ret as Promise<unknown>).then === 'function') {
        (ret as Promise<unknown>).then(undefined, (e: unknown) => this.context.report(e, 'a send callback (its returned promise)'));
      }
    } catch (e) {
      this.context.report(e, 'a send callback');
    }
  }
}

/** What onAcknowledgement gets for a record that failed: offset and timestamp -1 (Java). */
function failedMetadata(topic: string, partition: number, keySize: number, valueSize: number): RecordMetadata {
  return { topic, partition, offset: -1, timestamp: -1, serializedKeySize: keySize, serializedValueSize: valueSize };
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

export class Producer<K = DefaultData, V = DefaultData> {
  readonly config: ResolvedConfig;
  private readonly core: ProducerCore;
  private readonly lane: Lane;
  /** null without interceptor.classes: the send path then pays nothing for them. */
  /** Typed <any, any> so that K and V appear only in send()'s parameter: a Producer<unknown,
   * unknown> (a config typed without serializers) then still passes as a Producer. */
  private readonly interceptors: ProducerInterceptors<any, any> | null;
  private interceptorsClosed = false;
  private readonly context: SendContext;

  constructor(config: ProducerConfig<K, V>, options: ProducerOptions = {}) {
    this.config = resolveConfig(config);
    this.core = new ProducerCore(this.config, options.partitioner ?? 'default');
    if (options.logger) this.core.logger = options.logger;
    this.lane = this.core.lane({ acks: this.config.acks, timeoutMs: this.config.requestTimeoutMs, codec: this.config.codec });
    this.interceptors =
      this.config.interceptors.length > 0 ? new ProducerInterceptors<any, any>(this.config.interceptors, this.report) : null;
    this.context = { report: this.report, interceptors: this.interceptors };
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
  send(record: ProducerRecord<K, V>, callback?: SendCallback): Promise<RecordMetadata> {
    if (!subscribed(sendChannel)) return this.doSend(record, callback);
    const traced = sendChannel.tracePromise(() => this.doSend(record, callback), { record });
    if (callback) traced.catch(() => undefined);
    return traced;
  }

  private doSend(original: ProducerRecord<K, V>, callback: SendCallback | undefined): Promise<RecordMetadata> {
    let rec: JavaRecord;
    let input: Outgoing['input'];
    let record = original;
    let nowMs = 0;
    try {
      if (record === null || typeof record !== 'object') throw new ConfigError('send() takes a record object');
      if (this.interceptors) record = this.interceptors.onSend(record) as ProducerRecord<K, V>;
      if (typeof record.topic !== 'string' || record.topic.length === 0) {
        throw new ConfigError(`Invalid topic ${JSON.stringify(record.topic)}: expected a non-empty string`);
      }
      if (record.partition !== undefined && record.partition !== null && (!Number.isInteger(record.partition) || record.partition < 0)) {
        throw new ConfigError(`Invalid partition ${JSON.stringify(record.partition)}: expected a non-negative integer`);
      }
      const ks = this.config.keySerializer;
      const vs = this.config.valueSerializer;
      const key = ks ? ks(record.key, record.topic, record.headers) : toBytes(record.key, 'Record key');
      const value = vs ? vs(record.value, record.topic, record.headers) : toBytes(record.value, 'Record value');
      nowMs = Date.now();
      const timestamp = toTimestamp(record.timestamp, nowMs);
      input = { key, value, headers: toHeaders(record.headers), timestamp };
      rec = new JavaRecord(record.topic, timestamp, key ? key.length : -1, value ? value.length : -1, callback, this.context);
    } catch (err) {
      // Counted as Java's doSend counts it (the producer-wide errors only: the topic may be the problem).
      this.core.metrics.recordErrors(null, 1, Date.now());
      // Java's onSendError: the interceptors hear of a record refused before it was appended.
      if (this.interceptors) {
        const topic = record !== null && typeof record === 'object' && typeof record.topic === 'string' ? record.topic : '';
        this.interceptors.onAcknowledgement(failedMetadata(topic, -1, -1, -1), err as Error);
      }
      return refused(err as Error, callback);
    }
    const promise = rec.promise();
    // With a callback the caller may ignore the promise: do not report it as unhandled.
    if (callback) promise.catch(() => undefined);
    this.core.enqueueOne(record.topic, record.partition ?? undefined, input, rec, this.lane, nowMs);
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
    return this.core.close({ timeoutMs: opts.timeoutMs }).then(() => {
      // After every record has settled (each onAcknowledgement has run), once.
      if (this.interceptors && !this.interceptorsClosed) {
        this.interceptorsClosed = true;
        this.interceptors.close();
      }
    });
  }

  /**
   * The producer's metrics with the Java producer's names, groups and tags, each as
   * `{ name, group, tags, value, description }` (ts/metrics/producer-metrics.ts);
   * `toPrometheusText(producer.metrics())` renders them for a scrape.
   */
  metrics(): Metric[] {
    return this.core.metrics.metrics();
  }

  /**
   * The topic's partitions, their leaders and replicas (Java's partitionsFor), fetching
   * metadata when the producer has none for it yet, for up to max.block.ms.
   */
  async partitionsFor(topic: string): Promise<PartitionInfo[]> {
    if (typeof topic !== 'string' || topic.length === 0) {
      throw new ConfigError(`Invalid topic ${JSON.stringify(topic)}: expected a non-empty string`);
    }
    const cluster = this.core.cluster;
    const deadline = Date.now() + this.config.maxBlockMs;
    for (;;) {
      if (this.core.isClosing) throw new ProducerClosedError();
      const state = cluster.topics.get(topic);
      if (state && state.partitions.length > 0) {
        const node = (id: number): NodeInfo => {
          const b = cluster.broker(id);
          return { id, host: b ? b.host : '', port: b ? b.port : -1 };
        };
        return state.partitions.map((p) => ({
          topic,
          partition: p.partition,
          leader: p.leader < 0 ? null : node(p.leader),
          replicas: p.replicas.map(node),
          inSyncReplicas: p.isr.map(node),
          offlineReplicas: p.offlineReplicas.map(node),
        }));
      }
      if (state && state.errorCode !== ErrorCode.NONE && !errorForCode(state.errorCode).retriable) {
        throw new KafkaJSProtocolError(errorForCode(state.errorCode));
      }
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new KafkaJSTimeout(`Topic ${topic} not present in metadata after ${this.config.maxBlockMs} ms`, { code: 'METADATA_TIMEOUT' });
      }
      const started = Date.now();
      await cluster.refresh([topic]).catch(() => undefined);
      // A refresh that answered at once without the topic (being created): wait before the next.
      const waited = Date.now() - started;
      if (!cluster.topics.get(topic)?.partitions.length && waited < this.config.retryBackoffMs) {
        await new Promise((r) => setTimeout(r, Math.min(this.config.retryBackoffMs - waited, Math.max(0, deadline - Date.now()))));
      }
    }
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
