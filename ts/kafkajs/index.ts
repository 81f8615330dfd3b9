/**
 * The KafkaJS facade: what `require('kafkajs')` gives a producer app, so that changing it to
 * `require('kafka-turbo')` keeps the app working. `Kafka` takes KafkaJS's configuration and
 * translates it once into the core's (Java producer keys, validated by resolveConfig).
 *
 * How KafkaJS's options map onto the core, and why:
 *
 *   clientId (default 'kafkajs')          → client.id
 *   brokers (array or function)           → bootstrap.servers, resolved at connect()
 *   requestTimeout (default 30000)        → request.timeout.ms
 *   connectionTimeout (default 1000)      → socket.connection.setup.timeout.ms
 *   retry.retries (default 5)             → retries (per batch here, per send() in KafkaJS)
 *   retry.initialRetryTime (default 300)  → retry.backoff.ms
 *   retry.maxRetryTime (default 30000)    → retry.backoff.max.ms
 *   metadataMaxAge (default 300000)       → metadata.max.age.ms
 *   allowAutoTopicCreation (default true) → allow.auto.create.topics
 *   ssl (true | tls.ConnectionOptions)    → 'kafkajs.ssl': node:tls options as KafkaJS takes them
 *   sasl ({ mechanism, ... })             → 'kafkajs.sasl': plain, scram-sha-256/512,
 *       oauthbearer (oauthBearerProvider) or a custom authenticationProvider (ts/net/security.ts)
 *   maxInFlightRequests (default: KafkaJS has no limit) → max.in.flight.requests.per.connection,
 *       5 when unset. KafkaJS needs no limit because every send() is its own request; here
 *       sends share requests, and a bound is what makes them share: while 5 requests are out
 *       to a broker, new records gather into the next, fuller one. 5 is the Java client's
 *       default and the most that idempotence (when it lands) allows with ordering kept.
 *   linger.ms → 0. KafkaJS sends at once; so do we. Records sent in the same tick, or while
 *       requests are in flight, still share batches, so batching costs no latency.
 *   batch.size → max.request.size (1048576 unless set). KafkaJS puts all of a send's messages
 *       for a partition into one batch; here, in addition, the records that arrive while a
 *       partition's batch waits for a free request slot join it, up to max.request.size, instead
 *       of a new batch every 16 KB. On the 3-broker cluster with acks=all that cut the brokers'
 *       CPU per record by 3-5x and raised throughput 2-4x, at no cost in awaited-send latency
 *       (ARCHITECTURE.md, Batching; bench/RESULTS.md, issue 16).
 *   delivery.timeout.ms → the longest KafkaJS would take to give up with these retry
 *       settings (every attempt timing out, every backoff at its longest), so a send never
 *       fails sooner than it would have with KafkaJS. The retry count usually ends it first.
 *
 * producer() also takes a few Java producer keys for tuning ('linger.ms', 'batch.size', ...,
 * see TurboProducerTuning); KafkaJS ignores unknown keys, so an app that sets them can still
 * go back to KafkaJS. Java keys that have a KafkaJS option are refused with its name.
 */
import { KafkaJSNonRetriableError, KafkaJSNotImplemented } from '../errors.js';
import { resolveConfig, type ProducerConfig as JavaProducerConfig } from '../producer/options.js';
import { consoleLogCreator, createLogger, logLevel, type Logger } from './logger.js';
import { Partitioners } from './partitioners.js';
import { kafkaJSGiveUpMs, KafkaJSProducer, type RetrySettings } from './producer.js';
import type { KafkaConfig, Producer, ProducerConfig, RetryOptions, TurboProducerTuning } from './types.js';

/** The KafkaJS-style producer's batch.size: the default max.request.size (see above). */
const KAFKAJS_BATCH_SIZE = 1048576;

