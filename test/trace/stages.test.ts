import { describe, expect, it } from 'vitest';
import {
  canonicalNames,
  isCanonicalName,
  LAYER_STAGES,
  parseStageName,
  sortStageNames,
  stageInputs,
  stageKind,
  stageName,
} from '../../src/trace/stages.js';

describe('stage names', () => {
  it('formats and parses per-layer and global names', () => {
    expect(stageName('q_proj', 3)).toBe('blk.3.q_proj');
    expect(stageName('logits')).toBe('logits');
    expect(parseStageName('blk.12.attn_softmax')).toEqual({ layer: 12, stage: 'attn_softmax' });
    expect(parseStageName('embedding')).toEqual({ layer: null, stage: 'embedding' });
    expect(() => stageName('q_proj')).toThrow(RangeError);
    expect(() => stageName('logits', 0)).toThrow(RangeError);
  });

  it('rejects names that are not canonical', () => {
    for (const n of [
      'blk.03.q_proj',
      'blk.-1.q_proj',
      'blk.1.qproj',
      'blk.1',
      'q_proj',
      'blk.1.embedding',
      'Logits',
      'blk.1.q_proj.x',
    ])
      expect(isCanonicalName(n), n).toBe(false);
  });

  it('orders stages as a forward pass computes them', () => {
    const names = canonicalNames(2);
    expect(names[0]).toBe('embedding');
    expect(names.slice(-2)).toEqual(['output_norm', 'logits']);
    expect(names.indexOf('blk.0.layer_output')).toBeLessThan(names.indexOf('blk.1.attn_norm'));
    const shuffled = [...names].reverse();
    expect(sortStageNames([...shuffled, 'not.a.stage'])).toEqual(names);
    // Layer 10 after layer 9 (numeric, not lexical).
    expect(sortStageNames(['blk.10.attn_norm', 'blk.9.layer_output'])).toEqual([
      'blk.9.layer_output',
      'blk.10.attn_norm',
    ]);
  });

  it('knows what each stage consumes', () => {
    expect(stageInputs({ layer: 2, stage: 'q_proj' }, 5)).toEqual([['blk.2.attn_norm']]);
    expect(stageInputs({ layer: 0, stage: 'attn_norm' }, 5)).toEqual([['embedding']]);
    expect(stageInputs({ layer: 3, stage: 'attn_residual' }, 5)).toEqual([
      ['blk.2.layer_output'],
      ['blk.3.attn_out'],
    ]);
    expect(stageInputs({ layer: 1, stage: 'k_post_rope' }, 5)).toEqual([['blk.1.k_norm', 'blk.1.k_proj']]);
    expect(stageInputs({ layer: 1, stage: 'layer_output' }, 5)).toEqual([
      ['blk.1.attn_residual', 'blk.0.layer_output'],
      ['blk.1.ffn_out', 'blk.1.moe_out', 'blk.1.scan_out'],
    ]);
    // A scan layer: input projections from the residual stream, states from the gates, output from the states.
    expect(stageInputs({ layer: 1, stage: 'scan_in' }, 5)).toEqual([['blk.0.layer_output']]);
    expect(stageInputs({ layer: 1, stage: 'scan_state' }, 5)).toEqual([
      ['blk.1.scan_gates', 'blk.1.scan_in'],
    ]);
    expect(stageInputs({ layer: 1, stage: 'scan_out' }, 5)).toEqual([['blk.1.scan_state']]);
    expect(stageInputs({ layer: null, stage: 'output_norm' }, 5)).toEqual([['blk.5.layer_output']]);
    expect(stageInputs({ layer: null, stage: 'embedding' }, 5)).toEqual([]);
    // Every input of every per-layer stage comes earlier in the order.
    const order = canonicalNames(3);
    for (const s of LAYER_STAGES)
      for (const slot of stageInputs({ layer: 1, stage: s }, 2))
        for (const n of slot)
          expect(order.indexOf(n), `${s} <- ${n}`).toBeLessThan(order.indexOf(`blk.1.${s}`));
  });

  it('classifies stages by the op that computes them', () => {
    expect(stageKind('embedding')).toBe('lookup');
    expect(stageKind('attn_softmax')).toBe('softmax');
    expect(stageKind('logits')).toBe('matmul');
    expect(stageKind('layer_output')).toBe('add');
    expect(stageKind('scan_state')).toBe('recurrence');
  });
});
