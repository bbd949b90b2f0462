/**
 * CPU seconds of this process's child processes and their descendants, from
 * /proc (Linux): what a browser that playwright started (a child of this
 * process) spent, every process and thread of it. Node's process.cpuUsage
 * sees only its own threads.
 */
import { readdirSync, readFileSync } from 'node:fs';

/** USER_HZ: /proc/<pid>/stat counts CPU time in these ticks; 100 on every Linux ABI Node runs on. */
const TICKS_PER_SECOND = 100;

interface Stat {
  ppid: number;
  ticks: number;
}

function stat(pid: number): Stat | undefined {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name, which is in parentheses and may hold spaces.
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    // f[0] is field 3 (state): ppid is field 4, utime 14, stime 15.
    return { ppid: Number(f[1]), ticks: Number(f[11]) + Number(f[12]) };
  } catch {
    return undefined; // exited while we looked
  }
}

/** Whether /proc can be read here (Linux): stat returns undefined where it cannot. */
export const haveProcCpu = stat(process.pid) !== undefined;

/**
 * CPU seconds (user + system) of every living descendant of this process
 * whose command line matches `match` (and of theirs).
 */
export function descendantsCpuSeconds(match: (cmdline: string) => boolean): number {
  const stats = new Map<number, Stat>();
  for (const name of readdirSync('/proc')) {
    const pid = Number(name);
    if (!Number.isInteger(pid)) continue;
    const s = stat(pid);
    if (s) stats.set(pid, s);
  }
  const children = new Map<number, number[]>();
  for (const [pid, s] of stats) children.set(s.ppid, [...(children.get(s.ppid) ?? []), pid]);
  let ticks = 0;
  const visit = (pid: number) => {
    ticks += stats.get(pid)?.ticks ?? 0;
    for (const c of children.get(pid) ?? []) visit(c);
  };
  for (const pid of children.get(process.pid) ?? []) {
    let cmdline = '';
    try {
      cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    } catch {}
    if (match(cmdline)) visit(pid);
  }
  return ticks / TICKS_PER_SECOND;
}
