/**
 * Producer configuration: the Java producer's keys, their defaults, and validation.
 *
 * Everything is validated here, once, when the producer is created, so that no backend and
 * no hot path ever sees a bad value. Unknown keys are refused rather than ignored: a typo in
 * `linger.ms` or a security setting we do not implement must not pass silently.
 */
import { ConfigError } from '../errors.js';
import { CodecId } from '../backend/types.js';
import { codecName, validateLevel } from '../compression/index.js';
import { resolveSecurity, SECURITY_KEYS, type SecurityConfig, type SecuritySettings } from '../net/security.js';
import { checkInterceptors, type ProducerInterceptor } from './interceptors.js';
import { resolveSerializer, type ResolvedSerializer, type SerializerSpec } from './serializers.js';

/** Java producer keys we accept. Values may be numbers or numeric strings, as in a .properties file. */
/** The security keys (security.protocol, ssl.*, sasl.*) are described in ts/net/security.ts. */
/** K and V: the key and value types send() takes, carried by the serializers and interceptors. */
export interface ProducerConfig<K = unknown, V = unknown> extends SecurityConfig {
  'bootstrap.servers': string | readonly string[];
  'client.id'?: string;
  /** '0', '1', 'all' or '-1' (default 'all'). */
  acks?: string | number;
  'linger.ms'?: number | string;
  'batch.size'?: number | string;
  'buffer.memory'?: number | string;
  'max.block.ms'?: number | string;
  'max.request.size'?: number | string;
  'request.timeout.ms'?: number | string;
  'delivery.timeout.ms'?: number | string;
  retries?: number | string;
  'retry.backoff.ms'?: number | string;
  'retry.backoff.max.ms'?: number | string;
  'reconnect.backoff.ms'?: number | string;
  'reconnect.backoff.max.ms'?: number | string;
  'socket.connection.setup.timeout.ms'?: number | string;
  'max.in.flight.requests.per.connection'?: number | string;
  'metadata.max.age.ms'?: number | string;
  'compression.type'?: string;
  'compression.gzip.level'?: number | string;
  'compression.lz4.level'?: number | string;
  'compression.zstd.level'?: number | string;
  'enable.idempotence'?: boolean | string;
  'allow.auto.create.topics'?: boolean | string;
  'partitioner.ignore.keys'?: boolean | string;
  /** Makes the producer transactional (initTransactions, beginTransaction, ...); needs idempotence. */
  'transactional.id'?: string;
  /** How long the coordinator lets a transaction stay open before it aborts it (default 60000). */
  'transaction.timeout.ms'?: number | string;
  /** KIP-794: keyless records favour partitions whose leaders drain faster (default true). */
  'partitioner.adaptive.partitioning.enable'?: boolean | string;
  /** KIP-794: a leader that has had sendable batches this long without taking any makes its
   * partitions unavailable to keyless records (0, the default, turns this off). */
  'partitioner.availability.timeout.ms'?: number | string;
  'metrics.sample.window.ms'?: number | string;
  'metrics.num.samples'?: number | string;
  /** ts/producer/interceptors.ts. Typed loosely (any) on purpose: K and V are inferred from the
   * serializers alone, and an interceptor typed for the app's records is accepted as it is. */
  'interceptor.classes'?: readonly ProducerInterceptor<any, any>[];
  /** ts/producer/serializers.ts */
  'key.serializer'?: SerializerSpec<K>;
  'value.serializer'?: SerializerSpec<V>;
}

export type Acks = 0 | 1 | -1;

