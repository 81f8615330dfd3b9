/**
 * The npm tarball as a user gets it: `npm pack`, then `npm install <tarball>` into a fresh
 * project whose PATH holds node, npm's own script and sh and nothing else (no gcc, g++, cc,
 * make or python), with dependencies from the package registry (or npm's cache) only. Shows:
 *   - the tarball holds the build, the prebuilt binaries and the sources for a local build,
 *     and no tests, benches, caches or test output (package.json "files"); its size;
 *   - the install compiled nothing (no build/ in the installed package) and backendInfo()
 *     reports the native backend, loaded from prebuilds/ (node-gyp-build's resolve());
 *   - require() and import both work;
 *   - a TypeScript example compiles under tsc --strict against the shipped types.
 *
 * Needs dist/ (npm run build) and a prebuilt binary for this platform (npm run
 * build:prebuilt). Without one it is skipped, unless KAFKA_TURBO_REQUIRE_PREBUILT is set (CI),
 * when it fails.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

function packageRoot(): string {
  for (let dir = __dirname; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'binding.gyp'))) return dir;
    if (dirname(dir) === dir) throw new Error(`no package root above ${__dirname}`);
  }
}

const root = packageRoot();
const here = `${process.platform}-${process.arch}`;
const prebuilt = join(root, 'prebuilds', here);
const havePrebuilt = existsSync(prebuilt) && readdirSync(prebuilt).some((f) => f.endsWith('.node'));

/** npm's CLI script, run with this Node (so the restricted PATH needs no npm wrapper). */
function npmCli(): string {
  const npm = execFileSync('sh', ['-c', 'command -v npm'], { encoding: 'utf8' }).trim();
  const real = realpathSync(npm); // .../lib/node_modules/npm/bin/npm-cli.js
  assert.match(real, /npm-cli\.js$/, `npm resolves to ${real}`);
  return real;
}

