/**
 * The portable prebuilt addon (scripts/prebuild-zig.sh, `npm run build:prebuilt`):
 * prebuilds/<platform>-<arch>/*.<libc>.node for this process's C library (a musl binary is
 * not loaded by a glibc Node, nor the other way round: test/qemu/musl.sh runs the musl one),
 * loaded directly by path (not through node-gyp-build,
 * which would prefer a local build/Release). Checks that it works on its own, that every
 * codec's batches decode with the TypeScript decoder, that node-gyp-build would pick it
 * when there is no local build, that worker threads which load it and exit leave the main
 * thread working (their thread_local codec contexts are destroyed by the addon's own C++
 * runtime, native/src/runtime/cxx_runtime.cc, since the binary links no C++ library), and
 * (Linux) that lz4, zstd and snappy are linked in statically.
 *
 * Without a prebuilt binary the test is skipped, unless KAFKA_TURBO_REQUIRE_PREBUILT is
 * set (e.g. in a release job), when it fails.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { Worker } from 'node:worker_threads';
import { existsSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { CodecId, type AccumulatorConfig, type RecordInput } from '../../../ts/backend/types.js';
import type { NativeAddon } from '../../../ts/backend/native.js';
import { decodeRecordBatches } from '../../../ts/protocol/record-batch.js';
import { initCodecs } from '../../../ts/compression/index.js';

/** The package root: the nearest directory above this file with package.json and binding.gyp. */
function packageRoot(): string {
  for (let dir = __dirname; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'binding.gyp'))) return dir;
    if (dirname(dir) === dir) throw new Error(`no package root above ${__dirname}`);
  }
}

const root = packageRoot();
const prebuildDir = join(root, 'prebuilds', `${process.platform}-${process.arch}`);
/** node-gyp-build's libc tag for this process: glibc when Node reports a glibc version. */
const report = process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined;
const libc = process.platform !== 'linux' ? '' : report?.header?.glibcVersionRuntime ? 'glibc' : 'musl';
const binaries = existsSync(prebuildDir)
  ? readdirSync(prebuildDir)
      .filter((f) => f.endsWith('.node') && (libc === '' || !/\.(glibc|musl)\.node$/.test(f) || f.endsWith(`.${libc}.node`)))
      .map((f) => join(prebuildDir, f))
  : [];

const NO_STAMP = { producerId: -1n, producerEpoch: -1, transactional: false, baseSequences: null };
const CODECS: ReadonlyArray<[CodecId, string]> = [
  [CodecId.None, 'none'],
  [CodecId.Gzip, 'gzip'],
  [CodecId.Snappy, 'snappy'],
  [CodecId.Lz4, 'lz4'],
  [CodecId.Zstd, 'zstd'],
];

/** Compressible records with keys, nulls and headers. */
function records(n: number): RecordInput[] {
  return Array.from({ length: n }, (_, i) => ({
    key: i % 4 === 3 ? null : Buffer.from(`key-${i % 10}`),
    value: i % 17 === 5 ? null : Buffer.from(`value ${i} `.padEnd(80 + (i % 50), 'abc')),
    headers: i % 3 ? null : [{ key: 'trace', value: Buffer.from(`t${i}`) }, { key: 'n', value: null }],
    timestamp: 1_700_000_000_000 + i,
  }));
}