export interface ResolvedConfig {
  bootstrapServers: { host: string; port: number }[];
  clientId: string;
  acks: Acks;
  lingerMs: number;
  batchSize: number;
  bufferMemory: number;
  maxBlockMs: number;
  maxRequestSize: number;
  requestTimeoutMs: number;
  deliveryTimeoutMs: number;
  retries: number;
  retryBackoffMs: number;
  retryBackoffMaxMs: number;
  reconnectBackoffMs: number;
  reconnectBackoffMaxMs: number;
  connectTimeoutMs: number;
  maxInFlight: number;
  metadataMaxAgeMs: number;
  codec: CodecId;
  /** The level for `codec` (compression.<codec>.level), undefined for the codec's default. */
  compressionLevel: number | undefined;
  allowAutoTopicCreation: boolean;
  partitionerIgnoreKeys: boolean;
  adaptivePartitioning: boolean;
  partitionAvailabilityTimeoutMs: number;
  metricsSampleWindowMs: number;
  metricsNumSamples: number;
  interceptors: readonly ProducerInterceptor[];
  /** null: the default (Buffer, Uint8Array, string or null as they are). */
  keySerializer: ResolvedSerializer | null;
  valueSerializer: ResolvedSerializer | null;
  /** enable.idempotence as resolved: on by default, off when the user turns it off or (without
   * setting it) sets acks, retries or max.in.flight to values it does not allow. */
  idempotent: boolean;
  /** transactional.id, or null for a producer that is not transactional. */
  transactionalId: string | null;
  transactionTimeoutMs: number;
  /** Backoff growth per retry (2 as in the Java client; KafkaJS's retry.multiplier). */
  retryMultiplier: number;
  /** Each backoff is spread by ±this fraction (0.2 as in the Java client; KafkaJS's retry.factor). */
  retryJitter: number;
  /** TLS options and SASL settings (ts/net/security.ts). */
  security: SecuritySettings;
}

const INT_MAX = 2147483647;

/** Defaults as in the Java producer of Kafka 4.x (linger.ms 5 since KIP-1030; enable.idempotence
 * true since 3.0, KIP-679). */
export const DEFAULTS = {
  'client.id': 'kafka-turbo',
  acks: 'all',
  'linger.ms': 5,
  'batch.size': 16384,
  'buffer.memory': 33554432,
  'max.block.ms': 60000,
  'max.request.size': 1048576,
  'request.timeout.ms': 30000,
  'delivery.timeout.ms': 120000,
  retries: INT_MAX,
  'retry.backoff.ms': 100,
  'retry.backoff.max.ms': 1000,
  'reconnect.backoff.ms': 50,
  'reconnect.backoff.max.ms': 1000,
  'socket.connection.setup.timeout.ms': 10000,
  'max.in.flight.requests.per.connection': 5,
  'metadata.max.age.ms': 300000,
  'compression.type': 'none',
  'enable.idempotence': true,
  'allow.auto.create.topics': true,
  'partitioner.ignore.keys': false,
  'transaction.timeout.ms': 60000,
  'partitioner.adaptive.partitioning.enable': true,
  'partitioner.availability.timeout.ms': 0,
  'metrics.sample.window.ms': 30000,
  'metrics.num.samples': 2,
} as const;

const LEVEL_KEYS = ['compression.gzip.level', 'compression.lz4.level', 'compression.zstd.level'] as const;
/** Keys without a default value (objects and functions of the app's). */
const EXTENSION_KEYS = ['interceptor.classes', 'key.serializer', 'value.serializer'] as const;
const KNOWN = new Set<string>(['bootstrap.servers', 'transactional.id', ...Object.keys(DEFAULTS), ...LEVEL_KEYS, ...SECURITY_KEYS, ...EXTENSION_KEYS]);

const CODECS: Record<string, CodecId> = {
  none: CodecId.None,
  gzip: CodecId.Gzip,
  snappy: CodecId.Snappy,
  lz4: CodecId.Lz4,
  zstd: CodecId.Zstd,
};

function intValue(key: string, raw: unknown, min: number, max = INT_MAX): number {
  const n = typeof raw === 'string' && raw.trim() !== '' ? Number(raw) : raw;
  if (typeof n !== 'number' || !Number.isInteger(n)) {
    throw new ConfigError(`Invalid value ${JSON.stringify(raw)} for configuration ${key}: expected an integer`);
  }
  if (n < min || n > max) {
    throw new ConfigError(`Invalid value ${n} for configuration ${key}: must be between ${min} and ${max}`);
  }
  return n;
}

function boolValue(key: string, raw: unknown): boolean {
  if (raw === true || raw === 'true') return true;
  if (raw === false || raw === 'false') return false;
  throw new ConfigError(`Invalid value ${JSON.stringify(raw)} for configuration ${key}: expected true or false`);
}

export function parseAcks(raw: unknown, key = 'acks'): Acks {
  switch (String(raw).trim()) {
    case '0':
      return 0;
    case '1':
      return 1;
    case 'all':
    case '-1':
      return -1;
    default:
      throw new ConfigError(`Invalid value ${JSON.stringify(raw)} for configuration ${key}: expected 0, 1, all or -1`);
  }
}

