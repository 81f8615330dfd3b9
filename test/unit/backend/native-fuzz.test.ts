/**
 * A bounded random-input run over the addon's packed-append unpacker (appendPacked), the
 * slot-based readyPacked / completePacked, and the
 * list-taking entry points (drain, complete): every call either works or throws a TypeError
 * or RangeError -- never a crash, an abort, or another error. The JavaScript-level companion
 * of the libFuzzer targets (native/fuzz, scripts/fuzz.sh, test/unit/backend/libfuzzer.test.ts),
 * which fuzz the same parser (core/packed.h) without Node-API; the same loop runs under the ASan
 * build of the addon by hand:
 *   npm run build:native:asan && LD_PRELOAD=$(gcc -print-file-name=libasan.so) \
 *     ASAN_OPTIONS=detect_leaks=0 KAFKA_TURBO_FUZZ_ITERATIONS=200000 node --test out/test/unit/backend/native-fuzz.test.js
 * (with build/Debug picked up by node-gyp-build when build/Release is absent).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { nativeExpected } from '../../helpers/backends.js';
import { loadNativeAddon } from '../../../ts/backend/native.js';
import { CodecId } from '../../../ts/backend/types.js';
import { prng } from '../../helpers/prng.js';

const ITERATIONS = Number(process.env['KAFKA_TURBO_FUZZ_ITERATIONS'] ?? 20_000);
const SEED = Number(process.env['KAFKA_TURBO_FUZZ_SEED'] ?? 0x5eed) >>> 0;

if (nativeExpected()) {
  test(`random packed layouts and lists never crash the addon (${ITERATIONS} calls, seed ${SEED})`, () => {
    const addon = loadNativeAddon();
    const random = prng(SEED);
    const int = (lo: number, hi: number) => lo + Math.floor(random() * (hi - lo + 1));
    // Slot values that hit the edges: lengths, nulls, big indexes, fractions, huge and odd numbers.
    const edgy = () => {
      const u = random();
      if (u < 0.4) return int(-3, 40);
      if (u < 0.5) return -2 - int(0, 4);
      if (u < 0.6) return [NaN, Infinity, -Infinity, 0.5, -0.5, 2 ** 53, -(2 ** 53), 2 ** 32, 2 ** 31 - 1][int(0, 8)]!;
      if (u < 0.7) return int(0, 2 ** 31);
      return 1_700_000_000_000 + int(-5, 5);
    };
    let ok = 0;
    let refused = 0;
    const expect = (f: () => unknown) => {
      try {
        f();
        ok++;
      } catch (e) {
        if (!(e instanceof TypeError || e instanceof RangeError) && (e as { code?: string }).code !== 'ERR_MEMORY_ALLOCATION_FAILED') throw e;
        refused++;
      }
    };
    let acc = addon.createAccumulator({ batchSize: int(0, 4096), lingerMs: 0, bufferMemory: 1 << 22, codec: CodecId.None });
    for (let i = 0; i < ITERATIONS; i++) {
      if (i % 500 === 0) {
        acc.destroy();
        acc = addon.createAccumulator({ batchSize: int(0, 4096), lingerMs: 0, bufferMemory: 1 << 22, codec: int(0, 4) as CodecId });
      }
      const u = random();
      if (u < 0.8) {
        const slots = int(0, 48);
        const bytes = int(0, 256);
        const scratch = Buffer.alloc(8 * slots + bytes, int(0, 255));
        const meta = new Float64Array(scratch.buffer, scratch.byteOffset, slots);
        for (let s = 0; s < slots; s++) meta[s] = edgy();
        // Mostly a consistent header (capacity, partition, now, count, bigs) so records get read.
        if (slots >= 5 && random() < 0.9) {
          meta[0] = random() < 0.9 ? slots : edgy();
          meta[1] = random() < 0.9 ? int(0, 5) : edgy();
          meta[3] = random() < 0.8 ? int(0, 8) : edgy();
        }
        const bigs = random() < 0.5 ? null : Array.from({ length: int(0, 3) }, () => (random() < 0.9 ? Buffer.alloc(int(0, 2000)) : ('x' as unknown as Buffer)));
        expect(() => acc.appendPacked(random() < 0.97 ? scratch : (new Uint16Array(4) as unknown as Uint8Array), bigs as Uint8Array[] | null));
      } else if (u < 0.9) {
        const list = Array.from({ length: int(0, 6) }, () => (random() < 0.8 ? int(-1, 6) : (edgy() as unknown as number)));
        if (random() < 0.1) list.length = random() < 0.5 ? 2 ** 32 - 1 : int(7, 100);
        expect(() => acc.drain(list, random() < 0.5 ? Infinity : edgy(), { producerId: -1n, producerEpoch: -1, transactional: false, baseSequences: null }));
      } else if (u < 0.95) {
        // readyPacked / completePacked: random slots, mostly with a capacity that holds.
        const slots = int(0, 24);
        const scratch = Buffer.alloc(8 * slots + int(0, 16));
        const meta = new Float64Array(scratch.buffer, scratch.byteOffset, slots);
        for (let s = 0; s < slots; s++) meta[s] = random() < 0.5 ? int(0, 50) : edgy();
        if (slots >= 2 && random() < 0.8) meta[0] = slots;
        const arg = random() < 0.97 ? scratch : (new Uint16Array(4) as unknown as Uint8Array);
        expect(() => (random() < 0.5 ? acc.readyPacked(arg) : acc.completePacked(arg)));
      } else {
        const list = Array.from({ length: int(0, 6) }, () => (random() < 0.8 ? { batchId: int(0, 50), errorCode: int(-1, 1) } : (edgy() as unknown as { batchId: number; errorCode: number })));
        if (random() < 0.1) list.length = random() < 0.5 ? 2 ** 32 - 1 : int(7, 100);
        expect(() => acc.complete(list));
      }
    }
    acc.destroy();
    assert.ok(ok > ITERATIONS / 10 && refused > ITERATIONS / 10, `${ok} calls worked, ${refused} refused`);
  });
}
