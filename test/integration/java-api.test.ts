/**
 * The Java-style API against a real broker; everything written is read back by kcat.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { getCluster, type KafkaCluster } from '../helpers/broker.js';
import { readTopic, type ConsumedRecord } from '../helpers/kcat.js';
import { Producer, type KafkaRecordMetadata as RecordMetadata } from '../../ts/index.js';
import { keyedPartition } from '../../ts/producer/partitioners.js';

let cluster: KafkaCluster;
const runId = Date.now().toString(36);

before(async () => {
  cluster = await getCluster();
});
after(async () => {
  await cluster?.stop();
});

interface Sent {
  key: string | null;
  value: string;
  headers: [string, string][];
  timestamp: number;
  md: RecordMetadata;
}

/** Checks that what kcat read is exactly what was sent: every field, partition, order. */
export function assertSameRecords(sent: Sent[], got: ConsumedRecord[], partitions: number): void {
  assert.equal(got.length, sent.length, 'record count read back');
  const byValue = new Map<string, ConsumedRecord>();
  for (const r of got) {
    const v = r.value!.toString();
    assert.ok(!byValue.has(v), `duplicate record ${v}`);
    byValue.set(v, r);
  }
  const lastOffset = new Map<number, number>();
  for (const s of sent) {
    const r = byValue.get(s.value);
    assert.ok(r, `record ${s.value} was not read back`);
    assert.equal(r.key === null ? null : r.key.toString(), s.key, `key of ${s.value}`);
    assert.equal(r.timestamp, s.timestamp, `timestamp of ${s.value}`);
    assert.deepEqual(
      r.headers.map(([k, v]) => [k, v.toString()]),
      s.headers,
      `headers of ${s.value}`,
    );
    assert.equal(r.partition, s.md.partition, `partition of ${s.value}`);
    assert.equal(r.offset, s.md.offset, `offset of ${s.value}`);
    if (s.key !== null) {
      assert.equal(r.partition, keyedPartition(Buffer.from(s.key), partitions), `Java partition of key ${s.key}`);
    }
    // Per-partition order: records sent later have higher offsets.
    const prev = lastOffset.get(r.partition) ?? -1;
    assert.ok(r.offset > prev, `order in partition ${r.partition}`);
    lastOffset.set(r.partition, r.offset);
  }
}

async function produceAndCheck(acks: string, count: number): Promise<void> {
  const topic = `java-${acks}-${runId}`;
  await cluster.createTopic(topic, { partitions: 6 });
  if (acks === '0') {
    // acks=0 is fire and forget: the broker drops a batch silently when the partition's leader
    // is not serving yet. Wait until every partition has acknowledged one record.
    const warm = new Producer({ 'bootstrap.servers': cluster.bootstrap, acks: 'all' });
    await Promise.all(Array.from({ length: 6 }, (_, p) => warm.send({ topic, partition: p, value: `warm-${p}` })));
    await warm.close();
  }
  const producer = new Producer({ 'bootstrap.servers': cluster.bootstrap, acks, 'linger.ms': 5 });
  const sent: Sent[] = [];
  const pending: Promise<void>[] = [];
  const base = Date.now() - 1000;
  for (let i = 0; i < count; i++) {
    const key = i % 3 === 0 ? null : `key-${i % 1000}`;
    const value = `value-${i}-${'x'.repeat(i % 50)}`;
    const headers: [string, string][] = i % 2 === 0 ? [['h1', `a${i}`], ['h2', 'b']] : [];
    const timestamp = base + (i % 500);
    const rec = { key, value, headers, timestamp, md: undefined as unknown as RecordMetadata };
    sent.push(rec);
    pending.push(
      producer
        .send({ topic, key, value, headers: headers.map(([k, v]) => ({ key: k, value: v })), timestamp })
        .then((md) => {
          rec.md = md;
        }),
    );
  }
  await Promise.all(pending);
  await producer.close();
  if (acks === '0') {
    // acks=0 gives no offsets: check content and partitions by reading everything back.
    const got = (await readTopic(cluster.bootstrap, topic, count + 6)).filter((r) => !r.value!.toString().startsWith('warm-'));
    assert.equal(got.length, count);
    for (const s of sent) assert.equal(s.md.offset, -1);
    const values = new Set(got.map((r) => r.value!.toString()));
    for (const s of sent) assert.ok(values.has(s.value), `record ${s.value} read back`);
    return;
  }
  const got = await readTopic(cluster.bootstrap, topic, count);
  assertSameRecords(sent, got, 6);
}

test('acks=all: 100k keyed and keyless records with headers arrive intact, in order, on the Java partition', async () => {
  await produceAndCheck('all', 100_000);
});

test('acks=1: records arrive intact', async () => {
  await produceAndCheck('1', 10_000);
});

test('acks=0: records arrive; offsets are -1', async () => {
  await produceAndCheck('0', 10_000);
});

test('an oversize record fails alone with RecordTooLarge; the others arrive', async () => {
  const topic = `java-oversize-${runId}`;
  await cluster.createTopic(topic, { partitions: 2 });
  const producer = new Producer({ 'bootstrap.servers': cluster.bootstrap, 'max.request.size': 10_000 });
  const results = await Promise.allSettled([
    producer.send({ topic, value: 'before' }),
    producer.send({ topic, value: Buffer.alloc(20_000, 1) }),
    producer.send({ topic, value: 'after' }),
  ]);
  await producer.close();
  assert.equal(results[0]!.status, 'fulfilled');
  assert.equal(results[2]!.status, 'fulfilled');
  assert.equal(results[1]!.status, 'rejected');
  const err = (results[1] as PromiseRejectedResult).reason;
  assert.equal(err.code, 'RECORD_TOO_LARGE');
  assert.match(err.message, /max\.request\.size/);
  const got = await readTopic(cluster.bootstrap, topic, 2);
  assert.deepEqual(got.map((r) => r.value!.toString()).sort(), ['after', 'before']);
});

