/**
 * SASL without a broker: SCRAM against the RFC 5802 (SHA-1) and RFC 7677 (SHA-256) test
 * vectors, the server-signature check, PLAIN and OAUTHBEARER messages, the handshake and
 * authenticate flow over a scripted connection (mechanism refused, bad credentials, session
 * lifetime), and re-authentication scheduling.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { inspect } from 'node:util';
import { KafkaJSSASLAuthenticationError } from '../../../ts/errors.js';
import { authenticate, createMechanism, reauthenticationDelayMs, SaslSession, Secret, type SaslConnection } from '../../../ts/net/sasl/index.js';
import { oauthBearerInitialResponse, unsecuredJws } from '../../../ts/net/sasl/oauthbearer.js';
import { ScramConversation, scramName } from '../../../ts/net/sasl/scram.js';
import { ApiKey } from '../../../ts/protocol/api-keys.js';
import { Reader } from '../../../ts/protocol/reader.js';
import { Writer } from '../../../ts/protocol/writer.js';

describe('SCRAM (RFC 5802 / RFC 7677 vectors)', () => {
  it('SCRAM-SHA-1, RFC 5802 section 5: client-first, client-final with the proof, server signature accepted', () => {
    const c = new ScramConversation('sha1', 'SCRAM-SHA-1', 'user', new Secret('pencil'), 'fyko+d2lbbFgONRv9qkxdawL');
    assert.equal(c.clientFirst(), 'n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL');
    const final = c.clientFinal('r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096');
    assert.equal(final, 'c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=');
    c.verifyServerFinal('v=rmF9pqV8S7suAoZWja4dJRkFsKQ=');
  });

  it('SCRAM-SHA-256, RFC 7677 section 3', () => {
    const c = new ScramConversation('sha256', 'SCRAM-SHA-256', 'user', new Secret('pencil'), 'rOprNGfwEbeRWgbNEkqO');
    assert.equal(c.clientFirst(), 'n,,n=user,r=rOprNGfwEbeRWgbNEkqO');
    const final = c.clientFinal('r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096');
    assert.equal(final, 'c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=');
    c.verifyServerFinal('v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=');
  });

  it('a server signature that is not the one the password gives is refused', () => {
    const c = new ScramConversation('sha256', 'SCRAM-SHA-256', 'user', new Secret('pencil'), 'rOprNGfwEbeRWgbNEkqO');
    c.clientFinal('r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096');
    const forged = Buffer.from('6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=', 'base64');
    forged[0] ^= 1;
    assert.throws(() => c.verifyServerFinal(`v=${forged.toString('base64')}`), {
      name: 'KafkaJSSASLAuthenticationError',
      message: /signature is wrong/,
    });
    assert.throws(() => c.verifyServerFinal('e=invalid-proof'), /refused the proof: invalid-proof/);
    assert.throws(() => c.verifyServerFinal(''), /signature is wrong/);
  });

  it('a server-first whose nonce does not extend ours, or with too few iterations, is refused before the proof', () => {
    const c = () => new ScramConversation('sha256', 'SCRAM-SHA-256', 'user', new Secret('pencil'), 'abc');
    assert.throws(() => c().clientFinal('r=xyzdef,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096'), /nonce/);
    assert.throws(() => c().clientFinal('r=abc,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096'), /nonce/);
    assert.throws(() => c().clientFinal('r=abcdef,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=1'), /1 iterations/);
    assert.throws(() => c().clientFinal('r=abcdef,i=4096'), /malformed/);
  });

  it('user names escape "," and "=" (RFC 5802 saslname)', () => {
    assert.equal(scramName('a,b=c'), 'a=2Cb=3Dc');
  });
});

describe('PLAIN and OAUTHBEARER messages', () => {
  it('PLAIN sends NUL user NUL password', async () => {
    const sent: Buffer[] = [];
    const m = createMechanism({ mechanism: 'PLAIN', username: 'alice', password: new Secret('s3cret') });
    await m.authenticate(async (b) => (sent.push(b), Buffer.alloc(0)), { host: 'h', port: 1 });
    assert.deepEqual(sent, [Buffer.from('\0alice\0s3cret')]);
  });

  it('OAUTHBEARER: the RFC 7628 initial response with extensions; Java-style unsecured JWS', () => {
    assert.equal(
      oauthBearerInitialResponse({ value: 'tok', extensions: { traceId: 'x1' } }).toString(),
      'n,,\u0001auth=Bearer tok\u0001traceId=x1\u0001\u0001',
    );
    const jws = unsecuredJws({ sub: 'alice', lifetimeSeconds: 60, nowMs: 1_000_000 });
    const [h, c, sig] = jws.split('.');
    assert.deepEqual(JSON.parse(Buffer.from(h!, 'base64url').toString()), { alg: 'none' });
    assert.deepEqual(JSON.parse(Buffer.from(c!, 'base64url').toString()), { sub: 'alice', iat: 1000, exp: 1060 });
    assert.equal(sig, '');
  });

  it('OAUTHBEARER: an error document from the broker is acknowledged with \\x01, then reported', async () => {
    const sent: string[] = [];
    const m = createMechanism({ mechanism: 'OAUTHBEARER', tokenProvider: () => ({ value: 'bad' }) });
    const replies = [Buffer.from('{"status":"invalid_token"}'), Buffer.alloc(0)];
    await assert.rejects(
      m.authenticate(async (b) => (sent.push(b.toString()), replies.shift()!), { host: 'h', port: 1 }),
      { name: 'KafkaJSSASLAuthenticationError', message: /invalid_token/ },
    );
    assert.equal(sent[1], '\u0001');
  });

  it('a Secret never prints', () => {
    const s = new Secret('hunter2');
    const text = `${s} ${JSON.stringify({ s })} ${inspect({ s })}`;
    assert.ok(!text.includes('hunter2'), text);
    assert.equal(s.reveal(), 'hunter2');
  });
});

/** A SaslConnection whose broker is a script: each request gets the next scripted response body. */
function scriptedConnection(responses: ((apiKey: number, version: number, body: Buffer) => Buffer)[]) {
  const seen: { apiKey: number; version: number; body: Buffer }[] = [];
  let connected = true;
  const conn: SaslConnection & { seen: typeof seen } = {
    broker: '127.0.0.1:9093',
    host: '127.0.0.1',
    port: 9093,
    seen,
    isConnected: () => connected,
    close: async () => {
      connected = false;
    },
    request: async (apiKey, version, _flexible, body, decode) => {
      seen.push({ apiKey, version, body });
      const next = responses.shift();
      if (!next) throw new Error(`unexpected request ${apiKey}`);
      return decode(version, new Reader(next(apiKey, version, body)));
    },
  };
  return conn;
}

