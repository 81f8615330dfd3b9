/**
 * TLS and SASL against a real broker (the harness's secure cluster: SSL with a required client
 * certificate, SASL_PLAINTEXT and SASL_SSL with PLAIN, SCRAM-SHA-256/512 and OAUTHBEARER
 * through the broker's unsecured validator, which is for tests only). Both API surfaces
 * produce through every listener and mechanism; kcat reads back over the same listener with
 * its own settings (PLAIN or OAUTHBEARER for SCRAM topics: Debian's kcat cannot do SCRAM with
 * Kafka 4). Then the failures: bad passwords, certificates and mechanisms fail fast, say what
 * failed, and never print a credential.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as tls from 'node:tls';
import { inspect } from 'node:util';
import { getSecureCluster, uniqueTopic, type SecureKafkaCluster } from '../helpers/broker.js';
import { kcatSecurity, readTopic } from '../helpers/kcat.js';
import { Kafka, logLevel, Producer } from '../../ts/index.js';
import type { ProducerConfig } from '../../ts/producer/options.js';
import { unsecuredJws } from '../../ts/net/sasl/oauthbearer.js';

let cluster: SecureKafkaCluster;
/** Every log line the KafkaJS-API producers wrote, and every error any test saw: grepped for secrets at the end. */
const logLines: string[] = [];
const seenErrors: unknown[] = [];
const WRONG_PASSWORD = 'not-the-password-4711';

before(async () => {
  cluster = await getSecureCluster();
});
after(async () => {
  await cluster?.stop();
});

const jaas = (module: 'plain' | 'scram', user: string, password: string): string =>
  module === 'plain'
    ? `org.apache.kafka.common.security.plain.PlainLoginModule required username="${user}" password="${password}";`
    : `org.apache.kafka.common.security.scram.ScramLoginModule required username="${user}" password="${password}";`;

/** Java-style configurations for each listener and mechanism. */
function javaCases(): [string, 'SSL' | 'SASL_PLAINTEXT' | 'SASL_SSL', Omit<ProducerConfig, 'bootstrap.servers'>][] {
  const c = cluster.certs;
  const pw = cluster.users['alice']!;
  const ssl = (p: 'SASL_PLAINTEXT' | 'SASL_SSL') => (p === 'SASL_SSL' ? { 'ssl.truststore.location': c.ca } : {});
  const cases: [string, 'SSL' | 'SASL_PLAINTEXT' | 'SASL_SSL', Omit<ProducerConfig, 'bootstrap.servers'>][] = [
    ['SSL, PEM text', 'SSL', {
      'security.protocol': 'SSL',
      'ssl.truststore.type': 'PEM',
      'ssl.truststore.certificates': fs.readFileSync(c.ca, 'utf8'),
      'ssl.keystore.type': 'PEM',
      'ssl.keystore.certificate.chain': fs.readFileSync(c.clientCert, 'utf8'),
      'ssl.keystore.key': fs.readFileSync(c.clientKey, 'utf8'),
      'ssl.key.password': c.passwords.clientKey,
    }],
    ['SSL, PEM files', 'SSL', {
      'security.protocol': 'SSL',
      'ssl.truststore.location': c.ca,
      'ssl.keystore.location': c.clientKeystore,
      'ssl.key.password': c.passwords.clientKey,
    }],
    ['SSL, PKCS12 keystore', 'SSL', {
      'security.protocol': 'SSL',
      'ssl.truststore.location': c.ca,
      'ssl.keystore.type': 'PKCS12',
      'ssl.keystore.location': c.clientP12,
      'ssl.keystore.password': c.passwords.clientP12,
    }],
  ];
  for (const p of ['SASL_PLAINTEXT', 'SASL_SSL'] as const) {
    cases.push([`${p} PLAIN`, p, { 'security.protocol': p, ...ssl(p), 'sasl.mechanism': 'PLAIN', 'sasl.jaas.config': jaas('plain', 'alice', pw) }]);
    for (const m of ['SCRAM-SHA-256', 'SCRAM-SHA-512']) {
      cases.push([`${p} ${m}`, p, { 'security.protocol': p, ...ssl(p), 'sasl.mechanism': m, 'sasl.jaas.config': jaas('scram', 'alice', pw) }]);
    }
    cases.push([`${p} OAUTHBEARER (unsecured login options)`, p, {
      'security.protocol': p,
      ...ssl(p),
      'sasl.mechanism': 'OAUTHBEARER',
      'sasl.jaas.config': 'org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required unsecuredLoginStringClaim_sub="alice";',
    }]);
  }
  return cases;
}

