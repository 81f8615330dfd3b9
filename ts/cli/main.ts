#!/usr/bin/env node
/**
 * The `kafka-turbo` command: `perf` (kafka-producer-perf-test's flags) and `produce` (lines
 * from stdin or a file of JSON records). Without --bootstrap-server (or bootstrap.servers in
 * --producer-props / --producer.config) both start a local Kafka broker for the run
 * (embedded-broker.ts) and stop it when they end, Ctrl-C included.
 *
 * Output: the report on stdout (text, or one JSON object with --json); progress on a terminal
 * as one line redrawn in place, on anything else plain lines only (never a control
 * character); errors and broker messages on stderr. Exit codes: see EXIT and README.
 */
import { readFileSync } from 'node:fs';
import { ConfigError } from '../errors.js';
import { resolveConfig, type ProducerConfig, type ResolvedConfig } from '../producer/options.js';
import { int, keyValues, list, num, parseCommandLine, readPropertiesFile, required, str, UsageError, type OptionSpec, type Parsed } from './args.js';
import { EmbeddedBroker, EmbeddedBrokerError } from './embedded-broker.js';
import { runPerf } from './perf.js';
import { readJsonRecords, runProduce } from './produce.js';
import { formatMetrics, formatReport, makeReport, Progress, type Report, type Stats } from './report.js';
import type { Metric } from '../metrics/producer-metrics.js';

export const EXIT = {
  OK: 0,
  /** Some records failed, or the producer could not reach the cluster. */
  FAILED: 1,
  /** Bad command line, flag value, producer configuration or input file. */
  USAGE: 2,
  /** The embedded broker could not be had (no Java 17, no Maven, fetch or start failed). */
  BROKER: 3,
  /** 128 + signal number, as shells report it: 130 for Ctrl-C (SIGINT), 143 for SIGTERM. */
  SIGINT: 130,
  SIGTERM: 143,
} as const;

const COMMON: Record<string, OptionSpec> = {
  'bootstrap-server': { type: 'string' },
  'producer-props': { type: 'string', multiple: true, nargs: true },
  'producer.config': { type: 'string' },
  'print-metrics': { type: 'boolean' },
  json: { type: 'boolean' },
  'max-in-flight-records': { type: 'string' },
  'reporting-interval-ms': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
};

const PERF_OPTIONS: Record<string, OptionSpec> = {
  ...COMMON,
  topic: { type: 'string' },
  'num-records': { type: 'string' },
  'record-size': { type: 'string' },
  'payload-file': { type: 'string' },
  'payload-delimiter': { type: 'string' },
  'payload-monotonic': { type: 'boolean' },
  throughput: { type: 'string' },
  'transactional-id': { type: 'string' },
  'transaction-duration-ms': { type: 'string' },
  partitions: { type: 'string' },
};

const PRODUCE_OPTIONS: Record<string, OptionSpec> = {
  ...COMMON,
  topic: { type: 'string' },
  'key-separator': { type: 'string' },
  header: { type: 'string', multiple: true },
  file: { type: 'string' },
  partitions: { type: 'string' },
};

const COMMON_HELP = `Connection and producer configuration:
  --bootstrap-server HOST:PORT[,...]  the cluster; without it (and without bootstrap.servers in the
                          properties) a local Apache Kafka broker is started for the run and
                          stopped at the end (Java 17+ needed; its jars are fetched with Maven on
                          first use into ~/.cache/kafka-turbo, or $KAFKA_TURBO_CACHE_DIR)
  --producer-props K=V [K=V ...]  producer configuration (Java keys: acks=1 linger.ms=10 ...);
                          takes precedence over --producer.config
  --producer.config FILE  producer configuration as a Java .properties file
                          (key.serializer and value.serializer are ignored: records are bytes)
  --partitions N          partitions of topics the local broker auto-creates (default 6)
Output:
  --json                  the final report as one JSON object on stdout
  --print-metrics         print producer.metrics() at the end, as the Java tool lays them out
  --reporting-interval-ms N  plain progress lines every N ms when stdout is not a terminal
                          (default 5000, as kafka-producer-perf-test); a terminal gets one
                          progress line redrawn in place instead
  --max-in-flight-records N  records sent but not yet acknowledged, at most (default 10000)
  -h, --help              this help
Exit codes: 0 all records acknowledged; 1 records failed or the cluster was unreachable;
  2 bad flags, configuration or input; 3 the local broker could not start; 130 Ctrl-C.`;

