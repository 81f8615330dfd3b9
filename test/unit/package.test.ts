/**
 * The published shape: CommonJS and ESM entry points with the same names, .d.ts types, and
 * the 'kafka-turbo/kafkajs' subpath — resolved through package.json "exports" by name, as an
 * app would (Node resolves a package's own name from inside it).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

const root = join(__dirname, '..', '..', '..');

function node(args: string[]): string {
  return execFileSync(process.execPath, args, { cwd: root }).toString().trim();
}

test('require and import give the same exports', () => {
  const cjs = JSON.parse(node(['-e', "console.log(JSON.stringify(Object.keys(require('kafka-turbo')).sort()))"]));
  const esm = JSON.parse(
    node(['--input-type=module', '-e', "import * as m from 'kafka-turbo'; console.log(JSON.stringify(Object.keys(m).filter((k) => k !== 'default').sort()))"]),
  );
  assert.deepEqual(esm, cjs);
  for (const name of ['Producer', 'KafkaProducer', 'Kafka', 'Partitioners', 'CompressionTypes', 'logLevel', 'backendInfo', 'KafkaJSError', 'KafkaJSProtocolError']) {
    assert.ok(cjs.includes(name), `exports ${name}`);
  }
});

test("'kafka-turbo/kafkajs' is the KafkaJS surface, in both module systems", () => {
  const cjs = JSON.parse(node(['-e', "console.log(JSON.stringify(Object.keys(require('kafka-turbo/kafkajs')).sort()))"]));
  assert.ok(cjs.includes('Kafka') && !cjs.includes('Producer'));
  const esm = node(['--input-type=module', '-e', "import { Kafka } from 'kafka-turbo/kafkajs'; console.log(typeof Kafka)"]);
  assert.equal(esm, 'function');
});

test('type declarations ship for every entry point', () => {
  for (const f of ['dist/cjs/index.d.ts', 'dist/esm/index.d.ts', 'dist/cjs/kafkajs/index.d.ts', 'dist/esm/kafkajs/index.d.ts']) {
    assert.ok(existsSync(join(root, f)), f);
  }
});
