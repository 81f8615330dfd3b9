/**
 * The CLI's command-line layer: util.parseArgs plus kafka-producer-perf-test's two shapes it
 * lacks (`--throughput -1`, `--producer-props a=1 b=2`), flag errors that name the flag, and
 * the Java .properties reader behind --producer.config.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { int, keyValues, num, parseCommandLine, parseProperties, UsageError, type OptionSpec } from '../../../ts/cli/args.js';

const OPTS: Record<string, OptionSpec> = {
  topic: { type: 'string' },
  throughput: { type: 'string' },
  'num-records': { type: 'string' },
  'producer-props': { type: 'string', multiple: true, nargs: true },
  header: { type: 'string', multiple: true },
  json: { type: 'boolean' },
};

const usage = (re: RegExp) => (e: unknown) => e instanceof UsageError && re.test(e.message);

test("kafka-producer-perf-test's command line parses as the Java tool reads it", () => {
  const v = parseCommandLine('perf', ['--topic', 't', '--throughput', '-1', '--producer-props', 'acks=1', 'linger.ms=10', '--num-records', '5', '--json'], OPTS);
  assert.equal(v.topic, 't');
  assert.equal(v.throughput, '-1');
  assert.deepEqual(v['producer-props'], ['acks=1', 'linger.ms=10']);
  assert.equal(v['num-records'], '5');
  assert.equal(v.json, true);
  // `=` form, repeated multi-value flags, and a negative decimal
  const w = parseCommandLine('perf', ['--throughput=-1.5', '--producer-props', 'a=1', '--producer-props', 'b=2', 'c=3'], OPTS);
  assert.equal(w.throughput, '-1.5');
  assert.deepEqual(w['producer-props'], ['a=1', 'b=2', 'c=3']);
});

test('unknown flags, missing values and stray words are errors that name them', () => {
  assert.throws(() => parseCommandLine('perf', ['--topik', 't'], OPTS), usage(/^kafka-turbo perf: Unknown option '--topik'\.$/));
  assert.throws(() => parseCommandLine('perf', ['--topic'], OPTS), usage(/--topic/));
  assert.throws(() => parseCommandLine('perf', ['--json', 'extra'], OPTS), usage(/unexpected argument "extra"/));
  // words after a repeatable-but-not-nargs flag are not its values
  assert.throws(() => parseCommandLine('produce', ['--header', 'a=1', 'b=2'], OPTS), usage(/unexpected argument "b=2"/));
  assert.throws(() => parseCommandLine('perf', ['--json=yes'], OPTS), usage(/--json/));
});

test('numeric flags refuse what is not a number in range, naming the flag and the value', () => {
  const v = parseCommandLine('perf', ['--num-records', '12x', '--throughput', 'fast'], OPTS);
  assert.throws(() => int('perf', v, 'num-records', 1), usage(/--num-records must be an integer >= 1, not "12x"/));
  assert.throws(() => num('perf', v, 'throughput'), usage(/--throughput must be a number, not "fast"/));
  const z = parseCommandLine('perf', ['--num-records', '0'], OPTS);
  assert.throws(() => int('perf', z, 'num-records', 1), usage(/--num-records must be an integer >= 1, not "0"/));
  assert.equal(int('perf', parseCommandLine('perf', ['--num-records', '7'], OPTS), 'num-records', 1), 7);
  assert.equal(int('perf', parseCommandLine('perf', [], OPTS), 'num-records', 1), undefined);
});

test('k=v words split at the first =, and a word without one is refused', () => {
  assert.deepEqual(keyValues('perf', 'producer-props', ['sasl.jaas.config=a b="c=d";', 'acks=all']), [
    ['sasl.jaas.config', 'a b="c=d";'],
    ['acks', 'all'],
  ]);
  assert.throws(() => keyValues('perf', 'producer-props', ['acks']), usage(/--producer-props takes key=value, not "acks"/));
  assert.throws(() => keyValues('perf', 'producer-props', ['=1']), usage(/not "=1"/));
});

test('Java .properties: separators, comments, continuations and escapes', () => {
  const p = parseProperties(
    [
      '# a comment',
      '! another',
      'bootstrap.servers=127.0.0.1:9092',
      '  acks : all',
      'linger.ms 10',
      'sasl.jaas.config=org.X required \\',
      '    username="u" \\',
      '    password="p";',
      'empty=',
      'key\\ with\\ spaces=v\\tw',
      'uni=\\u0041B',
      '',
    ].join('\n'),
  );
  assert.deepEqual(Object.fromEntries(p), {
    'bootstrap.servers': '127.0.0.1:9092',
    acks: 'all',
    'linger.ms': '10',
    'sasl.jaas.config': 'org.X required username="u" password="p";',
    empty: '',
    'key with spaces': 'v\tw',
    uni: 'AB',
  });
  // An escaped backslash at the end does not continue the line.
  assert.deepEqual(Object.fromEntries(parseProperties('a=x\\\\\nb=y')), { a: 'x\\', b: 'y' });
});
