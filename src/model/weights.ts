/**
 * A model's weights in engine memory. Matrices stay in their GGUF type (used
 * in place by matmul and embedding); norm weights and biases become f32.
 * Tensors are read from the file one at a time, by range; if anything fails,
 * every tensor already created is disposed before the error propagates.
 */
import type { Engine } from '../engine/engine.js';
import type { Tensor } from '../engine/tensor.js';
import type { GgufFile, GgufTensorInfo } from '../formats/gguf/index.js';
import { dequantize } from '../ops/dequantize.js';
import type { MoeFfnWeights } from '../ops/moe-ffn.js';
import type { HParams } from './hparams.js';
import { GLOBAL_TENSOR_NAMES, layerTensorNames, type TensorSpec } from './tensors.js';

export interface LayerWeights {
  attnNorm: Tensor;
  wq: Tensor;
  wk: Tensor;
  wv: Tensor;
  wo: Tensor;
  bq?: Tensor;
  bk?: Tensor;
  bv?: Tensor;
  bo?: Tensor;
  qNorm?: Tensor;
  kNorm?: Tensor;
  ffnNorm: Tensor;
  ffn: DenseFfnWeights | MoeLayerWeights;
}

export interface DenseFfnWeights {
  kind: 'dense';
  gate: Tensor;
  up: Tensor;
  down: Tensor;
}

/** A mixture-of-experts FFN: the router ffn_gate_inp [E, n_embd] and the experts (engine.moeFfn's weights). */
export interface MoeLayerWeights {
  kind: 'moe';
  router: Tensor;
  experts: MoeFfnWeights;
}

export interface ModelWeights {
  tokenEmbd: Tensor;
  outputNorm: Tensor;
  /** output.weight, or token_embd itself when the head is tied. */
  output: Tensor;
  tied: boolean;
  /** rope_freqs.weight (per-pair divisors of θ), when the file has it. */
  ropeFreqs?: Float32Array;
  layers: LayerWeights[];
  /** Every tensor created (token_embd once), for dispose. */
  all: Tensor[];
}

export interface LoadProgress {
  /** Bytes of tensor data read so far, and in all. */
  loaded: number;
  total: number;
}

/** Reads and uploads every present tensor of `specs`; disposes what was created if anything fails. */
export async function loadWeights(
  engine: Engine,
  file: GgufFile,
  h: HParams,
  specs: readonly TensorSpec[],
  infos: ReadonlyMap<string, GgufTensorInfo>,
  onProgress?: (p: LoadProgress) => void,
): Promise<ModelWeights> {
  const created = new Map<string, Tensor>();
  let ropeFreqs: Float32Array | undefined;
  const total = [...infos.values()].reduce((s, i) => s + i.byteSize, 0);
  let loaded = 0;
  try {
    for (const spec of specs) {
      const info = infos.get(spec.name);
      if (!info) continue;
      const bytes = await file.tensorData(info);
      if (spec.name === GLOBAL_TENSOR_NAMES.ropeFreqs) ropeFreqs = asF32(info, bytes);
      else if (spec.kind === 'vector') created.set(spec.name, engine.tensor(asF32(info, bytes), info.shape));
      else created.set(spec.name, engine.tensor(bytes, info.shape, info.type.name));
      loaded += info.byteSize;
      onProgress?.({ loaded, total });
    }
  } catch (e) {
    for (const t of created.values()) t.dispose();
    throw e;
  }
  const get = (name: string) => created.get(name) as Tensor;
  const layers: LayerWeights[] = [];
  for (let l = 0; l < h.nLayer; l++) {
    const n = layerTensorNames(l);
    layers.push({
      attnNorm: get(n.attnNorm),
      wq: get(n.wq),
      wk: get(n.wk),
      wv: get(n.wv),
      wo: get(n.wo),
      bq: created.get(n.bq),
      bk: created.get(n.bk),
      bv: created.get(n.bv),
      bo: created.get(n.bo),
      qNorm: created.get(n.qNorm),
      kNorm: created.get(n.kNorm),
      ffnNorm: get(n.ffnNorm),
      ffn: h.moe
        ? {
            kind: 'moe',
            router: get(n.router),
            experts: {
              gate: get(n.gateExps),
              up: get(n.upExps),
              down: get(n.downExps),
              shared: h.moe.nFfShexp
                ? {
                    gate: get(n.sharedGate),
                    up: get(n.sharedUp),
                    down: get(n.sharedDown),
                    gateInp: get(n.sharedGateInp),
                  }
                : null,
            },
          }
        : { kind: 'dense', gate: get(n.wGate), up: get(n.wUp), down: get(n.wDown) },
    });
  }
  const g = GLOBAL_TENSOR_NAMES;
  const output = created.get(g.output);
  return {
    tokenEmbd: get(g.tokenEmbd),
    outputNorm: get(g.outputNorm),
    output: output ?? get(g.tokenEmbd),
    tied: output === undefined,
    ropeFreqs,
    layers,
    all: [...created.values()],
  };
}

/** A 1-D f32/f16/bf16 tensor's values as f32 (exact widening). */
function asF32(info: GgufTensorInfo, bytes: Uint8Array): Float32Array {
  if (info.type.name === 'f32') {
    // Copy: the bytes may be a view at an offset that is not 4-aligned.
    const out = new Float32Array(info.count);
    new Uint8Array(out.buffer).set(bytes);
    return out;
  }
  return dequantize(info.type.name, bytes, info.count, { backend: 'reference' });
}
