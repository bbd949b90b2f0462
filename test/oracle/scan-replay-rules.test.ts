/**
 * The scan stages through replay() (the registry's driver) on a scan model in
 * GGUF: a wasm trace follows from its inputs; a planted state fault is the
 * first fault, at its step (first exceeding element ÷ H), and scan_out read
 * from it is its consequence.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { createEngine } from '../../src/engine/engine.js';
import { scanTraceBytes } from '../../src/model/scan-forward.js';
import { ScanModel, type ScanModelSpec, syntheticScanModel } from '../../src/model/scan-model.js';
import { replay } from '../../src/oracle/replay.js';
import '../../src/oracle/scan-replay.js';
import { encodeTrace, readTrace } from '../../src/trace/trace-file.js';

const SPEC: ScanModelSpec = {
  vocab: 40,
  dim: 16,
  layers: [
    { kind: 'gru', structure: 'monarch', hidden: 16, stateScale: 1 / 127 },
    { kind: 'linear' },
    { kind: 'gru', structure: 'dense', hidden: 8 },
  ],
};
const TOKENS = Array.from({ length: 12 }, (_, i) => (i * 5 + 1) % 40);
const gguf = syntheticScanModel(SPEC, 9, 'gguf');
const engine = await createEngine({ backend: 'wasm', threads: 2 });
afterAll(() => engine.dispose());
const model = await ScanModel.read(gguf);
const trace = await scanTraceBytes(engine, model, gguf, TOKENS);

describe('scan stages in replay()', () => {
  it('reads the same model from GGUF as from safetensors', async () => {
    const st = await ScanModel.read(syntheticScanModel(SPEC, 9));
    expect(st.spec).toEqual(model.spec);
    expect(st.tensor('blk.0.scan_u.b2')).toEqual(model.tensor('blk.0.scan_u.b2'));
  });

  it('a wasm trace: every scan stage follows from its own inputs', async () => {
    const r = await replay(gguf, trace, { reference: 'none' });
    const scan = r.stages.filter((s) => s.stage.startsWith('scan_'));
    expect(scan.map((s) => `${s.name} ${s.verdict}`)).toEqual(
      [0, 1, 2].flatMap((l) =>
        ['scan_in', 'scan_gates', 'scan_state', 'scan_out'].map((s) => `blk.${l}.${s} ok`),
      ),
    );
    expect(r.firstFault).toBe(null);
  });

  it('a planted fault in one step of a state is the first fault, at that step', async () => {
    for (const [layer, step, H, delta] of [
      [0, 4, 16, 3 / 127],
      [2, 9, 8, 1e-3],
    ] as const) {
      const t = await readTrace(trace);
      const tensors = [];
      for (const e of t.stages) {
        const data = Float32Array.from(await t.read(e.name));
        if (e.name === `blk.${layer}.scan_state`) data[step * H + 2] += delta;
        tensors.push({ name: e.name, shape: e.shape, data });
      }
      const meta = t.metadata;
      await t.close();
      const bad = encodeTrace(tensors, {
        producer: 'test',
        backend: 'planted',
        model: meta.model as string,
        tokens: TOKENS,
        numerics: 'exact',
      });
      const r = await replay(gguf, bad, { reference: 'none' });
      expect(r.firstFault?.name).toBe(`blk.${layer}.scan_state`);
      expect(Math.floor((r.firstFault?.firstExceeding ?? -1) / H)).toBe(step);
      expect(r.stages.find((s) => s.name === `blk.${layer}.scan_out`)?.verdict).toBe('consequence');
    }
  });
});
