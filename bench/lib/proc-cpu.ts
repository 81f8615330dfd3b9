/**
 * CPU time of another process, read from /proc: what the peers bench charges to a client (the
 * whole process, every thread: librdkafka's and the JVM's included) and to the broker JVM over
 * the timed part of a run, sampled by the parent at the moments the child says its timed part
 * starts and ends. process.cpuUsage() cannot do this: it sees only the calling process, and a
 * JVM child has no such call.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

let ticksPerSecond = 0;

/** sysconf(_SC_CLK_TCK): the unit of utime/stime in /proc/PID/stat (100 on Linux/x86 in practice). */
function clockTicks(): number {
  if (ticksPerSecond === 0) {
    try {
      ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      ticksPerSecond = 100;
    }
  }
  return ticksPerSecond;
}

/**
 * User + system CPU seconds used so far by process `pid`, all its threads, the ones that
 * already exited included (the kernel folds them into the process's counters). Throws when the
 * process is gone: a sample of a dead process would silently read as zero.
 */
export function processCpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) is in parentheses and may itself contain spaces or ')': the
  // fields after the last ')' are fixed. utime and stime are fields 14 and 15 of the line.
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const utime = Number(rest[11]);
  const stime = Number(rest[12]);
  if (!Number.isFinite(utime) || !Number.isFinite(stime)) throw new Error(`unreadable /proc/${pid}/stat: ${stat.slice(0, 120)}`);
  return (utime + stime) / clockTicks();
}

/** The sum of processCpuSeconds over several processes (the brokers of a cluster). */
export function totalCpuSeconds(pids: readonly number[]): number {
  let sum = 0;
  for (const pid of pids) sum += processCpuSeconds(pid);
  return sum;
}
