/**
 * What the CLI measures and prints: kafka-producer-perf-test's sampling and percentile rule,
 * its window and final lines, the progress line (in place on a terminal, plain lines or
 * nothing elsewhere), and --print-metrics in the Java tool's layout.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { formatMetrics, javaTotalLine, Progress, Stats, type Report } from '../../../ts/cli/report.js';
import { CONTROL_CHARS } from './run-cli.js';

test("percentiles use the Java tool's index rule over the sorted sample; avg and max cover every record", () => {
  const s = new Stats(1000);
  for (let i = 1000; i >= 1; i--) s.record(i, 10); // 1..1000 ms, in reverse
  const l = s.latency();
  assert.equal(l.p50, 501); // sorted[floor(0.5 * 1000)]
  assert.equal(l.p95, 951);
  assert.equal(l.p99, 991);
  assert.equal(l.p999, 1000);
  assert.equal(l.max, 1000);
  assert.equal(l.avg, 500.5);
  assert.equal(s.bytes, 10_000);
});

test('the sample is bounded: 2M records keep every 4th latency (Java: N / min(N, 500000))', () => {
  const s = new Stats(2_000_000);
  for (let i = 0; i < 2_000_000; i++) s.record(i % 4 === 0 ? 1 : 100, 1); // sampled ones are all 1 ms
  assert.equal(s.latency().p999, 1, 'only every 4th record was sampled');
  assert.equal(s.latency().max, 100, 'max still sees every record');
  // Unknown totals (produce) halve the sample rather than grow without bound.
  const u = new Stats();
  for (let i = 0; i < 1_100_000; i++) u.record(i < 1_000_000 ? 1 : 5, 1);
  assert.ok(u.latency().p999 <= 5);
});

test("the final line has the Java tool's shape (as Kafka 4.1.1's ProducerPerformance printed it here)", () => {
  const r = {
    records: 1000, recordsPerSec: 12345.6789, mbPerSec: 1.1773,
    latencyMs: { avg: 3.456, p50: 2.9, p95: 7.01, p99: 9.99, p999: 12.5, max: 13.25 },
  } as Report;
  assert.equal(
    javaTotalLine(r),
    '1000 records sent, 12345.7 records/sec (1.18 MB/sec), 3.46 ms avg latency, 13.25 ms max latency, 2 ms 50th, 7 ms 95th, 9 ms 99th, 12 ms 99.9th.',
  );
});

test('window lines: the Java format, then a fresh window; none for a window without acknowledgements', () => {
  const s = new Stats(10);
  const t0 = s.start;
  s.record(2, 1024 * 1024);
  s.record(4, 1024 * 1024);
  assert.equal(s.takeWindowLine(t0 + 1000), '2 records sent, 2.0 records/sec (2.00 MB/sec), 3.0 ms avg latency, 4.0 ms max latency.');
  assert.equal(s.takeWindowLine(t0 + 2000), null);
});

async function progressOutput(tty: boolean, windowLines: boolean): Promise<string> {
  const out = new PassThrough();
  let text = '';
  out.on('data', (b: Buffer) => (text += b.toString()));
  const s = new Stats(100);
  const p = new Progress(out, s, () => 7, { tty, windowLines, intervalMs: 60 });
  p.start();
  for (let i = 0; i < 5; i++) {
    s.record(1, 100);
    await new Promise((r) => setTimeout(r, 130));
  }
  p.stop();
  return text;
}

test('on a terminal the progress line is redrawn in place and cleared at the end', async () => {
  const text = await progressOutput(true, true);
  assert.match(text, /^\r\x1b\[K\d+ sent, \d+ records\/s, [\d.]+ MB\/s, 7 in flight, 0 errors/);
  assert.ok(text.endsWith('\r\x1b[K'), 'cleared before the report');
  assert.ok(!text.includes('\n'), 'never a new line');
});

test('not on a terminal: plain window lines only, or nothing', async () => {
  const text = await progressOutput(false, true);
  assert.ok(!CONTROL_CHARS.test(text), JSON.stringify(text));
  assert.match(text, /^(\d+ records sent, [\d.]+ records\/sec \([\d.]+ MB\/sec\), [\d.]+ ms avg latency, [\d.]+ ms max latency\.\n)+$/);
  assert.equal(await progressOutput(false, false), '');
});

test("--print-metrics: producer.metrics() as the Java tool prints them (group:name:{tags} : value)", () => {
  const m = (name: string, group: string, tags: Record<string, string>, value: number) => ({ name, group, tags, value, description: '' });
  const text = formatMetrics([
    m('record-send-total', 'producer-metrics', { 'client-id': 'perf-producer-client' }, 1500),
    m('byte-rate', 'producer-topic-metrics', { 'client-id': 'perf-producer-client', topic: 't' }, 12.25),
    m('batch-size-avg', 'producer-metrics', { 'client-id': 'perf-producer-client' }, NaN),
  ]);
  assert.equal(
    text,
    [
      '',
      'Metric Name                                                                  Value',
      'producer-metrics:batch-size-avg:{client-id=perf-producer-client}           : NaN',
      'producer-metrics:record-send-total:{client-id=perf-producer-client}        : 1500.000',
      'producer-topic-metrics:byte-rate:{client-id=perf-producer-client, topic=t} : 12.250',
    ].join('\n'),
  );
  assert.equal(formatMetrics([]), '');
});
