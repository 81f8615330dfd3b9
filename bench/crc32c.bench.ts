/**
 * CRC32C throughput from JavaScript, in GB/s (1e9 bytes/s): the addon at every level this
 * CPU runs, beside @node-rs/crc32's crc32c (a Rust addon, the usual pick on npm) and our
 * pure-TypeScript crc32c (ts/protocol/crc32c.ts, the fallback backend's).
 *
 *   npm run build && node out/bench/crc32c.bench.js [--quick]
 *
 * One child process per backend x level (the addon picks its level once, at load, from
 * KAFKA_TURBO_CRC32C; and one process's JIT state or heap cannot favour the next). Each
 * child first checks its function against a bitwise reference on every size, both starts
 * and a non-zero init, and refuses to time a function that disagrees. Then each case runs
 * calls that continue from the previous result (no overlap between calls: the latency a
 * caller sees) in 15 runs of at least 10 ms each (2 ms with --quick), keeping the best run
 * (the one no other process disturbed). "aligned" is offset 0
 * of a fresh ArrayBuffer, "offset 1" a subarray one byte in. The C-level numbers, without
 * the call into Node, come from native/bench/crc32c_bench.cc.
 */
import { spawnSync } from 'node:child_process';
import { crc32c as nodeRsCrc32c } from '@node-rs/crc32';
import { loadNativeAddon } from '../ts/backend/native.js';
import { crc32c as tsCrc32c } from '../ts/protocol/crc32c.js';

type Crc32c = (buf: Uint8Array, init?: number) => number;

const SIZES = [64, 1024, 16 * 1024, 64 * 1024, 1024 * 1024];
const OFFSETS = [0, 1];
const CHILD_FLAG = '--child';

interface Candidate {
  /** Row label. */
  name: string;
  backend: 'native' | 'node-rs' | 'ts';
  /** KAFKA_TURBO_CRC32C for native candidates. */
  level?: string;
}

interface ChildResult {
  name: string;
  impl: string;
  /** gbps[offsetIndex][sizeIndex] */
  gbps: number[][];
}

function bitwise(buf: Uint8Array, init: number): number {
  let r = ~init >>> 0;
  for (let i = 0; i < buf.length; i++) {
    r ^= buf[i];
    for (let b = 0; b < 8; b++) r = r & 1 ? (r >>> 1) ^ 0x82f63b78 : r >>> 1;
  }
  return ~r >>> 0;
}

function makeBuffer(size: number, offset: number): Uint8Array {
  const backing = new Uint8Array(new ArrayBuffer(size + offset));
  let x = 0x9e3779b9;
  for (let i = 0; i < backing.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    backing[i] = x & 0xff;
  }
  return backing.subarray(offset);
}

function measure(f: Crc32c, buf: Uint8Array, minNs: bigint): number {
  let best = 0;
  let c = 0;
  for (let i = 0; i < 1000; i++) c = f(buf, c); // warm-up (JIT, caches)
  for (let run = 0; run < 15; run++) {
    let calls = 0;
    const start = process.hrtime.bigint();
    let elapsed = 0n;
    do {
      for (let i = 0; i < 32; i++) c = f(buf, c);
      calls += 32;
      elapsed = process.hrtime.bigint() - start;
    } while (elapsed < minNs);
    best = Math.max(best, (calls * buf.length) / Number(elapsed)); // bytes per ns = GB/s
  }
  if (c === 0.5) console.log(c); // keep c alive
  return best;
}

function child(backend: string, name: string): void {
  let f: Crc32c;
  let impl: string;
  if (backend === 'native') {
    const addon = loadNativeAddon();
    f = (buf, init) => addon.crc32c(buf, init);
    impl = addon.crc32cImpl();
  } else if (backend === 'node-rs') {
    f = (buf, init) => nodeRsCrc32c(buf, init);
    impl = '@node-rs/crc32';
  } else {
    f = tsCrc32c;
    impl = 'ts';
  }
  const buffers = OFFSETS.map((offset) => SIZES.map((size) => makeBuffer(size, offset)));
  for (const row of buffers) {
    for (const buf of row) {
      for (const init of [0, 0x89abcdef]) {
        const got = f(buf, init) >>> 0;
        const want = bitwise(buf, init);
        if (got !== want) {
          throw new Error(`${name}: wrong CRC32C for ${buf.length} bytes at offset ${buf.byteOffset}, init ${init}: ${got} != ${want}`);
        }
      }
    }
  }
  const minNs = process.argv.includes('--quick') ? 2_000_000n : 10_000_000n;
  const gbps = buffers.map((row) => row.map((buf) => measure(f, buf, minNs)));
  const result: ChildResult = { name, impl, gbps };
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

function parent(): void {
  const candidates: Candidate[] = [];
  let best = 'table';
  try {
    best = loadNativeAddon().crc32cImpl();
  } catch (err) {
    console.log(`native addon not loaded, its rows are skipped: ${(err as Error).message}`);
    best = '';
  }
  const levels = ['table', 'sse42', 'avx512-vpclmul'];
  for (const [i, level] of levels.entries()) {
    if (best && i <= levels.indexOf(best)) {
      candidates.push({ name: `native ${level}`, backend: 'native', level: level === 'avx512-vpclmul' ? 'avx512' : level });
    }
  }
  candidates.push({ name: '@node-rs/crc32', backend: 'node-rs' }, { name: 'ts (fallback)', backend: 'ts' });

  const label = (n: number) => (n >= 1024 ? `${n / 1024}K` : `${n}B`);
  console.log(`CRC32C from JavaScript, GB/s (best of 15 runs; node ${process.version}, ${process.arch})`);
  console.log(`${'implementation'.padEnd(22)}${'start'.padEnd(10)}${SIZES.map((n) => label(n).padStart(9)).join('')}`);
  let failed = false;
  for (const c of candidates) {
    const env: NodeJS.ProcessEnv = { ...process.env };
    if (c.level) env['KAFKA_TURBO_CRC32C'] = c.level;
    else delete env['KAFKA_TURBO_CRC32C'];
    const args = [__filename, CHILD_FLAG, c.backend, c.name, ...process.argv.slice(2)];
    const r = spawnSync(process.execPath, args, { env, encoding: 'utf8' });
    if (r.status !== 0) {
      failed = true;
      console.log(`${c.name.padEnd(22)}FAILED: ${(r.stderr || r.stdout).trim().split('\n').slice(0, 6).join(' | ')}`);
      continue;
    }
    const res = JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}') as ChildResult;
    for (const [oi, offset] of OFFSETS.entries()) {
      const start = offset === 0 ? 'aligned' : `offset ${offset}`;
      console.log(`${res.name.padEnd(22)}${start.padEnd(10)}${res.gbps[oi].map((g) => g.toFixed(2).padStart(9)).join('')}`);
    }
  }
  if (failed) process.exitCode = 1;
}

const at = process.argv.indexOf(CHILD_FLAG);
if (at >= 0) child(process.argv[at + 1], process.argv[at + 2]);
else parent();
