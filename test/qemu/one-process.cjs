// Runs several node:test files in this one Node process (test/qemu/run.sh, test/qemu/musl.sh).
//
// Why: `node --test FILES` starts a Node process per file, and under qemu-user an emulated
// Node takes seconds to start before a test runs (about 4 s on an idle machine, several times
// that on a loaded one), so for the lean runs the start-up was a large share of the time.
// Here every file registers its tests on this process's root test and node:test runs them
// in order, reporting as TAP; the exit code is 1 if any failed. What a file spawns itself
// (the CRC32C level children, the bad-input crash children) still gets a process of its own.
// Files that need a fresh process for reasons of their own must not be listed here.
//
//   node test/qemu/one-process.cjs out/test/a.test.js out/test/b.test.js ...
'use strict';
const path = require('node:path');

const files = process.argv.slice(2);
if (files.length === 0) {
  console.error('usage: node test/qemu/one-process.cjs FILE...');
  process.exit(2);
}
for (const f of files) {
  console.log(`# file: ${f}`);
  require(path.resolve(f));
}
