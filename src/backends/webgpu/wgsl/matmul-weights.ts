/**
 * The weight decoders of the f32 matmul kernels (WeightCode, matmul-f32.ts):
 * W[n, k] as its exact f32 value, for each weight type a kernel reads in place.
 */
import { F32_WEIGHTS, type WeightCode } from './matmul-f32.js';

const CODES: Record<string, WeightCode> = {
  f32: F32_WEIGHTS,
};

/** The decoder of a weight type, or undefined where the kernels do not read it in place. */
export function weightCode(type: string): WeightCode | undefined {
  return CODES[type];
}