export { logLevel } from './logger.js';
export { Partitioners } from './partitioners.js';
export { CompressionTypes, CompressionCodecs } from './types.js';
export type * from './types.js';
export {
  KafkaJSError,
  KafkaJSNonRetriableError,
  KafkaJSPartialMessageError,
  KafkaJSBrokerNotFound,
  KafkaJSProtocolError,
  KafkaJSConnectionError,
  KafkaJSConnectionClosedError,
  KafkaJSRequestTimeoutError,
  KafkaJSSASLAuthenticationError,
  KafkaJSNumberOfRetriesExceeded,
  KafkaJSOffsetOutOfRange,
  KafkaJSMemberIdRequired,
  KafkaJSGroupCoordinatorNotFound,
  KafkaJSNotImplemented,
  KafkaJSMetadataNotLoaded,
  KafkaJSTopicMetadataNotLoaded,
  KafkaJSStaleTopicMetadataAssignment,
  KafkaJSDeleteGroupsError,
  KafkaJSTimeout,
  KafkaJSLockTimeout,
  KafkaJSServerDoesNotSupportApiKey,
  KafkaJSUnsupportedMagicByteInMessageSet,
  KafkaJSDeleteTopicRecordsError,
  KafkaJSInvariantViolation,
  KafkaJSInvalidVarIntError,
  KafkaJSInvalidLongError,
  KafkaJSCreateTopicError,
  KafkaJSAggregateError,
  KafkaJSFetcherRebalanceError,
  KafkaJSNoBrokerAvailableError,
  KafkaJSAlterPartitionReassignmentsError,
} from '../errors.js';

const INT32_MAX = 2147483647;

/** KafkaJS's retry defaults (src/retry/defaults.js). */
const RETRY_DEFAULTS: RetrySettings = {
  maxRetryTime: 30000,
  initialRetryTime: 300,
  factor: 0.2,
  multiplier: 2,
  retries: 5,
};

/** The Java keys producer() accepts for tuning. */
const TUNING_KEYS: ReadonlySet<string> = new Set<keyof TurboProducerTuning>([
  'linger.ms',
  'batch.size',
  'buffer.memory',
  'max.block.ms',
  'max.request.size',
  'delivery.timeout.ms',
  'reconnect.backoff.ms',
  'reconnect.backoff.max.ms',
]);

/** Java keys the facade derives from KafkaJS options: where to set them instead. */
const KAFKAJS_EQUIVALENT: Readonly<Record<string, string>> = {
  'bootstrap.servers': 'new Kafka({ brokers })',
  'client.id': 'new Kafka({ clientId })',
  'compression.type': 'send({ compression })',
  'retry.backoff.ms': 'retry.initialRetryTime',
  'retry.backoff.max.ms': 'retry.maxRetryTime',
  'request.timeout.ms': 'new Kafka({ requestTimeout })',
  'socket.connection.setup.timeout.ms': 'new Kafka({ connectionTimeout })',
  'max.in.flight.requests.per.connection': 'maxInFlightRequests',
  'metadata.max.age.ms': 'metadataMaxAge',
  'allow.auto.create.topics': 'allowAutoTopicCreation',
  'enable.idempotence': 'idempotent',
  'partitioner.ignore.keys': 'createPartitioner',
};

/** A KafkaJS numeric option: a number (or numeric string) >= min, else a clear error. */
function numberOption(name: string, value: unknown, fallback: number, min: number): number {
  if (value === undefined || value === null) return fallback;
  const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isFinite(n) || n < min) {
    throw new KafkaJSNonRetriableError(`Invalid ${name} ${JSON.stringify(value)}: expected a number >= ${min}`);
  }
  return n;
}

/** KafkaJS's retry options over its defaults, checked. Unset (undefined) options keep their default. */
function retrySettings(...layers: (RetryOptions | undefined)[]): RetrySettings {
  const merged: Record<string, unknown> = { ...RETRY_DEFAULTS };
  for (const layer of layers) {
    if (layer === undefined || layer === null) continue;
    if (typeof layer !== 'object') throw new KafkaJSNonRetriableError(`Invalid retry ${JSON.stringify(layer)}: expected an object`);
    for (const [k, v] of Object.entries(layer)) if (v !== undefined) merged[k] = v;
  }
  return {
    // KafkaJS's idempotent default is Number.MAX_SAFE_INTEGER; the core counts in 32 bits.
    retries: Math.min(INT32_MAX, Math.floor(numberOption('retry.retries', merged.retries, 5, 0))),
    initialRetryTime: numberOption('retry.initialRetryTime', merged.initialRetryTime, 300, 0),
    maxRetryTime: numberOption('retry.maxRetryTime', merged.maxRetryTime, 30000, 0),
    factor: numberOption('retry.factor', merged.factor, 0.2, 0),
    multiplier: numberOption('retry.multiplier', merged.multiplier, 2, 0),
  };
}