if (binaries.length === 0) {
  test('prebuilt binary', (t) => {
    if (process.env.KAFKA_TURBO_REQUIRE_PREBUILT) {
      assert.fail(
        `no prebuilt binary in ${prebuildDir} and KAFKA_TURBO_REQUIRE_PREBUILT is set: run npm run build:prebuilt`,
      );
    }
    t.skip('no prebuilt binary: run npm run build:prebuilt');
  });
} else {
  for (const file of binaries) {
    describe(`prebuilt ${file.slice(root.length + 1)}`, () => {
      // require() by path: this process then holds this binary, whatever build/ has.
      const addon = require(file) as NativeAddon;

      test('exports crc32c and createAccumulator; crc32c("123456789") is 0xE3069283', () => {
        assert.equal(typeof addon.crc32c, 'function');
        assert.equal(typeof addon.createAccumulator, 'function');
        assert.equal(addon.crc32c(Buffer.from('123456789')), 0xe3069283);
        assert.ok(['avx512-vpclmul', 'sse42', 'armv8-crc', 'table'].includes(addon.crc32cImpl()));
      });

      for (const [codec, name] of CODECS) {
        test(`an accumulator with codec ${name} drains batches the TypeScript decoder reads`, async () => {
          await initCodecs();
          const config: AccumulatorConfig = { batchSize: 1 << 16, lingerMs: 0, bufferMemory: 1 << 24, codec };
          const acc = addon.createAccumulator(config);
          const input = records(300);
          assert.equal(acc.append(2, input, 0).appended, input.length);
          const got = [];
          while (acc.hasUndrained()) {
            for (const d of acc.drain([2], 1 << 30, NO_STAMP)) {
              const batches = decodeRecordBatches(d.bytes);
              assert.equal(batches.length, 1);
              const [batch] = batches;
              assert.ok(batch!.crcValid, 'CRC32C');
              // the records compress well, so the compressed form is kept
              assert.equal(batch!.attributes & 7, codec, 'codec bits');
              assert.equal(batch!.records.length, d.recordCount);
              got.push(...batch!.records);
            }
          }
          assert.equal(got.length, input.length);
          got.forEach((r, i) => {
            const want = input[i]!;
            assert.deepEqual(r.key, want.key, `key ${i}`);
            assert.deepEqual(r.value, want.value, `value ${i}`);
            assert.equal(r.timestamp, want.timestamp, `timestamp ${i}`);
            assert.deepEqual(r.headers, want.headers ?? [], `headers ${i}`);
          });
        });
      }

      // Each codec keeps per-thread contexts in thread_local storage; a thread's exit runs
      // their destructors through the addon's own __cxa_thread_atexit (a pthread key), so a
      // broken one shows as a crash or a hang at worker exit, or a wrong batch afterwards.
      test('worker threads that encode with every codec and exit leave the addon working', async () => {
        const script = `
          const { workerData, parentPort } = require('node:worker_threads');
          const addon = require(workerData.file);
          const value = Buffer.alloc(4096, 'kafka-turbo ');
          const records = Array.from({ length: 50 }, (_, i) => ({ key: null, value, headers: null, timestamp: i }));
          const sizes = workerData.codecs.map((codec) => addon.encodeRecordBatch(records, {
            producerId: -1n, producerEpoch: -1, baseSequence: -1, transactional: false, codec,
          }).length);
          parentPort.postMessage(sizes);`;
        const codecs = CODECS.map(([c]) => c);
        for (let round = 0; round < 3; round++) {
          const sizes = await Promise.all(
            [0, 1].map(
              () =>
                new Promise<number[]>((resolve, reject) => {
                  const w = new Worker(script, { eval: true, workerData: { file, codecs } });
                  let got: number[] | undefined;
                  w.on('message', (m: number[]) => (got = m));
                  w.on('error', reject);
                  w.on('exit', (code) => (code === 0 && got ? resolve(got) : reject(new Error(`worker exit ${code}`))));
                }),
            ),
          );
          // Uncompressed, the batch holds the 200 KiB of values; every codec shrinks them.
          for (const s of sizes) {
            s.forEach((n, i) => {
              if (codecs[i] === CodecId.None) assert.ok(n > 50 * 4096, `uncompressed batch of ${n} bytes`);
              else assert.ok(n > 61 && n < 50 * 4096, `${CODECS[i]![1]} batch of ${n} bytes`);
            });
          }
        }
        // The main thread still encodes (and decodes) after the workers are gone.
        await initCodecs();
        for (const [codec] of CODECS) {
          const batch = addon.encodeRecordBatch(records(20), {
            producerId: -1n, producerEpoch: -1, baseSequence: -1, transactional: false, codec,
          });
          assert.equal(decodeRecordBatches(batch)[0]!.records.length, 20);
        }
      });

      test('node-gyp-build picks a prebuilt binary when there is no local build', () => {
        // PREBUILDS_ONLY: node-gyp-build skips build/Release and build/Debug.
        const r = spawnSync(
          process.execPath,
          ['-e', 'process.stdout.write(require("node-gyp-build").resolve(process.argv[1]))', root],
          { cwd: root, env: { ...process.env, PREBUILDS_ONLY: '1' }, encoding: 'utf8' },
        );
        assert.equal(r.status, 0, r.stderr);
        assert.ok(binaries.includes(r.stdout), `node-gyp-build resolved ${r.stdout}`);
      });

      // readelf, not ldd: it reads any architecture's ELF (the arm64 binary is tested on an
      // x86-64 host under qemu) and lists what the file itself asks for.
      test('the C library is the only shared library it needs: codecs, liburing and the C++ runtime are linked in', (t) => {
        if (process.platform !== 'linux') return t.skip('ELF: Linux only');
        const r = spawnSync('readelf', ['-d', file], { encoding: 'utf8' });
        if (r.error) return t.skip(`readelf: ${r.error.message}`);
        assert.equal(r.status, 0, r.stderr);
        const needed = [...r.stdout.matchAll(/\(NEEDED\)[^[]*\[([^\]]+)\]/g)].map((m) => m[1]!);
        assert.ok(needed.some((n) => /^libc\.(so|musl)/.test(n)), `needs a C library: ${needed.join(' ')}`);
        const others = needed.filter((n) => !/^(libc\.so\.6|libm\.so\.6|libpthread\.so\.0|libdl\.so\.2|libc\.so|libc\.musl-[a-z0-9_]+\.so\.1|ld-linux-[a-z0-9_-]+\.so\.\d)$/.test(n));
        assert.deepEqual(others, [], `needs only the C library: ${needed.join(' ')}`);
      });
    });
  }
}