const PERF_HELP = `usage: kafka-turbo perf --topic TOPIC --num-records N --throughput N
         (--record-size BYTES | --payload-file FILE | --payload-monotonic)
         [--producer-props K=V ...] [--producer.config FILE] [--print-metrics]
         [--bootstrap-server HOST:PORT] [--json]

The producer performance test, with kafka-producer-perf-test's flags: the same command line
runs against both tools. Prints its window lines (plain) or a progress line (terminal), its
final line, then kafka-turbo's report (latency percentiles, client CPU per record, backend,
CRC32C, transport, codec).

  --topic TOPIC           produce to this topic (auto-created by brokers that allow it)
  --num-records N         how many records (> 0)
  --throughput N          records/s to aim at; -1 (any negative): no throttle
  --record-size BYTES     each value: BYTES random upper-case letters
  --payload-file FILE     values: the file's pieces (split at --payload-delimiter, default
                          a newline), one picked at random per record
  --payload-monotonic     each value: the record's number (0, 1, 2, ...)
  --transactional-id ID         send in transactions with this transactional.id
  --transaction-duration-ms N   commit each transaction after N ms (default 3000; alone, it
                                implies --transactional-id performance-producer-default-transactional-id)

${COMMON_HELP}`;

const PRODUCE_HELP = `usage: kafka-turbo produce --topic TOPIC [--key-separator SEP] [--header K=V ...]
         [--file RECORDS.json] [--bootstrap-server HOST:PORT] [--producer-props K=V ...] [--json]

Produces one record per line of standard input (the line is the value), or the records of a
JSON file. Prints a report at the end (on stdout; --json for JSON).

  --topic TOPIC           produce to this topic
  --key-separator SEP     a line's text before the first SEP is the key, the rest the value
                          (lines without SEP have no key)
  --header K=V            a header on every record (repeat for more)
  --file FILE             records from FILE instead of stdin: a JSON array of records or one
                          per line, each {"value": ..., "key"?, "headers"? ({"k": "v"} or
                          [{"key": "k", "value": "v"}]), "partition"?, "timestamp"?}; strings
                          are sent as UTF-8, other JSON values as their JSON text, null as null

${COMMON_HELP}`;

const USAGE = `usage: kafka-turbo <command> [flags]

commands:
  perf      producer performance test (kafka-producer-perf-test's flags)
  produce   records from standard input or a JSON file
  help [command]

\`kafka-turbo <command> --help\` for each command's flags.`;

export interface Io {
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
  stdin: NodeJS.ReadableStream & { isTTY?: boolean };
}

const IGNORED_JAVA_KEYS = new Set(['key.serializer', 'value.serializer']);

/** --producer.config, then --producer-props over it, then --bootstrap-server over both (Java's order). */
function producerConfig(command: string, v: Parsed, clientId: string): Record<string, string> {
  const config: Record<string, string> = { 'client.id': clientId };
  const file = str(v, 'producer.config');
  if (file !== undefined) for (const [k, val] of readPropertiesFile(command, 'producer.config', file)) config[k] = val;
  for (const [k, val] of keyValues(command, 'producer-props', list(v, 'producer-props'))) config[k] = val;
  const bs = str(v, 'bootstrap-server');
  if (bs !== undefined) {
    if (bs.trim() === '') throw new UsageError(`kafka-turbo ${command}: --bootstrap-server must not be empty`);
    config['bootstrap.servers'] = bs;
  }
  for (const k of IGNORED_JAVA_KEYS) delete config[k];
  // produce sends outside any transaction, which a transactional producer refuses.
  if (command === 'produce' && 'transactional.id' in config) {
    throw new UsageError('kafka-turbo produce: transactional.id: produce does not run transactions (perf --transactional-id does)');
  }
  return config;
}

interface Run {
  stats: Stats;
  seconds: number;
  cpu: NodeJS.CpuUsage;
  producer: { config: ResolvedConfig };
  metrics: Metric[];
  interrupted: boolean;
}