function check(r: SpawnSyncReturns<string>, what: string): string {
  assert.equal(r.status, 0, `${what} failed (${r.status}):\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

if (!havePrebuilt) {
  test('npm tarball installs with no compiler', (t) => {
    if (process.env.KAFKA_TURBO_REQUIRE_PREBUILT) {
      assert.fail(`no prebuilt binary in ${prebuilt} and KAFKA_TURBO_REQUIRE_PREBUILT is set: run npm run build:prebuilt`);
    }
    t.skip('no prebuilt binary for this platform: run npm run build:prebuilt');
  });
} else {
  test('npm tarball installs with no compiler on PATH and loads the prebuilt', { timeout: 300_000 }, (t) => {
    const work = mkdtempSync(join(tmpdir(), 'kafka-turbo-pack-'));
    t.after(() => rmSync(work, { recursive: true, force: true }));
    const cli = npmCli();

    // ---- pack ----
    const packed = JSON.parse(
      check(
        spawnSync(process.execPath, [cli, 'pack', '--json', '--pack-destination', work], { cwd: root, encoding: 'utf8' }),
        'npm pack',
      ),
    ) as Array<{ filename: string; size: number; unpackedSize: number; files: Array<{ path: string }> }>;
    const [info] = packed;
    assert.ok(info, 'npm pack reported a tarball');
    const paths = info.files.map((f) => f.path);
    const forbidden = paths.filter((p) => /^(test|bench|out|build|\.cache|\.ci|scripts|ts|node_modules)\//.test(p) || /\.test\.|\.bench\./.test(p));
    assert.deepEqual(forbidden, [], 'no tests, benches, caches, sources of the build or test output');
    for (const p of ['package.json', 'dist/cjs/index.js', 'dist/esm/index.js', 'dist/cjs/index.d.ts', 'binding.gyp', 'native/src/addon.cc']) {
      assert.ok(paths.includes(p), `the tarball holds ${p}`);
    }
    // Every prebuilt binary of the tree is in the tarball.
    for (const dir of readdirSync(join(root, 'prebuilds'))) {
      for (const f of readdirSync(join(root, 'prebuilds', dir)).filter((n) => n.endsWith('.node'))) {
        assert.ok(paths.includes(`prebuilds/${dir}/${f}`), `the tarball holds prebuilds/${dir}/${f}`);
      }
    }
    t.diagnostic(`tarball ${info.filename}: ${info.size} bytes packed, ${info.unpackedSize} unpacked, ${paths.length} files`);
    t.diagnostic(`prebuilt binaries: ${paths.filter((p) => p.startsWith('prebuilds/')).join(', ')}`);

    // ---- a PATH with no compiler ----
    const bin = join(work, 'bin');
    mkdirSync(bin);
    symlinkSync(process.execPath, join(bin, 'node'));
    symlinkSync('/bin/sh', join(bin, 'sh')); // npm runs install scripts with sh
    // Only what reaches the registry is passed on (npm's registry, cache and proxy settings),
    // and what this Node needs to run and to pick its binary where test/qemu runs it:
    // QEMU_LD_PREFIX (the arm64 root an emulated Node loads its libraries from) and LIBC
    // (musl off Alpine, as the README tells such users to set).
    const env: NodeJS.ProcessEnv = { HOME: process.env.HOME, PATH: bin };
    for (const k of ['npm_config_cache', 'npm_config_registry', 'HTTP_PROXY', 'HTTPS_PROXY', 'NO_PROXY', 'http_proxy', 'https_proxy', 'no_proxy', 'QEMU_LD_PREFIX', 'LIBC']) {
      if (process.env[k] !== undefined) env[k] = process.env[k];
    }
    const noTools = spawnSync('sh', ['-c', 'for c in gcc g++ cc c++ make python3 python; do command -v $c; done; true'], { env, encoding: 'utf8' });
    assert.equal(check(noTools, 'tool lookup').trim(), '', 'no compiler, make or python on the PATH');

    // ---- install into a fresh project ----
    const app = join(work, 'app');
    mkdirSync(app);
    writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', version: '1.0.0', private: true }));
    const tgz = join(work, info.filename);
    // @types/node: the shipped .d.ts use Buffer, as any Node project's types do.
    check(
      spawnSync(process.execPath, [cli, 'install', tgz, '@types/node@20', '--no-audit', '--no-fund', '--prefer-offline'], {
        cwd: app,
        env,
        encoding: 'utf8',
      }),
      'npm install <tarball>',
    );
    const installed = join(app, 'node_modules', 'kafka-turbo');
    assert.ok(existsSync(join(installed, 'package.json')));
    assert.ok(!existsSync(join(installed, 'build')), 'the install compiled nothing (no build/)');

    // ---- require ----
    const cjs = JSON.parse(
      check(
        spawnSync(
          process.execPath,
          [
            '-e',
            `const kt = require('kafka-turbo');
             const info = kt.backendInfo();
             const file = require('node-gyp-build').resolve(require('path').dirname(require.resolve('kafka-turbo/package.json')));
             console.log(JSON.stringify({ backend: info.backend, crc32c: info.crc32c, codecs: info.codecs, file, kafka: typeof kt.Kafka }));`,
          ],
          { cwd: app, env, encoding: 'utf8' },
        ),
        'require',
      ),
    ) as { backend: string; crc32c: string; codecs: string[]; file: string; kafka: string };
    assert.equal(cjs.backend, 'native');
    assert.notEqual(cjs.crc32c, 'ts');
    assert.ok(cjs.file.startsWith(join(installed, 'prebuilds', here) + '/'), `the addon loaded is ${cjs.file}`);
    assert.equal(cjs.kafka, 'function');
    t.diagnostic(`installed: backend ${cjs.backend}, crc32c ${cjs.crc32c}, codecs ${cjs.codecs.join(',')}, ${cjs.file.slice(app.length + 1)}`);

    // ---- import ----
    writeFileSync(
      join(app, 'check.mjs'),
      `import { backendInfo, Kafka } from 'kafka-turbo';\nimport { Kafka as K2 } from 'kafka-turbo/kafkajs';\n` +
        `console.log(JSON.stringify({ backend: backendInfo().backend, same: Kafka === K2 }));\n`,
    );
    const esm = JSON.parse(check(spawnSync(process.execPath, ['check.mjs'], { cwd: app, env, encoding: 'utf8' }), 'import'));
    assert.deepEqual(esm, { backend: 'native', same: true });

    // ---- TypeScript, --strict, against the shipped types ----
    writeFileSync(
      join(app, 'example.ts'),
      `import { Kafka, CompressionTypes, backendInfo, type BackendInfo } from 'kafka-turbo';

const info: BackendInfo = backendInfo();
const kafka = new Kafka({ clientId: 'example', brokers: ['127.0.0.1:9092'] });
const producer = kafka.producer({ idempotent: true });

export async function main(): Promise<number> {
  await producer.connect();
  const sent = await producer.send({
    topic: 'example',
    compression: CompressionTypes.ZSTD,
    messages: [{ key: 'k', value: Buffer.from('v'), headers: { trace: 'a' } }],
  });
  await producer.disconnect();
  return sent.length + (info.backend === 'native' ? 0 : 1);
}
`,
    );
    const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
    const compiled = spawnSync(
      process.execPath,
      [tsc, '--strict', '--noEmit', '--module', 'node16', '--moduleResolution', 'node16', '--target', 'es2022', '--types', 'node', 'example.ts'],
      { cwd: app, env, encoding: 'utf8' },
    );
    check(compiled, 'tsc --strict example.ts');
  });
}
