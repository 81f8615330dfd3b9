'use strict';
// Real Apache Kafka (KRaft, 4.x) for the tests: fetches the jars with Maven, starts a 1- or
// 3-broker cluster on loopback from them, creates topics, stops and restarts brokers, and
// pauses and resumes them (SIGSTOP / SIGCONT: a broker that stops answering without closing
// its sockets, as a long GC pause or a frozen VM does).
//
// Plain CommonJS so that it is loaded as is both by scripts/test.mjs (ESM `import`) and by the
// compiled TypeScript helpers in out/test/helpers (`require`); tsc never copies it into
// out/, so everything here locates files from the repository root.
//
// The harness talks to the brokers itself for the two things it needs often (is the broker up,
// does every broker know the topic's leaders; create a topic): a tiny, independent client of
// the Kafka protocol (Metadata v4, CreateTopics v4, both still served by 4.x) that answers in
// milliseconds instead of a JVM start per call. KAFKA_TURBO_TEST_ADMIN=java switches topic
// creation to the Java tool (org.apache.kafka.tools.TopicCommand) instead.
//
// CLI:  node test/helpers/kafka/cluster.cjs fetch          fetch the jars (no-op when cached)
//       node test/helpers/kafka/cluster.cjs start [1|3|secure]    run a cluster until Ctrl-C

const fs = require('node:fs');
const path = require('node:path');
const os = require('node:os');
const net = require('node:net');
const http = require('node:http');
const crypto = require('node:crypto');
const { spawn, spawnSync } = require('node:child_process');

// ---------------------------------------------------------------------------------------------
// Paths, versions, jars

function findRepoRoot(start) {
  let dir = start;
  for (;;) {
    const pkg = path.join(dir, 'package.json');
    if (fs.existsSync(pkg)) {
      try {
        if (JSON.parse(fs.readFileSync(pkg, 'utf8')).name === 'kafka-turbo') return dir;
      } catch {
        /* keep walking */
      }
    }
    const up = path.dirname(dir);
    if (up === dir) throw new Error(`kafka-turbo repository root not found above ${start}`);
    dir = up;
  }
}

const REPO_ROOT = findRepoRoot(__dirname);
const KAFKA_HELPER_DIR = path.join(REPO_ROOT, 'test', 'helpers', 'kafka');
const POM = path.join(KAFKA_HELPER_DIR, 'pom.xml');
const BROKER_LOG4J = path.join(KAFKA_HELPER_DIR, 'log4j2.properties');
const TOOLS_LOG4J = path.join(KAFKA_HELPER_DIR, 'log4j2-tools.properties');
const TMP_PREFIX = 'kafka-turbo-test-';

function kafkaVersion() {
  if (process.env.KAFKA_TURBO_KAFKA_VERSION) return process.env.KAFKA_TURBO_KAFKA_VERSION;
  const m = /<kafka\.version>([^<]+)<\/kafka\.version>/.exec(fs.readFileSync(POM, 'utf8'));
  if (!m) throw new Error(`no <kafka.version> in ${POM}`);
  return m[1].trim();
}

function kafkaCacheDir(version = kafkaVersion()) {
  return path.join(REPO_ROOT, '.cache', 'kafka', version);
}

function javaBin() {
  const home = process.env.JAVA_HOME;
  if (home && fs.existsSync(path.join(home, 'bin', 'java'))) return path.join(home, 'bin', 'java');
  return 'java';
}

/**
 * Makes sure .cache/kafka/<version>/lib holds the broker + tools jars and returns that folder.
 * A marker file (written last) records the version and the pom's hash: when it matches nothing
 * runs, not even Maven. Otherwise Maven (default ~/.m2) copies the jars into a fresh folder that
 * is renamed into place, so concurrent callers never see a half-filled lib/.
 */
