/**
 * How the KafkaJS-style producer batches by default (issue 16): the brokers pay per batch and
 * per request, so a send's messages for a partition are one batch (as KafkaJS makes), and
 * sends that arrive while a partition waits for a request slot join its batch, up to
 * max.request.size. Checked on the wire of a scripted fake broker, on every backend.
 */
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { Kafka } from '../../../ts/kafkajs/index.js';
import { availableBackends, useBackend } from '../../helpers/backends.js';
import { ApiKey, ErrorCode, FakeCluster, type ProduceRequestSummary } from '../../helpers/fake-cluster.js';

const VALUE = Buffer.alloc(100, 0x61);
const messages = (n: number) => Array.from({ length: n }, () => ({ value: VALUE, partition: 0 }));

/** Record counts of each Produce request's batches for t/0, in request order. */
function batchesPerRequest(fake: FakeCluster): number[][] {
  return fake
    .requestsOf(ApiKey.Produce)
    .map((r) => (r.body as ProduceRequestSummary).partitions.filter((p) => p.topic === 't' && p.partition === 0))
    .filter((ps) => ps.length > 0)
    .map((ps) => ps.flatMap((p) => p.batches.map((b) => b.recordCount)));
}

let fake: FakeCluster | null = null;
afterEach(async () => {
  await fake?.stop();
  fake = null;
});

for (const { name } of availableBackends()) {
  describe(`KafkaJS-style batching, ${name} backend`, () => {
    it("a call's records of one partition, settled together: a split batch and a partition error still settle the call once per record", async () => {
      const { restore } = useBackend(name);
      try {
        fake = await FakeCluster.start({ brokers: 1, topics: [{ name: 't', partitions: 2 }] });
        const producer = new Kafka({ brokers: [fake.bootstrap], logLevel: 0 }).producer();
        await producer.connect();
        try {
          const call = (tag: string) =>
            Array.from({ length: 40 }, (_, i) => ({ value: `${tag}${i}`, partition: i % 2 }));
          await producer.send({ topic: 't', messages: [{ value: 'w', partition: 0 }, { value: 'w', partition: 1 }] });
          // The first Produce of the next call: MESSAGE_TOO_LARGE on partition 0, which splits its batch.
          fake.prepare(ApiKey.Produce, { errors: [{ topic: 't', partition: 0, errorCode: ErrorCode.MESSAGE_TOO_LARGE }] });
          const md = await producer.send({ topic: 't', messages: call('a') });
          assert.deepEqual(
            md.map((m) => [m.partition, m.baseOffset]),
            [
              [0, '1'],
              [1, '1'],
            ],
          );
          const expected = (tag: string, p: number) => Array.from({ length: 20 }, (_, i) => `${tag}${2 * i + p}`);
          assert.deepEqual(fake.values('t', 0).slice(1), expected('a', 0));
          assert.deepEqual(fake.values('t', 1).slice(1), expected('a', 1));
          // A non-retriable error on partition 1: the call rejects, after partition 0's records are written.
          fake.prepare(ApiKey.Produce, { errors: [{ topic: 't', partition: 1, errorCode: ErrorCode.INVALID_RECORD }] });
          await assert.rejects(producer.send({ topic: 't', messages: call('b') }), /INVALID_RECORD|invalid/i);
          assert.deepEqual(fake.values('t', 0).slice(21), expected('b', 0));
          assert.deepEqual(fake.values('t', 1).slice(21), []);
          // The producer goes on: a later call settles as usual.
          const after = await producer.send({ topic: 't', messages: call('c') });
          assert.deepEqual(after.map((m) => [m.partition, m.baseOffset]), [
            [0, '41'],
            [1, '21'],
          ]);
        } finally {
          await producer.disconnect();
        }
      } finally {
        restore();
      }
    });

    it('a send of 1000 messages of 100 B to one partition is one batch, not one per 16 KB', async () => {
      const { restore } = useBackend(name);
      try {
        fake = await FakeCluster.start({ brokers: 1, topics: [{ name: 't', partitions: 1 }] });
        const producer = new Kafka({ brokers: [fake.bootstrap], logLevel: 0 }).producer();
        await producer.connect();
        try {
          const md = await producer.send({ topic: 't', messages: messages(1000) });
          assert.equal(md.length, 1);
          assert.deepEqual(batchesPerRequest(fake), [[1000]]);
          assert.equal(fake.values('t', 0).length, 1000);
        } finally {
          await producer.disconnect();
        }
      } finally {
        restore();
      }
    });

    it('sends that arrive while the request slot is taken join one batch, up to max.request.size', async () => {
      const { restore } = useBackend(name);
      try {
        fake = await FakeCluster.start({ brokers: 1, topics: [{ name: 't', partitions: 1 }] });
        const producer = new Kafka({ brokers: [fake.bootstrap], logLevel: 0 }).producer({ maxInFlightRequests: 1 });
        await producer.connect();
        try {
          const held = fake.prepare(ApiKey.Produce, { hold: true });
          const first = producer.send({ topic: 't', messages: messages(1000) });
          await held.received;
          // Three more sends while the only slot is busy: ~330 KB, under max.request.size.
          const later = [1, 2, 3].map(() => producer.send({ topic: 't', messages: messages(1000) }));
          held.release();
          await Promise.all([first, ...later]);
          assert.deepEqual(batchesPerRequest(fake), [[1000], [3000]]);
          assert.equal(fake.values('t', 0).length, 4000);
        } finally {
          await producer.disconnect();
        }
      } finally {
        restore();
      }
    });

    it('with batch.size set, each send is one batch; a later send starts its own unless the partition waits', async () => {
      const { restore } = useBackend(name);
      try {
        fake = await FakeCluster.start({ brokers: 1, topics: [{ name: 't', partitions: 1 }] });
        const producer = new Kafka({ brokers: [fake.bootstrap], logLevel: 0 }).producer({ maxInFlightRequests: 1, 'batch.size': 16384 });
        await producer.connect();
        try {
          const held = fake.prepare(ApiKey.Produce, { hold: true });
          const first = producer.send({ topic: 't', messages: messages(1000) });
          await held.received;
          // Two sends while the only slot is taken: the partition cannot be sent, so they
          // join the waiting batch past batch.size (issue 16) and go out as one.
          const later = [1, 2].map(() => producer.send({ topic: 't', messages: messages(1000) }));
          held.release();
          await Promise.all([first, ...later]);
          assert.deepEqual(batchesPerRequest(fake), [[1000], [2000]]);
          // Nothing in flight: the partition can be sent, so the second send's records start a
          // batch of their own behind the first (one batch per partition per request, as the
          // Java client drains: two requests).
          await Promise.all([1, 2].map(() => producer.send({ topic: 't', messages: messages(1000) })));
          assert.deepEqual(batchesPerRequest(fake), [[1000], [2000], [1000], [1000]]);
        } finally {
          await producer.disconnect();
        }
      } finally {
        restore();
      }
    });
  });
}
