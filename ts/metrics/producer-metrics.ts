/**
 * The producer's metrics under the Java producer's names, groups and tags, so dashboards and
 * alerts written for the Java client read ours the same way:
 *
 *   producer-metrics        {client-id}           the producer as a whole
 *   producer-topic-metrics  {client-id, topic}    per topic the producer has sent to
 *   producer-node-metrics   {client-id, node-id}  per broker (node-id "node-<id>", as Java)
 *
 * Values are recorded once per batch sent, per ProduceRequest or per response, never per
 * record (see sensor.ts); gauges (buffer, waiting sends, connections) are read when
 * metrics() is called. `ProducerMetrics.metrics()` answers Java's MetricName plus its value:
 * `{ name, group, tags, value, description }`.
 *
 * Deliberate differences from Java, each because our producer is built differently:
 * - request-rate, response-rate and outgoing-byte-rate count Produce requests only (Java's
 *   network layer counts every request; Metadata and ApiVersions are rare next to Produce).
 * - waiting-threads counts sends waiting for buffer.memory (JavaScript has one thread; a send
 *   waits as a queued call, not as a blocked thread).
 * - compression-rate-avg divides a batch's size by its size before compression estimated from
 *   the records' key and value sizes (headers are not kept after append); 1 for an
 *   uncompressed batch, as in Java.
 * - request-latency is measured with a sub-millisecond clock (loopback answers in well under
 *   a millisecond; whole milliseconds would read 0).
 */
import { RECORD_BATCH_OVERHEAD, recordSizeUpperBound } from '../protocol/record-batch.js';
import { Sensor, type SampleConfig } from './sensor.js';

/** Java's MetricName: what identifies a metric. */
export interface MetricName {
  name: string;
  group: string;
  tags: Readonly<Record<string, string>>;
  description: string;
}

/** One metric and its value now (Java's KafkaMetric.metricValue()). */
export interface Metric extends MetricName {
  value: number;
}

/** What a batch being sent looks like to the metrics (the sender's BatchEntry fits). */
export interface SentBatch {
  readonly tp: { readonly topic: string };
  readonly records: ReadonlyArray<{ readonly keySize: number; readonly valueSize: number }>;
  readonly bytes: { readonly length: number } | null;
  readonly attempts: number;
  readonly createdMs: number;
  readonly lane: { readonly codec: number };
}

/** Values only the producer knows, read when metrics() is called. */
export interface ProducerGauges {
  bufferAvailableBytes(): number;
  bufferTotalBytes(): number;
  waitingSends(): number;
  connectionCount(): number;
}

interface Definition extends MetricName {
  read(nowMs: number): number;
}

export const PRODUCER_GROUP = 'producer-metrics';
export const TOPIC_GROUP = 'producer-topic-metrics';
export const NODE_GROUP = 'producer-node-metrics';

/** A topic's sensors; each also records into the producer-wide one (Java's parent sensors). */
interface TopicSensors {
  records: Sensor;
  bytes: Sensor;
  compression: Sensor;
  retries: Sensor;
  errors: Sensor;
}

interface NodeSensors {
  requests: Sensor;
  latency: Sensor;
}

export class ProducerMetrics {
  private readonly defs: Definition[] = [];
  private readonly topics = new Map<string, TopicSensors>();
  private readonly nodes = new Map<number, NodeSensors>();
  private readonly tags: Readonly<Record<string, string>>;
  /** Set by the producer; until then the gauges read as an idle producer's. */
  gauges: ProducerGauges | null = null;

  // Producer-wide sensors.
  private readonly batchSize: Sensor;
  private readonly compression: Sensor;
  private readonly queueTime: Sensor;
  private readonly requestTime: Sensor;
  private readonly throttleTime: Sensor;
  /** Records per ProduceRequest: its sum is record-send, its count request-rate. */
  private readonly recordsPerRequest: Sensor;
  private readonly requestBytes: Sensor;
  private readonly responses: Sensor;
  private readonly retries: Sensor;
  private readonly errors: Sensor;
  private readonly bufferWait: Sensor;

