/**
 * The libFuzzer targets of native/fuzz (scripts/fuzz.sh), run for a bounded time under
 * AddressSanitizer and UndefinedBehaviorSanitizer: the packed-append unpacker the addon runs
 * over every appendPacked / encodeRecordBatchPacked call (core/packed.h, with the unpacked
 * records encoded and read back), and the codecs' decoders. A crash, a leak, a hang, a
 * sanitizer report or a failed check in a target fails this test with the report; the
 * crashing input is kept in native/build/fuzz/artifacts (rerun it with
 * `native/build/fuzz/<target>_fuzz FILE`).
 *
 * Needs clang with libFuzzer (scripts/install.sh installs Debian's clang-16 and
 * libclang-rt-16-dev). Without it the test fails in CI (CI set) and is skipped elsewhere with
 * the reason printed, as the prebuilt binary's test does with KAFKA_TURBO_REQUIRE_PREBUILT.
 * KAFKA_TURBO_FUZZ_TIME sets the seconds per target (default 20: two targets, 40 s in the
 * suite); a longer run by hand: FUZZ_TIME=600 bash scripts/fuzz.sh.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

const root = join(__dirname, '..', '..', '..', '..');
const seconds = Number(process.env['KAFKA_TURBO_FUZZ_TIME'] ?? 20);
const TARGETS = ['packed', 'decompress'];

test(`libFuzzer targets run clean under ASan and UBSan (${seconds} s each)`, { timeout: 900_000 }, (t) => {
  const run = spawnSync('bash', [join(root, 'scripts', 'fuzz.sh')], {
    cwd: root,
    env: { ...process.env, FUZZ_TIME: String(seconds) },
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    maxBuffer: 64 << 20,
  });
  const printed = `${run.stdout}${run.stderr}`;
  if (run.status === 3) {
    // scripts/fuzz.sh: no clang++, or one that cannot link libFuzzer.
    if (process.env['CI']) assert.fail(`CI must run the fuzz targets, but:\n${printed}`);
    const reason = `SKIPPED: no clang with libFuzzer here (run scripts/install.sh): ${run.stderr.trim()}`;
    console.warn(`libfuzzer.test: ${reason}`);
    t.skip(reason);
    return;
  }
  assert.equal(run.error, undefined, String(run.error));
  assert.equal(run.status, 0, `scripts/fuzz.sh failed (exit ${run.status}):\n${printed}`);
  for (const target of TARGETS) {
    // Each target said how many inputs it ran: a target that ran none tested nothing.
    const m = new RegExp(`^\\[fuzz\\] ${target}: ok \\((\\d+) inputs`, 'm').exec(run.stdout);
    assert.ok(m, `${target} reported its run:\n${printed}`);
    assert.ok(Number(m[1]) >= 1000, `${target} ran ${m[1]} inputs`);
  }
  assert.match(run.stdout, /^\[fuzz\] all clean: packed decompress$/m);
});
