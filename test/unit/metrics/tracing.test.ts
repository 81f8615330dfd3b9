/**
 * The diagnostics_channel TracingChannels kafka-turbo:send and kafka-turbo:produce, against the
 * fake cluster: a subscriber sees start and asyncEnd (or error) with the documented context,
 * and with no subscriber the producer never calls into the channels (their tracePromise is
 * replaced by one that throws, and sends still succeed).
 */
import assert from 'node:assert/strict';
import diagnosticsChannel from 'node:diagnostics_channel';
import { afterEach, describe, it } from 'node:test';
import { produceChannel, sendChannel, subscribed, type ProduceTraceContext, type SendTraceContext } from '../../../ts/metrics/tracing.js';
import { Producer, type RecordMetadata } from '../../../ts/producer/producer.js';
import { FakeCluster } from '../../helpers/fake-cluster.js';

let fake: FakeCluster | null = null;
let producer: Producer | null = null;
const cleanups: (() => void)[] = [];

afterEach(async () => {
  for (const c of cleanups.splice(0)) c();
  await producer?.close({ timeoutMs: 1000 }).catch(() => undefined);
  await fake?.stop();
  producer = null;
  fake = null;
});

async function start(): Promise<Producer> {
  fake = await FakeCluster.start({ brokers: 1, topics: [{ name: 't', partitions: 2 }] });
  producer = new Producer({ 'bootstrap.servers': fake.bootstrap, 'linger.ms': 0 });
  return producer;
}

describe('tracing channels', () => {
  it('with no subscriber nothing is published or built: the channels are never called', async () => {
    assert.equal(subscribed(sendChannel), false);
    assert.equal(subscribed(produceChannel), false);
    const savedSend = sendChannel.tracePromise;
    const savedProduce = produceChannel.tracePromise;
    const boom = () => {
      throw new Error('traced without a subscriber');
    };
    sendChannel.tracePromise = boom as never;
    produceChannel.tracePromise = boom as never;
    cleanups.push(() => {
      sendChannel.tracePromise = savedSend;
      produceChannel.tracePromise = savedProduce;
    });
    const p = await start();
    const md = await p.send({ topic: 't', value: 'quiet' });
    assert.ok(md.offset >= 0);
  });

  it('kafka-turbo:send: start at the call with the record, asyncEnd with the metadata or the error', async () => {
    const events: [string, SendTraceContext][] = [];
    const tc = diagnosticsChannel.tracingChannel<object, SendTraceContext>('kafka-turbo:send');
    const handlers = {
      start: (c: SendTraceContext) => events.push(['start', { ...c }]),
      end: () => undefined,
      asyncStart: () => undefined,
      asyncEnd: (c: SendTraceContext) => events.push(['asyncEnd', { ...c }]),
      error: (c: SendTraceContext) => events.push(['error', { ...c }]),
    };
    tc.subscribe(handlers);
    cleanups.push(() => tc.unsubscribe(handlers));
    assert.equal(subscribed(sendChannel), true);
    const p = await start();
    const record = { topic: 't', partition: 1, value: 'traced' };
    const sending = p.send(record);
    // start is published synchronously, inside send().
    assert.deepEqual(events.map((e) => e[0]), ['start']);
    assert.equal(events[0]![1].record, record);
    const md = await sending;
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(events.map((e) => e[0]), ['start', 'asyncEnd']);
    assert.deepEqual(events[1]![1].result as RecordMetadata, md);
    events.length = 0;
    await assert.rejects(p.send({ topic: 't', partition: 7, value: 'no such partition' }));
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(events.map((e) => e[0]), ['start', 'error', 'asyncEnd']);
    assert.match(String((events[1]![1].error as Error).message), /Partition 7/);
  });

  it('kafka-turbo:send for the KafkaJS facade: one trace per send() call, the call as the record', async () => {
    const events: [string, SendTraceContext][] = [];
    const tc = diagnosticsChannel.tracingChannel<object, SendTraceContext>('kafka-turbo:send');
    const handlers = {
      start: (c: SendTraceContext) => events.push(['start', c]),
      end: () => undefined,
      asyncStart: () => undefined,
      asyncEnd: (c: SendTraceContext) => events.push(['asyncEnd', c]),
      error: () => undefined,
    };
    fake = await FakeCluster.start({ brokers: 1, topics: [{ name: 't', partitions: 2 }] });
    const { Kafka } = await import('../../../ts/kafkajs/index.js');
    const kp = new Kafka({ clientId: 'trace', brokers: [fake.bootstrap], logLevel: 0 }).producer();
    await kp.connect();
    tc.subscribe(handlers);
    cleanups.push(() => tc.unsubscribe(handlers));
    const result = await kp.send({ topic: 't', messages: [{ value: 'a' }, { value: 'b' }] });
    await kp.disconnect();
    assert.deepEqual(events.map((e) => e[0]), ['start', 'asyncEnd']);
    assert.deepEqual((events[0]![1].record as { topicMessages: unknown[] }).topicMessages, [{ topic: 't', messages: [{ value: 'a' }, { value: 'b' }] }]);
    assert.deepEqual(events[1]![1].result, result);
  });

  it('kafka-turbo:produce: one start/asyncEnd per ProduceRequest with node, partitions, records, bytes and the response', async () => {
    const starts: ProduceTraceContext[] = [];
    const ends: ProduceTraceContext[] = [];
    const tc = diagnosticsChannel.tracingChannel<object, ProduceTraceContext>('kafka-turbo:produce');
    const handlers = {
      start: (c: ProduceTraceContext) => starts.push(c),
      end: () => undefined,
      asyncStart: () => undefined,
      asyncEnd: (c: ProduceTraceContext) => ends.push(c),
      error: () => undefined,
    };
    tc.subscribe(handlers);
    cleanups.push(() => tc.unsubscribe(handlers));
    const p = await start();
    await Promise.all([
      p.send({ topic: 't', partition: 0, value: 'a' }),
      p.send({ topic: 't', partition: 0, value: 'b' }),
      p.send({ topic: 't', partition: 1, value: 'c' }),
    ]);
    await new Promise((r) => setImmediate(r));
    assert.ok(starts.length >= 1);
    assert.equal(ends.length, starts.length, 'every request ended');
    assert.equal(starts.reduce((n, c) => n + c.records, 0), 3);
    for (const c of starts) {
      assert.equal(c.node, 0);
      assert.match(c.broker, /^127\.0\.0\.1:\d+$/);
      assert.equal(c.acks, -1);
      assert.equal(c.bytes, c.partitions.reduce((n, x) => n + x.bytes, 0));
      for (const x of c.partitions) assert.equal(x.topic, 't');
    }
    const result = ends[0]!.result as { responses: { partitionResponses: { errorCode: number }[] }[] };
    assert.equal(result.responses[0]!.partitionResponses[0]!.errorCode, 0);
  });
});
