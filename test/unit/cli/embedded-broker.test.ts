/**
 * The local broker's pieces that need no Java: the cluster id it formats its storage with.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { newClusterId } from '../../../ts/cli/embedded-broker.js';

test('cluster ids never start with "-" (kafka-storage would take one for an option)', () => {
  // base64url's alphabet holds '-' (62) and '_' (63): a first byte of 0xf8..0xfb begins the
  // text with '-', one id in 64. The storage tool then read `-t -…` as a missing argument and
  // the local broker failed to start (seen in the CLI's integration tests).
  const draws = [Buffer.alloc(16, 0xf8), Buffer.alloc(16, 0xfb), Buffer.from('00112233445566778899aabbccddeeff', 'hex')];
  let n = 0;
  const id = newClusterId((size) => {
    assert.equal(size, 16);
    return draws[n++]!;
  });
  assert.ok(!id.startsWith('-'), id);
  assert.equal(id, Buffer.from('00112233445566778899aabbccddeeff', 'hex').toString('base64url'));
  assert.equal(id.length, 22);
  // The default source of randomness, many times.
  for (let i = 0; i < 2000; i++) {
    const r = newClusterId();
    assert.match(r, /^[A-Za-z0-9_][A-Za-z0-9_-]{21}$/, r);
  }
});