const handshakeOk = (mechanisms: string[], errorCode = 0) => () => {
  const w = new Writer(64).int16(errorCode).int32(mechanisms.length);
  for (const m of mechanisms) w.string(m);
  return w.finish();
};
const authResponse = (errorCode: number, message: string | null, bytes: Buffer, lifetime: number) => () =>
  new Writer(64).int16(errorCode).string(message).bytes(bytes).int64n(lifetime).finish();
const versionOf = (d: { apiKey: number }) => (d.apiKey === ApiKey.SaslHandshake ? 1 : 1);

describe('authenticate(): handshake and SaslAuthenticate over a connection', () => {
  it('a mechanism the broker does not enable fails and lists the ones it does', async () => {
    const conn = scriptedConnection([handshakeOk(['PLAIN', 'SCRAM-SHA-512'], 33)]);
    const m = createMechanism({ mechanism: 'SCRAM-SHA-256', username: 'alice', password: new Secret('pw') });
    await assert.rejects(authenticate(conn, m, versionOf), (e: Error) => {
      assert.ok(e instanceof KafkaJSSASLAuthenticationError);
      assert.equal((e as KafkaJSSASLAuthenticationError).retriable, false);
      assert.match(e.message, /SCRAM-SHA-256 is not enabled on the broker at 127\.0\.0\.1:9093; it enables: PLAIN, SCRAM-SHA-512/);
      return true;
    });
  });

  it('bad credentials: a non-retriable KafkaJSSASLAuthenticationError with the broker reason, without the password', async () => {
    const conn = scriptedConnection([
      handshakeOk(['PLAIN']),
      authResponse(58, 'Authentication failed: Invalid username or password', Buffer.alloc(0), 0),
    ]);
    const m = createMechanism({ mechanism: 'PLAIN', username: 'alice', password: new Secret('wrong-pw-123') });
    await assert.rejects(authenticate(conn, m, versionOf), (e: KafkaJSSASLAuthenticationError) => {
      assert.equal(e.name, 'KafkaJSSASLAuthenticationError');
      assert.equal(e.retriable, false);
      assert.match(e.message, /SASL PLAIN authentication for user "alice" at 127\.0\.0\.1:9093 failed: Authentication failed/);
      assert.ok(!inspect(e).includes('wrong-pw-123'));
      return true;
    });
    // The handshake named the mechanism; the token went in a SaslAuthenticate v1 request.
    assert.deepEqual(conn.seen.map((r) => r.apiKey), [ApiKey.SaslHandshake, ApiKey.SaslAuthenticate]);
  });

  it('returns the session lifetime the broker granted', async () => {
    const conn = scriptedConnection([handshakeOk(['PLAIN']), authResponse(0, null, Buffer.alloc(0), 30000)]);
    const m = createMechanism({ mechanism: 'PLAIN', username: 'alice', password: new Secret('pw') });
    assert.equal(await authenticate(conn, m, versionOf), 30000);
  });

  it('a KafkaJS authenticationProvider gets saslAuthenticate with request.encode / response.decode+parse', async () => {
    const conn = scriptedConnection([handshakeOk(['MY-MECH']), authResponse(0, null, Buffer.from('pong'), 0)]);
    let parsed: unknown;
    const m = createMechanism({
      mechanism: 'MY-MECH',
      authenticationProvider: ({ host, port, saslAuthenticate }) => ({
        authenticate: async () => {
          assert.equal(`${host}:${port}`, '127.0.0.1:9093');
          parsed = await saslAuthenticate({
            request: { encode: () => Buffer.from('ping') },
            response: { decode: (b: Buffer) => b.toString(), parse: (s: unknown) => `parsed ${s}` },
          });
        },
      }),
    });
    await authenticate(conn, m, versionOf);
    assert.equal(parsed, 'parsed pong');
    assert.equal(new Reader(conn.seen[0]!.body).string(), 'MY-MECH');
    assert.equal(new Reader(conn.seen[1]!.body).bytes().toString(), 'ping');
  });
});

