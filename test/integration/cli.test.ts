/**
 * `kafka-turbo` against a real broker, run as a user runs it (a child process), with what it
 * wrote read back by kcat: produce from stdin (keys, headers) and from a JSON file, perf
 * through pipes (plain lines, no control characters, Java's final line) and through a
 * pseudo-terminal (the progress line), --json, a record failure's exit code, and the local
 * broker: fetched on first use into an empty cache, started, and stopped by Ctrl-C with no
 * java process left behind.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { backendInfo } from '../../ts/index.js';
import { getCluster, kafkaVersion, uniqueTopic, type KafkaCluster } from '../helpers/broker.js';
import { readTopic } from '../helpers/kcat.js';
import { CONTROL_CHARS, describeProcesses, runCli, runCliInPty, terminalForeground, visible, type ProcessInfo } from '../unit/cli/run-cli.js';
import { KAFKA_VERSION } from '../../ts/cli/embedded-broker.js';

let cluster: KafkaCluster;

before(async () => {
  cluster = await getCluster();
});
after(async () => {
  await cluster?.stop();
});

const JAVA_FINAL = /^\d+ records sent, \d+\.\d records\/sec \(\d+\.\d{2} MB\/sec\), \d+\.\d{2} ms avg latency, \d+\.\d{2} ms max latency, \d+ ms 50th, \d+ ms 95th, \d+ ms 99th, \d+ ms 99\.9th\.$/m;

test('produce: lines from stdin with a key separator and headers, as kcat reads them back', async () => {
  const topic = uniqueTopic('cli-stdin');
  await cluster.createTopic(topic, { partitions: 3 });
  const input = ['k1:v1', 'no separator here', 'k2:v:2 with: colons', ':empty key', 'k3:'].join('\n') + '\n';
  const r = await runCli(['produce', '--topic', topic, '--bootstrap-server', cluster.bootstrap, '--key-separator', ':', '--header', 'source=cli', '--header', 'n=1'], { input });
  assert.equal(r.code, 0, r.stderr);
  assert.ok(!CONTROL_CHARS.test(r.stdout + r.stderr), 'plain output through pipes');
  assert.match(r.stdout, /^5 records \(\d+ bytes\) to .* 0 failed$/m);
  const got = await readTopic(cluster.bootstrap, topic, 5);
  const seen = got.map((g) => [g.key === null ? null : g.key.toString(), g.value!.toString(), g.headers.map(([k, v]) => `${k}=${v}`).join(',')]);
  seen.sort((a, b) => String(a[1]).localeCompare(String(b[1])));
  assert.deepEqual(seen, [
    ['k3', '', 'source=cli,n=1'],
    ['', 'empty key', 'source=cli,n=1'],
    [null, 'no separator here', 'source=cli,n=1'],
    ['k1', 'v1', 'source=cli,n=1'],
    ['k2', 'v:2 with: colons', 'source=cli,n=1'],
  ].sort((a, b) => String(a[1]).localeCompare(String(b[1]))));
});

test('produce --file: JSON records with keys, headers, partitions, timestamps and a tombstone; --json report', async () => {
  const topic = uniqueTopic('cli-file');
  await cluster.createTopic(topic, { partitions: 2 });
  const dir = mkdtempSync(join(tmpdir(), 'kt-cli-'));
  try {
    const file = join(dir, 'records.jsonl');
    writeFileSync(
      file,
      [
        JSON.stringify({ key: 'a', value: 'first', partition: 1, timestamp: 1_700_000_000_000, headers: { h: 'x' } }),
        JSON.stringify({ key: 'b', value: { n: 2 }, partition: 0, headers: [{ key: 'h', value: 'y' }, { key: 'h', value: 'z' }] }),
        JSON.stringify({ key: 'c', value: null, partition: 1 }),
      ].join('\n'),
    );
    const r = await runCli(['produce', '--topic', topic, '--bootstrap-server', cluster.bootstrap, '--file', file, '--json']);
    assert.equal(r.code, 0, r.stderr);
    const report = JSON.parse(r.stdout);
    assert.equal(report.records, 3);
    assert.equal(report.errors, 0);
    for (const k of ['recordsPerSec', 'mbPerSec', 'cpuUsPerRecord']) assert.equal(typeof report[k], 'number', k);
    for (const k of ['p50', 'p95', 'p99', 'p999', 'max']) assert.equal(typeof report.latencyMs[k], 'number', k);
    assert.equal(report.backend, process.env.KAFKA_TURBO_BACKEND ?? report.backend);
    for (const k of ['crc32c', 'transport', 'codec']) assert.equal(typeof report[k], 'string', k);
    const got = await readTopic(cluster.bootstrap, topic, 3);
    const byKey = new Map(got.map((g) => [g.key!.toString(), g]));
    assert.equal(byKey.get('a')!.partition, 1);
    assert.equal(byKey.get('a')!.value!.toString(), 'first');
    assert.equal(byKey.get('a')!.timestamp, 1_700_000_000_000);
    assert.deepEqual(byKey.get('a')!.headers.map(([k, v]) => [k, v.toString()]), [['h', 'x']]);
    assert.equal(byKey.get('b')!.partition, 0);
    assert.equal(byKey.get('b')!.value!.toString(), '{"n":2}');
    assert.deepEqual(byKey.get('b')!.headers.map(([k, v]) => [k, v.toString()]), [['h', 'y'], ['h', 'z']]);
    assert.equal(byKey.get('c')!.value, null, 'a tombstone');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('produce: a record the producer refuses makes the exit code 1 and is named on stderr', async () => {
  const topic = uniqueTopic('cli-fail');
  await cluster.createTopic(topic, { partitions: 1 });
  const r = await runCli(['produce', '--topic', topic, '--bootstrap-server', cluster.bootstrap, '--producer-props', 'max.request.size=2000'], {
    input: `small\n${'x'.repeat(5000)}\nsmall too\n`,
  });
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /record 1 failed: /);
  assert.match(r.stdout, /2 records .* 1 failed/);
  assert.equal((await readTopic(cluster.bootstrap, topic, 2)).length, 2);
});

test('perf through pipes: window lines and the Java final line, plain text only; every record arrives', async () => {
  const topic = uniqueTopic('cli-perf');
  await cluster.createTopic(topic, { partitions: 3 });
  const dir = mkdtempSync(join(tmpdir(), 'kt-cli-'));
  try {
    const props = join(dir, 'producer.properties');
    writeFileSync(props, `# as a Java user has it\nbootstrap.servers=${cluster.bootstrap}\nacks=1\nkey.serializer=org.apache.kafka.common.serialization.ByteArraySerializer\n`);
    // 3000 records at 2000/s: 1.5 s, several 300 ms windows.
    const r = await runCli(['perf', '--topic', topic, '--num-records', '3000', '--record-size', '64', '--throughput', '2000', '--producer.config', props, '--producer-props', 'linger.ms=1', '--reporting-interval-ms', '300', '--print-metrics']);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(!CONTROL_CHARS.test(r.stdout), `no control characters on stdout: ${JSON.stringify(r.stdout.slice(0, 200))}`);
    assert.ok(!CONTROL_CHARS.test(r.stderr), 'nor on stderr');
    assert.match(r.stdout, /^\d+ records sent, [\d.]+ records\/sec \([\d.]+ MB\/sec\), [\d.]+ ms avg latency, [\d.]+ ms max latency\.$/m, 'a window line');
    assert.match(r.stdout, JAVA_FINAL);
    assert.match(r.stdout, /^3000 records sent, /m);
    assert.match(r.stdout, /latency \(send -> ack, ms\): p50 [\d.]+, p95 [\d.]+, p99 [\d.]+, p99\.9 [\d.]+, max [\d.]+/);
    // The child runs with this process's environment, so its backend and transport are ours.
    const info = backendInfo();
    const transport = info.ioUring ? 'io_uring' : 'node:net';
    assert.match(r.stdout, new RegExp(`^backend: ${info.backend}, CRC32C: ${info.crc32c}, transport: ${transport}, codec: none$`, 'm'));
    assert.match(r.stdout, /^producer-metrics:record-send-total:\{client-id=perf-producer-client\} +: 3000\.000$/m);
    // The throttle held it near 2000/s (a bound loose enough for a loaded machine: not above 4000/s).
    const rate = Number(/^3000 records sent, ([\d.]+) records\/sec/m.exec(r.stdout)![1]);
    assert.ok(rate < 4000, `throttled to about 2000/s, got ${rate}`);
    const got = await readTopic(cluster.bootstrap, topic, 3000);
    assert.equal(got.length, 3000);
    assert.ok(got.every((g) => g.value!.length === 64 && /^[A-Z]+$/.test(g.value!.toString('latin1')) && g.key === null));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('perf --transactional-id: records go out in committed transactions, as the Java tool sends them', async () => {
  const topic = uniqueTopic('cli-txn');
  await cluster.createTopic(topic, { partitions: 2 });
  // 2000 records at 4000/s with a commit every 100 ms: several transactions.
  const r = await runCli(['perf', '--topic', topic, '--num-records', '2000', '--record-size', '40', '--throughput', '4000', '--bootstrap-server', cluster.bootstrap, '--transactional-id', `cli-${topic}`, '--transaction-duration-ms', '100']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^2000 records sent, /m);
  // A read_committed reader sees every record; the commit markers each transaction leaves take
  // offsets of their own, so a partition's record offsets have gaps (none without transactions).
  const got = await readTopic(cluster.bootstrap, topic, 2000);
  assert.equal(got.length, 2000);
  let gaps = 0;
  for (const p of [0, 1]) {
    const offsets = got.filter((g) => g.partition === p).map((g) => Number(g.offset));
    for (let i = 1; i < offsets.length; i++) if (offsets[i]! !== offsets[i - 1]! + 1) gaps++;
  }
  assert.ok(gaps >= 2, `commit markers between the records (${gaps} gaps)`);
});

test("perf takes kafka-producer-perf-test's own command line, and its lines have the Java tool's shape", async () => {
  const topic = uniqueTopic('cli-same');
  await cluster.createTopic(topic, { partitions: 2 });
  const args = ['--topic', topic, '--num-records', '2000', '--record-size', '50', '--throughput', '-1', '--producer-props', `bootstrap.servers=${cluster.bootstrap}`, 'acks=all'];
  const repo = join(__dirname, '..', '..', '..');
  const java = spawnSync(
    'java',
    ['-cp', join(repo, '.cache', 'kafka', kafkaVersion(), 'lib', '*'), `-Dlog4j2.configurationFile=${join(repo, 'test', 'helpers', 'kafka', 'log4j2-tools.properties')}`, 'org.apache.kafka.tools.ProducerPerformance', ...args],
    { encoding: 'utf8', timeout: 120_000 },
  );
  assert.equal(java.status, 0, java.stderr);
  const ours = await runCli(['perf', ...args]);
  assert.equal(ours.code, 0, ours.stderr);
  // Numbers become N (or N.dd with as many decimals): what is left is the line's shape.
  const shape = (line: string) => line.replace(/\d+(\.(\d+))?/g, (_m, _f, d: string | undefined) => (d ? `N.${'d'.repeat(d.length)}` : 'N'));
  const javaFinal = java.stdout.trim().split('\n').pop()!;
  const ourFinal = ours.stdout.split('\n').find((l) => / records sent, .* 99\.9th\.$/.test(l))!;
  assert.ok(ourFinal, ours.stdout);
  assert.equal(shape(ourFinal), shape(javaFinal), `ours: ${ourFinal}\njava: ${javaFinal}`);
  assert.equal((await readTopic(cluster.bootstrap, topic, 4000)).length, 4000, 'both tools wrote their 2000 records');
});

test('perf on a terminal: the progress line (records/s, MB/s, in flight, errors) is drawn in place', async () => {
  const topic = uniqueTopic('cli-tty');
  await cluster.createTopic(topic, { partitions: 2 });
  const r = await runCliInPty(['perf', '--topic', topic, '--num-records', '3000', '--record-size', '100', '--throughput', '2000', '--bootstrap-server', cluster.bootstrap, '--producer-props', 'compression.type=lz4']);
  assert.equal(r.code, 0, r.stdout);
  assert.match(r.stdout, /\r\x1b\[K\d+ sent, \d+ records\/s, [\d.]+ MB\/s, \d+ in flight, 0 errors/);
  assert.ok(!/\d+ records sent, [\d.]+ records\/sec \([\d.]+ MB\/sec\), [\d.]+ ms avg latency, [\d.]+ ms max latency\.\r?$/m.test(r.stdout), 'no window lines on a terminal');
  // The line is cleared (erase to end of line) before the report, which follows in plain lines.
  const report = r.stdout.slice(r.stdout.lastIndexOf('\x1b[K') + 3).replace(/\r\n/g, '\n');
  assert.ok(!CONTROL_CHARS.test(report), JSON.stringify(report));
  assert.match(report, JAVA_FINAL);
  assert.match(r.stdout, /codec: lz4/);
  assert.equal((await readTopic(cluster.bootstrap, topic, 3000)).length, 3000);
});

/** Processes whose command line names the folder (the broker JVM names it several times). */
function processesUsing(dir: string): { pid: number; cmdline: string }[] {
  const found: { pid: number; cmdline: string }[] = [];
  if (!dir) return found;
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const cmdline = readFileSync(`/proc/${e}/cmdline`, 'utf8');
      if (cmdline.includes(dir)) found.push({ pid: Number(e), cmdline: cmdline.replace(/\0/g, ' ').slice(0, 200) });
    } catch {
      /* gone */
    }
  }
  return found;
}

