/**
 * The local Apache Kafka broker that `kafka-turbo perf|produce` start when no
 * --bootstrap-server is given (and that `npm run demo` uses): one KRaft process (broker and
 * controller) on loopback, from the Apache Kafka jars that Maven fetches on first use into a
 * cache, on the Java 17+ found on JAVA_HOME or PATH.
 *
 * Why it is not test/helpers/kafka/cluster.cjs: that harness is test code (faults, 3-broker
 * and secure clusters, its pom.xml and log4j files under test/) and must not ship in dist/.
 * This module does the few things the CLI needs with what the package itself carries: it
 * writes its own pom and log4j2 configuration, and it reuses a jar set the harness already
 * fetched (same `<cache>/<version>/lib/.complete` layout), so a checkout never downloads twice.
 *
 * Nothing outlives the CLI: the broker runs under `setpriv --pdeathsig TERM` where util-linux
 * has it (the broker is told to stop even if the CLI is killed with SIGKILL), stop() sends
 * SIGTERM and then SIGKILL, and a process 'exit' hook kills it synchronously as a last resort.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { homedir, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

/** The Kafka release the embedded broker runs (the same as the test harness's pom.xml; a unit
 * test keeps the two equal). */
export const KAFKA_VERSION = '4.1.1';
const LOG4J_VERSION = '2.25.3';

/** Raised when the embedded broker cannot be had (no Java, no Maven, a failed fetch or start):
 * the CLI exits with EXIT_BROKER for it. */
export class EmbeddedBrokerError extends Error {
  override name = 'EmbeddedBrokerError';
}

export interface EmbeddedBrokerOptions {
  /** Where progress lines go (default: nowhere). */
  log?: (line: string) => void;
  /** Default partitions of auto-created topics (default 6). */
  partitions?: number;
  /** Jar cache root (default: see cacheRoot()). */
  cacheDir?: string;
  /** Bound on the whole start, format and broker (default 120 s: a cold JVM on a busy 2-core box). */
  startTimeoutMs?: number;
}

/** The package root (the folder with kafka-turbo's package.json), from dist/cjs/cli or out/ts/cli. */
function packageRoot(): string | null {
  let dir = __dirname;
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg)) {
      try {
        if ((JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'kafka-turbo') return dir;
      } catch {
        /* keep walking */
      }
    }
    const up = dirname(dir);
    if (up === dir) return null;
    dir = up;
  }
}

/**
 * KAFKA_TURBO_CACHE_DIR if set; else a checkout's own .cache/kafka when it already holds this
 * version's jars (fetched by the test harness or scripts/install.sh); else the user's cache
 * ($XDG_CACHE_HOME or ~/.cache, under kafka-turbo/kafka), never the installed package's folder.
 */
export function cacheRoot(): string {
  if (process.env.KAFKA_TURBO_CACHE_DIR) return process.env.KAFKA_TURBO_CACHE_DIR;
  const root = packageRoot();
  if (root && existsSync(join(root, '.cache', 'kafka', KAFKA_VERSION, 'lib', '.complete'))) return join(root, '.cache', 'kafka');
  const base = process.env.XDG_CACHE_HOME || join(homedir(), '.cache');
  return join(base, 'kafka-turbo', 'kafka');
}

function javaBin(): string {
  const home = process.env.JAVA_HOME;
  if (home && existsSync(join(home, 'bin', 'java'))) return join(home, 'bin', 'java');
  return 'java';
}

/** Checks that a Java 17+ runs (Kafka 4's broker needs 17) and returns its path. */
export function checkJava(): string {
  const java = javaBin();
  const r = spawnSync(java, ['-version'], { encoding: 'utf8' });
  if (r.error || r.status !== 0) {
    throw new EmbeddedBrokerError(
      `the embedded Kafka broker needs Java 17 or newer, and \`${java} -version\` failed (${r.error?.message ?? (r.signal ? `ended by ${r.signal}` : `exit ${r.status}`)}); ` +
        'install one (Debian: apt-get install openjdk-17-jre-headless) or set JAVA_HOME, or give --bootstrap-server',
    );
  }
  const m = /version "(\d+)(?:\.(\d+))?/.exec(r.stderr);
  const major = m ? (m[1] === '1' ? Number(m[2]) : Number(m[1])) : NaN;
  if (!(major >= 17)) {
    throw new EmbeddedBrokerError(
      `the embedded Kafka broker needs Java 17 or newer; ${java} is ${m ? `Java ${major}` : 'of unknown version'}: set JAVA_HOME to a Java 17+, or give --bootstrap-server`,
    );
  }
  return java;
}

