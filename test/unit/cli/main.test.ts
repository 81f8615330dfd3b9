/**
 * The `kafka-turbo` command as a user meets it, without a broker: --help per command, flag
 * errors that name the flag (exit 2, before any broker starts or socket opens), the exit codes
 * for "no Java for the local broker" (3) and "cluster unreachable" (1), JSON record files, and
 * the local broker's Kafka version kept equal to the test harness's.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, symlinkSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { CONTROL_CHARS, runCli, runCliInPty, visible } from './run-cli.js';
import { KAFKA_VERSION } from '../../../ts/cli/embedded-broker.js';
import { parseJsonRecords } from '../../../ts/cli/produce.js';
import { UsageError } from '../../../ts/cli/args.js';

const root = join(__dirname, '..', '..', '..', '..');

test('--help for each command, and the bare command prints the usage with exit 2', async () => {
  const perf = await runCli(['perf', '--help']);
  assert.equal(perf.code, 0);
  for (const flag of ['--topic', '--num-records', '--record-size', '--throughput', '--producer-props', '--producer.config', '--print-metrics', '--bootstrap-server', '--json']) {
    assert.ok(perf.stdout.includes(flag), `perf --help mentions ${flag}`);
  }
  const produce = await runCli(['produce', '-h']);
  assert.equal(produce.code, 0);
  for (const flag of ['--key-separator', '--header', '--file']) assert.ok(produce.stdout.includes(flag), `produce --help mentions ${flag}`);
  assert.equal((await runCli(['help', 'produce'])).stdout, produce.stdout);
  const bare = await runCli([]);
  assert.equal(bare.code, 2);
  assert.match(bare.stdout, /commands:/);
  for (const r of [perf, produce, bare]) assert.ok(!CONTROL_CHARS.test(r.stdout + r.stderr));
});

test('flag mistakes exit 2 with a message naming the flag (and no broker is started)', async () => {
  const cases: [string[], RegExp][] = [
    [['perf', '--topic', 't', '--num-records', '10', '--throughput', '-1', '--record-size', '100', '--bogus'], /Unknown option '--bogus'/],
    [['perf', '--num-records', '10', '--throughput', '-1', '--record-size', '100'], /--topic is required/],
    [['perf', '--topic', 't', '--throughput', '-1', '--record-size', '100'], /--num-records is required/],
    [['perf', '--topic', 't', '--num-records', 'ten', '--throughput', '-1', '--record-size', '100'], /--num-records must be an integer >= 1, not "ten"/],
    [['perf', '--topic', 't', '--num-records', '10', '--record-size', '100'], /--throughput is required/],
    [['perf', '--topic', 't', '--num-records', '10', '--throughput', '0', '--record-size', '100'], /--throughput must be > 0, or -1/],
    [['perf', '--topic', 't', '--num-records', '10', '--throughput', '-1'], /exactly one of --record-size, --payload-file, --payload-monotonic/],
    [['perf', '--topic', 't', '--num-records', '10', '--throughput', '-1', '--record-size', '1', '--payload-monotonic'], /\(got --record-size and --payload-monotonic\)/],
    [['perf', '--topic', 't', '--num-records', '10', '--throughput', '-1', '--record-size', '100', '--producer-props', 'acks'], /--producer-props takes key=value, not "acks"/],
    [['perf', '--topic', 't', '--num-records', '10', '--throughput', '-1', '--record-size', '100', '--producer-props', 'linger.ms=soon'], /linger\.ms/],
    [['perf', '--topic', 't', '--num-records', '10', '--throughput', '-1', '--record-size', '100', '--producer-props', 'lingr.ms=5'], /lingr\.ms/],
    [['perf', '--topic', 't', '--num-records', '10', '--throughput', '-1', '--record-size', '100', '--producer.config', '/nonexistent/p.properties'], /--producer\.config \/nonexistent\/p\.properties: ENOENT/],
    [['perf', '--topic', 't', '--num-records', '10', '--throughput', '-1', '--record-size', '100', '--transaction-duration-ms', '0'], /--transaction-duration-ms/],
    [['perf', '--topic', 't', '--num-records', '10', '--throughput', '-1', '--record-size', '100', '--transactional-id', ' '], /--transactional-id must not be empty/],
    [['produce', '--topic', 't', '--producer-props', 'transactional.id=x'], /produce does not run transactions/],
    [['produce', '--topic', 't', '--header', 'novalue'], /--header takes key=value, not "novalue"/],
    [['produce', '--topic', 't', '--max-in-flight-records', '0'], /--max-in-flight-records must be an integer >= 1, not "0"/],
    [['produce', '--topic', 't', '--file', '/nonexistent.json'], /--file \/nonexistent\.json: ENOENT/],
    [['consume', '--topic', 't'], /unknown command "consume"/],
  ];
  for (const [args, re] of cases) {
    const r = await runCli(args);
    assert.equal(r.code, 2, `${args.join(' ')} → exit 2 (got ${r.code}; ${r.stderr})`);
    assert.match(r.stderr, re, args.join(' '));
    assert.ok(!/starting a local Apache Kafka broker/.test(r.stderr), 'no broker for a bad command line');
  }
});

/** A stand-in `java` (the shell script given) at dir/jdk/bin/java, for JAVA_HOME=dir/jdk. */
function fakeJava(dir: string, script: string): void {
  const fake = join(dir, 'jdk', 'bin', 'java');
  mkdirSync(dirname(fake), { recursive: true });
  writeFileSync(fake, script);
  chmodSync(fake, 0o755);
}

