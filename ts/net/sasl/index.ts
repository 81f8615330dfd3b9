/**
 * SASL on one broker connection: SaslHandshake, then the mechanism's SaslAuthenticate round
 * trips, then (KIP-368) the same again before the session the broker granted runs out.
 *
 * Every connection authenticates right after ApiVersions and before any other request
 * (Broker.handshake in producer/cluster.ts waits for it). Re-authentication runs on the same
 * connection, through its ordinary request queue: the handshake goes out behind whatever is
 * in flight (those requests complete normally), and while it runs the Broker reports itself
 * not ready, so the sender and the metadata code wait for it instead of slipping a Produce
 * between two SASL messages (the broker would drop the connection). A request already queued
 * before the re-authentication started was queued before the handshake, so it goes out first.
 *
 * When the re-authentication is due: at 85-95% of session_lifetime_ms, a random point so that
 * many connections do not re-authenticate at once (the Java client's window).
 */
import { KafkaJSSASLAuthenticationError } from '../../errors.js';
import { ApiKey } from '../../protocol/api-keys.js';
import { errorForCode, ErrorCode } from '../../protocol/error-codes.js';
import { SaslAuthenticate } from '../../protocol/sasl-authenticate.js';
import { SaslHandshake } from '../../protocol/sasl-handshake.js';
import type { Decode } from '../connection.js';
import { OAuthBearerMechanism, type OAuthBearerTokenProvider } from './oauthbearer.js';
import { PlainMechanism } from './plain.js';
import { ScramMechanism } from './scram.js';
import type { Secret } from './secret.js';
import type { SaslMechanism, SaslSend } from './types.js';

export type { SaslMechanism, SaslSend } from './types.js';
export { Secret } from './secret.js';

/** KafkaJS's custom mechanism contract (src/broker/saslAuthenticator). */
export interface KafkaJSAuthenticationProviderArgs {
  host: string;
  port: number;
  logger: unknown;
  saslAuthenticate: <T = unknown>(args: {
    request: { encode: () => Buffer | Uint8Array | Promise<Buffer | Uint8Array> };
    response?: { decode: (raw: Buffer) => unknown; parse: (decoded: unknown) => T };
  }) => Promise<T | undefined>;
}
export type KafkaJSAuthenticationProvider = (args: KafkaJSAuthenticationProviderArgs) => { authenticate: () => Promise<void> };

/** SASL as resolved from either API's configuration (net/security.ts). */
export type SaslSettings =
  | { mechanism: 'PLAIN' | 'SCRAM-SHA-256' | 'SCRAM-SHA-512'; username: string; password: Secret }
  | { mechanism: 'OAUTHBEARER'; tokenProvider: OAuthBearerTokenProvider }
  | { mechanism: string; authenticationProvider: KafkaJSAuthenticationProvider; logger?: unknown };

const NO_LOGGER = {
  info: () => undefined,
  error: () => undefined,
  warn: () => undefined,
  debug: () => undefined,
  namespace: () => NO_LOGGER,
  setLogLevel: () => undefined,
};

/** A KafkaJS authenticationProvider, run as one of ours. */
class KafkaJSCustomMechanism implements SaslMechanism {
  constructor(
    readonly name: string,
    private readonly provider: KafkaJSAuthenticationProvider,
    private readonly logger: unknown,
  ) {}

