/**
 * Bad input never aborts the process (issue 10, item 3): each native entry point checks
 * lengths and types before it sizes anything from them and throws a TypeError or RangeError,
 * and an append that runs out of memory part way reports the records it took. Each case
 * here used to end the process (std::bad_alloc -> abort) or lose records.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { nativeExpected } from '../../helpers/backends.js';
import { loadNativeAddon } from '../../../ts/backend/native.js';
import { createNativeBackend } from '../../../ts/backend/native-backend.js';
import { CodecId, type AccumulatorConfig, type BatchResult } from '../../../ts/backend/types.js';

const STAMP = { producerId: -1n, producerEpoch: -1, transactional: false, baseSequences: null };
const CONFIG: AccumulatorConfig = { batchSize: 1024, lingerMs: 0, bufferMemory: 1 << 20, codec: CodecId.None };

/** An array that claims `length` elements and holds only the first few. */
function sparse<T>(length: number, ...first: T[]): T[] {
  const a = [...first];
  a.length = length;
  return a;
}

if (nativeExpected()) {
  describe('native entry points refuse bad input with a TypeError or RangeError', () => {
    const addon = loadNativeAddon();
    const record = { key: null, value: Buffer.from('v'), headers: null, timestamp: 1 };

    test('complete() with a sparse array of huge length (was std::bad_alloc, abort)', () => {
      const acc = addon.createAccumulator(CONFIG);
      assert.throws(() => acc.complete(sparse<BatchResult>(2 ** 32 - 1)), RangeError);
      assert.throws(() => acc.complete(sparse<BatchResult>(2 ** 24 + 1, { batchId: 1, errorCode: 0 })), RangeError);
      // Within the bound, the first hole is a TypeError.
      assert.throws(() => acc.complete(sparse<BatchResult>(1000, { batchId: 1, errorCode: 0 })), TypeError);
    });

    test("drain()'s object form with a sparse array of huge length, holes, or non-numbers: nothing is taken", () => {
      const acc = addon.createAccumulator(CONFIG);
      acc.append(0, [record], 0);
      const before = acc.stats();
      assert.throws(() => acc.drain(sparse<number>(2 ** 32 - 1, 0), Infinity, STAMP), RangeError);
      assert.throws(() => acc.drain(sparse<number>(10, 0), Infinity, STAMP), TypeError);
      assert.throws(() => acc.drain([0, 'x' as unknown as number], Infinity, STAMP), TypeError);
      assert.deepEqual(acc.stats(), before);
      assert.equal(acc.drain([0], Infinity, STAMP).length, 1, 'and a good call still works');
    });

    test('a drain that fails part way puts every batch back; the next drain hands out the same bytes', () => {
      const hooks = addon as unknown as { setDrainFailureForTest(after: number): void };
      const backend = createNativeBackend(addon);
      const stamp = { producerId: 7n, producerEpoch: 1, transactional: false, baseSequences: [10, 20, 30] };
      const records = Array.from({ length: 30 }, (_, i) => ({ key: null, value: Buffer.from(`value ${i} `.repeat(20)), headers: null, timestamp: 5 + i }));
      for (const codec of [CodecId.None, CodecId.Gzip]) {
        for (const [path, make] of [
          ['object form', () => addon.createAccumulator({ ...CONFIG, batchSize: 1 << 16, codec })],
          ['packed form', () => backend.createAccumulator({ ...CONFIG, batchSize: 1 << 16, codec })],
        ] as const) {
          const reference = make();
          const acc = make();
          for (const a of [reference, acc]) for (const p of [0, 1, 2]) a.append(p, records, 0);
          const want = reference.drain([0, 1, 2], Infinity, stamp);
          const before = acc.stats();
          for (const after of [0, 1, 2]) {
            hooks.setDrainFailureForTest(after);
            assert.throws(() => acc.drain([0, 1, 2], Infinity, stamp), { code: 'ERR_KAFKA_TURBO_NAPI', message: /put back/ }, `${path}, codec ${codec}, failing after ${after}`);
            assert.deepEqual(acc.stats(), before, `${path}: nothing lost`);
            assert.deepEqual(acc.ready(0, false).partitions, [0, 1, 2], `${path}: the same order`);
          }
          const got = acc.drain([0, 1, 2], Infinity, stamp);
          assert.deepEqual(got.map((d) => [d.batchId, d.partition, d.recordCount]), want.map((d) => [d.batchId, d.partition, d.recordCount]));
          got.forEach((d, i) => assert.ok(d.bytes.equals(want[i]!.bytes), `${path}, codec ${codec}: batch ${i} bytes`));
          acc.complete(got.map((d) => ({ batchId: d.batchId, errorCode: 0 })));
          assert.equal(acc.stats().bufferedBytes, 0);
          acc.destroy();
          reference.destroy();
        }
      }
    });

    test('a BufferPool method on another object, and a look-alike pool, are TypeErrors', () => {
      const pool = addon.createBufferPool(1000);
      assert.throws(() => pool.available.call({}), TypeError);
      assert.throws(() => pool.total.call(undefined), TypeError);
      assert.throws(() => addon.createAccumulator({ ...CONFIG, pool: { available: () => 1, total: () => 1 } }), TypeError);
      assert.throws(() => addon.createAccumulator({ ...CONFIG, pool: Object.create(pool) }), TypeError);
    });

    test('an append that runs out of memory part way reports the records it took (a child under an address-space limit)', () => {
      // The child appends [small, 256 MB] after lowering its own address-space limit to
      // what it uses plus 128 MiB: the first record goes into a batch, the second cannot
      // get its block. Before, the whole call threw and the first record was lost to its
      // caller (taken, but reported as not taken).
      const script = `
        const { execFileSync } = require('node:child_process');
        const addon = require(${JSON.stringify(join(__dirname, '..', '..', '..', 'ts', 'backend', 'native.js'))}).loadNativeAddon();
        const acc = addon.createAccumulator({ batchSize: 1024, lingerMs: 0, bufferMemory: 2 ** 40, codec: 0 });
        const big = Buffer.alloc(256 * 1024 * 1024, 1);
        const records = [{ key: null, value: Buffer.from('small'), headers: null, timestamp: 1 }, { key: null, value: big, headers: null, timestamp: 2 }];
        const vm = Number(/^VmSize:\\s+(\\d+)/m.exec(require('node:fs').readFileSync('/proc/self/status', 'utf8'))[1]) * 1024;
        execFileSync('prlimit', ['--pid', String(process.pid), '--as=' + (vm + 128 * 1024 * 1024)]);
        let out;
        try {
          const r = acc.append(0, records, 0);
          out = { appended: r.appended, batches: r.batches.length, undrained: acc.stats().undrainedBatches };
        } catch (e) {
          out = { threw: e.code || e.name };
        }
        process.stdout.write(JSON.stringify(out));
      `;
      // MALLOC_ARENA_MAX=1: a thread's first malloc otherwise reserves a 64 MiB arena of
      // address space. Once in CI the child died of a V8 heap OOM (committing new space, in a
      // GC that napi_adjust_external_memory started) before the append returned; the likely
      // cause is V8's worker threads taking their arenas after the limit was set (concurrent
      // marking started by the 256 MB Buffer), which 128 MiB of headroom cannot absorb.
      const child = spawnSync(process.execPath, ['-e', script], {
        encoding: 'utf8',
        timeout: 60_000,
        env: { ...process.env, MALLOC_ARENA_MAX: '1' },
      });
      assert.equal(child.status, 0, child.stderr);
      assert.deepEqual(JSON.parse(child.stdout), { appended: 1, batches: 2, undrained: 1 });
    });
  });
}
