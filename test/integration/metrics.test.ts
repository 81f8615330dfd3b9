/**
 * Metrics and instrumentation against the real broker:
 * - producer.metrics() after a real run: counts agree with what kcat reads back (records)
 *   and with each other (requests = responses = the sum over nodes; topic bytes = outgoing
 *   bytes), and the Prometheus text parses with an independent parser;
 * - partitionsFor() on a real topic;
 * - the KafkaJS facade's instrumentation events side by side with KafkaJS 2.2.4 itself, same
 *   broker, same calls: same events in the same order, same envelope and payload fields with
 *   the same types (CONNECT, DISCONNECT, REQUEST), REQUEST_TIMEOUT against a loopback
 *   server that accepts and never answers, and REQUEST_QUEUE_SIZE's payload from a connection
 *   with one request slot (our sender keeps Produce within maxInFlightRequests itself, so the
 *   facade's queue rarely fills: the connection is driven directly).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as net from 'node:net';
import { Kafka as RealKafkaJS, logLevel as realLogLevel } from 'kafkajs';
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import { getCluster, type KafkaCluster } from '../helpers/broker.js';
import { readTopic } from '../helpers/kcat.js';
import { Kafka, logLevel, Producer, toPrometheusText, type Metric } from '../../ts/index.js';
import { BrokerConnection } from '../../ts/net/connection.js';
import { ApiKey } from '../../ts/protocol/api-keys.js';
import { ApiVersions } from '../../ts/protocol/api-versions.js';

let cluster: KafkaCluster;
const runId = Date.now().toString(36);

before(async () => {
  cluster = await getCluster();
});
after(async () => {
  await cluster?.stop();
});

function value(ms: Metric[], name: string, group = 'producer-metrics', tags: Record<string, string> = {}): number {
  const m = ms.find((x) => x.name === name && x.group === group && Object.entries(tags).every(([k, v]) => x.tags[k] === v));
  assert.ok(m, `metric ${group}/${name}`);
  return m.value;
}

test('producer.metrics() after 20k records: counts agree with kcat and with each other', async (t) => {
  const topic = `metrics-${runId}`;
  await cluster.createTopic(topic, { partitions: 3 });
  const p = new Producer({ 'bootstrap.servers': cluster.bootstrap, 'client.id': 'kt-metrics', 'linger.ms': 2 });
  // A failed check must not leave the producer's sockets open: the file's process would
  // never exit and the runner would wait for it (seen in CI).
  t.after(() => p.close());
  const total = 20_000;
  const sends: Promise<unknown>[] = [];
  for (let i = 0; i < total; i++) sends.push(p.send({ topic, key: i % 3 === 0 ? null : `k${i % 101}`, value: `v${i}`.padEnd(100, '-') }));
  await Promise.all(sends);
  const ms = p.metrics();
  const got = await readTopic(cluster.bootstrap, topic, total);
  assert.equal(got.length, total);
  assert.equal(value(ms, 'record-send-total'), got.length, 'no retries on a healthy broker: sent = read back');
  assert.equal(value(ms, 'record-send-total', 'producer-topic-metrics', { topic }), total);
  assert.equal(value(ms, 'record-error-total'), 0);
  assert.equal(value(ms, 'record-retry-total'), 0);
  const requests = value(ms, 'request-total');
  assert.ok(requests > 0 && requests < total, `${requests} requests for ${total} records: batched`);
  assert.equal(value(ms, 'response-total'), requests);
  assert.ok(Math.abs(value(ms, 'records-per-request-avg') * requests - total) < 1e-6);
  const nodeTotals = ms.filter((m) => m.group === 'producer-node-metrics' && m.name === 'request-total');
  assert.ok(nodeTotals.length >= 1);
  assert.equal(nodeTotals.reduce((n, m) => n + m.value, 0), requests);
  const bytes = value(ms, 'outgoing-byte-total');
  assert.equal(value(ms, 'byte-total', 'producer-topic-metrics', { topic }), bytes);
  // Each record is at least its 100-byte value on the wire.
  assert.ok(bytes > total * 100, `${bytes} bytes`);
  // A batch closes at batch.size (16384) unless it could not be sent anyway (its partition
  // blocked, or queued behind another batch: ARCHITECTURE.md, Batching); then it grows up to
  // max.request.size (1 MiB by default), never past it.
  assert.ok(value(ms, 'batch-size-max') <= 1048576, `batch-size-max ${value(ms, 'batch-size-max')}`);
  assert.ok(value(ms, 'batch-size-avg') > 0 && value(ms, 'batch-size-avg') <= value(ms, 'batch-size-max'));
  const latency = value(ms, 'request-latency-avg');
  assert.ok(latency > 0 && latency <= value(ms, 'request-latency-max'), `latency ${latency}`);
  assert.ok(value(ms, 'record-send-rate') > 0);
  assert.equal(value(ms, 'buffer-available-bytes'), value(ms, 'buffer-total-bytes'));
  assert.ok(value(ms, 'connection-count') >= 1);

  const families = parsePrometheusTextFormat(toPrometheusText(ms));
  const sendTotal = families.find((f) => f.name === 'kafka_producer_record_send_total')!;
  assert.equal(sendTotal.type, 'COUNTER');
  assert.deepEqual(sendTotal.metrics, [{ value: String(total), labels: { client_id: 'kt-metrics' } }]);

  const parts = await p.partitionsFor(topic);
  assert.deepEqual(parts.map((x) => x.partition), [0, 1, 2]);
  const [host, port] = cluster.bootstrap.split(',')[0]!.split(':');
  for (const x of parts) assert.deepEqual({ host: x.leader!.host, port: x.leader!.port }, { host, port: Number(port) });
  await p.close();
  assert.equal(value(p.metrics(), 'connection-count'), 0);
});

type Event = { id: number; type: string; timestamp: number; payload: Record<string, unknown> | undefined };
interface EventSource {
  on(name: string, cb: (e: Event) => void): unknown;
  events: Record<string, string>;
}

function listen(producer: EventSource): Event[] {
  const seen: Event[] = [];
  for (const name of ['CONNECT', 'DISCONNECT', 'REQUEST', 'REQUEST_TIMEOUT', 'REQUEST_QUEUE_SIZE']) {
    producer.on(producer.events[name]!, (e) => seen.push(e));
  }
  return seen;
}

/** An event's fields and their types, the values left out (ids, times, ports differ). */
function shape(e: Event | undefined): Record<string, unknown> {
  assert.ok(e, 'an event');
  const types = (o: Record<string, unknown> | undefined) =>
    o === undefined ? 'undefined' : Object.fromEntries(Object.keys(o).sort().map((k) => [k, typeof o[k]]));
  return { envelope: types(e as unknown as Record<string, unknown>), payload: types(e.payload) };
}