function pomXml(version: string): string {
  // The broker (kafka_2.13) and log4j2 as its logging backend; the tools jar is not needed here.
  return `<?xml version="1.0" encoding="UTF-8"?>
<!-- Written by kafka-turbo's CLI (ts/cli/embedded-broker.ts) to fetch the jars of its embedded broker. -->
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>dev.kafka-turbo.cli</groupId>
  <artifactId>embedded-broker-jars</artifactId>
  <version>0</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId><version>${version}</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-slf4j-impl</artifactId><version>${LOG4J_VERSION}</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-core</artifactId><version>${LOG4J_VERSION}</version></dependency>
  </dependencies>
  <build><plugins><plugin>
    <groupId>org.apache.maven.plugins</groupId><artifactId>maven-dependency-plugin</artifactId><version>3.8.1</version>
    <configuration><includeScope>runtime</includeScope></configuration>
  </plugin></plugins></build>
</project>
`;
}

/** A lib/ folder is usable when its marker (written last, by us or by the test harness) names this version. */
function libComplete(lib: string, version: string): boolean {
  try {
    const marker = JSON.parse(readFileSync(join(lib, '.complete'), 'utf8')) as { version?: string };
    return marker.version === version && readdirSync(lib).some((f) => f.startsWith('kafka_2.13-'));
  } catch {
    return false;
  }
}

/** Runs a child to its end; the current one is kept so that stop() (Ctrl-C) can end it. */
function run(cmd: string, args: string[], opts: { cwd: string; track: (p: ChildProcess | null) => void }): Promise<{ code: number | null; signal: string | null; output: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { cwd: opts.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    opts.track(p);
    let output = '';
    const keep = (b: Buffer): void => {
      output = (output + b.toString()).slice(-8192);
    };
    p.stdout!.on('data', keep);
    p.stderr!.on('data', keep);
    p.on('error', (e) => {
      opts.track(null);
      reject(e);
    });
    p.on('close', (code, signal) => {
      opts.track(null);
      resolve({ code, signal, output });
    });
  });
}

/**
 * `n` distinct free loopback ports. All of them are held at once before any is let go: asked
 * one after another, the kernel may hand a just-released port out again (rarely: it starts
 * each search at a random place, but nothing rules it out), and the broker, given one port as
 * both its listener and its controller port, would fail to start.
 */
async function freePorts(n: number): Promise<number[]> {
  const servers: Server[] = [];
  try {
    for (let i = 0; i < n; i++) {
      const srv = createServer();
      servers.push(srv);
      await new Promise<void>((resolve, reject) => {
        srv.once('error', reject);
        srv.listen(0, '127.0.0.1', () => resolve());
      });
    }
    return servers.map((s) => (s.address() as { port: number }).port);
  } finally {
    await Promise.all(servers.map((s) => new Promise((r) => (s.listening ? s.close(r) : r(undefined)))));
  }
}

/**
 * One ApiVersions v0 request: resolves true when the broker answers it with error 0. Kafka
 * enables request processing only once the broker has started, so an answer means "ready";
 * a bare TCP connect does not (the port is bound earlier).
 */
