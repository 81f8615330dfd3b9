/**
 * librdkafka's mock cluster (Debian's librdkafka-dev, rdkafka_mock.h) as a test fixture: a
 * real implementation of the Kafka protocol that fails on cue, which a real broker cannot be
 * made to do. test/mock/mock-cluster.c wraps it in a program that takes one command per line
 * on stdin and answers "ok" or "err ..."; this helper compiles that program with `cc` on first
 * use (into out/mock/, rebuilt when the source is newer) and gives it typed methods.
 *
 *   const mock = await MockCluster.start({ brokers: 3 });
 *   await mock.createTopic('t', 2);
 *   await mock.pushErrors(ApiKey.Produce, ErrorCode.NOT_LEADER_OR_FOLLOWER);
 *   ... a producer on mock.bootstrap ...
 *   await mock.stop();
 *
 * Broker ids are 1..N. The mock's limits (Debian's 2.0.2): Produce up to v7, Metadata up to
 * v2, controller id 0 (not one of its brokers), partition logs trimmed beyond ~100k message
 * sets / 5 MB; kcat (test/helpers/kcat.ts) reads back what it stored.
 */
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createInterface } from 'node:readline';

const root = findRoot(__dirname);
const source = path.join(root, 'test', 'mock', 'mock-cluster.c');
const binary = path.join(root, 'out', 'mock', 'mock-cluster');

function findRoot(dir: string): string {
  for (let d = dir; ; d = path.dirname(d)) {
    if (fs.existsSync(path.join(d, 'package.json')) && fs.existsSync(path.join(d, 'test', 'mock'))) return d;
    if (path.dirname(d) === d) throw new Error(`mock-cluster: no project root above ${dir}`);
  }
}

/** Compiles test/mock/mock-cluster.c unless the binary is newer; returns its path. Safe when
 * several test processes do it at once: each compiles to its own file and renames it. */
export function buildMockCluster(): string {
  if (fs.existsSync(binary) && fs.statSync(binary).mtimeMs >= fs.statSync(source).mtimeMs) return binary;
  fs.mkdirSync(path.dirname(binary), { recursive: true });
  const tmp = `${binary}.${process.pid}.tmp`;
  const cc = process.env['CC'] ?? 'cc';
  const r = spawnSync(cc, ['-std=c11', '-O1', '-Wall', '-Wextra', '-o', tmp, source, '-lrdkafka'], { encoding: 'utf8' });
  if (r.status !== 0) {
    throw new Error(
      `mock-cluster: ${cc} failed (${r.error?.message ?? `exit ${r.status}`}); it needs librdkafka-dev ` +
        `(scripts/install.sh installs it):\n${r.stderr}`,
    );
  }
  fs.renameSync(tmp, binary);
  return binary;
}

export interface BrokerError {
  code: number;
  /** Delay before the error response, ms. */
  rttMs?: number;
}

export class MockCluster {
  /** 'host:port,...' of the mock's brokers. */
  readonly bootstrap: string;
  private readonly proc: ChildProcessWithoutNullStreams;
  /** Answers not yet received, in command order (the program answers each line in order). */
  private readonly waiting: { resolve: (line: string) => void; reject: (err: Error) => void; command: string }[] = [];
  private stderr = '';
  private exited: Promise<void>;
  private exitedAlready = false;

  private constructor(proc: ChildProcessWithoutNullStreams, bootstrap: string, lines: AsyncIterator<string>) {
    this.proc = proc;
    this.bootstrap = bootstrap;
    this.exited = new Promise((resolve) => proc.once('exit', () => resolve()));
    proc.once('exit', (code, signal) => {
      this.exitedAlready = true;
      const err = new Error(`mock-cluster exited (${signal ?? code}): ${this.stderr}`);
      for (const w of this.waiting.splice(0)) w.reject(err);
    });
    void (async () => {
      for (;;) {
        const next = await lines.next();
        if (next.done) return;
        const w = this.waiting.shift();
        if (w === undefined) continue;
        if (next.value === 'ok' || next.value.startsWith('ok ')) w.resolve(next.value.slice(3));
        else w.reject(new Error(`mock-cluster: '${w.command}' failed: ${next.value}`));
      }
    })();
  }

