/**
 * Record accumulator and record-batch encoding from JavaScript, in ns per record: the native
 * backend against the pure-TypeScript fallback, on 100-byte records.
 *
 *   npm run build && npm run build:native && node out/bench/record-batch.bench.js [--quick]
 *
 * Cases (each one child process per backend, so neither's JIT state or heap favours the
 * other):
 *   append+drain, 100/call   append() 100 records at a time (one send() of 100 messages),
 *                            round-robin over 8 partitions; then ready(flushing) + drain()
 *                            until empty, and complete() of every drained batch
 *   append+drain, 1/call     the same with one record per append() (Java-style send())
 *   append+drain, keyed      100/call with a 16-byte key and one header per record
 *   encodeRecordBatch        one batch of 100 records per call
 * A round is 10,000 records; between rounds the event loop turns (as it does between a
 * producer's sender runs), which is when Node hands freed native Buffers back. Time per
 * round includes that turn. Each child first checks its bytes: every drained batch equals
 * the independent TypeScript encoder's batch of the same records (ts/protocol), and the
 * parent compares a digest of all of them across backends; a backend that disagrees is not
 * timed. Then 11 runs of at least 300 ms (60 ms with --quick) after a warm-up; the median
 * run is reported.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createFallbackBackend } from '../ts/backend/fallback/index.js';
import { encodeRecordBatch as referenceEncode } from '../ts/protocol/record-batch.js';
import { CodecId, type Backend, type RecordInput } from '../ts/backend/types.js';

const CHILD_FLAG = '--child';
const ROUND = 10_000;
const PARTITIONS = 8;
const STAMP = { producerId: 4242n, producerEpoch: 3, transactional: false, baseSequences: null };
const CONFIG = { batchSize: 16384, lingerMs: 0, bufferMemory: 64 << 20, codec: CodecId.None };

interface Case {
  name: string;
  kind: 'accumulator' | 'encode';
  perCall: number;
  keyed: boolean;
}

const CASES: Case[] = [
  { name: 'append+drain, 100/call', kind: 'accumulator', perCall: 100, keyed: false },
  { name: 'append+drain, 1/call', kind: 'accumulator', perCall: 1, keyed: false },
  { name: 'append+drain, keyed', kind: 'accumulator', perCall: 100, keyed: true },
  { name: 'encodeRecordBatch, 100', kind: 'encode', perCall: 100, keyed: false },
];

interface ChildResult {
  backend: string;
  digest: string;
  /** Median ns per record. */
  ns: number;
  runs: number[];
}

function makeRecords(n: number, keyed: boolean): RecordInput[] {
  const records: RecordInput[] = [];
  let x = 0x12345678;
  for (let i = 0; i < n; i++) {
    const value = Buffer.allocUnsafe(100);
    for (let j = 0; j < 100; j++) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      value[j] = x & 0xff;
    }
    records.push({
      key: keyed ? Buffer.from(`key-${String(i % 1000).padStart(12, '0')}`) : null,
      value,
      headers: keyed ? [{ key: 'trace-id', value: Buffer.from(`t${i}`) }] : null,
      timestamp: 1_700_000_000_000 + i,
    });
  }
  return records;
}

/** One round: append all records in calls of `perCall`, drain everything, complete it. */
function accumulatorRound(
  acc: ReturnType<Backend['createAccumulator']>,
  calls: RecordInput[][],
  now: number,
  sink: Buffer[] | null,
): number {
  let drained = 0;
  for (let c = 0; c < calls.length; c++) {
    const res = acc.append(c % PARTITIONS, calls[c]!, now);
    if (res.appended !== calls[c]!.length) throw new Error('buffer.memory ran out: the bench does not wait');
  }
  const results: { batchId: number; errorCode: number }[] = [];
  while (acc.hasUndrained()) {
    const ready = acc.ready(now, true);
    for (const d of acc.drain(ready.partitions, 1 << 20, STAMP)) {
      results.push({ batchId: d.batchId, errorCode: 0 });
      if (sink) sink.push(d.bytes);
      drained += d.recordCount;
    }
  }
  acc.complete(results);
  return drained;
}

const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