test('no --bootstrap-server: the jars are fetched on first use, a local broker runs, and Ctrl-C in the terminal stops it', async () => {
  const cache = mkdtempSync(join(tmpdir(), 'kt-cli-cache-'));
  let brokerDir = '';
  let brokerPid = 0;
  let sent = false;
  // Who the Ctrl-C reaches: the terminal's foreground process group when it is typed.
  let foreground: ProcessInfo[] = [];
  try {
    // Through a pseudo-terminal, as a user runs it: Ctrl-C is the byte 0x03 typed into the
    // terminal, which the line discipline turns into SIGINT for the foreground process group.
    const r = await runCliInPty(['perf', '--topic', 'local', '--num-records', '100000000', '--record-size', '100', '--throughput', '5000'], {
      env: { KAFKA_TURBO_CACHE_DIR: cache },
      timeoutMs: 240_000,
      onSpawn: (child, out) => {
        // Ctrl-C once records flow (the progress line shows some sent): the broker is up and in use.
        const poll = setInterval(() => {
          const m = /\(pid (\d+), files in (\S+)\)/.exec(out.stdout());
          if (m) [brokerPid, brokerDir] = [Number(m[1]), m[2]!];
          if (brokerDir && /[1-9]\d* sent, \d+ records\/s/.test(out.stdout()) && !sent) {
            sent = true;
            clearInterval(poll);
            foreground = terminalForeground(child.pid!);
            child.stdin!.write('\x03');
          }
        }, 100);
        child.on('close', () => clearInterval(poll));
      },
      keepStdinOpen: true,
    });
    // Every message carries what the CLI wrote, escapes made visible: a failure in CI must say
    // what happened, not only which line failed.
    const text = r.stdout.replace(/\r\n/g, '\n');
    const seen = `\nexit code ${r.code}${r.signal ? `, signal ${r.signal}` : ''}; foreground group at Ctrl-C: ${describeProcesses(foreground)}; script's stderr: ${JSON.stringify(r.stderr)}; output:\n${visible(r.stdout)}`;
    assert.ok(sent, `Ctrl-C was typed${seen}`);
    assert.match(text, /first use: fetching the Apache Kafka [\d.]+ broker jars .* with Maven/, `the first use is told${seen}`);
    assert.match(text, /fetched \d+ jars in/, `the fetch is told${seen}`);
    const jars = join(cache, KAFKA_VERSION, 'lib');
    assert.ok(existsSync(join(jars, '.complete')), `the jar cache ${jars} is kept for next time (the cache holds ${JSON.stringify(readdirSync(cache))})${seen}`);
    // The CLI alone gets the terminal's SIGINT: the broker runs in a session of its own, so it
    // stops when the CLI says so, after the producer's last requests; the start's helpers (mvn,
    // the storage tool) are done by then.
    assert.deepEqual(foreground.map((p) => p.comm), ['node'], `the CLI alone is in the terminal's foreground group (broker pid ${brokerPid})${seen}`);
    assert.equal(r.code, 130, `exit code 130 (128 + SIGINT)${seen}`);
    assert.match(text, /SIGINT: stopping \(and the local broker\)/, `the Ctrl-C is told${seen}`);
    assert.match(text, /^interrupted: [1-9]\d* records/m, `a report of what was done${seen}`);
    assert.match(text, /local broker stopped/, `the broker's stop is told${seen}`);
    assert.ok(!existsSync(brokerDir), `the broker's folder ${brokerDir} is gone${seen}`);
    assert.deepEqual(processesUsing(brokerDir), [], `no process left that names ${brokerDir}${seen}`);
  } finally {
    for (const { pid } of processesUsing(brokerDir)) process.kill(pid, 'SIGKILL');
    rmSync(cache, { recursive: true, force: true });
  }
});

