import { describe, expect, it } from 'vitest';
import { type DiffResult, diff } from '../../src/oracle/diff.js';
import { diffToJson, finiteJson, formatDiff } from '../../src/oracle/diff-report.js';
import { encodeTrace } from '../../src/trace/trace-file.js';
import { bf16ToF32, f32ToBf16 } from '../../src/types/half.js';
import { type Stage, TINY, TINY_META, tinyForward, traceBytes } from '../helpers/tiny-trace.js';

const reference = tinyForward();
const refBytes = traceBytes(reference);

type Fault = [name: string, apply: (d: Float64Array) => void];

/** A candidate computed with faults planted at stages (later stages read the faulty values). */
function faulty(faults: Fault[]): Uint8Array {
  const byName = new Map(faults);
  return traceBytes(
    tinyForward(TINY, undefined, (name, d) => byName.get(name)?.(d)),
    { f32: true },
  );
}

/** Scales one element (the last: always an unmasked, used position) by 1 + rel. */
const scaleLast =
  (rel: number) =>
  (d: Float64Array): void => {
    d[d.length - 1] *= 1 + rel;
  };

function row(r: DiffResult, name: string) {
  const s = r.stages.find((x) => x.name === name);
  if (!s) throw new Error(`no row ${name}`);
  return s;
}

describe('diff: planted faults', () => {
  const cases: { faults: Fault[]; first: string }[] = [
    { faults: [['embedding', scaleLast(1e-4)]], first: 'embedding' },
    { faults: [['blk.0.q_proj', scaleLast(1e-4)]], first: 'blk.0.q_proj' },
    { faults: [['blk.1.attn_softmax', (d) => void (d[d.length - 2] += 1e-5)]], first: 'blk.1.attn_softmax' },
    {
      faults: [
        ['blk.2.ffn_swiglu', scaleLast(1e-3)],
        ['blk.0.attn_out', scaleLast(1e-4)],
      ],
      first: 'blk.0.attn_out',
    },
    {
      faults: [
        ['blk.1.k_post_rope', scaleLast(3e-5)],
        ['blk.2.layer_output', scaleLast(1e-2)],
      ],
      first: 'blk.1.k_post_rope',
    },
    { faults: [['logits', scaleLast(1e-4)]], first: 'logits' },
    { faults: [['blk.1.ffn_act', (d) => void (d[3] = Number.NaN)]], first: 'blk.1.ffn_act' },
  ];

  for (const c of cases) {
    it(`finds the first divergence at ${c.first} (${c.faults.map((f) => f[0]).join(' + ')})`, async () => {
      const r = await diff(refBytes, faulty(c.faults), { tier: 'f32' });
      expect(r.firstDivergence?.name).toBe(c.first);
      const at = r.stages.indexOf(r.firstDivergence!);
      expect(r.stages.slice(0, at).every((s) => s.verdict === 'pass')).toBe(true);
      expect(r.firstDivergence?.metrics?.growth?.origin).toBe('introduced');
      expect(r.firstIntroduced?.name).toBe(c.first);
      // Every planted stage introduced its own error, whatever it received.
      for (const [name] of c.faults) expect(row(r, name).metrics?.growth?.origin, name).toBe('introduced');
    });
  }

  it('tells the stages that only carried the error from the one that introduced it', async () => {
    const r = await diff(refBytes, faulty([['blk.1.ffn_up', scaleLast(1e-3)]]), { tier: 'f32' });
    expect(r.firstDivergence?.name).toBe('blk.1.ffn_up');
    const downstream = r.stages
      .slice(r.stages.indexOf(r.firstDivergence!) + 1)
      .filter((s) => s.verdict === 'fail');
    expect(downstream.length).toBeGreaterThan(5);
    for (const s of downstream) expect(s.metrics?.growth?.origin, s.name).toBe('carried');
    expect(row(r, 'blk.1.ffn_swiglu').metrics?.growth?.inputs).toEqual(['blk.1.ffn_act', 'blk.1.ffn_up']);
    expect(row(r, 'blk.1.layer_output').metrics?.growth?.model).toBe('sum');
    const text = formatDiff(r);
    expect(text).toContain('first divergence: blk.1.ffn_up');
    expect(text).toContain('introduced here: blk.1.ffn_up');
  });

  it('reports a NaN as a non-finite failure that later stages carry', async () => {
    const r = await diff(refBytes, faulty([['blk.1.ffn_act', (d) => void (d[3] = Number.NaN)]]), {
      tier: 'f32',
    });
    expect(r.firstDivergence?.metrics?.basis).toBe('non-finite');
    expect(row(r, 'blk.1.ffn_swiglu').metrics?.growth?.origin).toBe('carried');
    const json = JSON.parse(JSON.stringify(diffToJson(r), finiteJson));
    expect(json.firstDivergence.name).toBe('blk.1.ffn_act');
  });
});