export class Kafka {
  private readonly config: KafkaConfig;
  private readonly rootLogger: Logger;

  constructor(config: KafkaConfig) {
    if (config === null || typeof config !== 'object') {
      throw new KafkaJSNonRetriableError('new Kafka() takes a configuration object: { clientId, brokers, ... }');
    }
    // The brokers are checked at connect(), as KafkaJS does: an app may build a client it
    // never connects, and the list may come from a function.
    // ssl and sasl are checked (and files read) when producer() resolves the configuration;
    // they reach the core as 'kafkajs.ssl' / 'kafkajs.sasl' (ts/net/security.ts).
    if (config.socketFactory !== undefined && config.socketFactory !== null) {
      throw new KafkaJSNonRetriableError(
        'A custom socketFactory is not supported by kafka-turbo: it manages its own connections',
      );
    }
    this.config = config;
    // KafkaJS defaults the level only when it is undefined (a destructuring default).
    this.rootLogger = createLogger({
      level: config.logLevel === undefined ? logLevel.INFO : config.logLevel,
      logCreator: config.logCreator ?? consoleLogCreator,
    });
    if (config.enforceRequestTimeout === false) {
      // KafkaJS would wait for such answers forever; here a request without an answer within
      // requestTimeout drops its connection and is retried on a new one (the Java client's rule,
      // which the failure path relies on). Said once, not ignored silently.
      this.rootLogger.namespace('Kafka').warn(
        'enforceRequestTimeout: false is not supported: kafka-turbo always enforces requestTimeout (raise requestTimeout instead)',
      );
    }
  }

  producer(config: ProducerConfig = {}): Producer {
    if (config === null || typeof config !== 'object') {
      throw new KafkaJSNonRetriableError('producer() takes a configuration object');
    }
    const idempotent = config.idempotent === true;
    const transactionalId = config.transactionalId === undefined || config.transactionalId === null ? null : config.transactionalId;
    if (transactionalId !== null && (typeof transactionalId !== 'string' || transactionalId.length === 0)) {
      throw new KafkaJSNonRetriableError(`Invalid transactionalId ${JSON.stringify(transactionalId)}: expected a non-empty string`);
    }
    const tuning: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(config)) {
      // KafkaJS ignores options it does not know (an app may pass acks here, to no effect);
      // dotted keys are ours and are checked.
      if (!key.includes('.')) continue;
      if (TUNING_KEYS.has(key)) {
        if (value !== undefined) tuning[key] = value;
        continue;
      }
      const instead = KAFKAJS_EQUIVALENT[key];
      throw new KafkaJSNonRetriableError(
        instead
          ? `producer({ "${key}" }) is not taken by the KafkaJS API: set ${instead} instead`
          : `Unknown producer option "${key}": the Java producer keys taken here are ${[...TUNING_KEYS].join(', ')}`,
      );
    }

