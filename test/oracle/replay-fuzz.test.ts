/**
 * Fuzzing `plumbline replay`'s inputs (src/oracle/replay*.ts): a candidate
 * trace of a qwen3moe model (moe_* stages) and of a scan model (scan_*
 * stages, replayed by replay() and by scanReplay()) whose stages get the
 * wrong row count, width or rank, NaN values, are removed, swapped or added
 * past the model's layers; whose tokens metadata is missing, empty, out of
 * the vocabulary or of the wrong count; whose bytes are truncated or
 * mutated (seeded). Every case either gives a result in which a stage made
 * wrong is never judged ok and no row's reason is a JavaScript error
 * swallowed, or throws a typed error naming the stage or the tokens — with a
 * per-case timeout.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createEngine } from '../../src/engine/engine.js';
import { scanTraceBytes } from '../../src/model/scan-forward.js';
import { ScanModel, type ScanModelSpec, syntheticScanModel } from '../../src/model/scan-model.js';
import { syntheticModel } from '../../src/model/synthetic.js';
import { diff } from '../../src/oracle/diff.js';
import { replay } from '../../src/oracle/replay.js';
import { scanReplay } from '../../src/oracle/scan-replay.js';
import { encodeTrace, readTrace, type TraceTensorInput } from '../../src/trace/trace-file.js';
import { mutate, prng, smallU64Offsets } from '../formats/gguf/helpers.js';
import { runCli } from '../helpers/cli.js';
import { capturePass, traceTensors } from '../helpers/faulty-engine.js';
import { expectPoolClosed, expectTypedError, outcome } from '../model/fuzz-helpers.js';

const SEED = 0x4e91;
const TOKENS = [1, 5, 9, 3];
const MOE = syntheticModel({
  arch: 'qwen3moe',
  nEmbd: 32,
  nLayer: 2,
  nHead: 2,
  nHeadKv: 1,
  nFf: 32,
  nVocab: 340,
  moe: { nExpert: 4, nExpertUsed: 2, nFfExp: 32 },
  seed: 7,
});
const SCAN_SPEC: ScanModelSpec = {
  vocab: 24,
  dim: 8,
  layers: [
    { kind: 'gru', structure: 'dense', hidden: 8 },
    { kind: 'linear' },
    { kind: 'gru', structure: 'diagonal', hidden: 8, stateScale: 1 / 127 },
  ],
};
const SCAN = syntheticScanModel(SCAN_SPEC, 2, 'gguf');
const scanModel = await ScanModel.read(SCAN);

const wasm = await createEngine({ backend: 'wasm', threads: 2 });
afterAll(async () => {
  await wasm.dispose();
  expectPoolClosed(wasm);
});

interface Candidate {
  tensors: TraceTensorInput[];
  meta: Parameters<typeof encodeTrace>[1];
}

const moePass = await capturePass(wasm, MOE, TOKENS, 'exact');
const moeBase: Candidate = { tensors: traceTensors(moePass.stages), meta: moePass.meta };
const scanBytes = await scanTraceBytes(wasm, scanModel, SCAN, TOKENS);
const scanTrace = await readTrace(scanBytes);
const scanBase: Candidate = {
  tensors: await Promise.all(
    scanTrace.stages.map(async (s) => ({
      name: s.name,
      shape: s.shape,
      data: Float32Array.from(await scanTrace.read(s.name)),
    })),
  ),
  meta: {
    producer: 'test',
    backend: 'wasm',
    model: scanTrace.metadata.model as string,
    tokens: TOKENS,
    numerics: 'exact',
  },
};

interface Case {
  name: string;
  bytes: Uint8Array;
  /** What an error must name (any of these); empty: only its type is checked. */
  names: string[];
  /** A stage made wrong: its row, if any, must not be judged ok or carried. */
  wrong?: string;
}

const clone = (c: Candidate): Candidate => ({
  tensors: c.tensors.map((t) => ({ ...t, shape: [...t.shape], data: Float32Array.from(t.data) })),
  meta: { ...c.meta },
});

