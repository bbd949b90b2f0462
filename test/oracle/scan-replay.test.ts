/**
 * Scan-model traces: captured on the wasm and reference engines, compared by
 * diff, replayed step by step from the candidate's own previous states. A
 * planted fault (one step's state perturbed) is named by its step; drift that
 * follows from the inputs (states recomputed from a perturbed state) is not.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { createEngine, type Engine } from '../../src/engine/engine.js';
import { ModelError } from '../../src/model/errors.js';
import { scanForward, scanTraceBytes } from '../../src/model/scan-forward.js';
import { ScanModel, type ScanModelSpec, syntheticScanModel } from '../../src/model/scan-model.js';
import { diff } from '../../src/oracle/diff.js';
import { ParityOptionError } from '../../src/oracle/errors.js';
import { scanReplay } from '../../src/oracle/scan-replay.js';
import { encodeTrace, readTrace } from '../../src/trace/trace-file.js';

const SPEC: ScanModelSpec = {
  vocab: 40,
  dim: 16,
  layers: [
    { kind: 'gru', structure: 'dense', hidden: 12 },
    { kind: 'gru', structure: 'monarch', hidden: 16, stateScale: 1 / 127 },
    { kind: 'linear' },
    { kind: 'gru', structure: 'butterfly', hidden: 16 },
  ],
};
const TOKENS = Array.from({ length: 24 }, (_, i) => (i * 7 + 3) % 40);
const bytes = syntheticScanModel(SPEC, 3);
const model = await ScanModel.read(bytes);

const engines: Engine[] = [];
afterAll(async () => {
  for (const e of engines) await e.dispose();
});
async function traceOn(backend: 'wasm' | 'reference', threads?: number): Promise<Uint8Array> {
  const e = await createEngine({ backend, threads });
  engines.push(e);
  return scanTraceBytes(e, model, bytes, TOKENS);
}
const wasmTrace = await traceOn('wasm', 2);
const refTrace = await traceOn('reference');

/** A trace's tensors (mutable copies) and a re-encoder. */
async function tensorsOf(trace: Uint8Array) {
  const t = await readTrace(trace);
  const out = new Map<string, { shape: readonly number[]; data: Float32Array }>();
  for (const e of t.stages)
    out.set(e.name, { shape: e.shape, data: Float32Array.from(await t.read(e.name)) });
  const encode = () =>
    encodeTrace(
      [...out].map(([name, v]) => ({ name, ...v })),
      {
        producer: 'test',
        backend: 'planted',
        model: t.metadata.model as string,
        tokens: TOKENS,
        numerics: 'exact',
      },
    );
  return { out, encode };
}

