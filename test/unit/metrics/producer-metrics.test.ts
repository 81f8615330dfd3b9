/**
 * producer.metrics() against the scripted fake cluster (test/helpers/fake-cluster.ts), every
 * backend: the counts agree with what the fake broker received (records, requests, bytes),
 * retries, errors, throttling, buffer waits and compression show where they happened, and the
 * Prometheus text parses with an independent parser (parse-prometheus-text-format) into the
 * same values.
 */
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import { toPrometheusText } from '../../../ts/metrics/prometheus.js';
import type { Metric } from '../../../ts/metrics/producer-metrics.js';
import { Producer } from '../../../ts/producer/producer.js';
import { availableBackends, useBackend } from '../../helpers/backends.js';
import { ApiKey, ErrorCode, FakeCluster, waitFor } from '../../helpers/fake-cluster.js';

const open: { fake: FakeCluster; producers: Producer<any, any>[] }[] = [];

async function setup(partitions = 2, brokers = 1): Promise<FakeCluster> {
  const fake = await FakeCluster.start({ brokers, topics: [{ name: 't', partitions }] });
  open.push({ fake, producers: [] });
  return fake;
}

function producer(fake: FakeCluster, extra: Record<string, unknown> = {}): Producer {
  const p = new Producer({
    'bootstrap.servers': fake.bootstrap,
    'client.id': 'metrics-test',
    'linger.ms': 0,
    'retry.backoff.ms': 10,
    'retry.backoff.max.ms': 20,
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

/** The value of one metric; throws when it is missing (so a renamed metric fails the test). */
function value(ms: Metric[], name: string, group = 'producer-metrics', tags: Record<string, string> = {}): number {
  const m = ms.find((x) => x.name === name && x.group === group && Object.entries(tags).every(([k, v]) => x.tags[k] === v));
  assert.ok(m, `metric ${group}/${name} ${JSON.stringify(tags)}`);
  return m.value;
}

function batchBytes(fake: FakeCluster): { requests: number; bytes: number; records: number } {
  let bytes = 0;
  let records = 0;
  const reqs = fake.requestsOf(ApiKey.Produce);
  for (const r of reqs) {
    for (const p of r.body!.partitions) {
      for (const b of p.batches) {
        bytes += b.sizeInBytes;
        records += b.recordCount;
      }
    }
  }
  return { requests: reqs.length, bytes, records };
}

for (const { name } of availableBackends()) {
  describe(`producer.metrics() [${name}]`, () => {
    let restore: () => void;
    afterEach(() => restore?.());

    it('counts equal what the broker received: records, requests, responses, bytes, per topic and per node', async () => {
      restore = useBackend(name).restore;
      const fake = await setup(2, 2);
      const p = producer(fake, { 'buffer.memory': 1 << 20 });
      const before = p.metrics();
      assert.equal(value(before, 'record-send-total'), 0);
      assert.ok(Number.isNaN(value(before, 'batch-size-avg')), 'no batch yet: NaN, as Java');
      const sends: Promise<unknown>[] = [];
      for (let i = 0; i < 300; i++) sends.push(p.send({ topic: 't', value: `value-${i}`.padEnd(80, '.') }));
      await Promise.all(sends);
      const ms = p.metrics();
      const seen = batchBytes(fake);
      assert.equal(seen.records, 300);
      assert.equal(value(ms, 'record-send-total'), 300);
      assert.equal(value(ms, 'request-total'), seen.requests);
      assert.equal(value(ms, 'response-total'), seen.requests);
      assert.equal(value(ms, 'outgoing-byte-total'), seen.bytes);
      assert.equal(value(ms, 'record-error-total'), 0);
      assert.equal(value(ms, 'record-retry-total'), 0);
      assert.ok(value(ms, 'record-send-rate') > 0);
      assert.ok(value(ms, 'request-rate') > 0);
      assert.ok(Math.abs(value(ms, 'records-per-request-avg') - 300 / seen.requests) < 1e-9);
      const maxBatch = value(ms, 'batch-size-max');
      assert.ok(maxBatch > 0 && maxBatch <= 16384 + 200, `batch-size-max ${maxBatch}`);
      assert.ok(value(ms, 'batch-size-avg') <= maxBatch);
      assert.equal(value(ms, 'compression-rate-avg'), 1, 'uncompressed batches');
      assert.ok(value(ms, 'record-queue-time-avg') >= 0);
      assert.ok(value(ms, 'record-queue-time-max') >= value(ms, 'record-queue-time-avg'));
      const latAvg = value(ms, 'request-latency-avg');
      assert.ok(Number.isFinite(latAvg) && latAvg >= 0 && latAvg <= value(ms, 'request-latency-max'));
      assert.equal(value(ms, 'produce-throttle-time-max'), 0);
      assert.equal(value(ms, 'buffer-total-bytes'), 1 << 20);
      assert.equal(value(ms, 'buffer-available-bytes'), 1 << 20, 'everything acknowledged: all memory back');
      assert.equal(value(ms, 'waiting-threads'), 0);
      assert.ok(value(ms, 'connection-count') >= 1);
      // Per topic.
      const topic = { 'client-id': 'metrics-test', topic: 't' };
      assert.equal(value(ms, 'record-send-total', 'producer-topic-metrics', topic), 300);
      assert.equal(value(ms, 'byte-total', 'producer-topic-metrics', topic), seen.bytes);
      // Per node: requests split between the two leaders, adding up.
      let nodeRequests = 0;
      for (const node of [0, 1]) {
        const tags = { 'node-id': `node-${node}` };
        const n = value(ms, 'request-total', 'producer-node-metrics', tags);
        assert.equal(n, fake.requestsOf(ApiKey.Produce, node).length);
        nodeRequests += n;
        assert.ok(Number.isFinite(value(ms, 'request-latency-avg', 'producer-node-metrics', tags)));
      }
      assert.equal(nodeRequests, seen.requests);
      for (const m of ms) assert.equal(m.tags['client-id'], 'metrics-test');
      await p.close();
      assert.equal(value(p.metrics(), 'connection-count'), 0, 'closed: no connection');
    });

    it('a retriable error counts a retry (and the resend), a fatal one counts errors, throttling shows', async () => {
      restore = useBackend(name).restore;
      const fake = await setup(1);
      const p = producer(fake);
      await p.send({ topic: 't', value: 'warm' }); // InitProducerId and metadata out of the way
      fake.prepare(ApiKey.Produce, { errors: [{ topic: 't', partition: 0, errorCode: ErrorCode.NOT_LEADER_OR_FOLLOWER }] });
      await p.send({ topic: 't', value: 'retried' });
      fake.prepare(ApiKey.Produce, { errors: [{ topic: 't', partition: 0, errorCode: ErrorCode.TOPIC_AUTHORIZATION_FAILED }] });
      await assert.rejects(p.send({ topic: 't', value: 'refused' }));
      fake.prepare(ApiKey.Produce, { throttleTimeMs: 7 });
      await p.send({ topic: 't', value: 'throttled' });
      // Refused before append, counted as Java's doSend counts them: a bad partition and a
      // record larger than max.request.size (for the topic), bad input (producer-wide only).
      await assert.rejects(p.send({ topic: 't', partition: 5, value: 'x' }));
      await assert.rejects(p.send({ topic: 't', value: Buffer.alloc(2 << 20) }));
      await assert.rejects(p.send({ topic: 't', value: 12 as never }));
      const ms = p.metrics();
      const topic = { topic: 't' };
      assert.equal(value(ms, 'record-retry-total'), 1);
      assert.equal(value(ms, 'record-retry-total', 'producer-topic-metrics', topic), 1);
      assert.equal(value(ms, 'record-error-total'), 4);
      assert.equal(value(ms, 'record-error-total', 'producer-topic-metrics', topic), 3);
      // warm, retried twice (first try and resend), refused, throttled.
      assert.equal(value(ms, 'record-send-total'), 5);
      assert.equal(value(ms, 'request-total'), fake.requestsOf(ApiKey.Produce).length);
      assert.equal(value(ms, 'produce-throttle-time-max'), 7);
      assert.ok(value(ms, 'record-error-rate') > 0);
    });

    it('sends waiting for buffer.memory show as waiting-threads, then as bufferpool wait time', async () => {
      restore = useBackend(name).restore;
      const fake = await setup(1);
      const p = producer(fake, { 'buffer.memory': 4096, 'batch.size': 1024, 'enable.idempotence': false, acks: 1 });
      await p.send({ topic: 't', value: 'warm' });
      const hold = fake.prepare(ApiKey.Produce, { hold: true })!;
      const sends: Promise<unknown>[] = [];
      for (let i = 0; i < 16; i++) sends.push(p.send({ topic: 't', value: Buffer.alloc(500, i) }));
      await hold.received;
      await waitFor(() => value(p.metrics(), 'waiting-threads') > 0, 5000, 'a send waiting for memory');
      assert.ok(value(p.metrics(), 'buffer-available-bytes') < 4096);
      hold.release();
      await Promise.all(sends);
      const ms = p.metrics();
      assert.equal(value(ms, 'waiting-threads'), 0);
      assert.ok(value(ms, 'bufferpool-wait-time-ns-total') > 0);
      assert.equal(value(ms, 'bufferpool-wait-time-total'), value(ms, 'bufferpool-wait-time-ns-total'));
      assert.equal(value(ms, 'record-send-total'), 17);
    });

    it('compression-rate-avg is below 1 for compressible gzip batches', async () => {
      restore = useBackend(name).restore;
      const fake = await setup(1);
      const p = producer(fake, { 'compression.type': 'gzip' });
      await Promise.all(Array.from({ length: 50 }, () => p.send({ topic: 't', value: 'a'.repeat(500) })));
      const rate = value(p.metrics(), 'compression-rate-avg');
      assert.ok(rate > 0 && rate < 0.2, `compression-rate-avg ${rate}`);
      assert.equal(value(p.metrics(), 'compression-rate', 'producer-topic-metrics', { topic: 't' }), rate);
    });

    it('the Prometheus text parses (independent parser) into the same families, labels and values', async () => {
      restore = useBackend(name).restore;
      const fake = await setup(2);
      const p = producer(fake);
      await Promise.all(Array.from({ length: 20 }, (_, i) => p.send({ topic: 't', value: `v${i}` })));
      const ms = p.metrics();
      const text = toPrometheusText(ms);
      const families = parsePrometheusTextFormat(text);
      let samples = 0;
      for (const f of families) {
        assert.match(f.name, /^kafka_producer_(topic_|node_)?[a-z_]+$/);
        assert.equal(f.type, f.name.endsWith('_total') ? 'COUNTER' : 'GAUGE', f.name);
        assert.ok(f.help.length > 0, `${f.name} has help`);
        samples += f.metrics.length;
      }
      assert.equal(samples, ms.length, 'one sample per metric');
      const send = families.find((f) => f.name === 'kafka_producer_record_send_total')!;
      assert.deepEqual(send.metrics, [{ value: '20', labels: { client_id: 'metrics-test' } }]);
      const topicBytes = families.find((f) => f.name === 'kafka_producer_topic_byte_total')!;
      assert.deepEqual(topicBytes.metrics[0]!.labels, { client_id: 'metrics-test', topic: 't' });
      assert.equal(Number(topicBytes.metrics[0]!.value), value(ms, 'byte-total', 'producer-topic-metrics'));
      const latency = families.find((f) => f.name === 'kafka_producer_node_request_latency_avg')!;
      assert.deepEqual(latency.metrics[0]!.labels, { client_id: 'metrics-test', node_id: 'node-0' });
    });
  });
}

describe('toPrometheusText', () => {
  it('escapes label values and help text, writes NaN and infinities as the format spells them', () => {
    const text = toPrometheusText([
      { name: 'x-avg', group: 'producer-metrics', tags: { 'client-id': 'a"b\\c\nd' }, description: 'line\nbreak \\ here', value: NaN },
      { name: 'y-total', group: 'producer-topic-metrics', tags: { topic: 't' }, description: 'd', value: Infinity },
    ]);
    const families = parsePrometheusTextFormat(text);
    assert.equal(families.length, 2);
    assert.equal(families[0]!.name, 'kafka_producer_x_avg');
    assert.equal(families[0]!.metrics[0]!.labels!['client_id'], 'a"b\\c\nd');
    assert.equal(families[0]!.metrics[0]!.value, 'NaN');
    assert.equal(families[1]!.type, 'COUNTER');
    assert.equal(families[1]!.metrics[0]!.value, '+Inf');
    assert.match(text, /# HELP kafka_producer_x_avg line\\nbreak \\\\ here\n/);
  });
});

describe('the KafkaJS facade', () => {
  it('metrics() (an extension, as flush): [] before connect, the same counters after a send', async () => {
    const fake = await setup(1);
    const { Kafka } = await import('../../../ts/kafkajs/index.js');
    const producer = new Kafka({ clientId: 'facade-metrics', brokers: [fake.bootstrap], logLevel: 0 }).producer() as unknown as {
      metrics(): Metric[];
      connect(): Promise<void>;
      send(r: unknown): Promise<unknown>;
      disconnect(): Promise<void>;
    };
    assert.deepEqual(producer.metrics(), []);
    await producer.connect();
    await producer.send({ topic: 't', messages: [{ value: 'a' }, { value: 'b' }, { value: 'c' }] });
    const ms = producer.metrics();
    assert.equal(value(ms, 'record-send-total'), 3);
    assert.equal(value(ms, 'request-total'), fake.requestsOf(ApiKey.Produce).length);
    assert.equal(ms[0]!.tags['client-id'], 'facade-metrics');
    await producer.disconnect();
  });
});

describe('metrics configuration', () => {
  it('metrics.sample.window.ms and metrics.num.samples are checked', () => {
    const make = (extra: Record<string, unknown>) => () => new Producer({ 'bootstrap.servers': '127.0.0.1:1', ...extra } as never);
    assert.throws(make({ 'metrics.sample.window.ms': 0 }), /metrics\.sample\.window\.ms/);
    assert.throws(make({ 'metrics.num.samples': 'two' }), /metrics\.num\.samples/);
    assert.throws(make({ 'partitioner.availability.timeout.ms': -1 }), /partitioner\.availability\.timeout\.ms/);
    assert.throws(make({ 'partitioner.adaptive.partitioning.enable': 'yes' }), /partitioner\.adaptive\.partitioning\.enable/);
  });
});
