/**
 * The KafkaJS producer over ProducerCore.
 *
 * What a KafkaJS app observes is kept: the same validation errors in the same order
 * (messageProducer.js), the connection states and their errors, the partitioner contract
 * (createPartitioner() once, then `{ topic, partitionMetadata, message }` per message), the
 * RecordMetadata array a send resolves with, instrumentation events, and failures arriving
 * after about as long as KafkaJS's retry settings would take.
 *
 * What changes is underneath. KafkaJS turns every send() into its own produce requests and
 * retries the whole call. Here a send() partitions its messages, hands them to the core's
 * accumulator and waits for each record's outcome: sends from the same tick share record
 * batches and requests, and retries happen per batch inside the core.
 */
import { EventEmitter } from 'node:events';
import type { Metric } from '../metrics/producer-metrics.js';
import { sendChannel, subscribed } from '../metrics/tracing.js';
import type { CodecId } from '../backend/types.js';
import {
  KafkaJSConnectionError,
  KafkaJSError,
  KafkaJSMetadataNotLoaded,
  KafkaJSNonRetriableError,
  KafkaJSNumberOfRetriesExceeded,
  KafkaJSProtocolError,
} from '../errors.js';
import { errorForCode, ErrorCode } from '../protocol/error-codes.js';
import type { TopicState } from '../producer/cluster.js';
import { ProducerCore, type PartitionRun } from '../producer/core.js';
import {
  parseAcks,
  parseCodec,
  resolveConfig,
  type ProducerConfig as JavaProducerConfig,
  type ResolvedConfig,
} from '../producer/options.js';
import { PendingRecord, rejection, toHeaders, toTimestamp, type RecordSink } from '../producer/record.js';
import type { Lane } from '../producer/sender.js';
import type { TxnOffset } from '../producer/transaction-manager.js';
import type { Logger } from './logger.js';
import type { ICustomPartitioner, PartitionMetadata, PartitionerArgs, PartitionerMessage } from './partitioners.js';
import type {
  InstrumentationEvent,
  Message,
  Offsets,
  Producer,
  ProducerBatch,
  ProducerEvents,
  ProducerRecord,
  RecordMetadata,
  TopicMessages,
  Transaction,
} from './types.js';

/** KafkaJS's retry options with its defaults filled in (src/retry/defaults.js). */
export interface RetrySettings {
  retries: number;
  initialRetryTime: number;
  maxRetryTime: number;
  factor: number;
  multiplier: number;
}

/** What Kafka.producer() hands its producer. */
export interface ProducerSettings {
  /** KafkaConfig.brokers as the app gave it; checked at connect(), as KafkaJS does. */
  brokers: unknown;
  /** producer({ idempotent }) as given (a transactional producer is idempotent either way). */
  idempotent?: boolean;
  /** The core's configuration in Java keys, everything but bootstrap.servers. */
  config: Omit<JavaProducerConfig, 'bootstrap.servers'>;
  /** Used for connect() and for waiting on topic metadata; batches retry inside the core. */
  retry: RetrySettings;
  /** The client's root logger; the producer logs under the 'Producer' namespace. */
  logger: Logger;
  createPartitioner: ICustomPartitioner;
}

const events: ProducerEvents = {
  CONNECT: 'producer.connect',
  DISCONNECT: 'producer.disconnect',
  REQUEST: 'producer.network.request',
  REQUEST_TIMEOUT: 'producer.network.request_timeout',
  REQUEST_QUEUE_SIZE: 'producer.network.request_queue_size',
};
type EventName = ProducerEvents[keyof ProducerEvents];
const EVENT_NAMES = new Set<string>(Object.values(events));
const EVENT_KEYS = Object.keys(events)
  .map((k) => `producer.events.${k}`)
  .join(', ');

/** The core's connection events and the producer events they become. */
const NETWORK_EVENTS: ReadonlyArray<readonly [string, EventName]> = [
  ['request', events.REQUEST],
  ['request_timeout', events.REQUEST_TIMEOUT],
  ['request_queue_size', events.REQUEST_QUEUE_SIZE],
];

/** KafkaJS numbers instrumentation events with one counter per process. */
let nextEventId = 0;

/** CompressionTypes numbers → parseCodec names, so the core's validation gives the error. */
const CODEC_NAMES = ['none', 'gzip', 'snappy', 'lz4', 'zstd'];

const INT32_MAX = 2147483647;

type Status = 'connected' | 'disconnecting' | 'disconnected';

/**
 * A record's key or value as KafkaJS writes it: a Buffer as its bytes, null/undefined as
 * null, anything else as the UTF-8 of String(v). That includes a Uint8Array that is not a
 * Buffer, which KafkaJS sends as the text "1,2,3"; the partitioner hashes it the same way, and
 * a drop-in must write what KafkaJS wrote.
 */
function messageBytes(v: unknown): Buffer | null {
  if (v === null || v === undefined) return null;
  if (Buffer.isBuffer(v)) return v;
  return Buffer.from(typeof v === 'string' ? v : String(v), 'utf8');
}

/** KafkaJS's retrier spreads each wait by ±factor (retry/index.js randomFromRetryTime). */
function spread(ms: number, factor: number): number {
  const delta = factor * ms;
  return Math.ceil(ms - delta + Math.random() * 2 * delta);
}