  async authenticate(send: SaslSend, ctx: { host: string; port: number }): Promise<void> {
    const saslAuthenticate: KafkaJSAuthenticationProviderArgs['saslAuthenticate'] = async ({ request, response }) => {
      const bytes = await request.encode();
      const answer = await send(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
      if (!response) return undefined;
      return response.parse(await response.decode(answer));
    };
    const authenticator = this.provider({ host: ctx.host, port: ctx.port, logger: this.logger, saslAuthenticate });
    await authenticator.authenticate();
  }
}

export function createMechanism(s: SaslSettings): SaslMechanism {
  if ('authenticationProvider' in s) return new KafkaJSCustomMechanism(s.mechanism, s.authenticationProvider, s.logger ?? NO_LOGGER);
  if ('tokenProvider' in s) return new OAuthBearerMechanism(s.tokenProvider);
  if (s.mechanism === 'PLAIN') return new PlainMechanism(s.username, s.password);
  return new ScramMechanism(s.mechanism, s.username, s.password);
}

/** What SASL needs of a BrokerConnection. */
export interface SaslConnection {
  readonly broker: string;
  readonly host: string;
  readonly port: number;
  isConnected(): boolean;
  close(): Promise<void>;
  request<T>(apiKey: number, apiVersion: number, flexibleHeader: boolean, body: Buffer, decode: Decode<T>): Promise<T>;
}

/** The version of an API this broker and this client share (Broker.version). */
export type VersionOf = (desc: { apiKey: number; minVersion: number; maxVersion: number }) => number;

/**
 * One full authentication: handshake, then every exchange of the mechanism. Resolves with the
 * session lifetime the broker granted (0: unlimited). Rejects with a non-retriable
 * KafkaJSSASLAuthenticationError when the broker refuses the mechanism or the credentials
 * (connection errors stay what they are: retriable).
 */
export async function authenticate(conn: SaslConnection, mechanism: SaslMechanism, versionOf: VersionOf): Promise<number> {
  const name = mechanism.name;
  const hv = versionOf(SaslHandshake);
  const hs = await conn.request(ApiKey.SaslHandshake, hv, false, SaslHandshake.encode(hv, { mechanism: name }), SaslHandshake.decode);
  if (hs.errorCode === ErrorCode.UNSUPPORTED_SASL_MECHANISM) {
    throw new KafkaJSSASLAuthenticationError(
      `SASL mechanism ${name} is not enabled on the broker at ${conn.broker}; it enables: ${hs.mechanisms.join(', ') || '(none)'}`,
      { code: 'UNSUPPORTED_SASL_MECHANISM' },
    );
  }
  if (hs.errorCode === ErrorCode.ILLEGAL_SASL_STATE) {
    throw new KafkaJSSASLAuthenticationError(
      `The broker at ${conn.broker} does not expect SASL on this listener (ILLEGAL_SASL_STATE): check security.protocol / the port`,
      { code: 'ILLEGAL_SASL_STATE' },
    );
  }
  if (hs.errorCode !== 0) {
    const e = errorForCode(hs.errorCode);
    throw new KafkaJSSASLAuthenticationError(`SASL handshake with ${conn.broker} failed: ${e.type}: ${e.message}`, { code: e.type });
  }
  const av = versionOf(SaslAuthenticate);
  let lifetimeMs = 0;
  const who = mechanism.username === undefined ? '' : ` for user ${JSON.stringify(mechanism.username)}`;
  const send: SaslSend = async (token) => {
    const res = await conn.request(
      ApiKey.SaslAuthenticate,
      av,
      av >= SaslAuthenticate.flexibleFrom,
      SaslAuthenticate.encode(av, { authBytes: token }),
      SaslAuthenticate.decode,
    );
    if (res.errorCode !== 0) {
      const e = errorForCode(res.errorCode);
      throw new KafkaJSSASLAuthenticationError(
        `SASL ${name} authentication${who} at ${conn.broker} failed: ${res.errorMessage ?? e.message}`,
        { code: e.type },
      );
    }
    lifetimeMs = res.sessionLifetimeMs;
    return res.authBytes;
  };
  await mechanism.authenticate(send, { host: conn.host, port: conn.port });
  return lifetimeMs;
}

/** The Java client's window: re-authenticate at 85% of the lifetime plus up to 10% jitter. */
export function reauthenticationDelayMs(lifetimeMs: number, random = Math.random()): number {
  return Math.floor(lifetimeMs * (0.85 + 0.1 * random));
}

/**
 * An authenticated connection's SASL state: authenticates once at start(), then again before
 * each granted session expires (KIP-368), until stop(). A failed re-authentication closes the
 * connection (the next request reconnects and authenticates from scratch) and is reported to
 * whoever waits on it.
 */
export class SaslSession {
  private timer: NodeJS.Timeout | null = null;
  private pending: Promise<void> | null = null;
  private stopped = false;
  /** Completed re-authentications (not counting the first), for tests and logs. */
  reauthentications = 0;

  private constructor(
    private readonly conn: SaslConnection,
    private readonly mechanism: SaslMechanism,
    private readonly versionOf: VersionOf,
  ) {}

  static async start(conn: SaslConnection, mechanism: SaslMechanism, versionOf: VersionOf): Promise<SaslSession> {
    const s = new SaslSession(conn, mechanism, versionOf);
    s.schedule(await authenticate(conn, mechanism, versionOf));
    return s;
  }

  /** The re-authentication in progress, or null. Requests must wait for it. */
  busy(): Promise<void> | null {
    return this.pending;
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }

  private schedule(lifetimeMs: number): void {
    if (this.stopped || !(lifetimeMs > 0)) return;
    this.timer = setTimeout(() => this.reauthenticate(), reauthenticationDelayMs(lifetimeMs));
    // The connection, not this timer, decides whether the process stays alive.
    this.timer.unref();
  }

  private reauthenticate(): void {
    this.timer = null;
    if (this.stopped || !this.conn.isConnected()) return;
    const run = authenticate(this.conn, this.mechanism, this.versionOf).then(
      (lifetimeMs) => {
        this.pending = null;
        this.reauthentications++;
        this.schedule(lifetimeMs);
      },
      async (err: unknown) => {
        this.pending = null;
        this.stop();
        await this.conn.close();
        throw err;
      },
    );
    run.catch(() => undefined); // reported to whoever waits on busy(); nobody may be waiting
    this.pending = run;
  }
}
