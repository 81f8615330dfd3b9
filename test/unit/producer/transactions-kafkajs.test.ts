/**
 * The KafkaJS facade's producer.transaction() against the scripted fake cluster: KafkaJS's
 * errors, one transaction at a time, and the rule that a transactional producer sends only
 * through its transaction (it has one producer id: a send beside the transaction would be
 * part of it). The side-by-side check against KafkaJS itself is
 * test/integration/transactions-kafkajs.test.ts.
 */
import assert from 'node:assert/strict';
import { afterEach, it } from 'node:test';
import { Kafka, logLevel } from '../../../ts/kafkajs/index.js';
import { ApiKey, FakeCluster } from '../../helpers/fake-cluster.js';

let fake: FakeCluster | null = null;
afterEach(async () => {
  await fake?.stop();
  fake = null;
});

const kafka = (f: FakeCluster) => new Kafka({ clientId: 't', brokers: [f.bootstrap], logLevel: logLevel.NOTHING, retry: { retries: 2, initialRetryTime: 10 } });

it('producer.transaction(): send, sendOffsets, commit; KafkaJS errors for misuse; no send beside the transaction', async () => {
  fake = await FakeCluster.start({ transactionVersion: 2, topics: [{ name: 't', partitions: 1 }, { name: 'in', partitions: 1 }] });
  const k = kafka(fake);
  const plain = k.producer();
  await plain.connect();
  await assert.rejects(plain.transaction(), { name: 'KafkaJSNonRetriableError', message: 'Must provide transactional id for transactional producer' });
  await plain.disconnect();

  const p = k.producer({ transactionalId: 'kjs-1', maxInFlightRequests: 1, idempotent: true });
  assert.equal(p.isIdempotent(), true);
  await p.connect();
  await assert.rejects(p.send({ topic: 't', messages: [{ value: 'outside' }] }), /sends inside transactions: call producer.transaction\(\)/);
  const txn = await p.transaction();
  assert.equal(txn.isActive(), true);
  await assert.rejects(p.transaction(), { message: 'There is already an ongoing transaction for this producer. Please end the transaction before beginning another.' });
  await assert.rejects(p.send({ topic: 't', messages: [{ value: 'beside' }] }), /Cannot send outside the ongoing transaction/);
  const md = await txn.send({ topic: 't', messages: [{ value: 'inside' }] });
  assert.equal(md[0]!.errorCode, 0);
  await assert.rejects(txn.send({ topic: 't', acks: 1, messages: [{ value: 'acks1' }] }), /invalidates the idempotent producer's EoS guarantees/);
  await assert.rejects(txn.sendOffsets({ consumerGroupId: '', topics: [] }), { message: 'Missing consumerGroupId' });
  await txn.sendOffsets({ consumerGroupId: 'g', topics: [{ topic: 'in', partitions: [{ partition: 0, offset: '12' }] }] });
  await txn.commit();
  assert.equal(txn.isActive(), false);
  await assert.rejects(txn.commit(), { name: 'KafkaJSNonRetriableError', message: 'Cannot continue to use transaction once ended' });
  assert.deepEqual(fake.committedValues('t', 0), ['inside']);
  assert.deepEqual(fake.committedOffsets('g'), { 'in:0': 12 });

  // The next transaction reuses the producer id (one InitProducerId); disconnect aborts one left open.
  const t2 = await p.transaction();
  await t2.send({ topic: 't', messages: [{ value: 'left-open' }] });
  await p.disconnect();
  assert.equal(t2.isActive(), false);
  assert.equal(fake.requestsOf(ApiKey.InitProducerId).length, 1);
  assert.deepEqual(fake.transaction('kjs-1')!.outcomes, ['commit', 'abort']);
  assert.deepEqual(fake.committedValues('t', 0), ['inside']);
});
