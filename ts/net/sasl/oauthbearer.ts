/**
 * SASL OAUTHBEARER (RFC 7628, KIP-255): the client sends a bearer token it got from a token
 * provider; the broker validates it.
 *
 *   client initial response:  n,,\x01auth=Bearer <token>\x01[<key>=<value>\x01]*\x01
 *
 * On a bad token the broker answers with a JSON error document instead of failing at once;
 * RFC 7628 §3.2.3 has the client acknowledge it with a lone \x01, after which the broker fails
 * the exchange (SASL_AUTHENTICATION_FAILED). The JSON is added to the error (it names a status
 * and scope, never the token).
 *
 * Token providers: KafkaJS's `oauthBearerProvider` (async () => { value, extensions? }), the
 * Java-style `sasl.oauthbearer.token.provider` (same shape), or, for Java's
 * `OAuthBearerLoginModule required unsecuredLoginStringClaim_sub="..."` with no login
 * callback handler, an unsecured JWS (alg "none") made here exactly as the Java client's
 * default OAuthBearerUnsecuredLoginCallbackHandler makes it: for test and development
 * clusters whose brokers run the unsecured validator, never for production.
 */
import { KafkaJSSASLAuthenticationError } from '../../errors.js';
import type { SaslMechanism, SaslSend } from './types.js';

export interface OAuthBearerToken {
  value: string;
  /** SASL extensions (KIP-342), sent as key=value pairs. */
  extensions?: Record<string, string>;
}

export type OAuthBearerTokenProvider = () => OAuthBearerToken | Promise<OAuthBearerToken>;

const SEP = '\u0001';
/** RFC 7628 §3.1: extension keys are letters; values are printable ASCII, space and tabs. */
const KEY_RE = /^[A-Za-z]+$/;
const VALUE_RE = /^[\x21-\x7E \t\r\n]*$/;

export function oauthBearerInitialResponse(token: OAuthBearerToken): Buffer {
  let msg = `n,,${SEP}auth=Bearer ${token.value}${SEP}`;
  for (const [k, v] of Object.entries(token.extensions ?? {})) {
    if (k === 'auth' || !KEY_RE.test(k)) throw new KafkaJSSASLAuthenticationError(`SASL OAUTHBEARER: invalid extension name ${JSON.stringify(k)}`);
    if (!VALUE_RE.test(String(v))) throw new KafkaJSSASLAuthenticationError(`SASL OAUTHBEARER: invalid value for extension ${k}`);
    msg += `${k}=${v}${SEP}`;
  }
  return Buffer.from(msg + SEP, 'utf8');
}

/** Java's unsecured login token: header {"alg":"none"}, claims sub/iat/exp (+ extra string claims), empty signature. */
export function unsecuredJws(opts: {
  sub: string;
  lifetimeSeconds?: number;
  claims?: Record<string, string>;
  nowMs?: number;
}): string {
  const iat = (opts.nowMs ?? Date.now()) / 1000;
  const claims = { ...opts.claims, sub: opts.sub, iat, exp: iat + (opts.lifetimeSeconds ?? 3600) };
  const b64 = (o: unknown) => Buffer.from(JSON.stringify(o), 'utf8').toString('base64url');
  return `${b64({ alg: 'none' })}.${b64(claims)}.`;
}

export class OAuthBearerMechanism implements SaslMechanism {
  readonly name = 'OAUTHBEARER';

  constructor(private readonly provider: OAuthBearerTokenProvider) {}

  async authenticate(send: SaslSend): Promise<void> {
    let token: OAuthBearerToken;
    try {
      token = await this.provider();
    } catch (err) {
      throw new KafkaJSSASLAuthenticationError(`SASL OAUTHBEARER: the token provider failed: ${(err as Error)?.message}`, {
        cause: err,
      });
    }
    if (token === null || typeof token !== 'object' || typeof token.value !== 'string' || token.value === '') {
      throw new KafkaJSSASLAuthenticationError('SASL OAUTHBEARER: the token provider returned no token ({ value: string } expected)');
    }
    const answer = await send(oauthBearerInitialResponse(token));
    if (answer.length === 0) return;
    // A non-empty answer is the broker's error document: acknowledge it, then report it.
    const detail = answer.toString('utf8');
    try {
      await send(Buffer.from(SEP, 'utf8'));
    } catch (err) {
      const e = err as Error;
      throw new KafkaJSSASLAuthenticationError(`${e.message} (broker said: ${detail})`, { cause: err });
    }
    throw new KafkaJSSASLAuthenticationError(`SASL OAUTHBEARER authentication failed: the broker refused the token: ${detail}`);
  }
}
