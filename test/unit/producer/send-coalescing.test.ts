/**
 * One-record sends of one tick are appended together (ProducerCore's run, issue 10 item 4):
 * one backend call per run of sends to a partition instead of one per send, with the batches,
 * order and outcomes one call per send gave. Against the scripted fake cluster, on every
 * backend; the backend's accumulators are wrapped to count the calls that cross into it.
 */
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { Kafka, logLevel } from '../../../ts/kafkajs/index.js';
import { Producer } from '../../../ts/producer/producer.js';
import { RUN_GROUP_LIMIT } from '../../../ts/producer/core.js';
import { getBackend } from '../../../ts/backend/load.js';
import type { Backend, RecordAccumulator } from '../../../ts/backend/types.js';
import { availableBackends, useBackend } from '../../helpers/backends.js';
import { FakeCluster } from '../../helpers/fake-cluster.js';

interface Calls {
  append: number[];
  appendEach: number[];
}

/** Counts the records of each append()/appendEach() call of accumulators made from now on. */
function countCalls(backend: Backend): { calls: Calls; restore: () => void } {
  const calls: Calls = { append: [], appendEach: [] };
  const original = backend.createAccumulator;
  backend.createAccumulator = (config) => {
    const acc: RecordAccumulator = original(config);
    const append = acc.append.bind(acc);
    const appendEach = acc.appendEach.bind(acc);
    acc.append = (p, records, now) => (calls.append.push(records.length), append(p, records, now));
    acc.appendEach = (p, records, now) => (calls.appendEach.push(records.length), appendEach(p, records, now));
    return acc;
  };
  return { calls, restore: () => (backend.createAccumulator = original) };
}

const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

async function setup(name: string, partitions = 2): Promise<{ fake: FakeCluster; calls: Calls }> {
  const chosen = useBackend(name);
  cleanup.push(() => chosen.restore());
  const counted = countCalls(getBackend());
  cleanup.push(counted.restore);
  const fake = await FakeCluster.start({ topics: [{ name: 't', partitions }] });
  cleanup.push(() => fake.stop());
  return { fake, calls: counted.calls };
}

function javaProducer(fake: FakeCluster, extra: Record<string, unknown> = {}): Producer<string, string> {
  const p = new Producer<string, string>({
    'bootstrap.servers': fake.bootstrap,
    'linger.ms': 0,
    'key.serializer': (k: string | null | undefined) => (k == null ? null : Buffer.from(k)),
    'value.serializer': (v: string | null) => (v === null ? null : Buffer.from(v)),
    ...extra,
  } as ConstructorParameters<typeof Producer<string, string>>[0]);
  cleanup.push(() => p.close({ timeoutMs: 2000 }).catch(() => undefined));
  return p;
}

