/**
 * What `perf` and `produce` measure and how they print it: per-record send→ack latency kept
 * as kafka-producer-perf-test keeps it (every record counts for avg and max; a sample of at most
 * ~500k for the percentiles, same index rule), its 5-second window lines and its final line
 * (so the two tools can be compared line for line), our own report (text or JSON), the
 * progress line on a terminal, and `--print-metrics` in the Java tool's layout.
 */
import { backendInfo } from '../backend/load.js';
import { codecName } from '../compression/index.js';
import { CodecId } from '../backend/types.js';
import type { Metric } from '../metrics/producer-metrics.js';
import type { ResolvedConfig } from '../producer/options.js';

/**
 * A clock for per-record latency that costs less than a performance.now() per record and
 * event: `ackTime()` reads the clock once per synchronous run of completions (the records of
 * one ProduceResponse settle together, in one task, so they share the instant) and forgets it
 * at the next microtask; `sendTime()` re-reads it every 16th send (sends run a few
 * microseconds apart, so the stamp is off by well under 0.1 ms, against latencies in ms).
 */
export class LatencyClock {
  private ack = -1;
  private sent = 0;
  private sends = 0;
  private readonly forget = (): void => {
    this.ack = -1;
  };
  ackTime(): number {
    if (this.ack < 0) {
      this.ack = performance.now();
      queueMicrotask(this.forget);
    }
    return this.ack;
  }
  sendTime(): number {
    if ((this.sends++ & 15) === 0) this.sent = performance.now();
    return this.sent;
  }
  /** After a pause (a throttle sleep, a full window) the next send reads the clock afresh. */
  resync(): void {
    this.sends = 0;
  }
}

const MB = 1024 * 1024; // kafka-producer-perf-test's "MB" (and ours, to compare like with like)
const SAMPLE_CAP = 500_000;

export class Stats {
  readonly start = performance.now();
  count = 0;
  bytes = 0;
  errors = 0;
  private totalLatency = 0;
  private maxLatency = 0;
  private readonly samples: number[] = [];
  private sampling: number;
  private iteration = 0;
  // The current reporting window (the plain 5-second lines).
  private windowStart = this.start;
  private windowCount = 0;
  private windowBytes = 0;
  private windowLatency = 0;
  private windowMax = 0;

  /** expected: the number of records when known (perf), so the sampling rate is Java's from the start. */
  constructor(expected?: number) {
    this.sampling = expected && expected > 0 ? Math.max(1, Math.floor(expected / Math.min(expected, SAMPLE_CAP))) : 1;
  }

  record(latencyMs: number, bytes: number): void {
    this.count++;
    this.bytes += bytes;
    this.totalLatency += latencyMs;
    if (latencyMs > this.maxLatency) this.maxLatency = latencyMs;
    this.windowCount++;
    this.windowBytes += bytes;
    this.windowLatency += latencyMs;
    if (latencyMs > this.windowMax) this.windowMax = latencyMs;
    if (this.iteration++ % this.sampling === 0) {
      this.samples.push(latencyMs);
      // Unknown totals (produce): keep the sample bounded by halving it and its rate.
      if (this.samples.length >= 2 * SAMPLE_CAP) {
        let j = 0;
        for (let i = 0; i < this.samples.length; i += 2) this.samples[j++] = this.samples[i]!;
        this.samples.length = j;
        this.sampling *= 2;
      }
    }
  }

  /** kafka-producer-perf-test's window line, and a new window; null when no record completed in it. */
  takeWindowLine(now = performance.now()): string | null {
    const elapsed = now - this.windowStart;
    const line =
      this.windowCount === 0
        ? null
        : `${this.windowCount} records sent, ${((1000 * this.windowCount) / elapsed).toFixed(1)} records/sec ` +
          `(${((1000 * this.windowBytes) / elapsed / MB).toFixed(2)} MB/sec), ${(this.windowLatency / this.windowCount).toFixed(1)} ms avg latency, ` +
          `${this.windowMax.toFixed(1)} ms max latency.`;
    this.windowStart = now;
    this.windowCount = 0;
    this.windowBytes = 0;
    this.windowLatency = 0;
    this.windowMax = 0;
    return line;
  }

