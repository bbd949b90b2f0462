/** The parity matrix (plumbline parity) on the WebGPU engine: every row within its tier of the float64 reference. */
import { describe, expect, it } from 'vitest';
import { PARITY_OPS, parityMatrix } from '../../../src/oracle/parity-matrix.js';
import { webgpuEngine } from '../../helpers/webgpu.js';

const gpu = await webgpuEngine();
const gpuF16 = await webgpuEngine({ matmulPrecision: 'f16' });

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

describe.skipIf(!gpuF16)('parity matrix on webgpu with f16 matmul operands', () => {
  it('matmul rows are webgpu-f16, at the f16 tier where the f32 kernels ran (q8 where ggml quantizes), all passing', async () => {
    const rows = await parityMatrix(gpuF16!, { ops: ['matmul'] });
    expect(rows.every((r) => r.backend === 'webgpu-f16' && r.ranOn === 'webgpu')).toBe(true);
    const failing = rows
      .filter((r) => !r.pass)
      .map((r) => `${r.dtype} ${r.shape} ${r.numerics}: ${r.reason}`);
    expect(failing).toEqual([]);
    for (const r of rows) {
      const q8 = r.numerics === 'ggml' && !['f32', 'f16', 'bf16'].includes(r.dtype);
      expect(r.tier, `${r.dtype} ${r.numerics}`).toBe(q8 ? 'q8' : 'f16');
    }
  }, 120_000);
});
