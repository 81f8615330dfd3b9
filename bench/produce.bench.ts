/**
 * End-to-end produce benchmark: records/s, client CPU per record and the brokers' CPU per
 * record for 100-byte records (acks=all) against a local 1- or 3-broker cluster, for
 * kafka-turbo (each backend, both APIs), KafkaJS and @platformatic/kafka in the same run, for
 * one or every compression codec. Each case runs in its own child process so that one
 * client's JIT state, heap and sockets do not colour another's numbers.
 *
 *   npm run build && node out/bench/produce.bench.js [--records 500000] [--runs 3]
 *       [--codec none|gzip|snappy|lz4|zstd|all] [--bootstrap host:port]
 *       [--listener PLAINTEXT|SASL_SSL|both] [--brokers 1|3] [--only kind,kind]
 *       [--turbo-variants '{"name": {"batch.size": 1048576}}'] [--awaited 1000] [--warmup 50000]
 *       [--broker-pids 123,456 (with --bootstrap)] [--acks all|1]
 *       [--percall [--percall-records 50000] [--java-loop-records 200000] [--percall-warm 0]]
 *
 * Broker CPU: when the harness started the brokers here, the child reads every broker JVM's
 * utime + stime from /proc/<pid>/stat just before and just after its timed part, so the
 * column is what the brokers spent while that client ran (their background work included:
 * compare within a run). In production the brokers, not the client, are usually the limit,
 * and the client's batching decides their cost per record (issue 16).
 *
 * --brokers 3 starts the harness's 3-broker cluster (topics with replication factor 3, so
 * acks=all waits for two followers). --only keeps the cases of those kinds (turbo-java,
 * turbo-kafkajs, kafkajs, platformatic). --turbo-variants adds kafka-turbo cases with extra
 * producer settings (Java keys, given to both APIs), named `[name]`, beside the defaults: to
 * compare batching choices in one run. --awaited N adds, per kafka-turbo case, N awaited
 * single sends (one record, wait for it, the next) and reports p50/p99; the Java-style API
 * also with linger.ms 0, its floor. --warmup N runs each throughput case once with N records
 * before the counted rounds (a fresh broker JVM is several times slower for its first
 * minute); 0 skips it. The order of the cases is rotated every round.
 *
 * --listener SASL_SSL (or both) starts the harness's secure broker instead and runs every case
 * over its SASL_SSL listener (TLS + SCRAM-SHA-512, each client configured its own way) too:
 * both listeners on the same broker in the same run.
 *
 * Without --bootstrap it starts a local broker with the test harness. Every case gets a fresh
 * topic (6 partitions, compression.type=producer, so the broker keeps the client's codec).
 * Records are JSON-like 100-byte values (distinct ids, users, events, amounts) so that the
 * codecs do real work. A run counts only when every send call's result was verified in the
 * child (an offset for every record / a result for every call, error-free) and, after the
 * child exits, the topic's end offsets add up to exactly the records sent.
 *
 * Load shapes: java-api = `send(record)` per record, up to 50k records in flight; kafkajs-api,
 * kafkajs and @platformatic/kafka = send calls of 1000 messages, up to 8 calls in flight.
 *
 * --percall (issue 10 items 4 and 5: the per-call cost, native beside fallback) runs instead,
 * per kafka-turbo backend: KafkaJS-style `send()` of one message with 1000 calls in flight
 * (--percall-records calls), Java-style `send(record)` of --java-loop-records records sent in
 * one loop and then awaited together, KafkaJS-style sends of 1000 messages with 8 in flight
 * (--records), and --awaited N awaited single sends (both APIs, linger.ms 0 for the Java-style
 * one); KafkaJS 2.2.4 beside in the first and third. --acks sets every case's acks (default
 * all; the issue's targets are for 1). --percall-warm N first runs each of the three load
 * shapes once with N records (calls) on the same, already connected producer in the same
 * process, off the clock, so that the timed part is a warm process's steady state (a service
 * runs for hours: V8 has compiled its hot path long before) and leaves out connect and close;
 * without it (0, the default) the timed part is a fresh process's first N calls, connect and
 * close included.
 *
 * A (client, codec) pair that cannot run here (a codec plugin that does not load, a codec the
 * client does not offer on this Node) is dropped from the table with a printed note.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { benchMain, runChild } from './lib/child.js';
import { makeValueBlock, splitValues } from './lib/values.js';

const RECORD_SIZE = 100;
const PER_CALL = 1000;
const CALLS_IN_FLIGHT = 8;
const PARTITIONS = 6;

const CODECS = ['none', 'gzip', 'snappy', 'lz4', 'zstd'] as const;
type Codec = (typeof CODECS)[number];

/** The KafkaJS CompressionTypes key of each codec (the same numbers in kafka-turbo's facade). */
const KAFKAJS_CODEC_KEY = { none: 'None', gzip: 'GZIP', snappy: 'Snappy', lz4: 'LZ4', zstd: 'ZSTD' } as const;

type CaseKind = 'turbo-java' | 'turbo-kafkajs' | 'kafkajs' | 'platformatic' | 'promise-floor';
type Shape = 'throughput' | 'awaited' | 'one-per-call' | 'java-loop';
const KINDS: readonly CaseKind[] = ['turbo-java', 'turbo-kafkajs', 'kafkajs', 'platformatic', 'promise-floor'];
type Listener = 'PLAINTEXT' | 'SASL_SSL';

/** What a child needs to reach the SASL_SSL listener (SECURITY in its environment, as JSON). */
interface SecurityEnv {
  ca: string;
  username: string;
  password: string;
}

interface CaseDef {
  name: string;
  kind: CaseKind;
  env: Record<string, string>;
  /** kafka-turbo cases: the codecs the backend reports (backendInfo().codecs). */
  codecs?: string[];
  /** kafka-turbo cases: extra producer settings (Java keys) of a --turbo-variants entry. */
  tuning?: Record<string, unknown>;
  shape: Shape;
}

