/**
 * Errors. One base class carries what a caller decides on: `retriable`, a machine-readable
 * `code` (Kafka's error name for broker errors, or our own for client-side ones) and `cause`.
 *
 * The classes carry KafkaJS's names because the KafkaJS facade must be a drop-in: a KafkaJS
 * app that checks `err instanceof KafkaJSProtocolError`, `err.name` or `err.type` keeps
 * working. The Java-style API throws the same classes; `KafkaTurboError` is the base under
 * its own name for code that does not care about KafkaJS.
 */

export interface ErrorOptions {
  retriable?: boolean;
  code?: string | number;
  cause?: unknown;
}

export class KafkaJSError extends Error {
  override name = 'KafkaJSError';
  /** True when trying the same thing again may succeed. */
  readonly retriable: boolean;
  /** Machine-readable reason: for client-side errors a name such as 'RECORD_TOO_LARGE',
   * 'BUFFER_EXHAUSTED' or 'ECONNREFUSED'; for broker errors (KafkaJSProtocolError) Kafka's
   * numeric error code, as KafkaJS has it, with the name in `type`. */
  readonly code: string | number | undefined;
  /** KafkaJS apps read `helpUrl`; we have none to give. */
  readonly helpUrl: string | undefined = undefined;

  constructor(message: string | Error, opts: ErrorOptions = {}) {
    super(typeof message === 'string' ? message : message.message, opts.cause !== undefined ? { cause: opts.cause } : undefined);
    if (typeof message !== 'string' && opts.cause === undefined) (this as { cause?: unknown }).cause = message;
    this.retriable = opts.retriable ?? true;
    this.code = opts.code;
  }
}

/** The base class under our own name. */
export const KafkaTurboError = KafkaJSError;
export type KafkaTurboError = KafkaJSError;

export class KafkaJSNonRetriableError extends KafkaJSError {
  override name = 'KafkaJSNonRetriableError';
  constructor(message: string | Error, opts: Omit<ErrorOptions, 'retriable'> = {}) {
    super(message, { ...opts, retriable: false });
  }
}

/** An error the broker returned for a request or a partition. */
export class KafkaJSProtocolError extends KafkaJSError {
  override name = 'KafkaJSProtocolError';
  /** Kafka's error name, e.g. 'UNKNOWN_TOPIC_OR_PARTITION'. */
  readonly type: string;
  /** Kafka's numeric error code, as in KafkaJS. */
  declare readonly code: number;
  constructor(e: { type: string; code: number; retriable: boolean; message: string }, opts: { cause?: unknown } = {}) {
    super(e.message, { retriable: e.retriable, code: e.code, cause: opts.cause });
    this.type = e.type;
  }
}

export class KafkaJSConnectionError extends KafkaJSError {
  override name = 'KafkaJSConnectionError';
  readonly broker: string | undefined;
  constructor(message: string, opts: { broker?: string; code?: string; cause?: unknown } = {}) {
    super(message, { retriable: true, code: opts.code, cause: opts.cause });
    this.broker = opts.broker;
  }
}

export class KafkaJSRequestTimeoutError extends KafkaJSError {
  override name = 'KafkaJSRequestTimeoutError';
  readonly broker: string;
  readonly correlationId: number;
  readonly createdAt: number;
  readonly sentAt: number;
  readonly pendingDuration: number;
  constructor(
    message: string,
    opts: { broker: string; correlationId: number; createdAt: number; sentAt: number; pendingDuration: number },
  ) {
    super(message, { retriable: true, code: 'REQUEST_TIMED_OUT' });
    this.broker = opts.broker;
    this.correlationId = opts.correlationId;
    this.createdAt = opts.createdAt;
    this.sentAt = opts.sentAt;
    this.pendingDuration = opts.pendingDuration;
  }
}

/** KafkaJS rejects with this when its retrier gives up; we use it when a record's retries or
 * delivery.timeout.ms run out after retriable errors. `cause` is the last error. */
export class KafkaJSNumberOfRetriesExceeded extends KafkaJSNonRetriableError {
  override name = 'KafkaJSNumberOfRetriesExceeded';
  readonly retryCount: number;
  readonly retryTime: number;
  constructor(cause: Error, opts: { retryCount: number; retryTime: number; code?: string }) {
    super(cause.message, { cause, code: opts.code ?? (cause as { code?: string }).code });
    this.retryCount = opts.retryCount;
    this.retryTime = opts.retryTime;
  }
}

/** A timeout that is not a request timeout: max.block.ms, delivery.timeout.ms, flush. */
export class KafkaJSTimeout extends KafkaJSNonRetriableError {
  override name = 'KafkaJSTimeout';
}

export class KafkaJSNotImplemented extends KafkaJSNonRetriableError {
  override name = 'KafkaJSNotImplemented';
}

export class KafkaJSMetadataNotLoaded extends KafkaJSError {
  override name = 'KafkaJSMetadataNotLoaded';
}