function ensureKafkaJars(opts = {}) {
  const log = opts.log || (() => {});
  const version = opts.version || kafkaVersion();
  const dir = kafkaCacheDir(version);
  const lib = path.join(dir, 'lib');
  const marker = path.join(lib, '.complete');
  const want = JSON.stringify({
    version,
    pom: crypto.createHash('sha256').update(fs.readFileSync(POM)).digest('hex'),
  });
  if (fs.existsSync(marker) && fs.readFileSync(marker, 'utf8') === want) return lib;

  fs.mkdirSync(dir, { recursive: true });
  const tmp = path.join(dir, `lib.tmp-${process.pid}-${Date.now()}`);
  const started = Date.now();
  log(`fetching Apache Kafka ${version} jars with Maven into ${path.relative(REPO_ROOT, lib)}`);
  const args = [
    '-B', '-q', '-ntp', '-Dstyle.color=never', '-f', POM, `-Dkafka.version=${version}`,
    'dependency:copy-dependencies', `-DoutputDirectory=${tmp}`,
  ];
  const r = spawnSync('mvn', args, { stdio: ['ignore', 'inherit', 'inherit'], cwd: dir });
  if (r.error) throw new Error(`cannot run mvn (is Maven installed?): ${r.error.message}`);
  if (r.status !== 0) {
    fs.rmSync(tmp, { recursive: true, force: true });
    throw new Error(`mvn dependency:copy-dependencies failed (exit ${r.status}) for Kafka ${version}`);
  }
  const jars = fs.readdirSync(tmp).filter((f) => f.endsWith('.jar'));
  if (!jars.some((j) => j.startsWith('kafka_2.13-')) || !jars.some((j) => j.startsWith('kafka-tools-'))) {
    throw new Error(`Maven ran but ${tmp} lacks the kafka_2.13 / kafka-tools jars`);
  }
  fs.writeFileSync(path.join(tmp, '.complete'), want);
  fs.rmSync(lib, { recursive: true, force: true });
  try {
    fs.renameSync(tmp, lib);
  } catch (e) {
    // Someone else won the race: theirs is as good as ours.
    fs.rmSync(tmp, { recursive: true, force: true });
    if (!(fs.existsSync(marker) && fs.readFileSync(marker, 'utf8') === want)) throw e;
  }
  log(`fetched ${jars.length} jars in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return lib;
}

// ---------------------------------------------------------------------------------------------
// A minimal Kafka protocol client (non-flexible versions only): just enough for the harness.

const ERROR_NAMES = {
  [-1]: 'UNKNOWN_SERVER_ERROR', 3: 'UNKNOWN_TOPIC_OR_PARTITION', 5: 'LEADER_NOT_AVAILABLE',
  6: 'NOT_LEADER_OR_FOLLOWER', 7: 'REQUEST_TIMED_OUT', 15: 'COORDINATOR_NOT_AVAILABLE',
  17: 'INVALID_TOPIC_EXCEPTION', 35: 'UNSUPPORTED_VERSION', 36: 'TOPIC_ALREADY_EXISTS',
  37: 'INVALID_PARTITIONS', 38: 'INVALID_REPLICATION_FACTOR', 39: 'INVALID_REPLICA_ASSIGNMENT',
  40: 'INVALID_CONFIG', 41: 'NOT_CONTROLLER', 42: 'INVALID_REQUEST', 89: 'THROTTLING_QUOTA_EXCEEDED',
};
const RETRIABLE_ADMIN_ERRORS = new Set([5, 7, 15, 41, 89]);
const errorName = (code) => ERROR_NAMES[code] || `error ${code}`;

class Writer {
  constructor() { this.chunks = []; this.size = 0; }
  raw(b) { this.chunks.push(b); this.size += b.length; return this; }
  i8(v) { const b = Buffer.alloc(1); b.writeInt8(v); return this.raw(b); }
  i16(v) { const b = Buffer.alloc(2); b.writeInt16BE(v); return this.raw(b); }
  i32(v) { const b = Buffer.alloc(4); b.writeInt32BE(v); return this.raw(b); }
  bool(v) { return this.i8(v ? 1 : 0); }
  str(s) {
    if (s === null || s === undefined) return this.i16(-1);
    const b = Buffer.from(String(s), 'utf8');
    return this.i16(b.length).raw(b);
  }
  arr(items, each) {
    if (items === null) return this.i32(-1);
    this.i32(items.length);
    for (const it of items) each(this, it);
    return this;
  }
  toBuffer() { return Buffer.concat(this.chunks, this.size); }
}

class Reader {
  constructor(buf, off = 0) { this.buf = buf; this.off = off; }
  i8() { const v = this.buf.readInt8(this.off); this.off += 1; return v; }
  i16() { const v = this.buf.readInt16BE(this.off); this.off += 2; return v; }
  i32() { const v = this.buf.readInt32BE(this.off); this.off += 4; return v; }
  bool() { return this.i8() !== 0; }
  str() {
    const n = this.i16();
    if (n < 0) return null;
    const s = this.buf.toString('utf8', this.off, this.off + n);
    this.off += n;
    return s;
  }
  arr(each) {
    const n = this.i32();
    if (n < 0) return null;
    const out = [];
    for (let i = 0; i < n; i++) out.push(each(this));
    return out;
  }
}

let correlationSeq = 0;

/** One request on a fresh connection; resolves with a Reader positioned after the header. */
function kafkaRequest(host, port, apiKey, apiVersion, writeBody, timeoutMs = 10000) {
  const correlationId = ++correlationSeq & 0x7fffffff;
  const w = new Writer().i16(apiKey).i16(apiVersion).i32(correlationId).str('kafka-turbo-test-harness');
  writeBody(w);
  const payload = w.toBuffer();
  const frame = Buffer.alloc(4 + payload.length);
  frame.writeInt32BE(payload.length);
  payload.copy(frame, 4);
  return new Promise((resolve, reject) => {
    const chunks = [];
    let got = 0;
    let done = false;
    const sock = net.connect({ host, port });
    const finish = (err, val) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      if (err) reject(err);
      else resolve(val);
    };
    const timer = setTimeout(
      () => finish(new Error(`${host}:${port}: no answer to api ${apiKey} v${apiVersion} in ${timeoutMs} ms`)),
      timeoutMs,
    );
    sock.on('connect', () => sock.write(frame));
    sock.on('data', (d) => {
      chunks.push(d);
      got += d.length;
      if (got < 4) return;
      const all = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, got);
      chunks.length = 0;
      chunks.push(all);
      const len = all.readInt32BE(0);
      if (got < 4 + len) return;
      const r = new Reader(all.subarray(0, 4 + len), 4);
      const corr = r.i32();
      if (corr !== correlationId) finish(new Error(`${host}:${port}: correlation id ${corr}, expected ${correlationId}`));
      else finish(null, r);
    });
    sock.on('error', (e) => finish(e));
    sock.on('close', () => finish(new Error(`${host}:${port}: connection closed before the response`)));
  });
}

/** Metadata v4. topics: null = all topics, [] = none (brokers only). */
async function fetchMetadata(host, port, topics, timeoutMs) {
  const r = await kafkaRequest(host, port, 3, 4, (w) => {
    w.arr(topics, (ww, t) => ww.str(t));
    w.bool(false); // allow_auto_topic_creation
  }, timeoutMs);
  r.i32(); // throttle_time_ms
  const brokers = r.arr((x) => {
    const nodeId = x.i32();
    const h = x.str();
    const p = x.i32();
    x.str(); // rack
    return { nodeId, host: h, port: p };
  });
  const clusterId = r.str();
  const controllerId = r.i32();
  const topicList = r.arr((x) => ({
    error: x.i16(),
    name: x.str(),
    internal: x.bool(),
    partitions: x.arr((y) => ({
      error: y.i16(),
      partition: y.i32(),
      leader: y.i32(),
      replicas: y.arr((z) => z.i32()),
      isr: y.arr((z) => z.i32()),
    })),
  }));
  return { brokers, clusterId, controllerId, topics: topicList };
}

/** CreateTopics v4 (partitions / replicationFactor -1 = the broker's default). */
async function sendCreateTopic(host, port, name, partitions, replicationFactor, configs, timeoutMs) {
  const r = await kafkaRequest(host, port, 19, 4, (w) => {
    w.arr([name], (ww, t) => {
      ww.str(t).i32(partitions).i16(replicationFactor);
      ww.arr([], () => {}); // assignments
      ww.arr(Object.entries(configs), (w3, [k, v]) => w3.str(k).str(v));
    });
    w.i32(timeoutMs);
    w.bool(false); // validate_only
  }, timeoutMs + 5000);
  r.i32(); // throttle_time_ms
  const [res] = r.arr((x) => ({ name: x.str(), error: x.i16(), message: x.str() }));
  return res;
}

// ---------------------------------------------------------------------------------------------
// Shared helpers

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function parseBootstrap(bootstrap) {
  return bootstrap.split(',').map((s) => s.trim()).filter(Boolean).map((hp) => {
    const i = hp.lastIndexOf(':');
    if (i < 0) throw new Error(`bad bootstrap address "${hp}" (want host:port)`);
    return { host: hp.slice(0, i).replace(/^\[|\]$/g, ''), port: Number(hp.slice(i + 1)) };
  });
}

/** Live brokers as the first answering address reports them. */
async function liveBrokers(addrs, timeoutMs = 5000) {
  let last;
  for (const a of addrs) {
    try {
      return (await fetchMetadata(a.host, a.port, [], timeoutMs)).brokers;
    } catch (e) {
      last = e;
    }
  }
  throw last || new Error('no bootstrap address');
}

function topicReady(md, name, partitions) {
  const t = md.topics.find((x) => x.name === name);
  if (!t || t.error !== 0) return false;
  if (partitions > 0 && t.partitions.length !== partitions) return false;
  if (t.partitions.length === 0) return false;
  return t.partitions.every(
    (p) => p.error === 0 && p.leader >= 0 && p.isr.length === p.replicas.length && p.replicas.includes(p.leader),
  );
}

/**
 * Creates a topic and waits until every live broker reports a leader and a full ISR for each of
 * its partitions, so a producer bootstrapping from any broker right after sees it.
 */
async function createTopicAt(addrs, name, opts = {}) {
  const partitions = opts.partitions ?? 1;
  const rf = opts.replicationFactor ?? -1;
  const configs = opts.configs ?? {};
  const timeoutMs = opts.timeoutMs ?? 60000;
  const deadline = Date.now() + timeoutMs;

  if ((process.env.KAFKA_TURBO_TEST_ADMIN || '') === 'java') {
    await createTopicWithJavaTool(addrs, name, partitions, rf, configs);
  } else {
    for (let attempt = 1; ; attempt++) {
      let res;
      let lastErr;
      for (const a of addrs) {
        try {
          res = await sendCreateTopic(a.host, a.port, name, partitions, rf, configs, 15000);
          break;
        } catch (e) {
          lastErr = e;
        }
      }
      if (res && res.error === 0) break;
      if (res && res.error === 36 && attempt > 1) break; // an earlier, timed-out attempt made it
      const retriable = !res || RETRIABLE_ADMIN_ERRORS.has(res.error);
      const why = res ? `${errorName(res.error)}${res.message ? `: ${res.message}` : ''}` : String(lastErr);
      if (!retriable || Date.now() > deadline) {
        const err = new Error(`createTopic ${name}: ${why}`);
        if (res) err.code = errorName(res.error);
        throw err;
      }
      await sleep(200);
    }
  }

  for (;;) {
    let ready = false;
    try {
      const brokers = await liveBrokers(addrs);
      const mds = await Promise.all(brokers.map((b) => fetchMetadata(b.host, b.port, [name], 5000)));
      ready = brokers.length > 0 && mds.every((md) => topicReady(md, name, partitions));
    } catch {
      ready = false;
    }
    if (ready) return;
    if (Date.now() > deadline) throw new Error(`createTopic ${name}: leaders not known by every broker after ${timeoutMs} ms`);
    await sleep(50);
  }
}

function runJava(libDir, mainClass, args, opts = {}) {
  return new Promise((resolve, reject) => {
    const jvm = [
      '-Xmx256m', '-XX:+UseSerialGC', '-XX:TieredStopAtLevel=1', '-Djava.awt.headless=true',
      `-Dlog4j2.configurationFile=${TOOLS_LOG4J}`, '-cp', path.join(libDir, '*'), mainClass, ...args,
    ];
    const child = spawn(javaBin(), jvm, { stdio: ['ignore', 'pipe', 'pipe'], cwd: opts.cwd });
    let out = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { out += d; });
    child.on('error', reject);
    child.on('exit', (code) => {
      if (code === 0) resolve(out);
      else reject(new Error(`${mainClass} ${args.join(' ')} exited with ${code}:\n${out.trim()}`));
    });
  });
}

async function createTopicWithJavaTool(addrs, name, partitions, rf, configs) {
  const lib = ensureKafkaJars();
  const args = [
    '--bootstrap-server', addrs.map((a) => `${a.host}:${a.port}`).join(','), '--create', '--topic', name,
  ];
  if (partitions > 0) args.push('--partitions', String(partitions));
  if (rf > 0) args.push('--replication-factor', String(rf));
  for (const [k, v] of Object.entries(configs)) args.push('--config', `${k}=${v}`);
  await runJava(lib, 'org.apache.kafka.tools.TopicCommand', args);
}

function freePorts(n) {
  return new Promise((resolve, reject) => {
    const servers = [];
    const ports = [];
    let pending = n;
    let failed = false;
    const closeAll = () => servers.forEach((s) => s.close());
    for (let i = 0; i < n; i++) {
      const s = net.createServer();
      servers.push(s);
      s.on('error', (e) => {
        if (!failed) { failed = true; closeAll(); reject(e); }
      });
      s.listen(0, '127.0.0.1', () => {
        ports.push(s.address().port);
        if (--pending === 0) {
          closeAll();
          resolve(ports);
        }
      });
    }
  });
}

function tail(file, lines = 40) {
  try {
    const text = fs.readFileSync(file, 'utf8');
    return text.split('\n').slice(-lines).join('\n');
  } catch {
    return `(no ${file})`;
  }
}

function isAlive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return e.code === 'EPERM';
  }
}

/** Removes the temp dirs (and kills the brokers) of harness processes that died uncleanly. */
function cleanupStale() {
  let entries;
  try {
    entries = fs.readdirSync(os.tmpdir());
  } catch {
    return;
  }
  for (const e of entries) {
    if (!e.startsWith(TMP_PREFIX)) continue;
    const dir = path.join(os.tmpdir(), e);
    let owner;
    try {
      owner = Number(fs.readFileSync(path.join(dir, 'owner.pid'), 'utf8'));
    } catch {
      continue;
    }
    if (owner && isAlive(owner)) continue;
    for (const sub of fs.readdirSync(dir)) {
      try {
        const pid = Number(fs.readFileSync(path.join(dir, sub, 'broker.pid'), 'utf8'));
        const cmd = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
        if (cmd.includes(dir)) process.kill(pid, 'SIGKILL');
      } catch {
        /* not a node dir, or that broker is gone */
      }
    }
    fs.rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
  }
}

// ---------------------------------------------------------------------------------------------
// Start-up speed: formatted storage templates and a class-data-sharing archive, both cached
// under .cache/kafka/<version>/.

/**
 * `kafka-storage format` writes two small files per node (meta.properties, bootstrap.checkpoint)
 * that depend on the node ids, the quorum's shape and a few configs, not on ports or paths. So
 * a cluster is formatted with the real tool once per configuration and copied from then on.
 */
async function formatStorage(libDir, version, nodes, clusterId, extraArgs = []) {
  const normalized = [extraArgs.join(' '), ...nodes
    .map((n) => fs.readFileSync(n.props, 'utf8').replace(/127\.0\.0\.1:\d+/g, 'ADDR').replace(/^log\.dirs=.*$/m, 'log.dirs=DIR'))]
    .join('\n--\n');
  const key = crypto.createHash('sha256').update(`${version}\n${normalized}`).digest('hex').slice(0, 16);
  const template = path.join(kafkaCacheDir(version), 'formatted', key);
  if (fs.existsSync(path.join(template, '.complete'))) {
    for (const n of nodes) fs.cpSync(path.join(template, `node-${n.nodeId}`), path.join(n.dir, 'data'), { recursive: true });
    return 'copied';
  }
  await Promise.all(
    nodes.map((n) => runJava(libDir, 'kafka.tools.StorageTool', ['format', '-t', clusterId, '-c', n.props, ...extraArgs], { cwd: n.dir })),
  );
  const tmp = `${template}.tmp-${process.pid}`;
  try {
    for (const n of nodes) fs.cpSync(path.join(n.dir, 'data'), path.join(tmp, `node-${n.nodeId}`), { recursive: true });
    fs.writeFileSync(path.join(tmp, '.complete'), '');
    fs.renameSync(tmp, template);
  } catch {
    fs.rmSync(tmp, { recursive: true, force: true }); // another process saved the same template
  }
  return 'formatted';
}

let cdsArchiveCache;
let cdsDumperClaimed = false;

/**
 * The broker JVMs load ~10k classes; an AppCDS archive of them cuts a broker's start-up CPU by
 * about a third (it matters with 4 brokers starting on 2 cores). The first 1-broker cluster of
 * a process that finds no archive dumps one when its broker exits; later starts map it. Keyed
 * by the JDK and the jar set, as the JVM insists on both matching. KAFKA_TURBO_TEST_CDS=0: off.
 */
function cdsArchive(version, libDir) {
  if (process.env.KAFKA_TURBO_TEST_CDS === '0') return null;
  if (cdsArchiveCache === undefined) {
    const jv = spawnSync(javaBin(), ['-version'], { encoding: 'utf8' });
    if (jv.status !== 0) return (cdsArchiveCache = null);
    const jars = fs.readdirSync(libDir).filter((f) => f.endsWith('.jar')).sort()
      .map((f) => { const st = fs.statSync(path.join(libDir, f)); return `${f}:${st.size}:${st.mtimeMs}`; }).join(',');
    const key = crypto.createHash('sha256').update(`${jv.stderr}\n${libDir}\n${jars}`).digest('hex').slice(0, 12);
    cdsArchiveCache = path.join(kafkaCacheDir(version), `broker-${key}.jsa`);
  }
  return cdsArchiveCache;
}

// ---------------------------------------------------------------------------------------------
// The secure cluster: certificates (made with openssl into .cache/tls, never committed) and the
// users and listener settings of a broker with SSL, SASL_PLAINTEXT and SASL_SSL beside PLAINTEXT.

/** Users known to the secure broker (PLAIN in its JAAS config, SCRAM created at format time). */
const SECURE_USERS = { alice: 'alice-secret', bob: 'bob-secret' };
/** KIP-368 test: sessions on this listener + mechanism last this long, so clients must re-authenticate. */
const SHORT_SESSION = { listener: 'SASL_PLAINTEXT', mechanism: 'SCRAM-SHA-512', ms: 4000 };
const TLS_PASSWORDS = { brokerKey: 'broker-key-pass', clientKey: 'client-key-pass', clientP12: 'client-p12-pass' };
const CERTS_VERSION = '1';

function tlsDir() {
  return path.join(REPO_ROOT, '.cache', 'tls');
}

function openssl(args, cwd) {
  const r = spawnSync('openssl', args, { cwd, encoding: 'utf8' });
  if (r.error) throw new Error(`cannot run openssl (run scripts/install.sh): ${r.error.message}`);
  if (r.status !== 0) throw new Error(`openssl ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
}

/**
 * Makes the test PKI once (a marker file records it): a CA; the broker's certificate for
 * IP 127.0.0.1 only (so "localhost" is a host-name mismatch) with its key as encrypted
 * PKCS#8 in the old PBE-SHA1-3DES form, the one Java 17 reads in a PEM keystore; a client
 * certificate (key encrypted with OpenSSL's default, and as PKCS12) for the SSL listener,
 * which requires one; an unrelated CA; and an expired server certificate. Returns the paths.
 * Written into a temp dir renamed into place, so concurrent callers never see half of it.
 */
function ensureCertificates() {
  const dir = tlsDir();
  const files = {
    dir,
    ca: path.join(dir, 'ca.pem'),
    otherCa: path.join(dir, 'other-ca.pem'),
    brokerKeystore: path.join(dir, 'broker-keystore.pem'),
    clientCert: path.join(dir, 'client.pem'),
    clientKey: path.join(dir, 'client.key'),
    clientKeystore: path.join(dir, 'client-keystore.pem'),
    clientP12: path.join(dir, 'client.p12'),
    expiredCert: path.join(dir, 'expired.pem'),
    expiredKey: path.join(dir, 'expired.key'),
    passwords: TLS_PASSWORDS,
  };
  const marker = path.join(dir, '.complete');
  if (fs.existsSync(marker) && fs.readFileSync(marker, 'utf8') === CERTS_VERSION) return files;
  fs.mkdirSync(path.dirname(dir), { recursive: true });
  const tmp = `${dir}.tmp-${process.pid}-${Date.now()}`;
  fs.mkdirSync(tmp, { recursive: true });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  try {
    for (const [name, cn] of [['ca', 'kafka-turbo test CA'], ['other-ca', 'an unrelated CA']]) {
      openssl(['req', '-x509', ...ec, '-keyout', `${name}.key`, '-out', `${name}.pem`, '-days', '3650', '-subj', `/CN=${cn}`,
        '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'], tmp);
    }
    const leaf = (name, cn, days, ext) => {
      openssl(['req', ...ec, '-keyout', `${name}.plain.key`, '-out', `${name}.csr`, '-subj', `/CN=${cn}`], tmp);
      fs.writeFileSync(path.join(tmp, `${name}.ext`), ext);
      openssl(['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-set_serial',
        String(Date.now() + name.length), '-days', String(days), '-extfile', `${name}.ext`, '-out', `${name}.pem`], tmp);
    };
    leaf('broker', '127.0.0.1', 3650, 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n');
    leaf('client', 'kafka-turbo test client', 3650, 'extendedKeyUsage=clientAuth\n');
    leaf('expired', '127.0.0.1', -1, 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
    openssl(['pkcs8', '-topk8', '-v1', 'PBE-SHA1-3DES', '-in', 'broker.plain.key', '-out', 'broker.key',
      '-passout', `pass:${TLS_PASSWORDS.brokerKey}`], tmp);
    openssl(['pkcs8', '-topk8', '-in', 'client.plain.key', '-out', 'client.key', '-passout', `pass:${TLS_PASSWORDS.clientKey}`], tmp);
    openssl(['pkcs12', '-export', '-in', 'client.pem', '-inkey', 'client.plain.key', '-certfile', 'ca.pem', '-out', 'client.p12',
      '-passout', `pass:${TLS_PASSWORDS.clientP12}`], tmp);
    const read = (f) => fs.readFileSync(path.join(tmp, f), 'utf8');
    fs.writeFileSync(path.join(tmp, 'broker-keystore.pem'), read('broker.key') + read('broker.pem') + read('ca.pem'));
    fs.writeFileSync(path.join(tmp, 'client-keystore.pem'), read('client.key') + read('client.pem'));
    fs.renameSync(path.join(tmp, 'expired.plain.key'), path.join(tmp, 'expired.key'));
    // Keep what tests use (and ca.key, to sign more by hand); drop the intermediate files.
    for (const f of fs.readdirSync(tmp)) {
      if (/\.(csr|ext|srl)$/.test(f) || f.endsWith('.plain.key') || f === 'other-ca.key' || f === 'broker.key') fs.rmSync(path.join(tmp, f));
    }
    fs.writeFileSync(path.join(tmp, '.complete'), CERTS_VERSION);
    fs.rmSync(dir, { recursive: true, force: true });
    fs.renameSync(tmp, dir);
  } catch (e) {
    fs.rmSync(tmp, { recursive: true, force: true });
    if (fs.existsSync(marker) && fs.readFileSync(marker, 'utf8') === CERTS_VERSION) return files; // someone else made them
    throw e;
  }
  return files;
}

/** server.properties lines for the secure listeners (ports: { ssl, saslPlaintext, saslSsl }). */
function secureProperties(n) {
  const certs = ensureCertificates();
  const { ssl, saslPlaintext, saslSsl } = n.securePorts;
  const plainUsers = Object.entries(SECURE_USERS).map(([u, p]) => `user_${u}="${p}"`).join(' ');
  const props = {
    listeners: `PLAINTEXT://127.0.0.1:${n.port},SSL://127.0.0.1:${ssl},SASL_PLAINTEXT://127.0.0.1:${saslPlaintext},` +
      `SASL_SSL://127.0.0.1:${saslSsl},CONTROLLER://127.0.0.1:${n.controllerPort}`,
    'advertised.listeners': `PLAINTEXT://127.0.0.1:${n.port},SSL://127.0.0.1:${ssl},SASL_PLAINTEXT://127.0.0.1:${saslPlaintext},` +
      `SASL_SSL://127.0.0.1:${saslSsl}`,
    'listener.security.protocol.map': 'PLAINTEXT:PLAINTEXT,SSL:SSL,SASL_PLAINTEXT:SASL_PLAINTEXT,SASL_SSL:SASL_SSL,CONTROLLER:PLAINTEXT',
    'ssl.keystore.type': 'PEM',
    'ssl.keystore.location': certs.brokerKeystore,
    'ssl.key.password': TLS_PASSWORDS.brokerKey,
    'ssl.truststore.type': 'PEM',
    'ssl.truststore.location': certs.ca,
    'listener.name.ssl.ssl.client.auth': 'required',
    'sasl.enabled.mechanisms': 'PLAIN,SCRAM-SHA-256,SCRAM-SHA-512,OAUTHBEARER',
  };
  for (const l of ['sasl_plaintext', 'sasl_ssl']) {
    props[`listener.name.${l}.plain.sasl.jaas.config`] = `org.apache.kafka.common.security.plain.PlainLoginModule required ${plainUsers};`;
    props[`listener.name.${l}.scram-sha-256.sasl.jaas.config`] = 'org.apache.kafka.common.security.scram.ScramLoginModule required;';
    props[`listener.name.${l}.scram-sha-512.sasl.jaas.config`] = 'org.apache.kafka.common.security.scram.ScramLoginModule required;';
    // Test only: the broker's default (unsecured, alg "none") token validator.
    props[`listener.name.${l}.oauthbearer.sasl.jaas.config`] =
      'org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required unsecuredLoginStringClaim_sub="broker";';
  }
  props[`listener.name.${SHORT_SESSION.listener.toLowerCase()}.${SHORT_SESSION.mechanism.toLowerCase()}.connections.max.reauth.ms`] =
    SHORT_SESSION.ms;
  return Object.entries(props).map(([k, v]) => `${k}=${v}`).join('\n') + '\n';
}

/**
 * server.properties lines for the 3-broker cluster's SASL_SSL listener: the same certificate
 * (for IP 127.0.0.1, which every broker here is) and users as the secure cluster.
 * SCRAM-SHA-512 for the client under test; PLAIN too, because Debian's kcat cannot log in
 * with SCRAM to Kafka 4 and reads the topics back with it.
 */
function replicatedSaslSslProperties() {
  const certs = ensureCertificates();
  const plainUsers = Object.entries(SECURE_USERS).map(([u, p]) => `user_${u}="${p}"`).join(' ');
  // ssl.* and sasl.enabled.mechanisms at the top level, as on the secure cluster: only
  // SASL_SSL is an SSL or SASL listener here, so nothing else picks them up.
  const l = 'listener.name.sasl_ssl';
  const props = {
    'ssl.keystore.type': 'PEM',
    'ssl.keystore.location': certs.brokerKeystore,
    'ssl.key.password': TLS_PASSWORDS.brokerKey,
    'ssl.truststore.type': 'PEM',
    'ssl.truststore.location': certs.ca,
    'sasl.enabled.mechanisms': 'PLAIN,SCRAM-SHA-512',
    [`${l}.plain.sasl.jaas.config`]: `org.apache.kafka.common.security.plain.PlainLoginModule required ${plainUsers};`,
    [`${l}.scram-sha-512.sasl.jaas.config`]: 'org.apache.kafka.common.security.scram.ScramLoginModule required;',
  };
  return Object.entries(props).map(([k, v]) => `${k}=${v}`).join('\n') + '\n';
}

/** kafka-storage format arguments that create the SCRAM users. */
function scramFormatArgs() {
  const out = [];
  for (const [u, p] of Object.entries(SECURE_USERS)) {
    for (const m of ['SCRAM-SHA-256', 'SCRAM-SHA-512']) out.push('--add-scram', `${m}=[name=${u},password=${p}]`);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Local clusters

const liveClusters = new Set();
let exitHookInstalled = false;

function installExitHook() {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const c of liveClusters) c.killSync();
  });
}

/** KAFKA_TURBO_TEST_BROKER_LOG=1: broker logs (startup errors, failed logins) in node-N/logs/kafka.out.
 * The Maven jar set has no SLF4J binding; Debian's libslf4j-java has one. */
const SLF4J_SIMPLE = '/usr/share/java/slf4j-simple.jar';
const SETPRIV = ['/usr/bin/setpriv', '/bin/setpriv'].find((p) => fs.existsSync(p));

class LocalCluster {
  constructor(opts) {
    this.size = opts.size;
    this.libDir = opts.libDir;
    this.baseDir = opts.baseDir;
    this.clusterId = opts.clusterId;
    this.heap = opts.heap;
    this.log = opts.log;
    this.nodes = opts.nodes; // [{ nodeId, port, controllerPort, dir, props, proc, exited }]
    this.bootstrap = this.nodes.map((n) => `127.0.0.1:${n.port}`).join(',');
    this.brokers = this.nodes.map((n) => ({ nodeId: n.nodeId, host: '127.0.0.1', port: n.port }));
    this.stopped = false;
  }

  node(nodeId) {
    const n = this.nodes.find((x) => x.nodeId === nodeId);
    if (!n) throw new Error(`no broker ${nodeId} in this cluster (have ${this.nodes.map((x) => x.nodeId).join(', ')})`);
    return n;
  }

  running() {
    return this.nodes.filter((n) => n.proc && !n.exited);
  }

  /** The running brokers' JVM process ids (setpriv execs java, so the pid is the JVM's):
   * for benchmarks that read the brokers' CPU time from /proc/<pid>/stat. */
  brokerPids() {
    return this.running().map((n) => n.proc.pid).filter((pid) => pid > 0);
  }

  /** Running and not paused: the brokers that answer requests. */
  answering() {
    return this.running().filter((n) => !n.paused);
  }

  spawnNode(n) {
    const logsDir = path.join(n.dir, 'logs');
    fs.mkdirSync(logsDir, { recursive: true });
    const out = fs.openSync(path.join(logsDir, 'kafka.out'), 'a');
    const jvm = [
      `-Xmx${this.heap}`, '-Xms128m', '-XX:+UseG1GC', '-XX:MaxGCPauseMillis=20',
      '-XX:InitiatingHeapOccupancyPercent=35', '-XX:+ExplicitGCInvokesConcurrent', '-Djava.awt.headless=true',
      `-Dlog4j2.configurationFile=${BROKER_LOG4J}`, `-Dkafka.logs.dir=${logsDir}`,
      ...this.cdsFlags(n),
      ...(process.env.KAFKA_TURBO_TEST_JVM_OPTS || '').split(/\s+/).filter(Boolean),
      '-cp', [path.join(this.libDir, '*'), ...(process.env.KAFKA_TURBO_TEST_BROKER_LOG === '1' ? [SLF4J_SIMPLE] : [])].join(path.delimiter),
      'kafka.Kafka', n.props,
    ];
    // setpriv --pdeathsig: the broker gets SIGTERM if whoever started it dies, even by SIGKILL.
    const [cmd, args] = SETPRIV ? [SETPRIV, ['--pdeathsig', 'TERM', '--', javaBin(), ...jvm]] : [javaBin(), jvm];
    const proc = spawn(cmd, args, { stdio: ['ignore', out, out], cwd: n.dir });
    fs.closeSync(out);
    n.proc = proc;
    n.exited = false;
    n.exitCode = null;
    n.paused = false;
    n.exitPromise = new Promise((resolve) => {
      proc.on('exit', (code, signal) => {
        n.exited = true;
        n.exitCode = code ?? signal;
        if (n.cdsTmp) this.keepCdsArchive(n, signal !== 'SIGKILL');
        resolve();
      });
      proc.on('error', (e) => {
        n.exited = true;
        n.exitCode = String(e);
        resolve();
      });
    });
    proc.unref();
    if (proc.pid) fs.writeFileSync(path.join(n.dir, 'broker.pid'), String(proc.pid));
  }

  cdsFlags(n) {
    if (this.cdsArchive) return [`-XX:SharedArchiveFile=${this.cdsArchive}`, '-Xlog:cds=off', '-Xlog:cds+dynamic=off'];
    if (n.cdsDumpTo && !n.cdsTmp && !fs.existsSync(n.cdsDumpTo)) {
      n.cdsTmp = `${n.cdsDumpTo}.tmp-${process.pid}`;
      return [`-XX:ArchiveClassesAtExit=${n.cdsTmp}`];
    }
    return [];
  }

  /** After the dumping broker exited: keep its archive if it was written whole. */
  keepCdsArchive(n, exitedNormally) {
    const tmp = n.cdsTmp;
    const target = n.cdsDumpTo;
    n.cdsTmp = null;
    n.cdsDumpTo = null;
    try {
      if (exitedNormally && fs.statSync(tmp).size > 1 << 20) {
        fs.renameSync(tmp, target);
        this.log(`class data sharing archive saved: ${path.relative(REPO_ROOT, target)}`);
        const dir = path.dirname(target);
        for (const f of fs.readdirSync(dir)) {
          if (/^broker-[0-9a-f]+\.jsa$/.test(f) && path.join(dir, f) !== target) fs.rmSync(path.join(dir, f), { force: true });
        }
        return;
      }
    } catch {
      /* no archive written */
    }
    fs.rmSync(tmp, { force: true });
  }

  /** Waits until each given node answers Metadata and every one of them lists all of them. */
  async waitUp(nodes, timeoutMs) {
    const deadline = Date.now() + timeoutMs;
    const want = this.answering().map((n) => n.nodeId).sort();
    for (;;) {
      for (const n of nodes) {
        if (n.exited) {
          throw new Error(
            `broker ${n.nodeId} exited (${n.exitCode}) while starting; last lines of its log:\n` +
              `${tail(path.join(n.dir, 'logs', 'server.log'))}\n${tail(path.join(n.dir, 'logs', 'kafka.out'), 20)}`,
          );
        }
      }
      let ok = true;
      for (const n of nodes) {
        try {
          const md = await fetchMetadata('127.0.0.1', n.port, [], 2000);
          const ids = md.brokers.map((b) => b.nodeId).sort();
          if (want.some((id) => !ids.includes(id))) ok = false;
        } catch {
          ok = false;
        }
        if (!ok) break;
      }
      if (ok) return;
      if (Date.now() > deadline) {
        throw new Error(
          `Kafka broker(s) ${nodes.map((n) => n.nodeId).join(',')} not up after ${timeoutMs} ms; ` +
            `logs under ${this.baseDir}:\n${tail(path.join(nodes[0].dir, 'logs', 'server.log'))}`,
        );
      }
      await sleep(100);
    }
  }

  /**
   * Restarts every broker that is not running, resumes every paused one, and waits until they
   * serve metadata and are back in the ISR of each partition they replicate. Returns their ids.
   */
  async ensureAllRunning(timeoutMs = 90000) {
    const down = this.nodes.filter((n) => !n.proc || n.exited);
    const paused = this.nodes.filter((n) => n.proc && !n.exited && n.paused);
    for (const n of paused) this.signalNode(n, 'SIGCONT');
    for (const n of down) this.spawnNode(n);
    const back = [...down, ...paused];
    if (back.length) {
      const deadline = Date.now() + timeoutMs;
      await this.waitUp(back, timeoutMs);
      await this.waitInSync(back, deadline);
    }
    return back.map((n) => n.nodeId);
  }

  async createTopic(name, opts = {}) {
    const addrs = this.answering().map((n) => ({ host: '127.0.0.1', port: n.port }));
    if (addrs.length === 0) throw new Error('createTopic: no broker is running');
    await createTopicAt(addrs, name, opts);
  }

  async stopBroker(nodeId, opts = {}) {
    const n = this.node(nodeId);
    await this.stopNode(n, opts.hard ? 0 : (opts.timeoutMs ?? 20000));
  }

  /**
   * Restarts a stopped broker; resolves once every broker lists it and it is back in the ISR
   * of each partition it replicates, so the cluster is whole again for the next test.
   */
  async startBroker(nodeId, opts = {}) {
    const n = this.node(nodeId);
    if (n.proc && !n.exited) return;
    this.spawnNode(n);
    const timeoutMs = opts.timeoutMs ?? 90000;
    const deadline = Date.now() + timeoutMs;
    await this.waitUp([n], timeoutMs);
    await this.waitInSync([n], deadline);
  }

  /**
   * SIGSTOP: the broker process freezes with its sockets open. Clients' requests to it get no
   * answer (nor an error) until it is resumed; its peers see it stop heartbeating, and past
   * broker.session.timeout.ms (6 s here, see serverProperties) the controller fences it and
   * moves its leaderships. Resolves at once.
   */
  async pauseBroker(nodeId) {
    const n = this.node(nodeId);
    if (!n.proc || n.exited) throw new Error(`pauseBroker: broker ${nodeId} is not running`);
    if (n.paused) return;
    this.signalNode(n, 'SIGSTOP');
    n.paused = true;
    this.log(`broker ${nodeId} paused (SIGSTOP)`);
  }

  /**
   * SIGCONT, then waits until the broker serves metadata again and is back in the ISR of every
   * partition it replicates (a fenced broker first re-registers and catches up).
   */
  async resumeBroker(nodeId, opts = {}) {
    const n = this.node(nodeId);
    if (!n.paused || !n.proc || n.exited) return;
    this.signalNode(n, 'SIGCONT');
    const t0 = Date.now();
    const timeoutMs = opts.timeoutMs ?? 90000;
    const deadline = Date.now() + timeoutMs;
    await this.waitUp([n], timeoutMs);
    await this.waitInSync([n], deadline);
    this.log(`broker ${nodeId} resumed (SIGCONT), in sync after ${Date.now() - t0} ms`);
  }

  signalNode(n, sig) {
    n.proc.kill(sig);
    if (sig === 'SIGCONT') n.paused = false;
  }

  /**
   * Waits until every answering broker reports the given nodes in the ISR of each partition
   * they replicate. Every broker is asked, not only the one that came back: a broker resumed
   * after a long pause still holds the metadata it had when it froze, in which it is in sync.
   */
  async waitInSync(nodes, deadline) {
    const ids = nodes.map((n) => n.nodeId);
    for (;;) {
      let lagging = [];
      try {
        for (const asked of this.answering()) {
          const md = await fetchMetadata('127.0.0.1', asked.port, null, 5000);
          for (const t of md.topics) {
            for (const p of t.partitions) {
              if (ids.some((id) => p.replicas.includes(id) && !p.isr.includes(id))) {
                lagging.push(`${t.name}-${p.partition} (as broker ${asked.nodeId} sees it)`);
              }
            }
          }
        }
      } catch (e) {
        lagging = [String(e)];
      }
      if (lagging.length === 0) return;
      if (Date.now() > deadline) {
        throw new Error(`broker(s) ${ids.join(',')} restarted but not back in sync: ${lagging.slice(0, 10).join(', ')}`);
      }
      await sleep(100);
    }
  }

  /** SIGTERM (a controlled shutdown), SIGKILL after graceMs; graceMs 0 = SIGKILL at once. */
  async stopNode(n, graceMs) {
    if (!n.proc || n.exited) return;
    if (n.cdsTmp && graceMs > 0) graceMs = Math.max(graceMs, 30000); // writing the archive takes a moment
    const t0 = Date.now();
    n.proc.ref(); // keep this process alive until the broker is gone
    try {
      n.proc.kill(graceMs > 0 ? 'SIGTERM' : 'SIGKILL');
      // A stopped process keeps a SIGTERM pending until it runs again (SIGKILL needs no help).
      if (n.paused && graceMs > 0) this.signalNode(n, 'SIGCONT');
      let timer;
      const timedOut = await Promise.race([
        n.exitPromise.then(() => false),
        new Promise((r) => { timer = setTimeout(() => r(true), graceMs); }),
      ]);
      clearTimeout(timer);
      if (timedOut && !n.exited) {
        this.log(`broker ${n.nodeId} still running ${graceMs} ms after SIGTERM: SIGKILL`);
        n.proc.kill('SIGKILL');
        await n.exitPromise;
      }
    } finally {
      n.proc.unref();
    }
    this.log(`broker ${n.nodeId} stopped in ${Date.now() - t0} ms`);
  }

  async stop(opts = {}) {
    if (this.stopped) return;
    this.stopped = true;
    await Promise.all(this.nodes.map((n) => this.stopNode(n, opts.graceMs ?? 3000)));
    liveClusters.delete(this);
    fs.rmSync(this.baseDir, { recursive: true, force: true, maxRetries: 3 });
  }

  /** For process 'exit' handlers: nothing asynchronous. */
  killSync() {
    if (this.stopped) return;
    this.stopped = true;
    for (const n of this.nodes) {
      if (n.proc && !n.exited) {
        try { n.proc.kill('SIGKILL'); } catch { /* gone */ }
      }
      if (n.cdsTmp) fs.rmSync(n.cdsTmp, { force: true });
    }
    liveClusters.delete(this);
    try {
      fs.rmSync(this.baseDir, { recursive: true, force: true, maxRetries: 3 });
    } catch {
      /* a dying JVM may still write; cleanupStale() gets it next time */
    }
  }
}

function serverProperties(n, size, nodes, dataDir) {
  const rf = size >= 3 ? 3 : 1;
  const minIsr = size >= 3 ? 2 : 1;
  const props = {
    'node.id': n.nodeId,
    'process.roles': 'broker,controller',
    'listeners': `PLAINTEXT://127.0.0.1:${n.port},CONTROLLER://127.0.0.1:${n.controllerPort}`,
    'advertised.listeners': `PLAINTEXT://127.0.0.1:${n.port}`,
    'listener.security.protocol.map': 'PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT',
    'inter.broker.listener.name': 'PLAINTEXT',
    'controller.listener.names': 'CONTROLLER',
    'controller.quorum.voters': nodes.map((x) => `${x.nodeId}@127.0.0.1:${x.controllerPort}`).join(','),
    'log.dirs': dataDir,
    'num.partitions': 1,
    'default.replication.factor': rf,
    'min.insync.replicas': minIsr,
    'auto.create.topics.enable': false,
    'offsets.topic.replication.factor': rf,
    'offsets.topic.num.partitions': 4,
    'transaction.state.log.replication.factor': rf,
    'transaction.state.log.min.isr': minIsr,
    'transaction.state.log.num.partitions': 4,
    'share.coordinator.state.topic.replication.factor': rf,
    'share.coordinator.state.topic.min.isr': minIsr,
    'group.initial.rebalance.delay.ms': 0,
    // Small machine: fewer threads and buffers than a production broker.
    'num.network.threads': 2,
    'num.io.threads': 4,
    'num.recovery.threads.per.data.dir': 1,
    'log.cleaner.threads': 1,
    'log.cleaner.dedupe.buffer.size': 16 * 1024 * 1024,
    // Leaders move only when a test makes them (no rebalancing in the middle of another test).
    'auto.leader.rebalance.enable': false,
    // Faster failure detection for the failover tests (defaults: 2000 / 9000 ms).
    'broker.heartbeat.interval.ms': 1000,
    'broker.session.timeout.ms': 6000,
  };
  if (n.saslSslPort) {
    // The 3-broker cluster's client listener for the replication test over SASL_SSL; brokers
    // and controllers keep talking PLAINTEXT to each other.
    props.listeners = `PLAINTEXT://127.0.0.1:${n.port},SASL_SSL://127.0.0.1:${n.saslSslPort},CONTROLLER://127.0.0.1:${n.controllerPort}`;
    props['advertised.listeners'] = `PLAINTEXT://127.0.0.1:${n.port},SASL_SSL://127.0.0.1:${n.saslSslPort}`;
    props['listener.security.protocol.map'] = 'PLAINTEXT:PLAINTEXT,SASL_SSL:SASL_SSL,CONTROLLER:PLAINTEXT';
  }
  if (n.securePorts) {
    delete props.listeners;
    delete props['advertised.listeners'];
    delete props['listener.security.protocol.map'];
  }
  const extra = n.securePorts ? secureProperties(n) : n.saslSslPort ? replicatedSaslSslProperties() : '';
  return Object.entries(props).map(([k, v]) => `${k}=${v}`).join('\n') + '\n' + extra;
}

/**
 * Starts a KRaft cluster of 1 or 3 combined broker+controller processes on free loopback ports.
 * opts: { brokers?: 1|3, heap?: '512m', log?: (line) => void, timeoutMs?: number }
 */
async function startCluster(opts = {}) {
  const size = opts.brokers ?? 1;
  if (size !== 1 && size !== 3) throw new Error(`startCluster: brokers must be 1 or 3, not ${size}`);
  const secure = opts.secure === true;
  if (secure && size !== 1) throw new Error('startCluster: the secure cluster has 1 broker');
  const log = opts.log || (() => {});
  const version = kafkaVersion();
  const libDir = ensureKafkaJars({ log, version });
  cleanupStale();
  installExitHook();

  const baseDir = fs.mkdtempSync(path.join(os.tmpdir(), TMP_PREFIX));
  fs.writeFileSync(path.join(baseDir, 'owner.pid'), String(process.pid));
  // base64url's alphabet holds '-': one id in 64 would start with it, and the storage tool's
  // argument parser would take it for an option (the format fails, no broker starts).
  let clusterId;
  do clusterId = crypto.randomBytes(16).toString('base64url');
  while (clusterId.startsWith('-'));
  // The 3-broker cluster always carries a SASL_SSL listener per broker (see
  // replicatedSaslSslProperties): it costs a port and an acceptor, where a separate secure
  // 3-broker cluster would cost three more JVMs on a 2-core machine.
  const saslSsl = size === 3;
  const ports = await freePorts(2 * size + (secure ? 3 : 0) + (saslSsl ? size : 0));
  const nodes = [];
  for (let i = 0; i < size; i++) {
    nodes.push({ nodeId: i + 1, port: ports[2 * i], controllerPort: ports[2 * i + 1], dir: path.join(baseDir, `node-${i + 1}`) });
    if (saslSsl) nodes[i].saslSslPort = ports[2 * size + i];
  }
  if (secure) nodes[0].securePorts = { ssl: ports[2], saslPlaintext: ports[3], saslSsl: ports[4] };
  for (const n of nodes) {
    fs.mkdirSync(n.dir, { recursive: true });
    n.props = path.join(n.dir, 'server.properties');
    fs.writeFileSync(n.props, serverProperties(n, size, nodes, path.join(n.dir, 'data')));
  }
  const cluster = new LocalCluster({ size, libDir, baseDir, clusterId, heap: opts.heap || '512m', log, nodes });
  if (secure) {
    const sp = nodes[0].securePorts;
    cluster.listeners = {
      PLAINTEXT: `127.0.0.1:${nodes[0].port}`,
      SSL: `127.0.0.1:${sp.ssl}`,
      SASL_PLAINTEXT: `127.0.0.1:${sp.saslPlaintext}`,
      SASL_SSL: `127.0.0.1:${sp.saslSsl}`,
    };
  } else if (saslSsl) {
    cluster.listeners = { PLAINTEXT: cluster.bootstrap, SASL_SSL: nodes.map((n) => `127.0.0.1:${n.saslSslPort}`).join(',') };
  }
  const archive = cdsArchive(version, libDir);
  if (archive && fs.existsSync(archive)) {
    cluster.cds = 'using the archive';
    cluster.cdsArchive = archive;
  } else if (archive && size === 1 && !secure && !cdsDumperClaimed) {
    cdsDumperClaimed = true;
    cluster.cds = 'archive written when this broker stops';
    nodes[0].cdsDumpTo = archive;
  }
  liveClusters.add(cluster);
  try {
    const t0 = Date.now();
    const how = await formatStorage(libDir, version, nodes, clusterId, secure || saslSsl ? scramFormatArgs() : []);
    const meta = fs.readFileSync(path.join(nodes[0].dir, 'data', 'meta.properties'), 'utf8');
    cluster.clusterId = (/^cluster\.id=(.*)$/m.exec(meta) || [])[1] || clusterId;
    const t1 = Date.now();
    for (const n of nodes) cluster.spawnNode(n);
    await cluster.waitUp(nodes, opts.timeoutMs ?? 120000);
    log(
      `${secure ? 'secure ' : ''}${size}-broker cluster at ${cluster.bootstrap}: storage ${how} in ${t1 - t0} ms, brokers up in ${Date.now() - t1} ms` +
        `${cluster.cds ? ` (class data sharing: ${cluster.cds})` : ''}`,
    );
  } catch (e) {
    cluster.killSync();
    throw e;
  }
  return cluster;
}

// ---------------------------------------------------------------------------------------------
// Clusters started by another process (scripts/test.mjs): a small HTTP control endpoint on
// loopback lets test processes stop and restart its brokers.

function serveControl(cluster) {
  let queue = Promise.resolve();
  const serial = (fn) => {
    const p = queue.then(fn);
    queue = p.catch(() => {});
    return p;
  };
  const server = http.createServer((req, res) => {
    const u = new URL(req.url, 'http://control');
    const nodeId = Number(u.searchParams.get('node'));
    const reply = (status, body) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    const act = {
      '/info': async () => ({
        bootstrap: cluster.bootstrap, brokers: cluster.brokers, running: cluster.running().map((n) => n.nodeId),
        paused: cluster.running().filter((n) => n.paused).map((n) => n.nodeId),
      }),
      '/stop': async () => { await cluster.stopBroker(nodeId, { hard: u.searchParams.get('hard') === '1' }); return {}; },
      '/start': async () => { await cluster.startBroker(nodeId); return {}; },
      '/pause': async () => { await cluster.pauseBroker(nodeId); return {}; },
      '/resume': async () => { await cluster.resumeBroker(nodeId); return {}; },
      '/ensure': async () => ({ restarted: await cluster.ensureAllRunning() }),
    }[u.pathname];
    if (!act) return reply(404, { error: `unknown ${u.pathname}` });
    serial(act).then((body) => reply(200, body), (e) => reply(500, { error: String(e && e.stack || e) }));
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      server.unref();
      resolve({ url: `http://127.0.0.1:${server.address().port}`, close: () => new Promise((r) => server.close(() => r())) });
    });
  });
}

