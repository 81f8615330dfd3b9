/**
 * The KafkaJS facade against a real broker, written the way a KafkaJS app is written; every
 * record is read back by kcat.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { getCluster, type KafkaCluster } from '../helpers/broker.js';
import { readTopic } from '../helpers/kcat.js';
import { Kafka, KafkaJSError, logLevel } from '../../ts/index.js';
import { keyedPartition } from '../../ts/producer/partitioners.js';

let cluster: KafkaCluster;
const runId = Date.now().toString(36);

before(async () => {
  cluster = await getCluster();
});
after(async () => {
  await cluster?.stop();
});

function kafka(): InstanceType<typeof Kafka> {
  return new Kafka({ clientId: 'kt-test', brokers: [cluster.bootstrap], logLevel: logLevel.NOTHING });
}

test('100k records through send() and sendBatch() arrive intact, in order, on the Java partition', async () => {
  const topic = `kjs-${runId}`;
  await cluster.createTopic(topic, { partitions: 6 });
  const producer = kafka().producer();
  await producer.connect();
  const total = 100_000;
  const base = Date.now() - 5000;
  type M = { key: string | null; value: string; headers?: Record<string, string>; timestamp: string };
  const all: M[] = [];
  for (let i = 0; i < total; i++) {
    all.push({
      key: i % 4 === 0 ? null : `key-${i % 777}`,
      value: `v${i}:${'y'.repeat(i % 40)}`,
      ...(i % 2 === 0 ? { headers: { a: `x${i}`, b: 'const' } } : {}),
      timestamp: String(base + (i % 1000)),
    });
  }
  // Half through send() calls of 1000 messages (several in flight at once), half through
  // sendBatch() calls splitting each chunk across two entries of the same topic (merged, as KafkaJS does).
  const half = total / 2;
  const calls: Promise<unknown>[] = [];
  for (let i = 0; i < half; i += 1000) calls.push(producer.send({ topic, messages: all.slice(i, i + 1000) }));
  const firstResults = (await Promise.all(calls)) as { topicName: string; partition: number; errorCode: number; baseOffset: string }[][];
  for (const r of firstResults) {
    assert.ok(r.length > 0);
    for (const e of r) {
      assert.equal(e.topicName, topic);
      assert.equal(e.errorCode, 0);
      assert.match(e.baseOffset, /^\d+$/);
    }
  }
  for (let i = half; i < total; i += 2000) {
    await producer.sendBatch({
      topicMessages: [
        { topic, messages: all.slice(i, i + 1000) },
        { topic, messages: all.slice(i + 1000, i + 2000) },
      ],
    });
  }
  await producer.disconnect();

  const got = await readTopic(cluster.bootstrap, topic, total);
  assert.equal(got.length, total);
  const byValue = new Map(got.map((r) => [r.value!.toString(), r]));
  assert.equal(byValue.size, total, 'no duplicates');
  const order = new Map<number, number>();
  for (const m of all) {
    const r = byValue.get(m.value);
    assert.ok(r, `${m.value} read back`);
    assert.equal(r.key === null ? null : r.key.toString(), m.key);
    assert.equal(r.timestamp, Number(m.timestamp));
    assert.deepEqual(
      r.headers.map(([k, v]) => [k, v.toString()]),
      m.headers ? Object.entries(m.headers) : [],
    );
    if (m.key !== null) assert.equal(r.partition, keyedPartition(Buffer.from(m.key), 6));
    // Messages were handed over in this order, so offsets grow within each partition.
    const prev = order.get(r.partition) ?? -1;
    assert.ok(r.offset > prev, `order in partition ${r.partition}`);
    order.set(r.partition, r.offset);
  }
});

test('acks 0, 1 and -1 per send() call; acks=0 resolves to []', async () => {
  const topic = `kjs-acks-${runId}`;
  await cluster.createTopic(topic, { partitions: 3 });
  const producer = kafka().producer();
  await producer.connect();
  const messages = (tag: string) => Array.from({ length: 300 }, (_, i) => ({ key: `${tag}${i}`, value: `${tag}-${i}` }));
  // acks=-1 first: once it is acknowledged every partition's leader is serving, so nothing
  // sent with acks=0 (which the broker drops silently on error) is lost to a new topic's start.
  const rAll = await producer.send({ topic, acks: -1, messages: messages('all') });
  const r0 = await producer.send({ topic, acks: 0, messages: messages('a0') });
  const r1 = await producer.send({ topic, acks: 1, messages: messages('a1') });
  await producer.disconnect();
  assert.deepEqual(r0, []);
  for (const r of [r1, rAll]) {
    assert.equal(r.length, 3, 'one entry per partition written');
    for (const e of r) assert.deepEqual(Object.keys(e).sort(), ['baseOffset', 'errorCode', 'logAppendTime', 'logStartOffset', 'partition', 'topicName']);
  }
  const got = await readTopic(cluster.bootstrap, topic, 900);
  const values = new Set(got.map((r) => r.value!.toString()));
  for (const tag of ['a0', 'a1', 'all']) for (let i = 0; i < 300; i++) assert.ok(values.has(`${tag}-${i}`));
});

test('KafkaJS validation errors and send after disconnect', async () => {
  const producer = kafka().producer();
  await assert.rejects(producer.send({ topic: 'x', messages: [{ value: 'v' }] }), (e: Error) => {
    assert.ok(e instanceof KafkaJSError);
    assert.equal(e.message, 'The producer is disconnected');
    return true;
  });
  await producer.connect();
  await assert.rejects(producer.send({ topic: '', messages: [{ value: 'v' }] }), /Invalid topic/);
  await assert.rejects(producer.send({ topic: 'x', messages: undefined as never }), /Invalid messages array/);
  await assert.rejects(producer.send({ topic: 'x', messages: [{ key: 'k' } as never] }), /Invalid message without value/);
  await producer.disconnect();
  await assert.rejects(producer.send({ topic: 'x', messages: [{ value: 'v' }] }), /disconnected/);
});

test('an unreachable broker: connect() rejects with a connection error', async () => {
  const producer = new Kafka({
    clientId: 'kt-test',
    brokers: ['127.0.0.1:1'],
    logLevel: logLevel.NOTHING,
    connectionTimeout: 200,
    retry: { retries: 1, initialRetryTime: 50, maxRetryTime: 100 },
  }).producer();
  await assert.rejects(producer.connect(), (e: Error) => {
    assert.match(e.name, /KafkaJS(Connection|NumberOfRetriesExceeded|NonRetriable)Error|KafkaJSNumberOfRetriesExceeded/);
    assert.match(e.message, /ECONNREFUSED|connect/i);
    return true;
  });
});

test('events: connect, request and disconnect are emitted as in KafkaJS', async () => {
  const topic = `kjs-events-${runId}`;
  await cluster.createTopic(topic, { partitions: 1 });
  const producer = kafka().producer();
  const seen: string[] = [];
  const requests: { payload: { apiName: string; broker: string } }[] = [];
  producer.on(producer.events.CONNECT, (e: { type: string }) => seen.push(e.type));
  producer.on(producer.events.DISCONNECT, (e: { type: string }) => seen.push(e.type));
  producer.on(producer.events.REQUEST, (e: { payload: { apiName: string; broker: string } }) => requests.push(e));
  await producer.connect();
  await producer.send({ topic, messages: [{ value: 'hello' }] });
  await producer.disconnect();
  assert.deepEqual(seen, ['producer.connect', 'producer.disconnect']);
  assert.ok(requests.some((r) => r.payload.apiName === 'Produce'), 'a Produce request event');
  assert.ok(requests.every((r) => /^127\.0\.0\.1:\d+$/.test(r.payload.broker)));
});
