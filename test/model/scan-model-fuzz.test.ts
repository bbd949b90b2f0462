/**
 * Fuzzing scan-model files (src/model/scan-model.ts), safetensors and GGUF:
 * the spec JSON made hostile (not an object, counts 0, negative, 2^31,
 * huge, of the wrong type, unknown kinds and structures, bad epsilons and
 * state scales), tensors of other dtypes or shapes, removed, swapped or
 * NaN, the file truncated at many offsets and its bytes mutated (seeded).
 * Every case either reads and runs one token through scanForward to logits
 * of the vocabulary's length on the wasm and reference engines, or throws a
 * typed error naming what is at fault — with a per-case timeout, and the
 * wasm arena back to its bytes before the case.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { createEngine, type Engine } from '../../src/engine/engine.js';
import { writeGguf } from '../../src/formats/gguf/index.js';
import { writeSafetensors } from '../../src/formats/safetensors/index.js';
import { scanForward } from '../../src/model/scan-forward.js';
import {
  SCAN_GGUF_ARCH,
  SCAN_GGUF_SPEC_KEY,
  SCAN_MODEL_FORMAT,
  ScanModel,
  type ScanModelSpec,
  scanModelShapes,
  syntheticScanModel,
} from '../../src/model/scan-model.js';
import { QuantizerInputError } from '../../src/ops/int8-quantizer.js';
import { mutate, prng, smallU64Offsets } from '../formats/gguf/helpers.js';
import { arenaBytes, expectPoolClosed, expectTypedError, outcome } from './fuzz-helpers.js';

const SEED = 0x5ca7;
const SPEC: ScanModelSpec = {
  vocab: 24,
  dim: 8,
  layers: [
    { kind: 'gru', structure: 'dense', hidden: 8 },
    { kind: 'linear' },
    { kind: 'gru', structure: 'diagonal', hidden: 8, stateScale: 1 / 127 },
  ],
};

const wasm = await createEngine({ backend: 'wasm', threads: 2 });
const reference = await createEngine({ backend: 'reference' });
afterAll(async () => {
  await wasm.dispose();
  await reference.dispose();
  expectPoolClosed(wasm);
});

type Format = 'safetensors' | 'gguf';

interface Tensor {
  name: string;
  shape: number[];
  data: Float32Array;
  dtype?: 'F32' | 'F16' | 'I32';
}

const base = await ScanModel.read(syntheticScanModel(SPEC, 5));
const baseTensors = (): Tensor[] =>
  [...scanModelShapes(base.spec)].map(([name, shape]) => ({
    name,
    shape,
    data: Float32Array.from(base.tensor(name)),
  }));

/** A scan-model file with the spec text and tensors given (no checks: hostile files welcome). */
function file(format: Format, spec: string, tensors: Tensor[]): Uint8Array {
  if (format === 'gguf')
    return writeGguf({
      metadata: [
        ['general.architecture', SCAN_GGUF_ARCH],
        [SCAN_GGUF_SPEC_KEY, spec],
      ],
      tensors: tensors.map((t) => ({
        name: t.name,
        shape: t.shape,
        type: t.dtype === 'F16' ? 'f16' : t.dtype === 'I32' ? 'i32' : 'f32',
        data: new Uint8Array(
          t.dtype === 'F16' ? new Uint16Array(t.data.length).buffer : t.data.slice().buffer,
        ),
      })),
    });
  return writeSafetensors(
    tensors.map((t) => ({
      name: t.name,
      dtype: t.dtype ?? 'F32',
      shape: t.shape,
      data:
        t.dtype === 'F16'
          ? new Uint16Array(t.data.length)
          : t.dtype === 'I32'
            ? new Int32Array(t.data.length)
            : t.data,
    })),
    { format: SCAN_MODEL_FORMAT, spec },
  );
}

interface Case {
  name: string;
  bytes: Uint8Array;
  /** What an error must name (any of these); empty: only its type is checked. */
  names: string[];
  /** The weights are valid: logits that come out must be finite. */
  finite: boolean;
  allNaN?: boolean;
  /** Must be refused, with an error of this class. */
  refused?: typeof QuantizerInputError;
}

/** The spec's JSON edited; the string 'INFINITY' becomes the literal 1e999 (JSON.parse: Infinity). */
const specText = (edit: (s: Record<string, unknown>) => void) => {
  const s = JSON.parse(JSON.stringify(base.spec));
  edit(s);
  return JSON.stringify(s).replace('"INFINITY"', '1e999');
};
const layer = (i: number, edit: (l: Record<string, unknown>) => void) =>
  specText((s) => edit((s.layers as Record<string, unknown>[])[i]));

