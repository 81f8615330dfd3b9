/**
 * The addon's crc32c(), at every CRC32C level this CPU runs.
 *
 * The level is picked once, when the addon loads, so each level is tested in a child
 * process of its own: the parent spawns this same file with KAFKA_TURBO_CRC32C=<level>
 * (and CRC32C_NATIVE_TEST_CHILD=1), and the child runs the checks below on the addon it
 * loaded; the parent passes when the child's test run passes. Forcing a level the CPU
 * lacks, or an unknown value, must make the addon refuse to load with a clear message.
 * No test-only binding is exported: what is tested is the addon users load.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { loadNativeAddon, type NativeAddon } from '../../../ts/backend/native.js';

type Level = ReturnType<NativeAddon['crc32cImpl']>;

const LEVEL_ENV = 'KAFKA_TURBO_CRC32C';
const CHILD_ENV = 'CRC32C_NATIVE_TEST_CHILD';
/** The env value that forces each level this architecture has, best last. */
const LEVELS: ReadonlyArray<{ env: string; impl: Level }> =
  process.arch === 'x64'
    ? [
        { env: 'table', impl: 'table' },
        { env: 'sse42', impl: 'sse42' },
        { env: 'avx512', impl: 'avx512-vpclmul' },
      ]
    : process.arch === 'arm64' && process.platform === 'linux'
      ? [
          { env: 'table', impl: 'table' },
          { env: 'armv8', impl: 'armv8-crc' },
        ]
      : [{ env: 'table', impl: 'table' }];
/** Levels of the other architecture: forcing one must be refused here. */
const FOREIGN_LEVELS: readonly string[] = process.arch === 'x64' ? ['armv8'] : ['sse42', 'avx512'];

/** CRC32C one bit at a time: the definition, sharing nothing with the code under test. */
function bitwiseRegister(register: number, buf: Uint8Array, from = 0, to = buf.length): number {
  let r = register;
  for (let i = from; i < to; i++) {
    r ^= buf[i];
    for (let b = 0; b < 8; b++) r = r & 1 ? (r >>> 1) ^ 0x82f63b78 : r >>> 1;
  }
  return r >>> 0;
}
function reference(buf: Uint8Array, init = 0): number {
  return ~bitwiseRegister(~init >>> 0, buf) >>> 0;
}

