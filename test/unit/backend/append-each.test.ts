/**
 * RecordAccumulator.appendEach (issue 10 item 4): the one-record sends of a tick are handed
 * to the backend in one call, and must make exactly the batches that one append() per record
 * makes -- each record bounded by batch.size, not by maxBatchSize as the later records of one
 * append() call are -- on every backend (the addon's packed and object paths too), with
 * buffer.memory stopping a call part way, and with the sender's blocked set (setBlocked,
 * issue 16) changing between calls, so the growth rules are read per record as well.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { availableBackends, nativeExpected } from '../../helpers/backends.js';
import { loadNativeAddon } from '../../../ts/backend/native.js';
import { CodecId, type AccumulatorConfig, type RecordAccumulator, type RecordInput } from '../../../ts/backend/types.js';
import { prng } from '../../helpers/prng.js';

const configs: { label: string; config: AccumulatorConfig }[] = [
  { label: 'batch.size 1000, maxBatchSize 1 MiB', config: { batchSize: 1000, maxBatchSize: 1 << 20, lingerMs: 5, bufferMemory: 1 << 30, codec: CodecId.None } },
  { label: 'batch.size 300, maxBatchSize 2500', config: { batchSize: 300, maxBatchSize: 2500, lingerMs: 0, bufferMemory: 1 << 30, codec: CodecId.None } },
  { label: 'batch.size 512, small buffer.memory', config: { batchSize: 512, maxBatchSize: 65536, lingerMs: 0, bufferMemory: 6000, codec: CodecId.None } },
];

/** Merges consecutive runs of one batch, as appendEach reports them. */
function merged(pairs: number[]): number[] {
  const out: number[] = [];
  for (let i = 0; i < pairs.length; i += 2) {
    if (out.length > 0 && out[out.length - 2] === pairs[i]) out[out.length - 1]! += pairs[i + 1]!;
    else out.push(pairs[i]!, pairs[i + 1]!);
  }
  return out;
}

type Factory = { name: string; create: (config: AccumulatorConfig) => RecordAccumulator };
const factories: Factory[] = availableBackends().map(({ name, backend }) => ({ name, create: (c) => backend.createAccumulator(c) }));
if (nativeExpected()) factories.push({ name: 'native (object path)', create: (c) => loadNativeAddon().createAccumulator(c) });

for (const { name, create } of factories) {
  describe(`appendEach, ${name}`, () => {
    for (const { label, config } of configs) for (const withBlocked of [false, true]) {
      it(`makes the batches of one append() per record (${label}${withBlocked ? ', partitions blocked and let go' : ''})`, () => {
        const random = prng(0xacc + label.length);
        const records: RecordInput[] = [];
        for (let i = 0; i < 3000; i++) {
          const size = random() < 0.1 ? Math.floor(random() * 700) : 20 + Math.floor(random() * 80);
          records.push({ key: random() < 0.3 ? Buffer.from(`k${i}`) : null, value: Buffer.alloc(size, i & 0xff), headers: null, timestamp: 1000 + i });
        }
        const each = create(config);
        const single = create(config);
        const drainAll = (): void => {
          for (;;) {
            const stamp = { producerId: -1n, producerEpoch: -1, transactional: false, baseSequences: null };
            const ids = [0, 1, 2, 3];
            const a = each.drain(ids, Infinity, stamp);
            const b = single.drain(ids, Infinity, stamp);
            assert.equal(a.length, b.length);
            for (let i = 0; i < a.length; i++) {
              assert.equal(a[i]!.recordCount, b[i]!.recordCount, `batch ${i} record count`);
              assert.ok(a[i]!.bytes.equals(b[i]!.bytes), `batch ${i} bytes`);
            }
            each.complete(a.map((d) => ({ batchId: d.batchId, errorCode: 0 })));
            single.complete(b.map((d) => ({ batchId: d.batchId, errorCode: 0 })));
            if (a.length === 0) return;
          }
        };
        let at = 0;
        let stops = 0;
        let batchesSeen = 0;
        let blockedCalls = 0;
        while (at < records.length) {
          if (withBlocked && random() < 0.15) {
            const set = [0, 1, 2, 3].filter(() => random() < 0.5);
            each.setBlocked(set);
            single.setBlocked(set);
            if (set.length > 0) blockedCalls++;
          }
          const partition = Math.floor(random() * 4);
          const chunk = records.slice(at, at + 1 + Math.floor(random() * 40));
          const got = each.appendEach(partition, chunk, 5000);
          const want: number[] = [];
          let taken = 0;
          for (const r of chunk) {
            const res = single.append(partition, [r], 5000);
            if (res.appended === 0) break;
            taken++;
            want.push(...res.batches);
          }
          assert.equal(got.appended, taken, `records taken at ${at}`);
          assert.deepEqual(got.batches, merged(want), `batches at ${at}`);
          batchesSeen = Math.max(batchesSeen, ...got.batches.filter((_, i) => i % 2 === 0));
          at += taken;
          if (taken < chunk.length) {
            stops++;
            drainAll();
          } else if (random() < 0.1) {
            // A drain now and then, as the sender does: a batch queued behind another grows up
            // to maxBatchSize (issue 16), so without drains a partition would hold two batches.
            drainAll();
          }
        }
        drainAll();
        assert.deepEqual(each.stats(), single.stats());
        // The case did what it says: many batches, and buffer.memory stopped calls part way where small.
        assert.ok(batchesSeen > 20, `${batchesSeen} batches`);
        if (config.bufferMemory < 10000) assert.ok(stops > 10, `${stops} stops`);
        if (withBlocked) assert.ok(blockedCalls > 5, `${blockedCalls} blocked sets`);
        each.destroy();
        single.destroy();
      });
    }
  });
}
