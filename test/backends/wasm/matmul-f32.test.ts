/**
 * f32 GEMM / GEMV (assembly/matmul/f32.ts) against the float64 reference, on
 * the build this runtime loads and, in a child process started with
 * --experimental-wasm-relaxed-simd, on the relaxed-SIMD build (whose
 * relaxed_madd may be fused, so it is held to the same bound, not to the
 * plain build's bits). The checks and their bound: matmul-f32-checks.ts.
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  f32ScratchBytes,
  matmulF32,
  packWeights,
  packWeightsAt,
} from '../../../src/backends/wasm/matmul-f32.js';
import { compileKernels, WasmRuntime } from '../../../src/backends/wasm/module.js';
import { ShapeError, SizeError, UnsupportedTypeError } from '../../../src/errors.js';
import {
  checkDeterminism,
  checkHalfWeights,
  checkLayout,
  checkShapes,
  checkSpecialValues,
  values,
} from './matmul-f32-checks.js';

let rt: WasmRuntime;
beforeAll(async () => {
  rt = await WasmRuntime.create(await compileKernels(['wasm-simd']));
});

describe('f32 matmul, SIMD128 build', () => {
  it('packs weights into K-major panels of 8 output features, zero-padded', () => {
    expect(checkLayout(rt)).toEqual([]);
  });

  it('every element within γ(K)·Σ|x||w| of the float64 reference, ragged and blocked shapes, GEMV and GEMM', () => {
    const { failures, cases } = checkShapes(rt);
    expect(failures).toEqual([]);
    expect(cases).toBeGreaterThan(1000);
  });

  it('f16 and bf16 weights: exact conversion while packing, product within the bound', () => {
    expect(checkHalfWeights(rt)).toEqual([]);
  });

  it('zeros, K = 0, overflow to ±inf, inf − inf, NaN rows and columns', () => {
    expect(checkSpecialValues(rt)).toEqual([]);
  });

  it('bit-identical for every split of N into 1..4 ranges, and GEMV rows equal GEMM rows', () => {
    const { failures, splits } = checkDeterminism(rt);
    expect(failures).toEqual([]);
    expect(splits).toBeGreaterThan(30);
  });
});

describe('f32 matmul, relaxed-SIMD build (child process)', () => {
  it('passes the same checks with f32x4.relaxed_madd', () => {
    const script = fileURLToPath(new URL('./matmul-f32-relaxed.mts', import.meta.url));
    const out = execFileSync(
      process.execPath,
      ['--experimental-wasm-relaxed-simd', '--import', 'tsx', script],
      {
        encoding: 'utf8',
      },
    );
    const report = JSON.parse(out) as { build: string; failures: Record<string, string[]>; cases: number };
    expect(report.build).toBe('wasm-relaxed-simd');
    expect(report.failures).toEqual({ layout: [], shapes: [], half: [], special: [], determinism: [] });
    expect(report.cases).toBeGreaterThan(1000);
  });
});

describe('f32 matmul wrapper: typed errors before any work', () => {
  it('rejects bad shapes, ranges, sizes and types', () => {
    const w = packWeights(rt, 'f32', values(20 * 8, 1), 20, 8);
    const x = rt.arena.alloc(4 * 8 * 4);
    const y = rt.arena.alloc(4 * 20 * 4);
    expect(() => matmulF32(rt, x, w, y, 4, 4, 20)).toThrow(ShapeError); // n0 not on a panel
    expect(() => matmulF32(rt, x, w, y, 4, 0, 12)).toThrow(ShapeError); // n1 not on a panel, not N
    expect(() => matmulF32(rt, x, w, y, 4, 16, 8)).toThrow(ShapeError);
    expect(() => matmulF32(rt, x, w, y, 4, 0, 24)).toThrow(ShapeError);
    expect(() => matmulF32(rt, x, w, y, -1)).toThrow(ShapeError);
    expect(() => matmulF32(rt, x, w, y, 1.5)).toThrow(ShapeError);
    expect(() => matmulF32(rt, rt.memory.buffer.byteLength - 16, w, y, 4)).toThrow(SizeError);
    expect(() => matmulF32(rt, x + 2, w, y, 4)).toThrow(SizeError);
    matmulF32(rt, x, w, y, 4, 8, 20); // a valid range ending at N
    // Scratch: none for GEMV; a GEMM's must lie in memory and be 16-byte aligned.
    expect(f32ScratchBytes(rt, 4, 8)).toBe(0);
    expect(f32ScratchBytes(rt, 5, 8)).toBe(4 * 8 * 4);
    expect(f32ScratchBytes(rt, 4096, 4096)).toBe(256 * 1024);
    const x5 = rt.arena.alloc(5 * 8 * 4);
    const y5 = rt.arena.alloc(5 * 20 * 4);
    expect(() => matmulF32(rt, x5, w, y5, 5, 0, 20, y5 + 4)).toThrow(SizeError);
    expect(() => matmulF32(rt, x5, w, y5, 5, 0, 20, rt.memory.buffer.byteLength - 16)).toThrow(SizeError);
    expect(() => packWeights(rt, 'f16', new Uint8Array(10), 20, 8)).toThrow(SizeError);
    expect(() => packWeights(rt, 'q4_0' as 'f32', new Uint8Array(10), 20, 8)).toThrow(UnsupportedTypeError);
    expect(() => packWeightsAt(rt, 'f32', rt.memory.buffer.byteLength, 20, 8)).toThrow(SizeError);
    w.dispose();
    expect(w.disposed).toBe(true);
    expect(() => matmulF32(rt, x, w, y, 4)).toThrow(ShapeError);
    w.dispose(); // idempotent
    rt.arena.release(y5);
    rt.arena.release(x5);
    rt.arena.release(y);
    rt.arena.release(x);
  });
});
