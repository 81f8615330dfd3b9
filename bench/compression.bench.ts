/**
 * Is the backends' compression as fast as the library each one wraps, on the same data?
 * Compression MB/s (1e6 bytes of uncompressed input per second) on what Kafka batches usually
 * hold: ~100-byte JSON records (the values; no key, no headers), --records (160) to a batch,
 * each codec at its default level. "Input" is always the batch's record section, the bytes
 * a codec compresses (the batch with codec none less its 61-byte header), so every row of a
 * codec is over the same bytes and the MB/s compare directly.
 *
 *   npm run build && npm run build:native && bash native/test/build-compress.sh &&
 *     node out/bench/compression.bench.js [--quick] [--records=160] [--total=1048576]
 *                                         [--runs=15] [--min-ms=100]
 *
 * Rows per codec, native side (compared with the raw C library):
 *   native backend, compression alone   createNativeBackend().encodeRecordBatch(records,
 *                                       {codec}) minus the same call with codec none (time
 *                                       per byte): what asking for the codec adds to the call,
 *                                       all costs included (the codec, the output allocation,
 *                                       the second Buffer and its copy, the CRC of the result)
 *   native backend, whole call          the encodeRecordBatch(records, {codec}) call itself
 *   native C codecs.h in Node           native/src/compress/ Compress() alone, in Node, on the
 *                                       libraries the addon uses (native/build/c/
 *                                       compress_bench.node, from native/test/build-compress.sh)
 *   raw C library in Node               the library called directly the simplest way, same
 *                                       module (deflateInit2+deflate+deflateEnd on Node's zlib,
 *                                       LZ4F_compressFrame, ZSTD_compressCCtx level 3 on a
 *                                       reused context, snappy_compress without framing)
 * fallback side (compared with the raw npm package):
 *   fallback backend, compression alone createFallbackBackend() the same way (initCodecs() first).
 *                                       Its CRC32C (in TypeScript) runs over the compressed
 *                                       bytes instead of the records, so the difference can
 *                                       come out faster than the codec alone
 *   fallback backend, whole call
 *   ts codec                            ts/compression/ codecFor(codec).compress() alone
 *   raw npm package                     the package alone (node:zlib gzipSync, snappyjs raw
 *                                       blocks, lz4-wasm-nodejs length-prefixed blocks,
 *                                       @bokuweb/zstd-wasm level 3)
 * and for codec none, each backend's whole encodeRecordBatch call (what is subtracted).
 *
 * One child process per codec and side (one process's JIT state and heap cannot favour the
 * next): it first round-trips every batch through each implementation (a backend's batch must
 * carry the codec in its attributes and decompress to the record section; with codec none it
 * must be the very record section the other rows compress) and stops on any mismatch. Then
 * --runs rounds (--quick: 5 rounds of 50 ms), each implementation of the side compressing all
 * batches over and over for at least --min-ms in turn, the order rotating, so that load on the
 * machine hits all of a codec's rows alike; the best round of each counts. The native side's
 * C rows are rounds of compress_bench.node (ours and raw alternating) between the JS rounds.
 * The "vs raw library" ratios are therefore within one process and one stretch of time; rows
 * of different codecs or sides are not (so "none" is the median of the sides' children).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { CodecId, type Backend, type BatchHeaderInput, type RecordInput } from '../ts/backend/types.js';
import { codecFor, initCodecs, type CodecName } from '../ts/compression/index.js';
import { createFallbackBackend } from '../ts/backend/fallback/index.js';
import { createNativeBackend } from '../ts/backend/native-backend.js';

const CHILD_FLAG = '--child';
const CODECS: readonly CodecName[] = ['gzip', 'snappy', 'lz4', 'zstd'];
const IDS: Record<CodecName, CodecId> = { gzip: CodecId.Gzip, snappy: CodecId.Snappy, lz4: CodecId.Lz4, zstd: CodecId.Zstd };
const RECORD_BATCH_OVERHEAD = 61;
const ROOT = join(__dirname, '..', '..');

interface Pair {
  compress(b: Buffer): Uint8Array;
  decompress(z: Uint8Array, size: number): Uint8Array;
}

/** What a side's child reports for one codec: best MB/s of record-section input. */
interface SideRow {
  side: 'native' | 'fallback';
  codec: CodecName;
  /** encodeRecordBatch with codec none, and with the codec: whole calls. */
  none: number;
  whole: number;
  /** native: codecs.h Compress() in Node; fallback: codecFor(codec).compress(). */
  codecAlone?: number;
  /** native: the C library called directly, in Node; fallback: the npm package. */
  raw?: number;
  /** native: zlib / liblz4 / libzstd versions from compress_bench. */
  versions?: string;
  /** Why a row is missing. */
  note?: string;
}

