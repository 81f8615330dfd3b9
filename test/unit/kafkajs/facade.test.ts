/**
 * The KafkaJS facade against KafkaJS 2.2.4 itself, side by side, without a broker: what an
 * app can observe before any request goes out must be the same (exports, event names,
 * validation errors and their order, connection-state errors, logger entries).
 */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import * as kafkajs from 'kafkajs';
import * as turbo from '../../../ts/kafkajs/index.js';
import { CallSink, kafkaJSGiveUpMs } from '../../../ts/kafkajs/producer.js';
import { PendingRecord } from '../../../ts/producer/record.js';

type AnyProducer = { [k: string]: any };

const quiet = { logLevel: 0 as const };

/** A KafkaJS producer and ours, built from the same configuration. */
function pair(
  kafkaConfig: Record<string, unknown> = { brokers: ['127.0.0.1:1'] },
  producerConfig: Record<string, unknown> = {},
): { theirs: AnyProducer; ours: AnyProducer } {
  const theirs = new kafkajs.Kafka({ ...quiet, ...kafkaConfig } as any).producer({
    createPartitioner: kafkajs.Partitioners.DefaultPartitioner,
    ...producerConfig,
  });
  const ours = new turbo.Kafka({ ...quiet, ...kafkaConfig } as any).producer(producerConfig as any);
  return { theirs: theirs as AnyProducer, ours: ours as AnyProducer };
}

interface Outcome {
  ok: boolean;
  name?: string;
  message?: string;
  retriable?: boolean;
}

/** Runs `f` (sync throw or rejection both count) and describes how it ended. */
async function outcome(f: () => unknown): Promise<Outcome> {
  try {
    await f();
    return { ok: true };
  } catch (e) {
    const err = e as { name: string; message: string; retriable?: boolean };
    return { ok: false, name: err.name, message: err.message, retriable: err.retriable };
  }
}

async function sameOutcome(call: (p: AnyProducer) => unknown, config?: Record<string, unknown>): Promise<Outcome> {
  const { theirs, ours } = pair(config);
  const expected = await outcome(() => call(theirs));
  const actual = await outcome(() => call(ours));
  assert.deepEqual(actual, expected);
  return actual;
}

describe('exports', () => {
  it('logLevel, CompressionTypes and the CompressionCodecs keys are KafkaJS values', () => {
    assert.deepEqual({ ...turbo.logLevel }, { ...kafkajs.logLevel });
    assert.deepEqual({ ...turbo.CompressionTypes }, { ...kafkajs.CompressionTypes });
    assert.deepEqual(Object.keys(turbo.CompressionCodecs), Object.keys(kafkajs.CompressionCodecs));
  });

  it('Partitioners has KafkaJS keys', () => {
    assert.deepEqual(Object.keys(turbo.Partitioners).sort(), Object.keys(kafkajs.Partitioners).sort());
  });

  it('every error class KafkaJS exports exists, with the same name', () => {
    const theirs = kafkajs as unknown as Record<string, unknown>;
    const ours = turbo as unknown as Record<string, unknown>;
    const names = Object.keys(theirs).filter((k) => /^KafkaJS/.test(k) && typeof theirs[k] === 'function');
    assert.ok(names.length > 20);
    for (const name of names) {
      assert.equal(typeof ours[name], 'function', `${name} is missing`);
    }
    // Those whose constructor takes a plain message: the instance's name matches KafkaJS's.
    for (const name of ['KafkaJSError', 'KafkaJSNonRetriableError', 'KafkaJSNotImplemented', 'KafkaJSTimeout']) {
      const Theirs = theirs[name] as new (m: string) => Error;
      const Ours = ours[name] as new (m: string) => Error;
      const a = new Ours('x');
      const b = new Theirs('x');
      assert.equal(a.name, b.name);
      assert.equal(a.message, b.message);
      assert.equal(a instanceof (ours.KafkaJSError as new () => Error), true);
    }
  });
});

