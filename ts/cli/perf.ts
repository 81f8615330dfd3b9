/**
 * `kafka-turbo perf`: kafka-producer-perf-test (org.apache.kafka.tools.ProducerPerformance)
 * on kafka-turbo's producer. Same payloads (one of random upper-case letters of --record-size
 * bytes, a line of --payload-file picked at random, or the record's number with
 * --payload-monotonic), same throttle (--throughput N records/s; negative: none), the same
 * accounting (failed records are not "sent"; latency is send() to acknowledgement), so the two
 * can be run with one command line and compared.
 *
 * One difference, on purpose: the Java tool's send() blocks the thread when buffer.memory is
 * full; ours never blocks, so the loop itself bounds the records not yet acknowledged
 * (`window`, --max-in-flight-records), as an application has to.
 */
import { Producer } from '../producer/producer.js';
import type { ProducerConfig } from '../producer/options.js';
import { Stats } from './report.js';
import { SendWindow, settledUnlessAborted } from './send-window.js';
import type { Metric } from '../metrics/producer-metrics.js';

export interface PerfOptions {
  config: ProducerConfig;
  topic: string;
  numRecords: number;
  /** Exactly one payload source. */
  recordSize?: number;
  payloads?: Buffer[];
  payloadMonotonic?: boolean;
  /** Records per second; negative: as fast as the producer takes them. */
  throughput: number;
  /** Records sent and not yet settled, at most. */
  window: number;
  /** Ctrl-C: stop sending, close the producer (bounded), report what was done. */
  signal?: AbortSignal;
  /** Called once the producer exists and records are about to flow (to start a progress line). */
  onStart?: (stats: Stats, inFlight: () => number) => void;
  /** Where per-record failures are told (the first few of them). */
  warn?: (line: string) => void;
  /** With transactional.id in config: commit after a transaction has been open this long
   * (ProducerPerformance's --transaction-duration-ms), and once more at the end. */
  transactionDurationMs?: number;
}

export interface PerfResult {
  stats: Stats;
  seconds: number;
  cpu: NodeJS.CpuUsage;
  producer: Producer;
  /** producer.metrics() after the last acknowledgement, before close (as the Java tool prints them). */
  metrics: Metric[];
  interrupted: boolean;
}

/** Random upper-case ASCII letters, as the Java tool's payload (it draws them anew per record;
 * one draw here: the producer copies the bytes at send(), and the mix of letters — what a codec
 * sees — is the same). */
export function randomPayload(size: number): Buffer {
  const b = Buffer.allocUnsafe(size);
  for (let i = 0; i < size; i++) b[i] = 65 + Math.floor(Math.random() * 26);
  return b;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export async function runPerf(o: PerfOptions): Promise<PerfResult> {
  const producer = new Producer(o.config);
  const warn = o.warn ?? (() => {});
  const stats = new Stats(o.numRecords);
  const fixed = o.recordSize !== undefined ? randomPayload(o.recordSize) : null;
  const txnMs = o.config['transactional.id'] !== undefined ? (o.transactionDurationMs ?? 3000) : 0;
  let txnStart = 0;
  let txnOpen = false;
  let ready: boolean;
  try {
    const prepare = async (): Promise<void> => {
      await producer.connect([o.topic]);
      if (txnMs > 0) await producer.initTransactions();
    };
    ready = await settledUnlessAborted(prepare(), o.signal);
  } catch (e) {
    await producer.close({ timeoutMs: 1000 }).catch(() => undefined);
    throw e;
  }
  if (!ready) {
    // Ctrl-C before the first record: nothing to flush, and a report of nothing done.
    const metrics = producer.metrics();
    await producer.close({ timeoutMs: 0 });
    return { stats, seconds: 0, cpu: { user: 0, system: 0 }, producer, metrics, interrupted: true };
  }
  const win = new SendWindow(o.window, stats, warn, o.signal);
  const clock = win.clock;
  o.onStart?.(stats, () => win.inFlight);
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  for (let i = 0; i < o.numRecords && !o.signal?.aborted; i++) {
    if (await win.waitForRoom()) {
      if (o.signal?.aborted) break;
      clock.resync();
    }
    // As ProducerPerformance: a transaction begins with the first record after a commit and is
    // committed (which flushes it) once it has been open for the duration.
    if (txnMs > 0 && !txnOpen) {
      producer.beginTransaction();
      txnOpen = true;
      txnStart = performance.now();
    }
    const value = fixed ?? (o.payloads ? o.payloads[Math.floor(Math.random() * o.payloads.length)]! : Buffer.from(String(i)));
    const size = value.length;
    const start = clock.sendTime();
    win.track(producer.send({ topic: o.topic, value }), i, start, size);
    if (txnOpen && performance.now() - txnStart >= txnMs) {
      await producer.commitTransaction();
      txnOpen = false;
    }
    // ThroughputThrottler's rule: when ahead of the target rate, sleep the difference off
    // (in steps of at least 2 ms, as its MIN_SLEEP_NS).
    if (o.throughput > 0) {
      const due = t0 + ((i + 1) * 1000) / o.throughput;
      const ahead = due - performance.now();
      if (ahead >= 2) {
        await sleep(ahead);
        clock.resync();
      }
    }
  }
  let interrupted = o.signal?.aborted === true;
  win.close();
  if (txnOpen && !interrupted) await producer.commitTransaction();
  // A Ctrl-C during the last flush stops the wait as one during the sends does (the bounded
  // close below then gives the records in flight their last chance).
  if (!interrupted) interrupted = !(await settledUnlessAborted(producer.flush(), o.signal));
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const metrics = producer.metrics();
  await producer.close(interrupted ? { timeoutMs: 3000 } : {});
  return { stats, seconds, cpu, producer, metrics, interrupted };
}