  constructor(
    clientId: string,
    private readonly config: SampleConfig,
    nowMs = Date.now(),
  ) {
    this.tags = { 'client-id': clientId };
    const s = () => new Sensor(config, nowMs);
    this.batchSize = s();
    this.compression = s();
    this.queueTime = s();
    this.requestTime = s();
    this.throttleTime = s();
    this.recordsPerRequest = s();
    this.requestBytes = s();
    this.responses = s();
    this.retries = s();
    this.errors = s();
    this.bufferWait = s();
    const G = PRODUCER_GROUP;
    const t = this.tags;
    const add = (name: string, description: string, read: (now: number) => number) =>
      this.defs.push({ name, group: G, tags: t, description, read });
    add('record-send-rate', 'Records sent per second (each send of a batch, retries included)', (n) => this.recordsPerRequest.rate(n));
    add('record-send-total', 'Records sent (each send of a batch, retries included)', () => this.recordsPerRequest.totalSum);
    add('record-error-rate', 'Records per second whose send failed', (n) => this.errors.rate(n));
    add('record-error-total', 'Records whose send failed', () => this.errors.totalSum);
    add('record-retry-rate', 'Records per second queued again to be retried', (n) => this.retries.rate(n));
    add('record-retry-total', 'Records queued again to be retried', () => this.retries.totalSum);
    add('record-queue-time-avg', 'Mean ms a batch waited in the accumulator before its first send', (n) => this.queueTime.avg(n));
    add('record-queue-time-max', 'Longest ms a batch waited in the accumulator before its first send', (n) => this.queueTime.max(n));
    add('request-latency-avg', 'Mean ms from writing a ProduceRequest to its response', (n) => this.requestTime.avg(n));
    add('request-latency-max', 'Longest ms from writing a ProduceRequest to its response', (n) => this.requestTime.max(n));
    add('request-rate', 'ProduceRequests sent per second', (n) => this.recordsPerRequest.countRate(n));
    add('request-total', 'ProduceRequests sent', () => this.recordsPerRequest.totalCount);
    add('response-rate', 'ProduceResponses received per second', (n) => this.responses.countRate(n));
    add('response-total', 'ProduceResponses received', () => this.responses.totalCount);
    add('outgoing-byte-rate', 'Record-batch bytes sent per second in ProduceRequests', (n) => this.requestBytes.rate(n));
    add('outgoing-byte-total', 'Record-batch bytes sent in ProduceRequests', () => this.requestBytes.totalSum);
    add('batch-size-avg', 'Mean bytes of a record batch as sent', (n) => this.batchSize.avg(n));
    add('batch-size-max', 'Largest record batch sent, in bytes', (n) => this.batchSize.max(n));
    add('records-per-request-avg', 'Mean records per ProduceRequest', (n) => this.recordsPerRequest.avg(n));
    add('compression-rate-avg', 'Mean ratio of a batch\'s compressed size to its size before compression', (n) => this.compression.avg(n));
    add('buffer-available-bytes', 'Bytes of buffer.memory not in use', () => this.gauges?.bufferAvailableBytes() ?? NaN);
    add('buffer-total-bytes', 'buffer.memory: bytes the producer may hold for records not yet acknowledged', () => this.gauges?.bufferTotalBytes() ?? NaN);
    add('bufferpool-wait-time-ns-total', 'Nanoseconds sends spent waiting for buffer.memory', () => this.bufferWait.totalSum);
    add('bufferpool-wait-time-total', 'Nanoseconds sends spent waiting for buffer.memory (the older name of bufferpool-wait-time-ns-total)', () => this.bufferWait.totalSum);
    add('bufferpool-wait-ratio', 'Fraction of time sends spent waiting for buffer.memory', (n) => this.bufferWait.rate(n) / 1e9);
    add('waiting-threads', 'Sends waiting for buffer.memory now', () => this.gauges?.waitingSends() ?? 0);
    add('produce-throttle-time-avg', 'Mean ms brokers asked us to hold back (throttle_time_ms)', (n) => this.throttleTime.avg(n));
    add('produce-throttle-time-max', 'Longest ms a broker asked us to hold back (throttle_time_ms)', (n) => this.throttleTime.max(n));
    add('connection-count', 'Broker connections open now', () => this.gauges?.connectionCount() ?? 0);
  }

  /** A ProduceRequest with these batches is about to go to `node` (once per request). */
  requestSent(node: number, batches: readonly SentBatch[], nowMs: number): void {
    let records = 0;
    let bytes = 0;
    for (let i = 0; i < batches.length; i++) {
      const b = batches[i]!;
      const n = b.records.length;
      const size = b.bytes === null ? 0 : b.bytes.length;
      records += n;
      bytes += size;
      const topic = this.topic(b.tp.topic, nowMs);
      topic.records.record(n, nowMs);
      topic.bytes.record(size, nowMs);
      this.batchSize.record(size, nowMs);
      if (b.attempts === 0) {
        this.queueTime.record(nowMs - b.createdMs, nowMs);
        topic.compression.record(b.lane.codec === 0 ? 1 : compressionRatio(b, size), nowMs);
      }
    }
    this.recordsPerRequest.record(records, nowMs);
    this.requestBytes.record(bytes, nowMs);
    this.node(node, nowMs).requests.record(bytes, nowMs);
  }

  /** A ProduceResponse (or, with acks=0, the end of the write) from `node`. */
  responseReceived(node: number, latencyMs: number, throttleTimeMs: number, nowMs: number): void {
    this.responses.record(1, nowMs);
    this.requestTime.record(latencyMs, nowMs);
    this.throttleTime.record(throttleTimeMs, nowMs);
    this.node(node, nowMs).latency.record(latencyMs, nowMs);
  }

