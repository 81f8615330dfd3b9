// Runs several node:test files in this one Node process (test/qemu/run.sh, test/qemu/musl.sh).
//
// Why: `node --test FILES` starts a Node process per file, and under qemu-user an emulated
// Node takes seconds to start before a test runs (about 4 s on an idle machine, several times
// that on a loaded one), which for 50 files was a large share of the time. Here every file is
// required inside a suite of its own, named after the file: its top-level tests and hooks
// (before/after) belong to that suite, so a file's `after` runs when that file is done (as in
// a process of its own), the TAP output gives each file's duration (`# file ... N ms` below),
// and a file that throws while loading fails as that one suite while the others still run.
// node:test runs the suites one after the other; the exit code is 1 if any test failed. What a
// test spawns itself (the CRC32C level children, the bad-input crash children, the loader's
// fresh processes) still gets a process of its own.
//
// Before the files, the backend the loader picks in this process is printed (the producer and
// KafkaJS tests use that one unless they choose; run.sh sets KAFKA_TURBO_BACKEND=native so a
// native addon that fails to load is an error there, never a quiet fallback).
//
//   node test/qemu/one-process.cjs out/test/a.test.js out/test/b.test.js ...
'use strict';
const path = require('node:path');
const { after, describe } = require('node:test');

const files = process.argv.slice(2);
if (files.length === 0) {
  console.error('usage: node test/qemu/one-process.cjs FILE...');
  process.exit(2);
}

const { backendInfo } = require(path.join(__dirname, '..', '..', 'out', 'ts', 'backend', 'load.js'));
const info = backendInfo();
console.log(
  `# backendInfo(): ${info.backend}, crc32c ${info.crc32c}, io ${info.io} (${info.ioReason}), ` +
    `${process.arch}, ${process.report.getReport().header.glibcVersionRuntime ? 'glibc' : 'musl'}`,
);

// A bound per file, so that a test that never settles fails as its file and the other files
// still run (without one, the process would wait for it for ever). Far above what any file
// took under qemu on a loaded machine (cli/main, the longest: about 11 minutes at load 8-18).
const fileTimeoutMs = Number(process.env.KT_FILE_TIMEOUT_S ?? 1800) * 1000;

const start = Date.now();
for (const f of files) {
  describe(`file ${f}`, { timeout: fileTimeoutMs }, () => {
    require(path.resolve(f));
  });
}
// After the last file: a process kept alive by what a file left open (a timed-out test's
// sockets and timers, or a leak) is a failure too, said so instead of hanging. The timer is
// unref'd: a process with nothing left open exits without waiting for it.
after(() => {
  setTimeout(() => {
    console.log('# one-process: handles still open 60 s after the last test: exiting with 1');
    process.exit(1);
  }, 60_000).unref();
});
process.on('exit', () => console.log(`# one-process: ${files.length} files in ${((Date.now() - start) / 1000).toFixed(0)} s`));
