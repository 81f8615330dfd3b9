/**
 * interceptor.classes against the fake cluster: onSend runs before serialization and
 * partitioning, in order, each seeing the previous one's record; onAcknowledgement runs once
 * per record, success or failure, before the record's callback; close() runs at close; every
 * exception in them is logged and no record is lost (Java's ProducerInterceptors).
 */
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { ConfigError } from '../../../ts/errors.js';
import type { ProducerInterceptor } from '../../../ts/producer/interceptors.js';
import { Producer, type ProducerRecord, type RecordMetadata } from '../../../ts/producer/producer.js';
import { ApiKey, ErrorCode, FakeCluster } from '../../helpers/fake-cluster.js';

let fake: FakeCluster | null = null;
const producers: Producer<any, any>[] = [];
afterEach(async () => {
  await Promise.all(producers.splice(0).map((p) => p.close({ timeoutMs: 1000 }).catch(() => undefined)));
  await fake?.stop();
  fake = null;
});

interface Logged {
  message: string;
  extra?: Record<string, unknown>;
}

async function setup(interceptors: ProducerInterceptor<any, any>[], extra: Record<string, unknown> = {}) {
  fake = await FakeCluster.start({ brokers: 1, topics: [{ name: 't', partitions: 3 }, { name: 'other', partitions: 1 }] });
  const logged: Logged[] = [];
  const p = new Producer(
    { 'bootstrap.servers': fake.bootstrap, 'linger.ms': 0, 'retry.backoff.ms': 10, 'interceptor.classes': interceptors, ...extra },
    { logger: { error: (message, extra) => logged.push({ message, extra }) } },
  );
  producers.push(p);
  return { p, logged, fake };
}

describe('interceptors', () => {
  it('onSend chains in order before serialization and partitioning; the record sent is the last one returned', async () => {
    const order: string[] = [];
    const { p, fake } = await setup(
      [
        {
          onSend: (r: ProducerRecord<string, string>) => {
            order.push(`a:${r.value}`);
            return { ...r, value: `${r.value}+a` };
          },
        },
        {
          onSend: (r: ProducerRecord<string, string>) => {
            order.push(`b:${r.value}`);
            // Changing topic and partition is allowed, as in Java.
            return { ...r, topic: 'other', partition: 0, value: `${r.value}+b`, headers: { via: 'b' } };
          },
        },
      ],
      { 'value.serializer': (v: string) => v.toUpperCase() },
    );
    const md = await p.send({ topic: 't', value: 'x' });
    assert.deepEqual(order, ['a:x', 'b:x+a']);
    assert.equal(md.topic, 'other');
    assert.equal(md.partition, 0);
    // The serializer saw the intercepted value.
    assert.deepEqual(fake.values('other', 0), ['X+A+B']);
    assert.equal(fake.records('other', 0)[0]!.headers[0]!.key, 'via');
  });

  it('onAcknowledgement: once per record, before its callback and promise; offset -1 on failure', async () => {
    const acks: [RecordMetadata, Error | null][] = [];
    const order: string[] = [];
    const { p, fake } = await setup([
      {
        onAcknowledgement: (md, err) => {
          acks.push([md, err]);
          order.push(`ack:${md.partition}`);
        },
      },
    ]);
    await p.send({ topic: 't', partition: 0, value: 'warm' });
    acks.length = 0;
    order.length = 0;
    const ok = p.send({ topic: 't', partition: 1, value: 'ok' }, () => order.push('callback'));
    await ok;
    assert.deepEqual(order, ['ack:1', 'callback']);
    fake.prepare(ApiKey.Produce, { errors: [{ topic: 't', partition: 2, errorCode: ErrorCode.TOPIC_AUTHORIZATION_FAILED }] });
    await assert.rejects(p.send({ topic: 't', partition: 2, value: 'refused' }));
    // Refused before it was appended (bad partition): heard of too (Java's onSendError).
    await assert.rejects(p.send({ topic: 't', partition: 9, value: 'bad' }));
    await assert.rejects(p.send({ topic: 't', value: 5 as never }));
    assert.equal(acks.length, 4);
    assert.equal(acks[0]![1], null);
    assert.ok(acks[0]![0].offset >= 0);
    assert.equal(acks[1]![0].offset, -1);
    assert.equal(acks[1]![0].partition, 2);
    assert.match(acks[1]![1]!.message, /authorized/i);
    assert.equal(acks[2]![0].offset, -1);
    assert.match(acks[2]![1]!.message, /Partition 9/);
    assert.equal(acks[3]![0].topic, 't');
    assert.equal(acks[3]![0].partition, -1);
  });

  it('exceptions are caught and logged: a throwing onSend leaves the record as the previous one made it; nothing is lost', async () => {
    let acked = 0;
    let closed = 0;
    const { p, fake, logged } = await setup([
      { onSend: (r: ProducerRecord<string, string>) => ({ ...r, value: `${r.value}!` }) },
      {
        onSend: () => {
          throw new Error('onSend broke');
        },
      },
      { onSend: () => 'not a record' as never },
      {
        onAcknowledgement: () => {
          throw new Error('onAcknowledgement broke');
        },
        close: () => {
          throw new Error('close broke');
        },
      },
      {
        onAcknowledgement: () => acked++,
        close: () => closed++,
      },
    ]);
    const mds = await Promise.all([0, 1, 2].map((i) => p.send({ topic: 't', partition: 0, value: `v${i}` })));
    assert.equal(mds.length, 3);
    assert.deepEqual(fake.values('t', 0), ['v0!', 'v1!', 'v2!']);
    assert.equal(acked, 3, 'the interceptor after a throwing one still runs');
    await p.close();
    await p.close();
    assert.equal(closed, 1, 'close() once');
    const messages = logged.map((l) => `${l.message} ${String(l.extra?.['message'])}`);
    assert.equal(messages.filter((m) => m.includes('onSend broke')).length, 3);
    assert.equal(messages.filter((m) => m.includes('not a record')).length, 3);
    assert.equal(messages.filter((m) => m.includes('onAcknowledgement broke')).length, 3);
    assert.equal(messages.filter((m) => m.includes('close broke')).length, 1);
    assert.ok(messages.every((m) => /interceptor \d \((onSend|onAcknowledgement|close)\)/.test(m)), messages.join('\n'));
  });

  it('bad interceptor.classes is a clear ConfigError at construction', () => {
    const make = (v: unknown) => () => new Producer({ 'bootstrap.servers': '127.0.0.1:1', 'interceptor.classes': v as never });
    assert.throws(make({}), (e: Error) => e instanceof ConfigError && /must be an array/.test(e.message));
    assert.throws(make([null]), /interceptor.classes\[0\] must be an object/);
    assert.throws(make([{ onSend: 'x' }]), /interceptor.classes\[0\].onSend must be a function/);
  });
});