export class KafkaJSTopicMetadataNotLoaded extends KafkaJSMetadataNotLoaded {
  override name = 'KafkaJSTopicMetadataNotLoaded';
  readonly topic: string;
  constructor(message: string, opts: { topic: string }) {
    super(message, { retriable: true, code: 'UNKNOWN_TOPIC_OR_PARTITION' });
    this.topic = opts.topic;
  }
}

export class KafkaJSServerDoesNotSupportApiKey extends KafkaJSNonRetriableError {
  override name = 'KafkaJSServerDoesNotSupportApiKey';
  readonly apiKey: number;
  readonly apiName: string;
  constructor(message: string, opts: { apiKey: number; apiName: string }) {
    super(message, { code: 'UNSUPPORTED_VERSION' });
    this.apiKey = opts.apiKey;
    this.apiName = opts.apiName;
  }
}

export class KafkaJSBrokerNotFound extends KafkaJSError {
  override name = 'KafkaJSBrokerNotFound';
}

export class KafkaJSNoBrokerAvailableError extends KafkaJSError {
  override name = 'KafkaJSNoBrokerAvailableError';
}

export class KafkaJSPartialMessageError extends KafkaJSNonRetriableError {
  override name = 'KafkaJSPartialMessageError';
}

export class KafkaJSInvalidVarIntError extends KafkaJSNonRetriableError {
  override name = 'KafkaJSInvalidVarIntError';
}

export class KafkaJSInvalidLongError extends KafkaJSNonRetriableError {
  override name = 'KafkaJSInvalidLongError';
}

export class KafkaJSLockTimeout extends KafkaJSTimeout {
  override name = 'KafkaJSLockTimeout';
}

export class KafkaJSAggregateError extends Error {
  override name = 'KafkaJSAggregateError';
  readonly errors: Error[];
  constructor(message: string, errors: Error[]) {
    super(message);
    this.errors = errors;
  }
}

/** Invalid configuration or arguments: thrown when the producer is created or a call is made
 * with bad input; never retriable. */
export class ConfigError extends KafkaJSNonRetriableError {
  override name = 'KafkaJSNonRetriableError';
  constructor(message: string) {
    super(message, { code: 'INVALID_CONFIG' });
  }
}

/** A record larger than max.request.size or buffer.memory: it fails alone, at once. */
export class RecordTooLargeError extends KafkaJSNonRetriableError {
  override name = 'KafkaJSNonRetriableError';
  constructor(message: string) {
    super(message, { code: 'RECORD_TOO_LARGE' });
  }
}

/** buffer.memory stayed full for max.block.ms. */
export class BufferExhaustedError extends KafkaJSTimeout {
  constructor(message: string) {
    super(message, { code: 'BUFFER_EXHAUSTED' });
  }
}

/** send() after close()/disconnect(). */
export class ProducerClosedError extends KafkaJSNonRetriableError {
  constructor(message = 'The producer is closed; create a new one to send') {
    super(message, { code: 'PRODUCER_CLOSED' });
  }
}

/** A broker's response that does not decode as the API and version asked for. Trying again
 * would read the same bytes, so it is not retriable and is reported at once, under its own
 * name, with the API, version and broker in the message and the decoder's error as `cause`. */
export class InvalidResponseError extends KafkaJSNonRetriableError {
  override name = 'InvalidResponseError';
  readonly broker: string;
  readonly apiKey: number;
  readonly apiVersion: number;
  constructor(message: string, opts: { broker: string; apiKey: number; apiVersion: number; cause?: unknown }) {
    super(message, { code: 'INVALID_RESPONSE', cause: opts.cause });
    this.broker = opts.broker;
    this.apiKey = opts.apiKey;
    this.apiVersion = opts.apiVersion;
  }
}

// ---------------------------------------------------------------------------------------------
// The rest of KafkaJS's exported error classes. kafka-turbo raises few of them, but a KafkaJS
// app may name any of them (`err instanceof KafkaJSConnectionClosedError`), and `instanceof`
// against an export that does not exist throws a TypeError instead of answering false.

/** A broker closed the connection. */
export class KafkaJSConnectionClosedError extends KafkaJSConnectionError {
  override name = 'KafkaJSConnectionClosedError';
  readonly host: string | undefined;
  readonly port: number | undefined;
  constructor(message: string, opts: { host?: string; port?: number; cause?: unknown } = {}) {
    super(message, { broker: `${opts.host}:${opts.port}`, cause: opts.cause });
    this.host = opts.host;
    this.port = opts.port;
  }
}

export class KafkaJSSASLAuthenticationError extends KafkaJSNonRetriableError {
  override name = 'KafkaJSSASLAuthenticationError';
}

export class KafkaJSGroupCoordinatorNotFound extends KafkaJSNonRetriableError {
  override name = 'KafkaJSGroupCoordinatorNotFound';
}

export class KafkaJSUnsupportedMagicByteInMessageSet extends KafkaJSNonRetriableError {
  override name = 'KafkaJSUnsupportedMagicByteInMessageSet';
}