describe('producer: events and on()', () => {
  it('has the same event names', () => {
    const { theirs, ours } = pair();
    assert.deepEqual({ ...ours.events }, { ...theirs.events });
  });

  it('refuses an unknown event name with the same error', async () => {
    await sameOutcome((p) => p.on('producer.nope', () => undefined));
    await sameOutcome((p) => p.on(undefined, () => undefined));
  });

  it('returns a remover for a known name', async () => {
    const { ours } = pair();
    for (const name of Object.values(ours.events)) {
      const remove = ours.on(name, () => undefined);
      assert.equal(typeof remove, 'function');
      remove();
    }
  });

  it('wraps CONNECT/DISCONNECT in an InstrumentationEvent and logs listener errors', async () => {
    const entries: any[] = [];
    const kafka = new turbo.Kafka({
      brokers: ['127.0.0.1:1'],
      logCreator: () => (e) => entries.push(e),
    });
    const producer = kafka.producer();
    const seen: any[] = [];
    const remove = producer.on(producer.events.DISCONNECT, (e) => {
      seen.push(e);
      throw new Error('listener broke');
    });
    producer.on(producer.events.DISCONNECT, async () => {
      throw new Error('async listener broke');
    });
    // disconnect() works on a producer that never connected, as in KafkaJS, and emits.
    await producer.disconnect();
    await new Promise((r) => setImmediate(r));
    assert.equal(seen.length, 1);
    assert.deepEqual(Object.keys(seen[0]).sort(), ['id', 'payload', 'timestamp', 'type']);
    assert.equal(seen[0].type, 'producer.disconnect');
    assert.equal(typeof seen[0].id, 'number');
    const errors = entries.filter((e) => e.label === 'ERROR').map((e) => e.log.message);
    assert.deepEqual(errors.sort(), ['Failed to execute listener: async listener broke', 'Failed to execute listener: listener broke']);
    assert.equal(entries[0].namespace, 'Producer');
    remove();
    await producer.disconnect();
    assert.equal(seen.length, 1);
  });
});

describe('producer: validation as messageProducer.js', () => {
  const topicCases: Array<[string, Record<string, unknown>]> = [
    ['no topic', { messages: [{ value: 'x' }] }],
    ['empty topic', { topic: '', messages: [{ value: 'x' }] }],
    ['null topic', { topic: null, messages: [{ value: 'x' }] }],
    ['messages null', { topic: 't', messages: null }],
    ['messages undefined', { topic: 't' }],
    ['message without value', { topic: 't', messages: [{ key: 'k' }] }],
    ['second message without value', { topic: 't', messages: [{ value: 'a' }, { key: Buffer.from('k'), headers: { h: 'v' } }] }],
    ['value undefined explicitly', { topic: 't', messages: [{ key: 'k', value: undefined, partition: 0 }] }],
    ['valid, tombstone, not connected', { topic: 't', messages: [{ key: 'k', value: null }] }],
    ['valid, not connected', { topic: 't', messages: [{ value: 'v' }] }],
    ['no messages, not connected', { topic: 't', messages: [] }],
  ];
  for (const [label, record] of topicCases) {
    it(`send: ${label}`, async () => {
      const result = await sameOutcome((p) => p.send(record));
      assert.equal(result.ok, false);
    });
  }

  const batchCases: Array<[string, Record<string, unknown>]> = [
    ['second entry without topic', { topicMessages: [{ topic: 'a', messages: [] }, { messages: [] }] }],
    ['invalid messages in second entry', { topicMessages: [{ topic: 'a', messages: [{ value: 'x' }] }, { topic: 'b' }] }],
    ['missing value in a later topic', { topicMessages: [{ topic: 'a', messages: [{ value: 'x' }] }, { topic: 'b', messages: [{ key: 'x' }] }] }],
    ['no topicMessages, not connected', {}],
    ['valid, not connected', { topicMessages: [{ topic: 'a', messages: [{ value: 'x' }] }], acks: 1 }],
  ];
  for (const [label, batch] of batchCases) {
    it(`sendBatch: ${label}`, async () => {
      const result = await sameOutcome((p) => p.sendBatch(batch));
      assert.equal(result.ok, false);
    });
  }

  it('methods work unbound, as KafkaJS closures do', async () => {
    await sameOutcome((p) => {
      const { send } = p;
      return send({ topic: 't', messages: [{ value: 'v' }] });
    });
    await sameOutcome((p) => {
      const { sendBatch, isIdempotent } = p;
      isIdempotent();
      return sendBatch({ topicMessages: [{ topic: 't', messages: [{ value: 'v' }] }] });
    });
  });

  it('send() and sendBatch() reject, never throw synchronously', () => {
    const { ours } = pair();
    const p = ours.send({ topic: '', messages: [] });
    assert.ok(p instanceof Promise);
    return assert.rejects(p);
  });

  it('disconnecting: KafkaJS error for sends after disconnect()', async () => {
    // After disconnect() both are back to "disconnected".
    await sameOutcome(async (p) => {
      await p.disconnect();
      return p.send({ topic: 't', messages: [{ value: 'v' }] });
    });
  });

  it('transaction() without transactionalId rejects as KafkaJS', async () => {
    const r = await sameOutcome((p) => p.transaction());
    assert.equal(r.message, 'Must provide transactional id for transactional producer');
  });

  it('isIdempotent() is false', () => {
    const { theirs, ours } = pair();
    assert.equal(ours.isIdempotent(), theirs.isIdempotent());
  });
});