for (const { name } of availableBackends()) {
  describe(`sends of one tick appended together, ${name} backend`, () => {
    it('100 sends to one partition in one tick: one backend call, one batch, in order', async () => {
      const { fake, calls } = await setup(name);
      const p = javaProducer(fake);
      await p.connect(['t']);
      const sent = Array.from({ length: 100 }, (_, i) => p.send({ topic: 't', partition: 0, value: `v${i}` }));
      const mds = await Promise.all(sent);
      assert.deepEqual(calls, { append: [], appendEach: [100] });
      assert.deepEqual(mds.map((m) => m.offset), Array.from({ length: 100 }, (_, i) => i));
      assert.deepEqual(fake.values('t', 0), Array.from({ length: 100 }, (_, i) => `v${i}`));
      assert.equal(fake.log('t', 0).length, 1);
    });

    it('a loop of more sends than RUN_GROUP_LIMIT: appended in runs of the limit while the loop runs, in order', async () => {
      const { fake, calls } = await setup(name);
      const p = javaProducer(fake);
      await p.connect(['t']);
      const n = 2 * RUN_GROUP_LIMIT + 176;
      const sent: Promise<{ offset: number }>[] = [];
      const seenDuringLoop: number[] = [];
      for (let i = 0; i < n; i++) {
        sent.push(p.send({ topic: 't', partition: 0, value: `v${i}` }));
        if (i === RUN_GROUP_LIMIT - 1 || i === 2 * RUN_GROUP_LIMIT - 1) seenDuringLoop.push(calls.appendEach.length);
      }
      // Each full run crossed into the backend at once, not at the end of the tick.
      assert.deepEqual(seenDuringLoop, [1, 2]);
      const mds = await Promise.all(sent);
      assert.deepEqual(calls, { append: [], appendEach: [RUN_GROUP_LIMIT, RUN_GROUP_LIMIT, 176] });
      assert.deepEqual(mds.map((m) => m.offset), Array.from({ length: n }, (_, i) => i));
      assert.deepEqual(fake.values('t', 0), Array.from({ length: n }, (_, i) => `v${i}`));
    });

    it('sends alternating between partitions: one call per partition, order kept in each', async () => {
      const { fake, calls } = await setup(name);
      const p = javaProducer(fake);
      await p.connect(['t']);
      const parts = [0, 0, 1, 1, 1, 0, 1, 0, 0];
      const mds = await Promise.all(parts.map((partition, i) => p.send({ topic: 't', partition, value: `v${i}` })));
      // One call per partition, in the order the partitions were first sent to.
      assert.deepEqual(calls.appendEach, [5, 4]);
      assert.deepEqual(calls.append, []);
      assert.deepEqual(fake.values('t', 0), ['v0', 'v1', 'v5', 'v7', 'v8']);
      assert.deepEqual(fake.values('t', 1), ['v2', 'v3', 'v4', 'v6']);
      assert.deepEqual(mds.map((m) => `${m.partition}@${m.offset}`), ['0@0', '0@1', '1@0', '1@1', '1@2', '0@2', '1@3', '0@3', '0@4']);
    });

    it("a serializer that throws for one record rejects only that send; the tick's others are written", async () => {
      const { fake, calls } = await setup(name);
      const p = javaProducer(fake, {
        'value.serializer': (v: string) => {
          if (v === 'bad') throw new Error('cannot serialize');
          return Buffer.from(v);
        },
      });
      await p.connect(['t']);
      const results = await Promise.allSettled(['a', 'b', 'bad', 'c', 'd'].map((value) => p.send({ topic: 't', partition: 0, value })));
      assert.deepEqual(results.map((r) => r.status), ['fulfilled', 'fulfilled', 'rejected', 'fulfilled', 'fulfilled']);
      assert.match(String((results[2] as PromiseRejectedResult).reason), /cannot serialize/);
      assert.deepEqual(fake.values('t', 0), ['a', 'b', 'c', 'd']);
      assert.deepEqual(calls.appendEach, [4]);
    });

    it('flush() and close() in the same tick as the sends include them', async () => {
      const { fake } = await setup(name);
      const p = javaProducer(fake, { 'linger.ms': 60_000 });
      await p.connect(['t']);
      const sent = [0, 1, 2].map((i) => p.send({ topic: 't', partition: 1, value: `f${i}` }));
      await p.flush();
      assert.deepEqual(fake.values('t', 1), ['f0', 'f1', 'f2']);
      const late = [3, 4].map((i) => p.send({ topic: 't', partition: 1, value: `f${i}` }));
      await p.close();
      await Promise.all([...sent, ...late]);
      assert.deepEqual(fake.values('t', 1), ['f0', 'f1', 'f2', 'f3', 'f4']);
    });

    it('a small buffer.memory: the sends it cannot take yet wait in order and are all written', async () => {
      const { fake } = await setup(name);
      const p = javaProducer(fake, { 'buffer.memory': 4000, 'batch.size': 1000 });
      await p.connect(['t']);
      const value = (i: number) => `${i}`.padStart(200, 'x');
      const mds = await Promise.all(Array.from({ length: 60 }, (_, i) => p.send({ topic: 't', partition: 0, value: value(i) })));
      assert.deepEqual(mds.map((m) => m.offset), Array.from({ length: 60 }, (_, i) => i));
      assert.deepEqual(fake.values('t', 0), Array.from({ length: 60 }, (_, i) => value(i)));
    });

    it("KafkaJS-style send() of one message (its fast path): sendBatch()'s results and errors", async () => {
      const { fake } = await setup(name, 3);
      const kafka = new Kafka({ brokers: [fake.bootstrap], logLevel: logLevel.NOTHING });
      const producer = kafka.producer({ createPartitioner: () => ({ message }) => (message.key === 'far' ? 7 : 1) });
      await producer.connect();
      cleanup.push(() => producer.disconnect());
      await producer.send({ topic: 't', messages: [{ value: 'first' }] }); // metadata known from here on
      const viaSend = await producer.send({ topic: 't', messages: [{ value: 'a', timestamp: '1700000000000' }], acks: 1 });
      const viaBatch = await producer.sendBatch({ topicMessages: [{ topic: 't', messages: [{ value: 'b', timestamp: '1700000000000' }] }], acks: 1 });
      assert.deepEqual(viaSend, [{ ...viaBatch[0]!, baseOffset: String(Number(viaBatch[0]!.baseOffset) - 1) }]);
      assert.deepEqual(await producer.send({ topic: 't', messages: [{ value: 'c' }], acks: 0 }), []);
      const bad: { messages: unknown[]; acks?: number }[] = [
        { messages: [{ key: 'far', value: 'x' }] }, // partitioner out of range
        { messages: [{ value: 'x', timestamp: 'soon' }] },
        { messages: [{ value: 'x', headers: 5 }] },
        { messages: [{ key: 'k' }] }, // no value
        { messages: [null] },
        { messages: [{ value: 'x' }], acks: 7 },
      ];
      for (const b of bad) {
        const one = await producer.send({ topic: 't', messages: b.messages as never, acks: b.acks }).then(() => 'resolved', (e: Error) => `${e.name}: ${e.message}`);
        const batch = await producer
          .sendBatch({ topicMessages: [{ topic: 't', messages: b.messages as never }], acks: b.acks })
          .then(() => 'resolved', (e: Error) => `${e.name}: ${e.message}`);
        assert.notEqual(one, 'resolved', JSON.stringify(b));
        assert.equal(one, batch, JSON.stringify(b));
      }
      assert.deepEqual(fake.values('t', 1).slice(0, 3), ['first', 'a', 'b']);
    });

    it('KafkaJS-style sends of one message in one tick: one backend call per partition', async () => {
      const { fake, calls } = await setup(name, 3);
      const kafka = new Kafka({ brokers: [fake.bootstrap], logLevel: logLevel.NOTHING });
      const producer = kafka.producer();
      await producer.connect();
      cleanup.push(() => producer.disconnect());
      // Keyless messages spread over the partitions (KafkaJS's default partitioner).
      const results = await Promise.all(Array.from({ length: 30 }, (_, i) => producer.send({ topic: 't', messages: [{ value: `m${i}` }], acks: 1 })));
      const byPartition: string[][] = [[], [], []];
      results.forEach((r, i) => {
        assert.equal(r.length, 1);
        assert.equal(r[0]!.baseOffset, String(byPartition[r[0]!.partition]!.length), `send ${i}'s offset`);
        byPartition[r[0]!.partition]!.push(`m${i}`);
      });
      for (let p = 0; p < 3; p++) assert.deepEqual(fake.values('t', p), byPartition[p]);
      assert.equal(byPartition.filter((v) => v.length > 0).length, 3, 'the sends went to every partition');
      // One call per partition, each with that partition's sends.
      assert.deepEqual([...calls.appendEach].sort(), byPartition.map((v) => v.length).sort());
      assert.equal(calls.appendEach.reduce((a, b) => a + b, 0), 30);
      assert.deepEqual(calls.append, []);
    });
  });
}