test('SIGINT sent to the CLI alone (as a wrapper forwards it) also stops the local broker', async () => {
  let brokerDir = '';
  let sent = false;
  const r = await runCli(['produce', '--topic', 'local'], {
    timeoutMs: 240_000,
    keepStdinOpen: true,
    onSpawn: (child, out) => {
      // Lines keep coming on stdin; SIGINT once the broker is up and the first ones were sent.
      let n = 0;
      const poll = setInterval(() => {
        const m = /files in (\S+)\)/.exec(out.stderr());
        if (m) brokerDir = m[1]!;
        if (!brokerDir) return;
        child.stdin!.write(`line ${n++}\n`);
        if (n === 20 && !sent) {
          sent = true;
          child.kill('SIGINT');
          clearInterval(poll);
        }
      }, 50);
      child.on('close', () => clearInterval(poll));
    },
  });
  const seen = `\nexit code ${r.code}${r.signal ? `, signal ${r.signal}` : ''}; stdout:\n${visible(r.stdout)}\nstderr:\n${visible(r.stderr)}`;
  try {
    assert.ok(sent, `SIGINT was sent${seen}`);
    assert.equal(r.code, 130, `exit code 130 (128 + SIGINT)${seen}`);
    assert.match(r.stderr, /local broker stopped/, `the broker's stop is told${seen}`);
    assert.ok(!CONTROL_CHARS.test(r.stdout + r.stderr), `plain output through pipes${seen}`);
    assert.match(r.stdout, /^interrupted: \d+ records/m, `a report of what was done${seen}`);
    assert.ok(!existsSync(brokerDir), `the broker's folder ${brokerDir} is gone${seen}`);
    assert.deepEqual(processesUsing(brokerDir), [], `no process left that names ${brokerDir}${seen}`);
  } finally {
    for (const { pid } of processesUsing(brokerDir)) process.kill(pid, 'SIGKILL');
  }
});
