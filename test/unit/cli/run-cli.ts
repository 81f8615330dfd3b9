/**
 * Runs the compiled `kafka-turbo` CLI (out/ts/cli/main.js, the build the tests run against) as
 * a user does: a child process, through pipes, or through a pseudo-terminal made by
 * util-linux's `script` (so that stdout is a TTY and the progress line is drawn).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';

export const CLI = join(__dirname, '..', '..', '..', 'ts', 'cli', 'main.js');

export interface CliRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  input?: string;
  /** Leave stdin open for onSpawn to write to (and end it when the child ends). */
  keepStdinOpen?: boolean;
  env?: NodeJS.ProcessEnv;
  timeoutMs?: number;
  /** Called with the child once it runs (to signal it, or watch its output). */
  onSpawn?: (child: ChildProcess, output: { stdout: () => string; stderr: () => string }) => void;
}

function collect(child: ChildProcess, opts: CliOptions): Promise<CliRun> {
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (b: Buffer) => (stdout += b.toString()));
  child.stderr!.on('data', (b: Buffer) => (stderr += b.toString()));
  opts.onSpawn?.(child, { stdout: () => stdout, stderr: () => stderr });
  if (opts.input !== undefined) child.stdin!.end(opts.input);
  else if (!opts.keepStdinOpen) child.stdin!.end();
  child.stdin!.on('error', () => undefined); // written to after the child ended
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`kafka-turbo did not finish in ${opts.timeoutMs ?? 120000} ms; stdout:\n${stdout}\nstderr:\n${stderr}`));
    }, opts.timeoutMs ?? 120000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      child.stdin!.destroy();
      resolve({ code, signal, stdout, stderr });
    });
  });
}

/** Through pipes: stdin, stdout and stderr are not terminals. */
export function runCli(args: string[], opts: CliOptions = {}): Promise<CliRun> {
  const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, ...opts.env }, stdio: ['pipe', 'pipe', 'pipe'] });
  return collect(child, opts);
}

const shellQuote = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

/** Through a pseudo-terminal (`script -q -e -c CMD /dev/null`): the CLI's stdin, stdout and
 * stderr are the terminal; what it wrote comes back on script's stdout (with \n as \r\n, as a
 * terminal's line discipline does); the exit code is the CLI's (-e). */
export function runCliInPty(args: string[], opts: CliOptions = {}): Promise<CliRun> {
  const cmd = [process.execPath, CLI, ...args].map(shellQuote).join(' ');
  const child = spawn('script', ['-q', '-e', '-c', cmd, '/dev/null'], { env: { ...process.env, ...opts.env }, stdio: ['pipe', 'pipe', 'pipe'] });
  return collect(child, opts);
}

/** Terminal output made readable in an assertion message: CR LF as a newline, a lone carriage
 * return and ESC as the two characters backslash-r and backslash-e (raw, a progress line's
 * carriage return would overwrite the very log line that reports it). */
export function visible(s: string): string {
  return s.replace(/\r\n/g, '\n').replace(/\r/g, '\\r').replace(/\x1b/g, '\\e');
}

/** Control characters other than newline and tab (what must never reach a pipe). */
export const CONTROL_CHARS = /[\x00-\x08\x0b-\x1f\x7f]/;
