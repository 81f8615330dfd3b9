/**
 * SASL PLAIN (RFC 4616): one message, `authzid NUL authcid NUL passwd`, with an empty
 * authorization identity as the Java client sends it. Only safe over TLS (SASL_SSL): the
 * password crosses the wire as it is.
 */
import type { Secret } from './secret.js';
import type { SaslMechanism, SaslSend } from './types.js';

export class PlainMechanism implements SaslMechanism {
  readonly name = 'PLAIN';

  constructor(
    readonly username: string,
    private readonly password: Secret,
  ) {}

  async authenticate(send: SaslSend): Promise<void> {
    await send(Buffer.from(`\u0000${this.username}\u0000${this.password.reveal()}`, 'utf8'));
  }
}
