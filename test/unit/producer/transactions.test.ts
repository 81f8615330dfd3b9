/**
 * Transactions (issue 14) against the scripted fake cluster: the Java-style API and its state
 * machine (Java's TransactionManager), each request the producer sends and in which order,
 * what a read_committed reader would see (FakeCluster.committedValues), the group's committed
 * offsets, and the error classes: retriable coordinator errors retried, abortable ones leaving
 * only abortTransaction(), fatal ones failing every later call with themselves. The protocol
 * paths V1 (AddPartitionsToTxn, AddOffsetsToTxn) and V2 (KIP-890: Produce v12 adds partitions,
 * TxnOffsetCommit v5, EndTxn v5 bumps the epoch) both run: the fake offers either.
 */
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { ConfigError, KafkaJSProtocolError } from '../../../ts/errors.js';
import { Producer } from '../../../ts/producer/producer.js';
import { availableBackends, useBackend } from '../../helpers/backends.js';
import { ApiKey, ErrorCode, FakeCluster, waitFor, type FakeRequest, type ProduceRequestSummary } from '../../helpers/fake-cluster.js';
import { assertNoHandlesAbove, handleCounts } from '../../helpers/handles.js';

const open: { fake: FakeCluster; producers: Producer[] }[] = [];
/** Not in ErrorCode (a consumer-group error): the group coordinator's answer to a stale generation. */
const ILLEGAL_GENERATION = 22;

async function setup(transactionVersion: 1 | 2, brokers = 1): Promise<FakeCluster> {
  const fake = await FakeCluster.start({
    brokers,
    transactionVersion,
    topics: [
      { name: 't', partitions: 2 },
      { name: 'u', partitions: 1 },
    ],
  });
  open.push({ fake, producers: [] });
  return fake;
}

function producer(fake: FakeCluster, extra: Record<string, unknown> = {}): Producer {
  const p = new Producer({
    'bootstrap.servers': fake.bootstrap,
    'transactional.id': 'txn-1',
    'linger.ms': 0,
    'retry.backoff.ms': 10,
    'retry.backoff.max.ms': 50,
    'reconnect.backoff.ms': 10,
    'reconnect.backoff.max.ms': 50,
    'max.block.ms': 5000,
    'request.timeout.ms': 3000,
    'delivery.timeout.ms': 8000,
    ...extra,
  } as ConstructorParameters<typeof Producer>[0]);
  open.at(-1)!.producers.push(p);
  return p;
}

afterEach(async () => {
  for (const { fake, producers } of open.splice(0)) {
    await Promise.all(producers.map((p) => p.close({ timeoutMs: 1000 }).catch(() => undefined)));
    await fake.stop();
  }
});

/** The API names of the transactional and produce requests, in arrival order. */
function txnFlow(fake: FakeCluster): string[] {
  const keys = new Set<number>([
    ApiKey.FindCoordinator,
    ApiKey.InitProducerId,
    ApiKey.AddPartitionsToTxn,
    ApiKey.AddOffsetsToTxn,
    ApiKey.TxnOffsetCommit,
    ApiKey.EndTxn,
    ApiKey.Produce,
  ]);
  return fake.requests.filter((r) => keys.has(r.apiKey)).map((r) => r.apiName);
}

const produceRequests = (fake: FakeCluster) => fake.requestsOf(ApiKey.Produce) as FakeRequest<ProduceRequestSummary>[];

async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (err) {
    return err as Error;
  }
  assert.fail('expected a rejection');
}