function arg(name: string, fallback: number): number {
  const a = process.argv.find((x) => x.startsWith(`--${name}=`));
  return a ? Number(a.slice(name.length + 3)) : fallback;
}

function options(): { records: number; total: number; runs: number; minMs: number } {
  const quick = process.argv.includes('--quick');
  return {
    records: arg('records', 160),
    total: arg('total', 1 << 20),
    runs: arg('runs', quick ? 5 : 15),
    minMs: arg('min-ms', quick ? 50 : 100),
  };
}

/** ~100-byte JSON records, one per line, `total` bytes (native/bench/compress_bench.cc makes
 * the same bytes when it is given no file). */
function makeJsonText(total: number): Buffer {
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
  return Buffer.from(text.slice(0, total));
}

/** The JSON lines as record values (no key, no headers), `perBatch` records to a batch. */
function makeRecordBatches(total: number, perBatch: number): RecordInput[][] {
  const lines = makeJsonText(total).toString('latin1').split('\n');
  lines.pop(); // cut short by `total` (or empty)
  const batches: RecordInput[][] = [];
  for (let i = 0; i < lines.length; i += perBatch) {
    batches.push(
      lines
        .slice(i, i + perBatch)
        .map((line, j) => ({ key: null, value: Buffer.from(line, 'latin1'), headers: null, timestamp: 1732590000000 + j })),
    );
  }
  return batches;
}

function header(codec: CodecId): BatchHeaderInput {
  return { producerId: -1n, producerEpoch: -1, baseSequence: -1, transactional: false, codec };
}

/** Each batch's record section: what a codec compresses. */
function recordSections(batches: readonly RecordInput[][]): Buffer[] {
  const fallback = createFallbackBackend({ reason: 'bench', refused: [] });
  return batches.map((b) => fallback.encodeRecordBatch(b, header(CodecId.None)).subarray(RECORD_BATCH_OVERHEAD));
}

/** One round of a JS loop: `fn` (one pass over all batches) over and over for >= minMs; MB/s. */
function jsRound(bytesPerPass: number, minMs: number, fn: () => void): number[] {
  let passes = 0;
  const start = process.hrtime.bigint();
  let ns = 0;
  do {
    fn();
    passes++;
    ns = Number(process.hrtime.bigint() - start);
  } while (ns < minMs * 1e6);
  return [(bytesPerPass * passes * 1e3) / ns];
}

/**
 * Best of `runs` rounds for every value each `round` measures; the rounds alternate (their
 * order rotating from one run to the next) so the machine's load hits all alike. One
 * unmeasured round of each first (JIT, caches).
 */
