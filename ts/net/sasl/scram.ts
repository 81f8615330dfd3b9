/**
 * SASL SCRAM-SHA-256 and SCRAM-SHA-512 (RFC 5802, RFC 7677), as Kafka runs them: two round
 * trips, no channel binding (gs2 header "n,,"), and the server's signature checked before the
 * connection is trusted, so a broker that does not know the password cannot pass for one that
 * does.
 *
 *   client-first  n,,n=<user>,r=<client nonce>
 *   server-first  r=<client nonce + server nonce>,s=<salt, base64>,i=<iterations>
 *   client-final  c=biws,r=<nonce>,p=<base64 ClientProof>
 *   server-final  v=<base64 ServerSignature>   (or e=<error>)
 *
 *   SaltedPassword  = PBKDF2-HMAC(password, salt, i)
 *   ClientKey       = HMAC(SaltedPassword, "Client Key");  StoredKey = H(ClientKey)
 *   AuthMessage     = client-first-bare "," server-first "," client-final-without-proof
 *   ClientProof     = ClientKey XOR HMAC(StoredKey, AuthMessage)
 *   ServerSignature = HMAC(HMAC(SaltedPassword, "Server Key"), AuthMessage)
 *
 * The password is used as its UTF-8 bytes, without SASLprep, as the Java client does (Kafka's
 * ScramFormatter), so both compute the same keys for any password.
 */
import * as crypto from 'node:crypto';
import { KafkaJSSASLAuthenticationError } from '../../errors.js';
import type { Secret } from './secret.js';
import type { SaslMechanism, SaslSend } from './types.js';

export type ScramHash = 'sha1' | 'sha256' | 'sha512';

const HASH_BYTES: Record<ScramHash, number> = { sha1: 20, sha256: 32, sha512: 64 };
/** Kafka's lower bound (ScramMechanism.minIterations): fewer is a downgraded or forged server-first. */
export const SCRAM_MIN_ITERATIONS = 4096;
/** Kafka's upper bound for stored credentials; more would stall the event loop in PBKDF2. */
const SCRAM_MAX_ITERATIONS = 16384;

/** RFC 5802 saslname: ',' and '=' escaped. */
export function scramName(user: string): string {
  return user.replace(/=/g, '=3D').replace(/,/g, '=2C');
}

function attributes(msg: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of msg.split(',')) {
    const eq = part.indexOf('=');
    if (eq === 1) out.set(part[0]!, part.slice(2));
  }
  return out;
}

function hmac(hash: ScramHash, key: Buffer, data: string | Buffer): Buffer {
  return crypto.createHmac(hash, key).update(data).digest();
}

/**
 * One SCRAM conversation, step by step, independent of any transport (the RFC vectors drive it
 * directly in the unit tests).
 */
export class ScramConversation {
  private readonly clientFirstBare: string;
  private serverSignature: Buffer | null = null;

  constructor(
    private readonly hash: ScramHash,
    private readonly mechanism: string,
    username: string,
    private readonly password: Secret,
    private readonly clientNonce: string = crypto.randomBytes(24).toString('base64url'),
  ) {
    this.clientFirstBare = `n=${scramName(username)},r=${clientNonce}`;
  }

  clientFirst(): string {
    return `n,,${this.clientFirstBare}`;
  }

  /** The client-final message for the server-first one; checks the server's nonce and counts. */
  clientFinal(serverFirst: string): string {
    const a = attributes(serverFirst);
    const nonce = a.get('r');
    const salt = a.get('s');
    const iterations = Number(a.get('i'));
    if (a.has('e')) throw this.fail(`the broker refused the first message: ${a.get('e')}`);
    if (nonce === undefined || salt === undefined || !Number.isInteger(iterations)) {
      throw this.fail('the broker sent a malformed server-first message');
    }
    if (!nonce.startsWith(this.clientNonce) || nonce.length === this.clientNonce.length) {
      throw this.fail("the broker's nonce does not extend the client's");
    }
    if (iterations < SCRAM_MIN_ITERATIONS || iterations > SCRAM_MAX_ITERATIONS) {
      throw this.fail(`the broker asked for ${iterations} iterations (accepted: ${SCRAM_MIN_ITERATIONS}-${SCRAM_MAX_ITERATIONS})`);
    }
    const salted = crypto.pbkdf2Sync(
      Buffer.from(this.password.reveal(), 'utf8'),
      Buffer.from(salt, 'base64'),
      iterations,
      HASH_BYTES[this.hash],
      this.hash,
    );
    const clientKey = hmac(this.hash, salted, 'Client Key');
    const storedKey = crypto.createHash(this.hash).update(clientKey).digest();
    const withoutProof = `c=biws,r=${nonce}`;
    const authMessage = `${this.clientFirstBare},${serverFirst},${withoutProof}`;
    const clientSignature = hmac(this.hash, storedKey, authMessage);
    const proof = Buffer.alloc(clientKey.length);
    for (let i = 0; i < proof.length; i++) proof[i] = clientKey[i]! ^ clientSignature[i]!;
    this.serverSignature = hmac(this.hash, hmac(this.hash, salted, 'Server Key'), authMessage);
    return `${withoutProof},p=${proof.toString('base64')}`;
  }

  /** Throws unless the server-final message carries the signature only the password's owner can make. */
  verifyServerFinal(serverFinal: string): void {
    const a = attributes(serverFinal);
    if (a.has('e')) throw this.fail(`the broker refused the proof: ${a.get('e')}`);
    const v = a.get('v');
    const expected = this.serverSignature;
    if (expected === null) throw new Error('verifyServerFinal() before clientFinal()');
    const got = v === undefined ? Buffer.alloc(0) : Buffer.from(v, 'base64');
    if (got.length !== expected.length || !crypto.timingSafeEqual(got, expected)) {
      throw this.fail("the broker's signature is wrong: it does not hold this user's credentials");
    }
  }

  private fail(why: string): KafkaJSSASLAuthenticationError {
    return new KafkaJSSASLAuthenticationError(`SASL ${this.mechanism} authentication failed: ${why}`);
  }
}

export class ScramMechanism implements SaslMechanism {
  readonly name: string;
  private readonly hash: ScramHash;

  constructor(
    mechanism: 'SCRAM-SHA-256' | 'SCRAM-SHA-512',
    readonly username: string,
    private readonly password: Secret,
  ) {
    this.name = mechanism;
    this.hash = mechanism === 'SCRAM-SHA-256' ? 'sha256' : 'sha512';
  }

  async authenticate(send: SaslSend): Promise<void> {
    const c = new ScramConversation(this.hash, this.name, this.username, this.password);
    const serverFirst = (await send(Buffer.from(c.clientFirst(), 'utf8'))).toString('utf8');
    const serverFinal = (await send(Buffer.from(c.clientFinal(serverFirst), 'utf8'))).toString('utf8');
    c.verifyServerFinal(serverFinal);
  }
}