test('KafkaJS instrumentation events side by side with KafkaJS 2.2.4: CONNECT, REQUEST, DISCONNECT', async () => {
  const topic = `metrics-events-${runId}`;
  await cluster.createTopic(topic, { partitions: 1 });
  const run = async (producer: EventSource & { connect(): Promise<void>; send(r: unknown): Promise<unknown>; disconnect(): Promise<void> }) => {
    const seen = listen(producer);
    await producer.connect();
    await producer.send({ topic, messages: [{ value: 'side-by-side' }] });
    await producer.disconnect();
    return seen;
  };
  const theirs = await run(new RealKafkaJS({ clientId: 'kt-side', brokers: [cluster.bootstrap], logLevel: realLogLevel.NOTHING }).producer() as never);
  const ours = await run(new Kafka({ clientId: 'kt-side', brokers: [cluster.bootstrap], logLevel: logLevel.NOTHING }).producer() as never);
  const lifecycle = (s: Event[]) => s.filter((e) => !e.type.includes('network')).map((e) => e.type);
  assert.deepEqual(lifecycle(ours), lifecycle(theirs));
  assert.deepEqual(lifecycle(ours), ['producer.connect', 'producer.disconnect']);
  assert.deepEqual(shape(ours.find((e) => e.type === 'producer.connect')), shape(theirs.find((e) => e.type === 'producer.connect')));
  assert.deepEqual(shape(ours.find((e) => e.type === 'producer.disconnect')), shape(theirs.find((e) => e.type === 'producer.disconnect')));
  const produce = (s: Event[]) => s.find((e) => e.type === 'producer.network.request' && e.payload?.['apiName'] === 'Produce');
  assert.deepEqual(shape(produce(ours)), shape(produce(theirs)));
  for (const s of [ours, theirs]) {
    const p = produce(s)!.payload!;
    assert.equal(p['clientId'], 'kt-side');
    assert.equal(p['apiKey'], 0);
    assert.match(String(p['broker']), /^127\.0\.0\.1:\d+$/);
    assert.equal(p['broker'], cluster.bootstrap.split(',')[0]);
    assert.ok((p['size'] as number) > 0);
    assert.equal(p['pendingDuration'], (p['sentAt'] as number) - (p['createdAt'] as number));
  }
  // Both ask ApiVersions and Metadata before producing.
  for (const api of ['ApiVersions', 'Metadata']) {
    const a = ours.find((e) => e.payload?.['apiName'] === api);
    const b = theirs.find((e) => e.payload?.['apiName'] === api);
    assert.deepEqual(shape(a), shape(b), api);
  }
});