function controlCall(baseUrl, pathAndQuery, timeoutMs = 180000) {
  return new Promise((resolve, reject) => {
    const req = http.request(`${baseUrl}${pathAndQuery}`, { method: 'POST', agent: false, timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { body += d; });
      res.on('end', () => {
        let parsed;
        try { parsed = JSON.parse(body); } catch { parsed = { error: body }; }
        if (res.statusCode === 200) resolve(parsed);
        else reject(new Error(`cluster control ${pathAndQuery}: ${parsed.error}`));
      });
    });
    req.on('timeout', () => req.destroy(new Error(`cluster control ${pathAndQuery}: timed out`)));
    req.on('error', reject);
    req.end();
  });
}

/** A cluster somebody else runs: createTopic works, stop() does nothing. */
async function connectCluster(bootstrap, opts = {}) {
  const addrs = parseBootstrap(bootstrap);
  const control = opts.controlUrl;
  if (control) await controlCall(control, '/ensure');
  const brokers = (await liveBrokers(addrs, 10000)).sort((a, b) => a.nodeId - b.nodeId);
  const cluster = {
    bootstrap,
    brokers,
    external: true,
    createTopic: (name, o) => createTopicAt(addrs, name, o),
    stop: async () => {},
  };
  if (control) {
    cluster.stopBroker = async (nodeId, o = {}) => {
      await controlCall(control, `/stop?node=${nodeId}${o.hard ? '&hard=1' : ''}`);
    };
    cluster.startBroker = async (nodeId) => {
      await controlCall(control, `/start?node=${nodeId}`);
    };
    cluster.pauseBroker = async (nodeId) => {
      await controlCall(control, `/pause?node=${nodeId}`);
    };
    cluster.resumeBroker = async (nodeId) => {
      await controlCall(control, `/resume?node=${nodeId}`);
    };
    cluster.ensureAllRunning = async () => (await controlCall(control, '/ensure')).restarted;
  }
  return cluster;
}