describe('scan model', () => {
  it('is deterministic from its seed and reads back with its spec', async () => {
    expect(Buffer.from(syntheticScanModel(SPEC, 3)).equals(Buffer.from(bytes))).toBe(true);
    expect(Buffer.from(syntheticScanModel(SPEC, 4)).equals(Buffer.from(bytes))).toBe(false);
    expect(model.spec.layers).toEqual(SPEC.layers);
    expect(model.shape('blk.1.scan_u.b1')).toEqual([3, 4, 4, 4]);
    expect(model.shape('blk.3.scan_u.w')).toEqual([3, 4, 8, 4]);
  });

  it('rejects a bad spec or a file that is not a scan model, naming what is wrong', async () => {
    expect(() =>
      syntheticScanModel({ ...SPEC, layers: [{ kind: 'gru', structure: 'monarch', hidden: 12 }] }),
    ).toThrow(/layer 0: gru: monarch needs H = β²/);
    await expect(ScanModel.read(new Uint8Array(4))).rejects.toThrow(ModelError);
    await expect(ScanModel.read(wasmTrace)).rejects.toThrow(/format must be plumbline-scan-model\/1/);
  });

  it('captures every stage in computation order; the wasm and reference traces agree in diff at the f32 tier', async () => {
    const t = await readTrace(wasmTrace);
    expect(t.stages.map((s) => s.name).slice(0, 7)).toEqual([
      'embedding',
      'blk.0.scan_in',
      'blk.0.scan_gates',
      'blk.0.scan_state',
      'blk.0.scan_out',
      'blk.0.layer_output',
      'blk.1.scan_in',
    ]);
    expect(t.get('blk.1.scan_gates')?.shape).toEqual([24, 48]);
    expect(t.get('blk.2.scan_state')?.shape).toEqual([24, 16]);
    await t.close();
    const d = await diff(refTrace, wasmTrace, { tier: 'f32' });
    const scan = d.stages.filter((s) => s.stage?.startsWith('scan_'));
    expect(scan.length).toBe(16);
    expect(d.firstDivergence?.name ?? null).toBe(null);
  });

  it('replay: the wasm and reference traces follow from their own inputs at every step', async () => {
    for (const trace of [wasmTrace, refTrace]) {
      const r = await scanReplay(model, trace);
      expect(r.rows.length).toBe(16);
      expect(r.rows.every((row) => row.verdict === 'ok' && row.steps === 24)).toBe(true);
      expect(r.firstFault).toBe(null);
    }
  });

  it('replay names the step of a planted state fault (f32 and int8 layers); the next step is its consequence', async () => {
    for (const [layer, step, delta] of [
      [0, 7, 1e-3],
      [1, 5, 3 / 127],
      [2, 11, 1e-3],
    ] as const) {
      const { out, encode } = await tensorsOf(wasmTrace);
      const s = out.get(`blk.${layer}.scan_state`) as { shape: readonly number[]; data: Float32Array };
      s.data[step * s.shape[1] + 3] += delta;
      const r = await scanReplay(model, encode());
      expect(r.firstFault).toEqual({ name: `blk.${layer}.scan_state`, layer, stage: 'scan_state', step });
      const row = r.rows.find((x) => x.name === `blk.${layer}.scan_state`);
      expect(row?.faultSteps).toEqual([step]);
      expect(row?.consequenceSteps).toEqual([step + 1]);
      // scan_out was computed from the kernel's own state, not the recorded one: that row does not follow either.
      expect(r.rows.find((x) => x.name === `blk.${layer}.scan_out`)?.faultSteps).toEqual([step]);
    }
  });

  it('replay: drift that follows from the inputs is no fault, though diff sees it', async () => {
    // Layer 0's states from step 8 on recomputed on the engine from a perturbed h_7.
    const e = engines[0];
    const { out, encode } = await tensorsOf(wasmTrace);
    const [s, gates, gx] = ['scan_state', 'scan_gates', 'scan_in'].map(
      (n) => out.get(`blk.0.${n}`) as { shape: readonly number[]; data: Float32Array },
    );
    const H = 12;
    s.data[7 * H + 3] += 0.05;
    const n = model.recurrence(0);
    const r = await e.gru?.(
      e.tensor(gx.data.slice(8 * 3 * H), [16, 3 * H]),
      { kind: 'dense', u: e.tensor(Float32Array.from((n as { u: ArrayLike<number> }).u), [3 * H, H]) },
      {
        bh: e.tensor(model.tensor('blk.0.scan_bh'), [3 * H]),
        h0: e.tensor(s.data.slice(7 * H, 8 * H), [H]),
        gates: true,
      },
    );
    s.data.set(await (r?.h.read() as Promise<Float32Array>), 8 * H);
    gates.data.set(await (r?.gates?.read() as Promise<Float32Array>), 8 * 3 * H);
    const cand = encode();
    const rep = await scanReplay(model, cand);
    const state = rep.rows.find((x) => x.name === 'blk.0.scan_state');
    expect(state?.faultSteps).toEqual([7]);
    expect(state?.consequenceSteps).toEqual([]);
    expect(rep.rows.find((x) => x.name === 'blk.0.scan_gates')?.faultSteps).toEqual([]);
    // The reference trace is far from this candidate after step 7: diff flags the drift.
    const d = await diff(refTrace, cand, { tier: 'f32' });
    expect(d.stages.find((x) => x.name === 'blk.0.scan_state')?.verdict).toBe('fail');
  });

  it('replay at a coarser tier allows more; exact is refused', async () => {
    const { out, encode } = await tensorsOf(wasmTrace);
    const s = out.get('blk.0.scan_state') as { shape: readonly number[]; data: Float32Array };
    s.data[4 * 12] *= 1 + 2 ** -14; // far beyond f32 rounding, within f16's
    const cand = encode();
    expect((await scanReplay(model, cand)).firstFault?.step).toBe(4);
    expect(
      (await scanReplay(model, cand, { tier: 'f16' })).rows.find((x) => x.name === 'blk.0.scan_state')
        ?.faultSteps,
    ).toEqual([]);
    await expect(scanReplay(model, cand, { tier: 'exact' as 'f32' })).rejects.toThrow(ParityOptionError);
  });

  it('scanForward refuses tokens outside the vocabulary', async () => {
    await expect(scanForward(engines[0], model, [0, 40])).rejects.toThrow(/token 40 is not in \[0, 40\)/);
  });
});