describe('re-authentication (KIP-368)', () => {
  it('is due between 85% and 95% of the session lifetime', () => {
    assert.equal(reauthenticationDelayMs(10000, 0), 8500);
    assert.equal(reauthenticationDelayMs(10000, 0.999999), 9499);
  });

  it('runs again before the session expires, and holds requests (busy) while it runs', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const ok = () => [handshakeOk(['PLAIN']), authResponse(0, null, Buffer.alloc(0), 1000)];
    const script = [...ok()];
    const conn = scriptedConnection(script);
    const m = createMechanism({ mechanism: 'PLAIN', username: 'alice', password: new Secret('pw') });
    const session = await SaslSession.start(conn, m, versionOf);
    assert.equal(session.busy(), null);
    script.push(...ok());
    t.mock.timers.tick(960);
    const busy = session.busy();
    assert.ok(busy, 'a re-authentication is in progress at 96% of the lifetime');
    await busy;
    assert.equal(session.reauthentications, 1);
    assert.equal(conn.seen.length, 4);
    session.stop();
    t.mock.timers.tick(5000);
    assert.equal(conn.seen.length, 4, 'nothing after stop()');
  });

  it('a refused re-authentication closes the connection and reports the error to whoever waits', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const script = [handshakeOk(['PLAIN']), authResponse(0, null, Buffer.alloc(0), 1000)];
    const conn = scriptedConnection(script);
    const m = createMechanism({ mechanism: 'PLAIN', username: 'alice', password: new Secret('pw') });
    const session = await SaslSession.start(conn, m, versionOf);
    script.push(handshakeOk(['PLAIN']), authResponse(58, 'Authentication failed', Buffer.alloc(0), 0));
    t.mock.timers.tick(1000);
    await assert.rejects(session.busy()!, { name: 'KafkaJSSASLAuthenticationError' });
    assert.equal(conn.isConnected(), false);
  });
});