test('REQUEST_TIMEOUT side by side with KafkaJS 2.2.4, against a server that never answers', async () => {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on('error', () => undefined);
    s.on('close', () => sockets.delete(s));
    s.resume(); // read everything, answer nothing
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const address = `127.0.0.1:${(server.address() as net.AddressInfo).port}`;
  const settings = { clientId: 'kt-timeout', brokers: [address], requestTimeout: 300, connectionTimeout: 1000, retry: { retries: 0 } };
  const run = async (producer: EventSource & { connect(): Promise<void>; disconnect(): Promise<void> }) => {
    const seen = listen(producer);
    await assert.rejects(producer.connect());
    await producer.disconnect().catch(() => undefined);
    return seen.filter((e) => e.type === 'producer.network.request_timeout');
  };
  try {
    const theirs = await run(new RealKafkaJS({ ...settings, logLevel: realLogLevel.NOTHING }).producer() as never);
    const ours = await run(new Kafka({ ...settings, logLevel: logLevel.NOTHING }).producer() as never);
    assert.ok(theirs.length >= 1, 'KafkaJS reported the timeout');
    assert.ok(ours.length >= 1, 'we reported the timeout');
    assert.deepEqual(shape(ours[0]), shape(theirs[0]));
    for (const e of [ours[0]!, theirs[0]!]) {
      assert.equal(e.payload!['apiName'], 'ApiVersions');
      assert.equal(e.payload!['broker'], address);
      assert.equal(e.payload!['clientId'], 'kt-timeout');
    }
  } finally {
    for (const s of sockets) s.destroy();
    await new Promise((r) => server.close(r));
  }
});

test('REQUEST_QUEUE_SIZE payload side by side with KafkaJS 2.2.4: requests queued behind one in-flight slot', async () => {
  const topic = `metrics-queue-${runId}`;
  await cluster.createTopic(topic, { partitions: 1 });
  const [host, port] = cluster.bootstrap.split(',')[0]!.split(':');
  // KafkaJS: one request in flight, many sends at once: the rest queue.
  const kp = new RealKafkaJS({ clientId: 'kt-queue', brokers: [cluster.bootstrap], logLevel: realLogLevel.NOTHING, maxInFlightRequests: 1 } as never).producer({ maxInFlightRequests: 1 });
  const theirs: Event[] = [];
  kp.on(kp.events.REQUEST_QUEUE_SIZE, (e) => theirs.push(e as unknown as Event));
  await kp.connect();
  await Promise.all(Array.from({ length: 20 }, (_, i) => kp.send({ topic, messages: [{ value: `q${i}` }] })));
  await kp.disconnect();
  // Ours: the connection with one slot, five requests at once.
  const conn = new BrokerConnection({
    host: host!,
    port: Number(port),
    clientId: 'kt-queue',
    maxInFlight: 1,
    requestTimeoutMs: 10000,
    connectTimeoutMs: 5000,
    reconnectBackoffMs: 50,
    reconnectBackoffMaxMs: 1000,
  });
  const ours: Record<string, unknown>[] = [];
  conn.on('request_queue_size', (p: Record<string, unknown>) => ours.push(p));
  try {
    await conn.connect();
    await Promise.all(Array.from({ length: 5 }, () => conn.request(ApiKey.ApiVersions, 0, false, ApiVersions.encode(0, {} as never), ApiVersions.decode)));
  } finally {
    await conn.close();
  }
  assert.ok(theirs.length >= 1, 'KafkaJS queued requests');
  assert.deepEqual(shape({ id: 0, type: 't', timestamp: 0, payload: ours[0] }).payload, shape(theirs[0]).payload);
  const sizes = ours.map((p) => p['queueSize'] as number);
  assert.equal(Math.max(...sizes), 4, `queue sizes ${sizes}`);
  assert.equal(sizes.at(-1), 0);
  for (const p of [ours[0]!, theirs[0]!.payload!]) {
    assert.equal(p['broker'], cluster.bootstrap.split(',')[0]);
    assert.equal(p['clientId'], 'kt-queue');
  }
});