const ENV = {
  1: { bootstrap: 'KAFKA_TURBO_TEST_BOOTSTRAP', control: 'KAFKA_TURBO_TEST_CONTROL' },
  // saslSsl: the SASL_SSL listeners of the same three brokers ("host:port,..."), for the
  // replication test over SASL_SSL; the bootstrap variable stays the PLAINTEXT one.
  3: { bootstrap: 'KAFKA_TURBO_TEST_BOOTSTRAP_3', control: 'KAFKA_TURBO_TEST_CONTROL_3', saslSsl: 'KAFKA_TURBO_TEST_SASL_SSL_3' },
  // The secure cluster's variable holds its listeners as JSON ({ PLAINTEXT, SSL, ... }).
  secure: { bootstrap: 'KAFKA_TURBO_TEST_SECURE', control: 'KAFKA_TURBO_TEST_CONTROL_SECURE' },
};
const shared = new Map();
let signalHookInstalled = false;

function installSignalHook() {
  if (signalHookInstalled) return;
  signalHookInstalled = true;
  for (const sig of ['SIGINT', 'SIGTERM']) {
    process.once(sig, () => {
      for (const c of liveClusters) c.killSync();
      process.kill(process.pid, sig);
    });
  }
}

/**
 * What tests call. With KAFKA_TURBO_TEST_BOOTSTRAP (_3 for three brokers) set, the cluster at
 * that address; otherwise one started by and for this process (once), stopped when it exits.
 */
