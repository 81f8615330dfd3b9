/**
 * The checker the fault tests rely on (test/helpers/delivery-check.ts): if it miscounted, a
 * fault run could pass while losing records. Each case builds a ledger and a log by hand.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DeliveryLedger, activeResources, checkDelivery, formatReport, resourcesLeftSince } from '../../helpers/delivery-check.js';
import type { ConsumedRecord } from '../../helpers/kcat.js';

function logOf(entries: [partition: number, offset: number, value: string | null][]): ConsumedRecord[] {
  return entries.map(([partition, offset, value]) => ({
    partition,
    offset,
    timestamp: 0,
    key: null,
    value: value === null ? null : Buffer.from(value),
    headers: [],
    rawHeaders: [],
    timestampType: 'create',
  }));
}

/** Sends n records per partition; acks each at `offset` = its seq unless told otherwise. */
async function ledgerWith(
  partitions: number,
  n: number,
  outcome: (p: number, seq: number) => { offset: number } | Error | 'pending' = (_p, seq) => ({ offset: seq }),
): Promise<DeliveryLedger> {
  const ledger = new DeliveryLedger(partitions);
  const settles: Promise<void>[] = [];
  for (let seq = 0; seq < n; seq++) {
    for (let p = 0; p < partitions; p++) {
      const rec = ledger.next(p);
      assert.equal(rec.value, `${p}:${seq}`);
      const o = outcome(p, seq);
      if (o === 'pending') {
        void ledger.track(rec, new Promise(() => {}));
      } else if (o instanceof Error) {
        settles.push(ledger.track(rec, Promise.reject(o)));
      } else {
        settles.push(ledger.track(rec, Promise.resolve({ partition: p, offset: o.offset })));
      }
    }
  }
  await Promise.all(settles);
  return ledger;
}

test('a clean run: everything acked, in the log once, in order', async () => {
  const ledger = await ledgerWith(2, 3);
  const r = checkDelivery(ledger, logOf([[0, 0, '0:0'], [0, 1, '0:1'], [0, 2, '0:2'], [1, 0, '1:0'], [1, 1, '1:1'], [1, 2, '1:2']]));
  const { samples, failedBy, ...counts } = r;
  assert.deepEqual(counts, {
    sent: 6, acked: 6, failed: 0, unsettled: 0, inLog: 6,
    lost: 0, duplicated: 0, reordered: 0, misplaced: 0, foreign: 0, failedButWritten: 0,
  });
  assert.deepEqual(failedBy, {});
  assert.deepEqual(Object.values(samples).flat(), []);
});

test('an acked record missing from the log is lost; a failed one missing is not', async () => {
  const ledger = await ledgerWith(1, 3, (_p, seq) => (seq === 2 ? new Error('boom') : { offset: seq }));
  const r = checkDelivery(ledger, logOf([[0, 0, '0:0']]));
  assert.equal(r.lost, 1);
  assert.deepEqual(r.samples.lost, ['0:1 (acked at offset 1)']);
  assert.equal(r.failed, 1);
  assert.deepEqual(r.failedBy, { Error: 1 });
});

test('copies count as duplicates, not as reorders; a lower sequence after a higher one is a reorder', async () => {
  // Log "0 1 2 1 2" (a retried request written twice) and "2 1" on the other partition.
  const ledger = await ledgerWith(2, 3, (p, seq) => ({ offset: p === 0 ? seq : [1, 0, 2][seq]! }));
  const r = checkDelivery(
    ledger,
    logOf([
      [0, 0, '0:0'], [0, 1, '0:1'], [0, 2, '0:2'], [0, 3, '0:1'], [0, 4, '0:2'],
      [1, 0, '1:1'], [1, 1, '1:0'], [1, 2, '1:2'],
    ]),
  );
  assert.equal(r.duplicated, 2);
  assert.equal(r.reordered, 1);
  assert.deepEqual(r.samples.reordered, ['1:0 at offset 1 after 1:1']);
  assert.equal(r.lost, 0);
  assert.equal(r.misplaced, 0);
});

test('an ack whose offset holds another record is misplaced; unknown values are foreign', async () => {
  const ledger = await ledgerWith(1, 2, (_p, seq) => ({ offset: seq === 1 ? 7 : 0 }));
  const r = checkDelivery(ledger, logOf([[0, 0, '0:0'], [0, 1, '0:1'], [0, 2, '0:9'], [0, 3, 'junk'], [0, 4, null], [0, 5, '1:0']]));
  assert.equal(r.misplaced, 1);
  assert.equal(r.foreign, 4, '0:9 was never sent, junk and null are not ours, 1:0 sits in the wrong partition');
  assert.match(formatReport('x', r), /misplaced 1, foreign 4/);
});

test('a failed send that the log holds anyway is counted as failed but written', async () => {
  const err = Object.assign(new Error('timed out'), { name: 'KafkaJSNumberOfRetriesExceeded', cause: { type: 'REQUEST_TIMED_OUT' } });
  const ledger = await ledgerWith(1, 2, (_p, seq) => (seq === 1 ? err : { offset: 0 }));
  const r = checkDelivery(ledger, logOf([[0, 0, '0:0'], [0, 1, '0:1']]));
  assert.equal(r.failedButWritten, 1);
  assert.deepEqual(r.failedBy, { 'KafkaJSNumberOfRetriesExceeded cause REQUEST_TIMED_OUT': 1 });
});

test('unsettled sends are reported, and waitForSettled gives up with a count', async () => {
  const ledger = await ledgerWith(1, 3, (_p, seq) => (seq === 0 ? { offset: 0 } : 'pending'));
  assert.equal(checkDelivery(ledger, logOf([[0, 0, '0:0']])).unsettled, 2);
  await assert.rejects(ledger.waitForSettled(20), /2 sends still unsettled/);
  await assert.rejects(ledger.waitForAcks(2, 20), /waited 20 ms for 2 acks/);
  await ledger.waitForAcks(1, 20);
});

test('resourcesLeftSince sees a socket server left open, and nothing once it is closed', async () => {
  const { createServer } = await import('node:net');
  const before = activeResources();
  const server = createServer().listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  assert.deepEqual(await resourcesLeftSince(before), { TCPServerWrap: 1 });
  await new Promise((r) => server.close(r));
  assert.deepEqual(await resourcesLeftSince(before), {});
});
