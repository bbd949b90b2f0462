/**
 * The scan model's forward pass (src/model/scan-model.ts) on any engine, every
 * stage captured: embedding, per layer scan_in, scan_gates, scan_state,
 * scan_out, layer_output, then output_norm and logits. The trace is written
 * as a plumbline trace (src/trace/trace-file.ts) whose `model` is the sha256
 * of the model file, so `plumbline diff` compares two of them and
 * scanReplay (src/oracle/scan-replay.ts) replays one step by step.
 */
import type { Engine } from '../engine/engine.js';
import type { Tensor } from '../engine/tensor.js';
import { type GruWeights, gruShapes } from '../ops/gru.js';
import { QuantizerInputError } from '../ops/int8-quantizer.js';
import { stageName } from '../trace/stages.js';
import { encodeTrace } from '../trace/trace-file.js';
import type { CapturedStages } from './capture.js';
import { ModelError } from './errors.js';
import { SCAN_GLOBAL_NAMES, type ScanModel, scanLayerNames } from './scan-model.js';
import { sha256Of } from './trace-output.js';

export interface ScanForwardResult {
  /** [T, vocab]. */
  logits: Float32Array;
  /** Every stage by canonical name, in computation order. */
  trace: CapturedStages;
}

/** Runs the model over `tokens` on `engine`, capturing every stage. */
export async function scanForward(
  engine: Engine,
  model: ScanModel,
  tokens: readonly number[],
): Promise<ScanForwardResult> {
  const { vocab: V, dim: D } = model.spec;
  const T = tokens.length;
  if (T < 1) throw new ModelError('scan model: at least one token is needed');
  for (const t of tokens)
    if (!Number.isSafeInteger(t) || t < 0 || t >= V)
      throw new ModelError(`scan model: token ${t} is not in [0, ${V})`);
  const owned: Tensor[] = [];
  const keep = <X extends Tensor>(t: X): X => {
    owned.push(t);
    return t;
  };
  const weight = (name: string) => keep(engine.tensor(model.tensor(name), model.shape(name)));
  const trace: CapturedStages = new Map();
  const put = async (name: string, t: Tensor) =>
    trace.set(name, { shape: [...t.shape], data: await t.read() });
  try {
    let x = keep(await engine.embedding(weight(SCAN_GLOBAL_NAMES.embedding), tokens));
    await put('embedding', x);
    for (let l = 0; l < model.spec.layers.length; l++) {
      const layer = model.spec.layers[l];
      const n = scanLayerNames(l);
      let h: Tensor;
      if (layer.kind === 'gru') {
        if (!engine.gru) throw new ModelError(`scan model: the ${engine.backend} engine has no gru`);
        const proj = keep(await engine.matmul(x, weight(n.inWeight)));
        const gx = keep(await engine.add(proj, weight(n.inBias)));
        await put(stageName('scan_in', l), gx);
        const arrays = Object.fromEntries(
          Object.keys(gruShapes(layer.structure, layer.hidden)).map((a) => [a, weight(n.u(a))]),
        );
        const U = { kind: layer.structure, ...arrays } as GruWeights<Tensor>;
        const state = model.stateQuantizer(l);
        const r = await engine
          .gru(gx, U, { bh: weight(n.bh), gates: true, int8: state && { state } })
          .catch((e: unknown) => {
            // Every engine refuses a NaN reaching the int8 state (naming the step): say which layer.
            if (e instanceof QuantizerInputError)
              throw new QuantizerInputError(`${stageName('scan_state', l)}: ${e.message}`);
            throw e;
          });
        h = keep(r.h);
        await put(stageName('scan_gates', l), keep(r.gates as Tensor));
      } else {
        const b = keep(await engine.matmul(x, weight(n.inWeight)));
        await put(stageName('scan_in', l), b);
        const decay = model.tensor(n.decay);
        const a = new Float32Array(T * D);
        for (let t = 0; t < T; t++) a.set(decay, t * D);
        const at = keep(engine.tensor(a, [T, D]));
        await put(stageName('scan_gates', l), at);
        h = keep(await engine.scan(at, b));
      }
      await put(stageName('scan_state', l), h);
      const o = keep(await engine.matmul(h, weight(n.outWeight)));
      await put(stageName('scan_out', l), o);
      x = keep(await engine.add(x, o));
      await put(stageName('layer_output', l), x);
    }
    const norm = keep(
      await engine.rmsNorm(x, weight(SCAN_GLOBAL_NAMES.outputNorm), { eps: model.spec.rmsEps }),
    );
    await put('output_norm', norm);
    const logits = keep(await engine.matmul(norm, weight(SCAN_GLOBAL_NAMES.output)));
    await put('logits', logits);
    return { logits: trace.get('logits')?.data as Float32Array, trace };
  } finally {
    for (const t of owned) t.dispose();
  }
}

/** The trace of a scan-model pass as trace-file bytes (metadata: the model's sha256, the tokens, the backend). */
export async function scanTraceBytes(
  engine: Engine,
  model: ScanModel,
  modelBytes: Uint8Array,
  tokens: readonly number[],
): Promise<Uint8Array> {
  const { trace } = await scanForward(engine, model, tokens);
  const tensors = [...trace].map(([name, t]) => ({ name, shape: t.shape, data: t.data }));
  return encodeTrace(tensors, {
    producer: 'plumbline scan-trace',
    backend: engine.backend,
    model: await sha256Of(modelBytes),
    tokens,
    numerics: 'exact',
    extra: { 'scan-model': JSON.stringify(model.spec) },
  });
}
