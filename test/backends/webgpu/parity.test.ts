/** The parity matrix (plumbline parity) on the WebGPU engine: every row within its tier of the float64 reference. */
import { describe, expect, it } from 'vitest';
import { PARITY_OPS, parityMatrix } from '../../../src/oracle/parity-matrix.js';
import { webgpuEngine } from '../../helpers/webgpu.js';

const gpu = await webgpuEngine();

describe.skipIf(!gpu)('parity matrix on webgpu', () => {
  it('every row passes, every op covered', async () => {
    const rows = await parityMatrix(gpu!);
    const failing = rows.filter((r) => !r.pass).map((r) => `${r.op} ${r.dtype} ${r.shape}: ${r.reason}`);
    expect(failing).toEqual([]);
    expect(new Set(rows.map((r) => r.op))).toEqual(new Set(PARITY_OPS));
    expect(rows.every((r) => r.backend === 'webgpu')).toBe(true);
  }, 120_000);
});
