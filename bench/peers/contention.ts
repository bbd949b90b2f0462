/**
 * Timing on a shared machine: beside the median wall time of a call, the
 * process's CPU time per call (all its threads, from process.cpuUsage) and
 * the share of its threads' wall time that was on a CPU. Other processes
 * running on this 2-core machine show up as a share well below 100%; for a
 * 1-thread peer the CPU time per call is then the better estimate of its
 * uncontended time (for a multi-thread peer it also counts pool threads
 * spinning while they wait for work, so it is no such estimate).
 */
import { measure } from '../lib.js';

export interface CpuTimed {
  /** Median wall seconds per call (lib.ts measure). */
  seconds: number;
  /** Process CPU seconds per call, averaged over every call measured (warm-up included). */
  cpuSeconds: number;
  /** cpuSeconds / (mean wall seconds per call · threads): 1 means the threads never waited for a CPU. */
  cpuShare: number;
}

export async function measureWithCpu(
  name: string,
  fn: () => void | Promise<void>,
  threads: number,
  timeMs: number,
): Promise<CpuTimed> {
  let calls = 0;
  const counted = () => {
    calls++;
    return fn();
  };
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const [m] = await measure([{ name, fn: counted }], timeMs);
  const wall = (performance.now() - t0) / 1e3;
  const cpu = process.cpuUsage(cpu0);
  const cpuSeconds = (cpu.user + cpu.system) / 1e6 / calls;
  return { seconds: m.seconds, cpuSeconds, cpuShare: cpuSeconds / ((wall / calls) * threads) };
}