type ProtocolErrorInfo = ConstructorParameters<typeof KafkaJSProtocolError>[0];

export class KafkaJSOffsetOutOfRange extends KafkaJSProtocolError {
  override name = 'KafkaJSOffsetOutOfRange';
  readonly topic: string;
  readonly partition: number;
  constructor(e: ProtocolErrorInfo, opts: { topic: string; partition: number }) {
    super(e);
    this.topic = opts.topic;
    this.partition = opts.partition;
  }
}

export class KafkaJSMemberIdRequired extends KafkaJSProtocolError {
  override name = 'KafkaJSMemberIdRequired';
  readonly memberId: string;
  constructor(e: ProtocolErrorInfo, opts: { memberId: string }) {
    super(e);
    this.memberId = opts.memberId;
  }
}

export class KafkaJSCreateTopicError extends KafkaJSProtocolError {
  override name = 'KafkaJSCreateTopicError';
  readonly topic: string;
  constructor(e: ProtocolErrorInfo, topicName: string) {
    super(e);
    this.topic = topicName;
  }
}

export class KafkaJSAlterPartitionReassignmentsError extends KafkaJSProtocolError {
  override name = 'KafkaJSAlterPartitionReassignmentsError';
  readonly topic: string | undefined;
  readonly partition: number | undefined;
  constructor(e: ProtocolErrorInfo, topic?: string, partition?: number) {
    super(e);
    this.topic = topic;
    this.partition = partition;
  }
}

/** Metadata assigned partitions the client does not know yet. */
export class KafkaJSStaleTopicMetadataAssignment extends KafkaJSError {
  override name = 'KafkaJSStaleTopicMetadataAssignment';
  readonly topic: string | undefined;
  readonly unknownPartitions: number[] | undefined;
  constructor(message: string, opts: { topic?: string; unknownPartitions?: number[] } = {}) {
    super(message);
    this.topic = opts.topic;
    this.unknownPartitions = opts.unknownPartitions;
  }
}

export class KafkaJSDeleteGroupsError extends KafkaJSError {
  override name = 'KafkaJSDeleteGroupsError';
  readonly groups: { groupId: string; errorCode: number; error: KafkaJSError }[];
  constructor(message: string, groups: { groupId: string; errorCode: number; error: KafkaJSError }[] = []) {
    super(message);
    this.groups = groups;
  }
}

/** Retriable exactly when every partition's error is. */
export class KafkaJSDeleteTopicRecordsError extends KafkaJSError {
  override name = 'KafkaJSDeleteTopicRecordsError';
  readonly partitions: { partition: number; offset: string; error?: Error | null }[];
  constructor({ partitions }: { partitions: { partition: number; offset: string; error?: Error | null }[] }) {
    const retriable = partitions
      .filter((p) => p.error !== null && p.error !== undefined)
      .every((p) => (p.error as { retriable?: boolean }).retriable === true);
    super('Error while deleting records', { retriable });
    this.partitions = partitions;
  }
}

/** Something that cannot happen did: a bug in the client. */
export class KafkaJSInvariantViolation extends KafkaJSNonRetriableError {
  override name = 'KafkaJSInvariantViolation';
  constructor(e: string | Error) {
    super(`Invariant violated: ${typeof e === 'string' ? e : e.message}. This is likely a bug and should be reported.`);
  }
}

/** Exported by KafkaJS for its consumer; kept so that the export exists. */
export class KafkaJSFetcherRebalanceError extends Error {}

/**
 * Bytes that do not decode: a response (or record batch) cut short, a count or length larger
 * than the bytes left, a negative length, a varint that does not end, a compressed batch that
 * does not decompress. Thrown by ts/protocol's Reader and decoders; `context` names the
 * decoder (e.g. 'Metadata v12') and `offset` where in its input the problem was. Never
 * retriable: the same bytes decode the same way.
 *
 * Not a KafkaJSError on purpose: BrokerConnection passes KafkaJSErrors from a decoder through
 * as they are (they are broker errors a decoder raises on purpose) and wraps every other
 * decoder error in a KafkaJSNonRetriableError (code 'INVALID_RESPONSE') that names the broker,
 * the API and version, with this error as `cause`. So callers of the producer see that
 * wrapper; callers of the decoders themselves (fake brokers, tests, tools) see this class.
 */
export class ProtocolDecodeError extends Error {
  override name = 'ProtocolDecodeError';
  readonly code = 'PROTOCOL_DECODE_ERROR';
  readonly retriable = false;
  /** Which decoder, e.g. 'Metadata v12', 'record batch'; '' when the Reader was given none. */
  readonly context: string;
  /** Offset in the decoder's input where the bad field starts. */
  readonly offset: number;
  constructor(problem: string, opts: { context: string; offset: number; cause?: unknown }) {
    super(opts.context === '' ? problem : `${problem} (${opts.context})`, opts.cause !== undefined ? { cause: opts.cause } : undefined);
    this.context = opts.context;
    this.offset = opts.offset;
  }
}
