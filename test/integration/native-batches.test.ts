/**
 * Drained batches that stay native on the io_uring transport (issue 15, item 2), against a
 * real broker: batches of well over 4 KiB written from the accumulator's memory by ref must
 * arrive as node:net's Buffers do. Both transports produce the same records in the same
 * process; kcat (an independent reader) reads every one back, and the broker stored the same
 * number of batches. The ring's run checks that its batches really were held
 * (memoryStats().heldBatches), so the test fails without the feature.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { getCluster, uniqueTopic, type KafkaCluster } from '../helpers/broker.js';
import { readTopic } from '../helpers/kcat.js';
import { storedBatches } from '../helpers/log-segments.js';
import { Producer, backendInfo } from '../../ts/index.js';
import { loadNativeAddon } from '../../ts/backend/native.js';
import { resetBackendForTest } from '../../ts/backend/load.js';

let cluster: KafkaCluster;
before(async () => {
  cluster = await getCluster();
});
after(async () => {
  await cluster?.stop();
});

function value(i: number): string {
  return JSON.stringify({ id: i, user: `user-${i % 997}`, event: i % 3 ? 'click' : 'view', pad: 'p'.repeat(150 + (i % 50)) });
}

const addon = (() => {
  try {
    return loadNativeAddon();
  } catch {
    return null;
  }
})();
const ringHere = addon !== null && typeof addon.ioUringProbe === 'function' && addon.ioUringProbe() === null;

test('held batches on the ring arrive as node:net\'s Buffers do (kcat reads them back)', { skip: ringHere ? false : 'io_uring is not allowed here' }, async () => {
  const savedBackend = process.env['KAFKA_TURBO_BACKEND'];
  const savedIo = process.env['KAFKA_TURBO_IO'];
  const total = 20_000;
  const stored: Record<string, number[]> = {};
  try {
    for (const io of ['uring', 'net'] as const) {
      process.env['KAFKA_TURBO_BACKEND'] = 'native';
      process.env['KAFKA_TURBO_IO'] = io;
      resetBackendForTest();
      assert.equal(backendInfo().io, io);
      const topic = uniqueTopic(`held-${io}`);
      await cluster.createTopic(topic, { partitions: 1 });
      const producer = new Producer({ 'bootstrap.servers': cluster.bootstrap, 'linger.ms': 20, 'batch.size': 65536 });
      let peak = 0;
      const sample = setInterval(() => (peak = Math.max(peak, addon!.memoryStats().heldBatches)), 1);
      const sends = [];
      for (let i = 0; i < total; i++) {
        // Sampled as each send settles too: the batches of the other requests in flight are held then.
        sends.push(
          producer.send({ topic, partition: 0, key: `k${i % 50}`, value: value(i), timestamp: 1_700_000_000_000 + i }).then((md) => {
            peak = Math.max(peak, addon!.memoryStats().heldBatches);
            return md;
          }),
        );
      }
      const mds = await Promise.all(sends);
      clearInterval(sample);
      await producer.close();
      if (io === 'uring') assert.ok(peak > 0, 'batches were held natively on the ring');
      else assert.equal(peak, 0, 'node:net keeps Buffers');

      const got = await readTopic(cluster.bootstrap, topic, total);
      assert.equal(got.length, total);
      const byOffset = new Map(got.map((r) => [r.offset, r]));
      for (let i = 0; i < total; i++) {
        const r = byOffset.get(mds[i]!.offset);
        assert.ok(r, `record ${i} read back at its offset`);
        assert.equal(r.value!.toString(), value(i));
        assert.equal(r.key!.toString(), `k${i % 50}`);
        assert.equal(r.timestamp, 1_700_000_000_000 + i);
      }
      stored[io] = storedBatches(topic, 0).map((b) => b.count);
      assert.equal(stored[io]!.reduce((a, b) => a + b, 0), total);
    }
  } finally {
    if (savedBackend === undefined) delete process.env['KAFKA_TURBO_BACKEND'];
    else process.env['KAFKA_TURBO_BACKEND'] = savedBackend;
    if (savedIo === undefined) delete process.env['KAFKA_TURBO_IO'];
    else process.env['KAFKA_TURBO_IO'] = savedIo;
    resetBackendForTest();
  }
  // Batching is timing-dependent (linger, in-flight slots); both stored every record in
  // batches far above 4 KiB (~200 B records, batch.size 64 KiB).
  assert.ok(stored['uring']!.some((c) => c > 100) && stored['net']!.some((c) => c > 100));
});