/** Spec texts that are not a valid spec, and what the error must name. */
const BAD_SPECS: [string, string, string[]][] = [
  ['no JSON', '{vocab: 24', ['spec']],
  ['null', 'null', ['scan model']],
  ['a number', '42', ['scan model']],
  ['a string', '"spec"', ['scan model']],
  ['an array', '[1, 2]', ['scan model']],
  ['an empty object', '{}', ['vocab']],
  ...(
    [
      ['0', 0],
      ['-1', -1],
      ['2^31', 2 ** 31],
      ['1e300', 1e300],
      ['1.5', 1.5],
      ['"24"', '24'],
      ['null', null],
    ] as [string, unknown][]
  ).flatMap(([label, v]): [string, string, string[]][] => [
    [`vocab ${label}`, specText((s) => (s.vocab = v)), ['vocab', 'token_embd.weight']],
    [`dim ${label}`, specText((s) => (s.dim = v)), ['dim', 'token_embd.weight']],
    [`layer 0 hidden ${label}`, layer(0, (l) => (l.hidden = v)), ['layer 0', 'blk.0.']],
  ]),
  ['vocab 25 (the tensors have 24)', specText((s) => (s.vocab = 25)), ['token_embd.weight']],
  ['layers null', specText((s) => (s.layers = null)), ['layers']],
  ['layers empty', specText((s) => (s.layers = [])), ['layers']],
  ['layers an object', specText((s) => (s.layers = { kind: 'linear' })), ['layers']],
  ['a null layer', specText((s) => (s.layers = [null])), ['layer 0']],
  ['a number layer', specText((s) => (s.layers = [7])), ['layer 0']],
  ['one layer more', specText((s) => (s.layers as unknown[]).push({ kind: 'linear' })), ['blk.3.']],
  ['one layer fewer', specText((s) => (s.layers as unknown[]).pop()), ['blk.2.']],
  ['100000 linear layers', specText((s) => (s.layers = Array(100000).fill({ kind: 'linear' }))), ['blk.0.']],
  ['layer 0 kind unknown', layer(0, (l) => (l.kind = 'lstm')), ['layer 0']],
  ['layer 0 kind missing', layer(0, (l) => delete l.kind), ['layer 0']],
  ['layer 0 structure unknown', layer(0, (l) => (l.structure = 'sparse')), ['layer 0']],
  ['layer 0 structure missing', layer(0, (l) => delete l.structure), ['layer 0']],
  [
    'layer 0 monarch with hidden 8 (a valid structure, other tensors)',
    layer(0, (l) => (l.structure = 'monarch')),
    ['layer 0', 'blk.0.'],
  ],
  ['layer 2 stateScale 0', layer(2, (l) => (l.stateScale = 0)), ['layer 2']],
  ['layer 2 stateScale -1', layer(2, (l) => (l.stateScale = -1)), ['layer 2']],
  ['layer 2 stateScale "0.01"', layer(2, (l) => (l.stateScale = '0.01')), ['layer 2']],
  ['layer 2 stateScale 1e999 (Infinity)', layer(2, (l) => (l.stateScale = 'INFINITY')), ['layer 2']],
  ['rmsEps 0', specText((s) => (s.rmsEps = 0)), ['rmsEps']],
  ['rmsEps -1', specText((s) => (s.rmsEps = -1)), ['rmsEps']],
  ['rmsEps "0.001"', specText((s) => (s.rmsEps = '0.001')), ['rmsEps']],
  ['rmsEps 1e999 (Infinity)', specText((s) => (s.rmsEps = 'INFINITY')), ['rmsEps']],
];

function tensorCases(format: Format): Case[] {
  const spec = JSON.stringify(base.spec);
  const edit = (fn: (ts: Tensor[]) => void) => {
    const ts = baseTensors();
    fn(ts);
    return file(format, spec, ts);
  };
  const find = (ts: Tensor[], name: string) => ts.find((t) => t.name === name) as Tensor;
  const inW = 'blk.0.scan_in.weight';
  const outW = 'blk.1.scan_out.weight';
  const decay = 'blk.1.scan_decay';
  return [
    { name: `${inW} as F16`, bytes: edit((ts) => (find(ts, inW).dtype = 'F16')), names: [inW], finite: true },
    { name: `${inW} as I32`, bytes: edit((ts) => (find(ts, inW).dtype = 'I32')), names: [inW], finite: true },
    {
      name: `${inW} transposed`,
      bytes: edit((ts) => (find(ts, inW).shape = [8, 24])),
      names: [inW],
      finite: true,
    },
    {
      name: `${inW} flattened`,
      bytes: edit((ts) => (find(ts, inW).shape = [24 * 8])),
      names: [inW],
      finite: true,
    },
    {
      name: `${decay} removed`,
      bytes: edit((ts) => ts.splice(ts.indexOf(find(ts, decay)), 1)),
      names: [decay],
      finite: true,
    },
    {
      name: 'an extra tensor (ignored)',
      bytes: edit((ts) => ts.push({ name: 'blk.9.extra', shape: [2], data: new Float32Array(2) })),
      names: [],
      finite: true,
    },
    {
      name: `${outW} and blk.1.scan_in.weight swapped (same shape: a valid model)`,
      bytes: edit((ts) => {
        const [a, b] = [find(ts, outW), find(ts, 'blk.1.scan_in.weight')];
        [a.name, b.name] = [b.name, a.name];
      }),
      names: [],
      finite: true,
    },
    {
      name: `${inW} and blk.0.scan_out.weight swapped`,
      bytes: edit((ts) => {
        const [a, b] = [find(ts, inW), find(ts, 'blk.0.scan_out.weight')];
        [a.name, b.name] = [b.name, a.name];
      }),
      names: [inW, 'blk.0.scan_out.weight'],
      finite: true,
    },
    {
      name: 'blk.2.scan_out.weight all NaN',
      bytes: edit((ts) => find(ts, 'blk.2.scan_out.weight').data.fill(Number.NaN)),
      names: [],
      finite: false,
      allNaN: true,
    },
    {
      // Regression: the reference threw a RangeError, and wasm's int8 state code of NaN was 0 (it ran on).
      name: 'token_embd.weight all NaN (into the quantized GRU state)',
      bytes: edit((ts) => find(ts, 'token_embd.weight').data.fill(Number.NaN)),
      names: ['blk.2.scan_state: gru: int8 quantization of NaN (the state after step 0)'],
      finite: false,
      refused: QuantizerInputError,
    },
    {
      name: `${decay} Infinity`,
      bytes: edit((ts) => find(ts, decay).data.fill(Number.POSITIVE_INFINITY)),
      names: ['blk.2.scan_state: gru: int8 quantization of NaN (the state after step 0)'],
      finite: false,
      refused: QuantizerInputError,
      // NaN reaches the quantized GRU state of layer 2: both engines refuse it at step 0.
    },
  ];
}