describe('transactions: configuration and calls out of order', () => {
  it('transactional.id needs idempotence; a bad id or timeout is refused', () => {
    assert.throws(
      () => new Producer({ 'bootstrap.servers': '127.0.0.1:9', 'transactional.id': 'x', 'enable.idempotence': false }),
      (e: Error) => e instanceof ConfigError && /without also enabling idempotence/.test(e.message),
    );
    assert.throws(
      () => new Producer({ 'bootstrap.servers': '127.0.0.1:9', 'transactional.id': 'x', acks: 1 }),
      (e: Error) => e instanceof ConfigError && /acks must be all/.test(e.message),
    );
    assert.throws(() => new Producer({ 'bootstrap.servers': '127.0.0.1:9', 'transactional.id': '' }), ConfigError);
    assert.throws(
      () => new Producer({ 'bootstrap.servers': '127.0.0.1:9', 'transactional.id': 'x', 'transaction.timeout.ms': 0 }),
      ConfigError,
    );
  });

  it('transactional methods on a producer without transactional.id fail clearly', async () => {
    const p = new Producer({ 'bootstrap.servers': '127.0.0.1:9' });
    try {
      assert.throws(() => p.beginTransaction(), /without transactional.id/);
      assert.match((await rejection(p.initTransactions())).message, /without transactional.id/);
      assert.match((await rejection(p.commitTransaction())).message, /without transactional.id/);
    } finally {
      await p.close();
    }
  });

  it('send, begin and commit before initTransactions, and begin twice, are refused with the state named', async () => {
    const fake = await setup(2);
    const p = producer(fake);
    const early = await rejection(p.send({ topic: 't', partition: 0, value: 'x' }));
    assert.match(early.message, /Cannot send in state UNINITIALIZED/);
    assert.throws(() => p.beginTransaction(), /Cannot call beginTransaction\(\) in state UNINITIALIZED/);
    assert.match((await rejection(p.commitTransaction())).message, /in state UNINITIALIZED/);
    await p.initTransactions();
    assert.match((await rejection(p.send({ topic: 't', partition: 0, value: 'x' }))).message, /Cannot send in state READY/);
    p.beginTransaction();
    assert.throws(() => p.beginTransaction(), /in state IN_TRANSACTION/);
    assert.match((await rejection(p.initTransactions())).message, /in state IN_TRANSACTION/);
    await p.commitTransaction(); // nothing was sent: no EndTxn needed
    assert.equal(fake.requestsOf(ApiKey.EndTxn).length, 0);
    assert.equal(fake.requestsOf(ApiKey.Produce).length, 0);
  });

  it('bad offsets for sendOffsetsToTransaction are refused before any request', async () => {
    const fake = await setup(2);
    const p = producer(fake);
    await p.initTransactions();
    p.beginTransaction();
    const bad = await rejection(p.sendOffsetsToTransaction([{ topic: 't', partition: 0, offset: 'x' }], 'g'));
    assert.ok(bad instanceof ConfigError, bad.message);
    assert.ok((await rejection(p.sendOffsetsToTransaction([{ topic: 't', partition: 0, offset: 1 }], ''))) instanceof ConfigError);
    assert.equal(fake.requestsOf(ApiKey.TxnOffsetCommit).length, 0);
    await p.abortTransaction();
  });
});

