/**
 * Security configuration as the Java client reads it (security.protocol, ssl.*, sasl.mechanism,
 * sasl.jaas.config) and as KafkaJS takes it (ssl, sasl): what is accepted, what is refused and
 * how the refusal reads. No error quotes a password.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { inspect } from 'node:util';
import { parseJaasConfig } from '../../../ts/net/sasl/jaas.js';
import { resolveConfig, type ProducerConfig } from '../../../ts/producer/options.js';

const base = { 'bootstrap.servers': 'h:1' } as const;
const security = (c: Partial<ProducerConfig>) => resolveConfig({ ...base, ...c }).security;

describe('sasl.jaas.config', () => {
  it('parses one login module with quoted and bare values, escapes and comments', () => {
    const m = parseJaasConfig(
      '/* c */ org.apache.kafka.common.security.plain.PlainLoginModule required username="al\\"ice" // x\n password=bare-word;',
    );
    assert.equal(m.loginModule, 'org.apache.kafka.common.security.plain.PlainLoginModule');
    assert.equal(m.controlFlag, 'required');
    assert.deepEqual([...m.options], [['username', 'al"ice'], ['password', 'bare-word']]);
  });

  it('refuses malformed text without quoting it', () => {
    for (const bad of [
      'org.Foo required username="u" password="topsecret"', // no ';'
      'org.Foo maybe password="topsecret";',
      'org.Foo required password="topsecret"; org.Bar required;',
      'org.Foo required password="topsecret;',
    ]) {
      assert.throws(() => parseJaasConfig(bad), (e: Error) => {
        assert.match(e.message, /^Invalid sasl\.jaas\.config/);
        assert.ok(!e.message.includes('topsecret'), e.message);
        return true;
      });
    }
  });
});

