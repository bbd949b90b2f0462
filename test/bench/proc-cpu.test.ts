/**
 * The browser bench's CPU clock (bench/proc-cpu.ts): a grandchild that burns
 * a known amount of CPU (its own process.cpuUsage) is counted through its
 * parent, and only the children the filter picks are counted.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { describe, expect, it } from 'vitest';
import { descendantsCpuSeconds, haveProcCpu } from '../../bench/proc-cpu.js';

const BURN_SECONDS = 0.3;
const MARKER = 'plumbline-proc-cpu-probe';

// Burns BURN_SECONDS of its own CPU, says so, then waits for its stdin to close.
const burner = `const s = () => { const c = process.cpuUsage(); return (c.user + c.system) / 1e6; };
while (s() < ${BURN_SECONDS});
console.log('burnt');
process.stdin.resume().on('end', () => process.exit());`;

describe.runIf(haveProcCpu)('descendantsCpuSeconds', () => {
  it('counts the CPU of a matching child and its descendants, and nothing else', async () => {
    // sh → node (`; true`: the shell stays, not exec'd away): the burner is a grandchild.
    const child = spawn('/bin/sh', ['-c', `"${process.execPath}" -e "$0" ${MARKER}; true`, burner], {
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    try {
      const [line] = (await once(child.stdout!, 'data')) as [Buffer];
      expect(line.toString().trim()).toBe('burnt');
      const seconds = descendantsCpuSeconds((cmd) => cmd.includes(MARKER));
      // At least the burn (to the 10 ms tick); node's own start-up adds a little, never seconds.
      expect(seconds).toBeGreaterThanOrEqual(BURN_SECONDS - 0.01);
      expect(seconds).toBeLessThan(BURN_SECONDS + 2);
      expect(descendantsCpuSeconds(() => false)).toBe(0);
    } finally {
      child.stdin!.end();
      await once(child, 'exit');
    }
  });
});
