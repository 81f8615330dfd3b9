/**
 * What metrics cost (issue 12): the Java-style producer with metrics recording as shipped vs
 * with recording disabled (the sender's metrics hook set to null, which is the code path
 * before metrics existed: no call, no clock read), in the same run against the same local
 * broker, each case in its own child process, the order of the cases rotated between rounds
 * (the first round is a warm-up and is not counted). Modelled on idempotence.bench.ts.
 *
 *   npm run build && node out/bench/metrics.bench.js [--records 200000] [--awaited 1000]
 *       [--rounds 3] [--bootstrap host:port]
 *
 * Two shapes: throughput (`send(record)` per 100-byte record, up to 50k in flight, acks=all,
 * 6 partitions) with client CPU per record from process.cpuUsage over the timed part; and
 * awaited single sends with linger.ms 0 (p50 and p99). Metrics are recorded per batch and per
 * response, never per record, so the difference should be within noise; each run is checked
 * (every record acknowledged, the topic's end offsets add up, and with metrics on
 * record-send-total minus record-retry-total equals the records sent) before it counts.
 *
 *   node out/bench/metrics.bench.js --micro
 *
 * The recording alone, without a broker (so without a loaded machine's broker noise): what
 * one ProduceRequest's requestSent + responseReceived cost, for requests of 6 batches of 160
 * records (16 KiB of 100-byte records each, the default batch.size), per request and per record.
 */
import { join } from 'node:path';
import { ProducerMetrics } from '../ts/metrics/producer-metrics.js';
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
  recordSendTotal?: number;
  retries?: number;
}

async function child(): Promise<void> {
  const bootstrap = process.env['BOOTSTRAP']!;
  const topic = process.env['TOPIC']!;
  const metricsOn = process.env['METRICS'] === 'on';
  const shape = process.env['SHAPE']!;
  const n = Number(process.env['N']);
  // Awaited sends with linger.ms 0: the default 5 ms linger would be most of their latency.
  const p = new Producer({
    'bootstrap.servers': bootstrap,
    acks: 'all',
    ...(shape === 'awaited' ? { 'linger.ms': 0 } : {}),
  });
  // Recording disabled: the sender checks its metrics hook before anything else (no call, no clock read).
  if (!metricsOn) (p as unknown as { core: { sender: { metrics: unknown } } }).core.sender.metrics = null;
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
  const metric = (name: string) => p.metrics().find((m) => m.name === name && m.group === 'producer-metrics')!.value;
  // record-send counts every send of a batch, a retry's resend too: take the retries away.
  out.recordSendTotal = metric('record-send-total') - metric('record-retry-total');
  out.retries = metric('record-retry-total');
  await p.close();
  console.log(JSON.stringify(out));
}

const runCase = (env: Record<string, string>) => runChild<ChildResult>(__filename, env);

async function parent(): Promise<void> {
  const records = Number(arg('records', '200000'));
  const awaited = Number(arg('awaited', '1000'));
  const rounds = Number(arg('rounds', '3'));
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const harness = require(join(__dirname, '..', '..', 'test', 'helpers', 'kafka', 'cluster.cjs'));
  const given = arg('bootstrap', '');
  const cluster = given ? await harness.connectCluster(given) : await harness.startCluster({ brokers: 1 });
  const { Kafka, logLevel } = require('kafkajs') as typeof import('kafkajs');
  const admin = new Kafka({ clientId: 'bench-check', brokers: [cluster.bootstrap], logLevel: logLevel.NOTHING }).admin();
  const cases = [
    { name: 'metrics on', metrics: 'on' },
    { name: 'recording disabled', metrics: 'off' },
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
          const topic = `bench-metrics-${Date.now().toString(36)}-${n++}`;
          await cluster.createTopic(topic, { partitions: PARTITIONS });
          const count = shape === 'throughput' ? records : awaited;
          const r = await runCase({ BOOTSTRAP: cluster.bootstrap, TOPIC: topic, METRICS: c.metrics, SHAPE: shape, N: String(count) });
          const offsets = await admin.fetchTopicOffsets(topic);
          const stored = offsets.reduce((s, o) => s + Number(o.high) - Number(o.low), 0);
          if (r.acked !== count + 200 || stored !== count + 200) throw new Error(`${c.name} ${shape}: ${r.acked} acked, ${stored} stored, ${count + 200} sent`);
          const expectSent = c.metrics === 'on' ? count + 200 : 0;
          if (r.recordSendTotal !== expectSent) throw new Error(`${c.name} ${shape}: record-send-total - record-retry-total = ${r.recordSendTotal}, expected ${expectSent}`);
          if (r.retries) console.error(`  (${r.retries} records retried in this run)`);
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
  const off = rows['recording disabled']!;
  console.log(`| case | records/s (median of ${rounds}) | CPU µs/record | awaited p50 µs | awaited p99 µs | throughput vs disabled | CPU vs disabled |`);
  console.log('|---|---|---|---|---|---|---|');
  for (const c of cases) {
    const r = rows[c.name]!;
    console.log(
      `| ${c.name} | ${Math.round(median(r.rps)).toLocaleString('en-US')} | ${median(r.cpu).toFixed(2)} | ${Math.round(median(r.p50))} | ${Math.round(median(r.p99))} | ` +
        `${(median(r.rps) / median(off.rps)).toFixed(2)}× | ${(median(r.cpu) / median(off.cpu)).toFixed(2)}× |`,
    );
  }
}

/** The recording cost alone: median of 7 rounds of 200k requests, for a full request (6 batches
 * of 160 records) and for a one-record request (an awaited single send). */
function micro(): void {
  for (const [nBatches, nRecords] of [
    [6, 160],
    [1, 1],
  ] as const) {
    const m = new ProducerMetrics('bench', { samples: 2, windowMs: 30000 });
    const records = Array.from({ length: nRecords }, () => ({ keySize: -1, valueSize: 100 }));
    const bytes = Buffer.alloc(nRecords * 100);
    const batches = Array.from({ length: nBatches }, (_, i) => ({
      tp: { topic: `topic-${i % 2}` },
      records,
      bytes,
      attempts: 0,
      createdMs: Date.now(),
      lane: { codec: 0 },
    }));
    const perRequest = nBatches * nRecords;
    const rounds: number[] = [];
    for (let r = 0; r < 8; r++) {
      const n = 200_000;
      const t0 = process.hrtime.bigint();
      for (let i = 0; i < n; i++) {
        const now = Date.now();
        m.requestSent(i % 3, batches, now);
        m.responseReceived(i % 3, 0.4, 0, now);
      }
      const ns = Number(process.hrtime.bigint() - t0) / n;
      if (r > 0) rounds.push(ns); // the first round warms the JIT
    }
    rounds.sort((a, b) => a - b);
    const med = rounds[Math.floor(rounds.length / 2)]!;
    console.log(
      `| ${nBatches} batch(es) × ${nRecords} record(s) per request | ${med.toFixed(0)} ns per request | ${(med / perRequest).toFixed(2)} ns per record |`,
    );
    // Read the metrics so the loop's work is used.
    if (m.metrics().length === 0) throw new Error('no metrics');
  }
}

if (process.argv.includes('--micro')) {
  micro();
} else {
  benchMain(parent, child);
}
