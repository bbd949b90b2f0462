/**
 * Planted kernel faults for replay tests: a real engine whose op `op` returns
 * a wrong result on chosen calls (call indices count from 0 in the order the
 * forward pass makes them), everything else delegated untouched. The faulty
 * output is what the pass then consumes, as a real wrong kernel's would be.
 */
import type { AttentionResult, Engine } from '../../src/engine/engine.js';
import type { Tensor } from '../../src/engine/tensor.js';
import { loadModel } from '../../src/model/load.js';
import type { Numerics } from '../../src/model/model.js';
import { engineTraceExtra, sha256Of } from '../../src/model/trace-output.js';
import { encodeTrace } from '../../src/trace/trace-file.js';

export type Corrupt = (data: Float32Array) => void;

/** Wraps engine[op] so that calls `calls` (or every call) pass their output (attention: its `out`) through `corrupt`. */
export function faultyEngine(
  engine: Engine,
  op: 'swiglu' | 'rmsNorm' | 'matmul' | 'add' | 'silu' | 'attention',
  corrupt: Corrupt,
  calls: readonly number[] | 'all' = 'all',
): Engine {
  let n = 0;
  const corrupted = async (out: Tensor): Promise<Tensor> => {
    const data = await out.read();
    corrupt(data);
    const shape = out.shape;
    out.dispose();
    return engine.tensor(data, shape);
  };
  const wrapped = async (...args: unknown[]): Promise<unknown> => {
    const call = n++;
    const result = await (engine[op] as (...a: unknown[]) => Promise<unknown>).apply(engine, args);
    if (calls !== 'all' && !calls.includes(call)) return result;
    if (op !== 'attention') return corrupted(result as Tensor);
    const r = result as AttentionResult;
    return { ...r, out: await corrupted(r.out) };
  };
  return new Proxy(engine, {
    get(target, prop) {
      if (prop === op) return wrapped;
      const v = Reflect.get(target, prop, target);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
}

/** Scales element i (default the last) by 1 + rel. */
export const scaleAt =
  (rel: number, i?: number): Corrupt =>
  (d) => {
    const k = i ?? d.length - 1;
    d[k] *= 1 + rel;
  };

export interface CapturedPass {
  bytes: Uint8Array;
  stages: Map<string, { shape: number[]; data: Float32Array }>;
  meta: Parameters<typeof encodeTrace>[1];
}

/** One forward pass of the GGUF on `engine` with every stage captured, as a trace file's bytes. */
export async function capturePass(
  engine: Engine,
  gguf: Uint8Array,
  tokens: readonly number[],
  numerics: Numerics,
): Promise<CapturedPass> {
  const model = await loadModel(engine, gguf, { numerics, nCtx: 32, nBatch: 32 });
  try {
    const r = await model.forward(tokens, { trace: { stages: 'all' }, logits: 'none' });
    const stages = r.trace as CapturedPass['stages'];
    const meta = {
      producer: 'plumbline test',
      backend: engine.backend,
      model: await sha256Of(gguf),
      tokens,
      numerics,
      extra: engineTraceExtra(engine),
    };
    return { bytes: encodeTrace(traceTensors(stages), meta), stages, meta };
  } finally {
    model.dispose();
  }
}

export function traceTensors(stages: CapturedPass['stages']) {
  return [...stages].map(([name, t]) => ({ name, shape: t.shape, data: t.data }));
}

/** An engine whose rope uses another frequency base than the model asks for (a wrong constant in a kernel). */
export function wrongRopeBase(engine: Engine, freqBase: number): Engine {
  const rope: Engine['rope'] = (x, positions, opts) => engine.rope(x, positions, { ...opts, freqBase });
  return new Proxy(engine, {
    get(target, prop) {
      if (prop === 'rope') return rope;
      const v = Reflect.get(target, prop, target);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
}