    const c = this.config;
    // KafkaJS: an idempotent producer retries "forever" unless told otherwise, and needs retries.
    const retry = retrySettings(idempotent ? { retries: INT32_MAX } : undefined, c.retry, config.retry);
    if (idempotent && retry.retries < 1) {
      throw new KafkaJSNonRetriableError('Idempotent producer must allow retries to protect against transient errors');
    }
    const maxInFlight = Math.floor(numberOption('maxInFlightRequests', config.maxInFlightRequests, 5, 1));
    if (idempotent && maxInFlight > 5) {
      throw new KafkaJSNonRetriableError(
        `An idempotent producer keeps order with at most 5 requests in flight per broker (maxInFlightRequests ${maxInFlight})`,
      );
    }
    const requestTimeout = Math.ceil(numberOption('requestTimeout', c.requestTimeout, 30000, 1));
    const connectionTimeout = Math.ceil(numberOption('connectionTimeout', c.connectionTimeout, 1000, 1));
    const lingerMs = tuning['linger.ms'] === undefined ? 0 : Number(tuning['linger.ms']);
    const javaConfig: Omit<JavaProducerConfig, 'bootstrap.servers'> = {
      'client.id': c.clientId === undefined || c.clientId === null ? 'kafkajs' : String(c.clientId),
      'request.timeout.ms': requestTimeout,
      'socket.connection.setup.timeout.ms': connectionTimeout,
      retries: retry.retries,
      'retry.backoff.ms': Math.ceil(retry.initialRetryTime),
      'retry.backoff.max.ms': Math.ceil(retry.maxRetryTime),
      'metadata.max.age.ms': Math.ceil(numberOption('metadataMaxAge', config.metadataMaxAge, 300000, 0)),
      'allow.auto.create.topics': config.allowAutoTopicCreation ?? true,
      'max.in.flight.requests.per.connection': maxInFlight,
      // KafkaJS's default is off; acks then come per send() (and must be -1 when on). A
      // transactional producer is idempotent (its transactions are, in KafkaJS too).
      'enable.idempotence': idempotent || transactionalId !== null,
      ...(transactionalId === null
        ? {}
        : {
            'transactional.id': transactionalId,
            'transaction.timeout.ms': Math.ceil(numberOption('transactionTimeout', config.transactionTimeout, 60000, 1)),
          }),
      'linger.ms': 0,
      // (A bad max.request.size is reported by resolveConfig under its own name.)
      'batch.size': Number.isFinite(Number(tuning['max.request.size'] ?? NaN)) ? Number(tuning['max.request.size']) : KAFKAJS_BATCH_SIZE,
      'delivery.timeout.ms':
        (Number.isFinite(lingerMs) ? lingerMs : 0) + kafkaJSGiveUpMs(retry, requestTimeout, connectionTimeout),
      // acks and compression are chosen per send(); these only fill the core's defaults.
      acks: 'all',
      'compression.type': 'none',
      ...(c.ssl === undefined || c.ssl === null || c.ssl === false ? {} : { 'kafkajs.ssl': c.ssl }),
      ...(c.sasl === undefined || c.sasl === null ? {} : { 'kafkajs.sasl': c.sasl as Record<string, unknown> }),
      ...tuning,
    };
    if (typeof javaConfig['allow.auto.create.topics'] !== 'boolean') {
      throw new KafkaJSNonRetriableError(
        `Invalid allowAutoTopicCreation ${JSON.stringify(config.allowAutoTopicCreation)}: expected true or false`,
      );
    }
    // Everything but the brokers is checked now, so that a bad value fails here rather than
    // at connect(); the placeholder address is never contacted. connect() resolves again
    // with the real brokers.
    resolveConfig({ ...javaConfig, 'bootstrap.servers': '127.0.0.1:9092' });

    return new KafkaJSProducer({
      brokers: c.brokers,
      idempotent,
      config: javaConfig,
      retry,
      logger: this.rootLogger,
      createPartitioner: config.createPartitioner ?? Partitioners.DefaultPartitioner,
    });
  }

  /** kafka-turbo is a producer: there is no consumer. */
  consumer(_config?: unknown): never {
    throw new KafkaJSNotImplemented(
      'kafka-turbo is a producer library: kafka.consumer() is not available. Use kafkajs (or another client) to consume',
    );
  }

  /** kafka-turbo is a producer: there is no admin client. */
  admin(_config?: unknown): never {
    throw new KafkaJSNotImplemented(
      'kafka-turbo is a producer library: kafka.admin() is not available. Use kafkajs (or another client) for admin operations',
    );
  }

  logger(): Logger {
    return this.rootLogger;
  }
}