export function parseCodec(raw: unknown, key = 'compression.type'): CodecId {
  const name = String(raw).trim().toLowerCase();
  const codec = CODECS[name];
  if (codec === undefined) {
    throw new ConfigError(
      `Invalid value ${JSON.stringify(raw)} for configuration ${key}: expected one of ${Object.keys(CODECS).join(', ')}`,
    );
  }
  return codec;
}

/** 'host:port' → {host, port}; IPv6 literals in brackets ('[::1]:9092'). */
export function parseBroker(s: string, key = 'bootstrap.servers'): { host: string; port: number } {
  const str = s.trim();
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(str) ?? /^([^:\s]+):(\d+)$/.exec(str);
  if (!m) throw new ConfigError(`Invalid broker address ${JSON.stringify(s)} in ${key}: expected host:port`);
  const port = Number(m[2]);
  if (port < 1 || port > 65535) throw new ConfigError(`Invalid port in broker address ${JSON.stringify(s)} in ${key}`);
  return { host: m[1]!, port };
}

export function resolveConfig<K, V>(config: ProducerConfig<K, V>): ResolvedConfig {
  if (config === null || typeof config !== 'object') {
    throw new ConfigError('Producer configuration must be an object of Java producer keys');
  }
  for (const key of Object.keys(config)) {
    if (!KNOWN.has(key)) {
      throw new ConfigError(`Unknown configuration key ${JSON.stringify(key)}; supported keys: ${[...KNOWN].join(', ')}`);
    }
  }
  const get = <K extends keyof typeof DEFAULTS>(k: K): unknown =>
    (config as unknown as Record<string, unknown>)[k] ?? DEFAULTS[k];

  const servers = config['bootstrap.servers'];
  const list = typeof servers === 'string' ? servers.split(',') : Array.isArray(servers) ? servers : null;
  if (!list || list.length === 0 || list.every((s) => String(s).trim() === '')) {
    throw new ConfigError('Missing configuration bootstrap.servers: give at least one host:port');
  }
  const bootstrapServers = list.filter((s) => String(s).trim() !== '').map((s) => parseBroker(String(s)));

  const clientId = String(get('client.id'));
  const lingerMs = intValue('linger.ms', get('linger.ms'), 0);
  const requestTimeoutMs = intValue('request.timeout.ms', get('request.timeout.ms'), 1);
  const deliveryTimeoutMs = intValue('delivery.timeout.ms', get('delivery.timeout.ms'), 1);
  if (deliveryTimeoutMs < lingerMs + requestTimeoutMs) {
    throw new ConfigError(
      `delivery.timeout.ms (${deliveryTimeoutMs}) must be at least linger.ms + request.timeout.ms (${lingerMs + requestTimeoutMs})`,
    );
  }
  const retryBackoffMs = intValue('retry.backoff.ms', get('retry.backoff.ms'), 0);
  const retryBackoffMaxMs = Math.max(retryBackoffMs, intValue('retry.backoff.max.ms', get('retry.backoff.max.ms'), 0));
  const reconnectBackoffMs = intValue('reconnect.backoff.ms', get('reconnect.backoff.ms'), 0);
  const reconnectBackoffMaxMs = Math.max(
    reconnectBackoffMs,
    intValue('reconnect.backoff.max.ms', get('reconnect.backoff.max.ms'), 0),
  );
  const codec = parseCodec(get('compression.type'));
  // Every level key is checked, not only the chosen codec's: a bad value is a bad value.
  const levels: Record<string, number | undefined> = {};
  for (const key of LEVEL_KEYS) {
    const raw = (config as unknown as Record<string, unknown>)[key];
    const name = key.split('.')[1] as 'gzip' | 'lz4' | 'zstd';
    levels[name] = raw === undefined ? undefined : validateLevel(name, intValue(key, raw, -2147483648));
  }
  const acks = parseAcks(get('acks'));
  const retries = intValue('retries', get('retries'), 0);
  const maxInFlight = intValue('max.in.flight.requests.per.connection', get('max.in.flight.requests.per.connection'), 1);
  const transactionalId = resolveTransactionalId(config['transactional.id']);
  const idempotent = resolveIdempotence(config['enable.idempotence'], acks, retries, maxInFlight, transactionalId !== null);
  return {
    bootstrapServers,
    clientId,
    acks,
    lingerMs,
    batchSize: intValue('batch.size', get('batch.size'), 0),
    bufferMemory: intValue('buffer.memory', get('buffer.memory'), 1, Number.MAX_SAFE_INTEGER),
    maxBlockMs: intValue('max.block.ms', get('max.block.ms'), 0, Number.MAX_SAFE_INTEGER),
    maxRequestSize: intValue('max.request.size', get('max.request.size'), 1),
    requestTimeoutMs,
    deliveryTimeoutMs,
    retries,
    retryBackoffMs,
    retryBackoffMaxMs,
    reconnectBackoffMs,
    reconnectBackoffMaxMs,
    connectTimeoutMs: intValue('socket.connection.setup.timeout.ms', get('socket.connection.setup.timeout.ms'), 1),
    maxInFlight,
    metadataMaxAgeMs: intValue('metadata.max.age.ms', get('metadata.max.age.ms'), 0),
    codec,
    compressionLevel: codec === CodecId.None ? undefined : levels[codecName(codec)],
    allowAutoTopicCreation: boolValue('allow.auto.create.topics', get('allow.auto.create.topics')),
    partitionerIgnoreKeys: boolValue('partitioner.ignore.keys', get('partitioner.ignore.keys')),
    adaptivePartitioning: boolValue('partitioner.adaptive.partitioning.enable', get('partitioner.adaptive.partitioning.enable')),
    partitionAvailabilityTimeoutMs: intValue('partitioner.availability.timeout.ms', get('partitioner.availability.timeout.ms'), 0, Number.MAX_SAFE_INTEGER),
    metricsSampleWindowMs: intValue('metrics.sample.window.ms', get('metrics.sample.window.ms'), 1, Number.MAX_SAFE_INTEGER),
    metricsNumSamples: intValue('metrics.num.samples', get('metrics.num.samples'), 1),
    interceptors: checkInterceptors(config['interceptor.classes'], (m) => new ConfigError(m)),
    keySerializer: resolveSerializer('key.serializer', config['key.serializer']),
    valueSerializer: resolveSerializer('value.serializer', config['value.serializer']),
    idempotent,
    transactionalId,
    transactionTimeoutMs: intValue('transaction.timeout.ms', get('transaction.timeout.ms'), 1),
    retryMultiplier: 2,
    retryJitter: 0.2,
    security: resolveSecurity(config as unknown as Record<string, unknown>),
  };
}

