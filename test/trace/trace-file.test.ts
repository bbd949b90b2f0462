import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { writeSafetensors } from '../../src/formats/safetensors/writer.js';
import { NotATraceError, TraceFormatError, TraceNameError } from '../../src/trace/errors.js';
import { encodeTrace, readTrace, TRACE_FORMAT, TraceRecorder } from '../../src/trace/trace-file.js';
import { TINY_META } from '../helpers/tiny-trace.js';

const dir = await mkdtemp(join(tmpdir(), 'plumbline-trace-'));
afterAll(() => rm(dir, { recursive: true, force: true }));

describe('trace files', () => {
  it('round-trips metadata and stages, in computation order', async () => {
    const bytes = encodeTrace(
      [
        { name: 'logits', shape: [2, 3], data: new Float32Array([1, 2, 3, 4, 5, 6]) },
        { name: 'blk.0.attn_norm', shape: [2, 2], data: new Float64Array([0.1, 0.2, 0.3, 0.4]) },
        {
          name: 'embedding',
          shape: [2, 2],
          data: new Uint16Array([0x3c00, 0x4000, 0xbc00, 0]),
          dtype: 'F16',
        },
      ],
      { ...TINY_META, extra: { note: 'hand-made' } },
    );
    const t = await readTrace(bytes);
    expect(t.metadata.format).toBe(TRACE_FORMAT);
    expect(t.metadata.tokens).toEqual(TINY_META.tokens);
    expect(t.metadata.model).toBe(TINY_META.model);
    expect(t.metadata.raw.get('note')).toBe('hand-made');
    expect(t.stages.map((s) => s.name)).toEqual(['embedding', 'blk.0.attn_norm', 'logits']);
    expect(t.stages[1]).toMatchObject({ layer: 0, stage: 'attn_norm', dtype: 'F64' });
    expect([...(await t.read('embedding'))]).toEqual([1, 2, -1, 0]);
    const f64 = await t.read('blk.0.attn_norm');
    expect(f64).toBeInstanceOf(Float64Array);
    expect([...f64]).toEqual([0.1, 0.2, 0.3, 0.4]);
    expect(t.unknown).toEqual([]);
    await t.close();
  });

  it('records stages during a capture, copying them, and writes a file', async () => {
    const rec = new TraceRecorder(TINY_META, ['embedding', 'blk.0.q_proj']);
    const buf = new Float32Array([1, 2, 3, 4]);
    expect(rec.wants('blk.0.k_proj')).toBe(false);
    rec.record('blk.0.q_proj', [2, 2], buf);
    rec.record('blk.0.k_proj', [2, 2], buf); // outside the plan: ignored
    buf.fill(0); // the engine reuses its buffer
    rec.record('embedding', [1, 4], buf);
    expect(() => rec.record('embedding', [1, 4], buf)).toThrow(TraceNameError);
    expect(() => rec.record('blk.0.q_proj.out', [1, 4], buf)).toThrow(TraceNameError);
    expect(() => new TraceRecorder(TINY_META).record('logits', [3], buf)).toThrow(/needs 3 values, got 4/);
    const path = join(dir, 'rec.safetensors');
    await rec.write(path);
    const t = await readTrace(path);
    expect(t.stages.map((s) => s.name)).toEqual(['embedding', 'blk.0.q_proj']);
    expect([...(await t.read('blk.0.q_proj'))]).toEqual([1, 2, 3, 4]);
    await t.close();
  });

  it('refuses to write names that are not canonical, and bad metadata', () => {
    const data = new Float32Array(1);
    expect(() => encodeTrace([{ name: 'model.norm', shape: [1], data }], TINY_META)).toThrow(TraceNameError);
    expect(() => encodeTrace([{ name: 'logits', shape: [1], data }], { ...TINY_META, model: 'abc' })).toThrow(
      TraceFormatError,
    );
    expect(() =>
      encodeTrace([{ name: 'logits', shape: [1], data }], { ...TINY_META, tokens: [1.5] as number[] }),
    ).toThrow(TraceFormatError);
  });

  it('says when a file is not a plumbline trace', async () => {
    const plain = writeSafetensors([{ name: 'x', dtype: 'F32', shape: [1], data: new Float32Array(1) }]);
    await expect(readTrace(plain)).rejects.toThrow(NotATraceError);
    const other = writeSafetensors([], { format: 'pt' });
    await expect(readTrace(other)).rejects.toThrow(/not a plumbline trace: format "pt"/);
    const future = writeSafetensors([], { format: 'plumbline-trace/9' });
    await expect(readTrace(future)).rejects.toThrow(/unsupported trace format/);
    const badTokens = writeSafetensors([], { format: TRACE_FORMAT, tokens: '[1, "a"]' });
    await expect(readTrace(badTokens)).rejects.toThrow(TraceFormatError);
  });

  it('lists unknown names instead of dropping them', async () => {
    const bytes = writeSafetensors(
      [
        { name: 'logits', dtype: 'F32', shape: [1], data: new Float32Array(1) },
        { name: 'blk.0.mystery', dtype: 'F32', shape: [2], data: new Float32Array(2) },
      ],
      { format: TRACE_FORMAT },
    );
    const t = await readTrace(bytes);
    expect(t.stages.map((s) => s.name)).toEqual(['logits']);
    expect(t.unknown.map((s) => s.name)).toEqual(['blk.0.mystery']);
    expect(t.unknown[0]).toMatchObject({ layer: null, stage: null });
    await t.close();
  });
});
