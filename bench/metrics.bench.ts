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
import { ProducerMetrics } from '../ts/metrics/producer-metrics.js';
import { Producer } from '../ts/producer/producer.js';
import { runAbBench, runAbChild, type AbChildResult } from './lib/ab.js';
import { benchMain } from './lib/child.js';

const PARTITIONS = 6;
const IN_FLIGHT = 50_000;

interface ChildResult extends AbChildResult {
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
  const out: ChildResult = await runAbChild(p, topic, PARTITIONS, shape, n, IN_FLIGHT);
  const metric = (name: string) => p.metrics().find((m) => m.name === name && m.group === 'producer-metrics')!.value;
  // record-send counts every send of a batch, a retry's resend too: take the retries away.
  out.recordSendTotal = metric('record-send-total') - metric('record-retry-total');
  out.retries = metric('record-retry-total');
  await p.close();
  console.log(JSON.stringify(out));
}

function parent(): Promise<void> {
  return runAbBench<ChildResult>({
    file: __filename,
    tag: 'metrics',
    partitions: PARTITIONS,
    cases: [
      { name: 'metrics on', env: { METRICS: 'on' } },
      { name: 'recording disabled', env: { METRICS: 'off' } },
    ],
    baseline: 'recording disabled',
    defaults: { records: 200_000, awaited: 1000, rounds: 3 },
    check: (name, shape, r, sent) => {
      const expectSent = name === 'metrics on' ? sent : 0;
      if (r.recordSendTotal !== expectSent) throw new Error(`${name} ${shape}: record-send-total - record-retry-total = ${r.recordSendTotal}, expected ${expectSent}`);
      if (r.retries) console.error(`  (${r.retries} records retried in this run)`);
    },
  });
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