test('Java API: every listener and mechanism produces; kcat reads it back over the same listener', async () => {
  const topics = { SSL: uniqueTopic('sec-ssl'), SASL_PLAINTEXT: uniqueTopic('sec-sp'), SASL_SSL: uniqueTopic('sec-ss') };
  await Promise.all(Object.values(topics).map((t) => cluster.createTopic(t, { partitions: 2 })));
  const expected: Record<string, string[]> = { SSL: [], SASL_PLAINTEXT: [], SASL_SSL: [] };
  for (const [name, listener, config] of javaCases()) {
    const producer = new Producer({ 'bootstrap.servers': cluster.listeners[listener], ...config });
    try {
      const values = Array.from({ length: 20 }, (_, i) => `${name} #${i}`);
      const mds = await Promise.all(values.map((value) => producer.send({ topic: topics[listener], key: name, value })));
      assert.ok(mds.every((m) => m.offset >= 0), name);
      expected[listener]!.push(...values);
    } finally {
      await producer.close();
    }
  }
  for (const listener of ['SSL', 'SASL_PLAINTEXT', 'SASL_SSL'] as const) {
    const want = expected[listener]!;
    const got = await readTopic(cluster.listeners[listener], topics[listener], want.length, {
      config: kcatSecurity(cluster, listener, listener === 'SASL_SSL' ? 'OAUTHBEARER' : 'PLAIN'),
    });
    assert.deepEqual(got.map((r) => r.value!.toString()).sort(), [...want].sort(), listener);
  }
});

function kafka(config: Record<string, unknown>): InstanceType<typeof Kafka> {
  return new Kafka({
    clientId: 'kt-security',
    logLevel: logLevel.DEBUG,
    logCreator: () => (entry: unknown) => logLines.push(JSON.stringify(entry)),
    ...config,
  } as unknown as ConstructorParameters<typeof Kafka>[0]);
}

test('KafkaJS API: ssl options, sasl plain / scram / oauthbearer / custom authenticationProvider', async () => {
  const topic = uniqueTopic('sec-kjs');
  await cluster.createTopic(topic, { partitions: 1 });
  const pw = cluster.users['bob']!;
  const ca = fs.readFileSync(cluster.certs.ca);
  const customPlain = {
    mechanism: 'PLAIN',
    authenticationProvider: ({ saslAuthenticate }: { saslAuthenticate: (a: { request: { encode: () => Buffer } }) => Promise<unknown> }) => ({
      authenticate: async () => {
        await saslAuthenticate({ request: { encode: () => Buffer.from(`\0bob\0${pw}`) } });
      },
    }),
  };
  const cases: [string, Record<string, unknown>][] = [
    ['ssl with a client certificate', {
      brokers: [cluster.listeners.SSL],
      ssl: { ca, cert: fs.readFileSync(cluster.certs.clientCert), key: fs.readFileSync(cluster.certs.clientKey), passphrase: cluster.certs.passwords.clientKey },
    }],
    ['ssl + scram-sha-512', { brokers: [cluster.listeners.SASL_SSL], ssl: { ca }, sasl: { mechanism: 'scram-sha-512', username: 'bob', password: pw } }],
    ['scram-sha-256', { brokers: [cluster.listeners.SASL_PLAINTEXT], sasl: { mechanism: 'scram-sha-256', username: 'bob', password: pw } }],
    ['ssl + plain', { brokers: [cluster.listeners.SASL_SSL], ssl: { ca }, sasl: { mechanism: 'plain', username: 'bob', password: pw } }],
    ['oauthbearer', {
      brokers: [cluster.listeners.SASL_PLAINTEXT],
      sasl: { mechanism: 'oauthbearer', oauthBearerProvider: async () => ({ value: unsecuredJws({ sub: 'bob' }) }) },
    }],
    ['custom authenticationProvider', { brokers: [cluster.listeners.SASL_PLAINTEXT], sasl: customPlain }],
  ];
  const want: string[] = [];
  for (const [name, config] of cases) {
    const producer = kafka(config).producer();
    await producer.connect();
    try {
      const res = await producer.send({ topic, acks: -1, messages: [{ key: name, value: `${name}: a` }, { value: `${name}: b` }] });
      assert.equal(res[0]!.errorCode, 0, name);
      want.push(`${name}: a`, `${name}: b`);
    } finally {
      await producer.disconnect();
    }
  }
  const got = await readTopic(cluster.listeners.SASL_PLAINTEXT, topic, want.length, { config: kcatSecurity(cluster, 'SASL_PLAINTEXT', 'PLAIN') });
  assert.deepEqual(got.map((r) => r.value!.toString()).sort(), want.sort());
});