function apiVersionsAnswered(port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const clientId = Buffer.from('kafka-turbo-cli');
    const req = Buffer.alloc(4 + 2 + 2 + 4 + 2 + clientId.length);
    req.writeInt32BE(req.length - 4, 0);
    req.writeInt16BE(18, 4); // ApiVersions
    req.writeInt16BE(0, 6);
    req.writeInt32BE(1, 8);
    req.writeInt16BE(clientId.length, 12);
    clientId.copy(req, 14);
    let got = Buffer.alloc(0);
    let done = false;
    const sock: Socket = connect({ host: '127.0.0.1', port });
    const finish = (ok: boolean): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => finish(false), timeoutMs);
    sock.on('connect', () => sock.write(req));
    sock.on('data', (b) => {
      got = Buffer.concat([got, b]);
      // size(4) correlation id(4) error code(2)
      if (got.length >= 10) finish(got.readInt32BE(4) === 1 && got.readInt16BE(8) === 0);
    });
    sock.on('error', () => finish(false));
    sock.on('close', () => finish(false));
  });
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * A KRaft cluster id for `kafka-storage format -t`: 16 random bytes in base64url (22
 * characters), drawn again while it starts with '-'. base64url's alphabet holds '-', so one id
 * in 64 began with it, and the storage tool's argument parser then took it for an option
 * ("argument --cluster-id/-t: expected one argument"): the broker did not start.
 */
export function newClusterId(random: (n: number) => Buffer = randomBytes): string {
  for (;;) {
    const id = random(16).toString('base64url');
    if (!id.startsWith('-')) return id;
  }
}

export class EmbeddedBroker {
  /** host:port of the PLAINTEXT listener, once started. */
  bootstrap = '';
  /** The temporary folder with the broker's configuration, data and logs (gone after stop()). */
  readonly dir: string;
  private proc: ChildProcess | null = null;
  private exited: Promise<void> = Promise.resolve();
  /** A helper child (mvn, the storage tool) running now, ended by stop(). */
  private helper: ChildProcess | null = null;
  private stopping: Promise<void> | null = null;
  private readonly exitHook = (): void => this.killSync();
  private readonly log: (line: string) => void;

  private constructor(private readonly opts: EmbeddedBrokerOptions) {
    this.log = opts.log ?? (() => {});
    this.dir = mkdtempSync(join(tmpdir(), 'kafka-turbo-cli-'));
    process.on('exit', this.exitHook);
  }

  /**
   * Creates the broker object at once (so that a caller's Ctrl-C handler can stop() it while it
   * starts) and a promise that settles when it answers requests or failed to start.
   */
  static create(opts: EmbeddedBrokerOptions = {}): { broker: EmbeddedBroker; started: Promise<void> } {
    const broker = new EmbeddedBroker(opts);
    const started = broker.start().catch(async (e: unknown) => {
      await broker.stop();
      throw e;
    });
    return { broker, started };
  }

  private get stopped(): boolean {
    return this.stopping !== null;
  }

