/**
 * Compression against the real broker: for each codec, 50k records through the Java-style
 * API to a topic with compression.type=producer (so the broker keeps our batches as they
 * are), read back by kcat (librdkafka decompresses them) with every record checked, and the
 * broker's log read by Kafka's DumpLogSegments to see the codec each stored batch carries.
 * Then the KafkaJS facade with CompressionTypes per send().
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { getCluster, uniqueTopic, type KafkaCluster } from '../helpers/broker.js';
import { readTopic } from '../helpers/kcat.js';
import { storedBatches } from '../helpers/log-segments.js';
import { CompressionTypes, Kafka, Producer, backendInfo, logLevel } from '../../ts/index.js';

let cluster: KafkaCluster;
before(async () => {
  cluster = await getCluster();
});
after(async () => {
  await cluster?.stop();
});

/** JSON-like values, as most Kafka payloads are: compressible but not trivially. */
function value(i: number): string {
  return JSON.stringify({ id: i, user: `user-${i % 997}`, event: i % 3 ? 'click' : 'view', amount: (i * 37) % 1000, at: 1_700_000_000_000 + i });
}

for (const codec of ['gzip', 'snappy', 'lz4', 'zstd'] as const) {
  test(`${codec}: 50k records arrive intact and are stored compressed with ${codec}`, async () => {
    const topic = uniqueTopic(`cmp-${codec}`);
    await cluster.createTopic(topic, { partitions: 2, configs: { 'compression.type': 'producer' } });
    const producer = new Producer({
      'bootstrap.servers': cluster.bootstrap,
      'compression.type': codec,
      'linger.ms': 20,
      'batch.size': 65536,
    });
    const total = 50_000;
    const sends = [];
    for (let i = 0; i < total; i++) {
      sends.push(producer.send({ topic, key: i % 5 ? `k${i % 50}` : null, value: value(i), headers: i % 4 ? undefined : [{ key: 'n', value: String(i) }] }));
    }
    const mds = await Promise.all(sends);
    await producer.close();

    const got = await readTopic(cluster.bootstrap, topic, total);
    assert.equal(got.length, total);
    const byOffset = new Map(got.map((r) => [`${r.partition}/${r.offset}`, r]));
    for (let i = 0; i < total; i++) {
      const r = byOffset.get(`${mds[i]!.partition}/${mds[i]!.offset}`);
      assert.ok(r, `record ${i} read back at its offset`);
      assert.equal(r.value!.toString(), value(i));
      assert.equal(r.key === null ? null : r.key.toString(), i % 5 ? `k${i % 50}` : null);
      assert.deepEqual(r.headers.map(([k, v]) => [k, v.toString()]), i % 4 ? [] : [['n', String(i)]]);
      assert.equal(r.timestamp, mds[i]!.timestamp);
    }

    const batches = [...storedBatches(topic, 0), ...storedBatches(topic, 1)];
    assert.equal(batches.reduce((n, b) => n + b.count, 0), total, 'every record is in a stored batch');
    const compressed = batches.filter((b) => b.codec === codec);
    const other = batches.filter((b) => b.codec !== codec && b.codec !== 'none');
    assert.equal(other.length, 0, `no batch with another codec (${other.map((b) => b.codec)})`);
    // A batch goes uncompressed only when compressing it would not make it smaller.
    assert.ok(compressed.length >= batches.length - 2, `${compressed.length} of ${batches.length} batches are ${codec}`);
  });
}

test('KafkaJS facade: CompressionTypes per send(), read back by kcat', async () => {
  const topic = uniqueTopic('cmp-kjs');
  await cluster.createTopic(topic, { partitions: 1, configs: { 'compression.type': 'producer' } });
  const producer = new Kafka({ clientId: 'cmp', brokers: [cluster.bootstrap], logLevel: logLevel.NOTHING }).producer();
  await producer.connect();
  const codecs = [CompressionTypes.None, CompressionTypes.GZIP, CompressionTypes.Snappy, CompressionTypes.LZ4, CompressionTypes.ZSTD];
  for (const compression of codecs) {
    const messages = Array.from({ length: 2000 }, (_, i) => ({ key: `c${compression}`, value: value(compression * 10_000 + i) }));
    await producer.send({ topic, compression, messages });
  }
  await producer.disconnect();
  const got = await readTopic(cluster.bootstrap, topic, 10_000);
  assert.equal(got.length, 10_000);
  got.forEach((r, n) => {
    const compression = codecs[Math.floor(n / 2000)]!;
    assert.equal(r.value!.toString(), value(compression * 10_000 + (n % 2000)));
  });
  const seen = new Set(storedBatches(topic, 0).map((b) => b.codec));
  for (const name of ['none', 'gzip', 'snappy', 'lz4', 'zstd']) assert.ok(seen.has(name), `a ${name} batch is stored`);
});

test('an unknown codec or level is a clear error when the producer is created', () => {
  assert.throws(() => new Producer({ 'bootstrap.servers': 'a:1', 'compression.type': 'brotli' }), /compression\.type/);
  assert.throws(() => new Producer({ 'bootstrap.servers': 'a:1', 'compression.type': 'gzip', 'compression.gzip.level': 12 }), /compression\.gzip\.level/);
  assert.throws(() => new Producer({ 'bootstrap.servers': 'a:1', 'compression.zstd.level': 99 }), /compression\.zstd\.level/);
  assert.ok(backendInfo().codecs.includes('zstd'));
});