  /** Starts a mock cluster of `brokers` brokers (default 1) and waits for its bootstrap list. */
  static async start(opts: { brokers?: number } = {}): Promise<MockCluster> {
    const bin = buildMockCluster();
    const proc = spawn(bin, [String(opts.brokers ?? 1)], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stderr = '';
    proc.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const lines = createInterface({ input: proc.stdout })[Symbol.asyncIterator]();
    const first = await Promise.race([
      lines.next(),
      new Promise<never>((_, reject) => proc.once('exit', (code) => reject(new Error(`mock-cluster exited with ${code}: ${stderr}`)))),
    ]);
    const m = /^bootstrap (\S+)$/.exec(first.done ? '' : first.value);
    if (!m) {
      proc.kill();
      throw new Error(`mock-cluster: unexpected first line ${JSON.stringify(first.value)}: ${stderr}`);
    }
    const mock = new MockCluster(proc, m[1]!, lines);
    proc.stderr.on('data', (c: Buffer) => (mock.stderr += c.toString()));
    return mock;
  }

  /** Sends one command line; resolves on "ok", rejects with the program's "err ..." line. */
  async command(line: string): Promise<void> {
    await this.query(line);
  }

  /** Sends one command line; resolves with what follows "ok " (empty for plain "ok"). */
  query(line: string): Promise<string> {
    if (this.exitedAlready) return Promise.reject(new Error(`mock-cluster has exited; cannot run '${line}'`));
    return new Promise<string>((resolve, reject) => {
      this.waiting.push({ resolve, reject, command: line });
      this.proc.stdin.write(`${line}\n`);
    });
  }

  createTopic(name: string, partitions: number, replicationFactor = 1): Promise<void> {
    return this.command(`topic ${name} ${partitions} ${replicationFactor}`);
  }

  /** The next requests of `apiKey`, on any broker, fail with these codes, one each, in order.
   * A broker that has ever had errors pushed for that API with pushBrokerErrors (even ones all
   * served since) never consults this cluster-wide list again (librdkafka's lookup order). */
  pushErrors(apiKey: number, ...codes: number[]): Promise<void> {
    return this.command(`errors ${apiKey} ${codes.join(' ')}`);
  }

  /** The next requests of `apiKey` on broker `brokerId` fail with these codes, each after its delay. */
  pushBrokerErrors(brokerId: number, apiKey: number, errors: BrokerError[]): Promise<void> {
    return this.command(`broker_errors ${brokerId} ${apiKey} ${errors.map((e) => `${e.code}:${e.rttMs ?? 0}`).join(' ')}`);
  }

  /** Errors pushed with pushBrokerErrors on that broker and API not served yet. */
  async brokerErrorsLeft(brokerId: number, apiKey: number): Promise<number> {
    return Number(await this.query(`error_count ${brokerId} ${apiKey}`));
  }

  clearErrors(apiKey: number): Promise<void> {
    return this.command(`clear_errors ${apiKey}`);
  }

  /** Metadata reports this error for the topic (0 clears it). */
  setTopicError(topic: string, code: number): Promise<void> {
    return this.command(`topic_error ${topic} ${code}`);
  }

  /** Moves a partition's leader (-1: no leader). */
  setLeader(topic: string, partition: number, brokerId: number): Promise<void> {
    return this.command(`leader ${topic} ${partition} ${brokerId}`);
  }

  /** Takes a broker down: its connections are closed and new ones refused. */
  brokerDown(brokerId: number): Promise<void> {
    return this.command(`down ${brokerId}`);
  }

  brokerUp(brokerId: number): Promise<void> {
    return this.command(`up ${brokerId}`);
  }

  /** Delays every response of a broker by `ms`. */
  setRtt(brokerId: number, ms: number): Promise<void> {
    return this.command(`rtt ${brokerId} ${ms}`);
  }

  /** Changes the version range the mock advertises for an API (-1, -1: not at all). */
  setApiVersion(apiKey: number, minVersion: number, maxVersion: number): Promise<void> {
    return this.command(`apiversion ${apiKey} ${minVersion} ${maxVersion}`);
  }

  /** Destroys the mock cluster and waits for the program to exit. */
  async stop(): Promise<void> {
    if (!this.exitedAlready) {
      this.proc.stdin.end('quit\n');
      const timer = setTimeout(() => this.proc.kill('SIGKILL'), 5000);
      await this.exited;
      clearTimeout(timer);
    }
  }
}
