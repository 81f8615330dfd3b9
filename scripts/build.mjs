// Builds the package: CommonJS + .d.ts into dist/cjs, a thin ESM wrapper into dist/esm
// (one module instance whichever way the app imports us, so there is one backend and one
// set of error classes), and tests + benches into out/ (build/ belongs to node-gyp).
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
const run = (args) => execFileSync(process.execPath, [tsc, ...args], { cwd: root, stdio: 'inherit' });

rmSync(join(root, 'dist'), { recursive: true, force: true });
run(['-p', 'tsconfig.json']);
// ESM entry points: thin wrappers that re-export the CommonJS build's names.
const load = createRequire(import.meta.url);
for (const entry of ['index', 'kafkajs/index']) {
  const names = Object.keys(load(join(root, 'dist', 'cjs', `${entry}.js`))).filter(
    (n) => n !== 'default' && n !== '__esModule',
  );
  const file = join(root, 'dist', 'esm', `${entry}.js`);
  const up = entry.includes('/') ? '../../' : '../';
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(
    file,
    `import cjs from '${up}cjs/${entry}.js';\nexport const { ${names.join(', ')} } = cjs;\nexport default cjs;\n`,
  );
  writeFileSync(file.replace(/\.js$/, '.d.ts'), `export * from '${up}cjs/${entry}.js';\n`);
}
writeFileSync(join(root, 'dist', 'esm', 'package.json'), '{ "type": "module" }\n');
if (!process.argv.includes('--no-tests')) {
  rmSync(join(root, 'out'), { recursive: true, force: true });
  run(['-p', 'tsconfig.test.json']);
}