  latency(): LatencySummary {
    const s = this.samples.slice().sort((a, b) => a - b);
    const at = (p: number): number => (s.length ? s[Math.min(s.length - 1, Math.floor(p * s.length))]! : 0);
    return {
      avg: this.count ? this.totalLatency / this.count : 0,
      p50: at(0.5),
      p95: at(0.95),
      p99: at(0.99),
      p999: at(0.999),
      max: this.maxLatency,
    };
  }
}

export interface LatencySummary {
  avg: number;
  p50: number;
  p95: number;
  p99: number;
  p999: number;
  max: number;
}

export interface Report {
  command: 'perf' | 'produce';
  topic: string;
  bootstrap: string;
  /** True when the CLI started its own local broker. */
  embeddedBroker: boolean;
  /** Records the broker acknowledged (as the Java tool, failed ones are not "sent"). */
  records: number;
  errors: number;
  bytes: number;
  seconds: number;
  recordsPerSec: number;
  /** 2^20 bytes per second, as kafka-producer-perf-test's "MB/sec". */
  mbPerSec: number;
  /** send() to acknowledgement, in milliseconds. */
  latencyMs: LatencySummary;
  /** User + system CPU of this process over the run, per record sent or failed. */
  cpuUsPerRecord: number;
  backend: string;
  crc32c: string;
  transport: string;
  codec: string;
  interrupted: boolean;
}

/** The transport the producer's connections use, as the backend and the security settings decide it. */
export function transportOf(config: ResolvedConfig): string {
  // TLS connections stay on node:tls whatever the backend (ts/net/transport.ts).
  if (config.security.tls) return 'node:tls';
  return backendInfo().ioUring ? 'io_uring' : 'node:net';
}

export function makeReport(
  command: Report['command'],
  stats: Stats,
  cpu: NodeJS.CpuUsage,
  config: ResolvedConfig,
  extra: { topic: string; bootstrap: string; embeddedBroker: boolean; interrupted: boolean; seconds: number },
): Report {
  const info = backendInfo();
  const attempted = stats.count + stats.errors;
  return {
    command,
    topic: extra.topic,
    bootstrap: extra.bootstrap,
    embeddedBroker: extra.embeddedBroker,
    records: stats.count,
    errors: stats.errors,
    bytes: stats.bytes,
    seconds: extra.seconds,
    recordsPerSec: extra.seconds > 0 ? stats.count / extra.seconds : 0,
    mbPerSec: extra.seconds > 0 ? stats.bytes / extra.seconds / MB : 0,
    latencyMs: stats.latency(),
    cpuUsPerRecord: attempted ? (cpu.user + cpu.system) / attempted : 0,
    backend: info.backend,
    crc32c: info.crc32c,
    transport: transportOf(config),
    codec: config.codec === CodecId.None ? 'none' : codecName(config.codec),
    interrupted: extra.interrupted,
  };
}

/** kafka-producer-perf-test's final line as Kafka 4.1's prints it (records/sec with one
 * decimal; its integer-millisecond percentiles: the floor of ours). */
export function javaTotalLine(r: Report): string {
  const l = r.latencyMs;
  const ms = (x: number): number => Math.floor(x);
  return (
    `${r.records} records sent, ${r.recordsPerSec.toFixed(1)} records/sec (${r.mbPerSec.toFixed(2)} MB/sec), ` +
    `${l.avg.toFixed(2)} ms avg latency, ${l.max.toFixed(2)} ms max latency, ` +
    `${ms(l.p50)} ms 50th, ${ms(l.p95)} ms 95th, ${ms(l.p99)} ms 99th, ${ms(l.p999)} ms 99.9th.`
  );
}

