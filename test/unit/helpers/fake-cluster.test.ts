/**
 * The scripted fake cluster (test/helpers/fake-cluster.ts) is the ground the failure tests of
 * issue 8 stand on, so it is tested here on its own: with the project's producer through both
 * APIs on every backend (what a failure test will do with it), and with hand-made requests
 * through a BrokerConnection where the producer cannot yet say what is needed (idempotent
 * batches: the producer does not stamp sequences yet).
 */
import assert from 'node:assert/strict';
import { after, afterEach, before, beforeEach, describe, it } from 'node:test';
import { codecName } from '../../../ts/compression/index.js';
import { CodecId, type Backend } from '../../../ts/backend/types.js';
import { KafkaJSConnectionError, KafkaJSRequestTimeoutError } from '../../../ts/errors.js';
import { Kafka } from '../../../ts/kafkajs/index.js';
import { BrokerConnection } from '../../../ts/net/connection.js';
import { Producer, type RecordMetadata } from '../../../ts/producer/producer.js';
import { ApiVersions } from '../../../ts/protocol/api-versions.js';
import { Metadata } from '../../../ts/protocol/metadata.js';
import { Produce, type ProduceResponse } from '../../../ts/protocol/produce.js';
import { availableBackends, useBackend } from '../../helpers/backends.js';
import { ApiKey, DEFAULT_API_VERSIONS, ErrorCode, FakeCluster, waitFor } from '../../helpers/fake-cluster.js';
import { decodeInitProducerIdResponse, encodeInitProducerIdRequest } from '../../helpers/fake-protocol.js';

const backends = availableBackends();


/** The Java-style producer, quick to give up so that a failing test fails fast. Idempotence
 * is off: these tests show what the fake itself does (a lost ack comes back as a duplicate),
 * which sequence numbers would hide; the idempotent producer's own tests use the fake with it on. */
