/**
 * Security configuration, resolved once when a producer is created: TLS options for node:tls
 * and SASL settings, from the Java client's keys or from KafkaJS's `ssl` / `sasl` options
 * (which the facade passes through as 'kafkajs.ssl' / 'kafkajs.sasl').
 *
 * Java keys (KIP-651 PEM stores; PKCS12 where Node reads it):
 *   security.protocol                      PLAINTEXT (default) | SSL | SASL_PLAINTEXT | SASL_SSL
 *   ssl.truststore.type                    PEM | PKCS12 | JKS (the last two refused, with what to do)
 *   ssl.truststore.certificates            PEM text of the trusted CAs
 *   ssl.truststore.location                a PEM file of them
 *   ssl.keystore.type                      PEM | PKCS12 (JKS refused)
 *   ssl.keystore.certificate.chain / .key  PEM text of the client certificate chain and key
 *   ssl.keystore.location                  a PEM file holding both, or a PKCS12 file
 *   ssl.keystore.password                  the PKCS12 file's password
 *   ssl.key.password                       the PEM key's password (encrypted PKCS#8)
 *   ssl.endpoint.identification.algorithm  https (default: host name checked) | '' (not checked)
 *   sasl.mechanism                         PLAIN | SCRAM-SHA-256 | SCRAM-SHA-512 | OAUTHBEARER
 *   sasl.jaas.config                       one login module, parsed as the Java client does
 *   sasl.oauthbearer.token.provider        ours: a function returning { value, extensions? }
 *
 * Files are read here, so a wrong path fails at creation, not at the first connection.
 * Nothing secret is kept as plain text in what this returns (see sasl/secret.ts), and no
 * error message quotes a password or a JAAS string.
 */
import * as fs from 'node:fs';
import type * as tls from 'node:tls';
import { ConfigError } from '../errors.js';
import { LOGIN_MODULES, parseJaasConfig } from './sasl/jaas.js';
import { unsecuredJws, type OAuthBearerToken, type OAuthBearerTokenProvider } from './sasl/oauthbearer.js';
import { Secret } from './sasl/secret.js';
import type { KafkaJSAuthenticationProvider, SaslSettings } from './sasl/index.js';

export interface SecuritySettings {
  /** null: plain TCP. */
  tls: tls.ConnectionOptions | null;
  /** null: no SASL. */
  sasl: SaslSettings | null;
}

export const SECURITY_KEYS = [
  'security.protocol',
  'ssl.truststore.type',
  'ssl.truststore.location',
  'ssl.truststore.password',
  'ssl.truststore.certificates',
  'ssl.keystore.type',
  'ssl.keystore.location',
  'ssl.keystore.password',
  'ssl.keystore.certificate.chain',
  'ssl.keystore.key',
  'ssl.key.password',
  'ssl.endpoint.identification.algorithm',
  'sasl.mechanism',
  'sasl.jaas.config',
  'sasl.oauthbearer.token.provider',
  'kafkajs.ssl',
  'kafkajs.sasl',
] as const;

export interface SecurityConfig {
  'security.protocol'?: 'PLAINTEXT' | 'SSL' | 'SASL_PLAINTEXT' | 'SASL_SSL' | string;
  'ssl.truststore.type'?: string;
  'ssl.truststore.location'?: string;
  'ssl.truststore.password'?: string;
  'ssl.truststore.certificates'?: string;
  'ssl.keystore.type'?: string;
  'ssl.keystore.location'?: string;
  'ssl.keystore.password'?: string;
  'ssl.keystore.certificate.chain'?: string;
  'ssl.keystore.key'?: string;
  'ssl.key.password'?: string;
  'ssl.endpoint.identification.algorithm'?: string;
  'sasl.mechanism'?: string;
  'sasl.jaas.config'?: string;
  /** Tokens for OAUTHBEARER (the Java client takes a login callback handler class instead). */
  'sasl.oauthbearer.token.provider'?: OAuthBearerTokenProvider;
  /** KafkaJS's `ssl` option, as the facade got it. */
  'kafkajs.ssl'?: boolean | tls.ConnectionOptions;
  /** KafkaJS's `sasl` option, as the facade got it. */
  'kafkajs.sasl'?: Record<string, unknown>;
}

const PROTOCOLS = ['PLAINTEXT', 'SSL', 'SASL_PLAINTEXT', 'SASL_SSL'];
const SASL_MECHANISMS = ['PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512', 'OAUTHBEARER'];

const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----[\s\S]+?-----END \1-----/g;

function pemBlocks(text: string, kind: 'cert' | 'key'): string {
  const out: string[] = [];
  for (const m of text.matchAll(PEM_BLOCK)) {
    const isKey = m[1]!.includes('PRIVATE KEY');
    if ((kind === 'key') === isKey && (isKey || m[1] === 'CERTIFICATE')) out.push(m[0]);
  }
  return out.join('\n');
}

