/**
 * Command-line parsing for kafka-turbo's commands, on node:util's parseArgs, plus the two
 * things parseArgs cannot do and kafka-producer-perf-test's command line needs:
 *   - `--throughput -1`: parseArgs takes a value that starts with a dash as a missing value, so
 *     a negative number after a string option is joined to it first (`--throughput=-1`);
 *   - `--producer-props k=v k=v ...` (argparse4j's nargs "+"): the positionals that follow a
 *     multi-value option belong to it; any other positional is an error.
 * Every mistake is a UsageError naming the flag (the CLI exits with EXIT_USAGE for it).
 */
import { readFileSync } from 'node:fs';
import { parseArgs, type ParseArgsConfig } from 'node:util';

export class UsageError extends Error {
  override name = 'UsageError';
}

export interface OptionSpec {
  type: 'string' | 'boolean';
  /** Takes several values: repeated (`--header a=1 --header b=2`) or, when `nargs` is set,
   * followed by several words (`--producer-props a=1 b=2`). */
  multiple?: boolean;
  nargs?: boolean;
  short?: string;
}

export type Parsed = Record<string, string | boolean | string[] | undefined>;

/** Parses argv (after the command word) against the options; throws UsageError. */
export function parseCommandLine(command: string, argv: readonly string[], options: Record<string, OptionSpec>): Parsed {
  const args: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const name = a.startsWith('--') ? a.slice(2) : null;
    const next = argv[i + 1];
    if (name && options[name]?.type === 'string' && next !== undefined && /^-\d/.test(next)) {
      args.push(`${a}=${next}`);
      i++;
    } else args.push(a);
  }
  const config: ParseArgsConfig = {
    args,
    strict: true,
    allowPositionals: true,
    tokens: true,
    options: Object.fromEntries(
      Object.entries(options).map(([k, o]) => [k, { type: o.type, ...(o.multiple ? { multiple: true } : {}), ...(o.short ? { short: o.short } : {}) }]),
    ),
  };
  let result;
  try {
    result = parseArgs(config);
  } catch (e) {
    const err = e as Error & { code?: string };
    if (typeof err.code === 'string' && err.code.startsWith('ERR_PARSE_ARGS')) {
      // parseArgs' own messages name the flag; cut the advice about positionals, which would mislead here.
      throw new UsageError(`kafka-turbo ${command}: ${err.message.split('\n')[0]!.replace(/ To specify a positional.*$/, '')}`);
    }
    throw e;
  }
  const values: Parsed = { ...(result.values as Parsed) };
  // Positionals after an nargs option are more of its values.
  let owner: string | null = null;
  for (const t of result.tokens ?? []) {
    if (t.kind === 'option') owner = options[t.name]?.nargs ? t.name : null;
    else if (t.kind === 'positional') {
      if (!owner) throw new UsageError(`kafka-turbo ${command}: unexpected argument ${JSON.stringify(t.value)}`);
      (values[owner] as string[]).push(t.value);
    } else owner = null; // '--' ends it
  }
  return values;
}

export function str(v: Parsed, name: string): string | undefined {
  const x = v[name];
  return typeof x === 'string' ? x : undefined;
}

export function list(v: Parsed, name: string): string[] {
  const x = v[name];
  return Array.isArray(x) ? x : [];
}

export function required(command: string, v: Parsed, name: string): string {
  const x = str(v, name);
  if (x === undefined || x === '') throw new UsageError(`kafka-turbo ${command}: --${name} is required`);
  return x;
}

/** An integer flag within [min, max]; undefined when absent. */
export function int(command: string, v: Parsed, name: string, min: number, max = Number.MAX_SAFE_INTEGER): number | undefined {
  const x = str(v, name);
  if (x === undefined) return undefined;
  const n = /^-?\d+$/.test(x.trim()) ? Number(x) : NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    throw new UsageError(`kafka-turbo ${command}: --${name} must be an integer ${max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `from ${min} to ${max}`}, not ${JSON.stringify(x)}`);
  }
  return n;
}

/** A number flag (decimals allowed); undefined when absent. */
export function num(command: string, v: Parsed, name: string): number | undefined {
  const x = str(v, name);
  if (x === undefined) return undefined;
  const n = x.trim() === '' ? NaN : Number(x);
  if (!Number.isFinite(n)) throw new UsageError(`kafka-turbo ${command}: --${name} must be a number, not ${JSON.stringify(x)}`);
  return n;
}

/** `k=v` words (split at the first '=', so values may hold '=', as sasl.jaas.config does). */
export function keyValues(command: string, flag: string, words: readonly string[]): [string, string][] {
  return words.map((w) => {
    const at = w.indexOf('=');
    if (at <= 0) throw new UsageError(`kafka-turbo ${command}: --${flag} takes key=value, not ${JSON.stringify(w)}`);
    return [w.slice(0, at), w.slice(at + 1)];
  });
}

/**
 * A Java .properties file as java.util.Properties.load reads the usual ones: `key=value`,
 * `key: value` or `key value`, `#` and `!` comments, a trailing backslash continues the line,
 * `\t \n \r \f \\ \uXXXX` escapes.
 */
export function parseProperties(text: string): Map<string, string> {
  const out = new Map<string, string>();
  const lines = text.split(/\r\n|\r|\n/);
  for (let i = 0; i < lines.length; i++) {
    let line = lines[i]!.replace(/^[ \t\f]+/, '');
    if (line === '' || line.startsWith('#') || line.startsWith('!')) continue;
    // An odd number of trailing backslashes continues the logical line.
    while (/(^|[^\\])(\\\\)*\\$/.test(line) && i + 1 < lines.length) {
      line = line.slice(0, -1) + lines[++i]!.replace(/^[ \t\f]+/, '');
    }
    let k = 0;
    while (k < line.length && !/[=: \t\f]/.test(line[k]!)) k += line[k] === '\\' ? 2 : 1;
    const key = line.slice(0, k);
    let rest = line.slice(k).replace(/^[ \t\f]*/, '');
    if (rest.startsWith('=') || rest.startsWith(':')) rest = rest.slice(1).replace(/^[ \t\f]*/, '');
    out.set(unescape(key), unescape(rest));
  }
  return out;
}

function unescape(s: string): string {
  return s.replace(/\\(u[0-9a-fA-F]{4}|.)/g, (_m, c: string) => {
    if (c.length === 5) return String.fromCharCode(parseInt(c.slice(1), 16));
    return ({ t: '\t', n: '\n', r: '\r', f: '\f' } as Record<string, string>)[c] ?? c;
  });
}

export function readPropertiesFile(command: string, flag: string, file: string): Map<string, string> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new UsageError(`kafka-turbo ${command}: --${flag} ${file}: ${(e as Error).message}`);
  }
  return parseProperties(text);
}
