/**
 * `sasl.jaas.config` as the Java client reads it (Kafka's JaasConfig, a StreamTokenizer over
 * the text): exactly one login module,
 *
 *   <LoginModuleClass> <required|requisite|sufficient|optional> [<key>=<value>]* ;
 *
 * where a value is a double-quoted string (backslash escapes the next character) or a bare
 * word. `/* *\/` and `//` comments are skipped, as StreamTokenizer does.
 *
 * Errors never quote the text: it holds the password. They say where (character offset) and
 * what was expected.
 */
import { ConfigError } from '../../errors.js';

export interface JaasModule {
  loginModule: string;
  controlFlag: string;
  options: Map<string, string>;
}

const FLAGS = new Set(['required', 'requisite', 'sufficient', 'optional']);
const WORD = /[A-Za-z0-9_.$\-]/;

type Token = { kind: 'word' | 'string' | 'punct'; text: string; at: number };

function tokenize(src: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  const bad = (what: string): never => {
    throw new ConfigError(`Invalid sasl.jaas.config: ${what} at character ${i}`);
  };
  while (i < src.length) {
    const c = src[i]!;
    if (/\s/.test(c)) {
      i++;
    } else if (src.startsWith('//', i)) {
      while (i < src.length && src[i] !== '\n') i++;
    } else if (src.startsWith('/*', i)) {
      const end = src.indexOf('*/', i + 2);
      if (end < 0) bad('unterminated comment');
      i = end + 2;
    } else if (c === '"') {
      const at = i++;
      let s = '';
      for (;;) {
        if (i >= src.length) bad('unterminated quoted value');
        const ch = src[i++]!;
        if (ch === '"') break;
        if (ch === '\\' && i < src.length) s += src[i++]!;
        else s += ch;
      }
      out.push({ kind: 'string', text: s, at });
    } else if (c === '=' || c === ';') {
      out.push({ kind: 'punct', text: c, at: i++ });
    } else if (WORD.test(c)) {
      const at = i;
      while (i < src.length && WORD.test(src[i]!)) i++;
      out.push({ kind: 'word', text: src.slice(at, i), at });
    } else {
      bad('unexpected character');
    }
  }
  return out;
}

/** Parses a sasl.jaas.config value; throws ConfigError unless it is exactly one login module. */
export function parseJaasConfig(text: string): JaasModule {
  const tokens = tokenize(text);
  const modules: JaasModule[] = [];
  let i = 0;
  const fail = (what: string, t: Token | undefined): never => {
    throw new ConfigError(`Invalid sasl.jaas.config: expected ${what} ${t ? `at character ${t.at}` : 'at the end'}`);
  };
  while (i < tokens.length) {
    const mod = tokens[i++];
    if (mod?.kind !== 'word') fail('a login module class name', mod);
    const flag = tokens[i++];
    if (flag?.kind !== 'word' || !FLAGS.has(flag.text.toLowerCase())) fail('a control flag (required, requisite, sufficient or optional)', flag);
    const options = new Map<string, string>();
    for (;;) {
      const t = tokens[i++];
      if (t?.kind === 'punct' && t.text === ';') break;
      if (t?.kind !== 'word') fail('an option name or ";"', t);
      const eq = tokens[i++];
      if (eq?.kind !== 'punct' || eq.text !== '=') fail(`"=" after option ${t!.text}`, eq);
      const v = tokens[i++];
      if (v === undefined || v.kind === 'punct') fail(`a value for option ${t!.text}`, v);
      options.set(t!.text, v!.text);
    }
    modules.push({ loginModule: mod!.text, controlFlag: flag!.text.toLowerCase(), options });
  }
  if (modules.length !== 1) {
    throw new ConfigError(`Invalid sasl.jaas.config: it holds ${modules.length} login modules; the client takes exactly 1`);
  }
  return modules[0]!;
}

export const LOGIN_MODULES = {
  plain: 'org.apache.kafka.common.security.plain.PlainLoginModule',
  scram: 'org.apache.kafka.common.security.scram.ScramLoginModule',
  oauthbearer: 'org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule',
} as const;
