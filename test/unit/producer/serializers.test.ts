/**
 * key.serializer / value.serializer: functions and the built-in names, applied once per
 * record with (data, topic, headers), the bytes read back from the fake broker; bad settings
 * and failing serializers give clear errors; the default keeps taking Buffer, string, null.
 */
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { ConfigError } from '../../../ts/errors.js';
import { Producer } from '../../../ts/producer/producer.js';
import { FakeCluster } from '../../helpers/fake-cluster.js';

let fake: FakeCluster | null = null;
const producers: Producer<any, any>[] = [];
afterEach(async () => {
  await Promise.all(producers.splice(0).map((p) => p.close({ timeoutMs: 1000 }).catch(() => undefined)));
  await fake?.stop();
  fake = null;
});

async function cluster(): Promise<FakeCluster> {
  fake = await FakeCluster.start({ brokers: 1, topics: [{ name: 't', partitions: 1 }] });
  return fake;
}
function track<P extends Producer<any, any>>(p: P): P {
  producers.push(p);
  return p;
}

interface Order {
  id: number;
  items: string[];
}

describe('serializers', () => {
  it("a function gets (data, topic, headers) once per record; 'json' and 'string' built-ins", async () => {
    const f = await cluster();
    const calls: unknown[][] = [];
    const p = track(
      new Producer<string, Order>({
        'bootstrap.servers': f.bootstrap,
        'linger.ms': 0,
        'key.serializer': 'string',
        'value.serializer': (order, topic, headers) => {
          calls.push([order, topic, headers]);
          return JSON.stringify({ ...order, topic });
        },
      }),
    );
    const headers = { h: 'v' };
    await p.send({ topic: 't', key: 'k1', value: { id: 1, items: ['a'] }, headers });
    await p.send({ topic: 't', key: 'k2', value: null });
    assert.deepEqual(calls, [
      [{ id: 1, items: ['a'] }, 't', headers],
      [null, 't', undefined],
    ]);
    const recs = f.records('t', 0);
    assert.equal(recs[0]!.key!.toString(), 'k1');
    assert.deepEqual(JSON.parse(recs[0]!.value!.toString()), { id: 1, items: ['a'], topic: 't' });
    // A function decides what null becomes (this one spreads it into an object).
    assert.equal(recs[1]!.value!.toString(), '{"topic":"t"}');
  });

  it("'json' writes JSON and keeps null a tombstone; 'buffer' takes bytes as they are", async () => {
    const f = await cluster();
    const p = track(
      new Producer<Buffer, unknown>({ 'bootstrap.servers': f.bootstrap, 'linger.ms': 0, 'key.serializer': 'buffer', 'value.serializer': 'json' }),
    );
    await p.send({ topic: 't', key: Buffer.from([1, 2, 3]), value: { a: [1, 'x'] } });
    await p.send({ topic: 't', key: new Uint8Array([9]) as Buffer, value: null });
    await p.send({ topic: 't', value: 'plain string' });
    const recs = f.records('t', 0);
    assert.deepEqual([...recs[0]!.key!], [1, 2, 3]);
    assert.equal(recs[0]!.value!.toString(), '{"a":[1,"x"]}');
    assert.deepEqual([...recs[1]!.key!], [9]);
    assert.equal(recs[1]!.value, null);
    assert.equal(recs[2]!.key, null);
    assert.equal(recs[2]!.value!.toString(), '"plain string"');
  });

  it('a serializer that throws or answers a wrong type fails that send only, with SERIALIZATION_ERROR', async () => {
    const f = await cluster();
    const p = track(
      new Producer<unknown, unknown>({
        'bootstrap.servers': f.bootstrap,
        'linger.ms': 0,
        'key.serializer': 'string',
        'value.serializer': (v) => {
          if (v === 'boom') throw new Error('cannot');
          return v === 'number' ? (42 as never) : String(v);
        },
      }),
    );
    let cbErr: Error | null = null;
    await assert.rejects(
      p.send({ topic: 't', value: 'boom' }, (e) => (cbErr = e)),
      (e: Error & { code?: string; cause?: unknown }) => {
        assert.equal(e.code, 'SERIALIZATION_ERROR');
        assert.match(e.message, /value of a record for topic t: cannot/);
        assert.equal((e.cause as Error).message, 'cannot');
        return true;
      },
    );
    assert.ok(cbErr, 'the callback got the error too');
    await assert.rejects(p.send({ topic: 't', value: 'number' }), /value\.serializer result must be a Buffer, a string or null/);
    await assert.rejects(p.send({ topic: 't', key: 7, value: 'x' }), /key of a record for topic t: the 'string' serializer takes strings, not number/);
    await p.send({ topic: 't', value: 'fine' });
    assert.deepEqual(f.values('t', 0), ['fine']);
  });

  it('unset: Buffer, Uint8Array, string and null as before; anything else refused', async () => {
    const f = await cluster();
    const p = track(new Producer({ 'bootstrap.servers': f.bootstrap, 'linger.ms': 0 }));
    await p.send({ topic: 't', key: 'k', value: Buffer.from('b') });
    await p.send({ topic: 't', value: new Uint8Array([0x75]) });
    await p.send({ topic: 't', value: null });
    await assert.rejects(p.send({ topic: 't', value: 12 as never }), /Record value must be a Buffer, a string or null/);
    assert.deepEqual(f.values('t', 0), ['b', 'u', null]);
  });

  it('a bad setting is a ConfigError naming the key', () => {
    assert.throws(
      () => new Producer({ 'bootstrap.servers': '127.0.0.1:1', 'value.serializer': 'avro' as never }),
      (e: Error) => e instanceof ConfigError && /value\.serializer/.test(e.message) && /'string', 'json' or 'buffer'/.test(e.message),
    );
    assert.throws(() => new Producer({ 'bootstrap.servers': '127.0.0.1:1', 'key.serializer': 3 as never }), /key\.serializer/);
  });
});