/** Stage edits: wrong shapes and counts, NaN, removed, swapped, past the last layer. */
function stageCases(base: Candidate, picks: string[]): Case[] {
  const out: Case[] = [];
  const edited = (fn: (c: Candidate) => void) => {
    const c = clone(base);
    fn(c);
    return encodeTrace(c.tensors, c.meta);
  };
  const at = (c: Candidate, name: string) => c.tensors.find((t) => t.name === name) as TraceTensorInput;
  for (const name of picks) {
    const set = (c: Candidate, shape: number[], data: Float32Array) => {
      const t = at(c, name);
      t.shape = shape;
      t.data = data;
    };
    const t0 = at(base, name);
    const cols = t0.shape[t0.shape.length - 1];
    const rows = t0.data.length / cols;
    const d0 = t0.data as Float32Array;
    out.push(
      {
        name: `${name}: one row more`,
        bytes: edited((c) => set(c, [rows + 1, cols], Float32Array.of(...d0, ...d0.subarray(0, cols)))),
        names: [name],
        wrong: name,
      },
      {
        name: `${name}: one row fewer`,
        bytes: edited((c) => set(c, [rows - 1, cols], d0.slice(0, (rows - 1) * cols))),
        names: [name],
        wrong: name,
      },
      {
        name: `${name}: one column fewer`,
        bytes: edited((c) =>
          set(
            c,
            [rows, cols - 1],
            d0.filter((_, i) => i % cols !== cols - 1),
          ),
        ),
        names: [name],
        wrong: name,
      },
      {
        name: `${name}: flattened`,
        bytes: edited((c) => set(c, [d0.length], d0.slice())),
        names: [name],
      },
      {
        name: `${name}: no rows`,
        bytes: edited((c) => set(c, [0, cols], new Float32Array(0))),
        names: [name],
        wrong: name,
      },
      {
        name: `${name}: all NaN`,
        bytes: edited((c) => set(c, [...t0.shape], new Float32Array(d0.length).fill(Number.NaN))),
        names: [name],
        wrong: name,
      },
      {
        name: `${name}: one NaN`,
        bytes: edited((c) => {
          const d = d0.slice();
          d[d.length >> 1] = Number.NaN;
          set(c, [...t0.shape], d);
        }),
        names: [name],
        wrong: name,
      },
      {
        name: `${name}: removed`,
        bytes: edited((c) => {
          c.tensors = c.tensors.filter((t) => t.name !== name);
        }),
        names: [name],
      },
    );
  }
  const last = base.tensors.filter((t) => t.name.startsWith('blk.')).at(-1) as TraceTensorInput;
  const stage = last.name.replace(/^blk\.\d+\./, '');
  out.push({
    name: `blk.99.${stage} past the model's layers`,
    bytes: edited((c) => c.tensors.push({ ...last, name: `blk.99.${stage}` })),
    names: ['blk.99', 'layer'],
  });
  return out;
}

function metadataCases(base: Candidate, vocab: number): Case[] {
  const withMeta = (fn: (m: Record<string, unknown>) => void) => {
    const c = clone(base);
    fn(c.meta as unknown as Record<string, unknown>);
    return encodeTrace(c.tensors, c.meta);
  };
  return [
    { name: 'tokens empty', bytes: withMeta((m) => (m.tokens = [])), names: ['tokens'] },
    {
      name: `token ${vocab} (past the vocabulary)`,
      bytes: withMeta((m) => (m.tokens = [...TOKENS.slice(1), vocab])),
      names: ['token', String(vocab)],
    },
    {
      name: 'token 2^31',
      bytes: withMeta((m) => (m.tokens = [...TOKENS.slice(1), 2 ** 31])),
      names: ['token', String(2 ** 31)],
    },
    {
      name: 'one token more than the stages have rows',
      bytes: withMeta((m) => (m.tokens = [...TOKENS, 2])),
      names: ['token'],
    },
    { name: 'one token fewer', bytes: withMeta((m) => (m.tokens = TOKENS.slice(1))), names: ['token'] },
    { name: 'numerics "bogus"', bytes: withMeta((m) => (m.numerics = 'bogus')), names: ['numerics'] },
    { name: 'another model sha256', bytes: withMeta((m) => (m.model = '0'.repeat(64))), names: [] },
  ];
}

/** Traces with no tokens (or tokens that are not an array of indices) in __metadata__: written raw. */
async function rawTokenCases(base: Candidate): Promise<Case[]> {
  const { writeSafetensors } = await import('../../src/formats/safetensors/writer.js');
  const raw = (tokens: string | undefined) => {
    const meta: Record<string, string> = {
      format: 'plumbline-trace/1',
      producer: 'test',
      backend: 'wasm',
      numerics: 'exact',
    };
    if (tokens !== undefined) meta.tokens = tokens;
    return writeSafetensors(
      base.tensors.map((t) => ({ name: t.name, dtype: 'F32' as const, shape: t.shape, data: t.data })),
      meta,
    );
  };
  return [
    { name: 'tokens missing', bytes: raw(undefined), names: ['tokens'] },
    { name: 'tokens not JSON', bytes: raw('[1, 2'), names: ['tokens'] },
    { name: 'tokens with -1', bytes: raw('[1, -1]'), names: ['tokens'] },
    { name: 'tokens with 1.5', bytes: raw('[1, 1.5]'), names: ['tokens'] },
    { name: 'tokens an object', bytes: raw('{"0": 1}'), names: ['tokens'] },
  ];
}

