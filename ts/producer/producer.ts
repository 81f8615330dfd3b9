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

/** Settles one record's promise and callback. */
class SingleSink implements RecordSink {
  constructor(
    private readonly resolve: (md: RecordMetadata) => void,
    private readonly reject: (err: Error) => void,
    private readonly callback: SendCallback | undefined,
  ) {}
  ok(rec: PendingRecord, offset: number, logAppendTime: number): void {
    const md: RecordMetadata = {
      topic: rec.topic,
      partition: rec.partition,
      offset,
      timestamp: logAppendTime >= 0 ? logAppendTime : rec.timestamp,
      serializedKeySize: rec.keySize,
      serializedValueSize: rec.valueSize,
    };
    this.resolve(md);
    if (this.callback) this.callback(null, md);
  }
  fail(_rec: PendingRecord, err: Error): void {
    this.reject(err);
    if (this.callback) this.callback(err, null);
  }
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
    let resolve!: (md: RecordMetadata) => void;
    let reject!: (err: Error) => void;
    const promise = new Promise<RecordMetadata>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    // With a callback the caller may ignore the promise: do not report it as unhandled.
    if (callback) promise.catch(() => undefined);
    const sink = new SingleSink(resolve, reject, callback);
    let item: Outgoing;
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
      const headers = toHeaders(record.headers);
      const timestamp = toTimestamp(record.timestamp, Date.now());
      item = {
        partition: record.partition ?? undefined,
        input: { key, value, headers, timestamp },
        pending: new PendingRecord(sink, record.topic, 0, timestamp, key ? key.length : -1, value ? value.length : -1),
      };
    } catch (err) {
      sink.fail(null as unknown as PendingRecord, err as Error);
      return promise;
    }
    this.core.enqueue(record.topic, [item], this.lane);
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
