/**
 * The public types of the KafkaJS facade: KafkaJS 2.2.4's names and shapes (types/index.d.ts),
 * limited to what a producer app touches, so that a TypeScript app that switches its import
 * from 'kafkajs' to 'kafka-turbo' keeps compiling.
 *
 * Where we accept more than KafkaJS's types say, the type says so: message timestamps may be
 * numbers as well as strings, and producer() takes a few kafka-turbo tuning keys (Java
 * producer names) next to KafkaJS's options.
 *
 * Two of KafkaJS's "enums" exist at runtime (CompressionTypes, CompressionCodecs); they live
 * here with their types. logLevel lives with the logger.
 */
import type { ConnectionOptions } from 'node:tls';
import type { Socket } from 'node:net';
import { CodecId } from '../backend/types.js';
import { codecFor } from '../compression/index.js';
import type { Logger, logCreator, logLevel } from './logger.js';
import type { ICustomPartitioner, IHeaders } from './partitioners.js';

export type {
  ICustomPartitioner,
  DefaultPartitioner,
  LegacyPartitioner,
  IHeaders,
  PartitionMetadata,
  PartitionerArgs,
} from './partitioners.js';
export type { Logger, LogEntry, LoggerEntryContent, logCreator } from './logger.js';

type ValueOf<T> = T[keyof T];

// ---------------------------------------------------------------------------------------------
// Compression

/** KafkaJS's CompressionTypes: the codec numbers of record-batch attributes. A plain object
 * as in KafkaJS (a TS enum would add reverse mappings KafkaJS's object does not have). */
export const CompressionTypes = {
  None: 0,
  GZIP: 1,
  Snappy: 2,
  LZ4: 3,
  ZSTD: 4,
} as const;
export type CompressionTypes = ValueOf<typeof CompressionTypes>;

/** A built-in codec in KafkaJS's codec shape ({compress(encoder), decompress(buffer)}, both
 * async), for apps that call a CompressionCodecs entry themselves. */
const builtIn = (id: CodecId) => () => ({
  compress: async (encoder: { buffer: Buffer } | Buffer) =>
    codecFor(id).compress(Buffer.isBuffer(encoder) ? encoder : encoder.buffer),
  decompress: async (buffer: Buffer) => codecFor(id).decompress(buffer),
});

/**
 * KafkaJS's codec registry. KafkaJS apps plug codecs in here
 * (`CompressionCodecs[CompressionTypes.Snappy] = SnappyCodec`). kafka-turbo's codecs are
 * built in (compression happens in the backend, while a batch is encoded), so such an
 * assignment is accepted and has no effect; the entries here are the built-in codecs in
 * KafkaJS's shape.
 */
export const CompressionCodecs: Record<number, () => unknown> = {
  [CompressionTypes.GZIP]: builtIn(CodecId.Gzip),
  [CompressionTypes.Snappy]: builtIn(CodecId.Snappy),
  [CompressionTypes.LZ4]: builtIn(CodecId.Lz4),
  [CompressionTypes.ZSTD]: builtIn(CodecId.Zstd),
};

// ---------------------------------------------------------------------------------------------
// Client configuration

export type BrokersFunction = () => string[] | Promise<string[]>;

export interface RetryOptions {
  maxRetryTime?: number;
  initialRetryTime?: number;
  factor?: number;
  multiplier?: number;
  retries?: number;
  restartOnFailure?: (e: Error) => Promise<boolean>;
}

export interface ISocketFactoryArgs {
  host: string;
  port: number;
  ssl: ConnectionOptions;
  onConnect: () => void;
}
export type ISocketFactory = (args: ISocketFactoryArgs) => Socket;

/** KafkaJS's SASL options: plain, scram-sha-256, scram-sha-512 ({ username, password }),
 * oauthbearer ({ oauthBearerProvider }), or any mechanism with an authenticationProvider. */
export type SASLOptions = { mechanism: string; [option: string]: unknown };
export type Mechanism = { mechanism: string; authenticationProvider: (args: any) => any };

export interface KafkaConfig {
  brokers: string[] | BrokersFunction;
  /** true, or node:tls options (ca, cert, key, servername, rejectUnauthorized, ...). */
  ssl?: ConnectionOptions | boolean;
  sasl?: SASLOptions | Mechanism;
  clientId?: string;
  connectionTimeout?: number;
  authenticationTimeout?: number;
  reauthenticationThreshold?: number;
  requestTimeout?: number;
  enforceRequestTimeout?: boolean;
  retry?: RetryOptions;
  /** Not supported: kafka-turbo owns its sockets. */
  socketFactory?: ISocketFactory;
  logLevel?: logLevel;
  logCreator?: logCreator;
}

/**
 * kafka-turbo tuning keys a KafkaJS app may add to producer({...}), with the Java producer's
 * names and meaning. KafkaJS ignores keys it does not know, so an app that sets them can still
 * switch back to KafkaJS.
 */
export interface TurboProducerTuning {
  /** How long a batch waits for more records before it is sent. Default 0: a send() goes out
   * at once, as in KafkaJS (records sent in the same tick still share a request). */
  'linger.ms'?: number;
  /** Bytes per record batch per partition (default: max.request.size, 1048576 unless set; a
   * batch is sent as soon as a request slot is free, so a large one costs no latency). */
  'batch.size'?: number;
  /** Bytes of records the producer may hold unsent (default 33554432). */
  'buffer.memory'?: number;
  /** How long a send() may wait for buffer.memory before it is rejected (default 60000). */
  'max.block.ms'?: number;
  /** Largest request, and so largest record, in bytes (default 1048576). */
  'max.request.size'?: number;
  /** Upper bound on the time from send() to its outcome. Default: the time KafkaJS's retry
   * settings would take to give up, so failures arrive when KafkaJS would report them. */
  'delivery.timeout.ms'?: number;
  'reconnect.backoff.ms'?: number;
  'reconnect.backoff.max.ms'?: number;
}