  private async start(): Promise<void> {
    const java = checkJava();
    const lib = await this.ensureJars();
    if (this.stopped) throw new EmbeddedBrokerError('stopped while starting');
    const t0 = Date.now();
    const [port, controllerPort] = (await freePorts(2)) as [number, number];
    const props = join(this.dir, 'server.properties');
    const data = join(this.dir, 'data');
    const logs = join(this.dir, 'logs');
    mkdirSync(logs, { recursive: true });
    writeFileSync(props, serverProperties(port, controllerPort, data, this.opts.partitions ?? 6));
    const log4j = join(this.dir, 'log4j2.properties');
    writeFileSync(log4j, LOG4J2);
    const cp = join(lib, '*');
    const clusterId = newClusterId();
    const fmt = await run(java, [`-Dlog4j2.configurationFile=${log4j}`, `-Dkafka.logs.dir=${logs}`, '-cp', cp, 'kafka.tools.StorageTool', 'format', '-t', clusterId, '-c', props], {
      cwd: this.dir,
      track: (p) => (this.helper = p),
    });
    if (this.stopped) throw new EmbeddedBrokerError('stopped while starting');
    if (fmt.code !== 0) throw new EmbeddedBrokerError(`formatting the broker's storage failed (exit ${fmt.code ?? fmt.signal}):\n${fmt.output}`);

    const jvm = [
      '-Xmx512m', '-Xms128m', '-XX:+UseG1GC', '-XX:MaxGCPauseMillis=20', '-Djava.awt.headless=true',
      `-Dlog4j2.configurationFile=${log4j}`, `-Dkafka.logs.dir=${logs}`, '-cp', cp, 'kafka.Kafka', props,
    ];
    const setpriv = ['/usr/bin/setpriv', '/bin/setpriv'].find((p) => existsSync(p));
    const [cmd, args] = setpriv ? [setpriv, ['--pdeathsig', 'TERM', '--', java, ...jvm]] : [java, jvm];
    // Its own process group: a Ctrl-C in the terminal goes to the CLI alone, which closes the
    // producer first and then stops the broker (a broker that got the SIGINT too would be
    // shutting down under the producer's last requests).
    const proc = spawn(cmd, args, { cwd: this.dir, stdio: ['ignore', 'ignore', 'ignore'], detached: true });
    this.proc = proc;
    let exitInfo = '';
    this.exited = new Promise((resolve) => {
      proc.on('exit', (code, signal) => {
        exitInfo = `exit ${code ?? signal}`;
        this.proc = null;
        resolve();
      });
      proc.on('error', (e) => {
        exitInfo = e.message;
        this.proc = null;
        resolve();
      });
    });
    // The CLI's event loop is kept alive by its own work; the broker must not keep it alive.
    proc.unref();
    const deadline = Date.now() + (this.opts.startTimeoutMs ?? 120_000);
    for (;;) {
      if (this.stopped) throw new EmbeddedBrokerError('stopped while starting');
      if (!this.proc) throw new EmbeddedBrokerError(`the broker exited while starting (${exitInfo}); last lines of its log:\n${tail(join(logs, 'server.log'))}`);
      if (await apiVersionsAnswered(port, 2000)) break;
      if (Date.now() > deadline) throw new EmbeddedBrokerError(`the broker did not answer within ${this.opts.startTimeoutMs ?? 120_000} ms; its log:\n${tail(join(logs, 'server.log'))}`);
      await sleep(200);
    }
    this.bootstrap = `127.0.0.1:${port}`;
    this.log(`local Apache Kafka ${KAFKA_VERSION} broker up at ${this.bootstrap} in ${((Date.now() - t0) / 1000).toFixed(1)} s (pid ${proc.pid}, files in ${this.dir})`);
  }

