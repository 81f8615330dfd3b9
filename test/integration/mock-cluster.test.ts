/**
 * The Java-style Producer against librdkafka's mock cluster (test/helpers/mock-cluster.ts):
 * errors on cue from a real protocol implementation. Each test names the sequence it pushes
 * and checks the outcome per record; kcat, which speaks to the mock too, reads back what was
 * stored. scripts/test.mjs runs this file once per backend (KAFKA_TURBO_BACKEND).
 *
 * Idempotence is off and max.in.flight is 1 here, so that retries alone must keep every record
 * exactly once and in order (the mock rejects a request it was told to fail without appending
 * it). Idempotent variants belong with the idempotent producer.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { KafkaJSProtocolError, Producer, type KafkaProducerConfig, type KafkaRecordMetadata } from '../../ts/index.js';
import { ApiKey } from '../../ts/protocol/api-keys.js';
import { ErrorCode } from '../../ts/protocol/error-codes.js';
import { assertNoHandlesAbove, handleCounts } from '../helpers/handles.js';
import { readTopic } from '../helpers/kcat.js';
import { MockCluster } from '../helpers/mock-cluster.js';

let mock: MockCluster;
const run = Date.now().toString(36);
let topicSeq = 0;

before(async () => {
  mock = await MockCluster.start({ brokers: 3 });
});
after(async () => {
  await mock?.stop();
});

/** A new single-partition topic led by `leader` (so order is one log's order). */
async function newTopic(leader = 1): Promise<string> {
  const name = `mock-${run}-${topicSeq++}`;
  await mock.createTopic(name, 1, 3);
  await mock.setLeader(name, 0, leader);
  return name;
}

function producer(over: Partial<KafkaProducerConfig> = {}): Producer {
  return new Producer({
    'bootstrap.servers': mock.bootstrap,
    'enable.idempotence': false,
    'max.in.flight.requests.per.connection': 1,
    'linger.ms': 5,
    'batch.size': 1024,
    'retry.backoff.ms': 20,
    'retry.backoff.max.ms': 100,
    'reconnect.backoff.ms': 20,
    'reconnect.backoff.max.ms': 100,
    'request.timeout.ms': 3000,
    'delivery.timeout.ms': 15000,
    'max.block.ms': 10000,
    ...over,
  });
}

const values = (from: number, n: number, prefix: string): string[] => Array.from({ length: n }, (_, i) => `${prefix}-${from + i}`);

/** kcat's view of the topic: values in log order. */
async function readBack(topic: string, expected: number): Promise<string[]> {
  const got = await readTopic(mock.bootstrap, topic, expected, { timeoutMs: 10000 });
  return got.map((r) => r.value!.toString());
}

describe("librdkafka's mock cluster", () => {
  it('connects (ApiVersions v3 is answered UNSUPPORTED_VERSION in a malformed body) and produces', async () => {
    const topic = await newTopic();
    const baseline = handleCounts();
    const p = producer();
    await p.connect([topic]);
    const md = await Promise.all(values(0, 10, 'c').map((value) => p.send({ topic, value })));
    assert.deepEqual(
      md.map((m) => m.offset),
      Array.from({ length: 10 }, (_, i) => i),
    );
    await p.close();
    await assertNoHandlesAbove(baseline);
    assert.deepEqual(await readBack(topic, 10), values(0, 10, 'c'));
  });

  it('a NOT_LEADER_OR_FOLLOWER / REQUEST_TIMED_OUT burst on Produce is retried: every record once, in order', async () => {
    const topic = await newTopic();
    const p = producer();
    try {
      await p.connect([topic]);
      // The leader's next four Produce requests fail, alternately, with the two retriable errors.
      await mock.pushBrokerErrors(1, ApiKey.Produce, [
        { code: ErrorCode.NOT_LEADER_OR_FOLLOWER },
        { code: ErrorCode.REQUEST_TIMED_OUT, rttMs: 30 },
        { code: ErrorCode.NOT_LEADER_OR_FOLLOWER },
        { code: ErrorCode.REQUEST_TIMED_OUT },
      ]);
      assert.equal(await mock.brokerErrorsLeft(1, ApiKey.Produce), 4);
      const sent = values(0, 300, 'r');
      const md = await Promise.all(sent.map((value) => p.send({ topic, value })));
      assert.deepEqual(
        md.map((m) => m.offset),
        sent.map((_, i) => i),
        'offsets in send order',
      );
      assert.equal(await mock.brokerErrorsLeft(1, ApiKey.Produce), 0, 'every pushed error was served');
      assert.deepEqual(await readBack(topic, sent.length), sent, 'the log holds each record once, in send order');
    } finally {
      await p.close();
    }
  });

  it('a leader taken down and brought back up is survived: records sent meanwhile land once, in order', async () => {
    const topic = await newTopic(2);
    const p = producer();
    try {
      await p.connect([topic]);
      const first = values(0, 50, 'd');
      await Promise.all(first.map((value) => p.send({ topic, value })));
      await mock.brokerDown(2);
      const second = values(50, 50, 'd');
      const pending = Promise.all(second.map((value) => p.send({ topic, value })));
      let settled = false;
      void pending.then(
        () => (settled = true),
        () => (settled = true),
      );
      await sleep(400);
      assert.equal(settled, false, 'nothing can be acknowledged while the leader is down');
      await mock.brokerUp(2);
      const md: KafkaRecordMetadata[] = await pending;
      assert.deepEqual(
        md.map((m) => m.offset),
        second.map((_, i) => 50 + i),
      );
      assert.deepEqual(await readBack(topic, 100), [...first, ...second]);
    } finally {
      await p.close();
    }
  });

  it('a non-retriable TOPIC_AUTHORIZATION_FAILED fails exactly the records of that batch, with that error', async () => {
    const topic = await newTopic();
    const p = producer({ 'linger.ms': 50, 'batch.size': 16384 });
    try {
      await p.connect([topic]);
      const before = values(0, 5, 'a');
      await Promise.all(before.map((value) => p.send({ topic, value })));
      await mock.pushBrokerErrors(1, ApiKey.Produce, [{ code: ErrorCode.TOPIC_AUTHORIZATION_FAILED }]);
      // Sent in one tick: one batch, one Produce request, which gets the error.
      const refused = values(5, 5, 'a');
      const outcomes = await Promise.allSettled(refused.map((value) => p.send({ topic, value })));
      for (const [i, o] of outcomes.entries()) {
        assert.equal(o.status, 'rejected', `record ${refused[i]}`);
        const err = (o as PromiseRejectedResult).reason as unknown;
        assert.ok(err instanceof KafkaJSProtocolError, `record ${refused[i]}: ${String(err)}`);
        assert.equal(err.type, 'TOPIC_AUTHORIZATION_FAILED');
        assert.equal(err.code, ErrorCode.TOPIC_AUTHORIZATION_FAILED);
        assert.equal(err.retriable, false);
      }
      const afterwards = values(10, 5, 'a');
      const md = await Promise.all(afterwards.map((value) => p.send({ topic, value })));
      assert.deepEqual(
        md.map((m) => m.offset),
        [5, 6, 7, 8, 9],
      );
      assert.equal(await mock.brokerErrorsLeft(1, ApiKey.Produce), 0);
      assert.deepEqual(await readBack(topic, 10), [...before, ...afterwards]);
    } finally {
      await p.close();
    }
  });
});