describe('producer: connect() brokers checks as KafkaJS', () => {
  const cases: Array<[string, unknown]> = [
    ['empty array', []],
    ['missing', undefined],
    ['null', null],
    ['invalid entry', ['127.0.0.1:1', 5]],
    ['empty string entry', ['']],
    ['async function returning []', async () => []],
    ['function that throws', () => {
      throw new Error('boom');
    }],
    ['async function that rejects', async () => {
      throw new Error('async boom');
    }],
  ];
  for (const [label, brokers] of cases) {
    it(label, async () => {
      const r = await sameOutcome((p) => p.connect(), { brokers });
      assert.equal(r.ok, false);
    });
  }

  it('a malformed host:port is refused before any connection attempt', async () => {
    const { ours } = pair({ brokers: ['no-port-here'] });
    await assert.rejects(ours.connect(), { name: 'KafkaJSNonRetriableError', message: /host:port/ });
  });
});

describe('Kafka: configuration', () => {
  it('takes ssl and sasl as KafkaJS does; a mechanism it cannot run is refused at producer()', () => {
    new turbo.Kafka({ brokers: ['h:1'], ssl: true }).producer();
    new turbo.Kafka({ brokers: ['h:1'], ssl: false }).producer();
    new turbo.Kafka({ brokers: ['h:1'], ssl: { rejectUnauthorized: false }, sasl: { mechanism: 'plain', username: 'u', password: 'p' } }).producer();
    assert.throws(() => new turbo.Kafka({ brokers: ['h:1'], sasl: { mechanism: 'gssapi' } }).producer(), {
      name: 'KafkaJSNonRetriableError',
      message: /SASL mechanism "gssapi" is not supported/,
    });
    assert.throws(() => new turbo.Kafka({ brokers: ['h:1'], sasl: { mechanism: 'aws' } }).producer(), {
      message: /authenticationProvider/,
    });
  });

  it('does not check the brokers before connect(), like KafkaJS', () => {
    new turbo.Kafka({ brokers: [] });
    new turbo.Kafka({} as any).producer();
  });

  it('takes idempotent and transactional producers as KafkaJS does; bad settings fail at producer()', () => {
    const kafka = new turbo.Kafka({ brokers: ['h:1'] });
    assert.equal(kafka.producer({ idempotent: true }).isIdempotent(), true);
    assert.equal(kafka.producer().isIdempotent(), false);
    assert.throws(() => kafka.producer({ idempotent: true, retry: { retries: 0 } }), {
      name: 'KafkaJSNonRetriableError',
      message: /Idempotent producer must allow retries/,
    });
    assert.throws(() => kafka.producer({ idempotent: true, maxInFlightRequests: 6 }), {
      name: 'KafkaJSNonRetriableError',
      message: /at most 5 requests in flight/,
    });
    // Transactions (issue 14) replaced the refusal that was here.
    assert.equal(typeof kafka.producer({ transactionalId: 'tx' }).transaction, 'function');
    assert.throws(() => kafka.producer({ transactionalId: '' as never, idempotent: true }), { name: 'KafkaJSNonRetriableError', message: /Invalid transactionalId/ });
    assert.throws(() => kafka.producer({ transactionalId: 'tx', maxInFlightRequests: 6 }), /max.in.flight.requests.per.connection must be at most 5/);
  });

  it('consumer() and admin() throw KafkaJSNotImplemented', () => {
    const kafka = new turbo.Kafka({ brokers: ['h:1'] });
    assert.throws(() => kafka.consumer({ groupId: 'g' }), { name: 'KafkaJSNotImplemented', message: /producer library/ });
    assert.throws(() => kafka.admin(), { name: 'KafkaJSNotImplemented', message: /producer library/ });
    assert.throws(() => kafka.admin(), turbo.KafkaJSNonRetriableError);
  });

  it('takes Java tuning keys, checks them at producer(), refuses the ones KafkaJS options set', () => {
    const kafka = new turbo.Kafka({ brokers: ['h:1'] });
    kafka.producer({ 'linger.ms': 5, 'batch.size': 65536 });
    assert.throws(() => kafka.producer({ 'linger.ms': -1 }), /linger\.ms/);
    assert.throws(() => kafka.producer({ 'acks.all': 1 } as any), /Unknown producer option "acks\.all"/);
    assert.throws(() => kafka.producer({ 'request.timeout.ms': 5 } as any), /requestTimeout/);
    // Unknown plain keys are ignored, as KafkaJS does.
    kafka.producer({ acks: 1, whatever: true } as any);
  });

  it('checks KafkaJS numeric options with their KafkaJS names', () => {
    assert.throws(() => new turbo.Kafka({ brokers: ['h:1'], requestTimeout: -5 }).producer(), /requestTimeout/);
    assert.throws(() => new turbo.Kafka({ brokers: ['h:1'], retry: { retries: 'x' as any } }).producer(), /retry\.retries/);
    assert.throws(() => new turbo.Kafka({ brokers: ['h:1'] }).producer({ maxInFlightRequests: 0 }), /maxInFlightRequests/);
  });
});

