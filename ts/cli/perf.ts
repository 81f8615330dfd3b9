/**
 * The producer performance test behind `kafka-turbo perf` and bench/produce.bench.ts:
 * send N records of a fixed size as fast as the producer takes them, keeping a bounded
 * number in flight, and report throughput, client CPU per record and send→ack latency.
 */
import { Producer } from '../producer/producer.js';
import { backendInfo } from '../backend/load.js';

export interface PerfOptions {
  bootstrap: string;
  topic: string;
  records: number;
  recordSize: number;
  acks: string;
  lingerMs: number;
  batchSize: number;
  /** Records allowed in flight at once (the app's own backpressure). */
  window: number;
}

export interface PerfReport {
  backend: string;
  crc32c: string;
  records: number;
  recordSize: number;
  seconds: number;
  recordsPerSec: number;
  mbPerSec: number;
  cpuUsPerRecord: number;
  latencyMs: { p50: number; p99: number; max: number };
  errors: number;
}

export async function runPerf(o: PerfOptions): Promise<PerfReport> {
  const producer = new Producer({
    'bootstrap.servers': o.bootstrap,
    acks: o.acks,
    'linger.ms': o.lingerMs,
    'batch.size': o.batchSize,
  });
  await producer.connect([o.topic]);
  const value = Buffer.alloc(o.recordSize, 0x61);
  // Latency is sampled (every 64th record) so measuring does not cost more than producing.
  const latencies: number[] = [];
  let errors = 0;
  let inFlight = 0;
  let resume: (() => void) | null = null;
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < o.records; i++) {
    if (inFlight >= o.window) await new Promise<void>((r) => (resume = r));
    inFlight++;
    const sampled = (i & 63) === 0;
    const start = sampled ? performance.now() : 0;
    producer.send({ topic: o.topic, value }).then(
      () => {
        if (sampled) latencies.push(performance.now() - start);
        inFlight--;
        if (resume && inFlight < o.window / 2) {
          const r = resume as () => void;
          resume = null;
          r();
        }
      },
      () => {
        errors++;
        inFlight--;
        if (resume) {
          const r = resume as () => void;
          resume = null;
          r();
        }
      },
    );
  }
  await producer.flush();
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = process.cpuUsage(cpu0);
  await producer.close();
  latencies.sort((a, b) => a - b);
  const pct = (p: number) => (latencies.length ? latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))]! : 0);
  const info = backendInfo();
  return {
    backend: info.backend,
    crc32c: info.crc32c,
    records: o.records,
    recordSize: o.recordSize,
    seconds,
    recordsPerSec: o.records / seconds,
    mbPerSec: (o.records * o.recordSize) / seconds / 1e6,
    cpuUsPerRecord: (cpu.user + cpu.system) / o.records,
    latencyMs: { p50: pct(0.5), p99: pct(0.99), max: latencies[latencies.length - 1] ?? 0 },
    errors,
  };
}

export function formatReport(r: PerfReport): string {
  return [
    `backend: ${r.backend} (crc32c ${r.crc32c})`,
    `${r.records} records of ${r.recordSize} B in ${r.seconds.toFixed(2)} s`,
    `throughput: ${Math.round(r.recordsPerSec).toLocaleString('en-US')} records/s, ${r.mbPerSec.toFixed(1)} MB/s`,
    `client CPU: ${r.cpuUsPerRecord.toFixed(2)} µs per record`,
    `latency (send → ack): p50 ${r.latencyMs.p50.toFixed(1)} ms, p99 ${r.latencyMs.p99.toFixed(1)} ms, max ${r.latencyMs.max.toFixed(1)} ms`,
    `errors: ${r.errors}`,
  ].join('\n');
}
