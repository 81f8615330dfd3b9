/**
 * The Java-style producer: Java producer configuration keys, one record per send(), a
 * promise (and optionally a callback) per record that settles with its RecordMetadata when
 * the broker has answered (or, with acks=0, when the request was written).
 */
import { ConfigError } from '../errors.js';
import { ProducerCore, type Outgoing } from './core.js';
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
    if (this.callback) this.callback(null, md);
  }
  fail(_rec: PendingRecord, err: Error): void {
    this.reject(err);
    if (this.callback) this.callback(err, null);
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

  /** Send everything buffered now; resolves when every record sent before it has settled. */
  flush(): Promise<void> {
    return this.core.flush();
  }

  /** Flush, then release every socket. Sends after close() reject with ProducerClosedError. */
  close(): Promise<void> {
    return this.core.close();
  }

  /** Buffered bytes, undrained batches and record counts, from the backend. */
  metrics(): { bufferedBytes: number; undrainedBatches: number; recordsCompleted: number; recordsFailed: number } {
    return this.lane.accumulator.stats();
  }
}