/** The broker de-duplicates and orders at most this many batches in flight per partition
 * (it keeps the last 5 batches' sequences per producer). */
export const MAX_IDEMPOTENT_IN_FLIGHT = 5;

/**
 * enable.idempotence as the Java producer resolves it (ProducerConfig, Kafka 3.2+): set
 * explicitly to true, acks must be all, retries above 0 and max.in.flight at most 5, else a
 * ConfigError; left unset, it is on unless one of those settings rules it out (then it is
 * quietly off, as in Java).
 */
function resolveIdempotence(raw: unknown, acks: Acks, retries: number, maxInFlight: number, transactional: boolean): boolean {
  const conflicts: string[] = [];
  if (transactional) {
    // A transactional producer is an idempotent one (Java: ProducerConfig refuses the mix).
    if (raw !== undefined && !boolValue('enable.idempotence', raw)) {
      throw new ConfigError('Cannot set a transactional.id without also enabling idempotence (enable.idempotence=false was given)');
    }
    raw = true;
  }
  if (acks !== -1) conflicts.push(`acks must be all (-1), not ${acks}`);
  if (retries === 0) conflicts.push('retries must be greater than 0');
  if (maxInFlight > MAX_IDEMPOTENT_IN_FLIGHT) {
    conflicts.push(`max.in.flight.requests.per.connection must be at most ${MAX_IDEMPOTENT_IN_FLIGHT}, not ${maxInFlight}`);
  }
  if (raw === undefined) return conflicts.length === 0;
  if (!boolValue('enable.idempotence', raw)) return false;
  if (conflicts.length > 0) {
    throw new ConfigError(
      `${transactional ? 'transactional.id (which needs enable.idempotence=true)' : 'enable.idempotence=true'} needs ${conflicts.join('; ')}${transactional ? '' : ' (set enable.idempotence=false to use these settings)'}`,
    );
  }
  return true;
}

/** transactional.id: a non-empty string (it names the producer to the transaction coordinator
 * across restarts), or null when not given. */
function resolveTransactionalId(raw: unknown): string | null {
  if (raw === undefined || raw === null) return null;
  if (typeof raw !== 'string' || raw.length === 0) {
    throw new ConfigError(`Invalid value ${JSON.stringify(raw)} for configuration transactional.id: expected a non-empty string`);
  }
  return raw;
}