function alternate(runs: number, rounds: readonly ((run: number) => number[])[]): number[][] {
  rounds.forEach((round) => round(-1));
  const best = rounds.map(() => [] as number[]);
  for (let run = 0; run < runs; run++) {
    for (let k = 0; k < rounds.length; k++) {
      const i = (run + k) % rounds.length;
      rounds[i](run).forEach((v, j) => (best[i][j] = Math.max(best[i][j] ?? 0, v)));
    }
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

function checkPair(what: string, pair: Pair, sections: readonly Buffer[]): void {
  for (const b of sections) {
    const z = pair.compress(b);
    const back = pair.decompress(z, b.length);
    if (!Buffer.from(back.buffer, back.byteOffset, back.length).equals(b)) {
      throw new Error(`${what}: a batch does not round-trip (${b.length} -> ${z.length} -> ${back.length})`);
    }
  }
}

const CBENCH = join(ROOT, 'native', 'build', 'c', 'compress_bench.node');

/** One child: a backend's encodeRecordBatch (none, codec) and, alternating with them, the
 * codec alone and the raw library on the same record sections. */
async function sideChild(side: 'native' | 'fallback', codec: CodecName): Promise<SideRow> {
  const o = options();
  const batches = makeRecordBatches(o.total, o.records);
  const sections = recordSections(batches);
  const input = sections.reduce((n, b) => n + b.length, 0);
  await initCodecs(); // the fallback's zstd; also the decompressor of the checks
  const backend: Backend = side === 'native' ? createNativeBackend() : createFallbackBackend({ reason: 'bench', refused: [] });
  if (backend.info.backend !== side) throw new Error(`asked for the ${side} backend, got ${backend.info.backend}`);
  const none = header(CodecId.None);
  const packed = header(IDS[codec]);
  const check = codecFor(IDS[codec]);
  batches.forEach((b, i) => {
    if (!backend.encodeRecordBatch(b, none).subarray(RECORD_BATCH_OVERHEAD).equals(sections[i])) {
      throw new Error(`${side}: batch ${i} with codec none is not the record section the other rows compress`);
    }
    const out = backend.encodeRecordBatch(b, packed);
    const bits = out.readInt16BE(21) & 7; // attributes
    if (bits !== IDS[codec]) throw new Error(`${side} ${codec}: batch ${i} went out with codec bits ${bits}`);
    if (!check.decompress(out.subarray(RECORD_BATCH_OVERHEAD)).equals(sections[i])) {
      throw new Error(`${side} ${codec}: batch ${i} does not decompress to its records`);
    }
  });
  const rounds: ((run: number) => number[])[] = [
    () =>
      jsRound(input, o.minMs, () => {
        for (const b of batches) backend.encodeRecordBatch(b, none);
      }),
    () =>
      jsRound(input, o.minMs, () => {
        for (const b of batches) backend.encodeRecordBatch(b, packed);
      }),
  ];
  const row: SideRow = { side, codec, none: 0, whole: 0 };
  let dir: string | undefined;
  try {
    if (side === 'fallback') {
      const ts = codecFor(IDS[codec]);
      const tsPair: Pair = { compress: (b) => ts.compress(b), decompress: (z) => ts.decompress(z as Buffer) };
      if (codec === 'zstd') await (require('@bokuweb/zstd-wasm') as { init(): Promise<void> }).init();
      const raw = rawPackage(codec);
      checkPair(`${codec} ts codec`, tsPair, sections);
      checkPair(`${codec} ${codec} package`, raw, sections);
      for (const pair of [tsPair, raw]) {
        rounds.push(() =>
          jsRound(input, o.minMs, () => {
            for (const b of sections) pair.compress(b);
          }),
        );
      }
    } else if (existsSync(CBENCH)) {
      // compress_bench.node times its ours (codecs.h) and raw rounds itself, one round per
      // call (each call first round-trips every batch through both).
      const cbench = require(CBENCH) as { run(args: string[]): string };
      dir = mkdtempSync(join(tmpdir(), 'kt-compress-bench-'));
      const file = join(dir, 'sections.bin');
      const framed: Buffer[] = [];
      for (const s of sections) {
        const len = Buffer.alloc(4);
        len.writeUInt32LE(s.length);
        framed.push(len, s);
      }
      writeFileSync(file, Buffer.concat(framed));
      rounds.push((run) => {
        const args = [`--file=${file}`, '--framed', '--tsv', `--codec=${codec}`, '--runs=1', `--min-ms=${o.minMs}`];
        if (run % 2 === 1) args.push('--raw-first');
        const lines = cbench.run(args).trim().split('\n');
        row.versions = (lines.find((l) => l.startsWith('#')) ?? '').replace(/^#\s*/, '');
        const mbps = (impl: string) => Number(lines.find((l) => l.startsWith(`${codec} ${impl} `))?.split(/\s+/)[2]);
        return [mbps('ours'), mbps('raw')];
      });
    } else {
      row.note = `no ${CBENCH}: build it with native/test/build-compress.sh (needs Node's headers)`;
    }
    const best = alternate(o.runs, rounds);
    row.none = best[0][0];
    row.whole = best[1][0];
    if (side === 'fallback') {
      row.codecAlone = best[2][0];
      row.raw = best[3][0];
    } else if (best.length > 2) {
      [row.codecAlone, row.raw] = best[2];
    }
  } finally {
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  }
  return row;
}

function parent(): void {
  const o = options();
  const started = Date.now();
  const load0 = loadavg()[0];
  const batches = makeRecordBatches(o.total, o.records);
  const sections = recordSections(batches);
  const input = sections.reduce((n, b) => n + b.length, 0);
  const records = batches.reduce((n, b) => n + b.length, 0);
  const valueBytes = batches.reduce((n, b) => b.reduce((m, r) => m + (r.value?.length ?? 0), n), 0);

  const rows: SideRow[] = [];
  let failed = false;
  for (const codec of CODECS) {
    for (const side of ['native', 'fallback'] as const) {
      const r = spawnSync(process.execPath, [__filename, CHILD_FLAG, side, codec, ...process.argv.slice(2)], { encoding: 'utf8' });
      if (r.status !== 0) {
        failed = true;
        console.log(`${side} ${codec}: FAILED: ${(r.stderr || r.stdout).trim().split('\n').slice(0, 6).join(' | ')}`);
        continue;
      }
      const row = JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}') as SideRow;
      if (row.note !== undefined) console.log(`${side} ${codec}: ${row.note}`);
      rows.push(row);
    }
  }

  const pkg: Record<CodecName, string> = {
    gzip: 'node:zlib gzipSync',
    snappy: 'snappyjs',
    lz4: 'lz4-wasm-nodejs',
    zstd: '@bokuweb/zstd-wasm',
  };
  const rawC: Record<CodecName, [string, string]> = {
    gzip: ["zlib (Node's)", 'deflateInit2 + deflate + deflateEnd'],
    snappy: ['libsnappy', 'snappy_compress, no framing'],
    lz4: ['liblz4', 'LZ4F_compressFrame'],
    zstd: ['libzstd', 'ZSTD_compressCCtx level 3'],
  };
  const ok = (x: number | undefined): x is number => x !== undefined && Number.isFinite(x) && x > 0;
  const fmt = (x: number | undefined) => (ok(x) ? x.toFixed(0) : 'n/a');
  const vs = (x: number | undefined, base: number | undefined, name: string) => (ok(x) && ok(base) ? `${(x / base).toFixed(2)}× ${name}` : 'n/a');
  /** MB/s of the codec's share of a call: its time per byte less codec none's (same child). */
  const alone = (r: SideRow | undefined) => (r === undefined ? undefined : 1 / (1 / r.whole - 1 / r.none));
  const versions = rows.find((r) => r.versions)?.versions ?? 'no compress_bench.node';

  console.log(
    `\nCompression, MB/s of uncompressed input: the record sections of ${sections.length} batches of ${o.records} records ` +
      `(${(input / 1024).toFixed(0)} KiB, ${(input / sections.length / 1024).toFixed(1)} KiB a batch on average; values ~${(valueBytes / records).toFixed(0)} B of JSON), ` +
      `default levels; best of ${o.runs} rounds of >= ${o.minMs} ms, the rows of a codec and side alternating in one process; ` +
      `node ${process.version}, ${process.arch}, ${versions}; load average ${load0.toFixed(1)} -> ${loadavg()[0].toFixed(1)}, ` +
      `${((Date.now() - started) / 1000).toFixed(0)} s\n`,
  );
  console.log('| codec | implementation | MB/s (input) | vs raw library |');
  console.log('|---|---|---|---|');
  for (const side of ['native', 'fallback'] as const) {
    // codec none is measured in every child of the side: the median.
    const nones = rows
      .filter((r) => r.side === side)
      .map((r) => r.none)
      .sort((a, b) => a - b);
    if (nones.length > 0) console.log(`| none | ${side} backend: encodeRecordBatch, whole call | ${fmt(nones[nones.length >> 1])} | – |`);
  }
  for (const codec of CODECS) {
    const n = rows.find((r) => r.codec === codec && r.side === 'native');
    const f = rows.find((r) => r.codec === codec && r.side === 'fallback');
    const [lib, call] = rawC[codec];
    const table: [string, number | undefined, string][] = [
      [`native backend: compression alone (encodeRecordBatch ${codec} − none)`, alone(n), vs(alone(n), n?.raw, lib)],
      [`native backend: encodeRecordBatch ${codec}, whole call`, n?.whole, vs(n?.whole, n?.raw, lib)],
      [`native C in Node: codecs.h Compress()`, n?.codecAlone, vs(n?.codecAlone, n?.raw, lib)],
      [`raw C library in Node: ${lib} ${call}`, n?.raw, ok(n?.raw) ? '1 (baseline)' : 'n/a'],
      [`fallback backend: compression alone (encodeRecordBatch ${codec} − none)`, alone(f), vs(alone(f), f?.raw, pkg[codec])],
      [`fallback backend: encodeRecordBatch ${codec}, whole call`, f?.whole, vs(f?.whole, f?.raw, pkg[codec])],
      [`ts codec: ts/compression codecFor().compress()`, f?.codecAlone, vs(f?.codecAlone, f?.raw, pkg[codec])],
      [`raw npm package: ${pkg[codec]}`, f?.raw, ok(f?.raw) ? '1 (baseline)' : 'n/a'],
    ];
    for (const [name, mbps, ratio] of table) console.log(`| ${codec} | ${name} | ${fmt(mbps)} | ${ratio} |`);
  }
  if (failed) process.exitCode = 1;
}

const at = process.argv.indexOf(CHILD_FLAG);
if (at >= 0) {
  sideChild(process.argv[at + 1] as 'native' | 'fallback', process.argv[at + 2] as CodecName)
    .then((row) => process.stdout.write(`${JSON.stringify(row)}\n`))
    .catch((e: unknown) => {
      console.error(e);
      process.exit(1);
    });
} else {
  parent();
}