export interface ProducerConfig extends TurboProducerTuning {
  createPartitioner?: ICustomPartitioner;
  retry?: RetryOptions;
  metadataMaxAge?: number;
  allowAutoTopicCreation?: boolean;
  /** Not supported yet: true is refused. */
  idempotent?: boolean;
  /** Not supported yet: refused when set. */
  transactionalId?: string;
  transactionTimeout?: number;
  maxInFlightRequests?: number;
}

// ---------------------------------------------------------------------------------------------
// Messages and results

export interface Message {
  key?: Buffer | string | null;
  /** null is a tombstone; undefined is refused, as in KafkaJS. */
  value: Buffer | string | null;
  partition?: number;
  headers?: IHeaders;
  /** Milliseconds since the epoch. KafkaJS types it as a string; numbers work too. */
  timestamp?: string | number;
}

export interface ProducerRecord {
  topic: string;
  messages: Message[];
  acks?: number;
  timeout?: number;
  compression?: CompressionTypes;
}

export type RecordMetadata = {
  topicName: string;
  partition: number;
  errorCode: number;
  offset?: string;
  timestamp?: string;
  baseOffset?: string;
  logAppendTime?: string;
  logStartOffset?: string;
};

export interface TopicMessages {
  topic: string;
  messages: Message[];
}

export interface ProducerBatch {
  acks?: number;
  timeout?: number;
  compression?: CompressionTypes;
  topicMessages?: TopicMessages[];
}

export interface PartitionOffset {
  partition: number;
  offset: string;
}

export interface TopicOffsets {
  topic: string;
  partitions: PartitionOffset[];
}

export interface Offsets {
  topics: TopicOffsets[];
}

// ---------------------------------------------------------------------------------------------
// Instrumentation events

export type ProducerEvents = {
  CONNECT: 'producer.connect';
  DISCONNECT: 'producer.disconnect';
  REQUEST: 'producer.network.request';
  REQUEST_TIMEOUT: 'producer.network.request_timeout';
  REQUEST_QUEUE_SIZE: 'producer.network.request_queue_size';
};

export interface InstrumentationEvent<T> {
  /** KafkaJS types this as a string; it is a number at runtime, in KafkaJS as here. */
  id: string;
  type: string;
  timestamp: number;
  payload: T;
}

/** `T` (the event name) only documents what the remover removes; it is a function either way. */
export type RemoveInstrumentationEventListener<T> = T extends unknown ? () => void : never;

export type ConnectEvent = InstrumentationEvent<null>;
export type DisconnectEvent = InstrumentationEvent<null>;
export type RequestEvent = InstrumentationEvent<{
  apiKey: number;
  apiName: string;
  apiVersion: number;
  broker: string;
  clientId: string;
  correlationId: number;
  createdAt: number;
  duration: number;
  pendingDuration: number;
  sentAt: number;
  size: number;
}>;
export type RequestTimeoutEvent = InstrumentationEvent<{
  apiKey: number;
  apiName: string;
  apiVersion: number;
  broker: string;
  clientId: string;
  correlationId: number;
  createdAt: number;
  pendingDuration: number;
  sentAt: number;
}>;
export type RequestQueueSizeEvent = InstrumentationEvent<{
  broker: string;
  clientId: string;
  queueSize: number;
}>;

// ---------------------------------------------------------------------------------------------
// Producer

export type Sender = {
  send(record: ProducerRecord): Promise<RecordMetadata[]>;
  sendBatch(batch: ProducerBatch): Promise<RecordMetadata[]>;
};

export type Transaction = Sender & {
  sendOffsets(offsets: Offsets & { consumerGroupId: string }): Promise<void>;
  commit(): Promise<void>;
  abort(): Promise<void>;
  isActive(): boolean;
};

export type Producer = Sender & {
  connect(): Promise<void>;
  disconnect(): Promise<void>;
  isIdempotent(): boolean;
  readonly events: ProducerEvents;
  on(
    eventName: ProducerEvents['CONNECT'],
    listener: (event: ConnectEvent) => void,
  ): RemoveInstrumentationEventListener<typeof eventName>;
  on(
    eventName: ProducerEvents['DISCONNECT'],
    listener: (event: DisconnectEvent) => void,
  ): RemoveInstrumentationEventListener<typeof eventName>;
  on(
    eventName: ProducerEvents['REQUEST'],
    listener: (event: RequestEvent) => void,
  ): RemoveInstrumentationEventListener<typeof eventName>;
  on(
    eventName: ProducerEvents['REQUEST_QUEUE_SIZE'],
    listener: (event: RequestQueueSizeEvent) => void,
  ): RemoveInstrumentationEventListener<typeof eventName>;
  on(
    eventName: ProducerEvents['REQUEST_TIMEOUT'],
    listener: (event: RequestTimeoutEvent) => void,
  ): RemoveInstrumentationEventListener<typeof eventName>;
  on(
    eventName: ValueOf<ProducerEvents>,
    listener: (event: InstrumentationEvent<any>) => void,
  ): RemoveInstrumentationEventListener<typeof eventName>;
  transaction(): Promise<Transaction>;
  logger(): Logger;
};
