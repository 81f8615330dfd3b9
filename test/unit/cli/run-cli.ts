/**
 * Runs the compiled `kafka-turbo` CLI (out/ts/cli/main.js, the build the tests run against) as
 * a user does: a child process, through pipes, or through a pseudo-terminal made by
 * util-linux's `script` (so that stdout is a TTY and the progress line is drawn).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
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
      reject(new Error(`kafka-turbo did not finish in ${opts.timeoutMs ?? 120000} ms; stdout:\n${visible(stdout)}\nstderr:\n${visible(stderr)}`));
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
 * terminal's line discipline does); the exit code is the CLI's (-e).
 *
 * script runs CMD with `$SHELL -c`: bash replaces itself with a lone command, dash stays as its
 * parent, in the terminal's foreground process group, where a typed Ctrl-C signals it too. The
 * `exec` makes the CLI the terminal's session leader under any shell, so that what a Ctrl-C
 * reaches, and the exit status script reports, do not depend on the machine's $SHELL. */
export function runCliInPty(args: string[], opts: CliOptions = {}): Promise<CliRun> {
  const cmd = 'exec ' + [process.execPath, CLI, ...args].map(shellQuote).join(' ');
  const child = spawn('script', ['-q', '-e', '-c', cmd, '/dev/null'], { env: { ...process.env, ...opts.env }, stdio: ['pipe', 'pipe', 'pipe'] });
  return collect(child, opts);
}

/** Terminal output made readable in an assertion message: CR LF as a newline, a lone carriage
 * return and ESC as the two characters backslash-r and backslash-e (raw, a progress line's
 * carriage return would overwrite the very log line that reports it). */
export function visible(s: string): string {
  return s.replace(/\r\n/g, '\n').replace(/\r/g, '\\r').replace(/\x1b/g, '\\e');
}

/** A process as /proc/PID/stat shows it: enough to tell who a terminal's signals reach. */
export interface ProcessInfo {
  pid: number;
  comm: string;
  ppid: number;
  pgrp: number;
  session: number;
  /** The foreground process group of the process's controlling terminal (-1: it has none). */
  tpgid: number;
}

/** Every process now (those that end while being read are left out). */
export function processes(): ProcessInfo[] {
  const list: ProcessInfo[] = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${e}/stat`, 'utf8');
    } catch {
      continue;
    }
    // "pid (comm) state ppid pgrp session tty_nr tpgid ...": comm may hold spaces and parentheses.
    const close = stat.lastIndexOf(')');
    const f = stat.slice(close + 2).split(' ');
    list.push({ pid: Number(e), comm: stat.slice(stat.indexOf('(') + 1, close), ppid: Number(f[1]), pgrp: Number(f[2]), session: Number(f[3]), tpgid: Number(f[5]) });
  }
  return list;
}

/** The processes in the pseudo-terminal's foreground process group (the ones a Ctrl-C typed
 * into it signals), for runCliInPty's child `script` (its child leads the terminal's session). */
export function terminalForeground(scriptPid: number): ProcessInfo[] {
  const all = processes();
  const leader = all.find((p) => p.ppid === scriptPid);
  if (!leader) return [];
  return all.filter((p) => p.session === leader.pid && p.pgrp === leader.tpgid);
}

export const describeProcesses = (list: readonly ProcessInfo[]): string =>
  list.map((p) => `${p.pid} ${p.comm} (group ${p.pgrp}, session ${p.session})`).join('; ') || 'none';

/** Control characters other than newline and tab (what must never reach a pipe). */
export const CONTROL_CHARS = /[\x00-\x08\x0b-\x1f\x7f]/;
