/**
 * A KafkaJS send of many messages reaches the core as one run per partition
 * (ProducerCore.enqueueRuns). What the general path makes wait or fail must come out the
 * same through it: a record too large fails alone and the call rejects once the others are
 * written; records that buffer.memory cannot take yet wait, in order, behind each other and
 * ahead of later calls. Checked on the log of a scripted fake broker, on every backend.
 */
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { Kafka } from '../../../ts/kafkajs/index.js';
import { availableBackends, useBackend } from '../../helpers/backends.js';
import { FakeCluster } from '../../helpers/fake-cluster.js';

let fake: FakeCluster | null = null;
afterEach(async () => {
  await fake?.stop();
  fake = null;
});

for (const { name } of availableBackends()) {
  describe(`KafkaJS send of many messages, runs per partition, ${name} backend`, () => {
    it('a record too large fails alone: the call rejects after the others are written, headers or not', async () => {
      const { restore } = useBackend(name);
      try {
        fake = await FakeCluster.start({ brokers: 1, topics: [{ name: 't', partitions: 2 }] });
        const producer = new Kafka({ brokers: [fake.bootstrap], logLevel: 0 }).producer({ 'max.request.size': 4096 } as never);
        await producer.connect();
        try {
          const big = Buffer.alloc(5000, 0x62);
          await assert.rejects(
            producer.send({
              topic: 't',
              messages: [
                { value: 'a', partition: 0 },
                { value: big, partition: 0 },
                { value: 'c', partition: 1 },
                { value: 'd', partition: 0, headers: { h: 'x' } },
              ],
            }),
            /larger than max\.request\.size/,
          );
          assert.deepEqual(fake.values('t', 0), ['a', 'd']);
          assert.deepEqual(fake.values('t', 1), ['c']);
          // A header too large for any request is one too (the size bound with headers).
          await assert.rejects(
            producer.send({ topic: 't', messages: [{ value: 'e', partition: 1 }, { value: 'f', partition: 1, headers: { h: big } }] }),
            /larger than max\.request\.size/,
          );
          assert.deepEqual(fake.values('t', 1), ['c', 'e']);
        } finally {
          await producer.disconnect();
        }
      } finally {
        restore();
      }
    });

    it('records buffer.memory cannot take yet wait in order, ahead of a later call', async () => {
      const { restore } = useBackend(name);
      try {
        fake = await FakeCluster.start({ brokers: 1, topics: [{ name: 't', partitions: 2 }] });
        const producer = new Kafka({ brokers: [fake.bootstrap], logLevel: 0 }).producer({
          'buffer.memory': 4096,
          'max.request.size': 4096,
        } as never);
        await producer.connect();
        try {
          const call = (tag: string, n: number) =>
            Array.from({ length: n }, (_, i) => ({ value: `${tag}${String(i).padStart(3, '0')}`.padEnd(100, '.'), partition: i % 2 }));
          // Two calls in one tick, each several times what buffer.memory holds.
          const [first, second] = await Promise.all([
            producer.send({ topic: 't', messages: call('a', 120) }),
            producer.send({ topic: 't', messages: call('b', 120) }),
          ]);
          assert.deepEqual(first.map((m) => [m.partition, m.baseOffset]), [
            [0, '0'],
            [1, '0'],
          ]);
          assert.deepEqual(second.map((m) => [m.partition, m.baseOffset]), [
            [0, '60'],
            [1, '60'],
          ]);
          const expected = (p: number) =>
            [...call('a', 120), ...call('b', 120)].filter((m) => m.partition === p).map((m) => m.value);
          assert.deepEqual(fake.values('t', 0), expected(0));
          assert.deepEqual(fake.values('t', 1), expected(1));
        } finally {
          await producer.disconnect();
        }
      } finally {
        restore();
      }
    });
  });
}
