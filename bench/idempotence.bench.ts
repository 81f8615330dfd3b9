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
import { Producer } from '../ts/producer/producer.js';
import { runAbBench, runAbChild, type AbChildResult } from './lib/ab.js';
import { benchMain } from './lib/child.js';

const PARTITIONS = 6;
const IN_FLIGHT = 50_000;

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
  const out: AbChildResult = await runAbChild(p, topic, PARTITIONS, shape, n, IN_FLIGHT);
  await p.close();
  console.log(JSON.stringify(out));
}

function parent(): Promise<void> {
  return runAbBench<AbChildResult>({
    file: __filename,
    tag: 'idem',
    partitions: PARTITIONS,
    cases: [
      { name: 'idempotence on', env: { IDEMPOTENT: 'true' } },
      { name: 'idempotence off', env: { IDEMPOTENT: 'false' } },
    ],
    baseline: 'idempotence off',
    defaults: { records: 200_000, awaited: 2000, rounds: 4 },
  });
}

benchMain(parent, child);
