// Builds the package: CommonJS + .d.ts into dist/cjs, a thin ESM wrapper into dist/esm
// (one module instance whichever way the app imports us, so there is one backend and one
// set of error classes), and tests + benches into build/.
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
const cjs = createRequire(import.meta.url)(join(root, 'dist', 'cjs', 'index.js'));
const names = Object.keys(cjs).filter((n) => n !== 'default' && n !== '__esModule');
const esm = join(root, 'dist', 'esm');
mkdirSync(esm, { recursive: true });
writeFileSync(join(esm, 'package.json'), '{ "type": "module" }\n');
writeFileSync(
  join(esm, 'index.js'),
  `import cjs from '../cjs/index.js';\nexport const { ${names.join(', ')} } = cjs;\nexport default cjs;\n`,
);
writeFileSync(join(esm, 'index.d.ts'), `export * from '../cjs/index.js';\n`);
if (!process.argv.includes('--no-tests')) {
  rmSync(join(root, 'build'), { recursive: true, force: true });
  run(['-p', 'tsconfig.test.json']);
}