test('no Java 17 for the local broker: exit 3, saying what to install or pass', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'kt-cli-java-'));
  try {
    // A Java that is too old...
    fakeJava(dir, '#!/bin/sh\necho \'openjdk version "11.0.2" 2019-01-15\' >&2\n');
    const old = await runCli(['produce', '--topic', 't'], { input: 'x\n', env: { JAVA_HOME: join(dir, 'jdk') } });
    assert.equal(old.code, 3, old.stderr);
    assert.match(old.stderr, /needs Java 17 or newer; .* is Java 11/);
    // ...and none at all (a PATH with only node on it: node's own folder may hold java too).
    const bin = join(dir, 'bin');
    mkdirSync(bin);
    symlinkSync(process.execPath, join(bin, 'node'));
    const none = await runCli(['produce', '--topic', 't'], { input: 'x\n', env: { JAVA_HOME: '', PATH: bin } });
    assert.equal(none.code, 3, none.stderr);
    assert.match(none.stderr, /needs Java 17 or newer.*--bootstrap-server/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('Ctrl-C while the local broker\'s Java is being checked: exit 130, not "needs Java 17"', async () => {
  // `java -version` runs in the terminal's foreground process group, so the Ctrl-C ends it as
  // well as the CLI, and the CLI sees it fail before its own SIGINT handler has run. A stand-in
  // java says on the terminal that it runs (its stdout and stderr go to the CLI) and waits.
  const dir = mkdtempSync(join(tmpdir(), 'kt-cli-java-'));
  try {
    fakeJava(dir, '#!/bin/sh\necho "stand-in java: $*" >/dev/tty\nexec sleep 30\n');
    let typed = false;
    const r = await runCliInPty(['perf', '--topic', 't', '--num-records', '10', '--record-size', '10', '--throughput', '-1'], {
      env: { JAVA_HOME: join(dir, 'jdk'), KAFKA_TURBO_CACHE_DIR: join(dir, 'cache') },
      keepStdinOpen: true,
      timeoutMs: 30_000,
      onSpawn: (child, out) => {
        const poll = setInterval(() => {
          if (!typed && out.stdout().includes('stand-in java: -version')) {
            typed = true;
            clearInterval(poll);
            child.stdin!.write('\x03');
          }
        }, 20);
        child.on('close', () => clearInterval(poll));
      },
    });
    const text = visible(r.stdout);
    assert.ok(typed, `Ctrl-C was typed while java -version ran; output: ${text}`);
    assert.equal(r.code, 130, `exit code; output: ${text}`);
    assert.match(r.stdout, /SIGINT: stopping/, `the interruption is told; output: ${text}`);
    assert.doesNotMatch(r.stdout, /needs Java 17/, `a Java that was interrupted is not called missing; output: ${text}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('Ctrl-C while the producer still waits for the cluster: exit 130 at once, not the request timeout\'s failure', async () => {
  // A cluster that accepts connections and never answers: the producer's first request would
  // wait out request.timeout.ms (two minutes here), then fail the run with exit 1; or the last flush would wait out
  // delivery.timeout.ms.
  const sockets = new Set<import('node:net').Socket>();
  let accepted = 0;
  const silent = createServer((s) => {
    accepted++;
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
  const bootstrap = `127.0.0.1:${(silent.address() as { port: number }).port}`;
  const dir = mkdtempSync(join(tmpdir(), 'kt-cli-silent-'));
  const file = join(dir, 'records.jsonl');
  writeFileSync(file, '{"value": "x"}\n');
  try {
    // perf is still connecting; produce has sent its one record and waits in the last flush.
    for (const cmd of [
      ['perf', '--topic', 't', '--num-records', '10', '--record-size', '10', '--throughput', '-1'],
      ['produce', '--topic', 't', '--file', file],
    ]) {
      let typed = false;
      const before = accepted; // the previous command's connection may not be gone yet
      const r = await runCliInPty([...cmd, '--bootstrap-server', bootstrap, '--producer-props', 'request.timeout.ms=120000', 'delivery.timeout.ms=300000'], {
        keepStdinOpen: true,
        timeoutMs: 60_000,
        onSpawn: (child) => {
          // Typed once this CLI's connection is open (its request is then waiting).
          const poll = setInterval(() => {
            if (!typed && accepted > before) {
              typed = true;
              clearInterval(poll);
              child.stdin!.write('\x03');
            }
          }, 20);
          child.on('close', () => clearInterval(poll));
        },
      });
      const text = visible(r.stdout);
      assert.ok(typed, `${cmd[0]}: Ctrl-C was typed; output: ${text}`);
      assert.equal(r.code, 130, `${cmd[0]}: exit code; output: ${text}`);
      assert.match(r.stdout, /SIGINT: stopping/, `${cmd[0]}: output: ${text}`);
      // The report starts a line, or follows the erase that took the progress line away.
      assert.match(r.stdout, /(^|\x1b\[K)interrupted: 0 records/m, `${cmd[0]}: a report of what was done; output: ${text}`);
    }
  } finally {
    for (const s of sockets) s.destroy();
    await new Promise((r) => silent.close(r));
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a cluster that does not answer: exit 1 with the reason', async () => {
  // A port that was free a moment ago: connection refused.
  const port = await new Promise<number>((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
  const r = await runCli(
    ['perf', '--topic', 't', '--num-records', '10', '--throughput', '-1', '--record-size', '10', '--bootstrap-server', `127.0.0.1:${port}`,
      '--producer-props', 'socket.connection.setup.timeout.ms=1000', 'reconnect.backoff.max.ms=200', 'max.block.ms=3000'],
    { timeoutMs: 60000 },
  );
  assert.equal(r.code, 1, r.stderr);
  assert.ok(r.stderr.length > 0 && !CONTROL_CHARS.test(r.stderr));
});

test('JSON record files: an array or JSON Lines; a bad record names its line and sends nothing', () => {
  const lines = parseJsonRecords('{"value":"a"}\n\n{"key":"k","value":{"n":1},"headers":{"h":"v"},"partition":2,"timestamp":5}\n', 'f.jsonl');
  assert.deepEqual(lines, [
    { key: null, value: 'a' },
    { key: 'k', value: '{"n":1}', headers: { h: 'v' }, partition: 2, timestamp: 5 },
  ]);
  assert.deepEqual(parseJsonRecords('[{"value":null,"headers":[{"key":"a","value":"b"}]}]', 'f.json'), [
    { key: null, value: null, headers: [{ key: 'a', value: 'b' }] },
  ]);
  const bad = (text: string, re: RegExp) => assert.throws(() => parseJsonRecords(text, 'f'), (e: unknown) => e instanceof UsageError && re.test(e.message));
  bad('{"value":"a"}\n{"value":', /--file f: line 2 is not valid JSON/);
  bad('{"value":"a"}\n{"key":"k"}', /line 2: no "value"/);
  bad('{"value":"a","partiton":1}', /line 1: unknown field "partiton"/);
  bad('[{"value":"a"},{"value":"b","partition":-1}]', /record \[1\]: "partition" is a non-negative integer/);
  bad('"just a string"', /line 1: a record is a JSON object/);
});

test("the local broker runs the Kafka version of the test harness's pom.xml", () => {
  const pom = readFileSync(join(root, 'test', 'helpers', 'kafka', 'pom.xml'), 'utf8');
  assert.equal(KAFKA_VERSION, /<kafka\.version>([^<]+)<\/kafka\.version>/.exec(pom)![1]);
});