function getCluster(opts = {}) {
  const secure = opts.secure === true;
  const size = secure ? 'secure' : opts.brokers ?? 1;
  if (size !== 1 && size !== 3 && size !== 'secure') return Promise.reject(new Error(`getCluster: brokers must be 1 or 3, not ${size}`));
  if (!shared.has(size)) {
    const env = process.env[ENV[size].bootstrap];
    const listeners = secure && env ? JSON.parse(env) : null;
    const bootstrap = listeners ? listeners.PLAINTEXT : env;
    const withSecurity = (c) => {
      if (secure) return Object.assign(c, secureInfo(listeners || c.local.listeners));
      if (size !== 3) return c;
      // The 3-broker cluster's SASL_SSL listeners: from the environment beside its bootstrap,
      // or from the cluster this process started. An outside cluster without them leaves
      // listeners.SASL_SSL undefined, and the test over SASL_SSL says so.
      const saslSsl = env ? process.env[ENV[3].saslSsl] : c.local.listeners.SASL_SSL;
      return Object.assign(c, { listeners: { PLAINTEXT: c.bootstrap, SASL_SSL: saslSsl }, users: SECURE_USERS, certs: ensureCertificates() });
    };
    const p = (bootstrap
      ? connectCluster(bootstrap, { controlUrl: process.env[ENV[size].control] })
      : (installSignalHook(), startCluster({ brokers: secure ? 1 : size, secure, log: opts.log })).then(sharedHandle)
    ).then(withSecurity);
    shared.set(size, p);
    p.catch(() => shared.delete(size));
    return p;
  }
  // Later calls: bring back brokers an earlier test left stopped.
  return shared.get(size).then(async (c) => {
    if (c.local) await c.local.ensureAllRunning();
    return c;
  });
}

