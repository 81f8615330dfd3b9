/**
 * How long does one drain of many lingered gzip batches block the JS thread? (issue 10,
 * item 2.) A batch drained before it closed (linger, flush) has not been compressed yet;
 * the old addon compressed such batches one after another on the JS thread at drain. The
 * process-wide compression pool takes them all at once, in parallel, the JS thread taking
 * its share.
 *
 *   npm run build && npm run build:native && node out/bench/drain-stall.bench.js
 *       [--batches=100] [--rounds=30] [--addon=/path/to/kafka_turbo.node]
 *
 * Each round: a native accumulator (gzip, batch.size 32 KiB, linger 1 hour), 100
 * partitions each holding one open batch of ~16 KiB of JSON records (so none closed and
 * none was compressed on append), then on the next event-loop turn one drain() of all of
 * them. Reported: the drain call's wall time (median, p90, max over the rounds), the CPU
 * time the JS thread itself spent in it (the part of the stall that is work, not waiting for
 * a core on a shared machine), and the longest event-loop stall
 * perf_hooks.monitorEventLoopDelay saw over the rounds (resolution 1 ms; it includes the
 * drain and anything else that ran), with the load average. --addon loads another build of
 * the addon (the "before" row: the commit before the pool, built elsewhere).
 */
import { readFileSync } from 'node:fs';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { loadNativeAddon, type NativeAddon } from '../ts/backend/native.js';
import { CodecId } from '../ts/backend/types.js';

const arg = (name: string, dflt: string): string =>
  process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? dflt;
const batches = Number(arg('batches', '100'));
const rounds = Number(arg('rounds', '30'));
const addonPath = arg('addon', '');
const addon: NativeAddon = addonPath ? (require(addonPath) as NativeAddon) : loadNativeAddon();

const STAMP = { producerId: -1n, producerEpoch: -1, transactional: false, baseSequences: null };
const records = Array.from({ length: 240 }, (_, i) => ({
  key: Buffer.from(`user-${i % 37}`),
  value: Buffer.from(JSON.stringify({ id: i, event: i % 3 ? 'click' : 'view', page: `/p/${i % 11}`, amount: (i * 37) % 1000 })),
  headers: null,
  timestamp: 1_700_000_000_000 + i,
}));
/** CPU time of this (the JS) thread so far, ns: the kernel's schedstat, first field. On a
 * loaded machine wall time is mostly waiting for a core; this is the work the drain itself
 * put on the event loop's thread. */
const schedstat = `/proc/${process.pid}/task/${process.pid}/schedstat`;
const jsThreadCpuNs = (): number => Number(readFileSync(schedstat, 'utf8').split(' ')[0]);
const turn = () => new Promise<void>((resolve) => setImmediate(resolve));
const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(p * xs.length))]!;

async function main(): Promise<void> {
  const drainMs: number[] = [];
  const cpuMs: number[] = [];
  let bytesPerBatch = 0;
  const h = monitorEventLoopDelay({ resolution: 1 });
  for (let r = 0; r < rounds + 3; r++) {
    const acc = addon.createAccumulator({ batchSize: 32 * 1024, lingerMs: 3_600_000, bufferMemory: 1 << 30, codec: CodecId.Gzip });
    let undrained = 0;
    for (let p = 0; p < batches; p++) {
      acc.append(p, records, 0);
      undrained = acc.stats().undrainedBatches;
    }
    if (undrained !== batches) throw new Error(`expected ${batches} open batches, got ${undrained}`);
    bytesPerBatch = acc.stats().bufferedBytes / batches;
    await turn();
    if (r === 3) h.enable(); // the first rounds warm up (codec state, pool threads)
    const partitions = Array.from({ length: batches }, (_, p) => p);
    const c0 = jsThreadCpuNs();
    const t0 = performance.now();
    const drained = acc.drain(partitions, Infinity, STAMP);
    const t1 = performance.now();
    const c1 = jsThreadCpuNs();
    if (drained.length !== batches || drained.some((d) => (d.bytes.readInt16BE(21) & 7) !== CodecId.Gzip)) {
      throw new Error('not every batch came out gzip-compressed');
    }
    acc.complete(drained.map((d) => ({ batchId: d.batchId, errorCode: 0 })));
    (acc as unknown as { destroy?: () => void }).destroy?.();
    if (r >= 3) {
      drainMs.push(t1 - t0);
      cpuMs.push((c1 - c0) / 1e6);
    }
    await turn();
  }
  h.disable();
  const threads = 'memoryStats' in addon ? addon.memoryStats().compressThreads : 'none (thread per accumulator)';
  console.log(
    `${batches} lingered gzip batches of ${(bytesPerBatch / 1024).toFixed(1)} KiB, ${rounds} rounds, addon ${addonPath || 'build/Release'}, pool threads ${threads}`,
  );
  console.log(
    `drain(): median ${pct(drainMs, 0.5).toFixed(2)} ms, p90 ${pct(drainMs, 0.9).toFixed(2)} ms, max ${Math.max(...drainMs).toFixed(2)} ms; ` +
      `JS-thread CPU in drain(): median ${pct(cpuMs, 0.5).toFixed(2)} ms, max ${Math.max(...cpuMs).toFixed(2)} ms; ` +
      `longest event-loop stall ${(h.max / 1e6).toFixed(2)} ms; load average ${readFileSync('/proc/loadavg', 'utf8').split(' ')[0]}`,
  );
}

void main();