function javaProducer(fake: FakeCluster, extra: Record<string, unknown> = {}): Producer {
  return new Producer({
    'bootstrap.servers': fake.bootstrap,
    'enable.idempotence': false,
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
}

function backendOf(p: unknown): string {
  return (p as { core: { backend: Backend } }).core.backend.info.backend;
}

/** Whether a promise has settled yet (checked after the microtasks queued so far ran). */
async function settled(p: Promise<unknown>): Promise<boolean> {
  let done = false;
  p.then(
    () => (done = true),
    () => (done = true),
  );
  await new Promise<void>((resolve) => setImmediate(resolve));
  return done;
}

for (const { name } of backends) {
  describe(`with the producer, ${name} backend`, () => {
    let fake: FakeCluster;
    let backend: { restore: () => void };
    const producers: { close(): Promise<void> }[] = [];

    beforeEach(async () => {
      backend = useBackend(name);
      fake = await FakeCluster.start({ brokers: 3, topics: [{ name: 't', partitions: 2 }] });
    });
    afterEach(async () => {
      try {
        for (const p of producers.splice(0)) await p.close().catch(() => undefined);
        // Nothing the producer opened may stay open once it is closed.
        await waitFor(() => fake.connections().length === 0, 2000, 'every client socket closed');
      } finally {
        await fake.stop();
        backend.restore();
      }
    });

    it('Java API: a round trip lands in the log in order with every field', async () => {
      const p = javaProducer(fake);
      producers.push(p);
      assert.equal(backendOf(p), name);
      const sent = [0, 1, 2, 3, 4, 5].map((i) => ({
        topic: 't',
        partition: i % 2,
        key: `k${i}`,
        value: `v${i}`,
        headers: { h: `x${i}` },
        timestamp: 1_700_000_000_000 + i,
      }));
      const mds = await Promise.all(sent.map((r) => p.send(r)));
      for (const partition of [0, 1]) {
        const mine = sent.filter((r) => r.partition === partition);
        const records = fake.records('t', partition);
        assert.deepEqual(
          records.map((r) => [r.key?.toString(), r.value?.toString(), r.headers.map((h) => [h.key, h.value?.toString()]), r.timestamp]),
          mine.map((r) => [r.key, r.value, [['h', r.headers.h]], r.timestamp]),
        );
        // The offsets the producer reports are the ones the log holds.
        assert.deepEqual(
          mds.filter((m) => m.partition === partition).map((m) => m.offset),
          records.map((r) => r.offset),
        );
      }
      // Partition p is led by broker p % 3: the Produce requests went to nodes 0 and 1 only.
      const produceNodes = new Set(fake.requestsOf(ApiKey.Produce).map((r) => r.nodeId));
      assert.deepEqual([...produceNodes].sort(), [0, 1]);
      for (const b of fake.log('t', 0)) assert.equal(b.nodeId, 0);
    });

    it('KafkaJS API: a round trip lands in the log in order', async () => {
      const producer = new Kafka({ brokers: fake.bootstrap.split(','), logLevel: 0 }).producer({ 'linger.ms': 0 } as never);
      producers.push({ close: () => producer.disconnect() });
      await producer.connect();
      const res = await producer.send({
        topic: 't',
        messages: [
          { partition: 1, key: 'a', value: 'one', headers: { h: 'x' } },
          { partition: 1, key: 'b', value: 'two' },
          { partition: 0, value: 'three' },
        ],
      });
      assert.equal(backendOf(producer), name);
      assert.deepEqual(fake.values('t', 1), ['one', 'two']);
      assert.deepEqual(fake.values('t', 0), ['three']);
      assert.deepEqual(fake.records('t', 1)[0].headers.map((h) => [h.key, h.value?.toString()]), [['h', 'x']]);
      assert.deepEqual(
        res.map((r) => [r.partition, r.baseOffset]).sort(),
        [
          [0, '0'],
          [1, '0'],
        ],
      );
      await producer.disconnect();
    });

    it('gzip batches are decoded into the log', async () => {
      const p = javaProducer(fake, { 'compression.type': 'gzip', 'linger.ms': 20 });
      producers.push(p);
      const values = Array.from({ length: 50 }, (_, i) => `value ${i} `.repeat(10));
      await Promise.all(values.map((value) => p.send({ topic: 't', partition: 0, value })));
      assert.deepEqual(fake.values('t', 0), values);
      assert.ok(fake.log('t', 0).every((b) => b.codec === CodecId.Gzip));
    });

    it('a prepared NOT_LEADER_OR_FOLLOWER on one partition is retried and lands once', async () => {
      const p = javaProducer(fake);
      producers.push(p);
      await p.connect(['t']);
      fake.prepare(ApiKey.Produce, { errors: [{ topic: 't', partition: 0, errorCode: ErrorCode.NOT_LEADER_OR_FOLLOWER }] });
      const md = await Promise.all([p.send({ topic: 't', partition: 0, value: 'a' }), p.send({ topic: 't', partition: 1, value: 'b' })]);
      assert.deepEqual(fake.values('t', 0), ['a']);
      assert.deepEqual(fake.values('t', 1), ['b']);
      assert.deepEqual(md.map((m) => m.offset), [0, 0]);
      // Two Produce requests for partition 0: the refused one and the retry.
      const to0 = fake.requestsOf(ApiKey.Produce).filter((r) => r.body!.partitions.some((x) => x.partition === 0));
      assert.equal(to0.length, 2);
      assert.deepEqual(fake.pendingScripts(), [], 'the script was used');
    });

    it('append: true writes before answering the error (a lost ack): without idempotence the retry duplicates', async () => {
      const p = javaProducer(fake);
      producers.push(p);
      await p.connect(['t']);
      fake.prepare(ApiKey.Produce, { errors: [{ topic: 't', partition: 0, errorCode: ErrorCode.REQUEST_TIMED_OUT }], append: true });
      const md = await p.send({ topic: 't', partition: 0, value: 'a' });
      assert.deepEqual(fake.values('t', 0), ['a', 'a']);
      assert.equal(md.offset, 1);
    });

    it('setLeader moves the traffic to the new leader', async () => {
      const p = javaProducer(fake);
      producers.push(p);
      await p.send({ topic: 't', partition: 0, value: 'before' });
      const epoch = fake.leader('t', 0).leaderEpoch;
      fake.setLeader('t', 0, 2);
      assert.deepEqual(fake.leader('t', 0), { nodeId: 2, leaderEpoch: epoch + 1 });
      await p.send({ topic: 't', partition: 0, value: 'after' });
      assert.deepEqual(fake.values('t', 0), ['before', 'after']);
      assert.deepEqual(fake.log('t', 0).map((b) => b.nodeId), [0, 2]);
      // The old leader refused it first (NOT_LEADER_OR_FOLLOWER), then metadata said where to go.
      const produces = fake.requestsOf(ApiKey.Produce);
      assert.deepEqual(produces.map((r) => r.nodeId), [0, 0, 2]);
    });

    it('hold: the answer waits for release(); the records are written meanwhile', async () => {
      const p = javaProducer(fake);
      producers.push(p);
      await p.connect(['t']);
      const held = fake.prepare(ApiKey.Produce, { hold: true });
      const send = p.send({ topic: 't', partition: 1, value: 'held' });
      const req = await held.received;
      assert.equal(req.nodeId, 1);
      assert.deepEqual(req.body!.partitions.map((x) => [x.topic, x.partition, x.batches[0].recordCount]), [['t', 1, 1]]);
      await waitFor(() => fake.values('t', 1).length === 1, 2000, 'the held batch written');
      assert.equal(await settled(send), false);
      held.release();
      assert.equal((await send).offset, 0);
    });

    it('hold then drop(): the connection closes with the answer lost; the retry duplicates', async () => {
      const p = javaProducer(fake);
      producers.push(p);
      await p.connect(['t']);
      const held = fake.prepare(ApiKey.Produce, { hold: true });
      const send = p.send({ topic: 't', partition: 0, value: 'x' });
      const first = await held.received;
      held.drop();
      const md = await send;
      assert.deepEqual(fake.values('t', 0), ['x', 'x']);
      assert.equal(md.offset, 1);
      const retry = fake.requestsOf(ApiKey.Produce).at(-1)!;
      assert.equal(first.respondedAt, undefined, 'the dropped request was never answered');
      assert.notEqual(retry.connectionId, first.connectionId, 'the retry came on a new connection');
    });

    it('delayMs answers later, and the requests behind it on that connection wait for it', async () => {
      const p = javaProducer(fake);
      producers.push(p);
      await p.connect(['t']);
      fake.prepare(ApiKey.Produce, { delayMs: 150 });
      const first = p.send({ topic: 't', partition: 0, value: 'a' });
      const firstReq = await fake.nextRequest(ApiKey.Produce);
      const second = p.send({ topic: 't', partition: 0, value: 'b' });
      const secondReq = await fake.nextRequest(ApiKey.Produce);
      assert.equal(firstReq.connectionId, secondReq.connectionId, 'pipelined on one connection');
      assert.equal(await settled(first), false);
      assert.equal(firstReq.respondedAt, undefined);
      const [a, b] = await Promise.all([first, second]);
      assert.deepEqual([a.offset, b.offset], [0, 1]);
      assert.ok(secondReq.respondedAt! >= firstReq.respondedAt!, 'answered in request order');
    });

    it('noResponse: the client times the request out', async () => {
      const p = javaProducer(fake, { 'request.timeout.ms': 300, 'delivery.timeout.ms': 400, retries: 0 });
      producers.push(p);
      await p.connect(['t']);
      fake.prepare(ApiKey.Produce, { noResponse: true });
      await assert.rejects(p.send({ topic: 't', partition: 0, value: 'lost' }), (err: Error) => {
        assert.match(`${err.name} ${err.message}`, /timed? ?out|Timeout/i);
        return true;
      });
      assert.deepEqual(fake.values('t', 0), [], 'a black-holed request is not written');
      // The timeout drops the connection and close() is final at every await (issue 8, items 2
      // and 3): the afterEach check that no socket is left applies here too.
    });

    it('dropConnections closes every socket; the producer reconnects and goes on', async () => {
      const p = javaProducer(fake);
      producers.push(p);
      await p.send({ topic: 't', partition: 0, value: 'a' });
      const before = fake.connections().map((c) => c.id);
      assert.ok(before.length > 0);
      fake.dropConnections();
      assert.equal(fake.connections().length, 0);
      await p.send({ topic: 't', partition: 0, value: 'b' });
      assert.deepEqual(fake.values('t', 0), ['a', 'b']);
      assert.ok(fake.connections().every((c) => !before.includes(c.id)));
    });

    it('pause(): nothing is read until resume()', async () => {
      const p = javaProducer(fake);
      producers.push(p);
      await p.connect(['t']);
      const produced = fake.requestsOf(ApiKey.Produce).length;
      fake.pause(0);
      const send = p.send({ topic: 't', partition: 0, value: 'a' });
      // Partition 1 (broker 1) is unaffected.
      await p.send({ topic: 't', partition: 1, value: 'b' });
      assert.equal(await settled(send), false);
      assert.equal(fake.requestsOf(ApiKey.Produce, 0).length, produced);
      fake.resume(0);
      assert.equal((await send).offset, 0);
      assert.deepEqual(fake.values('t', 0), ['a']);
    });

    it('a prepared Metadata error is seen by the client, which asks again', async () => {
      fake.prepare(ApiKey.Metadata, { topicErrors: [{ topic: 't', errorCode: ErrorCode.LEADER_NOT_AVAILABLE }] });
      const p = javaProducer(fake);
      producers.push(p);
      await p.send({ topic: 't', partition: 0, value: 'a' });
      const metas = fake.requestsOf(ApiKey.Metadata);
      assert.ok(metas.length >= 2, `${metas.length} Metadata requests`);
      assert.deepEqual(fake.values('t', 0), ['a']);
    });

    it('an unknown topic is UNKNOWN_TOPIC_OR_PARTITION; addTopic makes it exist', async () => {
      const p = javaProducer(fake, { 'max.block.ms': 3000 });
      producers.push(p);
      const send = p.send({ topic: 'later', value: 'v' });
      await waitFor(
        () => fake.requestsOf(ApiKey.Metadata).some((r) => r.body?.topics?.includes('later') === true),
        2000,
        'a Metadata request for the topic',
      );
      fake.addTopic('later', 1, { leader: 2 });
      const md: RecordMetadata = await send;
      assert.deepEqual([md.partition, md.offset], [0, 0]);
      assert.deepEqual(fake.values('later', 0), ['v']);
    });

    it('ApiVersions per broker: a broker that stops at v2 answers v3 with UNSUPPORTED_VERSION and the client falls back', async () => {
      await fake.stop();
      const old = DEFAULT_API_VERSIONS.filter((k) => k.apiKey !== ApiKey.ApiVersions);
      fake = await FakeCluster.start({
        brokers: 2,
        topics: [{ name: 't', partitions: 2 }],
        apiVersions: (nodeId) => (nodeId === 1 ? [...old, { apiKey: ApiKey.ApiVersions, minVersion: 0, maxVersion: 2 }] : DEFAULT_API_VERSIONS),
      });
      const p = javaProducer(fake);
      producers.push(p);
      await p.send({ topic: 't', partition: 1, value: 'a' });
      assert.deepEqual(fake.values('t', 1), ['a']);
      // On every connection to broker 1: v3 refused, then the highest version the refusal
      // advertises (v2, as the Java client picks it); broker 0 takes v3.
      const byConnection = new Map<number, number[]>();
      for (const r of fake.requestsOf(ApiKey.ApiVersions, 1)) byConnection.set(r.connectionId, [...(byConnection.get(r.connectionId) ?? []), r.apiVersion]);
      assert.ok(byConnection.size >= 1);
      for (const versions of byConnection.values()) assert.deepEqual(versions, [3, 2], 'v3 refused, then v2');
      assert.ok(fake.requestsOf(ApiKey.ApiVersions, 0).every((r) => r.apiVersion === 3));
    });

    it('acks=0: written without a response; a failed partition closes the connection', async () => {
      const p = javaProducer(fake, { acks: '0' });
      producers.push(p);
      const md = await p.send({ topic: 't', partition: 0, value: 'a' });
      assert.equal(md.offset, -1);
      await waitFor(() => fake.values('t', 0).length === 1, 2000, 'the acks=0 batch written');
      const [produce] = fake.requestsOf(ApiKey.Produce);
      assert.equal(produce.body!.acks, 0);
      assert.equal(produce.respondedAt, undefined);
      fake.prepare(ApiKey.Produce, { errors: [{ topic: 't', partition: 0, errorCode: ErrorCode.NOT_ENOUGH_REPLICAS }] });
      await p.send({ topic: 't', partition: 0, value: 'b' });
      await waitFor(() => !fake.connections(0).some((c) => c.id === produce.connectionId), 2000, 'the connection closed by the broker');
      assert.deepEqual(fake.values('t', 0), ['a']);
    });

    it('closeAfterReceive with append: true: written, the connection dropped; the retry duplicates', async () => {
      const p = javaProducer(fake);
      producers.push(p);
      await p.connect(['t']);
      fake.prepare(ApiKey.Produce, { closeAfterReceive: true, append: true });
      const md = await p.send({ topic: 't', partition: 1, value: 'a' });
      assert.deepEqual(fake.values('t', 1), ['a', 'a']);
      assert.equal(md.offset, 1);
      const [first, retry] = fake.requestsOf(ApiKey.Produce);
      assert.notEqual(first.connectionId, retry.connectionId);
    });

    it('stopBroker refuses connections; with the leader moved the traffic goes on; startBroker brings it back', async () => {
      const p = javaProducer(fake);
      producers.push(p);
      await p.send({ topic: 't', partition: 1, value: 'a' });
      await fake.stopBroker(1);
      assert.equal(fake.connections(1).length, 0);
      fake.setLeader('t', 1, 2);
      await p.send({ topic: 't', partition: 1, value: 'b' });
      assert.deepEqual(fake.log('t', 1).map((b) => [b.nodeId, b.records[0].value?.toString()]), [
        [1, 'a'],
        [2, 'b'],
      ]);
      await fake.startBroker(1);
      fake.setLeader('t', 1, 1);
      await p.send({ topic: 't', partition: 1, value: 'c' });
      assert.deepEqual(fake.values('t', 1), ['a', 'b', 'c']);
      assert.equal(fake.log('t', 1)[2].nodeId, 1);
    });

    it('a batch over the topic max.message.bytes is refused with MESSAGE_TOO_LARGE', async () => {
      fake.addTopic('small', 1, { maxMessageBytes: 200 });
      const p = javaProducer(fake, { retries: 0 });
      producers.push(p);
      await p.send({ topic: 'small', value: 'fits' });
      await assert.rejects(p.send({ topic: 'small', value: 'x'.repeat(300) }), (err: Error & { type?: string }) => {
        assert.match(`${err.name} ${err.message} ${err.type}`, /MESSAGE_TOO_LARGE|too large/i);
        return true;
      });
      assert.deepEqual(fake.values('small', 0), ['fits']);
    });
  });
}

describe('through a BrokerConnection (what the producer cannot send yet)', () => {
  let fake: FakeCluster;
  let conn: BrokerConnection;

  before(async () => {
    fake = await FakeCluster.start({ brokers: 1, topics: [{ name: 't', partitions: 1 }] });
  });
  after(async () => {
    await fake.stop();
  });
  beforeEach(async () => {
    const [b] = fake.brokerList;
    conn = new BrokerConnection({
      host: b.host,
      port: b.port,
      clientId: 'fake-test',
      maxInFlight: 5,
      requestTimeoutMs: 2000,
      connectTimeoutMs: 2000,
      reconnectBackoffMs: 10,
      reconnectBackoffMaxMs: 50,
    });
    await conn.connect();
  });
  afterEach(async () => {
    await conn.close();
    await waitFor(() => fake.connections().length === 0, 2000, 'the socket closed');
  });

  function produce(version: number, batches: Buffer[], partition = 0, topic = 't'): Promise<ProduceResponse> {
    return conn.request(
      ApiKey.Produce,
      version,
      version >= Produce.flexibleFrom,
      Produce.encode(version, { transactionalId: null, acks: -1, timeoutMs: 1000, topicData: [{ name: topic, partitionData: [{ index: partition, records: batches }] }] }),
      Produce.decode,
    );
  }
  const partitionResult = (res: ProduceResponse) => {
    const p = res.responses[0].partitionResponses[0];
    return { errorCode: p.errorCode, baseOffset: Number(p.baseOffset) };
  };

  it('ApiVersions v0..v3 are answered at the asked version; v4 gets UNSUPPORTED_VERSION', async () => {
    for (const v of [0, 1, 2, 3]) {
      const res = await conn.request(ApiKey.ApiVersions, v, v >= 3, ApiVersions.encode(v, { clientSoftwareName: 'x', clientSoftwareVersion: '1' }), ApiVersions.decode, { responseHeaderV0: true });
      assert.equal(res.errorCode, 0);
      assert.deepEqual(
        res.apiKeys.find((k) => k.apiKey === ApiKey.Produce),
        { apiKey: ApiKey.Produce, minVersion: 3, maxVersion: 11 },
      );
    }
    const res = await conn.request(ApiKey.ApiVersions, 4, true, ApiVersions.encode(3, { clientSoftwareName: 'x', clientSoftwareVersion: '1' }), (_v, r) => ApiVersions.decode(0, r), {
      responseHeaderV0: true,
    });
    assert.equal(res.errorCode, ErrorCode.UNSUPPORTED_VERSION);
    assert.deepEqual(res.apiKeys, [{ apiKey: ApiKey.ApiVersions, minVersion: 0, maxVersion: 3 }]);
  });

  it('ApiVersions rawBody: the bytes are sent as they are (librdkafka mock style)', async () => {
    // UNSUPPORTED_VERSION, a 1-byte array count, no tag buffers (FACTS.md: librdkafka's mock).
    const raw = Buffer.from([0x00, 0x23, 0x01]);
    fake.prepare(ApiKey.ApiVersions, { rawBody: raw });
    const got = await conn.request(ApiKey.ApiVersions, 3, true, ApiVersions.encode(3, { clientSoftwareName: 'x', clientSoftwareVersion: '1' }), (_v, r) => Buffer.from(r.raw(r.remaining)), {
      responseHeaderV0: true,
    });
    assert.deepEqual(got, raw);
  });

  it('Metadata at every version lists the brokers and leaders; unknown topics are UNKNOWN_TOPIC_OR_PARTITION', async () => {
    for (let v = 1; v <= 12; v++) {
      const res = await conn.request(ApiKey.Metadata, v, v >= 9, Metadata.encode(v, { topics: ['t', 'nope'], allowAutoTopicCreation: false }), Metadata.decode);
      assert.deepEqual(res.brokers, [{ nodeId: 0, host: '127.0.0.1', port: fake.brokerList[0].port, rack: null }]);
      assert.deepEqual(
        res.topics.map((t) => [t.name, t.errorCode, t.partitions.map((p) => p.leaderId)]),
        [
          ['t', 0, [0]],
          ['nope', ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, []],
        ],
      );
    }
  });

  it('InitProducerId hands out ids from 1000 and bumps the epoch of an existing one (v3+)', async () => {
    const init = (v: number, producerId = -1, producerEpoch = -1) =>
      conn.request(ApiKey.InitProducerId, v, v >= 2, encodeInitProducerIdRequest(v, { transactionalId: null, transactionTimeoutMs: 60000, producerId, producerEpoch }), decodeInitProducerIdResponse);
    const a = await init(0);
    const b = await init(2);
    assert.deepEqual([a.producerId, a.producerEpoch, b.producerId, b.producerEpoch], [1000, 0, 1001, 0]);
    const bumped = await init(4, 1000, 0);
    assert.deepEqual([bumped.errorCode, bumped.producerId, bumped.producerEpoch], [0, 1000, 1]);
    const stale = await init(5, 1000, 5);
    assert.equal(stale.errorCode, ErrorCode.INVALID_PRODUCER_EPOCH);
    fake.prepare(ApiKey.InitProducerId, { errorCode: ErrorCode.COORDINATOR_LOAD_IN_PROGRESS });
    assert.equal((await init(3)).errorCode, ErrorCode.COORDINATOR_LOAD_IN_PROGRESS);
  });

  it('closeAfterReceive: the connection drops with the request unanswered', async () => {
    fake.prepare(ApiKey.Metadata, { closeAfterReceive: true });
    await assert.rejects(
      conn.request(ApiKey.Metadata, 12, true, Metadata.encode(12, { topics: ['t'], allowAutoTopicCreation: false }), Metadata.decode),
      KafkaJSConnectionError,
    );
  });

  it('noResponse: the request times out on the client', async () => {
    const short = new BrokerConnection({ host: '127.0.0.1', port: fake.brokerList[0].port, clientId: 'x', maxInFlight: 1, requestTimeoutMs: 150, connectTimeoutMs: 1000, reconnectBackoffMs: 10, reconnectBackoffMaxMs: 10 });
    await short.connect();
    fake.prepare(ApiKey.Metadata, { noResponse: true });
    await assert.rejects(
      short.request(ApiKey.Metadata, 12, true, Metadata.encode(12, { topics: ['t'], allowAutoTopicCreation: false }), Metadata.decode),
      KafkaJSRequestTimeoutError,
    );
    await short.close();
  });

  it('nextRequest resolves with the request as it arrives, before it is answered', async () => {
    fake.prepare(ApiKey.Metadata, { delayMs: 100 });
    const next = fake.nextRequest(ApiKey.Metadata);
    const answered = conn.request(ApiKey.Metadata, 5, false, Metadata.encode(5, { topics: ['t'], allowAutoTopicCreation: true }), Metadata.decode);
    const req = await next;
    assert.equal(await settled(answered), false);
    assert.deepEqual([req.apiVersion, req.clientId, req.body?.topics], [5, 'fake-test', ['t']]);
    await answered;
    await assert.rejects(fake.nextRequest(ApiKey.Metadata, { timeoutMs: 20 }), /no Metadata request/);
  });

  it('throttle_time_ms, record_errors and current_leader reach the client as scripted', async () => {
    fake.prepare(ApiKey.Produce, {
      throttleTimeMs: 250,
      errors: [
        {
          topic: 't',
          partition: 0,
          errorCode: ErrorCode.INVALID_RECORD,
          errorMessage: 'bad record',
          recordErrors: [{ batchIndex: 1, message: 'this one' }],
          currentLeader: { leaderId: 0, leaderEpoch: 9 },
        },
      ],
    });
    const b = backends[0].backend.encodeRecordBatch(
      ['a', 'b'].map((v) => ({ key: null, value: Buffer.from(v), headers: null, timestamp: 1 })),
      { producerId: -1n, producerEpoch: -1, baseSequence: -1, transactional: false, codec: CodecId.None },
    );
    const res = await produce(11, [b]);
    const p = res.responses[0].partitionResponses[0];
    assert.equal(res.throttleTimeMs, 250);
    assert.deepEqual([p.errorCode, p.errorMessage, p.recordErrors, p.currentLeader], [
      ErrorCode.INVALID_RECORD,
      'bad record',
      [{ batchIndex: 1, batchIndexErrorMessage: 'this one' }],
      { leaderId: 0, leaderEpoch: 9 },
    ]);
    assert.deepEqual(res.nodeEndpoints, [{ nodeId: 0, host: '127.0.0.1', port: fake.brokerList[0].port, rack: null }]);
    assert.deepEqual(fake.values('t', 0), [], 'an error without append: true writes nothing');
  });

  it('onRequest: a hook scripts any request, answers an API the fake lacks, and can hold with until', async () => {
    // FindCoordinator (key 10) v0: the fake does not implement it; the hook answers raw bytes.
    const removeFind = fake.onRequest(ApiKey.FindCoordinator, () => ({ rawBody: Buffer.from([0, 15]) }));
    const got = await conn.request(ApiKey.FindCoordinator, 0, false, Buffer.from([0, 1, 0x78]), (_v, r) => r.int16());
    assert.equal(got, ErrorCode.COORDINATOR_NOT_AVAILABLE);
    removeFind();

    let gate!: () => void;
    const until = new Promise<void>((resolve) => (gate = resolve));
    let seen = 0;
    const remove = fake.onRequest(ApiKey.Metadata, (req) => {
      seen++;
      return req.body?.topics?.includes('t') ? { until, topicErrors: [{ topic: 't', errorCode: ErrorCode.TOPIC_AUTHORIZATION_FAILED }] } : undefined;
    });
    const ask = (topics: string[]) => conn.request(ApiKey.Metadata, 12, true, Metadata.encode(12, { topics, allowAutoTopicCreation: false }), Metadata.decode);
    const gated = ask(['t']);
    await waitFor(() => seen === 1, 2000, 'the hook called');
    assert.equal(await settled(gated), false);
    gate();
    assert.equal((await gated).topics[0].errorCode, ErrorCode.TOPIC_AUTHORIZATION_FAILED);
    assert.equal((await ask([])).topics.length, 0, 'a hook returning nothing leaves the default');
    remove();
    assert.equal((await ask(['t'])).topics[0].errorCode, 0);
    assert.deepEqual(fake.hookErrors, []);
  });

  it('pendingScripts lists what was prepared and not used yet; node-bound scripts wait for their node', async () => {
    fake.prepare(ApiKey.Metadata, { node: 0, throttleTimeMs: 5 });
    fake.prepare(ApiKey.Produce, { errors: [] });
    assert.deepEqual(fake.pendingScripts().map((p) => p.apiName), ['Metadata', 'Produce']);
    const res = await conn.request(ApiKey.Metadata, 12, true, Metadata.encode(12, { topics: [], allowAutoTopicCreation: false }), Metadata.decode);
    assert.equal(res.throttleTimeMs, 5);
    assert.deepEqual(fake.pendingScripts().map((p) => p.apiName), ['Produce']);
    assert.throws(() => fake.prepare(ApiKey.Produce, { node: 7 }), /no broker 7/);
    const b = backends[0].backend.encodeRecordBatch([{ key: null, value: Buffer.from('v'), headers: null, timestamp: 1 }], {
      producerId: -1n,
      producerEpoch: -1,
      baseSequence: -1,
      transactional: false,
      codec: CodecId.None,
    });
    await produce(11, [b]);
    assert.deepEqual(fake.pendingScripts(), []);
  });

  it('bytes after a body are refused (the client wrote a field the version lacks)', async () => {
    const body = Buffer.concat([Metadata.encode(12, { topics: [], allowAutoTopicCreation: false }), Buffer.from([0])]);
    await assert.rejects(conn.request(ApiKey.Metadata, 12, true, body, Metadata.decode), KafkaJSConnectionError);
    assert.match(fake.requests.at(-1)!.error!, /1 byte\(s\) after the Metadata v12 body/);
  });

  it('a version the broker does not advertise closes the connection, and the request says why', async () => {
    await assert.rejects(
      conn.request(ApiKey.InitProducerId, 6, true, encodeInitProducerIdRequest(5, { transactionalId: null, transactionTimeoutMs: 1, producerId: -1, producerEpoch: -1 }), decodeInitProducerIdResponse),
      KafkaJSConnectionError,
    );
    assert.match(fake.requests.at(-1)!.error!, /InitProducerId v6 is not advertised/);
  });

  it('setAdvertisedBrokers changes the broker list of Metadata', async () => {
    const fake3 = await FakeCluster.start({ brokers: 3 });
    const [b] = fake3.brokerList;
    const c = new BrokerConnection({ host: b.host, port: b.port, clientId: 'x', maxInFlight: 1, requestTimeoutMs: 2000, connectTimeoutMs: 2000, reconnectBackoffMs: 10, reconnectBackoffMaxMs: 10 });
    try {
      await c.connect();
      const ids = async () =>
        (await c.request(ApiKey.Metadata, 12, true, Metadata.encode(12, { topics: [], allowAutoTopicCreation: false }), Metadata.decode)).brokers.map((x) => x.nodeId);
      assert.deepEqual(await ids(), [0, 1, 2]);
      fake3.setAdvertisedBrokers([0, 2]);
      assert.deepEqual(await ids(), [0, 2]);
      fake3.prepare(ApiKey.Metadata, { brokers: [1] });
      assert.deepEqual(await ids(), [1], 'a script lists its own brokers once');
      fake3.setAdvertisedBrokers(null);
      assert.deepEqual(await ids(), [0, 1, 2]);
    } finally {
      await c.close();
      await fake3.stop();
    }
  });

  for (const { name, backend } of backends) {
    describe(`idempotent batches (${name} encodeRecordBatch)`, () => {
      const batch = (producerId: number, producerEpoch: number, baseSequence: number, values: string[]) =>
        backend.encodeRecordBatch(
          values.map((v, i) => ({ key: null, value: Buffer.from(v), headers: null, timestamp: 1_700_000_000_000 + i })),
          { producerId: BigInt(producerId), producerEpoch, baseSequence, transactional: false, codec: CodecId.None },
        );
      let topic: string;
      let n = 0;
      beforeEach(() => {
        topic = `idem-${name}-${n++}`;
        fake.addTopic(topic, 1);
      });
      const send = async (version: number, b: Buffer) => partitionResult(await produce(version, [b], 0, topic));

      it('in-order batches append; a retry of one of the last 5 is answered with its first offset and not written again', async () => {
        assert.deepEqual(await send(11, batch(1000, 0, 0, ['a'])), { errorCode: 0, baseOffset: 0 });
        assert.deepEqual(await send(11, batch(1000, 0, 1, ['b', 'c'])), { errorCode: 0, baseOffset: 1 });
        assert.deepEqual(await send(9, batch(1000, 0, 3, ['d'])), { errorCode: 0, baseOffset: 3 });
        assert.deepEqual(await send(3, batch(1000, 0, 1, ['b', 'c'])), { errorCode: 0, baseOffset: 1 }, 'duplicate');
        assert.deepEqual(fake.values(topic, 0), ['a', 'b', 'c', 'd']);
        assert.deepEqual(
          fake.log(topic, 0).map((b) => [b.offset, b.producerId, b.epoch, b.baseSequence]),
          [
            [0, 1000, 0, 0],
            [1, 1000, 0, 1],
            [3, 1000, 0, 3],
          ],
        );
        const last = fake.requestsOf(ApiKey.Produce).at(-1)!;
        assert.deepEqual(last.body!.partitions[0].batches.map((b) => [b.producerId, b.epoch, b.baseSequence, b.recordCount]), [[1000, 0, 1, 2]]);
      });

      it('a gap or an out-of-order sequence is OUT_OF_ORDER_SEQUENCE_NUMBER and writes nothing', async () => {
        await send(11, batch(1000, 0, 0, ['a']));
        assert.equal((await send(11, batch(1000, 0, 2, ['gap']))).errorCode, ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER);
        await send(11, batch(1000, 0, 1, ['b']));
        // A retry older than the last 5 batches is no longer known as a duplicate.
        for (let s = 2; s < 7; s++) await send(11, batch(1000, 0, s, [`x${s}`]));
        assert.equal((await send(11, batch(1000, 0, 1, ['b']))).errorCode, ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER);
        assert.deepEqual(fake.values(topic, 0), ['a', 'b', 'x2', 'x3', 'x4', 'x5', 'x6']);
      });

      it('an older epoch is INVALID_PRODUCER_EPOCH; a new epoch must start at sequence 0', async () => {
        await send(11, batch(1000, 0, 0, ['a']));
        assert.equal((await send(11, batch(1000, 1, 4, ['b']))).errorCode, ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER);
        assert.deepEqual(await send(11, batch(1000, 1, 0, ['b'])), { errorCode: 0, baseOffset: 1 });
        assert.equal((await send(11, batch(1000, 0, 1, ['late']))).errorCode, ErrorCode.INVALID_PRODUCER_EPOCH);
        assert.deepEqual(fake.values(topic, 0), ['a', 'b']);
      });

      it('an unknown producer id with a sequence other than 0 is accepted, as Kafka 4.1 does', async () => {
        assert.deepEqual(await send(11, batch(2000, 0, 7, ['a'])), { errorCode: 0, baseOffset: 0 });
        assert.deepEqual(await send(11, batch(2000, 0, 8, ['b'])), { errorCode: 0, baseOffset: 1 });
        // Once the broker has lost the state, the same holds again.
        fake.forgetProducers(topic);
        assert.deepEqual(await send(11, batch(2000, 0, 20, ['c'])), { errorCode: 0, baseOffset: 2 });
      });

      for (const codec of [CodecId.Gzip, CodecId.Snappy, CodecId.Lz4, CodecId.Zstd]) {
        it(`a ${codecName(codec)} batch is decoded into the log`, async () => {
          const values = Array.from({ length: 20 }, (_, i) => `compressible value ${i % 3} `.repeat(8));
          const b = backend.encodeRecordBatch(
            values.map((v, i) => ({ key: Buffer.from(`k${i}`), value: Buffer.from(v), headers: [{ key: 'h', value: Buffer.from('x') }], timestamp: 1000 + i })),
            { producerId: 1000n, producerEpoch: 0, baseSequence: 0, transactional: false, codec },
          );
          assert.deepEqual(await send(11, b), { errorCode: 0, baseOffset: 0 });
          const [logged] = fake.log(topic, 0);
          assert.equal(logged.codec, codec, 'the batch really was compressed');
          assert.deepEqual(fake.values(topic, 0), values);
          assert.deepEqual(fake.records(topic, 0).map((r) => [r.offset, r.key?.toString(), r.timestamp, r.headers[0].value?.toString()]), values.map((_, i) => [i, `k${i}`, 1000 + i, 'x']));
        });
      }

      it('a batch whose CRC32C does not match is CORRUPT_MESSAGE', async () => {
        const b = Buffer.from(batch(-1, -1, -1, ['a']));
        b[b.length - 1] ^= 0xff;
        assert.equal((await send(11, b)).errorCode, ErrorCode.CORRUPT_MESSAGE);
        assert.deepEqual(fake.values(topic, 0), []);
      });

      it('non-idempotent batches (producer id -1) are never checked', async () => {
        await send(11, batch(-1, -1, -1, ['a']));
        await send(11, batch(-1, -1, -1, ['a']));
        assert.deepEqual(fake.values(topic, 0), ['a', 'a']);
      });
    });
  }
});

describe('unknownProducerSequence', () => {
  for (const [mode, code] of [
    ['unknown-producer-id', ErrorCode.UNKNOWN_PRODUCER_ID],
    ['out-of-order', ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER],
  ] as const) {
    it(`'${mode}' answers ${code} for an unknown producer whose sequence is not 0`, async () => {
      const fake = await FakeCluster.start({ topics: [{ name: 't', partitions: 1 }], unknownProducerSequence: mode });
      const [b] = fake.brokerList;
      const conn = new BrokerConnection({ host: b.host, port: b.port, clientId: 'x', maxInFlight: 1, requestTimeoutMs: 2000, connectTimeoutMs: 2000, reconnectBackoffMs: 10, reconnectBackoffMaxMs: 10 });
      try {
        await conn.connect();
        const send = async (seq: number) => {
          const batch = backends[0].backend.encodeRecordBatch([{ key: null, value: Buffer.from('v'), headers: null, timestamp: 1 }], {
            producerId: 3000n,
            producerEpoch: 0,
            baseSequence: seq,
            transactional: false,
            codec: CodecId.None,
          });
          const res = await conn.request(ApiKey.Produce, 11, true, Produce.encode(11, { transactionalId: null, acks: 1, timeoutMs: 1000, topicData: [{ name: 't', partitionData: [{ index: 0, records: batch }] }] }), Produce.decode);
          return res.responses[0].partitionResponses[0].errorCode;
        };
        assert.equal(await send(5), code);
        assert.equal(await send(0), 0);
        assert.deepEqual(fake.values('t', 0), ['v']);
      } finally {
        await conn.close();
        await fake.stop();
      }
    });
  }
});

describe('stop()', () => {
  it('settles every pending promise and closes every socket', async () => {
    const fake = await FakeCluster.start({ brokers: 2 });
    const [b] = fake.brokerList;
    const conn = new BrokerConnection({ host: b.host, port: b.port, clientId: 'x', maxInFlight: 2, requestTimeoutMs: 5000, connectTimeoutMs: 2000, reconnectBackoffMs: 10, reconnectBackoffMaxMs: 10 });
    await conn.connect();
    const held = fake.prepare(ApiKey.Metadata, { hold: true });
    const unused = fake.prepare(ApiKey.Produce, { hold: true });
    const request = conn.request(ApiKey.Metadata, 12, true, Metadata.encode(12, { topics: [], allowAutoTopicCreation: false }), Metadata.decode);
    await held.received;
    const waiting = fake.nextRequest(ApiKey.Produce);
    assert.equal(fake.connections().length, 1);
    await fake.stop();
    await assert.rejects(waiting, /stopped/);
    await assert.rejects(unused.received, /stopped/);
    await assert.rejects(request, KafkaJSConnectionError);
    assert.equal(fake.connections().length, 0);
    await conn.close();
  });
});