describe('delivery timeout from the KafkaJS retry budget', () => {
  const defaults = { retries: 5, initialRetryTime: 300, maxRetryTime: 30000, factor: 0.2, multiplier: 2 };

  it('covers every attempt timing out plus the longest backoffs', () => {
    // Waits at the top of their spread: 360, 864, 2074, 4978, 11948 (each ×1.2 ×2, ceil).
    const waits = [360];
    for (let i = 1; i < 5; i++) waits.push(Math.min(Math.ceil(waits[i - 1] * 1.2) * 2, 30000));
    const expected = 6 * (30000 + 1000) + waits.reduce((a, b) => a + b, 0);
    assert.equal(kafkaJSGiveUpMs(defaults, 30000, 1000), expected);
  });

  it('caps at 2^31 - 1 and stays fast for huge retry counts', () => {
    assert.equal(kafkaJSGiveUpMs({ ...defaults, retries: 2147483647 }, 30000, 1000), 2147483647);
    assert.equal(kafkaJSGiveUpMs({ ...defaults, retries: 2147483647, initialRetryTime: 0, maxRetryTime: 0 }, 1, 0), 2147483647);
  });

  it('no retries: one attempt', () => {
    assert.equal(kafkaJSGiveUpMs({ ...defaults, retries: 0 }, 5000, 1000), 6000);
  });
});

describe('CallSink: the RecordMetadata of one call', () => {
  const rec = (sink: CallSink, topic: string, partition: number, _index: number): PendingRecord => {
    const r = new PendingRecord(sink, topic, -1, 1);
    r.partition = partition;
    return r;
  };
  const leaders = (entries: Array<[number, number, number]>) =>
    new Map(entries.map(([p, leader, count]) => [p, { leader, count }]));

  it('one entry per topic-partition, in KafkaJS order: by leader, then topic, then partition', async () => {
    const sink = new CallSink(-1, () => undefined);
    // Topic a: partitions 2 (leader 2), 0 (leader 1); topic b: partition 1 (leader 0), 0 (leader 2).
    sink.expect([
      { topic: 'a', partitions: leaders([[2, 2, 1], [0, 1, 2]]) },
      { topic: 'b', partitions: leaders([[1, 0, 1], [0, 2, 1]]) },
    ]);
    sink.ok(rec(sink, 'a', 0, 1), 41, -1, 0);
    sink.ok(rec(sink, 'a', 0, 0), 40, -1, 0); // a later batch can complete first
    sink.ok(rec(sink, 'a', 2, 2), 7, 1700000000000, 3);
    sink.ok(rec(sink, 'b', 1, 3), 0, -1, 0);
    sink.ok(rec(sink, 'b', 0, 4), 9, -1, 0);
    const md = await sink.promise;
    assert.deepEqual(md, [
      // Leader 1 (first leader of topic a in ascending order), then 2, then 0.
      { topicName: 'a', partition: 0, errorCode: 0, baseOffset: '40', logAppendTime: '-1', logStartOffset: '0' },
      { topicName: 'a', partition: 2, errorCode: 0, baseOffset: '7', logAppendTime: '1700000000000', logStartOffset: '3' },
      { topicName: 'b', partition: 0, errorCode: 0, baseOffset: '9', logAppendTime: '-1', logStartOffset: '0' },
      { topicName: 'b', partition: 1, errorCode: 0, baseOffset: '0', logAppendTime: '-1', logStartOffset: '0' },
    ]);
  });

  it('acks=0 resolves with []', async () => {
    const sink = new CallSink(0, () => undefined);
    sink.expect([{ topic: 'a', partitions: leaders([[0, 1, 1]]) }]);
    sink.ok(rec(sink, 'a', 0, 0), -1, -1, -1);
    assert.deepEqual(await sink.promise, []);
  });

  it('rejects with the first error, once every record has settled', async () => {
    const errors: Error[] = [];
    const sink = new CallSink(-1, (e) => errors.push(e));
    sink.expect([{ topic: 'a', partitions: leaders([[0, 1, 3]]) }]);
    let settled = false;
    sink.promise.catch(() => (settled = true));
    const first = new Error('first');
    sink.fail(rec(sink, 'a', 0, 0), first);
    sink.fail(rec(sink, 'a', 0, 1), new Error('second'));
    await new Promise((r) => setImmediate(r));
    assert.equal(settled, false);
    sink.ok(rec(sink, 'a', 0, 2), 5, -1, 0);
    await assert.rejects(sink.promise, (e) => e === first);
    assert.deepEqual(errors, [first]);
  });
});