export async function main(argv: readonly string[], io: Io = process): Promise<number> {
  const [cmd, ...rest] = argv;
  const out = (s: string): void => void io.stdout.write(s + '\n');
  const err = (s: string): void => void io.stderr.write(s + '\n');
  if (cmd === undefined || cmd === 'help' || cmd === '--help' || cmd === '-h') {
    const topic = rest[0];
    out(topic === 'perf' ? PERF_HELP : topic === 'produce' ? PRODUCE_HELP : USAGE);
    return cmd === undefined ? EXIT.USAGE : EXIT.OK;
  }
  if (cmd === '--version') {
    out((JSON.parse(readFileSync(`${__dirname}/../../../package.json`, 'utf8')) as { version: string }).version);
    return EXIT.OK;
  }
  if (cmd !== 'perf' && cmd !== 'produce') {
    err(`kafka-turbo: unknown command ${JSON.stringify(cmd)}\n${USAGE}`);
    return EXIT.USAGE;
  }
  const v = parseCommandLine(cmd, rest, cmd === 'perf' ? PERF_OPTIONS : PRODUCE_OPTIONS);
  if (v.help) {
    out(cmd === 'perf' ? PERF_HELP : PRODUCE_HELP);
    return EXIT.OK;
  }

  // Everything the command line says is checked before a broker starts or a socket opens.
  const topic = required(cmd, v, 'topic');
  const window = int(cmd, v, 'max-in-flight-records', 1) ?? 10_000;
  const intervalMs = int(cmd, v, 'reporting-interval-ms', 1) ?? 5000;
  const partitions = int(cmd, v, 'partitions', 1, 10_000) ?? 6;
  const config = producerConfig(cmd, v, cmd === 'perf' ? 'perf-producer-client' : 'console-producer');
  let perf: { numRecords: number; throughput: number; transactionDurationMs?: number; recordSize?: number; payloads?: Buffer[]; payloadMonotonic?: boolean } | null = null;
  if (cmd === 'perf') {
    const numRecords = int(cmd, v, 'num-records', 1);
    if (numRecords === undefined) throw new UsageError('kafka-turbo perf: --num-records is required');
    const throughput = num(cmd, v, 'throughput');
    if (throughput === undefined) throw new UsageError('kafka-turbo perf: --throughput is required (-1: no throttle)');
    if (throughput === 0) throw new UsageError('kafka-turbo perf: --throughput must be > 0, or -1 for no throttle (0 would send nothing)');
    const sources = ['record-size', 'payload-file', 'payload-monotonic'].filter((k) => v[k] !== undefined);
    if (sources.length !== 1) {
      throw new UsageError(`kafka-turbo perf: give exactly one of --record-size, --payload-file, --payload-monotonic${sources.length ? ` (got ${sources.map((s) => `--${s}`).join(' and ')})` : ''}`);
    }
    // ProducerPerformance's rule: either flag turns transactions on; the id's default is its own.
    const transactionDurationMs = int(cmd, v, 'transaction-duration-ms', 1);
    const txnId = str(v, 'transactional-id');
    if (txnId !== undefined && txnId.trim() === '') throw new UsageError('kafka-turbo perf: --transactional-id must not be empty');
    if (txnId !== undefined) config['transactional.id'] = txnId;
    else if (transactionDurationMs !== undefined && config['transactional.id'] === undefined) {
      config['transactional.id'] = 'performance-producer-default-transactional-id';
    }
    perf = { numRecords, throughput, ...(transactionDurationMs !== undefined ? { transactionDurationMs } : {}) };
    if (v['record-size'] !== undefined) perf.recordSize = int(cmd, v, 'record-size', 1, 1 << 30)!;
    else if (v['payload-monotonic']) perf.payloadMonotonic = true;
    else {
      const file = str(v, 'payload-file')!;
      const delim = (str(v, 'payload-delimiter') ?? '\\n').replace(/\\n/g, '\n').replace(/\\t/g, '\t');
      let text: string;
      try {
        text = readFileSync(file, 'utf8');
      } catch (e) {
        throw new UsageError(`kafka-turbo perf: --payload-file ${file}: ${(e as Error).message}`);
      }
      const payloads = text.split(delim).filter((p) => p.length > 0).map((p) => Buffer.from(p));
      if (payloads.length === 0) throw new UsageError(`kafka-turbo perf: --payload-file ${file} holds no payload`);
      perf.payloads = payloads;
    }
  }
  const json = v.json === true;
  const file = str(v, 'file');
  const headers = keyValues(cmd, 'header', list(v, 'header'));
  const records = cmd === 'produce' && file !== undefined ? readJsonRecords(file) : undefined;
  // The producer configuration too (a bad key or value is EXIT.USAGE), with a stand-in
  // address when the local broker will provide the real one.
  resolveConfig({ ...config, 'bootstrap.servers': config['bootstrap.servers'] ?? '127.0.0.1:9092' } as unknown as ProducerConfig);

  // Ctrl-C: the first stops sending and winds down (producer closed, broker stopped, a partial
  // report); a second one ends the process at once, broker killed.
  const ac = new AbortController();
  let broker: EmbeddedBroker | null = null;
  let signal: NodeJS.Signals | null = null;
  let signalAt = 0;
  const onSignal = (sig: NodeJS.Signals): void => {
    // The same Ctrl-C can arrive twice (from the terminal, and forwarded by a wrapper such as
    // scripts/demo.mjs): within a second it counts once.
    if (signal && Date.now() - signalAt < 1000) return;
    if (signal) {
      broker?.killSync();
      process.exit(sig === 'SIGINT' ? EXIT.SIGINT : EXIT.SIGTERM);
    }
    signal = sig;
    signalAt = Date.now();
    err(`kafka-turbo: ${sig}: stopping${broker ? ' (and the local broker)' : ''}; again to quit at once`);
    ac.abort();
    if (broker && !broker.bootstrap) void broker.stop(); // still starting: cut it short
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  let progress: Progress | null = null;
  try {
    let embedded = false;
    if (config['bootstrap.servers'] === undefined) {
      embedded = true;
      const created = EmbeddedBroker.create({ log: (s) => err(`kafka-turbo: ${s}`), partitions });
      broker = created.broker;
      err('kafka-turbo: no --bootstrap-server: starting a local Apache Kafka broker for this run');
      try {
        await created.started;
      } catch (e) {
        // The start's helpers (java -version, mvn, the storage tool) run in the terminal's
        // foreground process group, so a Ctrl-C ends them too, and their failure can reach this
        // point before our own SIGINT handler has run: java -version runs synchronously, and
        // its signal waits in libuv's signal pipe. One turn of the event loop (its poll phase
        // reads that pipe before the check phase runs setImmediate) settles whether this
        // failure was the user's Ctrl-C (exit 130) or a real one (exit 3).
        await new Promise((resolve) => setImmediate(resolve));
        if (signal) return signal === 'SIGINT' ? EXIT.SIGINT : EXIT.SIGTERM;
        throw e;
      }
      config['bootstrap.servers'] = broker.bootstrap;
    }
    // The progress line goes where a person looks: stdout, or stderr when stdout carries JSON.
    const progressOut = json ? io.stderr : io.stdout;
    const tty = progressOut.isTTY === true && !(cmd === 'produce' && !file && io.stdin.isTTY === true);
    const onStart = (stats: Stats, inFlight: () => number): void => {
      progress = new Progress(progressOut, stats, inFlight, { tty, windowLines: !json && cmd === 'perf', intervalMs });
      progress.start();
    };
    const warn = (s: string): void => err(`kafka-turbo: ${s}`);
    let result: Run;
    try {
      result = perf
        ? await runPerf({ config: config as unknown as ProducerConfig, topic, window, signal: ac.signal, onStart, warn, ...perf })
        : await runProduce({
            config: config as unknown as ProducerConfig,
            topic,
            input: io.stdin,
            ...(records ? { records } : {}),
            ...(str(v, 'key-separator') !== undefined ? { keySeparator: str(v, 'key-separator')! } : {}),
            headers,
            window,
            signal: ac.signal,
            onStart,
            warn,
          });
    } finally {
      (progress as Progress | null)?.stop();
    }
    const report: Report = makeReport(cmd, result.stats, result.cpu, result.producer.config, {
      topic,
      bootstrap: config['bootstrap.servers']!,
      embeddedBroker: embedded,
      interrupted: result.interrupted,
      seconds: result.seconds,
    });
    const metrics = v['print-metrics'] ? formatMetrics(result.metrics) : '';
    if (json) out(JSON.stringify(metrics ? { ...report, metrics: result.metrics } : report));
    else {
      out(formatReport(report));
      if (metrics) out(metrics);
    }
    if (signal) return signal === 'SIGINT' ? EXIT.SIGINT : EXIT.SIGTERM;
    return report.errors === 0 ? EXIT.OK : EXIT.FAILED;
  } finally {
    if (broker) {
      await (broker as EmbeddedBroker).stop();
      err('kafka-turbo: local broker stopped');
    }
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
  }
}

/** Maps what main() throws to a message and an exit code. */
export function exitCodeFor(e: unknown): number {
  if (e instanceof UsageError || e instanceof ConfigError) return EXIT.USAGE;
  if (e instanceof EmbeddedBrokerError) return EXIT.BROKER;
  return EXIT.FAILED;
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (e: unknown) => {
      const code = exitCodeFor(e);
      process.stderr.write(`${e instanceof Error ? e.message : String(e)}\n`);
      if (code === EXIT.USAGE && e instanceof UsageError) process.stderr.write('(--help for the flags)\n');
      process.exitCode = code;
    },
  );
}
