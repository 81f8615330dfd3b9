#!/usr/bin/env node
// `npm test`: build when needed, start a 1-broker and a 3-broker Kafka cluster (in parallel),
// run every <outDir>/test/**/*.test.js (outDir of tsconfig.test.json: out/) with node's test
// runner against them, stop the brokers
// (also on failure or Ctrl-C), exit with the runner's exit code.
//
//   node scripts/test.mjs                  everything
//   node scripts/test.mjs --unit           only <outDir>/test/unit (no brokers)
//   node scripts/test.mjs foo bar          only test files whose path contains "foo" or "bar"
//   node scripts/test.mjs --no-build       skip the build check
//   --build-dir=DIR                        compiled tests under DIR/test instead of <outDir>/test
//
// A cluster whose address is already in the environment (KAFKA_TURBO_TEST_BOOTSTRAP,
// KAFKA_TURBO_TEST_BOOTSTRAP_3 with KAFKA_TURBO_TEST_SASL_SSL_3, KAFKA_TURBO_TEST_SECURE) is
// used as it is instead of starting one. The 3-broker cluster always has a SASL_SSL listener
// per broker beside PLAINTEXT (no extra JVMs, and every other test still bootstraps over
// PLAINTEXT). The secure 1-broker cluster (TLS and SASL listeners) starts only when a
// selected integration test's path contains "security".
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const kafka = require(join(root, 'test', 'helpers', 'kafka', 'cluster.cjs'));

const argv = process.argv.slice(2);
const unitOnly = argv.includes('--unit');
const noBuild = argv.includes('--no-build');
const filters = argv.filter((a) => !a.startsWith('--'));
const buildDirArg = argv.find((a) => a.startsWith('--build-dir='));
const buildDir = buildDirArg ? resolve(root, buildDirArg.slice('--build-dir='.length)) : testOutDir();

/** Where tsc puts the compiled tests: tsconfig.test.json's outDir. */
function testOutDir() {
  try {
    const text = readFileSync(join(root, 'tsconfig.test.json'), 'utf8').replace(/^\s*\/\/.*$/gm, '');
    const outDir = JSON.parse(text).compilerOptions?.outDir;
    if (outDir) return resolve(root, outDir);
  } catch {
    /* fall through */
  }
  return join(root, 'out');
}
const t0 = Date.now();
const log = (s) => console.log(`[test +${((Date.now() - t0) / 1000).toFixed(1)}s] ${s}`);

function walk(dir, pred, out = []) {
  if (!existsSync(dir)) return out;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) walk(p, pred, out);
    else if (pred(p)) out.push(p);
  }
  return out;
}

// --- build --------------------------------------------------------------------------------------
function needsBuild() {
  const outputs = walk(buildDir, (p) => p.endsWith('.js'));
  if (outputs.length === 0 || !existsSync(join(root, 'dist', 'cjs', 'index.js'))) return 'no build yet';
  const oldestOut = Math.min(...outputs.map((p) => statSync(p).mtimeMs));
  const sources = [
    ...['ts', 'test', 'bench'].flatMap((d) => walk(join(root, d), (p) => p.endsWith('.ts'))),
    ...['tsconfig.json', 'tsconfig.test.json', 'package.json', 'scripts/build.mjs'].map((f) => join(root, f)),
  ].filter((p) => existsSync(p));
  const newer = sources.find((p) => statSync(p).mtimeMs > oldestOut);
  return newer ? `${relative(root, newer)} changed` : null;
}

if (!noBuild && !buildDirArg) {
  const why = needsBuild();
  if (why) {
    log(`building (${why})`);
    const r = spawnSync(process.execPath, [join(root, 'scripts', 'build.mjs')], { cwd: root, stdio: 'inherit' });
    if (r.status !== 0) {
      console.error(`[test] build failed (exit ${r.status ?? r.signal})`);
      process.exit(r.status || 1);
    }
  }
}

// --- test files ---------------------------------------------------------------------------------
const testRoot = join(buildDir, 'test', unitOnly ? 'unit' : '');
let files = walk(testRoot, (p) => p.endsWith('.test.js')).sort();
if (filters.length) files = files.filter((f) => filters.some((x) => relative(root, f).includes(x)));
if (files.length === 0) {
  console.error(`[test] no test files under ${relative(root, testRoot) || '.'}${filters.length ? ` matching ${filters.join(', ')}` : ''}`);
  process.exit(1);
}
const unitDir = join(buildDir, 'test', 'unit') + sep;
const needsBrokers = files.some((f) => !f.startsWith(unitDir));
// The secure cluster (TLS and SASL listeners) only for the security tests.
const needsSecure = files.some((f) => !f.startsWith(unitDir) && relative(buildDir, f).includes('security'));

// --- brokers ------------------------------------------------------------------------------------
const clusters = [];
const controls = [];
let runner = null;
let stopping = null;