function byteCases(format: Format, seed: number): Case[] {
  const whole = syntheticScanModel(SPEC, 5, format);
  const rand = prng(seed);
  const out: Case[] = [];
  const cuts = new Set<number>([0, 1, 3, 4, 7, 8, 9, 16, whole.length - 1]);
  while (cuts.size < 40) cuts.add(Math.floor(rand() < 0.7 ? rand() * 2048 : rand() * whole.length));
  for (const at of [...cuts].sort((a, b) => a - b))
    out.push({
      name: `truncated to ${at} of ${whole.length}`,
      bytes: whole.slice(0, at),
      names: [],
      finite: false,
    });
  const offsets = smallU64Offsets(whole.subarray(0, 2048));
  for (let i = 0; i < 40; i++) {
    const { bytes, how } = mutate(whole, rand, offsets);
    out.push({ name: `mutation ${i}: ${how}`, bytes, names: [], finite: false });
  }
  return out;
}

type Result = { ok: Float32Array } | { error: unknown };

async function runCase(c: Case, engine: Engine): Promise<Result> {
  const before = arenaBytes(engine);
  const what = `${engine.backend}: ${c.name}`;
  const r = await outcome(what, async () => {
    const model = await ScanModel.read(c.bytes);
    const { logits } = await scanForward(engine, model, [1]);
    expect(logits.length, `${what}: logits`).toBe(model.spec.vocab);
    return logits;
  });
  expect(arenaBytes(engine), `${what}: arena bytes after the case`).toBe(before);
  if (c.refused) expect('error' in r && r.error instanceof c.refused, `${what}: refused`).toBe(true);
  if ('error' in r) expectTypedError(what, r.error, c.names);
  else if (c.allNaN) expect(r.ok.every(Number.isNaN), `${what}: NaN propagates to every logit`).toBe(true);
  else if (c.finite) expect(r.ok.every(Number.isFinite), `${what}: finite logits`).toBe(true);
  return r;
}

describe.each(['safetensors', 'gguf'] as const)('scan model in %s: hostile files', (format) => {
  const tensors = baseTensors();
  const cases: Case[] = [
    ...BAD_SPECS.map(([name, spec, names]) => ({
      name: `spec: ${name}`,
      bytes: file(format, spec, tensors),
      names,
      finite: true,
    })),
    ...tensorCases(format),
    ...byteCases(format, SEED + format.length),
  ];

  it(`${cases.length} cases: reads and runs, or a typed error naming what is wrong`, async () => {
    let ran = 0;
    for (const c of cases) {
      const w = await runCase(c, wasm);
      const r = await runCase(c, reference);
      expect('ok' in w, `${c.name}: wasm and reference agree on whether it runs`).toBe('ok' in r);
      // A NaN reaching the int8 GRU state included: the same error, naming the same step.
      if ('error' in w && 'error' in r) {
        expect((w.error as Error).constructor, c.name).toBe((r.error as Error).constructor);
        expect((w.error as Error).message, c.name).toBe((r.error as Error).message);
      }
      if ('ok' in w && 'ok' in r) {
        ran++;
        const nan = (x: Float32Array) => x.map((v) => (Number.isNaN(v) ? 1 : 0)).join('');
        expect(nan(w.ok), `${c.name}: NaN logits at the same places`).toBe(nan(r.ok));
      }
    }
    expect(ran).toBeGreaterThanOrEqual(3);
  }, 20000);
});