interface CaseResult {
  codec: Codec;
  listener: Listener;
  name: string;
  shape: Shape;
  recordsPerSec: number;
  cpuUsPerRecord: number;
  /** The brokers' utime + stime over the timed part, per record (NaN: brokers not ours). */
  brokerCpuUsPerRecord: number;
  p50Us?: number;
  p99Us?: number;
}

/** What a child reports. */
interface ChildOut {
  seconds: number;
  cpuUs: number;
  acked: number;
  brokerCpuUs: number;
  p50Us?: number;
  p99Us?: number;
}

function arg(name: string, dflt: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : dflt;
}

/** The installed version of an npm package (its package.json, found from its entry point). */
function pkgVersion(name: string): string {
  let dir = dirname(require.resolve(name));
  for (;;) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
      if (pkg.name === name) return String(pkg.version);
    } catch {
      // keep walking up
    }
    const up = dirname(dir);
    if (up === dir) return '?';
    dir = up;
  }
}

/** kafka-turbo's backendInfo() with that backend asked for, or null when it does not load. */
function turboBackend(backend: 'native' | 'fallback'): { backend: string; codecs: string[] } | null {
  try {
    const out = execFileSync(process.execPath, ['-e', `console.log(JSON.stringify(require(${JSON.stringify(join(__dirname, '..', 'ts', 'index.js'))}).backendInfo()))`], {
      env: { ...process.env, KAFKA_TURBO_BACKEND: backend },
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    const info = JSON.parse(out.toString().trim());
    return info.backend === backend ? info : null;
  } catch {
    return null;
  }
}

/** --percall's cases (see the header), per backend that loads, then KafkaJS's. */
function percallCases(awaited: boolean): CaseDef[] {
  const list: CaseDef[] = [];
  for (const backend of ['native', 'fallback'] as const) {
    const info = turboBackend(backend);
    if (!info && backend === 'native') continue;
    const env = { KAFKA_TURBO_BACKEND: backend };
    const codecs = info ? { codecs: info.codecs } : {};
    list.push(
      { name: `kafka-turbo kafkajs-api 1 per call (${backend})`, kind: 'turbo-kafkajs', env, ...codecs, shape: 'one-per-call' },
      { name: `kafka-turbo java-api one loop (${backend})`, kind: 'turbo-java', env, ...codecs, shape: 'java-loop' },
      { name: `kafka-turbo kafkajs-api 1000 per call (${backend})`, kind: 'turbo-kafkajs', env, ...codecs, shape: 'throughput' },
    );
    if (awaited) {
      list.push(
        { name: `kafka-turbo kafkajs-api awaited (${backend})`, kind: 'turbo-kafkajs', env, ...codecs, shape: 'awaited' },
        { name: `kafka-turbo java-api awaited (${backend}) [linger.ms 0]`, kind: 'turbo-java', env, ...codecs, tuning: { 'linger.ms': 0 }, shape: 'awaited' },
      );
    }
  }
  const kafkajs = `kafkajs ${pkgVersion('kafkajs')}`;
  list.push(
    // The Java-style loop's floor, in the same run: the API's promises alone, no producer.
    { name: 'promise floor: one loop, no producer', kind: 'promise-floor', env: {}, shape: 'java-loop' },
    { name: `${kafkajs} 1 per call`, kind: 'kafkajs', env: {}, shape: 'one-per-call' },
    { name: `${kafkajs} 1000 per call`, kind: 'kafkajs', env: {}, shape: 'throughput' },
  );
  return list;
}

/**
 * Cases. The native backend's cases appear when it loads. `variants`: name → extra
 * kafka-turbo settings ('' = the defaults). `awaited`: add the awaited single-send cases.
 */
function cases(variants: Record<string, Record<string, unknown>>, awaited: boolean): CaseDef[] {
  const list: CaseDef[] = [];
  for (const backend of ['native', 'fallback'] as const) {
    const info = turboBackend(backend);
    if (!info && backend === 'native') continue; // no native backend here: fallback cases only
    const env = { KAFKA_TURBO_BACKEND: backend };
    const codecs = info ? { codecs: info.codecs } : {};
    for (const [variant, tuning] of Object.entries(variants)) {
      const tag = variant ? ` [${variant}]` : '';
      for (const shape of awaited ? (['throughput', 'awaited'] as const) : (['throughput'] as const)) {
        const what = shape === 'awaited' ? ' awaited' : '';
        list.push(
          { name: `kafka-turbo java-api${what} (${backend})${tag}`, kind: 'turbo-java', env, ...codecs, tuning, shape },
          { name: `kafka-turbo kafkajs-api${what} (${backend})${tag}`, kind: 'turbo-kafkajs', env, ...codecs, tuning, shape },
        );
        if (shape === 'awaited' && variant === '') {
          // The floor for the Java-style API: no linger at all.
          list.push({ name: `kafka-turbo java-api awaited (${backend}) [linger.ms 0]`, kind: 'turbo-java', env, ...codecs, tuning: { 'linger.ms': 0 }, shape });
        }
      }
    }
  }
  list.push(
    { name: `kafkajs ${pkgVersion('kafkajs')}`, kind: 'kafkajs', env: {}, shape: 'throughput' },
    { name: `@platformatic/kafka ${pkgVersion('@platformatic/kafka')}`, kind: 'platformatic', env: {}, shape: 'throughput' },
  );
  return list;
}

/** Sum of utime + stime of these processes, in µs (/proc/<pid>/stat fields 14 and 15). */
function processesCpuUs(pids: readonly number[], clockTicks: number): number {
  let ticks = 0;
  for (const pid of pids) {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces: count fields after its closing parenthesis.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    ticks += Number(fields[11]) + Number(fields[12]);
  }
  return (ticks * 1e6) / clockTicks;
}

/** The p-th percentile (0..1) of sorted numbers. */
function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
}

/** KafkaJS's codec plugins, registered the KafkaJS way. gzip is built into KafkaJS. */
const KAFKAJS_PLUGINS: Partial<Record<Codec, string>> = { snappy: 'kafkajs-snappy', lz4: 'kafkajs-lz4', zstd: '@kafkajs/zstd' };

function registerKafkajsCodec(codec: Codec): void {
  const { CompressionCodecs, CompressionTypes } = require('kafkajs') as typeof import('kafkajs');
  if (codec === 'snappy') {
    CompressionCodecs[CompressionTypes.Snappy] = require('kafkajs-snappy');
  } else if (codec === 'lz4') {
    const LZ4Codec = require('kafkajs-lz4');
    CompressionCodecs[CompressionTypes.LZ4] = new LZ4Codec().codec;
  } else if (codec === 'zstd') {
    const ZstdCodec = require('@kafkajs/zstd');
    CompressionCodecs[CompressionTypes.ZSTD] = ZstdCodec();
  }
}

/** Why `kind` cannot run `codec` here, or null when it can. */
async function unavailable(c: CaseDef, codec: Codec): Promise<string | null> {
  const kind = c.kind;
  if (c.codecs && !c.codecs.includes(codec)) {
    return `kafka-turbo's ${c.env['KAFKA_TURBO_BACKEND']} backend has no ${codec} in this build (backendInfo().codecs = [${c.codecs.join(', ')}])`;
  }
  if (kind === 'kafkajs' && KAFKAJS_PLUGINS[codec]) {
    try {
      registerKafkajsCodec(codec);
    } catch (e) {
      const missing = (e as { code?: string }).code === 'MODULE_NOT_FOUND';
      return (
        `KafkaJS's ${codec} plugin ${KAFKAJS_PLUGINS[codec]} ${missing ? 'is not installed' : 'does not load here'}` +
        (missing && codec === 'zstd' ? ' (its native dependency cppzst 2.0.6 does not compile against Node 20 headers, so it is not a devDependency)' : '') +
        ` (${String((e as Error).message).split('\n')[0]})`
      );
    }
  }
  if (kind === 'platformatic' && codec !== 'none') {
    const { compressionsAlgorithms } = await import('@platformatic/kafka');
    if (!compressionsAlgorithms[codec].available) {
      return `@platformatic/kafka has no ${codec} on Node ${process.version}` + (codec === 'zstd' ? " (it uses node:zlib's zstd, which this Node lacks)" : '');
    }
  }
  return null;
}

// ---------------------------------------------------------------------------------------
// Child side: one case.

/**
 * JSON-like values of exactly RECORD_SIZE bytes, all different (ids, users, events, amounts
 * vary; deterministic, so every client sends the same bytes), as views into one buffer.
 */
function makeValues(count: number): Buffer[] {
  return splitValues(makeValueBlock(count, RECORD_SIZE), RECORD_SIZE);
}

/** Throws unless a KafkaJS-shaped send result has one error-free entry with an offset per partition written. */
function checkKafkajsResult(r: unknown): void {
  if (!Array.isArray(r) || r.length === 0) throw new Error(`send returned no result: ${JSON.stringify(r)}`);
  for (const md of r as { errorCode?: number; baseOffset?: string }[]) {
    if ((md.errorCode ?? 0) !== 0 || !(Number(md.baseOffset) >= 0)) throw new Error(`bad send result ${JSON.stringify(md)}`);
  }
}

/** KafkaJS-style load: send calls of PER_CALL messages, up to CALLS_IN_FLIGHT calls in flight. */
/** What the KafkaJS-style loops need of a producer (KafkaJS's and kafka-turbo's facade). */
type KafkajsLike = { connect(): Promise<void>; send(a: unknown): Promise<unknown>; disconnect(): Promise<void> };

/** An open producer whose connect and disconnect are left to the caller (--percall-warm). */
function keepOpen(producer: KafkajsLike): KafkajsLike {
  return { connect: async () => {}, send: (a) => producer.send(a), disconnect: async () => {} };
}

async function kafkajsStyle(
  producer: KafkajsLike,
  topic: string,
  records: number,
  batches: { value: Buffer }[][],
  compression: number,
  acks = -1,
): Promise<number> {
  await producer.connect();
  let acked = 0;
  let failure: unknown = null;
  const inflight = new Set<Promise<unknown>>();
  for (let sent = 0, b = 0; sent < records && !failure; sent += PER_CALL, b++) {
    const n = Math.min(PER_CALL, records - sent);
    const batch = batches[b % batches.length]!;
    const messages = n === batch.length ? batch : batch.slice(0, n);
    const p: Promise<unknown> = producer.send({ topic, messages, acks, compression }).then(
      (r) => {
        checkKafkajsResult(r);
        acked += n;
        inflight.delete(p);
      },
      (e) => {
        failure ??= e;
        inflight.delete(p);
      },
    );
    inflight.add(p);
    if (inflight.size >= CALLS_IN_FLIGHT) await Promise.race(inflight);
  }
  await Promise.all(inflight);
  await producer.disconnect();
  if (failure) throw failure;
  return acked;
}

/** KafkaJS-style load of one message per call, up to 1000 calls in flight (--percall). A
 * counter and one wake-up instead of a Set and Promise.race, so the loop itself costs little. */
async function kafkajsOnePerCall(
  producer: KafkajsLike,
  topic: string,
  records: number,
  batches: { value: Buffer }[][],
  acks: number,
): Promise<number> {
  await producer.connect();
  const messages = batches.flat().map((m) => [m]);
  let acked = 0;
  let inflight = 0;
  let failure: unknown = null;
  let wake: (() => void) | null = null;
  const done = (): void => {
    inflight--;
    if (wake) {
      const w = wake;
      wake = null;
      w();
    }
  };
  const settle = (r: unknown): void => {
    checkKafkajsResult(r);
    acked++;
    done();
  };
  const fail = (e: unknown): void => {
    failure ??= e;
    done();
  };
  for (let i = 0; i < records && !failure; i++) {
    inflight++;
    producer.send({ topic, messages: messages[i % messages.length]!, acks }).then(settle, fail);
    if (inflight >= 1000) await new Promise<void>((r) => (wake = r));
  }
  while (inflight > 0) await new Promise<void>((r) => (wake = r));
  await producer.disconnect();
  if (failure) throw failure;
  return acked;
}

/** The same load with @platformatic/kafka's API: send({messages}) → {offsets: [{topic, partition, offset}]}. */
async function platformaticStyle(
  bootstrap: string,
  topic: string,
  records: number,
  batches: { value: Buffer }[][],
  codec: Codec,
  sec: SecurityEnv | null,
  caPem: string,
): Promise<number> {
  const { Producer, ProduceAcks } = await import('@platformatic/kafka');
  const producer = new Producer({
    ...(sec ? { tls: { ca: [caPem] }, sasl: { mechanism: 'SCRAM-SHA-512' as const, username: sec.username, password: sec.password } } : {}),
    clientId: 'bench',
    bootstrapBrokers: bootstrap.split(','),
    acks: ProduceAcks.ALL,
    compression: codec,
    // Its own defaults otherwise, as for the other clients (maxInflights stays at its default 5
    // requests per connection: raising it to this load's 8 calls measured slower here).
  });
  const withTopic = batches.map((batch) => batch.map((m) => ({ topic, value: m.value })));
  let acked = 0;
  let failure: unknown = null;
  const inflight = new Set<Promise<unknown>>();
  for (let sent = 0, b = 0; sent < records && !failure; sent += PER_CALL, b++) {
    const n = Math.min(PER_CALL, records - sent);
    const batch = withTopic[b % withTopic.length]!;
    const messages = n === batch.length ? batch : batch.slice(0, n);
    const p: Promise<unknown> = producer.send({ messages, acks: ProduceAcks.ALL, compression: codec }).then(
      (r) => {
        if (!r.offsets || r.offsets.length === 0) throw new Error(`send returned no offsets: ${JSON.stringify(r, (_k, v) => (typeof v === 'bigint' ? String(v) : v))}`);
        for (const o of r.offsets) if (o.topic !== topic || !(o.offset >= 0n)) throw new Error(`bad offset ${o.topic}/${o.partition}@${o.offset}`);
        acked += n;
        inflight.delete(p);
      },
      (e) => {
        failure ??= e;
        inflight.delete(p);
      },
    );
    inflight.add(p);
    if (inflight.size >= CALLS_IN_FLIGHT) await Promise.race(inflight);
  }
  await Promise.all(inflight);
  await producer.close();
  if (failure) throw failure;
  return acked;
}

async function child(): Promise<void> {
  const bootstrap = process.env['BOOTSTRAP']!;
  const topic = process.env['TOPIC']!;
  const records = Number(process.env['RECORDS']);
  const which = process.env['CASE'] as CaseKind;
  const codec = process.env['CODEC'] as Codec;
  const sec: SecurityEnv | null = process.env['SECURITY'] ? JSON.parse(process.env['SECURITY']) : null;
  const caPem = sec ? readFileSync(sec.ca, 'utf8') : '';
  const tuning: Record<string, unknown> = process.env['TUNING'] ? JSON.parse(process.env['TUNING']) : {};
  const shape = (process.env['SHAPE'] ?? 'throughput') as Shape;
  const brokerPids: number[] = process.env['BROKER_PIDS'] ? JSON.parse(process.env['BROKER_PIDS']) : [];
  // --acks: -1 (all, the default) or 1; the Java-style API takes the same as a string.
  const acks = Number(process.env['ACKS'] ?? '-1');
  const javaAcks = acks === -1 ? 'all' : String(acks);
  const clockTicks = Number(process.env['CLK_TCK'] ?? '100');
  // KafkaJS's options (also kafka-turbo's facade): TLS trusting the test CA, SCRAM-SHA-512.
  const kafkajsSecurity = sec ? { ssl: { ca: [caPem] }, sasl: { mechanism: 'scram-sha-512' as const, username: sec.username, password: sec.password } } : {};

  // Outside the clock: load the client, register codecs, make the values.
  const values = makeValues(Math.min(records, 64 * PER_CALL));
  const batches: { value: Buffer }[][] = [];
  for (let i = 0; i < values.length; i += PER_CALL) batches.push(values.slice(i, i + PER_CALL).map((value) => ({ value })));
  let run: () => Promise<number>;
  // --percall-warm: `prepare` connects and runs the warm-up off the clock (its records are
  // counted in `acked`), `finish` closes after the clock; the timed `run` then reuses the open
  // producer through keepOpen.
  const warm = Number(process.env['WARM'] ?? '0');
  let prepare: () => Promise<number> = async () => 0;
  let finish: () => Promise<void> = async () => {};
  /** A KafkaJS-style case's run (with --percall-warm also its prepare and finish): `loop`
   * sends `n` records (calls) through a producer `make` gives. */
  const kafkajsCase = (make: () => KafkajsLike, loop: (producer: KafkajsLike, n: number) => Promise<number>) => {
    if (warm === 0) return { prepare, finish, run: () => loop(make(), records) };
    const producer = make();
    return {
      prepare: async () => {
        await producer.connect();
        return loop(keepOpen(producer), warm);
      },
      run: () => loop(keepOpen(producer), records),
      finish: () => producer.disconnect(),
    };
  };
  // Awaited shape: per-send latencies (µs) of one-at-a-time sends, filled by `run`.
  const latencies: number[] = [];
  const AWAITED_WARMUP = 100;
  if (shape === 'one-per-call' && (which === 'turbo-kafkajs' || which === 'kafkajs')) {
    // Either library's Kafka class, with the same (KafkaJS) options.
    const lib = (which === 'kafkajs' ? require('kafkajs') : require('../ts/index.js')) as typeof import('kafkajs');
    const kafka = new lib.Kafka({ clientId: 'bench', brokers: bootstrap.split(','), logLevel: lib.logLevel.NOTHING, ...kafkajsSecurity });
    ({ prepare, run, finish } = kafkajsCase(
      () => kafka.producer(tuning as never) as never as KafkajsLike,
      (producer, n) => kafkajsOnePerCall(producer, topic, n, batches, acks),
    ));
  } else if (shape === 'java-loop' && which === 'promise-floor') {
    // What `send(record) → Promise<RecordMetadata>` costs before any producer work: n promises
    // made in one loop (each keeps its resolve function, as a pending send does), resolved
    // later a response's worth at a time (one batch of records per event-loop turn) with a
    // RecordMetadata-shaped object, then awaited together. No broker is involved.
    type Md = { topic: string; partition: number; offset: number; timestamp: number; serializedKeySize: number; serializedValueSize: number };
    const PER_RESPONSE = 1000;
    const loop = async (n: number): Promise<number> => {
      const resolvers = new Array<(md: Md) => void>(n);
      const sent = new Array<Promise<Md>>(n);
      for (let i = 0; i < n; i++) sent[i] = new Promise<Md>((resolve) => (resolvers[i] = resolve));
      for (let from = 0; from < n; from += PER_RESPONSE) {
        await new Promise<void>((r) => setImmediate(r));
        const now = Date.now();
        for (let i = from; i < Math.min(n, from + PER_RESPONSE); i++) {
          resolvers[i]!({ topic, partition: i % PARTITIONS, offset: i, timestamp: now, serializedKeySize: -1, serializedValueSize: RECORD_SIZE });
        }
      }
      let acked = 0;
      for (const md of await Promise.all(sent)) {
        if (!(md.offset >= 0 && md.topic === topic)) throw new Error(`bad record metadata ${JSON.stringify(md)}`);
        acked++;
      }
      return acked;
    };
    if (warm > 0) prepare = () => loop(warm);
    run = () => loop(records);
  } else if (shape === 'java-loop' && which === 'turbo-java') {
    const { Producer } = require('../ts/index.js') as typeof import('../ts/index.js');
    const producer = new Producer({ 'bootstrap.servers': bootstrap, acks: javaAcks, 'compression.type': codec, ...tuning } as never);
    // Every record sent in one loop (what buffer.memory's default holds at 100 B), then awaited.
    const loop = async (n: number): Promise<number> => {
      const sent = new Array<Promise<{ offset: number; topic: string }>>(n);
      for (let i = 0; i < n; i++) sent[i] = producer.send({ topic, value: values[i % values.length]! });
      let acked = 0;
      for (const md of await Promise.all(sent)) {
        if (!(md.offset >= 0 && md.topic === topic)) throw new Error(`bad record metadata ${JSON.stringify(md)}`);
        acked++;
      }
      return acked;
    };
    if (warm > 0) {
      prepare = async () => {
        await producer.connect([topic]);
        return loop(warm);
      };
      run = () => loop(records);
      finish = () => producer.close();
    } else {
      run = async () => {
        await producer.connect([topic]);
        const acked = await loop(records);
        await producer.close();
        return acked;
      };
    }
  } else if (shape === 'awaited' && which === 'turbo-java') {
    const { Producer } = require('../ts/index.js') as typeof import('../ts/index.js');
    run = async () => {
      const producer = new Producer({ 'bootstrap.servers': bootstrap, acks: javaAcks, 'compression.type': codec, ...tuning } as never);
      await producer.connect([topic]);
      for (let i = 0; i < records + AWAITED_WARMUP; i++) {
        const t = process.hrtime.bigint();
        const md = await producer.send({ topic, value: values[i % values.length]! });
        if (!(md.offset >= 0)) throw new Error(`bad record metadata ${JSON.stringify(md)}`);
        if (i >= AWAITED_WARMUP) latencies.push(Number(process.hrtime.bigint() - t) / 1e3);
      }
      await producer.close();
      return records + AWAITED_WARMUP;
    };
  } else if (shape === 'awaited' && which === 'turbo-kafkajs') {
    const { Kafka, logLevel, CompressionTypes } = require('../ts/index.js') as typeof import('../ts/index.js');
    const kafka = new Kafka({ clientId: 'bench', brokers: bootstrap.split(','), logLevel: logLevel.NOTHING, ...kafkajsSecurity });
    run = async () => {
      const producer = kafka.producer(tuning as never);
      await producer.connect();
      for (let i = 0; i < records + AWAITED_WARMUP; i++) {
        const t = process.hrtime.bigint();
        const r = await producer.send({ topic, messages: [{ value: values[i % values.length]! }], acks, compression: CompressionTypes[KAFKAJS_CODEC_KEY[codec]] });
        checkKafkajsResult(r);
        if (i >= AWAITED_WARMUP) latencies.push(Number(process.hrtime.bigint() - t) / 1e3);
      }
      await producer.disconnect();
      return records + AWAITED_WARMUP;
    };
  } else if (which === 'turbo-java') {
    const { Producer } = require('../ts/index.js') as typeof import('../ts/index.js');
    run = async () => {
      const javaSecurity = sec
        ? {
            'security.protocol': 'SASL_SSL',
            'ssl.truststore.location': sec.ca,
            'sasl.mechanism': 'SCRAM-SHA-512',
            'sasl.jaas.config': `org.apache.kafka.common.security.scram.ScramLoginModule required username="${sec.username}" password="${sec.password}";`,
          }
        : {};
      // The producer's own defaults (linger.ms 5, batch.size ...), unless a variant says otherwise.
      const producer = new Producer({ 'bootstrap.servers': bootstrap, acks: javaAcks, 'compression.type': codec, ...javaSecurity, ...tuning } as never);
      await producer.connect([topic]);
      let acked = 0;
      let bad: unknown = null;
      // The app's own backpressure: at most 50k records in flight.
      let inflight = 0;
      let wake: (() => void) | null = null;
      const release = () => {
        inflight--;
        if (wake && inflight < 25_000) {
          const w = wake;
          wake = null;
          w();
        }
      };
      const settle = (md: { offset: number; topic: string }) => {
        if (md.offset >= 0 && md.topic === topic) acked++;
        else bad ??= new Error(`bad record metadata ${JSON.stringify(md)}`);
        release();
      };
      const fail = (e: unknown) => {
        bad ??= e;
        release();
      };
      for (let i = 0; i < records && !bad; i++) {
        if (inflight >= 50_000) await new Promise<void>((r) => (wake = r));
        inflight++;
        producer.send({ topic, value: values[i % values.length]! }).then(settle, fail);
      }
      await producer.flush();
      await producer.close();
      if (bad) throw bad;
      return acked;
    };
  } else if (which === 'turbo-kafkajs') {
    const { Kafka, logLevel, CompressionTypes } = require('../ts/index.js') as typeof import('../ts/index.js');
    const kafka = new Kafka({ clientId: 'bench', brokers: bootstrap.split(','), logLevel: logLevel.NOTHING, ...kafkajsSecurity });
    const compression = CompressionTypes[KAFKAJS_CODEC_KEY[codec]];
    ({ prepare, run, finish } = kafkajsCase(
      () => kafka.producer(tuning as never) as never as KafkajsLike,
      (producer, n) => kafkajsStyle(producer, topic, n, batches, compression, acks),
    ));
  } else if (which === 'kafkajs') {
    const { Kafka, logLevel, CompressionTypes } = require('kafkajs') as typeof import('kafkajs');
    registerKafkajsCodec(codec);
    const kafka = new Kafka({ clientId: 'bench', brokers: bootstrap.split(','), logLevel: logLevel.NOTHING, ...kafkajsSecurity });
    const compression = CompressionTypes[KAFKAJS_CODEC_KEY[codec]];
    ({ prepare, run, finish } = kafkajsCase(
      () => kafka.producer() as never as KafkajsLike,
      (producer, n) => kafkajsStyle(producer, topic, n, batches, compression, acks),
    ));
  } else if (which === 'platformatic') {
    await import('@platformatic/kafka');
    run = () => platformaticStyle(bootstrap, topic, records, batches, codec, sec, caPem);
  } else {
    throw new Error(`unknown case ${String(which)}`);
  }

  const warmAcked = await prepare();
  if (warmAcked !== (warm > 0 && shape !== 'awaited' ? warm : 0)) throw new Error(`warm-up: only ${warmAcked} of ${warm} records acknowledged`);
  const broker0 = processesCpuUs(brokerPids, clockTicks);
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  const timedAcked = await run();
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = process.cpuUsage(cpu0);
  const brokerCpuUs = brokerPids.length > 0 ? processesCpuUs(brokerPids, clockTicks) - broker0 : NaN;
  await finish();
  const expected = shape === 'awaited' ? records + AWAITED_WARMUP : records;
  if (timedAcked !== expected) throw new Error(`only ${timedAcked} of ${expected} records acknowledged`);
  const acked = timedAcked + warmAcked;
  const out: ChildOut = { seconds, cpuUs: cpu.user + cpu.system, acked, brokerCpuUs };
  if (shape === 'awaited') {
    latencies.sort((a, b) => a - b);
    out.p50Us = percentile(latencies, 0.5);
    out.p99Us = percentile(latencies, 0.99);
  }
  process.stdout.write(JSON.stringify(out) + '\n');
}

// ---------------------------------------------------------------------------------------
// Parent side.


/** The records a topic holds: the sum of its partitions' end offsets (a fresh topic per case). */
async function topicRecords(admin: import('kafkajs').Admin, topic: string): Promise<number> {
  const offsets = await admin.fetchTopicOffsets(topic);
  return offsets.reduce((sum, o) => sum + Number(o.high) - Number(o.low), 0);
}

async function parent(): Promise<void> {
  const records = Number(arg('records', '500000'));
  const runs = Number(arg('runs', '3'));
  const codecArg = arg('codec', 'none');
  const codecs: Codec[] = codecArg === 'all' ? [...CODECS] : [codecArg as Codec];
  if (!codecs.every((c) => (CODECS as readonly string[]).includes(c))) throw new Error(`--codec: expected one of ${CODECS.join('|')}|all, got ${codecArg}`);
  if (!(records > 0) || !(runs > 0)) throw new Error('--records and --runs must be positive');
  const listenerArg = arg('listener', 'PLAINTEXT');
  const listeners: Listener[] = listenerArg === 'both' ? ['PLAINTEXT', 'SASL_SSL'] : [listenerArg as Listener];
  if (!listeners.every((l) => l === 'PLAINTEXT' || l === 'SASL_SSL')) throw new Error(`--listener: expected PLAINTEXT|SASL_SSL|both, got ${listenerArg}`);
  const secure = listeners.includes('SASL_SSL');
  const brokers = Number(arg('brokers', '1'));
  if (brokers !== 1 && brokers !== 3) throw new Error(`--brokers: expected 1 or 3, got ${arg('brokers', '')}`);
  if (brokers === 3 && secure) throw new Error('--listener SASL_SSL runs on the 1-broker secure cluster: leave out --brokers 3');
  const onlyArg = arg('only', '');
  const only = onlyArg ? onlyArg.split(',') : [...KINDS];
  for (const k of only) if (!(KINDS as readonly string[]).includes(k)) throw new Error(`--only: expected some of ${KINDS.join(',')}, got ${k}`);
  const variantsArg = JSON.parse(arg('turbo-variants', '{}')) as Record<string, Record<string, unknown>>;
  if (typeof variantsArg !== 'object' || variantsArg === null || Array.isArray(variantsArg)) throw new Error('--turbo-variants: expected a JSON object {name: {java key: value}}');
  const variants: Record<string, Record<string, unknown>> = { '': {}, ...variantsArg };
  const awaited = Number(arg('awaited', '0'));
  const warmup = Number(arg('warmup', String(Math.min(records, 50_000))));
  if (!(awaited >= 0) || !(warmup >= 0)) throw new Error('--awaited and --warmup must be >= 0');

  const percall = process.argv.includes('--percall');
  const percallRecords = Number(arg('percall-records', '50000'));
  const javaLoopRecords = Number(arg('java-loop-records', '200000'));
  if (!(percallRecords > 0) || !(javaLoopRecords > 0)) throw new Error('--percall-records and --java-loop-records must be positive');
  const percallWarm = Number(arg('percall-warm', '0'));
  if (!(percallWarm >= 0) || !Number.isInteger(percallWarm)) throw new Error(`--percall-warm: expected a whole number >= 0, got ${arg('percall-warm', '')}`);
  if (percallWarm > 0 && !percall) throw new Error('--percall-warm goes with --percall');
  /** Records a case's child sends off the clock first (--percall-warm; not for awaited sends). */
  const warmOf = (c: CaseDef): number => (percall && c.shape !== 'awaited' ? percallWarm : 0);
  const acksArg = arg('acks', 'all');
  if (acksArg !== 'all' && acksArg !== '1') throw new Error(`--acks: expected all or 1, got ${acksArg}`);
  const acks = acksArg === 'all' ? '-1' : '1';
  /** The records (or calls) one run of a case sends. */
  const countOf = (c: CaseDef): number =>
    c.shape === 'awaited' ? awaited : c.shape === 'one-per-call' ? percallRecords : c.shape === 'java-loop' ? javaLoopRecords : records;
  const list = (percall ? percallCases(awaited > 0) : cases(variants, awaited > 0)).filter((c) => only.includes(c.kind));
  // Generous: the slowest client here does ~40k records/s with compression.
  const caseTimeoutMs = 60_000 + records * 0.5 + awaited * 20;
  // Which (case, codec) pairs run: the others are dropped with a note.
  const plan: { codec: Codec; c: CaseDef }[] = [];
  const notes: string[] = [];
  for (const codec of codecs) {
    for (const c of list) {
      const why = await unavailable(c, codec);
      if (why) notes.push(`${codec} / ${c.name}: dropped — ${why}`);
      else plan.push({ codec, c });
    }
  }
  for (const n of notes) console.error(`note: ${n}`);

  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const harness = require(join(__dirname, '..', '..', 'test', 'helpers', 'kafka', 'cluster.cjs'));
  const given = arg('bootstrap', '');
  if (given && secure) throw new Error('--listener SASL_SSL starts its own secure broker: leave out --bootstrap');
  const cluster = given ? await harness.connectCluster(given) : await harness.startCluster({ brokers, secure });
  const secEnv: SecurityEnv | null = secure
    ? { ca: harness.ensureCertificates().ca, username: 'alice', password: 'alice-secret' }
    : null;
  // The brokers' CPU is read by each child from /proc: only for brokers started here.
  // --broker-pids names them for a cluster given with --bootstrap (to compare two builds of
  // kafka-turbo on one cluster, run after run).
  const pidsArg = arg('broker-pids', '');
  const brokerPids: number[] = pidsArg
    ? pidsArg.split(',').map(Number)
    : typeof cluster.brokerPids === 'function'
      ? cluster.brokerPids()
      : [];
  if (!brokerPids.every((pid) => Number.isInteger(pid) && pid > 0)) throw new Error(`--broker-pids: expected process ids, got ${pidsArg}`);
  const clockTicks = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
  const { Kafka, logLevel } = require('kafkajs') as typeof import('kafkajs');
  const admin = new Kafka({ clientId: 'bench-check', brokers: String(cluster.bootstrap).split(','), logLevel: logLevel.NOTHING }).admin();
  const results: CaseResult[] = [];
  const failures: string[] = [];
  const replicationFactor = given ? Number(arg('brokers', '-1')) : brokers;
  let n = 0;
  /** One case once: its result, checked against the topic, or throws. */
  const runCase = async (codec: Codec, c: CaseDef, listener: Listener, count: number): Promise<ChildOut> => {
    const topic = `bench-${Date.now().toString(36)}-${n++}`;
    await cluster.createTopic(topic, { partitions: PARTITIONS, replicationFactor, configs: { 'compression.type': 'producer' } });
    const target = listener === 'SASL_SSL' ? cluster.listeners.SASL_SSL : cluster.bootstrap;
    const security: Record<string, string> = listener === 'SASL_SSL' ? { SECURITY: JSON.stringify(secEnv) } : {};
    const r = await runChild<ChildOut>(
      __filename,
      {
        ...c.env,
        ...security,
        CASE: c.kind,
        SHAPE: c.shape,
        TUNING: JSON.stringify(c.tuning ?? {}),
        ACKS: acks,
        CODEC: codec,
        BOOTSTRAP: target,
        TOPIC: topic,
        RECORDS: String(count),
        WARM: String(warmOf(c)),
        BROKER_PIDS: JSON.stringify(brokerPids),
        CLK_TCK: String(clockTicks),
      },
      { timeoutMs: caseTimeoutMs },
    );
    const expected = (c.shape === 'awaited' ? count + 100 : count) + warmOf(c);
    if (r.acked !== expected) throw new Error(`${r.acked} of ${expected} records acknowledged`);
    // The promise floor sends nothing: its topic must stay empty.
    const stored = await topicRecords(admin, topic);
    const sent = c.kind === 'promise-floor' ? 0 : expected;
    if (stored !== sent) throw new Error(`the topic holds ${stored} records, ${sent} were sent`);
    return r;
  };
  try {
    await admin.connect();
    if (warmup > 0) {
      // A fresh broker JVM is slow for its first minute: every throughput case once, not counted.
      for (const { codec, c } of plan) {
        if (c.shape === 'awaited') continue;
        await runCase(codec, c, listeners[0]!, Math.min(warmup, countOf(c))).catch((e) => console.error(`warm-up ${c.name}: ${(e as Error).message}`));
      }
      console.error('warm-up done');
    }
    for (let run = 0; run < runs; run++) {
      // The order is rotated every round, so no case always gets the same neighbours.
      // (--rotate N starts the rotation N places on: for runs of one round each.)
      const k = plan.length > 0 ? (run + Number(arg('rotate', '0'))) % plan.length : 0;
      const order = [...plan.slice(k), ...plan.slice(0, k)];
      // Listeners alternate case by case, so neither gets the quieter moments of the run.
      for (const { codec, c } of order) for (const listener of run % 2 === 0 ? listeners : [...listeners].reverse()) {
        const label = `${codec} / ${listener} / ${c.name}`;
        const count = countOf(c);
        try {
          const r = await runCase(codec, c, listener, count);
          const res: CaseResult = {
            codec,
            listener,
            name: c.name,
            shape: c.shape,
            recordsPerSec: r.acked / r.seconds,
            cpuUsPerRecord: r.cpuUs / r.acked,
            brokerCpuUsPerRecord: r.brokerCpuUs / r.acked,
            ...(r.p50Us !== undefined ? { p50Us: r.p50Us, p99Us: r.p99Us } : {}),
          };
          results.push(res);
          console.error(
            `${label}: ${Math.round(res.recordsPerSec).toLocaleString('en-US')} records/s, ${res.cpuUsPerRecord.toFixed(2)} µs CPU/record, ` +
              `brokers ${res.brokerCpuUsPerRecord.toFixed(2)} µs CPU/record` +
              (res.p50Us !== undefined ? `, p50 ${Math.round(res.p50Us)} µs, p99 ${Math.round(res.p99Us!)} µs` : ''),
          );
        } catch (e) {
          failures.push(`${label} (run ${run + 1}): ${(e as Error).message}`);
          console.error(`${label}: FAILED: ${(e as Error).message}`);
        }
      }
    }
  } finally {
    await admin.disconnect().catch(() => {});
    if (!given) await cluster.stop();
  }

  // Medians per (codec, listener, case) over the runs; ratios against the best peer of the
  // same codec and listener (the highest throughput, the lowest broker CPU per record).
  const median = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  if (percall) {
    // One table for every case: per call for the one-message sends (one record each).
    console.log(
      `${brokers} broker(s), acks=${acksArg}, ${RECORD_SIZE} B records, ${PARTITIONS} partitions, medians of ${runs} rounds (min–max): ` +
        `${percallRecords} one-message calls, ${javaLoopRecords} records in one loop, ${records} records in calls of ${PER_CALL}, ${awaited} awaited sends` +
        (percallWarm > 0 ? `; each after ${percallWarm} of the same off the clock in the same process (--percall-warm)` : '; each in a fresh process, connect and close timed'),
    );
    console.log('');
    console.log('| codec | case | records/s | client CPU µs per record (per call) | broker CPU µs/record | p50 µs |');
    console.log('|---|---|---|---|---|---|');
    const range = (xs: number[], digits: number) => `${median([...xs]).toFixed(digits)} (${Math.min(...xs).toFixed(digits)}–${Math.max(...xs).toFixed(digits)})`;
    for (const codec of codecs) for (const c of list) {
      const rs = results.filter((r) => r.codec === codec && r.name === c.name);
      if (rs.length === 0) continue;
      console.log(
        `| ${codec} | ${c.name}${rs.length < runs ? ` (${rs.length} of ${runs} runs)` : ''} | ${Math.round(median(rs.map((r) => r.recordsPerSec))).toLocaleString('en-US')} | ` +
          `${range(rs.map((r) => r.cpuUsPerRecord), 2)} | ${median(rs.map((r) => r.brokerCpuUsPerRecord)).toFixed(2)} | ` +
          `${c.shape === 'awaited' ? Math.round(median(rs.map((r) => r.p50Us!))) : ''} |`,
      );
    }
    if (notes.length) console.log('');
    for (const n of notes) console.log(`Note: ${n}`);
    if (failures.length) {
      console.log('');
      for (const f of failures) console.log(`FAILED: ${f}`);
      process.exitCode = 1;
    }
    return;
  }
  console.log(`${brokers} broker(s), acks=${acksArg}, ${records} records of ${RECORD_SIZE} B, ${PARTITIONS} partitions, medians of ${runs} rounds`);
  console.log('');
  console.log(
    `| codec | listener | case | records/s | client CPU µs/record | broker CPU µs/record | throughput vs best peer | broker CPU vs best peer |`,
  );
  console.log('|---|---|---|---|---|---|---|---|');
  const peerKinds = new Set(list.filter((c) => c.kind === 'kafkajs' || c.kind === 'platformatic').map((c) => c.name));
  for (const codec of codecs) for (const listener of listeners) {
    const rows = list
      .filter((c) => c.shape === 'throughput')
      .map((c) => results.filter((r) => r.codec === codec && r.listener === listener && r.name === c.name))
      .filter((rs) => rs.length > 0)
      .map((rs) => ({
        name: rs[0]!.name,
        n: rs.length,
        rps: median(rs.map((r) => r.recordsPerSec)),
        cpu: median(rs.map((r) => r.cpuUsPerRecord)),
        broker: median(rs.map((r) => r.brokerCpuUsPerRecord)),
      }));
    const peers = rows.filter((r) => peerKinds.has(r.name));
    const bestRps = peers.length ? Math.max(...peers.map((r) => r.rps)) : NaN;
    const bestBroker = peers.length ? Math.min(...peers.map((r) => r.broker)) : NaN;
    for (const r of rows) {
      const runsNote = r.n < runs ? ` (${r.n} of ${runs} runs)` : '';
      console.log(
        `| ${codec} | ${listener} | ${r.name}${runsNote} | ${Math.round(r.rps).toLocaleString('en-US')} | ${r.cpu.toFixed(2)} | ` +
          `${r.broker.toFixed(2)} | ${Number.isFinite(bestRps) ? `${(r.rps / bestRps).toFixed(2)}×` : 'n/a'} | ` +
          `${Number.isFinite(bestBroker) && Number.isFinite(r.broker) ? `${(r.broker / bestBroker).toFixed(2)}×` : 'n/a'} |`,
      );
    }
  }
  const awaitedRows = list.filter((c) => c.shape === 'awaited');
  if (awaitedRows.length > 0) {
    console.log('');
    console.log(`Awaited single sends (${awaited} per round, one at a time), medians of the rounds' p50 and p99:`);
    console.log('');
    console.log('| codec | listener | case | p50 µs | p99 µs | client CPU µs/record |');
    console.log('|---|---|---|---|---|---|');
    for (const codec of codecs) for (const listener of listeners) for (const c of awaitedRows) {
      const rs = results.filter((r) => r.codec === codec && r.listener === listener && r.name === c.name);
      if (rs.length === 0) continue;
      console.log(
        `| ${codec} | ${listener} | ${c.name} | ${Math.round(median(rs.map((r) => r.p50Us!)))} | ${Math.round(median(rs.map((r) => r.p99Us!)))} | ` +
          `${median(rs.map((r) => r.cpuUsPerRecord)).toFixed(1)} |`,
      );
    }
  }
  if (notes.length) console.log('');
  for (const n of notes) console.log(`Note: ${n}`);
  if (failures.length) {
    console.log('');
    for (const f of failures) console.log(`FAILED: ${f}`);
    process.exitCode = 1;
  }
}

benchMain(parent, child);