/** What tests need to reach the secure cluster: listeners, users, certificate files. */
function secureInfo(listeners) {
  return {
    listeners,
    users: SECURE_USERS,
    shortSession: SHORT_SESSION,
    certs: ensureCertificates(),
  };
}

/** The process-wide cluster as tests see it: stop() is a no-op, it goes when the process does. */
function sharedHandle(c) {
  return {
    bootstrap: c.bootstrap,
    brokers: c.brokers,
    local: c,
    createTopic: (name, o) => c.createTopic(name, o),
    stop: async () => {},
    stopBroker: (nodeId, o) => c.stopBroker(nodeId, o),
    startBroker: (nodeId, o) => c.startBroker(nodeId, o),
    pauseBroker: (nodeId) => c.pauseBroker(nodeId),
    resumeBroker: (nodeId, o) => c.resumeBroker(nodeId, o),
    ensureAllRunning: () => c.ensureAllRunning(),
  };
}

module.exports = {
  REPO_ROOT,
  ensureCertificates,
  kafkaVersion,
  kafkaCacheDir,
  ensureKafkaJars,
  startCluster,
  getCluster,
  connectCluster,
  serveControl,
  createTopicAt,
  fetchMetadata,
  parseBootstrap,
  ENV,
};

// ---------------------------------------------------------------------------------------------
// CLI

