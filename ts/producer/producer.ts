/**
 * The Java-style producer: Java producer configuration keys, one record per send(), a
 * promise (and optionally a callback) per record that settles with its RecordMetadata when
 * the broker has answered (or, with acks=0, when the request was written).
 */
import { ConfigError } from '../errors.js';
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