function byteCases(base: Candidate, seed: number): Case[] {
  const whole = encodeTrace(base.tensors, base.meta);
  const rand = prng(seed);
  const out: Case[] = [];
  const cuts = new Set<number>([0, 7, 8, 9, whole.length - 1]);
  while (cuts.size < 20) cuts.add(Math.floor(rand() * whole.length));
  for (const at of [...cuts].sort((a, b) => a - b))
    out.push({ name: `truncated to ${at} of ${whole.length}`, bytes: whole.slice(0, at), names: [] });
  const offsets = smallU64Offsets(whole.subarray(0, 8));
  for (let i = 0; i < 20; i++) {
    const { bytes, how } = mutate(whole, rand, offsets);
    out.push({ name: `mutation ${i}: ${how}`, bytes, names: [] });
  }
  return out;
}

/** JavaScript's own errors, swallowed into a row's reason, would read like these. */
const JS_ERROR =
  /Cannot read prop|is not a function|is not iterable|Invalid (typed )?array length|out of bounds|of undefined|of null/;

async function checkReplay(c: Case, model: Uint8Array, reference: 'none' | 'compute'): Promise<boolean> {
  const what = `replay (${reference}): ${c.name}`;
  const r = await outcome(what, () => replay(model, c.bytes, { reference }));
  if ('error' in r) {
    expectTypedError(what, r.error, c.names);
    return false;
  }
  for (const row of r.ok.stages) {
    expect(row.reason, `${what}: ${row.name}'s reason`).not.toMatch(JS_ERROR);
    if (row.name === c.wrong)
      expect(['ok', 'carried'], `${what}: ${row.name} judged ${row.verdict}`).not.toContain(row.verdict);
  }
  return true;
}

/** `plumbline diff` of the clean scan trace against the case: a row per stage, a wrong one never passing. */
async function checkScanDiff(c: Case): Promise<void> {
  const what = `diff: ${c.name}`;
  const r = await outcome(what, () => diff(scanBytes, c.bytes, { tier: 'f32' }));
  if ('error' in r) {
    expectTypedError(what, r.error, c.names);
    return;
  }
  const row = r.ok.stages.find((s) => s.name === c.wrong);
  if (row) expect(row.verdict, `${what}: ${row.name}`).not.toBe('pass');
}

async function checkScanReplay(c: Case): Promise<boolean> {
  const what = `scanReplay: ${c.name}`;
  const r = await outcome(what, () => scanReplay(scanModel, c.bytes));
  if ('error' in r) {
    expectTypedError(what, r.error, c.names);
    return false;
  }
  for (const row of r.ok.rows) {
    expect(row.reason ?? '', `${what}: ${row.name}'s reason`).not.toMatch(JS_ERROR);
    if (row.name === c.wrong) expect(row.verdict, `${what}: ${row.name}`).not.toBe('ok');
  }
  return true;
}

describe('replay of a qwen3moe candidate: hostile traces', () => {
  const picks = [
    'embedding',
    'blk.0.attn_norm',
    'blk.0.moe_router',
    'blk.0.moe_out',
    'blk.1.ffn_out',
    'logits',
  ].filter((n) => moeBase.tensors.some((t) => t.name === n));

  it('picks MoE stages that the trace has', () => {
    expect(picks.filter((n) => n.includes('moe')).length).toBeGreaterThanOrEqual(1);
  });

  it('stage, metadata and byte cases: a result that blames no good stage, or a typed error', async () => {
    const cases = [
      ...stageCases(moeBase, picks),
      ...metadataCases(moeBase, 340),
      ...(await rawTokenCases(moeBase)),
      ...byteCases(moeBase, SEED),
    ];
    let results = 0;
    for (const c of cases) if (await checkReplay(c, MOE, 'none')) results++;
    expect(results).toBeGreaterThan(10);
  }, 20000);

  it('the tokens cases with the reference computed', async () => {
    for (const c of [...metadataCases(moeBase, 340), ...(await rawTokenCases(moeBase))])
      await checkReplay(c, MOE, 'compute');
  }, 20000);
});