test('KIP-368: connections re-authenticate before the session the broker granted expires, without a reconnect or a failed send', async () => {
  const { listener, mechanism, ms } = cluster.shortSession;
  const topic = uniqueTopic('sec-reauth');
  await cluster.createTopic(topic, { partitions: 1 });
  const producer = kafka({ brokers: [cluster.listeners[listener]], sasl: { mechanism, username: 'alice', password: cluster.users['alice'] } }).producer();
  const apis: string[] = [];
  producer.on(producer.events.REQUEST, (e: { payload: { apiName: string } }) => apis.push(e.payload.apiName));
  await producer.connect();
  let sent = 0;
  try {
    // Keep sending (a few requests in flight at a time) for longer than the session lifetime.
    const until = Date.now() + ms * 1.4;
    while (Date.now() < until) {
      await Promise.all(Array.from({ length: 3 }, () => producer.send({ topic, messages: [{ value: `r${sent++}` }] })));
      await new Promise((r) => setTimeout(r, 20));
    }
  } finally {
    await producer.disconnect();
  }
  const count = (name: string) => apis.filter((a) => a === name).length;
  // One connection to the bootstrap address (retired once broker 1 answers metadata), one to
  // broker 1 that lives through the whole run, each opened once (ApiVersions starts a
  // connection): had a session expired, the broker would have closed it and the producer
  // reconnected. Each logged in once; broker 1's re-authenticated at least once since.
  assert.equal(count('ApiVersions'), 2, `connections opened: ${count('ApiVersions')} (a reconnect means the session expired)`);
  assert.ok(count('SaslHandshake') >= 3, `SASL handshakes: ${count('SaslHandshake')}; expected 2 logins and at least 1 re-authentication`);
  assert.equal(count('SaslHandshake'), count('SaslAuthenticate') / 2, 'SCRAM: two SaslAuthenticate per handshake');
  const got = await readTopic(cluster.bootstrap, topic, sent);
  assert.equal(got.length, sent);
});