  /** The jar set: found in the cache, or fetched by Maven (with a progress message) on first use. */
  private async ensureJars(): Promise<string> {
    const root = this.opts.cacheDir ?? cacheRoot();
    const versionDir = join(root, KAFKA_VERSION);
    const lib = join(versionDir, 'lib');
    if (libComplete(lib, KAFKA_VERSION)) return lib;
    mkdirSync(versionDir, { recursive: true });
    const pom = join(versionDir, 'kafka-turbo-cli-pom.xml');
    writeFileSync(pom, pomXml(KAFKA_VERSION));
    const tmp = join(versionDir, `lib.tmp-${process.pid}-${Date.now()}`);
    const t0 = Date.now();
    this.log(`first use: fetching the Apache Kafka ${KAFKA_VERSION} broker jars (about 60 MB) with Maven into ${lib} ...`);
    let r;
    try {
      r = await run('mvn', ['-B', '-q', '-ntp', '-Dstyle.color=never', '-f', pom, 'dependency:copy-dependencies', `-DoutputDirectory=${tmp}`], {
        cwd: versionDir,
        track: (p) => (this.helper = p),
      });
    } catch (e) {
      throw new EmbeddedBrokerError(`cannot run mvn to fetch the Kafka jars (Debian: apt-get install maven), or give --bootstrap-server: ${(e as Error).message}`);
    }
    if (this.stopped) {
      rmSync(tmp, { recursive: true, force: true });
      throw new EmbeddedBrokerError('stopped while fetching the Kafka jars');
    }
    const jars = existsSync(tmp) ? readdirSync(tmp).filter((f) => f.endsWith('.jar')) : [];
    if (r.code !== 0 || !jars.some((j) => j.startsWith('kafka_2.13-'))) {
      rmSync(tmp, { recursive: true, force: true });
      throw new EmbeddedBrokerError(`fetching the Kafka ${KAFKA_VERSION} jars with Maven failed (exit ${r.code ?? r.signal}):\n${r.output}`);
    }
    writeFileSync(join(tmp, '.complete'), JSON.stringify({ version: KAFKA_VERSION, by: 'kafka-turbo cli' }));
    rmSync(lib, { recursive: true, force: true });
    try {
      renameSync(tmp, lib);
    } catch (e) {
      // Another process filled lib/ at the same moment: theirs is as good as ours.
      rmSync(tmp, { recursive: true, force: true });
      if (!libComplete(lib, KAFKA_VERSION)) throw e;
    }
    this.log(`fetched ${jars.length} jars in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    return lib;
  }

  /** SIGTERM (a controlled shutdown), SIGKILL after graceMs; removes the temporary folder. Idempotent. */
  stop(graceMs = 10_000): Promise<void> {
    this.stopping ??= (async () => {
      this.helper?.kill('SIGKILL');
      const proc = this.proc;
      if (proc) {
        proc.ref(); // keep this process alive until the broker is gone
        proc.kill('SIGTERM');
        let timer: NodeJS.Timeout | undefined;
        const timedOut = await Promise.race([
          this.exited.then(() => false),
          new Promise<boolean>((r) => (timer = setTimeout(() => r(true), graceMs))),
        ]);
        clearTimeout(timer);
        if (timedOut && this.proc) {
          proc.kill('SIGKILL');
          await this.exited;
        }
      }
      process.removeListener('exit', this.exitHook);
      rmSync(this.dir, { recursive: true, force: true, maxRetries: 3 });
    })();
    return this.stopping;
  }

  /** For 'exit' hooks and a second Ctrl-C: nothing asynchronous. */
  killSync(): void {
    try {
      this.helper?.kill('SIGKILL');
      this.proc?.kill('SIGKILL');
    } catch {
      /* already gone */
    }
    process.removeListener('exit', this.exitHook);
    try {
      rmSync(this.dir, { recursive: true, force: true, maxRetries: 3 });
    } catch {
      /* a dying JVM may still write a file; the folder is in the system's temp dir */
    }
  }
}

function tail(file: string, lines = 30): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

function serverProperties(port: number, controllerPort: number, dataDir: string, partitions: number): string {
  const props: Record<string, string | number | boolean> = {
    'node.id': 1,
    'process.roles': 'broker,controller',
    listeners: `PLAINTEXT://127.0.0.1:${port},CONTROLLER://127.0.0.1:${controllerPort}`,
    'advertised.listeners': `PLAINTEXT://127.0.0.1:${port}`,
    'listener.security.protocol.map': 'PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT',
    'inter.broker.listener.name': 'PLAINTEXT',
    'controller.listener.names': 'CONTROLLER',
    'controller.quorum.voters': `1@127.0.0.1:${controllerPort}`,
    'log.dirs': dataDir,
    // kafka-producer-perf-test relies on auto-creation; several partitions so that a perf run
    // spreads over batches as it would on a real topic.
    'auto.create.topics.enable': true,
    'num.partitions': partitions,
    'default.replication.factor': 1,
    'min.insync.replicas': 1,
    'offsets.topic.replication.factor': 1,
    'offsets.topic.num.partitions': 1,
    'transaction.state.log.replication.factor': 1,
    'transaction.state.log.min.isr': 1,
    'transaction.state.log.num.partitions': 1,
    'share.coordinator.state.topic.replication.factor': 1,
    'share.coordinator.state.topic.min.isr': 1,
    'group.initial.rebalance.delay.ms': 0,
    // A laptop's broker: fewer threads than a production one.
    'num.network.threads': 2,
    'num.io.threads': 4,
    'num.recovery.threads.per.data.dir': 1,
    'log.cleaner.threads': 1,
    'log.cleaner.dedupe.buffer.size': 16 * 1024 * 1024,
  };
  return Object.entries(props).map(([k, v]) => `${k}=${v}`).join('\n') + '\n';
}

/** The broker logs to <dir>/logs/server.log at INFO, nothing on the console (the CLI owns it). */
const LOG4J2 = `status = warn
appender.file.type = File
appender.file.name = FILE
appender.file.fileName = \${sys:kafka.logs.dir}/server.log
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d{HH:mm:ss,SSS}] %p %m (%c{1})%n
rootLogger.level = INFO
rootLogger.appenderRef.file.ref = FILE
logger.request.name = kafka.request.logger
logger.request.level = WARN
logger.statechange.name = state.change.logger
logger.statechange.level = WARN
`;