/** Deterministic bytes (xorshift32), so a failure names the same input every run. */
function pseudoRandomBytes(n: number, seed: number): Buffer {
  const out = Buffer.alloc(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

const hex = (n: number): string => `0x${n.toString(16).padStart(8, '0')}`;

function childChecks(level: string): void {
  const addon = loadNativeAddon();
  const crc32c = addon.crc32c.bind(addon);
  const expected = LEVELS.find((l) => l.env === level)?.impl;
  if (expected === undefined) throw new Error(`no level ${level} on ${process.arch}`);

  describe(`addon crc32c at KAFKA_TURBO_CRC32C=${level}`, () => {
    test('the forced level is the one running', () => {
      assert.equal(addon.crc32cImpl(), expected);
    });

    test('RFC 3720 vectors and "123456789"', () => {
      const up = Uint8Array.from({ length: 32 }, (_, i) => i);
      const down = Uint8Array.from({ length: 32 }, (_, i) => 31 - i);
      assert.equal(hex(crc32c(new Uint8Array(32))), '0x8a9136aa');
      assert.equal(hex(crc32c(new Uint8Array(32).fill(0xff))), '0x62a8ab43');
      assert.equal(hex(crc32c(up)), '0x46dd794e');
      assert.equal(hex(crc32c(down)), '0x113fdb5c');
      assert.equal(hex(crc32c(Buffer.from('123456789'))), '0xe3069283');
      assert.equal(crc32c(new Uint8Array(0)), 0);
      assert.equal(crc32c(new Uint8Array(0), 0xdeadbeef), 0xdeadbeef);
    });

    test('every prefix length 0..4096 matches the bitwise definition', () => {
      const data = pseudoRandomBytes(4096, 1);
      let register = 0xffffffff;
      for (let n = 0; n <= 4096; n++) {
        if (n > 0) register = bitwiseRegister(register, data, n - 1, n);
        const want = ~register >>> 0;
        const got = crc32c(data.subarray(0, n));
        if (got !== want) assert.fail(`prefix ${n}: got ${hex(got)}, want ${hex(want)}`);
      }
    });

    test('misaligned views: subarray(1..7) at every length 0..1100', () => {
      const data = pseudoRandomBytes(1200, 2);
      for (let offset = 1; offset < 8; offset++) {
        const view = data.subarray(offset);
        let register = 0xffffffff;
        for (let n = 0; n <= 1100; n++) {
          if (n > 0) register = bitwiseRegister(register, view, n - 1, n);
          const got = crc32c(view.subarray(0, n));
          if (got !== ~register >>> 0) assert.fail(`offset ${offset}, length ${n}: got ${hex(got)}`);
        }
      }
    });

    test('every split point: crc32c(b, crc32c(a)) === crc32c(a + b)', () => {
      for (const total of [1000, 4096]) {
        const data = pseudoRandomBytes(total + 3, total).subarray(3);
        const whole = reference(data);
        for (let split = 0; split <= total; split++) {
          const got = crc32c(data.subarray(split), crc32c(data.subarray(0, split)));
          if (got !== whole) assert.fail(`total ${total}, split ${split}: got ${hex(got)}, want ${hex(whole)}`);
        }
      }
    });

    test('arbitrary init values continue a checksum', () => {
      const data = pseudoRandomBytes(9000, 3);
      const inits = [0, 1, 0x7fffffff, 0x80000000, 0xffffffff, 0x12345678, 0xe3069283];
      for (const init of inits) {
        for (const n of [0, 1, 7, 8, 63, 64, 255, 256, 511, 1024, 4099, 9000]) {
          const view = data.subarray(9000 - n);
          assert.equal(crc32c(view, init), reference(view, init), `init ${hex(init)}, length ${n}`);
        }
      }
      // ToUint32 on init, as `init >>> 0`.
      assert.equal(crc32c(data, -1), crc32c(data, 0xffffffff));
    });

    test('long buffers at offsets 0, 1 and 61', () => {
      const data = pseudoRandomBytes((1 << 20) + 128, 4);
      for (const n of [16384, 65536, 65536 + 7, 100003, 1 << 20]) {
        for (const offset of [0, 1, 61]) {
          const view = data.subarray(offset, offset + n);
          assert.equal(crc32c(view, 0x1234), reference(view, 0x1234), `length ${n}, offset ${offset}`);
        }
      }
    });

    test('Buffers from the shared pool and other Uint8Array views are read in place', () => {
      const pooled = Buffer.from('xx123456789yy').subarray(2, 11);
      assert.equal(hex(crc32c(pooled)), '0xe3069283');
      const backing = new ArrayBuffer(64);
      new Uint8Array(backing).set(Buffer.from('123456789'), 13);
      assert.equal(hex(crc32c(new Uint8Array(backing, 13, 9))), '0xe3069283');
    });

    test('wrong argument shapes throw TypeError', () => {
      const call = addon.crc32c as (...args: unknown[]) => number;
      assert.throws(() => call(), TypeError);
      assert.throws(() => call('123456789'), TypeError);
      assert.throws(() => call(new Uint16Array(4)), TypeError);
      assert.throws(() => call(new DataView(new ArrayBuffer(4))), TypeError);
      assert.throws(() => call(new Uint8Array(4), 'zero'), TypeError);
    });
  });
}

/** What /proc/cpuinfo says the best level should be (Linux x86-64 only), else null. */
function levelFromCpuinfo(): Level | null {
  if (process.platform !== 'linux' || process.arch !== 'x64') return null;
  let text: string;
  try {
    text = readFileSync('/proc/cpuinfo', 'utf8');
  } catch {
    return null;
  }
  const flags = new Set((/^flags\s*:(.*)$/m.exec(text)?.[1] ?? '').trim().split(/\s+/));
  const all = (...names: string[]) => names.every((n) => flags.has(n));
  if (all('sse4_2', 'pclmulqdq', 'avx512f', 'avx512bw', 'avx512vl', 'vpclmulqdq')) return 'avx512-vpclmul';
  if (all('sse4_2', 'pclmulqdq')) return 'sse42';
  return 'table';
}

function parentChecks(): void {
  const run = (value: string | undefined, mode: string) => {
    const env: NodeJS.ProcessEnv = { ...process.env, [CHILD_ENV]: mode };
    if (value === undefined) delete env[LEVEL_ENV];
    else env[LEVEL_ENV] = value;
    delete env['NODE_TEST_CONTEXT']; // the child reports to its own stdout, not to our runner
    // A bound, not a timing check: generous, since under qemu-user (test/qemu/run.sh) on a
    // loaded machine one child took over 120 s.
    return spawnSync(process.execPath, [__filename], { env, encoding: 'utf8', timeout: 900_000 });
  };

  describe('addon crc32c, one child process per level', () => {
    // The level the addon picks with nothing forced, asked of a child so that a parent run
    // under a forced level still knows what the CPU has.
    const probe = run(undefined, 'probe');
    const best = probe.stdout.trim() as Level;
    const bestIndex = LEVELS.findIndex((l) => l.impl === best);

    test('with nothing forced the addon picks the best level this CPU runs', () => {
      assert.equal(probe.status, 0, `probe failed:\n${probe.stdout}\n${probe.stderr}`);
      assert.ok(bestIndex >= 0, `unknown level ${best}`);
      const fromCpuinfo = levelFromCpuinfo();
      if (fromCpuinfo !== null) assert.equal(best, fromCpuinfo);
    });

    for (const [index, level] of LEVELS.entries()) {
      if (index <= bestIndex) {
        test(`KAFKA_TURBO_CRC32C=${level.env} (${level.impl})`, () => {
          const r = run(level.env, 'checks');
          assert.equal(r.status, 0, `child failed:\n${r.stdout}\n${r.stderr}`);
          assert.match(r.stdout, /# fail 0/);
        });
      } else {
        test(`KAFKA_TURBO_CRC32C=${level.env} is refused on this CPU`, () => {
          const r = run(level.env, 'refused');
          assert.equal(r.status, 0, `child failed:\n${r.stdout}\n${r.stderr}`);
        });
      }
    }

    for (const foreign of FOREIGN_LEVELS) {
      test(`KAFKA_TURBO_CRC32C=${foreign} (another architecture's level) is refused`, () => {
        const r = run(foreign, 'refused');
        assert.equal(r.status, 0, `child failed:\n${r.stdout}\n${r.stderr}`);
      });
    }

    test('an unknown KAFKA_TURBO_CRC32C value is refused', () => {
      const r = run('avx1024', 'refused');
      assert.equal(r.status, 0, `child failed:\n${r.stdout}\n${r.stderr}`);
    });
  });
}

function childExpectsRefusal(): void {
  test(`loading with KAFKA_TURBO_CRC32C=${process.env[LEVEL_ENV]} throws a clear error`, () => {
    assert.throws(
      () => loadNativeAddon(),
      (err: Error & { code?: string }) =>
        err.code === 'ERR_KAFKA_TURBO_CRC32C_LEVEL' && err.message.includes(`KAFKA_TURBO_CRC32C=${process.env[LEVEL_ENV]}`),
    );
  });
}

const mode = process.env[CHILD_ENV];
if (mode === 'checks') childChecks(process.env[LEVEL_ENV] ?? '');
else if (mode === 'refused') childExpectsRefusal();
else if (mode === 'probe') process.stdout.write(`${loadNativeAddon().crc32cImpl()}\n`);
else parentChecks();