describe('diff: precision noise', () => {
  it('f32-level noise at every stage comes out clean at the f32 tier', async () => {
    const r = await diff(refBytes, traceBytes(reference, { f32: true }), { tier: 'f32' });
    expect(r.firstDivergence).toBeNull();
    expect(r.stages.every((s) => s.verdict === 'pass')).toBe(true);
    expect(r.stages).toHaveLength(reference.size);
    expect(formatDiff(r)).toContain('no divergence');
  });

  it('bf16-level noise fails the f32 tier and passes the bf16 tier', async () => {
    const bf16 = new Map<string, Stage>();
    for (const [n, s] of reference)
      bf16.set(n, { shape: s.shape, data: s.data.map((x) => bf16ToF32(f32ToBf16(x))) });
    const bytes = traceBytes(bf16, { f32: true });
    const strict = await diff(refBytes, bytes, { tier: 'f32' });
    expect(strict.firstDivergence?.name).toBe('embedding');
    const loose = await diff(refBytes, bytes, { tier: 'bf16' });
    expect(loose.firstDivergence).toBeNull();
  });
});

describe('diff: stages on one side only', () => {
  it('lists stages missing on either side and shapes that do not match', async () => {
    const cand = new Map(tinyForward());
    cand.delete('blk.1.k_proj');
    cand.set('blk.0.q_norm', { shape: [6, 4, 8], data: cand.get('blk.0.q_proj')!.data });
    const scores = cand.get('blk.2.attn_scores')!;
    cand.set('blk.2.attn_scores', { shape: [6, 4, 6], data: scores.data });
    const r = await diff(refBytes, traceBytes(cand, { f32: true }), { tier: 'f32' });
    expect(row(r, 'blk.1.k_proj').verdict).toBe('only-reference');
    expect(row(r, 'blk.0.q_norm').verdict).toBe('only-candidate');
    expect(row(r, 'blk.2.attn_scores')).toMatchObject({
      verdict: 'shape-mismatch',
      candidateShape: [6, 4, 6],
    });
    expect(r.firstDivergence).toBeNull();
    // k_post_rope's input was not captured on both sides: its growth reaches back to attn_norm.
    expect(row(r, 'blk.1.k_post_rope').metrics?.growth?.inputs).toEqual(['blk.1.attn_norm']);
    const text = formatDiff(r);
    expect(text).toContain('1 only in the reference: blk.1.k_proj');
    expect(text).toContain('1 only in the candidate: blk.0.q_norm');
    expect(text).toContain('1 with shapes that do not match: blk.2.attn_scores');
  });

  it('warns when the traces ran different tokens', async () => {
    const other = traceBytes(reference, { f32: true, meta: { tokens: [1, 2, 3, 4, 5, 6] } });
    const r = await diff(refBytes, other, { tier: 'f32' });
    expect(r.warnings[0]).toMatch(/different tokens/);
  });
});

describe('diff: JSON', () => {
  it('has exactly the documented shape', async () => {
    // tf32 explains a relative error of ~3e-3 (NMSE 1e-5): plant a gross one.
    const r = await diff(refBytes, faulty([['blk.0.ffn_gate', scaleLast(1)]]), { tier: 'tf32' });
    const json = JSON.parse(JSON.stringify(diffToJson(r), finiteJson));
    expect(Object.keys(json)).toEqual(['tier', 'firstDivergence', 'stages']);
    expect(json.tier).toBe('tf32');
    expect(Object.keys(json.firstDivergence)).toEqual(['name', 'layer', 'stage', 'metrics']);
    expect(json.firstDivergence).toMatchObject({ name: 'blk.0.ffn_gate', layer: 0, stage: 'ffn_gate' });
    for (const s of json.stages)
      expect(Object.keys(s)).toEqual(['name', 'layer', 'stage', 'shape', 'verdict', 'metrics']);
    expect(json.stages[0]).toMatchObject({
      name: 'embedding',
      layer: null,
      stage: 'embedding',
      shape: [6, 32],
    });
    const logits = json.stages.find((s: { name: string }) => s.name === 'logits');
    expect(logits.metrics.topK.k).toBe(10);
  });

  it('never lets a fixed ggml limit decide at a precision tier, but reports it', async () => {
    const r = await diff(refBytes, faulty([['blk.0.ffn_gate', scaleLast(1e-4)]]), { tier: 'ggml' });
    expect(r.firstDivergence).toBeNull(); // 1e-4 on one element is far inside test-backend-ops' 5e-4
    const bytes = encodeTrace([{ name: 'logits', shape: [1, 2], data: new Float32Array([1, 2]) }], TINY_META);
    const e = await diff(bytes, bytes, { tier: 'ggml' });
    expect(e.stages[0].metrics?.ggml.op).toBe('mul_mat');
  });
});
