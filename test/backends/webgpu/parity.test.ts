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
    // Every case ran on the GPU (held to the WGSL-derived bounds) but ggml-numerics attention, which
    // promises ggml's CPU bits (its exp included) and so runs on the CPU by design.
    const onCpu = rows.filter((r) => r.ranOn === 'cpu').map((r) => `${r.op} ${r.numerics}`);
    expect(new Set(onCpu)).toEqual(new Set(['attention ggml']));
  }, 120_000);
});