/**
 * The outcome of one send()/sendBatch() call: every record of the call reports here; the
 * call settles once all of them have, with the first error or with one RecordMetadata per
 * topic-partition written. Waiting for all of them, rather than rejecting at the first
 * failure, means that when the promise settles nothing of the call is still in flight, so an
 * app that retries the call does not race its own earlier records. (Exported for tests.)
 */
export class CallSink implements RecordSink {
  readonly promise: Promise<RecordMetadata[]>;
  private resolve!: (md: RecordMetadata[]) => void;
  private reject!: (err: Error) => void;
  private remaining = 0;
  private error: Error | null = null;
  /** Per topic, per partition: the first offset of this call there and that batch's times. */
  private readonly byTopic = new Map<string, PartitionResult[]>();
  /** The same entries in the order the result lists them. */
  private readonly ordered: PartitionResult[] = [];

  constructor(
    private readonly acks: number,
    private readonly onError: (err: Error) => void,
  ) {
    this.promise = new Promise((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
  }

  /**
   * Registers the topic-partitions the call writes to, with the leader each was routed to,
   * and fixes the order of the result as KafkaJS produces it: KafkaJS sends one request per
   * leader (leaders taken topic by topic, each topic's in ascending node id) and concatenates
   * their responses; a response lists topics in the call's order and partitions ascending.
   */
  expect(topics: ReadonlyArray<{ topic: string; partitions: ReadonlyMap<number, { leader: number; count: number }> }>): void {
    const leaderRank = new Map<number, number>();
    const rows: { r: PartitionResult; rank: number; topicIndex: number }[] = [];
    topics.forEach(({ topic, partitions }, topicIndex) => {
      const ids = [...partitions.keys()].sort((a, b) => a - b);
      // Object keys in KafkaJS's partitionsPerLeader: node ids ascending, -1 (no leader) last.
      const leaders = [...new Set(ids.map((p) => partitions.get(p)!.leader))].sort((a, b) =>
        a < 0 ? 1 : b < 0 ? -1 : a - b,
      );
      for (const l of leaders) if (!leaderRank.has(l)) leaderRank.set(l, leaderRank.size);
      let list = this.byTopic.get(topic);
      if (!list) this.byTopic.set(topic, (list = []));
      for (const p of ids) {
        const { leader, count } = partitions.get(p)!;
        const r: PartitionResult = { topic, partition: p, baseOffset: -1, logAppendTime: -1, logStartOffset: -1 };
        list[p] = r;
        this.remaining += count;
        rows.push({ r, rank: leaderRank.get(leader)!, topicIndex });
      }
    });
    rows.sort((a, b) => a.rank - b.rank || a.topicIndex - b.topicIndex || a.r.partition - b.r.partition);
    for (const row of rows) this.ordered.push(row.r);
  }

  ok(rec: PendingRecord, offset: number, logAppendTime: number, logStartOffset: number): void {
    const r = this.byTopic.get(rec.topic)?.[rec.partition];
    // Records of a call reach a partition in order, but retries may complete a later batch
    // first: keep the lowest offset, which is the call's first record in that partition.
    if (r && offset >= 0 && (r.baseOffset < 0 || offset < r.baseOffset)) {
      r.baseOffset = offset;
      r.logAppendTime = logAppendTime;
      r.logStartOffset = logStartOffset;
    }
    this.settleOne();
  }

  fail(_rec: PendingRecord, err: Error): void {
    this.error ??= err;
    this.settleOne();
  }

  private settleOne(): void {
    if (--this.remaining > 0) return;
    if (this.error) {
      this.onError(this.error);
      this.reject(this.error);
      return;
    }
    if (this.acks === 0) {
      // KafkaJS returns no metadata when it asked for no acknowledgement.
      this.resolve([]);
      return;
    }
    this.resolve(
      this.ordered.map((r) => ({
        topicName: r.topic,
        partition: r.partition,
        errorCode: 0,
        baseOffset: String(r.baseOffset),
        logAppendTime: String(r.logAppendTime),
        logStartOffset: String(r.logStartOffset),
      })),
    );
  }
}

/** The record whose promise is being made: one module-level executor instead of a closure
 * per call (it runs synchronously inside `new Promise`). Only resolve is kept: a failure
 * resolves with a rejected promise (see the Java-style API's capture). */
let capturing: OneMessageRecord | null = null;
function capture(resolve: (md: RecordMetadata[] | Promise<never>) => void): void {
  capturing!.resolve = resolve;
}

/**
 * CallSink for a call of one message (the shape of a service producing one event per
 * request): the same result and errors, without the per-topic bookkeeping a call of many
 * needs. The record is its own sink (as the Java-style API's), so a one-message send keeps
 * one small object and its promise until the broker answers.
 */
class OneMessageRecord extends PendingRecord implements RecordSink {
  resolve!: (md: RecordMetadata[] | Promise<never>) => void;

  constructor(
    topic: string,
    keySize: number,
    valueSize: number,
    private readonly acks: number,
    private readonly onError: (err: Error) => void,
  ) {
    super(null as unknown as RecordSink, topic, keySize, valueSize);
    this.sink = this;
  }

  /** The call's promise, settled by ok() / fail() (not kept here: the caller holds it). */
  promise(): Promise<RecordMetadata[]> {
    capturing = this;
    const p = new Promise<RecordMetadata[]>(capture);
    capturing = null;
    return p;
  }

  ok(_rec: PendingRecord, offset: number, logAppendTime: number, logStartOffset: number): void {
    // KafkaJS returns no metadata when it asked for no acknowledgement.
    if (this.acks === 0) return this.resolve([]);
    const known = offset >= 0;
    this.resolve([
      {
        topicName: this.topic,
        partition: this.partition,
        errorCode: 0,
        baseOffset: String(offset),
        logAppendTime: known ? String(logAppendTime) : '-1',
        logStartOffset: known ? String(logStartOffset) : '-1',
      },
    ]);
  }

  fail(_rec: PendingRecord, err: Error): void {
    this.onError(err);
    this.resolve(rejection(asKafkaJSFailure(err)));
  }
}

interface PartitionResult {
  topic: string;
  partition: number;
  baseOffset: number;
  logAppendTime: number;
  logStartOffset: number;
}

export class KafkaJSProducer implements Producer {
  readonly events: ProducerEvents = events;

  private status: Status = 'disconnected';
  /** Created by connect() (the brokers may come from a function), replaced after disconnect(). */
  private core: ProducerCore | null = null;
  /** The bootstrap list `core` was built with, to rebuild it when a brokers function changes it. */
  private coreBrokers = '';
  private readonly emitter = new EventEmitter();
  private readonly log: Logger;
  /** One partitioner per producer for its whole life, as in KafkaJS (keyless round robin
   * continues across reconnects). */
  private readonly partitioner: (args: PartitionerArgs) => number;
  /** KafkaJS's PartitionMetadata list per metadata snapshot; rebuilt when metadata changes. */
  private readonly partitionMetadataCache = new WeakMap<TopicState, PartitionMetadata[]>();
  /** Retry waits in progress; disconnect() cuts them short. */
  private readonly sleeping = new Set<() => void>();
  /** Counts disconnect() calls: a retry loop that sees it change stops retrying. */
  private disconnects = 0;

  constructor(private readonly settings: ProducerSettings) {
    this.log = settings.logger.namespace('Producer');
    this.partitioner = settings.createPartitioner();
    // The kafka-turbo:send TracingChannel, one trace per send()/sendBatch() call (send goes
    // through sendBatch); the context's `record` is the call's { topicMessages, ... }.
    const untraced = this.sendBatch;
    this.sendBatch = (batch) => (subscribed(sendChannel) ? sendChannel.tracePromise(() => untraced(batch), { record: batch }) : untraced(batch));
  }

  // The API is made of own function properties, not prototype methods, because KafkaJS's
  // producer is a plain object of closures: apps may pass `producer.send` around unbound.

  connect = async (): Promise<void> => {
    if (this.status !== 'connected' || !this.core || this.core.isClosed) {
      await this.open();
      this.status = 'connected';
    }
    this.instrument(events.CONNECT, undefined);
  };

  /** Sends what is buffered, waits for every outstanding send to settle, then closes the sockets. */
  disconnect = async (): Promise<void> => {
    this.status = 'disconnecting';
    // A transaction still open is aborted by close() (as the Java producer does) and ends here.
    this.activeTransaction = null;
    this.disconnects++;
    this.wakeSleepers();
    try {
      if (this.core) await this.core.close();
    } finally {
      this.status = 'disconnected';
    }
    this.instrument(events.DISCONNECT, undefined);
  };

  /** True for `kafka.producer({ idempotent: true })`. */
  isIdempotent = (): boolean => this.settings.idempotent ?? this.settings.config['enable.idempotence'] === true;

  /**
   * Not in KafkaJS (it has no flush; @confluentinc/kafka-javascript's KafkaJS-compatible
   * producer has one): resolves when every message sent before the call has settled; with
   * `timeout` (ms) it rejects with a KafkaJSTimeout after that long, the messages going on.
   */
  flush = async (opts: { timeout?: number } = {}): Promise<void> => {
    if (!this.core) return;
    const t = opts.timeout;
    if (t !== undefined && (typeof t !== 'number' || !(t >= 0))) {
      throw new KafkaJSNonRetriableError(`Invalid flush timeout ${JSON.stringify(t)}: expected milliseconds >= 0`);
    }
    await this.core.flush(t ?? Infinity);
  };

  /**
   * Not in KafkaJS (it has no metrics): the Java producer's metrics, as the Java-style
   * Producer.metrics() gives them, for the connection made by the last connect(): [] before
   * the first, and the counts start again after a disconnect() and connect().
   */
  metrics = (): Metric[] => (this.core ? this.core.metrics.metrics() : []);

  logger = (): Logger => this.log;

  on = ((eventName: string, listener: (event: InstrumentationEvent<any>) => unknown) => {
    if (!EVENT_NAMES.has(eventName)) {
      throw new KafkaJSNonRetriableError(`Event name should be one of ${EVENT_KEYS}`);
    }
    const onListenerError = (e: unknown): void => {
      const err = e as Error | undefined;
      this.log.error(`Failed to execute listener: ${err?.message}`, { eventName, stack: err?.stack });
    };
    // A listener's error, thrown or rejected, is logged: it must not fail the producer.
    const wrapped = (event: InstrumentationEvent<unknown>): void => {
      try {
        const r = listener(event) as { then?: unknown } | undefined;
        if (r && typeof r.then === 'function') (r as Promise<unknown>).then(undefined, onListenerError);
      } catch (e) {
        onListenerError(e);
      }
    };
    this.emitter.on(eventName, wrapped);
    const network = NETWORK_EVENTS.find(([, to]) => to === eventName);
    if (network && this.core) this.listenCore(this.core, network[0], network[1]);
    return () => {
      this.emitter.removeListener(eventName, wrapped);
    };
  }) as Producer['on'];

  send = (record: ProducerRecord): Promise<RecordMetadata[]> => {
    const one = this.sendOne(record);
    if (one !== null) return one;
    const { acks, timeout, compression, topic, messages } = record;
    return this.sendBatch({ acks, timeout, compression, topicMessages: [{ topic, messages }] });
  };

  /**
   * send() of one message to a topic whose partitions are known, on a connected producer
   * outside transactions and tracing (a service producing one event per request), without
   * building the sendBatch call: its three objects were a tenth of what a one-message send
   * allocated. Anything else -- bad input included -- returns null and takes the general
   * path, which gives the results and errors KafkaJS gives.
   */
  private sendOne(record: ProducerRecord): Promise<RecordMetadata[]> | null {
    if (record === null || typeof record !== 'object' || subscribed(sendChannel)) return null;
    const { topic, messages } = record;
    if (typeof topic !== 'string' || topic.length === 0 || !Array.isArray(messages) || messages.length !== 1) return null;
    const message = messages[0] as Message | null | undefined;
    if (message === null || typeof message !== 'object' || message.value === undefined) return null;
    const core = this.core;
    if (this.status !== 'connected' || core === null || typeof this.settings.config['transactional.id'] === 'string') return null;
    const state = core.cluster.topics.get(topic);
    if (!hasPartitions(state)) return null;
    let lane: Lane;
    try {
      const { acks = -1, timeout = 30000 } = record;
      lane = this.laneFor(core, acks, timeout, record.compression);
    } catch {
      return null;
    }
    if (this.settings.config['enable.idempotence'] === true && lane.acks !== -1) return null;
    try {
      return this.enqueueOneMessage(core, topic, message, state!, lane, Date.now());
    } catch (err) {
      return Promise.reject(err);
    }
  }

  // Not an async function: with metadata known, a call runs to its enqueue without a
  // microtask in between (sends of one tick then reach the core's run together), and throws
  // become rejections here.
  sendBatch = ({ acks = -1, timeout = 30000, compression, topicMessages = [] }: ProducerBatch): Promise<RecordMetadata[]> => {
    try {
      // The checks and their order are KafkaJS's (producer/messageProducer.js).
      this.checkBatch(topicMessages);
      this.checkAcceptingMessages();
      this.checkOutsideTransaction();
      return this.produce(topicMessages.length === 1 ? topicMessages : mergeTopics(topicMessages), acks, timeout, compression);
    } catch (err) {
      return Promise.reject(err);
    }
  };

  /**
   * KafkaJS's producer.transaction(): initializes the transactional id on first use
   * (InitProducerId through the coordinator), begins a transaction and returns its methods.
   * One transaction at a time; its methods fail once it has ended (KafkaJS's words).
   */
  transaction = async (): Promise<Transaction> => {
    if (typeof this.settings.config['transactional.id'] !== 'string') {
      throw new KafkaJSNonRetriableError('Must provide transactional id for transactional producer');
    }
    if (this.activeTransaction !== null) {
      throw new KafkaJSNonRetriableError(
        'There is already an ongoing transaction for this producer. Please end the transaction before beginning another.',
      );
    }
    this.checkAcceptingMessages();
    const core = this.core!;
    const tm = core.transactions!;
    if (tm.state === 'UNINITIALIZED') await tm.initTransactions();
    tm.beginTransaction();
    const token = {};
    this.activeTransaction = token;
    let ended = false;
    const isActive = (): boolean => !ended && this.activeTransaction === token && this.core === core;
    const end = (): void => {
      ended = true;
      if (this.activeTransaction === token) this.activeTransaction = null;
    };
    const guard =
      <A extends unknown[], R>(fn: (...args: A) => Promise<R>) =>
      (...args: A): Promise<R> =>
        isActive() ? fn(...args) : Promise.reject(new KafkaJSNonRetriableError('Cannot continue to use transaction once ended'));
    const sendBatch = async ({ acks = -1, timeout = 30000, compression, topicMessages = [] }: ProducerBatch): Promise<RecordMetadata[]> => {
      this.checkBatch(topicMessages);
      this.checkAcceptingMessages();
      return this.produce(topicMessages.length === 1 ? topicMessages : mergeTopics(topicMessages), acks, timeout, compression);
    };
    return {
      send: guard(({ acks, timeout, compression, topic, messages }: ProducerRecord) =>
        sendBatch({ acks, timeout, compression, topicMessages: [{ topic, messages }] }),
      ),
      sendBatch: guard(sendBatch),
      sendOffsets: guard(async ({ consumerGroupId, topics }: Offsets & { consumerGroupId: string }) => {
        if (!consumerGroupId) throw new KafkaJSNonRetriableError('Missing consumerGroupId');
        if (!topics) throw new KafkaJSNonRetriableError('Missing offset topics');
        const offsets: TxnOffset[] = [];
        for (const { topic, partitions } of topics) {
          for (const { partition, offset } of partitions) {
            let o: bigint;
            try {
              o = BigInt(offset);
            } catch {
              throw new KafkaJSNonRetriableError(`Invalid offset ${JSON.stringify(offset)} for ${topic}-${partition}`);
            }
            // KafkaJS commits the offset as given (the next one to consume, as in Java).
            offsets.push({ topic, partition, offset: o });
          }
        }
        await tm.sendOffsetsToTransaction(offsets, { groupId: consumerGroupId });
      }),
      commit: guard(async () => {
        await tm.commitTransaction();
        end();
      }),
      abort: guard(async () => {
        await tm.abortTransaction();
        end();
      }),
      isActive,
    };
  };

  /** The transaction in progress (from transaction() until its commit or abort). */
  private activeTransaction: object | null = null;

  /** A transactional producer has one producer id, so it sends only inside its transaction. */
  private checkOutsideTransaction(): void {
    if (typeof this.settings.config['transactional.id'] !== 'string') return;
    throw new KafkaJSNonRetriableError(
      this.activeTransaction !== null
        ? 'Cannot send outside the ongoing transaction: send with the transaction object, or end the transaction first'
        : 'A transactional producer (transactionalId) sends inside transactions: call producer.transaction() and send with it',
    );
  }

  /** KafkaJS's checks of a batch's topics and messages, in its order (producer/messageProducer.js). */
  private checkBatch(topicMessages: ProducerBatch['topicMessages']): void {
    if (!Array.isArray(topicMessages) || topicMessages.some((tm) => !tm || !tm.topic || typeof tm.topic !== 'string')) {
      throw new KafkaJSNonRetriableError('Invalid topic');
    }
    for (const { topic, messages } of topicMessages) {
      if (!messages || !Array.isArray(messages)) {
        throw new KafkaJSNonRetriableError(`Invalid messages array [${messages}] for topic "${topic}"`);
      }
      const i = messages.findIndex((m) => m === null || typeof m !== 'object' || m.value === undefined);
      if (i >= 0) {
        throw new KafkaJSNonRetriableError(
          `Invalid message without value for topic "${topic}": ${JSON.stringify(messages[i])}`,
        );
      }
    }
  }

  // -------------------------------------------------------------------------------------------

  /** KafkaJS's connection-state checks, with its errors. */
  private checkAcceptingMessages(): void {
    if (this.status === 'disconnecting') {
      throw new KafkaJSNonRetriableError(
        `The producer is disconnecting; therefore, it can't safely accept messages anymore`,
      );
    }
    if (this.status === 'disconnected') throw new KafkaJSError('The producer is disconnected');
  }

  /** The lane of the last call's (acks, timeout, compression), when they were plain
   * numbers or unset: most apps send every call with the same ones. */
  private lastLane: { core: ProducerCore; acks: unknown; timeout: unknown; compression: unknown; lane: Lane } | null = null;

  private laneFor(core: ProducerCore, acks: unknown, timeout: unknown, compression: unknown): Lane {
    const last = this.lastLane;
    if (last !== null && last.core === core && last.acks === acks && last.timeout === timeout && last.compression === compression) {
      return last.lane;
    }
    const requiredAcks = parseAcks(acks, 'acks');
    const lane = core.lane({ acks: requiredAcks, timeoutMs: ackTimeout(timeout), codec: codecOf(compression) });
    const plain = (v: unknown) => v === undefined || typeof v === 'number';
    if (plain(acks) && plain(timeout) && plain(compression)) this.lastLane = { core, acks, timeout, compression, lane };
    return lane;
  }

  /** Where a failed call is logged (one function for every call). */
  private readonly logSendError = (err: Error): void => this.log.error(`Failed to send messages: ${err.message}`, { error: err.name });

  /** Partitions, converts and enqueues a call (throws for bad input: see sendBatch). Waits
   * only when a topic has no partition metadata yet. */
  private produce(topicMessages: TopicMessages[], acks: number, timeout: number, compression: number | undefined): Promise<RecordMetadata[]> {
    const core = this.core!;
    const lane = this.laneFor(core, acks, timeout, compression);
    const requiredAcks = lane.acks;

    if (this.settings.config['enable.idempotence'] === true && requiredAcks !== -1) {
      throw new KafkaJSNonRetriableError(`Not requiring ack for all messages invalidates the idempotent producer's EoS guarantees`);
    }
    for (const t of topicMessages) {
      // (Copied, as KafkaJS does: the app may change its arrays while metadata is on its way.)
      if (!hasPartitions(core.cluster.topics.get(t.topic))) return this.produceAfterMetadata(core, mergeTopics(topicMessages), requiredAcks, lane);
    }
    return this.enqueueCall(core, topicMessages, requiredAcks, lane);
  }

  private async produceAfterMetadata(core: ProducerCore, topicMessages: TopicMessages[], requiredAcks: number, lane: Lane): Promise<RecordMetadata[]> {
    try {
      await this.awaitTopics(
        core,
        topicMessages.map((t) => t.topic),
      );
    } catch (err) {
      this.log.error(`Failed to send messages: ${(err as Error).message}`);
      throw asKafkaJSFailure(err as Error);
    }
    // The producer may have been disconnected while metadata was on its way.
    if (this.core !== core || core.isClosed) this.checkAcceptingMessages();
    return this.enqueueCall(core, topicMessages, requiredAcks, lane);
  }

  private enqueueCall(core: ProducerCore, topicMessages: TopicMessages[], requiredAcks: number, lane: Lane): Promise<RecordMetadata[]> {
    const now = Date.now();
    if (topicMessages.length === 1 && topicMessages[0]!.messages.length === 1) {
      const topic = topicMessages[0]!.topic;
      return this.enqueueOneMessage(core, topic, topicMessages[0]!.messages[0]!, core.cluster.topics.get(topic)!, lane, now);
    }
    // Everything is converted and partitioned before the first record is enqueued, so that a
    // bad message rejects the call without having sent part of it.
    const sink = new CallSink(requiredAcks, this.logSendError);
    const plan: { topic: string; runs: PartitionRun[]; partitions: Map<number, { leader: number; count: number }> }[] = [];
    let index = 0;
    for (const { topic, messages } of topicMessages) {
      const state = core.cluster.topics.get(topic)!;
      const partitionMetadata = this.partitionMetadataOf(state);
      const numPartitions = state.partitions.length;
      // Records grouped by partition (order kept within each; the runs in the order the call
      // first reaches each partition), so that the core appends each partition's run in one
      // call even when the partitioner alternates partitions. A run's records share one
      // PendingRecord: the CallSink reads only its topic and partition, and one object instead
      // of one per record is less to allocate and to scavenge while the call is in flight.
      const byPartition: (PartitionRun | undefined)[] = new Array(numPartitions);
      const runs: PartitionRun[] = [];
      for (const message of messages) {
        const partition = this.partitioner({ topic, partitionMetadata, message: message as PartitionerMessage });
        if (!Number.isInteger(partition) || partition < 0 || partition >= numPartitions) throw badPartition(topic, partition, numPartitions);
        const key = messageBytes(message.key);
        const value = messageBytes(message.value);
        const headers = toHeaders(message.headers);
        const timestamp = toTimestamp(message.timestamp || now, now);
        index++;
        let run = byPartition[partition];
        if (run === undefined) runs.push((byPartition[partition] = run = { partition, inputs: [], pending: new PendingRecord(sink, topic, -1, -1) }));
        run.inputs.push({ key, value, headers, timestamp });
      }
      const partitions = new Map<number, { leader: number; count: number }>();
      for (const run of runs) partitions.set(run.partition, { leader: state.partitions[run.partition]?.leader ?? -1, count: run.inputs.length });
      plan.push({ topic, runs, partitions });
    }
    if (index === 0) return Promise.resolve([]);
    sink.expect(plan);
    for (const { topic, runs } of plan) if (runs.length > 0) core.enqueueRuns(topic, runs, lane);
    return sink.promise.catch((err: Error) => {
      throw asKafkaJSFailure(err);
    });
  }

  /** A call of one message: the core gathers it with the tick's other one-record sends.
   * Throws for a bad message (partition, key, headers, timestamp) before anything is sent. */
  private enqueueOneMessage(core: ProducerCore, topic: string, message: Message, state: TopicState, lane: Lane, now: number): Promise<RecordMetadata[]> {
    const partition = this.partitionOf(topic, state, message);
    const key = messageBytes(message.key);
    const value = messageBytes(message.value);
    const headers = toHeaders(message.headers);
    const timestamp = toTimestamp(message.timestamp || now, now);
    const rec = new OneMessageRecord(topic, key ? key.length : -1, value ? value.length : -1, lane.acks, this.logSendError);
    const promise = rec.promise();
    core.enqueueOne(topic, partition, { key, value, headers, timestamp }, rec, lane);
    return promise;
  }

  /** The partitioner's choice for one message, checked. */
  private partitionOf(topic: string, state: TopicState, message: Message): number {
    const partition = this.partitioner({ topic, partitionMetadata: this.partitionMetadataOf(state), message: message as PartitionerMessage });
    const numPartitions = state.partitions.length;
    if (!Number.isInteger(partition) || partition < 0 || partition >= numPartitions) throw badPartition(topic, partition, numPartitions);
    return partition;
  }

  /**
   * Makes sure every topic has partition metadata, fetching it when it is missing and trying
   * again as KafkaJS's retrier would: a topic being auto-created answers LEADER_NOT_AVAILABLE
   * for a moment; a missing one UNKNOWN_TOPIC_OR_PARTITION until the retries run out.
   * Errors that waiting cannot fix (INVALID_TOPIC_EXCEPTION, TOPIC_AUTHORIZATION_FAILED)
   * reject at once.
   */
  private async awaitTopics(core: ProducerCore, topics: string[]): Promise<void> {
    const missing = (): string[] => topics.filter((t) => !hasPartitions(core.cluster.topics.get(t)));
    if (missing().length === 0) return;
    await this.retrying(async () => {
      const wanted = missing();
      if (wanted.length === 0) return;
      let refreshError: Error | null = null;
      try {
        await core.connect(wanted);
      } catch (err) {
        refreshError = err as Error;
      }
      for (const topic of wanted) {
        const state = core.cluster.topics.get(topic);
        if (hasPartitions(state)) continue;
        if (!state && refreshError) throw refreshError;
        if (!state || state.errorCode === ErrorCode.UNKNOWN_TOPIC_OR_PARTITION) {
          // KafkaJS's words for code 3, which apps may have matched on.
          throw new KafkaJSProtocolError({
            ...errorForCode(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION),
            message: 'This server does not host this topic-partition',
          });
        }
        if (state.errorCode !== ErrorCode.NONE) throw new KafkaJSProtocolError(errorForCode(state.errorCode));
        throw new KafkaJSMetadataNotLoaded('Producing to topic without metadata');
      }
    });
  }

  private partitionMetadataOf(state: TopicState): PartitionMetadata[] {
    let list = this.partitionMetadataCache.get(state);
    if (!list) {
      list = [];
      for (const p of state.partitions) {
        if (!p) continue;
        list.push({
          partitionErrorCode: p.errorCode,
          partitionId: p.partition,
          leader: p.leader,
          replicas: p.replicas,
          isr: p.isr,
          offlineReplicas: p.offlineReplicas,
        });
      }
      this.partitionMetadataCache.set(state, list);
    }
    return list;
  }

  /**
   * Resolves the brokers, builds the core and fetches cluster metadata, retrying as KafkaJS's
   * BrokerPool.connect does: connection errors are retried with backoff and end as
   * KafkaJSNumberOfRetriesExceeded; bad configuration rejects at once.
   */
  private async open(): Promise<void> {
    const connectLog = this.settings.logger.namespace('BrokerPool');
    // As in KafkaJS, the first call of a brokers function is not retried; later ones are.
    let brokers: string[] | null = await resolveBrokers(this.settings.brokers);
    try {
      await this.retrying(async (retryCount, retryTime) => {
        const list = brokers ?? (await resolveBrokers(this.settings.brokers));
        brokers = null;
        const core = await this.coreFor(list);
        try {
          await core.connect();
        } catch (err) {
          const e = err as Error;
          connectLog.error(`Failed to connect to seed broker, trying another broker from the list: ${e.message}`, {
            retryCount,
            retryTime,
          });
          throw e;
        }
      });
    } catch (err) {
      // Leave nothing open behind a failed connect().
      const core = this.core;
      this.core = null;
      this.coreBrokers = '';
      if (core) await core.close({ force: true }).catch(() => undefined);
      throw err;
    }
  }

  /** The core for this bootstrap list: the current one, or a new one when the list changed. */
  private async coreFor(brokers: string[]): Promise<ProducerCore> {
    const id = brokers.join(',');
    if (this.core && !this.core.isClosed && this.coreBrokers === id) return this.core;
    if (this.core && !this.core.isClosed) await this.core.close({ force: true }).catch(() => undefined);
    const config: ResolvedConfig = resolveConfig({ ...this.settings.config, 'bootstrap.servers': brokers });
    // KafkaJS's backoff: initialRetryTime × multiplier^n, each spread by ±factor.
    config.retryMultiplier = this.settings.retry.multiplier;
    config.retryJitter = Math.min(1, this.settings.retry.factor);
    // Every record reaches the core with its partition chosen by the KafkaJS partitioner, so
    // the core's own partitioner is never asked.
    const core = new ProducerCore(config, 'default');
    core.logger = { error: (message, extra) => this.log.error(message, extra) };
    // The core's connection events only once someone listens for what they become (a listener
    // down the chain makes every request build an event): now, or at the on() that adds one.
    for (const [from, to] of NETWORK_EVENTS) if (this.emitter.listenerCount(to) > 0) this.listenCore(core, from, to);
    this.core = core;
    this.coreBrokers = id;
    return core;
  }

  /** The core events already forwarded to instrument(), per core. */
  private readonly coreListened = new WeakMap<ProducerCore, Set<string>>();

  private listenCore(core: ProducerCore, from: string, to: EventName): void {
    let done = this.coreListened.get(core);
    if (!done) this.coreListened.set(core, (done = new Set()));
    if (done.has(from)) return;
    done.add(from);
    core.on(from, (payload: unknown) => this.instrument(to, payload));
  }

  /** KafkaJS's InstrumentationEvent, made only when someone listens. */
  private instrument(type: EventName, payload: unknown): void {
    if (this.emitter.listenerCount(type) === 0) return;
    this.emitter.emit(type, { id: nextEventId++, type, timestamp: Date.now(), payload });
  }

  /**
   * KafkaJS's retrier (src/retry): run `attempt`; on a retriable error wait (initialRetryTime,
   * then ×multiplier each time, ±factor, at most maxRetryTime) and run it again, up to
   * `retries` times, then reject with KafkaJSNumberOfRetriesExceeded. A non-retriable error
   * rejects as is.
   */
  private async retrying<T>(attempt: (retryCount: number, retryTime: number) => Promise<T>): Promise<T> {
    const { retries, initialRetryTime, maxRetryTime, factor, multiplier } = this.settings.retry;
    const disconnects = this.disconnects;
    let wait = spread(initialRetryTime, factor);
    for (let retryCount = 0; ; retryCount++) {
      try {
        return await attempt(retryCount, wait);
      } catch (err) {
        const e = err as Error & { retriable?: boolean };
        if (e.retriable === false || e instanceof TypeError || e instanceof RangeError || e instanceof SyntaxError) throw e;
        // disconnect() ends the waiting; the caller gets the last error.
        if (this.disconnects !== disconnects) throw e;
        if (retryCount >= retries) throw new KafkaJSNumberOfRetriesExceeded(e, { retryCount, retryTime: wait });
        await this.sleep(wait);
        if (this.disconnects !== disconnects) throw e;
        wait = Math.min(spread(wait, factor) * multiplier, maxRetryTime);
      }
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = (): void => {
        clearTimeout(timer);
        this.sleeping.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      this.sleeping.add(wake);
    });
  }

  private wakeSleepers(): void {
    for (const wake of [...this.sleeping]) wake();
  }
}

/**
 * The longest KafkaJS takes to give up on a send: retries + 1 attempts that each spend
 * connectionTimeout + requestTimeout, and between them its backoff at the top of its random
 * spread (the first wait is initialRetryTime·(1+factor), each next one the previous
 * ·(1+factor)·multiplier, at most maxRetryTime). Capped at the largest 32-bit value.
 * Kafka.producer() uses it as delivery.timeout.ms.
 */
export function kafkaJSGiveUpMs(retry: RetrySettings, requestTimeout: number, connectionTimeout: number): number {
  let total = (retry.retries + 1) * (requestTimeout + connectionTimeout);
  let wait = Math.ceil(retry.initialRetryTime * (1 + retry.factor));
  // After 64 rounds the wait has long reached maxRetryTime (or settled): add the rest at once.
  const rounds = Math.min(retry.retries, 64);
  for (let i = 0; i < rounds; i++) {
    total += wait;
    wait = Math.min(Math.ceil(wait * (1 + retry.factor)) * retry.multiplier, retry.maxRetryTime);
  }
  total += (retry.retries - rounds) * wait;
  return Math.min(Math.ceil(total), INT32_MAX);
}

/** KafkaJS drops messages its partitioner sends nowhere without a word; they would never be written. */
function badPartition(topic: string, partition: unknown, numPartitions: number): Error {
  return new KafkaJSProtocolError({
    ...errorForCode(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION),
    message: `Partition ${String(partition)} of topic "${topic}" does not exist (the topic has ${numPartitions} partitions)`,
  });
}

function hasPartitions(state: TopicState | undefined): boolean {
  return state !== undefined && state.errorCode === ErrorCode.NONE && state.partitions.length > 0;
}

/** sendBatch merges the entries of one topic, keeping the first entry's place (as KafkaJS). */
function mergeTopics(topicMessages: TopicMessages[]): TopicMessages[] {
  const merged = new Map<string, Message[]>();
  for (const { topic, messages } of topicMessages) {
    const list = merged.get(topic);
    if (list) for (const m of messages) list.push(m);
    else merged.set(topic, [...messages]);
  }
  return [...merged].map(([topic, messages]) => ({ topic, messages }));
}

/** send({ timeout }): how long the broker may wait for acks; a 32-bit count of ms on the wire. */
function ackTimeout(timeout: unknown): number {
  const n = Number(timeout);
  if (!Number.isInteger(n) || n < 0 || n > INT32_MAX) {
    throw new KafkaJSNonRetriableError(`Invalid timeout ${JSON.stringify(timeout)}: expected milliseconds, 0 to ${INT32_MAX}`);
  }
  return n;
}

function codecOf(compression: unknown): CodecId {
  if (compression === undefined || compression === null) return parseCodec('none', 'compression');
  const name = typeof compression === 'number' ? CODEC_NAMES[compression] : undefined;
  if (name === undefined) {
    throw new KafkaJSNonRetriableError(
      `Invalid compression ${JSON.stringify(compression)}: expected one of CompressionTypes (None 0, GZIP 1, Snappy 2, LZ4 3, ZSTD 4)`,
    );
  }
  return parseCodec(name, 'compression');
}

/**
 * KafkaConfig.brokers as KafkaJS takes it (cluster/connectionPoolBuilder.js): an array of
 * 'host:port' strings, or a function returning one (sync or async), checked with KafkaJS's
 * messages. The host:port format itself is checked by resolveConfig.
 */
export async function resolveBrokers(brokers: unknown): Promise<string[]> {
  let list: unknown = brokers;
  if (typeof brokers === 'function') {
    try {
      list = await (brokers as () => unknown)();
    } catch (err) {
      const e = err as Error;
      const wrapped = new KafkaJSConnectionError(`Failed to connect: "config.brokers" threw: ${e?.message}`, { cause: e });
      wrapped.stack = `${wrapped.name}\n  Caused by: ${e?.stack}`;
      throw wrapped;
    }
  }
  if (!list) throw new KafkaJSNonRetriableError('Failed to connect: brokers should not be null');
  if (!Array.isArray(list)) {
    throw new KafkaJSNonRetriableError(
      `Failed to connect: brokers should be an array of "host:port" strings or a function returning one, not ${typeof list}`,
    );
  }
  if (list.length === 0) throw new KafkaJSNonRetriableError('Failed to connect: brokers array is empty');
  list.forEach((broker, i) => {
    if (!broker || typeof broker !== 'string') {
      throw new KafkaJSNonRetriableError(`Failed to connect: broker at index ${i} is invalid "${typeof broker}"`);
    }
  });
  return list as string[];
}

/**
 * What a KafkaJS send() rejects with: its retrier turns a non-retriable error into a
 * KafkaJSNonRetriableError with the same message and the original as `cause`
 * (src/retry/index.js); errors of retries that ran out are KafkaJSNumberOfRetriesExceeded already.
 */
function asKafkaJSFailure(err: Error): Error {
  if (err instanceof KafkaJSProtocolError && !err.retriable) {
    return new KafkaJSNonRetriableError(err, { cause: (err as { cause?: unknown }).cause ?? err });
  }
  return err;
}
