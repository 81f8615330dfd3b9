/**
 * The parent side of an A/B bench of one producer setting (idempotence on/off, metrics on/off):
 * the same local broker for every case, each case in a child process of the bench's file, two
 * shapes per case (throughput: many sends in flight; awaited single sends), the order of the
 * cases rotated between rounds with round 0 a warm-up that is not counted (a broker JVM is slow
 * for its first minute), every run checked against the topic's end offsets before it counts,
 * and a table of medians with each case's ratio to the baseline case.
 */
import { join } from 'node:path';
import { median } from './stats.js';
import { awaitedSends, runChild, sendInFlight } from './child.js';

/** What the child prints: `acked` counts the 200 warm-up records it sends first. */
export interface AbChildResult {
  acked: number;
  recordsPerSec?: number;
  cpuUsPerRecord?: number;
  p50Us?: number;
  p99Us?: number;
}

export const WARMUP_RECORDS = 200;

/** What a child needs of the producer under test (the Java-style Producer fits). */
interface BenchProducer {
  connect(topics: string[]): Promise<void>;
  send(r: { topic: string; partition?: number; value: Buffer }): Promise<unknown>;
  flush(): Promise<void>;
}

/**
 * The child side: WARMUP_RECORDS sends first (connections, InitProducerId and JIT out of the
 * timed part), then `shape` with n 100-byte records (throughput: up to `inFlight` unsettled;
 * awaited: one at a time to partition 0). The caller closes the producer and prints the result.
 */
export async function runAbChild(p: BenchProducer, topic: string, partitions: number, shape: string, n: number, inFlight: number): Promise<AbChildResult> {
  await p.connect([topic]);
  const value = Buffer.alloc(100, 0x61);
  await Promise.all(Array.from({ length: WARMUP_RECORDS }, (_, i) => p.send({ topic, partition: i % partitions, value })));
  if (shape === 'throughput') {
    const r = await sendInFlight(n, inFlight, () => p.send({ topic, value }), () => p.flush());
    return { ...r, acked: r.acked + WARMUP_RECORDS };
  }
  const lat = await awaitedSends(n, () => p.send({ topic, partition: 0, value }));
  return { acked: n + WARMUP_RECORDS, p50Us: lat[Math.floor(lat.length * 0.5)]!, p99Us: lat[Math.floor(lat.length * 0.99)]! };
}

export interface AbBench<R extends AbChildResult> {
  /** The bench's compiled file (__filename), run with --child per case. */
  file: string;
  /** Topic name prefix. */
  tag: string;
  partitions: number;
  /** The cases, each with the env its child reads; `baseline` names the one ratios are against. */
  cases: { name: string; env: Record<string, string> }[];
  baseline: string;
  /** Defaults of --records, --awaited, --rounds. */
  defaults: { records: number; awaited: number; rounds: number };
  /** Checks beyond the end offsets (throw to fail the run). */
  check?: (caseName: string, shape: string, r: R, sent: number) => void;
}

function arg(name: string, dflt: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : dflt;
}

export async function runAbBench<R extends AbChildResult>(b: AbBench<R>): Promise<void> {
  const records = Number(arg('records', String(b.defaults.records)));
  const awaited = Number(arg('awaited', String(b.defaults.awaited)));
  const rounds = Number(arg('rounds', String(b.defaults.rounds)));
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const harness = require(join(__dirname, '..', '..', '..', 'test', 'helpers', 'kafka', 'cluster.cjs'));
  const given = arg('bootstrap', '');
  const cluster = given ? await harness.connectCluster(given) : await harness.startCluster({ brokers: 1 });
  const { Kafka, logLevel } = require('kafkajs') as typeof import('kafkajs');
  const admin = new Kafka({ clientId: 'bench-check', brokers: [cluster.bootstrap], logLevel: logLevel.NOTHING }).admin();
  const rows: Record<string, { rps: number[]; cpu: number[]; p50: number[]; p99: number[] }> = {};
  for (const c of b.cases) rows[c.name] = { rps: [], cpu: [], p50: [], p99: [] };
  let n = 0;
  try {
    await admin.connect();
    for (let round = 0; round <= rounds; round++) {
      const order = round % 2 === 0 ? b.cases : [...b.cases].reverse();
      for (const c of order) {
        for (const shape of ['throughput', 'awaited'] as const) {
          const topic = `bench-${b.tag}-${Date.now().toString(36)}-${n++}`;
          await cluster.createTopic(topic, { partitions: b.partitions });
          const count = shape === 'throughput' ? records : awaited;
          const r = await runChild<R>(b.file, { ...c.env, BOOTSTRAP: cluster.bootstrap, TOPIC: topic, SHAPE: shape, N: String(count) });
          const sent = count + WARMUP_RECORDS;
          const offsets = await admin.fetchTopicOffsets(topic);
          const stored = offsets.reduce((s, o) => s + Number(o.high) - Number(o.low), 0);
          if (r.acked !== sent || stored !== sent) throw new Error(`${c.name} ${shape}: ${r.acked} acked, ${stored} stored, ${sent} sent`);
          b.check?.(c.name, shape, r, sent);
          const label = round === 0 ? 'warm-up' : `round ${round}`;
          const row = rows[c.name]!;
          if (shape === 'throughput') {
            console.error(`${label} ${c.name}: ${Math.round(r.recordsPerSec!)} records/s, ${r.cpuUsPerRecord!.toFixed(2)} µs CPU/record`);
            if (round > 0) row.rps.push(r.recordsPerSec!), row.cpu.push(r.cpuUsPerRecord!);
          } else {
            console.error(`${label} ${c.name}: awaited p50 ${Math.round(r.p50Us!)} µs, p99 ${Math.round(r.p99Us!)} µs`);
            if (round > 0) row.p50.push(r.p50Us!), row.p99.push(r.p99Us!);
          }
        }
      }
    }
  } finally {
    await admin.disconnect().catch(() => {});
    if (!given) await cluster.stop();
  }
  const base = rows[b.baseline]!;
  const vs = b.baseline.split(' ').pop();
  console.log(`| case | records/s (median of ${rounds}) | CPU µs/record | awaited p50 µs | awaited p99 µs | throughput vs ${vs} | CPU vs ${vs} |`);
  console.log('|---|---|---|---|---|---|---|');
  for (const c of b.cases) {
    const r = rows[c.name]!;
    console.log(
      `| ${c.name} | ${Math.round(median(r.rps)).toLocaleString('en-US')} | ${median(r.cpu).toFixed(2)} | ${Math.round(median(r.p50))} | ${Math.round(median(r.p99))} | ` +
        `${(median(r.rps) / median(base.rps)).toFixed(2)}× | ${(median(r.cpu) / median(base.cpu)).toFixed(2)}× |`,
    );
  }
}