/** A TCP relay to `target` that counts the connections made through it. */
async function countingRelay(target: string): Promise<{ address: string; accepted: () => number; close: () => Promise<void> }> {
  const [host, port] = [target.slice(0, target.lastIndexOf(':')), Number(target.slice(target.lastIndexOf(':') + 1))];
  let accepted = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    accepted++;
    const upstream = net.connect({ host, port });
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('error', () => undefined);
      s.on('close', () => {
        sockets.delete(s);
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    address: `127.0.0.1:${(server.address() as net.AddressInfo).port}`,
    accepted: () => accepted,
    close: () => {
      for (const s of sockets) s.destroy();
      return new Promise((r) => server.close(() => r()));
    },
  };
}

test('a wrong password fails at once with a non-retriable KafkaJSSASLAuthenticationError, on a connection or two (both APIs)', async () => {
  const relay = await countingRelay(cluster.listeners.SASL_PLAINTEXT);
  try {
    const started = Date.now();
    const producer = kafka({ brokers: [relay.address], sasl: { mechanism: 'scram-sha-256', username: 'alice', password: WRONG_PASSWORD } }).producer();
    const err = await producer.connect().then(() => assert.fail('connect() succeeded'), (e: unknown) => e);
    seenErrors.push(err);
    assert.equal((err as Error).name, 'KafkaJSSASLAuthenticationError');
    assert.equal((err as { retriable: boolean }).retriable, false);
    assert.match((err as Error).message, /SCRAM-SHA-256 authentication for user "alice" .* failed: .*invalid credentials/);
    await producer.disconnect();

    const java = new Producer({
      'bootstrap.servers': relay.address,
      'security.protocol': 'SASL_PLAINTEXT',
      'sasl.mechanism': 'PLAIN',
      'sasl.jaas.config': jaas('plain', 'alice', WRONG_PASSWORD),
    });
    const javaErr = await java.send({ topic: 'never-created', value: 'x' }).then(() => assert.fail('send() succeeded'), (e: unknown) => e);
    seenErrors.push(javaErr);
    assert.equal((javaErr as Error).name, 'KafkaJSSASLAuthenticationError');
    await java.close();
    const elapsed = Date.now() - started;
    // Nothing keeps reconnecting afterwards either.
    await new Promise((r) => setTimeout(r, 500));
    assert.ok(relay.accepted() <= 3, `connection attempts: ${relay.accepted()}`);
    assert.ok(elapsed < 10_000, `took ${elapsed} ms`);
  } finally {
    await relay.close();
  }
});

test('a mechanism the broker does not enable is refused, listing the ones it does', async () => {
  const producer = kafka({
    brokers: [cluster.listeners.SASL_SSL],
    ssl: { ca: fs.readFileSync(cluster.certs.ca) },
    sasl: { mechanism: 'x-custom', authenticationProvider: () => ({ authenticate: async () => undefined }) },
  }).producer();
  const err = await producer.connect().then(() => assert.fail('connect() succeeded'), (e: unknown) => e);
  seenErrors.push(err);
  assert.equal((err as Error).name, 'KafkaJSSASLAuthenticationError');
  const m = /X-CUSTOM is not enabled on the broker at \S+; it enables: (.*)$/.exec((err as Error).message);
  assert.ok(m, (err as Error).message);
  assert.deepEqual(m[1]!.split(', ').sort(), ['OAUTHBEARER', 'PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512']);
  await producer.disconnect();
});

test('certificates: an unknown CA, an expired certificate and a host-name mismatch each say what failed, without retries', async () => {
  const c = cluster.certs;
  // A PEM keystore: Node also trusts the CA certificates inside a PKCS12 keystore (see README).
  const base = { 'security.protocol': 'SSL', 'ssl.keystore.location': c.clientKeystore, 'ssl.key.password': c.passwords.clientKey } as const;
  const failure = async (config: ProducerConfig): Promise<Error & { code?: string }> => {
    const p = new Producer({ ...config, 'max.block.ms': 20_000 });
    const started = Date.now();
    const err = await p.send({ topic: 'never-created', value: 'x' }).then(() => assert.fail('send() succeeded'), (e: Error) => e);
    await p.close();
    seenErrors.push(err);
    assert.ok(Date.now() - started < 5000, `failed after ${Date.now() - started} ms: it was retried (${err.name}: ${err.message})`);
    assert.equal(err.name, 'SslAuthenticationError');
    return err;
  };

  const unknownCa = await failure({ ...base, 'bootstrap.servers': cluster.listeners.SSL, 'ssl.truststore.location': c.otherCa });
  assert.equal(unknownCa.code, 'SELF_SIGNED_CERT_IN_CHAIN');
  assert.match(unknownCa.message, /not signed by a CA this client trusts/);

  const localhost = cluster.listeners.SSL.replace('127.0.0.1', 'localhost');
  const mismatch = await failure({ ...base, 'bootstrap.servers': localhost, 'ssl.truststore.location': c.ca });
  assert.equal(mismatch.code, 'ERR_TLS_CERT_ALTNAME_INVALID');
  assert.match(mismatch.message, /not for the host .*Host: localhost/);
  // With host-name checks off (ssl.endpoint.identification.algorithm=""), the same address works.
  const lax = new Producer({ ...base, 'bootstrap.servers': localhost, 'ssl.truststore.location': c.ca, 'ssl.endpoint.identification.algorithm': '' });
  const topic = uniqueTopic('sec-lax');
  await cluster.createTopic(topic);
  assert.ok((await lax.send({ topic, value: 'x' })).offset >= 0);
  await lax.close();

  // The broker cannot be made to serve an expired certificate on cue; a TLS server on loopback
  // with one (signed by the trusted CA, for 127.0.0.1) stands in for it.
  const server = tls.createServer({ cert: fs.readFileSync(c.expiredCert), key: fs.readFileSync(c.expiredKey) }, (s) => s.destroy());
  server.on('tlsClientError', () => undefined);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  try {
    const expired = await failure({
      'security.protocol': 'SSL',
      'bootstrap.servers': `127.0.0.1:${(server.address() as net.AddressInfo).port}`,
      'ssl.truststore.location': c.ca,
    });
    assert.equal(expired.code, 'CERT_HAS_EXPIRED');
    assert.match(expired.message, /certificate has expired/);
  } finally {
    await new Promise((r) => server.close(r));
  }
});

test('no credential appears in any log line or error seen above', () => {
  assert.ok(logLines.length > 0, 'the producers logged something');
  assert.ok(seenErrors.length >= 5);
  const secrets = [
    WRONG_PASSWORD,
    ...Object.values(cluster.users),
    cluster.certs.passwords.clientKey,
    cluster.certs.passwords.clientP12,
  ];
  const text = [...logLines, ...seenErrors.map((e) => `${inspect(e, { depth: 6 })} ${JSON.stringify(e)}`)].join('\n');
  for (const s of secrets) {
    const at = text.indexOf(s);
    assert.ok(at < 0, `a credential appears in the logs or errors: ...${text.slice(Math.max(0, at - 300), at).replace(s, '***')}`);
  }
});