describe('replay of a scan-model candidate: hostile traces', () => {
  const picks = [
    'embedding',
    'blk.0.scan_in',
    'blk.0.scan_state',
    'blk.1.scan_gates',
    'blk.2.scan_state',
    'blk.2.scan_out',
    'logits',
  ];

  it('every pick is a stage of the trace', () => {
    for (const p of picks)
      expect(
        scanBase.tensors.some((t) => t.name === p),
        p,
      ).toBe(true);
  });

  it('replay() and scanReplay(): a result that blames no good stage, or a typed error', async () => {
    const cases = [
      ...stageCases(scanBase, picks),
      ...metadataCases(scanBase, 24),
      ...(await rawTokenCases(scanBase)),
      ...byteCases(scanBase, SEED + 1),
    ];
    let results = 0;
    for (const c of cases) {
      if (await checkReplay(c, SCAN, 'none')) results++;
      if (await checkScanReplay(c)) results++;
      await checkScanDiff(c);
    }
    expect(results).toBeGreaterThan(10);
  }, 20000);
});

describe('replay with hostile tokens given', () => {
  // Regression: -1, 1.5 and NaN were taken, and only the embedding's row said why it could not be replayed.
  it.each([
    ['-1', [1, 5, 9, -1], true],
    ['1.5', [1, 5, 9, 1.5], true],
    ['NaN', [1, 5, 9, Number.NaN], true],
    ['2^40', [1, 5, 9, 2 ** 40], false],
    ['340 (past the vocabulary)', [1, 5, 9, 340], false],
    ['one more than the rows', [1, 5, 9, 3, 2], false],
  ])('tokens %s: a typed error naming the tokens, or a result', async (_, tokens, refused) => {
    const [noTokens] = await rawTokenCases(moeBase);
    for (const reference of ['none', 'compute'] as const) {
      const what = `tokens ${tokens} (${reference})`;
      const r = await outcome(what, () => replay(MOE, noTokens.bytes, { tokens, reference }));
      if (refused) expect('error' in r, `${what}: refused`).toBe(true);
      if ('error' in r) expectTypedError(what, r.error, ['token']);
      else for (const row of r.ok.stages) expect(row.reason, `${what}: ${row.name}`).not.toMatch(JS_ERROR);
    }
  });
});

describe('plumbline replay on hostile files', () => {
  const dir = mkdtempSync(join(tmpdir(), 'plumbline-replay-fuzz-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const put = (name: string, bytes: Uint8Array) => {
    const path = join(dir, name);
    writeFileSync(path, bytes);
    return path;
  };

  it('exits 1 or 2 with a typed error, or reports; never a JavaScript error', async () => {
    const model = put('moe.gguf', MOE);
    const scan = put('scan.gguf', SCAN);
    const good = put('good.safetensors', encodeTrace(moeBase.tensors, moeBase.meta));
    const scanGood = put('scan.safetensors', encodeTrace(scanBase.tensors, scanBase.meta));
    const [noTokens] = await rawTokenCases(moeBase);
    const [rowMore] = stageCases(scanBase, ['blk.0.scan_state']);
    const runs: [string, string[], string][] = [
      ['the model truncated', [put('cut.gguf', MOE.slice(0, 1000)), good], 'GgufError'],
      [
        'the candidate truncated',
        [model, put('cut.safetensors', encodeTrace(moeBase.tensors, moeBase.meta).slice(0, 100))],
        'Error',
      ],
      ['no tokens', [model, put('notokens.safetensors', noTokens.bytes)], 'tokens'],
      ['--tokens not numbers', [model, good, '--tokens', '1,x'], '--tokens'],
      ['--tokens negative', [model, good, '--tokens', '1,-1'], '--tokens'],
      ['--tokens 1e30', [model, good, '--tokens', '1e30'], '--tokens'],
      ['a scan trace, a row too many', [scan, put('rowmore.safetensors', rowMore.bytes)], 'blk.0.scan_state'],
      ['a scan trace on the MoE model', [model, scanGood], ''],
      ['a MoE trace on the scan model', [scan, good], ''],
    ];
    for (const [what, args, names] of runs) {
      const r = await runCli(['replay', ...args, '--no-reference']);
      const text = `${what}: exit ${r.code}\n${r.err}`;
      expect([0, 1, 2], text).toContain(r.code);
      expect(r.err, text).not.toMatch(/plumbline replay: (TypeError|RangeError|Error):/);
      expect(`${r.out}\n${r.err}`, text).toContain(names);
    }
  }, 20000);
});
