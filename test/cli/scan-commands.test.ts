import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { encodeTrace, readTrace } from '../../src/trace/trace-file.js';
import { runCli } from '../helpers/cli.js';

const dir = await mkdtemp(join(tmpdir(), 'plumbline-scan-cli-'));
afterAll(() => rm(dir, { recursive: true, force: true }));

const run = (...argv: string[]) => runCli(argv);

describe('plumbline scan-trace, diff, scan-replay', () => {
  const model = join(dir, 'scan.safetensors');
  const [wasm, ref, bad] = ['wasm', 'ref', 'bad'].map((n) => join(dir, `${n}.trace.safetensors`));

  it('traces a synthetic scan model on both engines; diff finds no divergence; replay finds no fault', async () => {
    const tokens = '1,5,9,2-12,40';
    let r = await run(
      'scan-trace',
      model,
      '--synthetic',
      '--tokens',
      tokens,
      '--out',
      wasm,
      '--threads',
      '2',
    );
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/15 tokens, 5 scan layers on wasm/);
    r = await run('scan-trace', model, '--tokens', tokens, '--out', ref, '--backend', 'reference', '--json');
    expect(JSON.parse(r.out).backend).toBe('reference');
    r = await run('diff', ref, wasm);
    expect(r.code, r.out).toBe(0);
    expect(r.out).toMatch(/blk\.4\.scan_state/);
    r = await run('scan-replay', model, wasm);
    expect(r.code, r.out).toBe(0);
    expect(r.out).toMatch(/every step follows from its own inputs at the f32 tier/);
  });

  it('scan-replay names the step of a planted fault (exit 1)', async () => {
    const t = await readTrace(wasm);
    const tensors = [];
    for (const e of t.stages) {
      const data = Float32Array.from(await t.read(e.name));
      if (e.name === 'blk.3.scan_state') data[6 * e.shape[1] + 1] += 0.01;
      tensors.push({ name: e.name, shape: e.shape, data });
    }
    const meta = t.metadata;
    await t.close();
    await writeFile(
      bad,
      encodeTrace(tensors, {
        producer: 'test',
        backend: 'planted',
        model: meta.model as string,
        tokens: meta.tokens as number[],
        numerics: 'exact',
      }),
    );
    const r = await run('scan-replay', model, bad);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/first fault: blk\.3\.scan_state at step 6/);
    const j = await run('scan-replay', model, bad, '--json');
    expect(JSON.parse(j.out).firstFault).toEqual({
      name: 'blk.3.scan_state',
      layer: 3,
      stage: 'scan_state',
      step: 6,
    });
  });

  it('a GGUF scan model: plumbline replay judges the scan stages too', async () => {
    const gguf = join(dir, 'scan.gguf');
    const cand = join(dir, 'gguf.trace.safetensors');
    let r = await run('scan-trace', gguf, '--synthetic', '--tokens', '3-14', '--out', cand, '--threads', '1');
    expect(r.code, r.err).toBe(0);
    r = await run('replay', gguf, cand, '--no-reference', '--json');
    const j = JSON.parse(r.out);
    const scan = j.stages.filter((s: { stage: string }) => s.stage.startsWith('scan_'));
    expect(scan.length).toBe(20);
    expect(scan.every((s: { verdict: string }) => s.verdict === 'ok')).toBe(true);
  });

  it('usage errors exit 2 and name the problem', async () => {
    expect((await run('scan-trace', model, '--tokens', '1')).err).toMatch(/missing --out/);
    expect((await run('scan-replay', model, wasm, '--tier', 'exact')).code).toBe(2);
    expect(
      (await run('scan-trace', join(dir, 'none.safetensors'), '--tokens', '1', '--out', bad)).err,
    ).toMatch(/does not exist/);
    expect((await readFile(model)).length).toBeGreaterThan(0);
  });
});