async function child(backendName: string, caseName: string, quick: boolean): Promise<void> {
  const c = CASES.find((x) => x.name === caseName)!;
  let backend: Backend;
  if (backendName === 'native') {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { createNativeBackend } = require('../ts/backend/native-backend.js') as typeof import('../ts/backend/native-backend.js');
    backend = createNativeBackend();
  } else {
    backend = createFallbackBackend({ reason: 'bench', refused: [] });
  }
  const records = makeRecords(ROUND, c.keyed);
  const calls: RecordInput[][] = [];
  for (let i = 0; i < records.length; i += c.perCall) calls.push(records.slice(i, i + c.perCall));
  const header = { producerId: 4242n, producerEpoch: 3, baseSequence: -1, transactional: false, codec: CodecId.None };

  // Verify: the bytes must be the reference encoder's, batch for batch.
  const digest = createHash('sha256');
  if (c.kind === 'accumulator') {
    const acc = backend.createAccumulator(CONFIG);
    const batches: Buffer[] = [];
    // Records go to partition (call index % 8) in call order: rebuild each partition's
    // sequence to compare every drained batch with the reference encoding of its records.
    const perPartition: RecordInput[][] = Array.from({ length: PARTITIONS }, () => []);
    calls.forEach((call, i) => perPartition[i % PARTITIONS]!.push(...call));
    const drainedAt = new Array<number>(PARTITIONS).fill(0);
    const count = accumulatorRound(acc, calls, 0, batches);
    if (count !== ROUND) throw new Error(`drained ${count} records, appended ${ROUND}`);
    for (const bytes of batches) {
      // baseOffset 0, then batchLength ... recordCount at 57; which partition: find the one
      // whose next records encode to these bytes.
      const n = bytes.readInt32BE(57);
      const p = perPartition.findIndex((list, i) => {
        const slice = list.slice(drainedAt[i], drainedAt[i]! + n);
        return slice.length === n && referenceEncode(slice, { ...header, baseSequence: -1 }).equals(bytes);
      });
      if (p < 0) throw new Error(`${backendName}: a drained batch of ${n} records matches no partition's records`);
      drainedAt[p]! += n;
      digest.update(bytes);
    }
  } else {
    for (const call of calls) {
      const bytes = backend.encodeRecordBatch(call, header);
      if (!bytes.equals(referenceEncode(call, header))) throw new Error(`${backendName}: encodeRecordBatch differs from the reference`);
      digest.update(bytes);
    }
  }

  const minNs = quick ? 60e6 : 300e6;
  const once = async (): Promise<number> => {
    const acc = c.kind === 'accumulator' ? backend.createAccumulator(CONFIG) : null;
    let records = 0;
    let now = 0;
    const start = process.hrtime.bigint();
    let elapsed = 0;
    do {
      if (acc) {
        records += accumulatorRound(acc, calls, now++, null);
      } else {
        for (const call of calls) backend.encodeRecordBatch(call, header);
        records += ROUND;
      }
      await turn();
      elapsed = Number(process.hrtime.bigint() - start);
    } while (elapsed < minNs);
    return elapsed / records;
  };
  await once(); // warm-up: JIT, pools, scratch sizes
  await once();
  const runs: number[] = [];
  for (let r = 0; r < 11; r++) runs.push(await once());
  const sorted = [...runs].sort((a, b) => a - b);
  const result: ChildResult = { backend: backendName, digest: digest.digest('hex'), ns: sorted[5]!, runs };
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

function parent(): void {
  const quick = process.argv.includes('--quick');
  console.log(`Record batches from JavaScript, ns per 100-byte record (median of 11 runs; node ${process.version}, ${process.arch})`);
  console.log('');
  console.log('| case | fallback (TS) | native | native speed-up |');
  console.log('|---|---:|---:|---:|');
  let failed = false;
  for (const c of CASES) {
    const results: Record<string, ChildResult | string> = {};
    for (const backend of ['fallback', 'native']) {
      const args = [__filename, CHILD_FLAG, backend, c.name, ...(quick ? ['--quick'] : [])];
      const r = spawnSync(process.execPath, args, { encoding: 'utf8', maxBuffer: 1 << 20 });
      if (r.status !== 0) {
        results[backend] = `FAILED: ${(r.stderr || r.stdout).trim().split('\n').slice(0, 4).join(' | ')}`;
        failed = true;
        continue;
      }
      results[backend] = JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}') as ChildResult;
    }
    const f = results['fallback'];
    const n = results['native'];
    if (typeof f === 'string' || typeof n === 'string' || !f || !n) {
      console.log(`| ${c.name} | ${typeof f === 'string' ? f : f?.ns.toFixed(1)} | ${typeof n === 'string' ? n : n?.ns.toFixed(1)} | |`);
      continue;
    }
    if (f.digest !== n.digest) {
      failed = true;
      console.log(`| ${c.name} | ${f.ns.toFixed(1)} | ${n.ns.toFixed(1)} | BYTES DIFFER: not compared |`);
      continue;
    }
    console.log(`| ${c.name} | ${f.ns.toFixed(1)} | ${n.ns.toFixed(1)} | ${(f.ns / n.ns).toFixed(2)}x |`);
  }
  if (failed) process.exitCode = 1;
}

const at = process.argv.indexOf(CHILD_FLAG);
if (at >= 0) {
  child(process.argv[at + 1]!, process.argv[at + 2]!, process.argv.includes('--quick')).catch((err) => {
    console.error(err);
    process.exit(1);
  });
} else {
  parent();
}
