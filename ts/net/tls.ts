/**
 * TLS for broker connections (node:tls): opening the socket, and naming what failed when the
 * handshake does.
 *
 * SNI carries the host the connection was opened to, which is the broker's advertised host
 * (bootstrap address first, then what Metadata lists), unless the options name a servername;
 * an IP address is never sent as SNI (RFC 6066 forbids it; Node warns). Host-name checking is
 * Node's (checkServerIdentity against that same host) unless ssl.endpoint.identification.algorithm
 * is empty, which security.ts turns into a checkServerIdentity that accepts any name.
 *
 * A certificate the client refuses (unknown CA, expired, wrong host) is not a network hiccup:
 * trying again cannot succeed, so it is a non-retriable SslAuthenticationError (the Java
 * client's SslAuthenticationException), which ends a connect() at once instead of retrying.
 */
import * as net from 'node:net';
import * as tls from 'node:tls';
import { KafkaJSNonRetriableError } from '../errors.js';

/** The TLS handshake failed on the certificate: retrying will not help. */
export class SslAuthenticationError extends KafkaJSNonRetriableError {
  override name = 'SslAuthenticationError';
  readonly broker: string;
  constructor(message: string, opts: { broker: string; code: string; cause?: unknown }) {
    super(message, { code: opts.code, cause: opts.cause });
    this.broker = opts.broker;
  }
}

export function connectTls(host: string, port: number, options: tls.ConnectionOptions): tls.TLSSocket {
  const servername = options.servername ?? (net.isIP(host) === 0 ? host : undefined);
  return tls.connect({ ...options, host, port, ...(servername === undefined ? {} : { servername }) });
}

const UNTRUSTED = 'is not signed by a CA this client trusts (give the CA in ssl.truststore.* / ssl.ca)';

/** What each certificate verdict means, in the words of the user's configuration. */
const CERT_PROBLEMS: Record<string, string> = {
  CERT_HAS_EXPIRED: 'has expired',
  CERT_NOT_YET_VALID: 'is not valid yet',
  DEPTH_ZERO_SELF_SIGNED_CERT: `is self-signed and ${UNTRUSTED}`,
  SELF_SIGNED_CERT_IN_CHAIN: UNTRUSTED,
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: UNTRUSTED,
  UNABLE_TO_GET_ISSUER_CERT: UNTRUSTED,
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: UNTRUSTED,
  CERT_UNTRUSTED: UNTRUSTED,
  INVALID_CA: 'names an issuer that is not a valid CA',
  CERT_SIGNATURE_FAILURE: 'has an invalid signature',
  CERT_REVOKED: 'has been revoked',
  CERT_REJECTED: 'was rejected',
  ERR_TLS_CERT_ALTNAME_INVALID:
    'is not for the host this client connected to (ssl.endpoint.identification.algorithm="" turns host-name checks off)',
};

/**
 * The error for a TLS connection that failed to open: SslAuthenticationError for a refused
 * certificate, null for anything else (the caller reports it as a connection error).
 */
export function tlsCertificateError(broker: string, err: Error & { code?: string }): SslAuthenticationError | null {
  const problem = err.code === undefined ? undefined : CERT_PROBLEMS[err.code];
  if (problem === undefined) return null;
  return new SslAuthenticationError(`TLS handshake with ${broker} failed: the broker's certificate ${problem} [${err.code}: ${err.message}]`, {
    broker,
    code: err.code!,
    cause: err,
  });
}
