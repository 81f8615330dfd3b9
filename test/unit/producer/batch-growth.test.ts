/**
 * A batch keeps growing while its partition cannot be sent (issue 16). The Java-style
 * producer keeps Java's batch.size (16384): its records come one send() at a time, so the
 * records of a partition whose leader has every in-flight slot taken, or whose retries wait,
 * used to queue up as one 16 KB batch after another, each to go in a request of its own.
 * Now the waiting batch takes them, up to max.request.size, and goes out as one; so does a
 * batch queued behind another of its partition (a request carries one batch per partition).
 * A partition that can be sent still has its first batch cut at batch.size, and a lone
 * awaited send goes out alone. Checked on the wire of the scripted fake broker, on every
 * backend.
 */
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Producer } from '../../../ts/producer/producer.js';
import { availableBackends, useBackend } from '../../helpers/backends.js';
import { ApiKey, ErrorCode, FakeCluster, waitFor, type FakeBatchSummary, type ProduceRequestSummary } from '../../helpers/fake-cluster.js';

const VALUE = 'x'.repeat(100);
const BATCH_SIZE = 16384;

/** Each Produce request's batches for t/0, in request order. */
function batchesPerRequest(fake: FakeCluster): FakeBatchSummary[][] {
  return fake
    .requestsOf(ApiKey.Produce)
    .map((r) => (r.body as ProduceRequestSummary).partitions.filter((p) => p.topic === 't' && p.partition === 0))
    .filter((ps) => ps.length > 0)
    .map((ps) => ps.flatMap((p) => p.batches));
}
const counts = (fake: FakeCluster) => batchesPerRequest(fake).map((bs) => bs.map((b) => b.recordCount));

let fake: FakeCluster | null = null;
let producer: Producer | null = null;
afterEach(async () => {
  await producer?.close({ timeoutMs: 1000 }).catch(() => undefined);
  await fake?.stop();
  producer = null;
  fake = null;
});

async function setup(extra: Record<string, unknown> = {}): Promise<{ fake: FakeCluster; p: Producer }> {
  fake = await FakeCluster.start({ brokers: 1, topics: [{ name: 't', partitions: 1 }] });
  // Java's defaults for batching (batch.size 16384); linger.ms 0 so the first record goes at once.
  producer = new Producer({
    'bootstrap.servers': fake.bootstrap,
    'linger.ms': 0,
    'retry.backoff.ms': 1000,
    'retry.backoff.max.ms': 1000,
    ...extra,
  } as ConstructorParameters<typeof Producer>[0]);
  return { fake, p: producer };
}

/** n records to t/0, one send() each (one accumulator append each), all in this tick. */
const sendMany = (p: Producer, n: number, from: number) =>
  Array.from({ length: n }, (_, i) => p.send({ topic: 't', partition: 0, value: `${from + i}:${VALUE}` }));

const expectedValues = (n: number) => Array.from({ length: n }, (_, i) => `${i}:${VALUE}`);

for (const { name } of availableBackends()) {
  describe(`a blocked partition's batch grows, ${name} backend`, () => {
    let restore: () => void = () => undefined;
    afterEach(() => restore());

    it('records sent while the only request slot is taken go out as one batch past batch.size', async () => {
      restore = useBackend(name).restore;
      const { fake, p } = await setup({ 'max.in.flight.requests.per.connection': 1 });
      const held = fake.prepare(ApiKey.Produce, { hold: true });
      const first = p.send({ topic: 't', partition: 0, value: `0:${VALUE}` });
      await held.received;
      // ~70 KB of records, one send() each, while the slot is busy.
      const later = sendMany(p, 600, 1);
      held.release();
      await Promise.all([first, ...later]);
      const requests = batchesPerRequest(fake);
      assert.deepEqual(counts(fake), [[1], [600]]);
      const grown = requests[1]![0]!;
      assert.ok(grown.sizeInBytes > 4 * BATCH_SIZE && grown.sizeInBytes <= 1048576, `${grown.sizeInBytes} bytes`);
      assert.ok(grown.crcValid);
      // Idempotent (the default): the grown batch's sequence follows the first one's.
      assert.deepEqual(requests.map((bs) => bs[0]!.baseSequence), [0, 1]);
      assert.deepEqual(fake.values('t', 0), expectedValues(601));
    });

    it('records sent while the partition waits to retry join one batch behind the retry', async () => {
      restore = useBackend(name).restore;
      const { fake, p } = await setup();
      fake.prepare(ApiKey.Produce, { errors: [{ topic: 't', errorCode: ErrorCode.NOT_ENOUGH_REPLICAS }] });
      const first = p.send({ topic: 't', partition: 0, value: `0:${VALUE}` });
      await waitFor(() => fake.requestsOf(ApiKey.Produce).length === 1, 5000, 'the first Produce');
      // The error is handled well within the retry backoff (800 ms at least, with jitter).
      await sleep(100);
      const later = sendMany(p, 600, 1);
      await Promise.all([first, ...later]);
      // The first attempt, its retry, then everything sent meanwhile as one batch.
      assert.deepEqual(counts(fake), [[1], [1], [600]]);
      assert.deepEqual(fake.values('t', 0), expectedValues(601));
    });

    it('a partition that can be sent gets its first batch cut at batch.size; the records queued behind it are one batch', async () => {
      restore = useBackend(name).restore;
      const { fake, p } = await setup();
      await p.send({ topic: 't', partition: 0, value: `0:${VALUE}` });
      // All appended before the sender runs, with every request slot free: the first batch
      // closes at batch.size (it goes in the next request), the rest could not go in that
      // request (one batch per partition) and waits behind it as one batch.
      await Promise.all(sendMany(p, 600, 1));
      const requests = batchesPerRequest(fake).slice(1);
      assert.equal(requests.length, 2);
      const [head, behind] = requests.map((bs) => bs[0]!);
      assert.ok(head!.sizeInBytes <= BATCH_SIZE, `a first batch of ${head!.sizeInBytes} bytes`);
      assert.ok(behind!.sizeInBytes > BATCH_SIZE, `a second batch of ${behind!.sizeInBytes} bytes`);
      assert.equal(head!.recordCount + behind!.recordCount, 600);
      assert.deepEqual(fake.values('t', 0), expectedValues(601));
    });

    it('a lone awaited send still goes out on its own', async () => {
      restore = useBackend(name).restore;
      const { fake, p } = await setup();
      for (let i = 0; i < 5; i++) await p.send({ topic: 't', partition: 0, value: `${i}:${VALUE}` });
      assert.deepEqual(counts(fake), [[1], [1], [1], [1], [1]]);
    });
  });
}
