import { describe, expect, it } from 'vitest';
import { bf16ToF32, f16ToF32, f32ToBf16, f32ToBits, f32ToF16 } from '../../src/types/half.js';
import {
  arrayBytes,
  arrayF32,
  arrayU16,
  conformanceAvailable,
  loadManifest,
} from '../helpers/conformance.js';

const have = conformanceAvailable();

describe.skipIf(!have)('f16/bf16 scalar conversions against ggml (f16_bf16_special.bin)', () => {
  const m = have ? loadManifest().f16_bf16_special : undefined;

  it('f16 → f32 matches ggml_fp16_to_fp32_row for all 65536 patterns', () => {
    const want = new Uint32Array(arrayBytes(m!.file, m!.f16_all_to_f32).buffer);
    for (let h = 0; h < 65536; h++) {
      const got = f32ToBits(f16ToF32(h));
      if (got !== want[h]) {
        expect.fail(`f16 0x${h.toString(16)}: expected 0x${want[h].toString(16)}, got 0x${got.toString(16)}`);
      }
    }
  });

  for (const group of ['edge', 'random_bits'] as const) {
    it(`f32 → f16 and f32 → bf16 match ggml (${group})`, () => {
      const arrays = m![group].arrays;
      const input = arrayF32(m!.file, arrays.input_f32);
      const fp16 = arrayU16(m!.file, arrays.fp16_row);
      const bf16 = arrayU16(m!.file, arrays.bf16_row_ref);
      for (let i = 0; i < input.length; i++) {
        const label = group === 'edge' ? m!.labels[i] : `#${i}`;
        const x = input[i];
        expect(f32ToF16(x), `f16 of ${label} (0x${f32ToBits(x).toString(16)})`).toBe(fp16[i]);
        expect(f32ToBf16(x), `bf16 of ${label} (0x${f32ToBits(x).toString(16)})`).toBe(bf16[i]);
      }
    });
  }

  it('bf16 → f32 is the upper half of the f32 bits', () => {
    expect(bf16ToF32(0x3f80)).toBe(1);
    // A quiet NaN keeps its payload (a JS number cannot carry a signaling NaN, so bit-exact paths use bits).
    expect(f32ToBits(bf16ToF32(0xffc1))).toBe(0xffc10000);
  });
});