if (require.main === module) {
  const [cmd, arg] = process.argv.slice(2);
  const log = (s) => console.error(`[kafka] ${s}`);
  if (cmd === 'fetch') {
    const t = Date.now();
    const lib = ensureKafkaJars({ log });
    log(`jars ready in ${lib} (${Date.now() - t} ms)`);
  } else if (cmd === 'start') {
    const t = Date.now();
    const secure = arg === 'secure';
    startCluster({ brokers: secure ? 1 : Number(arg || 1), secure, log }).then(
      (c) => {
        log(`${c.size}-broker cluster up in ${((Date.now() - t) / 1000).toFixed(1)} s; logs in ${c.baseDir}`);
        console.log(secure ? JSON.stringify(c.listeners) : c.bootstrap);
        if (c.size === 3) log(`SASL_SSL listeners (SCRAM-SHA-512, PLAIN): ${c.listeners.SASL_SSL}`);
        const bye = () => c.stop().then(() => process.exit(0));
        process.once('SIGINT', bye);
        process.once('SIGTERM', bye);
        setInterval(() => {}, 1 << 30);
      },
      (e) => {
        console.error(e);
        process.exit(1);
      },
    );
  } else {
    console.error('usage: node test/helpers/kafka/cluster.cjs fetch | start [1|3|secure]');
    process.exit(2);
  }
}