export function formatReport(r: Report): string {
  const l = r.latencyMs;
  const f = (x: number): string => x.toFixed(x < 10 ? 2 : 1);
  return [
    ...(r.command === 'perf' ? [javaTotalLine(r)] : []),
    `${r.interrupted ? 'interrupted: ' : ''}${r.records} records (${r.bytes} bytes) to ${r.topic} at ${r.bootstrap}${r.embeddedBroker ? ' (local broker)' : ''} in ${r.seconds.toFixed(2)} s, ${r.errors} failed`,
    `throughput: ${Math.round(r.recordsPerSec)} records/s, ${r.mbPerSec.toFixed(2)} MB/s`,
    `latency (send -> ack, ms): p50 ${f(l.p50)}, p95 ${f(l.p95)}, p99 ${f(l.p99)}, p99.9 ${f(l.p999)}, max ${f(l.max)}, avg ${f(l.avg)}`,
    `client CPU: ${r.cpuUsPerRecord.toFixed(2)} us per record`,
    `backend: ${r.backend}, CRC32C: ${r.crc32c}, transport: ${r.transport}, codec: ${r.codec}`,
  ].join('\n');
}

/**
 * The live progress line. On a terminal: one line redrawn in place (carriage return + erase to
 * the end of the line) with records/s, MB/s, in flight and errors; cleared before the report.
 * Elsewhere (a pipe, a file): no control characters at all, only kafka-producer-perf-test's
 * plain window lines every `intervalMs` (5 s by default, as the Java tool), or nothing.
 */
export class Progress {
  private timer: NodeJS.Timeout | null = null;
  private drawn = false;
  private lastCount = 0;
  private lastBytes = 0;
  private lastAt = performance.now();

  constructor(
    private readonly out: NodeJS.WritableStream & { isTTY?: boolean },
    private readonly stats: Stats,
    private readonly inFlight: () => number,
    private readonly opts: { tty: boolean; windowLines: boolean; intervalMs: number },
  ) {}

  start(): void {
    if (this.opts.tty) {
      this.timer = setInterval(() => this.draw(), 250);
    } else if (this.opts.windowLines) {
      this.timer = setInterval(() => {
        const line = this.stats.takeWindowLine();
        if (line) this.out.write(line + '\n');
      }, this.opts.intervalMs);
    }
  }

  private draw(): void {
    const now = performance.now();
    const dt = (now - this.lastAt) / 1000;
    const rate = dt > 0 ? (this.stats.count - this.lastCount) / dt : 0;
    const mb = dt > 0 ? (this.stats.bytes - this.lastBytes) / dt / MB : 0;
    this.lastAt = now;
    this.lastCount = this.stats.count;
    this.lastBytes = this.stats.bytes;
    const line = `${this.stats.count} sent, ${Math.round(rate)} records/s, ${mb.toFixed(2)} MB/s, ${this.inFlight()} in flight, ${this.stats.errors} errors`;
    this.out.write(`\r\x1b[K${line}`);
    this.drawn = true;
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    if (this.drawn) this.out.write('\r\x1b[K');
    this.drawn = false;
  }
}

/**
 * producer.metrics() in the layout of the Java tool's --print-metrics
 * (`group:name:{tag=value, ...} : value`, doubles with 3 decimals, sorted by that name).
 */
export function formatMetrics(rows: readonly Metric[]): string {
  if (rows.length === 0) return '';
  const named = rows
    .map((r) => [`${r.group}:${r.name}:{${Object.entries(r.tags).map(([k, v]) => `${k}=${v}`).join(', ')}}`, r.value] as const)
    .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  const width = Math.max(...named.map(([n]) => n.length));
  const lines = [`\n${'Metric Name'.padEnd(width)}   Value`];
  for (const [n, v] of named) {
    const shown = v.toFixed(3);
    lines.push(`${n.padEnd(width)} : ${shown}`);
  }
  return lines.join('\n');
}

