/**
 * The io_uring transport's C++ core (native/src/io/ring.cc) tested alone under AddressSanitizer
 * and UndefinedBehaviorSanitizer (native/test/ring_test.cc): short sends and reads through
 * tiny SO_SNDBUF/SO_RCVBUF, refused connects, the peer closing mid-request, close with writes
 * in flight, 24 connections to 6 servers with 10k requests in flight, submissions held
 * until Flush() (one io_uring_enter per wake-up) unless a write starts a send (send_at_once: it
 * enters at once), a response arriving while held; each in every
 * task-work mode the kernel takes (DEFER_TASKRUN, COOP_TASKRUN, plain), the poll receive mode
 * (recv(2) on readiness: those that need no armed recv, plus a read budget, eof and a reset),
 * and the fallback to plain when the setup flags are refused. Linux only; on a
 * machine that refuses io_uring the binary says why and exits 2, which fails here with that
 * reason (this suite runs where io_uring is expected to work).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

const root = join(__dirname, '..', '..', '..', '..');

test('io_uring ring core passes its tests under ASan and UBSan', { timeout: 300_000 }, () => {
  // Compiled here on its own (the flags of native/test/build.sh with SANITIZE=1), not through
  // build.sh: the C core test runs build.sh at the same time, and two runs of it would write
  // the same object files.
  const out = join(root, 'native', 'build', 'c-asan-ring');
  mkdirSync(out, { recursive: true });
  const bin = join(out, 'ring_test');
  execFileSync(
    process.env['CXX'] ?? 'g++',
    [
      ...['-std=c++17', '-O1', '-g', '-Wall', '-Wextra', '-fno-exceptions', '-pthread'],
      ...['-fsanitize=address,undefined', '-fno-sanitize-recover=all', '-fno-omit-frame-pointer'],
      join(root, 'native', 'test', 'ring_test.cc'),
      join(root, 'native', 'src', 'io', 'ring.cc'),
      ...['-o', bin, '-l:liburing.a'],
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  const printed = execFileSync(bin, {
    env: { ...process.env, ASAN_OPTIONS: 'detect_leaks=1:abort_on_error=0', UBSAN_OPTIONS: 'halt_on_error=1' },
  }).toString();
  assert.match(printed, /^ring_test: all passed$/m);
  // Eight tests per task-work mode the kernel takes (defer, coop, plain; plain always), nine
  // in the poll receive mode (six of those eight, the read budget with eof, a reset, every
  // watch ended before its socket closed), then the fallback when the mode's setup flags are
  // refused.
  const modes = (printed.match(/^mode (defer|coop|plain)$/gm) ?? []).length;
  assert.ok(modes >= 1 && /^mode plain$/m.test(printed), printed);
  assert.match(printed, /^recv poll \((defer|coop|plain)\)$/m);
  assert.equal((printed.match(/^ok /gm) ?? []).length, 8 * modes + 9 + 1, printed);
});
