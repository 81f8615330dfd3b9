/**
 * The one loader, tested the way users meet it: a fresh process requiring the built package,
 * with the addon present, forced either way, or hidden (a copy of the package without any
 * compiled addon).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nativeExpected } from '../../helpers/backends.js';

const root = join(__dirname, '..', '..', '..', '..');
const dist = join(root, 'dist', 'cjs', 'index.js');

interface Info {
  backend: string;
  crc32c: string;
  reason: string;
  refused: { candidate: string; reason: string; hasCause: boolean }[];
}

/** backendInfo() from a fresh process, or the error message it threw. */
function infoIn(entry: string, env: Record<string, string | undefined>): Info | { error: string } {
  const script = `
    try {
      const i = require(${JSON.stringify(entry)}).backendInfo();
      console.log(JSON.stringify({ ...i, refused: i.refused.map((r) => ({ candidate: r.candidate, reason: r.reason, hasCause: r.cause !== undefined })) }));
    } catch (e) { console.log(JSON.stringify({ error: e.message })); }`;
  const childEnv: Record<string, string> = {};
  for (const [k, v] of Object.entries({ ...process.env, ...env })) if (v !== undefined) childEnv[k] = v;
  return JSON.parse(execFileSync(process.execPath, ['-e', script], { env: childEnv }).toString());
}


test('KAFKA_TURBO_BACKEND=fallback picks the fallback and says why', () => {
  const info = infoIn(dist, { KAFKA_TURBO_BACKEND: 'fallback' }) as Info;
  assert.equal(info.backend, 'fallback');
  assert.equal(info.crc32c, 'ts');
  assert.match(info.reason, /KAFKA_TURBO_BACKEND=fallback/);
});

test('an unknown KAFKA_TURBO_BACKEND value is a clear error', () => {
  const r = infoIn(dist, { KAFKA_TURBO_BACKEND: 'turbo' }) as { error: string };
  assert.match(r.error, /KAFKA_TURBO_BACKEND must be "native" or "fallback"/);
});

test('with the addon hidden, the fallback is chosen and the reason kept (with its cause)', (t) => {
  // A copy of the package with no build/ and no prebuilds/: what a user without a prebuilt
  // binary for their platform and without a compiler gets.
  const dir = mkdtempSync(join(tmpdir(), 'kt-hidden-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  cpSync(join(root, 'dist'), join(dir, 'dist'), { recursive: true });
  cpSync(join(root, 'package.json'), join(dir, 'package.json'));
  if (existsSync(join(root, 'binding.gyp'))) cpSync(join(root, 'binding.gyp'), join(dir, 'binding.gyp'));
  symlinkSync(join(root, 'node_modules'), join(dir, 'node_modules'));
  writeFileSync(join(dir, 'README'), 'test copy without a compiled addon\n');
  const entry = join(dir, 'dist', 'cjs', 'index.js');

  const info = infoIn(entry, { KAFKA_TURBO_BACKEND: undefined }) as Info;
  assert.equal(info.backend, 'fallback');
  assert.ok(info.refused.length >= 1, 'the refused candidate is reported');
  const last = info.refused[info.refused.length - 1]!;
  assert.ok(last.hasCause, 'the underlying error is kept as cause');
  assert.match(info.reason, /native addon is not available/);

  // Forcing native when it cannot load is an error naming the reason, not a silent fallback.
  const forced = infoIn(entry, { KAFKA_TURBO_BACKEND: 'native' }) as { error: string };
  assert.match(forced.error, /KAFKA_TURBO_BACKEND=native but the native addon could not be used/);
});

// The native backend must be built wherever the tests run (scripts/install.sh builds it),
// unless KAFKA_TURBO_TEST_BACKENDS names only the fallback.
test('the addon is picked by default, with a hardware CRC32C when the CPU has one', { skip: !nativeExpected() && 'KAFKA_TURBO_TEST_BACKENDS excludes native' }, () => {
  const info = infoIn(dist, { KAFKA_TURBO_BACKEND: undefined }) as Info;
  assert.equal(info.backend, 'native');
  assert.match(info.crc32c, /^(avx512-vpclmul|sse42|armv8-crc|table)$/);
  const cpuinfo = require('node:fs').readFileSync('/proc/cpuinfo', 'utf8') as string;
  if (/\bsse4_2\b/.test(cpuinfo)) assert.notEqual(info.crc32c, 'table');
});
