/**
 * The failure path of issue 8, each defect as an exact sequence against the scripted fake
 * cluster (test/helpers/fake-cluster.ts): which request fails how, in which order, and the
 * outcome per record. Every test runs on every backend. Each one failed on the code before its
 * fix (the numbering is in the test names).
 */
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Kafka } from '../../../ts/kafkajs/index.js';
import { Producer, type RecordMetadata } from '../../../ts/producer/producer.js';
import { availableBackends, useBackend } from '../../helpers/backends.js';
import { ApiKey, ErrorCode, FakeCluster, waitFor } from '../../helpers/fake-cluster.js';

const backends = availableBackends();


interface Logged {
  message: string;
  extra?: Record<string, unknown>;
}

const open: { fake: FakeCluster; producers: Producer[] }[] = [];

async function setup(
  opts: { partitions?: number; brokers?: number; unknownProducerSequence?: 'accept' | 'out-of-order' } = {},
): Promise<FakeCluster> {
  const fake = await FakeCluster.start({
    brokers: opts.brokers ?? 1,
    topics: [{ name: 't', partitions: opts.partitions ?? 1 }],
    unknownProducerSequence: opts.unknownProducerSequence,
  });
  open.push({ fake, producers: [] });
  return fake;
}

function producer(fake: FakeCluster, extra: Record<string, unknown> = {}, logged?: Logged[]): Producer {
  const p = new Producer(
    {
      'bootstrap.servers': fake.bootstrap,
      'linger.ms': 0,
      'retry.backoff.ms': 10,
      'retry.backoff.max.ms': 50,
      'reconnect.backoff.ms': 10,
      'reconnect.backoff.max.ms': 50,
      'max.block.ms': 5000,
      'request.timeout.ms': 3000,
      'delivery.timeout.ms': 8000,
      ...extra,
    } as ConstructorParameters<typeof Producer>[0],
    logged ? { logger: { error: (message, extra) => logged.push({ message, extra }) } } : {},
  );
  open.at(-1)!.producers.push(p);
  return p;
}

afterEach(async () => {
  for (const { fake, producers } of open.splice(0)) {
    await Promise.all(producers.map((p) => p.close({ timeoutMs: 1000 }).catch(() => undefined)));
    await fake.stop();
  }
});

const values = (fake: FakeCluster, partition = 0): string[] => fake.values('t', partition).map((v) => v ?? '');

