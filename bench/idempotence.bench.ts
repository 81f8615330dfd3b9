/**
 * What idempotence costs: the Java-style producer with enable.idempotence true vs false, in the
 * same run against the same local broker, each case in its own child process, the order of the
 * cases rotated between rounds (a broker JVM is slow for its first minute: the first round is
 * a warm-up and is not counted).
 *
 *   npm run build && node out/bench/idempotence.bench.js [--records 200000] [--awaited 2000]
 *       [--rounds 4] [--bootstrap host:port]
 *
 * Two shapes: throughput (`send(record)` per 100-byte record, up to 50k in flight, acks=all,
 * 6 partitions) with client CPU per record from process.cpuUsage over the timed part; and
 * awaited single sends with linger.ms 0 (one record, wait for its promise, next; p50 and p99). Sequences are
 * stamped per batch, never per record, so the difference should be within noise; the result is
 * checked (every record acknowledged, the topic's end offsets add up) before it counts.
 */
import { join } from 'node:path';
import { Producer } from '../ts/producer/producer.js';
import { awaitedSends, benchMain, runChild, sendInFlight } from './lib/child.js';

const PARTITIONS = 6;
const IN_FLIGHT = 50_000;

function arg(name: string, dflt: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : dflt;
}

interface ChildResult {
  acked: number;
  recordsPerSec?: number;
  cpuUsPerRecord?: number;
  p50Us?: number;
  p99Us?: number;
}

async function child(): Promise<void> {
  const bootstrap = process.env['BOOTSTRAP']!;
  const topic = process.env['TOPIC']!;
  const idempotent = process.env['IDEMPOTENT'] === 'true';
  const shape = process.env['SHAPE']!;
  const n = Number(process.env['N']);
  // Awaited sends with linger.ms 0: the default 5 ms linger would be most of their latency.
  const p = new Producer({
    'bootstrap.servers': bootstrap,
    acks: 'all',
    'enable.idempotence': idempotent,
    ...(shape === 'awaited' ? { 'linger.ms': 0 } : {}),
  });
  await p.connect([topic]);
  const value = Buffer.alloc(100, 0x61);
  // A few records first, so that connections, InitProducerId and JIT are out of the timed part.
  await Promise.all(Array.from({ length: 200 }, (_, i) => p.send({ topic, partition: i % PARTITIONS, value })));
  const out: ChildResult = { acked: 0 };
  if (shape === 'throughput') {
    Object.assign(out, await sendInFlight(n, IN_FLIGHT, () => p.send({ topic, value }), () => p.flush()));
  } else {
    const lat = await awaitedSends(n, () => p.send({ topic, partition: 0, value }));
    out.acked += n;
    out.p50Us = lat[Math.floor(lat.length * 0.5)]!;
    out.p99Us = lat[Math.floor(lat.length * 0.99)]!;
  }
  out.acked += 200;
  await p.close();
  console.log(JSON.stringify(out));
}

const runCase = (env: Record<string, string>) => runChild<ChildResult>(__filename, env);

async function parent(): Promise<void> {
  const records = Number(arg('records', '200000'));
  const awaited = Number(arg('awaited', '2000'));
  const rounds = Number(arg('rounds', '4'));
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const harness = require(join(__dirname, '..', '..', 'test', 'helpers', 'kafka', 'cluster.cjs'));
  const given = arg('bootstrap', '');
  const cluster = given ? await harness.connectCluster(given) : await harness.startCluster({ brokers: 1 });
  const { Kafka, logLevel } = require('kafkajs') as typeof import('kafkajs');
  const admin = new Kafka({ clientId: 'bench-check', brokers: [cluster.bootstrap], logLevel: logLevel.NOTHING }).admin();
  const cases = [
    { name: 'idempotence on', idempotent: 'true' },
    { name: 'idempotence off', idempotent: 'false' },
  ];
  const rows: Record<string, { rps: number[]; cpu: number[]; p50: number[]; p99: number[] }> = {};
  for (const c of cases) rows[c.name] = { rps: [], cpu: [], p50: [], p99: [] };
  let n = 0;
  try {
    await admin.connect();
    for (let round = 0; round <= rounds; round++) {
      const order = round % 2 === 0 ? cases : [...cases].reverse();
      for (const c of order) {
        for (const shape of ['throughput', 'awaited'] as const) {
          const topic = `bench-idem-${Date.now().toString(36)}-${n++}`;
          await cluster.createTopic(topic, { partitions: PARTITIONS });
          const count = shape === 'throughput' ? records : awaited;
          const r = await runCase({ BOOTSTRAP: cluster.bootstrap, TOPIC: topic, IDEMPOTENT: c.idempotent, SHAPE: shape, N: String(count) });
          const offsets = await admin.fetchTopicOffsets(topic);
          const stored = offsets.reduce((s, o) => s + Number(o.high) - Number(o.low), 0);
          if (r.acked !== count + 200 || stored !== count + 200) throw new Error(`${c.name} ${shape}: ${r.acked} acked, ${stored} stored, ${count + 200} sent`);
          const label = round === 0 ? 'warm-up' : `round ${round}`;
          if (shape === 'throughput') {
            console.error(`${label} ${c.name}: ${Math.round(r.recordsPerSec!)} records/s, ${r.cpuUsPerRecord!.toFixed(2)} µs CPU/record`);
            if (round > 0) {
              rows[c.name]!.rps.push(r.recordsPerSec!);
              rows[c.name]!.cpu.push(r.cpuUsPerRecord!);
            }
          } else {
            console.error(`${label} ${c.name}: awaited p50 ${Math.round(r.p50Us!)} µs, p99 ${Math.round(r.p99Us!)} µs`);
            if (round > 0) {
              rows[c.name]!.p50.push(r.p50Us!);
              rows[c.name]!.p99.push(r.p99Us!);
            }
          }
        }
      }
    }
  } finally {
    await admin.disconnect().catch(() => {});
    if (!given) await cluster.stop();
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const off = rows['idempotence off']!;
  console.log(`| case | records/s (median of ${rounds}) | CPU µs/record | awaited p50 µs | awaited p99 µs | throughput vs off | CPU vs off |`);
  console.log('|---|---|---|---|---|---|---|');
  for (const c of cases) {
    const r = rows[c.name]!;
    console.log(
      `| ${c.name} | ${Math.round(median(r.rps)).toLocaleString('en-US')} | ${median(r.cpu).toFixed(2)} | ${Math.round(median(r.p50))} | ${Math.round(median(r.p99))} | ` +
        `${(median(r.rps) / median(off.rps)).toFixed(2)}× | ${(median(r.cpu) / median(off.cpu)).toFixed(2)}× |`,
    );
  }
}

benchMain(parent, child);
