/**
 * Compression throughput, MB/s (1e6 bytes of uncompressed input per second), on what Kafka
 * batches usually hold: ~100-byte JSON records concatenated into 16 KiB batches (1 MiB of
 * them, every batch different), each codec at its default level.
 *
 *   npm run build && node out/bench/compression.bench.js [--quick] [--batch=16384] [--total=1048576]
 *
 * Rows per codec:
 *   ts codec       ts/compression/ (the fallback backend's codecs: package + our framing)
 *   raw package    the npm package alone on the same batches (snappyjs raw blocks, lz4-wasm's
 *                  length-prefixed blocks, @bokuweb/zstd-wasm, node:zlib gzipSync): what our
 *                  framing costs is the gap to the row above
 *   native C       native/src/compress/ (zlib, liblz4, libzstd, libsnappy with the same
 *                  framing) without Node, from native/build/c/compress_bench
 *                  (native/test/build-compress.sh builds it; the row is skipped when missing)
 *
 * Each JavaScript row runs in a child process of its own (one process's JIT state and heap
 * cannot favour the next). A child first round-trips every batch through its compress and
 * decompress and refuses to time a pair that does not give the input back; then it times all
 * batches in runs of at least 200 ms (50 ms with --quick), best of 5.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { CodecId } from '../ts/backend/types.js';
import { codecFor, initCodecs, type CodecName } from '../ts/compression/index.js';

const CHILD_FLAG = '--child';
const CODECS: readonly CodecName[] = ['gzip', 'snappy', 'lz4', 'zstd'];
const IDS: Record<CodecName, CodecId> = { gzip: CodecId.Gzip, snappy: CodecId.Snappy, lz4: CodecId.Lz4, zstd: CodecId.Zstd };

interface Pair {
  compress(b: Buffer): Uint8Array;
  decompress(z: Uint8Array, size: number): Uint8Array;
}

interface Row {
  codec: CodecName;
  impl: string;
  compressMBps: number;
  decompressMBps: number;
  ratio: number;
}

function arg(name: string, fallback: number): number {
  const a = process.argv.find((x) => x.startsWith(`--${name}=`));
  return a ? Number(a.slice(name.length + 3)) : fallback;
}

/** ~100-byte JSON records, one per line, cut into batches of `batch` bytes. */
function makeBatches(total: number, batch: number): Buffer[] {
  let s = 1;
  const next = () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s;
  };
  const events = ['click', 'view', 'purchase', 'signup', 'logout'];
  let text = '';
  while (text.length < total) {
    text += `{"id":${next() % 1_000_000},"user":"user-${next() % 5000}","event":"${events[next() % 5]}","ts":${
      1732590000000 + (next() % 100_000_000)
    },"amount":${next() % 1000}.${String(next() % 100).padStart(2, '0')}}\n`;
  }
  const all = Buffer.from(text.slice(0, total));
  const out: Buffer[] = [];
  for (let off = 0; off < all.length; off += batch) out.push(all.subarray(off, off + batch));
  return out;
}

/** Best MB/s of 5 runs of `fn` over all batches, each run at least minMs long. */
function bestMBps(bytesPerPass: number, minMs: number, fn: () => void): number {
  fn(); // warm-up
  let best = 0;
  for (let run = 0; run < 5; run++) {
    let passes = 0;
    const start = process.hrtime.bigint();
    let ns = 0;
    do {
      fn();
      passes++;
      ns = Number(process.hrtime.bigint() - start);
    } while (ns < minMs * 1e6);
    best = Math.max(best, (bytesPerPass * passes * 1e3) / ns);
  }
  return best;
}

function rawPackage(codec: CodecName): Pair {
  switch (codec) {
    case 'gzip':
      return { compress: (b) => gzipSync(b), decompress: (z) => gunzipSync(z) };
    case 'snappy': {
      const p = require('snappyjs') as { compress(b: Buffer): Buffer; uncompress(b: Buffer): Buffer };
      return { compress: (b) => p.compress(b), decompress: (z) => p.uncompress(Buffer.from(z.buffer, z.byteOffset, z.length)) };
    }
    case 'lz4': {
      const p = require('lz4-wasm-nodejs') as { compress(b: Uint8Array): Uint8Array; decompress(b: Uint8Array): Uint8Array };
      return { compress: (b) => p.compress(b), decompress: (z) => p.decompress(z) };
    }
    case 'zstd': {
      const p = require('@bokuweb/zstd-wasm') as {
        compress(b: Uint8Array, level?: number): Uint8Array;
        decompress(b: Uint8Array): Uint8Array;
      };
      return { compress: (b) => p.compress(b, 3), decompress: (z) => p.decompress(z) };
    }
  }
}

