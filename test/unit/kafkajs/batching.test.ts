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
import { ApiKey, FakeCluster, type ProduceRequestSummary } from '../../helpers/fake-cluster.js';

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

    it('with batch.size set, each send is still one batch; later sends start their own', async () => {
      const { restore } = useBackend(name);
      try {
        fake = await FakeCluster.start({ brokers: 1, topics: [{ name: 't', partitions: 1 }] });
        const producer = new Kafka({ brokers: [fake.bootstrap], logLevel: 0 }).producer({ maxInFlightRequests: 1, 'batch.size': 16384 });
        await producer.connect();
        try {
          const held = fake.prepare(ApiKey.Produce, { hold: true });
          const first = producer.send({ topic: 't', messages: messages(1000) });
          await held.received;
          const later = [1, 2].map(() => producer.send({ topic: 't', messages: messages(1000) }));
          held.release();
          await Promise.all([first, ...later]);
          // One batch per partition per request (as the Java client drains): three requests.
          assert.deepEqual(batchesPerRequest(fake), [[1000], [1000], [1000]]);
        } finally {
          await producer.disconnect();
        }
      } finally {
        restore();
      }
    });
  });
}
