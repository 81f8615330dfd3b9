/**
 * End-to-end produce benchmark: records/s and client CPU per record for 100-byte records
 * against a local broker, for kafka-turbo (each backend, both APIs) and KafkaJS in the same
 * run. Each case runs in its own child process so that one client's JIT state, heap and
 * sockets do not colour another's numbers.
 *
 *   npm run build && node out/bench/produce.bench.js [--records 1000000] [--runs 3] [--bootstrap host:port]
 *
 * Without --bootstrap it starts a local broker with the test harness. Before timing, each
 * case checks its records arrived (offsets returned for every record / per-call results).
 */
import { execFileSync, spawn } from 'node:child_process';
import { join } from 'node:path';

interface CaseResult {
  name: string;
  records: number;
  seconds: number;
  recordsPerSec: number;
  cpuUsPerRecord: number;
}

const RECORD_SIZE = 100;

function arg(name: string, dflt: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : dflt;
}

/** Cases: [name, environment]. The native backend's cases appear when it loads. */
function cases(): { name: string; env: Record<string, string> }[] {
  const list: { name: string; env: Record<string, string> }[] = [
    { name: 'kafka-turbo java-api (fallback)', env: { KAFKA_TURBO_BACKEND: 'fallback', CASE: 'turbo-java' } },
    { name: 'kafka-turbo kafkajs-api (fallback)', env: { KAFKA_TURBO_BACKEND: 'fallback', CASE: 'turbo-kafkajs' } },
    { name: 'kafkajs 2.2.4', env: { CASE: 'kafkajs' } },
  ];
  try {
    const probe = execFileSync(process.execPath, ['-e', `console.log(require(${JSON.stringify(join(__dirname, '..', 'ts', 'index.js'))}).backendInfo().backend)`], {
      env: { ...process.env, KAFKA_TURBO_BACKEND: 'native' },
      stdio: ['ignore', 'pipe', 'ignore'],
    })
      .toString()
      .trim();
    if (probe === 'native') {
      list.unshift(
        { name: 'kafka-turbo java-api (native)', env: { KAFKA_TURBO_BACKEND: 'native', CASE: 'turbo-java' } },
        { name: 'kafka-turbo kafkajs-api (native)', env: { KAFKA_TURBO_BACKEND: 'native', CASE: 'turbo-kafkajs' } },
      );
    }
  } catch {
    // no native backend here: fallback cases only
  }
  return list;
}

// ---------------------------------------------------------------------------------------
// Child side: one case.

/** KafkaJS-style load: sendBatch calls of 1000 messages, up to 8 calls in flight. */
async function kafkajsStyle(
  producer: { connect(): Promise<void>; send(a: unknown): Promise<unknown[]>; disconnect(): Promise<void> },
  topic: string,
  records: number,
): Promise<number> {
  await producer.connect();
  const value = Buffer.alloc(RECORD_SIZE, 0x61);
  const perCall = 1000;
  const messages = Array.from({ length: perCall }, () => ({ value }));
  let acked = 0;
  const inflight = new Set<Promise<unknown>>();
  for (let sent = 0; sent < records; sent += perCall) {
    const p = producer.send({ topic, messages, acks: -1 }).then((r) => {
      if (!Array.isArray(r) || r.length === 0) throw new Error('no result');
      acked += perCall;
      inflight.delete(p);
    });
    inflight.add(p);
    if (inflight.size >= 8) await Promise.race(inflight);
  }
  await Promise.all(inflight);
  await producer.disconnect();
  return acked;
}