async function child(codec: CodecName, impl: 'ts' | 'raw'): Promise<void> {
  const quick = process.argv.includes('--quick');
  const batches = makeBatches(arg('total', 1 << 20), arg('batch', 16384));
  const total = batches.reduce((n, b) => n + b.length, 0);
  await initCodecs();
  let pair: Pair;
  if (impl === 'ts') {
    const c = codecFor(IDS[codec]);
    pair = { compress: (b) => c.compress(b), decompress: (z) => c.decompress(z as Buffer) };
  } else {
    if (codec === 'zstd') await (require('@bokuweb/zstd-wasm') as { init(): Promise<void> }).init();
    pair = rawPackage(codec);
  }
  const compressed = batches.map((b) => {
    const z = pair.compress(b);
    const back = pair.decompress(z, b.length);
    if (!Buffer.from(back.buffer, back.byteOffset, back.length).equals(b)) {
      throw new Error(`${codec} ${impl}: a batch does not round-trip (${b.length} -> ${z.length} -> ${back.length})`);
    }
    return z;
  });
  const minMs = quick ? 50 : 200;
  const row: Row = {
    codec,
    impl,
    compressMBps: bestMBps(total, minMs, () => {
      for (const b of batches) pair.compress(b);
    }),
    decompressMBps: bestMBps(total, minMs, () => {
      for (let i = 0; i < compressed.length; i++) pair.decompress(compressed[i], batches[i].length);
    }),
    ratio: total / compressed.reduce((n, z) => n + z.length, 0),
  };
  process.stdout.write(`${JSON.stringify(row)}\n`);
}

function nativeRows(minMs: number, total: number, batch: number): Row[] | string {
  const root = join(__dirname, '..', '..');
  const bin = join(root, 'native', 'build', 'c', 'compress_bench');
  if (!existsSync(bin)) return `no ${bin} (build it with native/test/build-compress.sh)`;
  const dir = mkdtempSync(join(tmpdir(), 'kt-compress-bench-'));
  try {
    const file = join(dir, 'batches.bin');
    writeFileSync(file, Buffer.concat(makeBatches(total, batch)));
    const r = spawnSync(bin, [file, String(batch), String(minMs)], { encoding: 'utf8' });
    if (r.status !== 0) return `compress_bench failed: ${(r.stderr || r.stdout).trim()}`;
    return r.stdout
      .trim()
      .split('\n')
      .map((line) => {
        const [codec, c, d, z, n] = line.split(/\s+/);
        return { codec: codec as CodecName, impl: 'native', compressMBps: Number(c), decompressMBps: Number(d), ratio: Number(n) / Number(z) };
      });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function parent(): void {
  const quick = process.argv.includes('--quick');
  const batch = arg('batch', 16384);
  const total = arg('total', 1 << 20);
  const rows: Row[] = [];
  let failed = false;
  for (const codec of CODECS) {
    for (const impl of ['ts', 'raw'] as const) {
      const r = spawnSync(process.execPath, [__filename, CHILD_FLAG, codec, impl, ...process.argv.slice(2)], { encoding: 'utf8' });
      if (r.status !== 0) {
        failed = true;
        console.log(`${codec} ${impl}: FAILED: ${(r.stderr || r.stdout).trim().split('\n').slice(0, 6).join(' | ')}`);
        continue;
      }
      rows.push(JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}') as Row);
    }
  }
  const native = nativeRows(quick ? 50 : 200, total, batch);
  if (typeof native === 'string') console.log(`native C rows skipped: ${native}`);
  else rows.push(...native);

  const label: Record<string, string> = {
    ts: 'ts codec (fallback backend)',
    raw: 'raw npm package',
    native: 'native C (codecs.h)',
  };
  const pkg: Record<CodecName, string> = {
    gzip: 'node:zlib',
    snappy: 'snappyjs',
    lz4: 'lz4-wasm-nodejs',
    zstd: '@bokuweb/zstd-wasm',
  };
  console.log(
    `\nCompression, MB/s of uncompressed input (best of 5 runs; ${total / 1024} KiB of ~100 B JSON records in ${batch / 1024} KiB batches, default levels; node ${process.version}, ${process.arch})\n`,
  );
  console.log('| codec | implementation | ratio | compress MB/s | decompress MB/s |');
  console.log('|---|---|---|---|---|');
  for (const codec of CODECS) {
    for (const r of rows.filter((x) => x.codec === codec)) {
      const impl = r.impl === 'raw' ? `${label.raw} (${pkg[codec]})` : label[r.impl];
      console.log(`| ${codec} | ${impl} | ${r.ratio.toFixed(2)} | ${r.compressMBps.toFixed(0)} | ${r.decompressMBps.toFixed(0)} |`);
    }
  }
  if (failed) process.exitCode = 1;
}

const at = process.argv.indexOf(CHILD_FLAG);
if (at >= 0) {
  child(process.argv[at + 1] as CodecName, process.argv[at + 2] as 'ts' | 'raw').catch((e: unknown) => {
    console.error(e);
    process.exit(1);
  });
} else {
  parent();
}