async function stopAll() {
  stopping ??= (async () => {
    await Promise.all(controls.map((c) => c.close().catch(() => {})));
    await Promise.all(clusters.map((c) => c.stop().catch((e) => console.error(`[test] stopping brokers: ${e.message}`))));
  })();
  return stopping;
}

for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(sig, () => {
    log(`${sig}: stopping`);
    if (runner && runner.exitCode === null) runner.kill(sig);
    stopAll().finally(() => process.exit(128 + ({ SIGINT: 2, SIGTERM: 15, SIGHUP: 1 })[sig]));
  });
}

async function provide(size) {
  const env = kafka.ENV[size];
  const secure = size === 'secure';
  if (process.env[env.bootstrap]) {
    log(`${size}-broker cluster: using ${process.env[env.bootstrap]} from the environment`);
    return;
  }
  const started = Date.now();
  const c = await kafka.startCluster({ brokers: secure ? 1 : size, secure, log: (s) => log(`[kafka ${size}] ${s}`) });
  clusters.push(c);
  const control = await kafka.serveControl(c);
  controls.push(control);
  process.env[env.bootstrap] = secure ? JSON.stringify(c.listeners) : c.bootstrap;
  if (env.saslSsl) process.env[env.saslSsl] = c.listeners.SASL_SSL;
  process.env[env.control] = control.url;
  log(`${size}-broker cluster up in ${((Date.now() - started) / 1000).toFixed(1)} s at ${c.bootstrap}`);
}

let code = 1;
try {
  if (needsBrokers) {
    kafka.ensureKafkaJars({ log: (s) => log(s) });
    log(`starting Apache Kafka ${kafka.kafkaVersion()}: 1-broker and 3-broker clusters${needsSecure ? ', and the secure one' : ''}`);
    const results = await Promise.allSettled([provide(1), provide(3), ...(needsSecure ? [provide('secure')] : [])]);
    const failed = results.find((r) => r.status === 'rejected');
    if (failed) throw failed.reason;
  }
  // Unit and parity tests cover every backend inside one process (forEachBackend). The
  // integration tests use whatever backend the loader picks, so they run once per backend
  // with KAFKA_TURBO_BACKEND forcing it: a native addon that fails to load fails the run.
  // `native` is the native backend on its default transport (io_uring where the kernel allows
  // it); `native:net` forces node:net under it, so both transports run the same suite.
  const backends = (process.env.KAFKA_TURBO_TEST_BACKENDS ?? 'native,native:net,fallback').split(',').map((b) => b.trim()).filter(Boolean);
  const integration = join(buildDir, 'test', 'integration') + sep;
  const perBackend = files.filter((f) => f.startsWith(integration));
  const once = files.filter((f) => !f.startsWith(integration));
  const runs = [];
  if (once.length) runs.push({ label: 'unit and parity', files: once, env: {} });
  for (const b of perBackend.length ? backends : []) {
    const [backend, io] = b.split(':');
    const env = { KAFKA_TURBO_BACKEND: backend, ...(io ? { KAFKA_TURBO_IO: io } : {}) };
    runs.push({ label: `integration, ${backend} backend${io ? ` on ${io}` : ''}`, files: perBackend, env });
  }
  const totals = { pass: 0, fail: 0, skipped: 0 };
  code = 0;
  for (const run of runs) {
    log(`running ${run.files.length} test file(s): ${run.label}`);
    const args = ['--test', '--test-concurrency=1', '--test-timeout=600000', ...run.files.map((f) => relative(root, f))];
    runner = spawn(process.execPath, args, { cwd: root, stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, ...run.env } });
    // Echo the runner's output and pick up its closing counts for the grand total.
    let tail = '';
    runner.stdout.on('data', (chunk) => {
      process.stdout.write(chunk);
      tail = (tail + chunk.toString()).slice(-4096);
    });
    const rc = await new Promise((resolve) => {
      runner.on('exit', (c, sig) => resolve(c ?? (sig ? 1 : 0)));
      runner.on('error', (e) => {
        console.error(`[test] cannot start the test runner: ${e.message}`);
        resolve(1);
      });
    });
    for (const k of Object.keys(totals)) {
      const m = new RegExp(`^# ${k} (\\d+)$`, 'm').exec(tail);
      if (m) totals[k] += Number(m[1]);
    }
    log(`${run.label}: test runner exited with ${rc}`);
    if (rc !== 0) code = rc;
  }
  console.log(`\ntotal: ${totals.pass} passed, ${totals.fail} failed, ${totals.skipped} skipped`);
} catch (e) {
  console.error(`[test] ${e && e.stack ? e.stack : e}`);
  code = 1;
} finally {
  if (clusters.length) log('stopping brokers');
  await stopAll();
}
process.exit(code);