test('send after close rejects with a clear error; records sent before close arrive', async () => {
  const topic = `java-closed-${runId}`;
  await cluster.createTopic(topic, { partitions: 1 });
  const producer = new Producer({ 'bootstrap.servers': cluster.bootstrap });
  const first = producer.send({ topic, value: 'one' });
  await producer.close();
  const md = await first;
  assert.equal(md.offset, 0);
  await assert.rejects(producer.send({ topic, value: 'two' }), (e: Error & { code?: string }) => {
    assert.equal(e.code, 'PRODUCER_CLOSED');
    assert.match(e.message, /closed/);
    return true;
  });
  const got = await readTopic(cluster.bootstrap, topic, 1);
  assert.deepEqual(got.map((r) => r.value!.toString()), ['one']);
});

test('an unknown topic fails within max.block.ms with a clear error; other topics are unaffected', async () => {
  const topic = `java-known-${runId}`;
  await cluster.createTopic(topic, { partitions: 1 });
  const producer = new Producer({
    'bootstrap.servers': cluster.bootstrap,
    'max.block.ms': 1500,
    'allow.auto.create.topics': false,
  });
  const [bad, good] = await Promise.allSettled([
    producer.send({ topic: `no-such-topic-${runId}`, value: 'x' }),
    producer.send({ topic, value: 'fine' }),
  ]);
  await producer.close();
  assert.equal(good.status, 'fulfilled');
  assert.equal(bad.status, 'rejected');
  assert.match((bad as PromiseRejectedResult).reason.message, /not present in metadata after 1500 ms/);
  assert.equal((bad as PromiseRejectedResult).reason.type, 'UNKNOWN_TOPIC_OR_PARTITION');
});

test('an unreachable broker: send rejects after max.block.ms with a connection error', async () => {
  const producer = new Producer({
    'bootstrap.servers': '127.0.0.1:1',
    'max.block.ms': 800,
    'socket.connection.setup.timeout.ms': 200,
  });
  const started = Date.now();
  await assert.rejects(producer.send({ topic: 't', value: 'x' }), (e: Error & { code?: string }) => {
    assert.match(e.message, /not present in metadata after 800 ms/);
    assert.match(e.message, /ECONNREFUSED|connect/i);
    return true;
  });
  assert.ok(Date.now() - started >= 700);
  await producer.close();
});

test('invalid configuration values are refused when the producer is created', () => {
  const bad: [Record<string, unknown>, RegExp][] = [
    [{}, /bootstrap\.servers/],
    [{ 'bootstrap.servers': 'nohostport' }, /host:port/],
    [{ 'bootstrap.servers': 'a:1', acks: '2' }, /acks/],
    [{ 'bootstrap.servers': 'a:1', 'linger.ms': -1 }, /linger\.ms/],
    [{ 'bootstrap.servers': 'a:1', 'batch.size': 'big' }, /batch\.size/],
    [{ 'bootstrap.servers': 'a:1', 'compression.type': 'brotli' }, /compression\.type/],
    [{ 'bootstrap.servers': 'a:1', 'linger.ms ': 1 }, /Unknown configuration key/],
    [{ 'bootstrap.servers': 'a:1', 'delivery.timeout.ms': 10 }, /delivery\.timeout\.ms/],
  ];
  for (const [cfg, re] of bad) {
    assert.throws(() => new Producer(cfg as never), (e: Error & { code?: string }) => {
      assert.match(e.message, re);
      assert.equal(e.code, 'INVALID_CONFIG');
      return true;
    });
  }
});

test('buffer full: sends wait, then fail after max.block.ms with BUFFER_EXHAUSTED; nothing throws', async () => {
  // Point at a topic whose leader never answers fast enough: use a paused producer by
  // filling buffer.memory faster than a tiny max.block.ms allows.
  const topic = `java-buffer-${runId}`;
  await cluster.createTopic(topic, { partitions: 1 });
  const producer = new Producer({
    'bootstrap.servers': cluster.bootstrap,
    'buffer.memory': 64 * 1024,
    'batch.size': 16 * 1024,
    'max.block.ms': 0,
    'linger.ms': 1000,
    'delivery.timeout.ms': 40_000,
  });
  await producer.connect([topic]);
  const sends: Promise<RecordMetadata>[] = [];
  for (let i = 0; i < 200; i++) sends.push(producer.send({ topic, value: Buffer.alloc(1000, i) }));
  const results = await Promise.allSettled(sends);
  await producer.close();
  const failed = results.filter((r) => r.status === 'rejected') as PromiseRejectedResult[];
  const ok = results.filter((r) => r.status === 'fulfilled');
  assert.ok(failed.length > 0, 'some sends found the buffer full');
  assert.ok(ok.length > 0, 'the records that fit were sent');
  for (const f of failed) assert.equal(f.reason.code, 'BUFFER_EXHAUSTED');
  const got = await readTopic(cluster.bootstrap, topic, ok.length);
  assert.equal(got.length, ok.length);
});
