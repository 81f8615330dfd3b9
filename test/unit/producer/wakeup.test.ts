/**
 * When the sender runs after a send (issue 15, awaited-send latency): with linger.ms 0 the
 * Produce request is made in the same event-loop turn as the send() that filled its batch,
 * not a setImmediate later; with linger.ms > 0 the run still waits for a loop turn, so the
 * appends of a turn share one request. Checked by ordering against a setImmediate queued
 * before the send (on the code before the change the request came after it), never by time.
 */
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import type { Metric } from '../../../ts/metrics/producer-metrics.js';
import { Producer } from '../../../ts/producer/producer.js';
import { availableBackends, useBackend } from '../../helpers/backends.js';
import { ApiKey, FakeCluster } from '../../helpers/fake-cluster.js';

const open: { fake: FakeCluster; producer: Producer }[] = [];

afterEach(async () => {
  for (const { fake, producer } of open.splice(0)) {
    await producer.close({ timeoutMs: 1000 }).catch(() => undefined);
    await fake.stop();
  }
});

function produceRequests(ms: Metric[]): number {
  const m = ms.find((x) => x.name === 'request-total' && x.group === 'producer-metrics');
  assert.ok(m, 'producer-metrics/request-total');
  return m.value;
}

async function connected(lingerMs: number): Promise<{ fake: FakeCluster; p: Producer }> {
  const fake = await FakeCluster.start({ brokers: 1, topics: [{ name: 't', partitions: 1 }] });
  const p = new Producer({
    'bootstrap.servers': fake.bootstrap,
    'linger.ms': lingerMs,
    'enable.idempotence': false,
    acks: 1,
  });
  open.push({ fake, producer: p });
  await p.connect(['t']);
  // One send first, so the connection to the leader is up and ready.
  await p.send({ topic: 't', partition: 0, value: 'warm' });
  // The run that response asked for (and anything else queued) is over before the test
  // queues its own setImmediate.
  for (let i = 0; i < 3; i++) await new Promise((resolve) => setImmediate(resolve));
  return { fake, p };
}

for (const { name } of availableBackends()) {
  describe(`sender wake-up, ${name} backend`, () => {
    let restore: () => void = () => undefined;
    afterEach(() => restore());

    it('linger.ms 0: the request is made before a setImmediate queued before send()', async () => {
      restore = useBackend(name).restore;
      const { fake, p } = await connected(0);
      const before = produceRequests(p.metrics());
      const seen = new Promise<number>((resolve) => setImmediate(() => resolve(produceRequests(p.metrics()))));
      const sends = [p.send({ topic: 't', partition: 0, value: 'a' }), p.send({ topic: 't', partition: 0, value: 'b' })];
      assert.equal(await seen, before + 1, 'one request for both appends, made within the turn');
      await Promise.all(sends);
      assert.equal(fake.requestsOf(ApiKey.Produce).length, 2);
      assert.deepEqual(fake.values('t', 0), ['warm', 'a', 'b']);
    });

    it('linger.ms > 0: the run waits for the linger, the appends of a turn share one request', async () => {
      restore = useBackend(name).restore;
      const { fake, p } = await connected(20);
      const before = produceRequests(p.metrics());
      const seen = new Promise<number>((resolve) => setImmediate(() => resolve(produceRequests(p.metrics()))));
      const sends = [p.send({ topic: 't', partition: 0, value: 'a' }), p.send({ topic: 't', partition: 0, value: 'b' })];
      assert.equal(await seen, before);
      await Promise.all(sends);
      assert.equal(fake.requestsOf(ApiKey.Produce).length, 2);
      assert.deepEqual(fake.values('t', 0), ['warm', 'a', 'b']);
    });
  });
}
