/**
 * What a SASL mechanism sees of the connection: one function that sends a token in a
 * SaslAuthenticate request and resolves with the broker's token. The mechanisms never touch
 * the socket, the request framing or the broker's error codes (sasl/index.ts does).
 */

/** Sends one SASL token; resolves with the broker's answer (empty when it has none). Rejects
 * with KafkaJSSASLAuthenticationError when the broker refuses. */
export type SaslSend = (token: Buffer) => Promise<Buffer>;

export interface SaslMechanism {
  /** The name sent in SaslHandshake, upper case (PLAIN, SCRAM-SHA-256, ...). */
  readonly name: string;
  /** Shown in errors (never a secret); undefined when the mechanism has no user name. */
  readonly username?: string | undefined;
  /** Runs every exchange of the mechanism. Called once per (re-)authentication. */
  authenticate(send: SaslSend, ctx: { host: string; port: number }): Promise<void>;
}