function readFile(key: string, file: unknown): Buffer {
  if (typeof file !== 'string' || file === '') throw new ConfigError(`Invalid value for configuration ${key}: expected a file path`);
  try {
    return fs.readFileSync(file);
  } catch (err) {
    throw new ConfigError(`Cannot read ${key} ${JSON.stringify(file)}: ${(err as Error).message}`);
  }
}

function str(config: Record<string, unknown>, key: string): string | undefined {
  const v = config[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw new ConfigError(`Invalid value for configuration ${key}: expected a string`);
  return v;
}

function storeType(config: Record<string, unknown>, key: 'ssl.truststore.type' | 'ssl.keystore.type', location: string | undefined): string {
  const raw = str(config, key);
  if (raw !== undefined) return raw.trim().toUpperCase();
  // The Java client defaults to JKS; a file we can read says what it is instead.
  if (location === undefined) return 'PEM';
  const head = fs.existsSync(location) ? fs.readFileSync(location).subarray(0, 64) : Buffer.alloc(0);
  if (head.length === 0) return 'PEM'; // unreadable: reading it as PEM says why
  if (head.length >= 4 && head.readUInt32BE(0) === 0xfeedfeed) return 'JKS';
  return head.toString('latin1').includes('-----BEGIN') ? 'PEM' : 'PKCS12';
}

function refuseJks(key: string): never {
  throw new ConfigError(
    `${key}=JKS cannot be used: Node.js reads PEM and PKCS12, not Java KeyStores. Convert the store with ` +
      '`keytool -importkeystore -srckeystore store.jks -destkeystore store.p12 -deststoretype PKCS12` ' +
      '(then PKCS12 for a keystore, or `openssl pkcs12 -in store.p12 -nokeys -out ca.pem` and PEM for a truststore)',
  );
}

/** The node:tls options the ssl.* keys describe. */
function javaTlsOptions(config: Record<string, unknown>): tls.ConnectionOptions {
  const options: tls.ConnectionOptions = {};
  const trustLocation = str(config, 'ssl.truststore.location');
  const trustText = str(config, 'ssl.truststore.certificates');
  const trustType = storeType(config, 'ssl.truststore.type', trustLocation);
  if (trustType === 'JKS') refuseJks('ssl.truststore.type');
  if (trustType === 'PKCS12') {
    throw new ConfigError(
      'ssl.truststore.type=PKCS12 cannot be used: Node.js takes trusted CAs as PEM only. Export them with ' +
        '`openssl pkcs12 -in truststore.p12 -nokeys -out ca.pem` and set ssl.truststore.type=PEM, ssl.truststore.location=ca.pem',
    );
  }
  if (trustType !== 'PEM') throw new ConfigError(`Invalid value ${JSON.stringify(trustType)} for configuration ssl.truststore.type: expected PEM`);
  if (trustLocation !== undefined && trustText !== undefined) {
    throw new ConfigError('Set ssl.truststore.location or ssl.truststore.certificates, not both');
  }
  if (config['ssl.truststore.password'] !== undefined) {
    throw new ConfigError('ssl.truststore.password is not used with a PEM truststore (as in the Java client): remove it');
  }
  const trust = trustText ?? (trustLocation === undefined ? undefined : readFile('ssl.truststore.location', trustLocation).toString('utf8'));
  if (trust !== undefined) {
    const ca = pemBlocks(trust, 'cert');
    if (ca === '') throw new ConfigError('The PEM truststore holds no CERTIFICATE block');
    options.ca = ca;
  }

  const keyLocation = str(config, 'ssl.keystore.location');
  const chain = str(config, 'ssl.keystore.certificate.chain');
  const keyText = str(config, 'ssl.keystore.key');
  const keyPassword = str(config, 'ssl.key.password');
  const keyType = storeType(config, 'ssl.keystore.type', keyLocation);
  if (keyType === 'JKS') refuseJks('ssl.keystore.type');
  if (keyType === 'PKCS12') {
    if (keyLocation === undefined) throw new ConfigError('ssl.keystore.type=PKCS12 needs ssl.keystore.location');
    options.pfx = readFile('ssl.keystore.location', keyLocation);
    const pw = str(config, 'ssl.keystore.password') ?? keyPassword;
    if (pw !== undefined) options.passphrase = pw;
  } else if (keyType === 'PEM') {
    if (keyLocation !== undefined && (chain !== undefined || keyText !== undefined)) {
      throw new ConfigError('Set ssl.keystore.location or ssl.keystore.certificate.chain + ssl.keystore.key, not both');
    }
    if ((chain === undefined) !== (keyText === undefined)) {
      throw new ConfigError('ssl.keystore.certificate.chain and ssl.keystore.key go together: set both');
    }
    const pem = keyLocation === undefined ? undefined : readFile('ssl.keystore.location', keyLocation).toString('utf8');
    const cert = pem === undefined ? chain : pemBlocks(pem, 'cert');
    const key = pem === undefined ? keyText : pemBlocks(pem, 'key');
    if (cert !== undefined && key !== undefined) {
      if (cert.trim() === '' || key.trim() === '') throw new ConfigError('The PEM keystore needs a CERTIFICATE block and a PRIVATE KEY block');
      options.cert = cert;
      options.key = key;
      if (keyPassword !== undefined) options.passphrase = keyPassword;
    }
  } else {
    throw new ConfigError(`Invalid value ${JSON.stringify(keyType)} for configuration ssl.keystore.type: expected PEM or PKCS12`);
  }

  const algorithm = (str(config, 'ssl.endpoint.identification.algorithm') ?? 'https').trim().toLowerCase();
  if (algorithm === '') options.checkServerIdentity = () => undefined;
  else if (algorithm !== 'https') {
    throw new ConfigError(`Invalid value ${JSON.stringify(algorithm)} for configuration ssl.endpoint.identification.algorithm: expected https or ""`);
  }
  return options;
}

function required(opts: Map<string, string>, name: string, mechanism: string): string {
  const v = opts.get(name);
  if (v === undefined) throw new ConfigError(`sasl.jaas.config for ${mechanism} needs option ${name}="..."`);
  return v;
}

/** sasl.mechanism + sasl.jaas.config (+ the token provider) as the Java client reads them. */
function javaSasl(config: Record<string, unknown>): SaslSettings {
  const mechanism = (str(config, 'sasl.mechanism') ?? 'GSSAPI').trim().toUpperCase();
  if (!SASL_MECHANISMS.includes(mechanism)) {
    throw new ConfigError(
      `sasl.mechanism=${mechanism}${config['sasl.mechanism'] === undefined ? ' (the Java default)' : ''} is not supported: ` +
        `use one of ${SASL_MECHANISMS.join(', ')}`,
    );
  }
  const provider = config['sasl.oauthbearer.token.provider'];
  if (provider !== undefined && typeof provider !== 'function') {
    throw new ConfigError('sasl.oauthbearer.token.provider must be a function returning { value, extensions? } (or a promise of it)');
  }
  if (provider !== undefined && mechanism !== 'OAUTHBEARER') {
    throw new ConfigError(`sasl.oauthbearer.token.provider is set but sasl.mechanism=${mechanism}`);
  }
  const jaasText = str(config, 'sasl.jaas.config');
  if (jaasText === undefined) {
    if (mechanism === 'OAUTHBEARER' && provider !== undefined) return { mechanism, tokenProvider: provider as OAuthBearerTokenProvider };
    throw new ConfigError(`security.protocol ${String(config['security.protocol'])} with sasl.mechanism=${mechanism} needs sasl.jaas.config`);
  }
  const jaas = parseJaasConfig(jaasText);
  const wantModule =
    mechanism === 'PLAIN' ? LOGIN_MODULES.plain : mechanism === 'OAUTHBEARER' ? LOGIN_MODULES.oauthbearer : LOGIN_MODULES.scram;
  if (jaas.loginModule !== wantModule) {
    throw new ConfigError(`sasl.mechanism=${mechanism} needs ${wantModule} in sasl.jaas.config, not ${jaas.loginModule}`);
  }
  if (mechanism === 'OAUTHBEARER') {
    if (provider !== undefined) return { mechanism, tokenProvider: provider as OAuthBearerTokenProvider };
    const sub = jaas.options.get('unsecuredLoginStringClaim_sub');
    if (sub === undefined) {
      throw new ConfigError(
        'sasl.mechanism=OAUTHBEARER needs a token: set sasl.oauthbearer.token.provider to a function returning { value }, ' +
          'or (test clusters with the unsecured validator only) unsecuredLoginStringClaim_sub in sasl.jaas.config',
      );
    }
    const lifetimeSeconds = Number(jaas.options.get('unsecuredLoginLifetimeSeconds') ?? 3600);
    const claims: Record<string, string> = {};
    const extensions: Record<string, string> = {};
    for (const [k, v] of jaas.options) {
      if (k.startsWith('unsecuredLoginStringClaim_') && k !== 'unsecuredLoginStringClaim_sub') claims[k.slice(26)] = v;
      if (k.startsWith('unsecuredLoginExtension_')) extensions[k.slice(24)] = v;
    }
    const tokenProvider = (): OAuthBearerToken => ({ value: unsecuredJws({ sub, lifetimeSeconds, claims }), extensions });
    return { mechanism, tokenProvider };
  }
  return {
    mechanism: mechanism as 'PLAIN' | 'SCRAM-SHA-256' | 'SCRAM-SHA-512',
    username: required(jaas.options, 'username', mechanism),
    password: new Secret(required(jaas.options, 'password', mechanism)),
  };
}

/** KafkaJS's sasl option: { mechanism, username, password } | { mechanism: 'oauthbearer', oauthBearerProvider } | custom. */
function kafkaJSSasl(sasl: Record<string, unknown>): SaslSettings {
  if (sasl === null || typeof sasl !== 'object' || typeof sasl.mechanism !== 'string') {
    throw new ConfigError('Invalid sasl option: expected { mechanism, ... }');
  }
  const mechanism = sasl.mechanism.toUpperCase();
  if (typeof sasl.authenticationProvider === 'function') {
    return { mechanism, authenticationProvider: sasl.authenticationProvider as KafkaJSAuthenticationProvider };
  }
  if (mechanism === 'PLAIN' || mechanism === 'SCRAM-SHA-256' || mechanism === 'SCRAM-SHA-512') {
    if (typeof sasl.username !== 'string' || typeof sasl.password !== 'string') {
      throw new ConfigError(`SASL ${mechanism}: sasl.username and sasl.password must be strings`);
    }
    return { mechanism, username: sasl.username, password: new Secret(sasl.password) };
  }
  if (mechanism === 'OAUTHBEARER') {
    if (typeof sasl.oauthBearerProvider !== 'function') {
      throw new ConfigError('SASL OAUTHBEARER: Missing OAuth bearer token provider (sasl.oauthBearerProvider)');
    }
    return { mechanism, tokenProvider: sasl.oauthBearerProvider as OAuthBearerTokenProvider };
  }
  if (mechanism === 'AWS') {
    throw new ConfigError(
      'SASL mechanism "aws" (AWS_MSK_IAM) is not built into kafka-turbo: pass an authenticationProvider for it, or use ' +
        "MSK's SCRAM or OAUTHBEARER listener",
    );
  }
  throw new ConfigError(
    `SASL mechanism ${JSON.stringify(sasl.mechanism)} is not supported: use plain, scram-sha-256, scram-sha-512, oauthbearer, ` +
      'or give an authenticationProvider',
  );
}

export function resolveSecurity(config: Record<string, unknown>): SecuritySettings {
  const kjsSsl = config['kafkajs.ssl'];
  const kjsSasl = config['kafkajs.sasl'];
  const javaKeys = SECURITY_KEYS.filter((k) => !k.startsWith('kafkajs.') && config[k] !== undefined);
  if ((kjsSsl !== undefined || kjsSasl !== undefined) && javaKeys.length > 0) {
    throw new ConfigError(`Use either KafkaJS's ssl/sasl options or the Java keys (${javaKeys.join(', ')}), not both`);
  }
  if (kjsSsl !== undefined || kjsSasl !== undefined) {
    let tlsOptions: tls.ConnectionOptions | null = null;
    if (kjsSsl === true) tlsOptions = {};
    else if (kjsSsl !== null && typeof kjsSsl === 'object') tlsOptions = { ...(kjsSsl as tls.ConnectionOptions) };
    else if (kjsSsl !== undefined && kjsSsl !== false && kjsSsl !== null) throw new ConfigError('Invalid ssl option: expected true or tls.ConnectionOptions');
    return { tls: tlsOptions, sasl: kjsSasl === undefined || kjsSasl === null ? null : kafkaJSSasl(kjsSasl as Record<string, unknown>) };
  }

  const protocol = (str(config, 'security.protocol') ?? 'PLAINTEXT').trim().toUpperCase();
  if (!PROTOCOLS.includes(protocol)) {
    throw new ConfigError(`Invalid value ${JSON.stringify(protocol)} for configuration security.protocol: expected one of ${PROTOCOLS.join(', ')}`);
  }
  const useTls = protocol === 'SSL' || protocol === 'SASL_SSL';
  const useSasl = protocol.startsWith('SASL_');
  for (const k of javaKeys) {
    if (k.startsWith('ssl.') && !useTls) throw new ConfigError(`${k} is set but security.protocol=${protocol} does not use TLS (SSL or SASL_SSL does)`);
    if (k.startsWith('sasl.') && !useSasl) {
      throw new ConfigError(`${k} is set but security.protocol=${protocol} does not use SASL (SASL_PLAINTEXT or SASL_SSL does)`);
    }
  }
  return { tls: useTls ? javaTlsOptions(config) : null, sasl: useSasl ? javaSasl(config) : null };
}