describe('logger', () => {
  let savedEnv: string | undefined;
  beforeEach(() => {
    savedEnv = process.env.KAFKAJS_LOG_LEVEL;
    delete process.env.KAFKAJS_LOG_LEVEL;
  });
  afterEach(() => {
    if (savedEnv === undefined) delete process.env.KAFKAJS_LOG_LEVEL;
    else process.env.KAFKAJS_LOG_LEVEL = savedEnv;
  });

  /** Drives both clients' loggers the same way and returns what each logCreator saw. */
  function capture(config: Record<string, unknown>, drive: (kafka: { logger(): any; producer(c?: any): any }) => void) {
    const run = (Kafka: new (c: any) => any) => {
      const seen: any[] = [];
      const kafka = new Kafka({
        brokers: ['h:1'],
        ...config,
        logCreator: (level: number) => {
          seen.push({ creatorLevel: level });
          return (entry: any) => seen.push({ ...entry, log: { ...entry.log, timestamp: typeof entry.log.timestamp } });
        },
      });
      drive(kafka);
      return seen;
    };
    process.env.KAFKAJS_NO_PARTITIONER_WARNING = '1';
    return { theirs: run(kafkajs.Kafka as any), ours: run(turbo.Kafka as any) };
  }

  it('gives logCreator the same entries as KafkaJS (levels, namespaces, extras, setLogLevel)', () => {
    const { theirs, ours } = capture({}, (kafka) => {
      const root = kafka.logger();
      root.info('hello', { a: 1 });
      root.debug('hidden at INFO');
      root.namespace('NS').warn('w');
      root.namespace('NS').namespace('B').error('e', { message: 'overridden' });
      root.namespace('Loud', 5).debug('own level');
      kafka.producer({ createPartitioner: kafkajs.Partitioners.DefaultPartitioner }).logger().info('from producer');
      root.setLogLevel(1);
      root.info('now hidden');
      root.namespace('Loud', 5).debug('still shown');
      root.error('shown');
    });
    assert.deepEqual(ours, theirs);
    assert.ok(ours.length >= 7);
  });

  it('says (once, as a warning) that enforceRequestTimeout: false is not honoured', () => {
    const seen: { level: number; message: string }[] = [];
    new turbo.Kafka({
      brokers: ['h:1'],
      enforceRequestTimeout: false,
      logCreator: () => (entry: { level: number; log: { message: string } }) => seen.push({ level: entry.level, message: entry.log.message }),
    } as any);
    assert.equal(seen.length, 1);
    assert.equal(seen[0]!.level, 2); // WARN
    assert.match(seen[0]!.message, /enforceRequestTimeout: false is not supported/);
  });

  it('honours KAFKAJS_LOG_LEVEL like KafkaJS', () => {
    process.env.KAFKAJS_LOG_LEVEL = 'debug';
    const { theirs, ours } = capture({ logLevel: 1 }, (kafka) => {
      kafka.logger().debug('debug shown by env');
      kafka.logger().namespace('X', 1).debug('also shown');
    });
    assert.deepEqual(ours, theirs);
    assert.equal(ours[0].creatorLevel, 5);
    assert.equal(ours.length, 3);
  });

  it('prints the same JSON lines on the console by default', () => {
    const lines = (Kafka: new (c: any) => any) => {
      const out: string[] = [];
      const saved = { info: console.info, warn: console.warn, error: console.error, log: console.log };
      for (const k of Object.keys(saved) as Array<keyof typeof saved>) {
        console[k] = (line: string) => out.push(`${k} ${line.replace(/"timestamp":"[^"]+"/, '"timestamp":"T"')}`);
      }
      try {
        const kafka = new Kafka({ brokers: ['h:1'], logLevel: 5 });
        kafka.logger().info('i', { x: [1] });
        kafka.logger().namespace('N').warn('w');
        kafka.logger().error('e');
        kafka.logger().debug('d');
      } finally {
        Object.assign(console, saved);
      }
      return out;
    };
    assert.deepEqual(lines(turbo.Kafka as any), lines(kafkajs.Kafka as any));
  });
});