for (const { name } of availableBackends()) {
  describe(`transactions, ${name} backend`, () => {
    let restore: () => void = () => undefined;
    const choose = () => (restore = useBackend(name).restore);
    afterEach(() => restore());

    it('V1: FindCoordinator, InitProducerId, one AddPartitionsToTxn per drain, AddOffsetsToTxn + TxnOffsetCommit, EndTxn(commit)', async () => {
      choose();
      const fake = await setup(1);
      const p = producer(fake);
      await p.initTransactions();
      const init = fake.requestsOf(ApiKey.InitProducerId)[0]!;
      assert.equal(init.body!.transactionalId, 'txn-1');
      assert.equal(init.body!.transactionTimeoutMs, 60000);
      assert.equal(fake.requestsOf(ApiKey.FindCoordinator)[0]!.body!.keyType, 1);

      p.beginTransaction();
      const sent = [
        p.send({ topic: 't', partition: 0, value: 'a' }),
        p.send({ topic: 't', partition: 1, value: 'b' }),
        p.send({ topic: 'u', partition: 0, value: 'c' }),
      ];
      await Promise.all(sent);
      await p.sendOffsetsToTransaction([{ topic: 'in', partition: 3, offset: 42 }], { groupId: 'g1' });
      await p.commitTransaction();

      // The three partitions were added in one request, before any Produce.
      const adds = fake.requestsOf(ApiKey.AddPartitionsToTxn);
      assert.equal(adds.length, 1);
      assert.deepEqual(
        adds[0]!.body!.topics.map((t) => `${t.name}:${t.partitions.join(',')}`).sort(),
        ['t:0,1', 'u:0'],
      );
      const flow = txnFlow(fake);
      assert.deepEqual(flow.slice(0, 4), ['FindCoordinator', 'InitProducerId', 'AddPartitionsToTxn', 'Produce']);
      // AddOffsetsToTxn to the transaction coordinator, then the group's coordinator is looked up.
      assert.deepEqual(flow.slice(-4), ['AddOffsetsToTxn', 'FindCoordinator', 'TxnOffsetCommit', 'EndTxn']);
      assert.equal(fake.requestsOf(ApiKey.FindCoordinator).at(-1)!.body!.keyType, 0);
      assert.equal(fake.requestsOf(ApiKey.AddOffsetsToTxn)[0]!.body!.groupId, 'g1');
      assert.ok(fake.requestsOf(ApiKey.TxnOffsetCommit)[0]!.apiVersion <= 4);
      const end = fake.requestsOf(ApiKey.EndTxn)[0]!;
      assert.equal(end.body!.committed, true);
      assert.ok(end.apiVersion <= 4);
      for (const r of produceRequests(fake)) {
        assert.equal(r.apiVersion, 11, 'V1 keeps Produce below v12');
        assert.equal(r.body!.transactionalId, 'txn-1');
        for (const part of r.body!.partitions) for (const b of part.batches) assert.equal(b.transactional, true);
      }
      assert.deepEqual(fake.committedValues('t', 0), ['a']);
      assert.deepEqual(fake.committedValues('t', 1), ['b']);
      assert.deepEqual(fake.committedValues('u', 0), ['c']);
      assert.deepEqual(fake.committedOffsets('g1'), { 'in:3': 42 });

      // V1: the next transaction keeps the epoch and the sequences go on.
      p.beginTransaction();
      await p.send({ topic: 't', partition: 0, value: 'd' });
      await p.commitTransaction();
      const batches = fake.log('t', 0);
      assert.deepEqual(batches.map((b) => [b.epoch, b.baseSequence]), [[0, 0], [0, 1]]);
      assert.deepEqual(fake.committedValues('t', 0), ['a', 'd']);
      assert.equal(fake.requestsOf(ApiKey.AddPartitionsToTxn).length, 2, 'each transaction adds its partitions again');
    });

    it('V2 (KIP-890): no AddPartitionsToTxn or AddOffsetsToTxn, Produce v12, TxnOffsetCommit v5, EndTxn v5 bumps the epoch', async () => {
      choose();
      const fake = await setup(2);
      const p = producer(fake);
      await p.initTransactions();
      p.beginTransaction();
      await Promise.all([p.send({ topic: 't', partition: 0, value: 'a' }), p.send({ topic: 't', partition: 1, value: 'b' })]);
      await p.sendOffsetsToTransaction([{ topic: 'in', partition: 0, offset: 7n, metadata: 'm' }], 'g2');
      await p.commitTransaction();
      assert.equal(fake.requestsOf(ApiKey.AddPartitionsToTxn).length, 0);
      assert.equal(fake.requestsOf(ApiKey.AddOffsetsToTxn).length, 0);
      assert.ok(produceRequests(fake).every((r) => r.apiVersion === 12));
      assert.equal(fake.requestsOf(ApiKey.TxnOffsetCommit)[0]!.apiVersion, 5);
      assert.equal(fake.requestsOf(ApiKey.EndTxn)[0]!.apiVersion, 5);
      assert.deepEqual(fake.committedOffsets('g2'), { 'in:0': 7 });
      assert.deepEqual(fake.committedValues('t', 0), ['a']);

      // The coordinator bumped the epoch: the next transaction writes epoch 1 from sequence 0.
      p.beginTransaction();
      await p.send({ topic: 't', partition: 0, value: 'c' });
      await p.commitTransaction();
      assert.deepEqual(fake.log('t', 0).map((b) => [b.epoch, b.baseSequence]), [[0, 0], [1, 0]]);
      const ends = fake.requestsOf(ApiKey.EndTxn);
      assert.deepEqual(ends.map((r) => r.body!.producerEpoch), [0, 1]);
      assert.deepEqual(fake.committedValues('t', 0), ['a', 'c']);
    });

    for (const tv of [1, 2] as const) {
      it(`V${tv}: abortTransaction — the records and offsets never become visible; the next transaction commits`, async () => {
        choose();
        const fake = await setup(tv);
        const p = producer(fake);
        await p.initTransactions();
        p.beginTransaction();
        await p.send({ topic: 't', partition: 0, value: 'aborted-1' });
        await p.sendOffsetsToTransaction([{ topic: 'in', partition: 0, offset: 5 }], 'g');
        await p.abortTransaction();
        assert.equal(fake.requestsOf(ApiKey.EndTxn)[0]!.body!.committed, false);
        assert.deepEqual(fake.values('t', 0), ['aborted-1'], 'a read_uncommitted reader sees it');
        assert.deepEqual(fake.committedValues('t', 0), [], 'a read_committed reader does not');
        assert.deepEqual(fake.committedOffsets('g'), {});

        p.beginTransaction();
        await p.send({ topic: 't', partition: 0, value: 'committed-2' });
        await p.commitTransaction();
        assert.deepEqual(fake.committedValues('t', 0), ['committed-2']);
        assert.deepEqual(fake.transaction('txn-1')!.outcomes, ['abort', 'commit']);
      });

      it(`V${tv}: records not yet sent when abortTransaction() is called fail with TRANSACTION_ABORTED and are never written`, async () => {
        choose();
        const fake = await setup(tv);
        const p = producer(fake, { 'linger.ms': 60000, 'batch.size': 1000000, 'delivery.timeout.ms': 120000 });
        await p.initTransactions();
        p.beginTransaction();
        const pending = p.send({ topic: 't', partition: 0, value: 'never' });
        await p.abortTransaction();
        const err = await rejection(pending);
        assert.equal((err as { code?: string }).code, 'TRANSACTION_ABORTED');
        assert.equal(fake.requestsOf(ApiKey.Produce).length, 0);
        assert.deepEqual(fake.values('t', 0), []);
      });

      it(`V${tv}: retriable coordinator errors are retried (COORDINATOR_NOT_AVAILABLE, NOT_COORDINATOR, CONCURRENT_TRANSACTIONS, COORDINATOR_LOAD_IN_PROGRESS)`, async () => {
        choose();
        const fake = await setup(tv, 2);
        fake.prepare(ApiKey.FindCoordinator, { errorCode: ErrorCode.COORDINATOR_NOT_AVAILABLE });
        fake.prepare(ApiKey.InitProducerId, { errorCode: ErrorCode.COORDINATOR_LOAD_IN_PROGRESS });
        fake.prepare(ApiKey.InitProducerId, { errorCode: ErrorCode.CONCURRENT_TRANSACTIONS });
        const p = producer(fake);
        await p.initTransactions();
        assert.equal(fake.requestsOf(ApiKey.InitProducerId).length, 3);
        p.beginTransaction();
        if (tv === 1) fake.prepare(ApiKey.AddPartitionsToTxn, { errorCode: ErrorCode.CONCURRENT_TRANSACTIONS });
        await p.send({ topic: 't', partition: 0, value: 'v' });
        // The coordinator moves: the old one answers NOT_COORDINATOR, the producer finds the new one.
        fake.setCoordinator(1);
        fake.prepare(ApiKey.EndTxn, { node: 1, errorCode: ErrorCode.CONCURRENT_TRANSACTIONS });
        await p.commitTransaction();
        const ends = fake.requestsOf(ApiKey.EndTxn);
        assert.deepEqual(ends.map((r) => r.nodeId), [0, 1, 1], 'NOT_COORDINATOR from 0, CONCURRENT_TRANSACTIONS from 1, then done');
        assert.equal(fake.requestsOf(ApiKey.FindCoordinator).length, 3);
        if (tv === 1) assert.equal(fake.requestsOf(ApiKey.AddPartitionsToTxn).length, 2);
        assert.deepEqual(fake.committedValues('t', 0), ['v']);
        assert.deepEqual(fake.pendingScripts(), []);
      });

      it(`V${tv}: an abortable error (TxnOffsetCommit ILLEGAL_GENERATION) leaves only abortTransaction(); after it the producer goes on`, async () => {
        choose();
        const fake = await setup(tv);
        const p = producer(fake);
        await p.initTransactions();
        p.beginTransaction();
        await p.send({ topic: 't', partition: 0, value: 'x' });
        fake.prepare(ApiKey.TxnOffsetCommit, { errorCode: ILLEGAL_GENERATION });
        const err = await rejection(p.sendOffsetsToTransaction([{ topic: 'in', partition: 0, offset: 1 }], { groupId: 'g', generationId: 3, memberId: 'm' }));
        assert.ok(err instanceof KafkaJSProtocolError && err.type === 'ILLEGAL_GENERATION', err.message);
        const req = fake.requestsOf(ApiKey.TxnOffsetCommit)[0]!;
        assert.equal(req.body!.generationId, 3);
        assert.equal(req.body!.memberId, 'm');
        const send = await rejection(p.send({ topic: 't', partition: 0, value: 'y' }));
        assert.match(send.message, /only abortTransaction\(\) is allowed/);
        assert.match((await rejection(p.commitTransaction())).message, /only abortTransaction\(\) is allowed/);
        assert.throws(() => p.beginTransaction(), /only abortTransaction\(\) is allowed/);
        await p.abortTransaction();
        assert.deepEqual(fake.committedValues('t', 0), []);
        p.beginTransaction();
        await p.send({ topic: 't', partition: 0, value: 'z' });
        await p.commitTransaction();
        assert.deepEqual(fake.committedValues('t', 0), ['z']);
      });

      it(`V${tv}: a second producer with the same transactional.id fences the first: PRODUCER_FENCED-class errors are fatal for every later call`, async () => {
        choose();
        const fake = await setup(tv);
        const first = producer(fake);
        await first.initTransactions();
        first.beginTransaction();
        await first.send({ topic: 't', partition: 0, value: 'zombie-1' });
        const second = producer(fake);
        await second.initTransactions(); // bumps the epoch and aborts the first one's transaction
        assert.deepEqual(fake.transaction('txn-1')!.outcomes, ['abort']);
        const fenced = await rejection(first.send({ topic: 't', partition: 1, value: 'zombie-2' }));
        assert.ok(fenced instanceof KafkaJSProtocolError, fenced.message);
        assert.ok(['INVALID_PRODUCER_EPOCH', 'PRODUCER_FENCED'].includes(fenced.type), fenced.type);
        // Every later call fails with that same error.
        assert.equal(await rejection(first.commitTransaction()), fenced);
        assert.equal(await rejection(first.abortTransaction()), fenced);
        assert.equal(await rejection(first.send({ topic: 't', partition: 0, value: 'zombie-3' })), fenced);
        assert.throws(() => first.beginTransaction(), (e: unknown) => e === fenced);
        // The new instance works.
        second.beginTransaction();
        await second.send({ topic: 't', partition: 0, value: 'new' });
        await second.commitTransaction();
        assert.deepEqual(fake.committedValues('t', 0), ['new']);
        assert.deepEqual(fake.committedValues('t', 1), []);
      });
    }

    it('V1: EndTxn answered PRODUCER_FENCED is fatal; TRANSACTIONAL_ID_AUTHORIZATION_FAILED at init is fatal', async () => {
      choose();
      const fake = await setup(1);
      const p = producer(fake);
      await p.initTransactions();
      p.beginTransaction();
      await p.send({ topic: 't', partition: 0, value: 'x' });
      fake.prepare(ApiKey.EndTxn, { errorCode: ErrorCode.PRODUCER_FENCED });
      const err = await rejection(p.commitTransaction());
      assert.ok(err instanceof KafkaJSProtocolError && err.type === 'PRODUCER_FENCED');
      assert.equal(await rejection(p.abortTransaction()), err);

      fake.prepare(ApiKey.InitProducerId, { errorCode: ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED });
      const q = producer(fake, { 'transactional.id': 'forbidden' });
      const denied = await rejection(q.initTransactions());
      assert.ok(denied instanceof KafkaJSProtocolError && denied.type === 'TRANSACTIONAL_ID_AUTHORIZATION_FAILED');
      assert.equal(await rejection(q.initTransactions()), denied);
      assert.equal(await rejection(q.send({ topic: 't', value: 'x' })), denied);
    });

    it('V1: a failed AddPartitionsToTxn (TOPIC_AUTHORIZATION_FAILED) fails the record and makes the transaction abortable', async () => {
      choose();
      const fake = await setup(1);
      const p = producer(fake);
      await p.initTransactions();
      p.beginTransaction();
      fake.prepare(ApiKey.AddPartitionsToTxn, { errorCode: ErrorCode.TOPIC_AUTHORIZATION_FAILED });
      const err = await rejection(p.send({ topic: 't', partition: 0, value: 'x' }));
      assert.equal((err as KafkaJSProtocolError).type, 'TOPIC_AUTHORIZATION_FAILED');
      assert.match((await rejection(p.commitTransaction())).message, /only abortTransaction/);
      await p.abortTransaction();
      assert.equal(fake.requestsOf(ApiKey.Produce).length, 0);
      // Nothing was added to the transaction: the abort needs no EndTxn.
      assert.equal(fake.requestsOf(ApiKey.EndTxn).length, 0);
    });

    it('a batch failing for good in a transaction (TOPIC_AUTHORIZATION_FAILED on Produce) makes it abortable; abort, then the producer goes on', async () => {
      choose();
      const fake = await setup(2);
      const p = producer(fake);
      await p.initTransactions();
      p.beginTransaction();
      fake.prepare(ApiKey.Produce, { errors: [{ topic: 't', partition: 0, errorCode: ErrorCode.TOPIC_AUTHORIZATION_FAILED }] });
      const failed = await rejection(p.send({ topic: 't', partition: 0, value: 'refused' }));
      assert.equal((failed as KafkaJSProtocolError).type, 'TOPIC_AUTHORIZATION_FAILED');
      const commit = await rejection(p.commitTransaction());
      assert.match(commit.message, /only abortTransaction\(\) is allowed/);
      assert.equal((commit as { cause?: unknown }).cause, failed, 'the refusal carries the error behind it');
      await p.abortTransaction();
      p.beginTransaction();
      await p.send({ topic: 't', partition: 0, value: 'ok' });
      await p.commitTransaction();
      assert.deepEqual(fake.committedValues('t', 0), ['ok']);
    });

    it('commitTransaction() past max.block.ms rejects with a timeout; called again it waits for the same commit (one EndTxn)', async () => {
      choose();
      const fake = await setup(2);
      const p = producer(fake, { 'max.block.ms': 300 });
      await p.initTransactions();
      p.beginTransaction();
      await p.send({ topic: 't', partition: 0, value: 'slow' });
      const held = fake.prepare(ApiKey.EndTxn, { hold: true })!;
      const first = await rejection(p.commitTransaction());
      assert.equal((first as { code?: string }).code, 'TRANSACTION_TIMEOUT');
      assert.match((await rejection(p.abortTransaction())).message, /while commitTransaction\(\) is still in progress/);
      assert.throws(() => p.beginTransaction(), /still in progress/);
      const again = p.commitTransaction();
      held.release();
      await again;
      assert.equal(fake.requestsOf(ApiKey.EndTxn).length, 1);
      assert.deepEqual(fake.committedValues('t', 0), ['slow']);
      p.beginTransaction(); // READY again
      await p.abortTransaction();
    });

    it('a transaction left open by a producer that vanished is aborted by the next initTransactions', async () => {
      choose();
      const fake = await setup(2);
      const crashed = producer(fake);
      await crashed.initTransactions();
      crashed.beginTransaction();
      await crashed.send({ topic: 't', partition: 0, value: 'left-open' });
      await crashed.close({ timeoutMs: 0 }); // no flush, no abort: as if killed
      assert.equal(fake.requestsOf(ApiKey.EndTxn).length, 0);
      assert.equal(fake.transaction('txn-1')!.state, 'Ongoing');
      const next = producer(fake);
      await next.initTransactions();
      assert.deepEqual(fake.transaction('txn-1')!.outcomes, ['abort']);
      assert.deepEqual(fake.values('t', 0), ['left-open']);
      assert.deepEqual(fake.committedValues('t', 0), []);
    });

    it('close() with a transaction open aborts it (as the Java producer does) and leaves no socket or timer', async () => {
      choose();
      const baseline = handleCounts();
      const fake = await setup(2);
      const p = producer(fake);
      await p.initTransactions();
      p.beginTransaction();
      await p.send({ topic: 't', partition: 0, value: 'open' });
      await p.close();
      assert.equal(fake.requestsOf(ApiKey.EndTxn).length, 1);
      assert.equal(fake.requestsOf(ApiKey.EndTxn)[0]!.body!.committed, false);
      assert.deepEqual(fake.committedValues('t', 0), []);
      await waitFor(() => fake.connections().length === 0);
      await fake.stop();
      open.pop();
      await assertNoHandlesAbove(baseline);
    });

    it('a transactional call still waiting for its coordinator when close() is called rejects with ProducerClosedError', async () => {
      choose();
      const fake = await setup(2);
      const held = fake.prepare(ApiKey.FindCoordinator, { hold: true })!;
      const p = producer(fake);
      const init = rejection(p.initTransactions());
      await held.received;
      await p.close({ timeoutMs: 100 });
      held.release();
      const err = await init;
      assert.equal((err as { code?: string }).code, 'PRODUCER_CLOSED', err.message);
    });
  });
}