for (const { name } of backends) {
  describe(`failure path, ${name} backend`, () => {
    let restore: () => void = () => undefined;
    // Producers are created inside each test, after the backend is chosen.
    const choose = () => (restore = useBackend(name).restore);
    afterEach(() => restore());

    it('idempotence is on by default: InitProducerId, then consecutive sequences per partition', async () => {
      choose();
      const fake = await setup();
      const p = producer(fake);
      assert.equal(p.isIdempotent(), true);
      for (let i = 0; i < 3; i++) {
        await Promise.all([0, 1, 2].map((j) => p.send({ topic: 't', partition: 0, value: `v${i * 3 + j}` })));
      }
      assert.equal(fake.requests.filter((r) => r.apiKey === ApiKey.InitProducerId).length, 1);
      const log = fake.log('t', 0);
      assert.ok(log.every((b) => b.producerId >= 1000 && b.epoch === 0));
      let next = 0;
      for (const b of log) {
        assert.equal(b.baseSequence, next);
        next += b.records.length;
      }
      assert.deepEqual(values(fake), ['v0', 'v1', 'v2', 'v3', 'v4', 'v5', 'v6', 'v7', 'v8']);
      // Conflicting settings turn it off when it was not asked for, and are refused when it was.
      assert.equal(producer(fake, { acks: 1 }).isIdempotent(), false);
      assert.throws(() => producer(fake, { acks: 1, 'enable.idempotence': true }), /enable.idempotence=true needs acks must be all/);
    });

    it('(1) a send callback that throws is logged; the other records settle, flush and close return', async () => {
      choose();
      const fake = await setup();
      const logged: Logged[] = [];
      const p = producer(fake, { 'linger.ms': 50 }, logged);
      const seen: number[] = [];
      const sends = [0, 1, 2].map((i) =>
        p.send({ topic: 't', partition: 0, value: `v${i}` }, () => {
          seen.push(i);
          if (i === 0) throw new Error('boom from a callback');
        }),
      );
      const results = await Promise.all(sends);
      assert.deepEqual(results.map((r) => r.offset), [0, 1, 2]);
      assert.deepEqual(seen, [0, 1, 2]);
      await p.flush();
      assert.equal(logged.length, 1);
      assert.match(String(logged[0]!.extra?.['message']), /boom from a callback/);
    });

    it('(4) flush() waits for the records sent before it, not for steady sends after it', async () => {
      choose();
      const fake = await setup();
      const p = producer(fake, { 'linger.ms': 20 });
      // Answers take 20 ms, sends come every millisecond: some record is always pending.
      fake.onRequest(ApiKey.Produce, () => ({ delayMs: 20 }));
      const first = p.send({ topic: 't', partition: 0, value: 'before' });
      let stop = false;
      const later: Promise<RecordMetadata>[] = [];
      const pump = (async () => {
        while (!stop) {
          later.push(p.send({ topic: 't', partition: 0, value: 'after' }));
          await sleep(1);
        }
      })();
      const outcome = await Promise.race([p.flush().then(() => 'flushed'), sleep(4000).then(() => 'still waiting')]);
      stop = true;
      await pump;
      assert.equal(outcome, 'flushed');
      assert.equal((await first).offset, 0);
      await Promise.all(later);
    });

    it('(5) MESSAGE_TOO_LARGE splits the batch and resends the halves, in order, each record once', async () => {
      choose();
      const fake = await setup();
      const p = producer(fake, { 'linger.ms': 100 });
      fake.prepare(ApiKey.Produce, { errors: [{ topic: 't', errorCode: ErrorCode.MESSAGE_TOO_LARGE }] });
      fake.prepare(ApiKey.Produce, { errors: [{ topic: 't', errorCode: ErrorCode.MESSAGE_TOO_LARGE }] });
      const sends = Array.from({ length: 10 }, (_, i) => p.send({ topic: 't', partition: 0, value: `v${i}` }));
      const md = await Promise.all(sends);
      assert.deepEqual(values(fake), Array.from({ length: 10 }, (_, i) => `v${i}`));
      assert.deepEqual(md.map((m) => m.offset), Array.from({ length: 10 }, (_, i) => i));
      assert.ok(fake.log('t', 0).length >= 3, 'sent as smaller batches');
      // A single record that is too large fails alone, with the broker's error.
      fake.prepare(ApiKey.Produce, { errors: [{ topic: 't', errorCode: ErrorCode.MESSAGE_TOO_LARGE }] });
      await assert.rejects(p.send({ topic: 't', partition: 0, value: 'big' }), { type: 'MESSAGE_TOO_LARGE' });
      assert.equal((await p.send({ topic: 't', partition: 0, value: 'next' })).offset, 10);
    });

    it('(6) delivery.timeout.ms is an upper bound, with a retry in flight', async () => {
      choose();
      const fake = await setup();
      const p = producer(fake, { 'request.timeout.ms': 1000, 'delivery.timeout.ms': 1500 });
      await p.send({ topic: 't', partition: 0, value: 'warm' });
      // Every Produce from now on is read and never answered.
      fake.onRequest(ApiKey.Produce, () => ({ noResponse: true }));
      const t0 = Date.now();
      const err = await p.send({ topic: 't', partition: 0, value: 'v' }).then(
        () => null,
        (e: Error & { code?: string }) => e,
      );
      const took = Date.now() - t0;
      assert.equal(err?.code, 'DELIVERY_TIMEOUT');
      // The second attempt's request would time out at ~2 s; the record must fail at 1.5 s.
      assert.ok(took < 1900, `failed after ${took} ms`);
    });

    it('(6) delivery.timeout.ms fails a batch that never left the accumulator', async () => {
      choose();
      const fake = await setup();
      const p = producer(fake, { 'max.in.flight.requests.per.connection': 1, 'request.timeout.ms': 1500, 'delivery.timeout.ms': 1500 });
      await p.send({ topic: 't', partition: 0, value: 'warm' });
      // The next Produce is read and never answered: with one request in flight, the second
      // record's batch waits in the accumulator until delivery.timeout.ms fails it there.
      fake.onRequest(ApiKey.Produce, () => ({ noResponse: true }));
      // The first request's timeout (request.timeout.ms, as long as the delivery timeout)
      // closes its connection a few ms before the second batch is due to expire; a new
      // connection is then never made ready (its ApiVersions goes unanswered), so the slot that
      // timeout frees cannot carry the second batch out in that window on a loaded machine.
      fake.onRequest(ApiKey.ApiVersions, () => ({ noResponse: true }));
      const written = fake.nextRequest(ApiKey.Produce);
      const first = p.send({ topic: 't', partition: 0, value: 'a' }).catch((e: Error) => e);
      await written; // 'a' is on the wire, in its own batch
      const second = await p.send({ topic: 't', partition: 0, value: 'b' }).then(
        () => null,
        (e: Error & { code?: string }) => e,
      );
      assert.equal((second as { code?: string } | null)?.code, 'DELIVERY_TIMEOUT');
      assert.match(second!.message, /^Expiring 1 record\(s\) for t-0/);
      assert.ok((await first) instanceof Error);
      const produced = fake.requests.filter((r) => r.apiKey === ApiKey.Produce).length;
      assert.equal(produced, 2, 'the second batch was never written');
    });

    it('(7) appends waiting for buffer.memory make batches sendable despite a long linger', async () => {
      choose();
      const fake = await setup();
      const p = producer(fake, { 'linger.ms': 20000, 'buffer.memory': 20000, 'max.block.ms': 3000, 'delivery.timeout.ms': 30000, 'request.timeout.ms': 3000 });
      const big = Buffer.alloc(8000, 1);
      const md = await Promise.all([0, 1, 2].map(() => p.send({ topic: 't', partition: 0, value: big })));
      assert.deepEqual(md.map((m) => m.offset), [0, 1, 2]);
    });

    it('(9) a NOT_LEADER on batch 1 while batch 2 is in flight keeps the log in send order', async () => {
      choose();
      const fake = await setup();
      const p = producer(fake);
      await p.send({ topic: 't', partition: 0, value: 'warm' });
      // Batch 1 is answered NOT_LEADER_OR_FOLLOWER (not written) only once batch 2 has arrived.
      const hold = fake.prepare(ApiKey.Produce, {
        hold: true,
        errors: [{ topic: 't', partition: 0, errorCode: ErrorCode.NOT_LEADER_OR_FOLLOWER }],
      });
      const one = p.send({ topic: 't', partition: 0, value: 'one' });
      await hold.received;
      const two = p.send({ topic: 't', partition: 0, value: 'two' });
      await fake.nextRequest(ApiKey.Produce);
      hold.release();
      await Promise.all([one, two]);
      assert.deepEqual(values(fake), ['warm', 'one', 'two']);
    });

    it('a batch that fails for good bumps the epoch; the batch behind it is re-sequenced from 0 and lands', async () => {
      choose();
      const fake = await setup();
      const p = producer(fake);
      await p.send({ topic: 't', partition: 0, value: 'warm' });
      // Batch 1 is refused for good (INVALID_RECORD) once batch 2 is on its way: the broker
      // then answers batch 2 OUT_OF_ORDER_SEQUENCE_NUMBER (its sequence follows batch 1's).
      const hold = fake.prepare(ApiKey.Produce, {
        hold: true,
        errors: [{ topic: 't', partition: 0, errorCode: ErrorCode.INVALID_RECORD }],
      });
      const one = p.send({ topic: 't', partition: 0, value: 'bad' }).then(
        () => 'ok',
        (e: Error & { type?: string }) => e.type,
      );
      await hold.received;
      const two = p.send({ topic: 't', partition: 0, value: 'good' });
      await fake.nextRequest(ApiKey.Produce);
      hold.release();
      assert.equal(await one, 'INVALID_RECORD');
      assert.equal((await two).offset, 1);
      assert.deepEqual(values(fake), ['warm', 'good']);
      const last = fake.log('t', 0).at(-1)!;
      assert.equal(last.epoch, 1);
      assert.equal(last.baseSequence, 0);
      // And the producer goes on under the new epoch.
      await p.send({ topic: 't', partition: 0, value: 'after' });
      assert.deepEqual(values(fake), ['warm', 'good', 'after']);
      assert.equal(fake.log('t', 0).at(-1)!.baseSequence, 1);
    });

    it('UNKNOWN_PRODUCER_ID with a log start offset bumps the epoch and the batch is resent from sequence 0', async () => {
      choose();
      const fake = await setup();
      const p = producer(fake);
      await p.send({ topic: 't', partition: 0, value: 'warm' });
      // Without a log start offset the client cannot tell why and just retries; with one it bumps.
      fake.prepare(ApiKey.Produce, { errors: [{ topic: 't', partition: 0, errorCode: ErrorCode.UNKNOWN_PRODUCER_ID, logStartOffset: 0 }] });
      assert.equal((await p.send({ topic: 't', partition: 0, value: 'again' })).offset, 1);
      const last = fake.log('t', 0).at(-1)!;
      assert.deepEqual([last.epoch, last.baseSequence], [1, 0]);
    });

    it('(dropped connection after a write) the retry is de-duplicated by the broker', async () => {
      choose();
      const fake = await setup();
      const p = producer(fake);
      await p.send({ topic: 't', partition: 0, value: 'warm' });
      fake.prepare(ApiKey.Produce, { closeAfterReceive: true, append: true });
      const md = await p.send({ topic: 't', partition: 0, value: 'once' });
      assert.deepEqual(values(fake), ['warm', 'once']);
      assert.equal(md.offset, 1);
    });

    it('(12) KIP-951: the new leader named in a NOT_LEADER answer is used without waiting for metadata', async () => {
      choose();
      const fake = await setup({ brokers: 2 });
      const p = producer(fake, { 'request.timeout.ms': 3000 });
      await p.send({ topic: 't', partition: 0, value: 'warm' });
      const from = fake.leader('t', 0).nodeId;
      fake.setLeader('t', 0, 1 - from);
      // No Metadata request is answered any more: only the hint in the Produce response can
      // move the record before its delivery timeout.
      const stop = fake.onRequest(ApiKey.Metadata, () => ({ noResponse: true }));
      const md = await p.send({ topic: 't', partition: 0, value: 'moved' });
      stop();
      assert.equal(md.offset, 1);
      assert.equal(fake.log('t', 0).at(-1)!.nodeId, 1 - from);
    });

    it('(13) a broker whose answers do not decode fails the send fast, with its own error', async () => {
      choose();
      const fake = await setup();
      for (let i = 0; i < 10; i++) fake.prepare(ApiKey.ApiVersions, { rawBody: Buffer.from([0, 0, 0xff, 0xff, 0xff]) });
      const p = producer(fake, { 'max.block.ms': 20000 });
      const t0 = Date.now();
      await assert.rejects(p.send({ topic: 't', partition: 0, value: 'v' }), { code: 'INVALID_RESPONSE' });
      assert.ok(Date.now() - t0 < 10000, 'not retried until max.block.ms');
    });

    it('(11) sends after close() began are refused while earlier ones are flushed', async () => {
      choose();
      const fake = await setup();
      const p = producer(fake, { 'linger.ms': 50 });
      const before = p.send({ topic: 't', partition: 0, value: 'before' });
      const closing = p.close();
      await assert.rejects(p.send({ topic: 't', partition: 0, value: 'after' }), { code: 'PRODUCER_CLOSED' });
      assert.equal((await before).offset, 0);
      await closing;
      assert.deepEqual(values(fake), ['before']);
    });

    it('close({ timeoutMs }) bounds the wait and fails what is left; nothing keeps running', async () => {
      choose();
      const fake = await setup();
      const p = producer(fake);
      await p.send({ topic: 't', partition: 0, value: 'warm' });
      fake.prepare(ApiKey.Produce, { hold: true });
      const pending = p.send({ topic: 't', partition: 0, value: 'held' }).then(
        () => 'ok',
        (e: Error & { code?: string }) => e.code,
      );
      await fake.nextRequest(ApiKey.Produce).catch(() => undefined);
      const t0 = Date.now();
      await p.close({ timeoutMs: 300 });
      assert.ok(Date.now() - t0 < 2000);
      assert.equal(await pending, 'PRODUCER_CLOSED');
      await waitFor(() => fake.connections().length === 0, 2000, 'the producer to close its sockets');
    });

    it('(12) throttle_time_ms holds the next request to that broker back', async () => {
      choose();
      const fake = await setup();
      const p = producer(fake);
      fake.prepare(ApiKey.Produce, { throttleTimeMs: 400 });
      await p.send({ topic: 't', partition: 0, value: 'a' });
      const answeredAt = Date.now();
      await p.send({ topic: 't', partition: 0, value: 'b' });
      const produces = fake.requests.filter((r) => r.apiKey === ApiKey.Produce);
      const gap = produces[1]!.receivedAt - answeredAt;
      assert.ok(gap >= 300, `the next Produce came ${gap} ms after a 400 ms throttle`);
    });

    it('(12) record_errors fail the records they name with their own message', async () => {
      choose();
      const fake = await setup();
      const p = producer(fake, { 'linger.ms': 50 });
      fake.prepare(ApiKey.Produce, {
        errors: [
          {
            topic: 't',
            partition: 0,
            errorCode: ErrorCode.INVALID_RECORD,
            errorMessage: 'One or more records have been rejected',
            recordErrors: [{ batchIndex: 1, message: 'the key is not valid' }],
          },
        ],
      });
      const outcomes = await Promise.all(
        [0, 1, 2].map((i) =>
          p.send({ topic: 't', partition: 0, value: `v${i}` }).then(
            () => 'ok',
            (e: Error) => e.message,
          ),
        ),
      );
      assert.match(outcomes[1]!, /the key is not valid/);
      assert.match(outcomes[0]!, /part of a batch which had one or more invalid records/);
      assert.match(outcomes[2]!, /part of a batch which had one or more invalid records/);
    });

    it('(14) KafkaJS: an invalid topic rejects with KafkaJSNonRetriableError, the protocol error as cause', async () => {
      choose();
      const fake = await setup();
      // As a broker does for a name it refuses: every Metadata answer says so.
      for (let i = 0; i < 20; i++) {
        fake.prepare(ApiKey.Metadata, { topicErrors: [{ topic: 'bad topic', errorCode: ErrorCode.INVALID_TOPIC_EXCEPTION }] });
      }
      const kafka = new Kafka({ brokers: [fake.bootstrap], logLevel: 0 });
      const kp = kafka.producer({ retry: { retries: 0 } });
      await kp.connect();
      try {
        await assert.rejects(kp.send({ topic: 'bad topic', messages: [{ value: 'x' }] }), (e: Error & { cause?: Error }) => {
          assert.equal(e.name, 'KafkaJSNonRetriableError');
          assert.equal(e.cause?.name, 'KafkaJSProtocolError');
          return true;
        });
      } finally {
        await kp.disconnect();
      }
    });
  });
}