describe('Java security keys', () => {
  const plainJaas = 'org.apache.kafka.common.security.plain.PlainLoginModule required username="alice" password="alice-secret";';

  it('PLAINTEXT by default; SASL_PLAINTEXT + PLAIN; the password is hidden in the resolved config', () => {
    assert.deepEqual(security({}), { tls: null, sasl: null });
    const s = security({ 'security.protocol': 'SASL_PLAINTEXT', 'sasl.mechanism': 'PLAIN', 'sasl.jaas.config': plainJaas });
    assert.equal(s.tls, null);
    assert.equal(s.sasl?.mechanism, 'PLAIN');
    assert.ok(!inspect(s, { depth: 5 }).includes('alice-secret'));
    assert.ok(!JSON.stringify(s).includes('alice-secret'));
  });

  it('SCRAM needs ScramLoginModule; the default mechanism (GSSAPI) is refused with the ones that work', () => {
    assert.throws(
      () => security({ 'security.protocol': 'SASL_SSL', 'sasl.mechanism': 'SCRAM-SHA-512', 'sasl.jaas.config': plainJaas }),
      /needs org\.apache\.kafka\.common\.security\.scram\.ScramLoginModule/,
    );
    assert.throws(() => security({ 'security.protocol': 'SASL_SSL', 'sasl.jaas.config': plainJaas }), /GSSAPI \(the Java default\).*PLAIN, SCRAM-SHA-256/);
  });

  it('OAUTHBEARER: a token provider, or the unsecured login options (sub, lifetime, extensions)', async () => {
    const s = security({
      'security.protocol': 'SASL_PLAINTEXT',
      'sasl.mechanism': 'OAUTHBEARER',
      'sasl.jaas.config':
        'org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required unsecuredLoginStringClaim_sub="svc" unsecuredLoginExtension_traceId="t1";',
    });
    const token = await (s.sasl as { tokenProvider: () => Promise<{ value: string; extensions: Record<string, string> }> }).tokenProvider();
    assert.equal(JSON.parse(Buffer.from(token.value.split('.')[1]!, 'base64url').toString()).sub, 'svc');
    assert.deepEqual(token.extensions, { traceId: 't1' });
    const provider = () => ({ value: 'x' });
    const p = security({ 'security.protocol': 'SASL_SSL', 'sasl.mechanism': 'OAUTHBEARER', 'sasl.oauthbearer.token.provider': provider });
    assert.equal((p.sasl as { tokenProvider: unknown }).tokenProvider, provider);
    assert.throws(
      () =>
        security({
          'security.protocol': 'SASL_SSL',
          'sasl.mechanism': 'OAUTHBEARER',
          'sasl.jaas.config': 'org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required;',
        }),
      /needs a token/,
    );
  });

  it('PEM text and files, PKCS12 keystores; JKS and PKCS12 truststores refused with what to use instead', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kt-sec-'));
    try {
      const cert = '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n';
      const key = '-----BEGIN ENCRYPTED PRIVATE KEY-----\nBBBB\n-----END ENCRYPTED PRIVATE KEY-----\n';
      fs.writeFileSync(path.join(dir, 'ca.pem'), cert);
      fs.writeFileSync(path.join(dir, 'client.pem'), key + cert);
      fs.writeFileSync(path.join(dir, 'store.jks'), Buffer.from([0xfe, 0xed, 0xfe, 0xed, 0, 0, 0, 2]));
      fs.writeFileSync(path.join(dir, 'store.p12'), Buffer.from([0x30, 0x82, 1, 2]));
      const a = security({ 'security.protocol': 'SSL', 'ssl.truststore.type': 'PEM', 'ssl.truststore.certificates': cert });
      assert.equal(a.tls?.ca, cert.trim());
      assert.equal(a.tls?.checkServerIdentity, undefined, 'host names are checked by default (https)');
      const b = security({
        'security.protocol': 'SSL',
        'ssl.truststore.location': path.join(dir, 'ca.pem'),
        'ssl.keystore.type': 'PEM',
        'ssl.keystore.location': path.join(dir, 'client.pem'),
        'ssl.key.password': 'kp',
        'ssl.endpoint.identification.algorithm': '',
      });
      assert.equal(b.tls?.cert, cert.trim());
      assert.equal(b.tls?.key, key.trim());
      assert.equal(b.tls?.passphrase, 'kp');
      assert.equal(typeof b.tls?.checkServerIdentity, 'function');
      const c = security({ 'security.protocol': 'SSL', 'ssl.keystore.type': 'PKCS12', 'ssl.keystore.location': path.join(dir, 'store.p12'), 'ssl.keystore.password': 'sp' });
      assert.ok(Buffer.isBuffer(c.tls?.pfx));
      assert.equal(c.tls?.passphrase, 'sp');
      assert.throws(() => security({ 'security.protocol': 'SSL', 'ssl.keystore.type': 'JKS', 'ssl.keystore.location': path.join(dir, 'store.jks') }), /JKS cannot be used.*keytool -importkeystore.*PKCS12/);
      assert.throws(() => security({ 'security.protocol': 'SSL', 'ssl.truststore.location': path.join(dir, 'store.jks') }), /ssl\.truststore\.type=JKS cannot be used/);
      assert.throws(() => security({ 'security.protocol': 'SSL', 'ssl.truststore.type': 'PKCS12', 'ssl.truststore.location': path.join(dir, 'store.p12') }), /openssl pkcs12 .* -nokeys/);
      assert.throws(() => security({ 'security.protocol': 'SSL', 'ssl.truststore.location': path.join(dir, 'missing.pem') }), /Cannot read ssl\.truststore\.location/);
      assert.throws(() => security({ 'security.protocol': 'SSL', 'ssl.endpoint.identification.algorithm': 'dns' }), /expected https or ""/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('ssl.* or sasl.* keys with a protocol that does not use them are refused, not ignored', () => {
    assert.throws(() => security({ 'ssl.truststore.certificates': 'x' }), /security\.protocol=PLAINTEXT does not use TLS/);
    assert.throws(() => security({ 'security.protocol': 'SSL', 'sasl.mechanism': 'PLAIN' }), /does not use SASL/);
    assert.throws(() => security({ 'security.protocol': 'TLS' }), /expected one of PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL/);
  });
});

describe('KafkaJS ssl / sasl', () => {
  it('ssl: true or tls options; sasl mechanisms as KafkaJS names them', () => {
    assert.deepEqual(security({ 'kafkajs.ssl': true }).tls, {});
    assert.deepEqual(security({ 'kafkajs.ssl': { servername: 'x' } }).tls, { servername: 'x' });
    assert.equal(security({ 'kafkajs.sasl': { mechanism: 'scram-sha-256', username: 'u', password: 'p' } }).sasl?.mechanism, 'SCRAM-SHA-256');
    assert.throws(() => security({ 'kafkajs.sasl': { mechanism: 'oauthbearer' } }), /Missing OAuth bearer token provider/);
    assert.throws(() => security({ 'kafkajs.sasl': { mechanism: 'plain', username: 'u' } }), /password must be strings/);
    assert.throws(() => security({ 'kafkajs.ssl': true, 'security.protocol': 'SSL' }), /not both/);
  });
});