async function child(): Promise<void> {
  const bootstrap = process.env['BOOTSTRAP']!;
  const topic = process.env['TOPIC']!;
  const records = Number(process.env['RECORDS']);
  const which = process.env['CASE'];
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  let acked = 0;
  if (which === 'turbo-java') {
    const { Producer } = require('../ts/index.js') as typeof import('../ts/index.js');
    const producer = new Producer({ 'bootstrap.servers': bootstrap, acks: 'all', 'linger.ms': 5 });
    await producer.connect([topic]);
    const value = Buffer.alloc(RECORD_SIZE, 0x61);
    // The app's own backpressure: at most 50k records in flight.
    let inflight = 0;
    let wake: (() => void) | null = null;
    const settle = (md: { offset: number }) => {
      if (md.offset >= 0) acked++;
      inflight--;
      if (wake && inflight < 25_000) {
        const w = wake;
        wake = null;
        w();
      }
    };
    for (let i = 0; i < records; i++) {
      if (inflight >= 50_000) await new Promise<void>((r) => (wake = r));
      inflight++;
      producer.send({ topic, value }).then(settle);
    }
    await producer.flush();
    await producer.close();
  } else if (which === 'turbo-kafkajs') {
    const { Kafka, logLevel } = require('../ts/index.js') as typeof import('../ts/index.js');
    const kafka = new Kafka({ clientId: 'bench', brokers: [bootstrap], logLevel: logLevel.NOTHING });
    acked = await kafkajsStyle(kafka.producer() as never, topic, records);
  } else {
    const { Kafka, logLevel } = require('kafkajs') as typeof import('kafkajs');
    const kafka = new Kafka({ clientId: 'bench', brokers: [bootstrap], logLevel: logLevel.NOTHING });
    acked = await kafkajsStyle(kafka.producer() as never, topic, records);
  }
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = process.cpuUsage(cpu0);
  if (acked !== records) throw new Error(`only ${acked} of ${records} records acknowledged`);
  process.stdout.write(JSON.stringify({ seconds, cpuUs: cpu.user + cpu.system }) + '\n');
}

// ---------------------------------------------------------------------------------------
// Parent side.

function runChild(env: Record<string, string>): Promise<{ seconds: number; cpuUs: number }> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [__filename, '--child'], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    p.stdout.on('data', (d) => (out += d));
    p.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out.trim().split('\n').pop()!)) : reject(new Error(`case failed (${code})`))));
  });
}

async function parent(): Promise<void> {
  const records = Number(arg('records', '1000000'));
  const runs = Number(arg('runs', '3'));
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const harness = require(join(__dirname, '..', '..', 'test', 'helpers', 'kafka', 'cluster.cjs'));
  const given = arg('bootstrap', '');
  const cluster = given ? await harness.connectCluster(given) : await harness.startCluster({ brokers: 1 });
  const results: CaseResult[] = [];
  try {
    let n = 0;
    for (let run = 0; run < runs; run++) {
      for (const c of cases()) {
        const topic = `bench-${Date.now().toString(36)}-${n++}`;
        await cluster.createTopic(topic, { partitions: 6 });
        const r = await runChild({ ...c.env, BOOTSTRAP: cluster.bootstrap, TOPIC: topic, RECORDS: String(records) });
        results.push({ name: c.name, records, seconds: r.seconds, recordsPerSec: records / r.seconds, cpuUsPerRecord: r.cpuUs / records });
        console.error(`${c.name}: ${Math.round(records / r.seconds).toLocaleString('en-US')} records/s, ${(r.cpuUs / records).toFixed(2)} µs CPU/record`);
      }
    }
  } finally {
    if (!given) await cluster.stop();
  }
  // Median per case over the runs, and ratios against KafkaJS.
  const names = [...new Set(results.map((r) => r.name))];
  const median = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const rows = names.map((name) => {
    const rs = results.filter((r) => r.name === name);
    return { name, rps: median(rs.map((r) => r.recordsPerSec)), cpu: median(rs.map((r) => r.cpuUsPerRecord)) };
  });
  const ref = rows.find((r) => r.name.startsWith('kafkajs'))!;
  console.log(`| case | records/s (median of ${runs}) | CPU µs/record | throughput vs KafkaJS | CPU vs KafkaJS |`);
  console.log('|---|---|---|---|---|');
  for (const r of rows) {
    console.log(
      `| ${r.name} | ${Math.round(r.rps).toLocaleString('en-US')} | ${r.cpu.toFixed(2)} | ${(r.rps / ref.rps).toFixed(2)}× | ${(ref.cpu / r.cpu).toFixed(2)}× less |`,
    );
  }
}

if (process.argv.includes('--child')) {
  child().catch((e) => {
    console.error(e);
    process.exit(1);
  });
} else {
  parent().catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