  /** `records` records of `topic` go back to be retried (once per batch). */
  recordRetries(topic: string, records: number, nowMs: number): void {
    this.topic(topic, nowMs).retries.record(records, nowMs);
  }

  /** `records` records of `topic` failed (once per batch, or per send refused before it was
   * appended, as Java's doSend counts those too); topic null when the send named none usable. */
  recordErrors(topic: string | null, records: number, nowMs: number): void {
    if (topic === null) this.errors.record(records, nowMs);
    else this.topic(topic, nowMs).errors.record(records, nowMs);
  }

  /** A send waited `ms` for buffer.memory (once per waiting send). */
  recordBufferWait(ms: number, nowMs: number): void {
    this.bufferWait.record(ms * 1e6, nowMs);
  }

  /** Every metric with its value now, producer-wide first, then per topic, then per node. */
  metrics(nowMs = Date.now()): Metric[] {
    const out: Metric[] = [];
    for (const d of this.defs) {
      out.push({ name: d.name, group: d.group, tags: d.tags, description: d.description, value: d.read(nowMs) });
    }
    return out;
  }

  private topic(name: string, nowMs: number): TopicSensors {
    let t = this.topics.get(name);
    if (t !== undefined) return t;
    const c = this.config;
    t = {
      records: new Sensor(c, nowMs),
      bytes: new Sensor(c, nowMs),
      compression: new Sensor(c, nowMs, [this.compression]),
      retries: new Sensor(c, nowMs, [this.retries]),
      errors: new Sensor(c, nowMs, [this.errors]),
    };
    this.topics.set(name, t);
    const tags = { ...this.tags, topic: name };
    const s = t;
    const add = (metric: string, description: string, read: (now: number) => number) =>
      this.defs.push({ name: metric, group: TOPIC_GROUP, tags, description, read });
    add('record-send-rate', `Records of the topic sent per second`, (n) => s.records.rate(n));
    add('record-send-total', `Records of the topic sent`, () => s.records.totalSum);
    add('byte-rate', `Record-batch bytes of the topic sent per second`, (n) => s.bytes.rate(n));
    add('byte-total', `Record-batch bytes of the topic sent`, () => s.bytes.totalSum);
    add('compression-rate', `Mean compression ratio of the topic's batches`, (n) => s.compression.avg(n));
    add('record-retry-rate', `Records of the topic retried per second`, (n) => s.retries.rate(n));
    add('record-retry-total', `Records of the topic retried`, () => s.retries.totalSum);
    add('record-error-rate', `Records of the topic failed per second`, (n) => s.errors.rate(n));
    add('record-error-total', `Records of the topic failed`, () => s.errors.totalSum);
    return t;
  }

  private node(id: number, nowMs: number): NodeSensors {
    let s = this.nodes.get(id);
    if (s !== undefined) return s;
    const c = this.config;
    // A node's latency also feeds the producer-wide request-latency: recorded there directly.
    s = { requests: new Sensor(c, nowMs), latency: new Sensor(c, nowMs) };
    this.nodes.set(id, s);
    const tags = { ...this.tags, 'node-id': `node-${id}` };
    const n = s;
    const add = (metric: string, description: string, read: (now: number) => number) =>
      this.defs.push({ name: metric, group: NODE_GROUP, tags, description, read });
    add('request-latency-avg', `Mean ms from writing a ProduceRequest to the node to its response`, (t) => n.latency.avg(t));
    add('request-latency-max', `Longest ms from writing a ProduceRequest to the node to its response`, (t) => n.latency.max(t));
    add('request-rate', `ProduceRequests sent to the node per second`, (t) => n.requests.countRate(t));
    add('request-total', `ProduceRequests sent to the node`, () => n.requests.totalCount);
    add('response-rate', `ProduceResponses from the node per second`, (t) => n.latency.countRate(t));
    add('response-total', `ProduceResponses from the node`, () => n.latency.totalCount);
    add('outgoing-byte-rate', `Record-batch bytes sent to the node per second`, (t) => n.requests.rate(t));
    add('outgoing-byte-total', `Record-batch bytes sent to the node`, () => n.requests.totalSum);
    return s;
  }
}

/** A compressed batch's size over its estimated size before compression (first send only:
 * compressed lanes do per-byte work on every batch anyway, so one pass over its records'
 * sizes is nothing beside it). */
function compressionRatio(b: SentBatch, size: number): number {
  let raw = RECORD_BATCH_OVERHEAD;
  const recs = b.records;
  // The bound counts the timestamp and offset deltas at their widest (15 bytes); a batch's
  // deltas take about 3. Headers are not known here: the estimate leaves them out.
  for (let i = 0; i < recs.length; i++) raw += recordSizeUpperBound(recs[i]!.keySize, recs[i]!.valueSize, null) - 12;
  return raw > 0 ? size / raw : 1;
}
