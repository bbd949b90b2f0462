/**
 * The browser test's page: runs the case model (../case.ts) on the wasm
 * engine with Web Workers — the portable wasm-simd build and the best build
 * this browser validates — and, with ?webgpu=1, on the WebGPU engine; compares
 * each with what Node computed (/node.json) and renders the parity tables.
 * The outcome is left in window.plumbline for the test.
 */
import {
  compareLogits,
  createEngine,
  type EngineOptions,
  errorMetrics,
  generate,
  parityMatrix,
} from 'plumbline';
import {
  base64ToF32,
  f32ToBase64,
  GEN_TOKENS,
  type NodeResult,
  type PageResult,
  type PageRun,
  PROMPT,
} from '../case.js';

declare global {
  interface Window {
    plumbline?: PageResult | { error: string };
  }
}

const params = new URLSearchParams(location.search);
const threads = Number(params.get('threads') ?? 2);

function sameBits(a: Float32Array, b: Float32Array): boolean {
  if (a.length !== b.length) return false;
  const x = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const y = new Uint32Array(b.buffer, b.byteOffset, b.length);
  return x.every((v, i) => v === y[i]);
}

async function runModel(
  label: string,
  opts: EngineOptions,
  modelBytes: Uint8Array,
  node: NodeResult,
): Promise<PageRun> {
  const engine = await createEngine(opts);
  try {
    const t0 = performance.now();
    const model = await engine.load(modelBytes, { numerics: 'exact' });
    try {
      const { logits } = await model.forward(PROMPT, { logits: 'all' });
      const gen = await generate(model, [...PROMPT], { maxTokens: GEN_TOKENS, stopAtEog: false });
      const ms = performance.now() - t0;
      const wasm = base64ToF32(node.wasmLogits);
      const ref = compareLogits(logits, base64ToF32(node.referenceLogits), model, PROMPT.length, 'exact');
      return {
        label,
        backend: engine.backend,
        threads: engine.threads,
        ...(engine.threadsReason ? { threadsReason: engine.threadsReason } : {}),
        logits: f32ToBase64(logits),
        tokens: gen.tokens,
        bitIdentical: sameBits(logits, wasm),
        maxUlp: errorMetrics(logits, wasm).ulp.max.value,
        referencePass: ref.pass,
        referenceReason: ref.reason,
        ms,
        ...(engine.opReport ? { opReport: engine.opReport() } : {}),
      };
    } finally {
      model.dispose();
    }
  } finally {
    await engine.dispose();
  }
}

function table(caption: string, head: string[], rows: (string | { text: string; pass: boolean })[][]) {
  const t = document.createElement('table');
  t.createCaption().textContent = caption;
  const hr = t.createTHead().insertRow();
  for (const h of head) hr.appendChild(document.createElement('th')).textContent = h;
  const body = t.createTBody();
  for (const r of rows) {
    const tr = body.insertRow();
    for (const c of r) {
      const td = tr.insertCell();
      if (typeof c === 'string') td.textContent = c;
      else {
        td.textContent = c.text;
        td.className = c.pass ? 'pass' : 'fail';
      }
    }
  }
  document.getElementById('tables')!.appendChild(t);
  return t;
}

function render(r: PageResult, node: NodeResult): void {
  table(
    `Model logits (${PROMPT.length} tokens) against Node; crossOriginIsolated: ${r.crossOriginIsolated}`,
    [
      'run',
      'engine.backend',
      'threads',
      'vs Node wasm-simd',
      'vs Node float64 reference',
      'greedy tokens',
      'ms',
    ],
    r.runs.map((x) => {
      const sameTokens = x.tokens.join() === node.wasmTokens.join();
      return [
        x.label,
        x.backend,
        String(x.threads),
        // Only the SIMD128 build promises the same bits everywhere; others are judged against the reference.
        x.backend === 'wasm-simd'
          ? { text: x.bitIdentical ? 'bit-identical' : `max ${x.maxUlp} ULP`, pass: x.bitIdentical }
          : x.bitIdentical
            ? 'bit-identical'
            : `max ${x.maxUlp} ULP (not promised)`,
        { text: `${x.referencePass ? 'pass' : 'FAIL'}: ${x.referenceReason}`, pass: x.referencePass },
        {
          text: `${x.tokens.join(' ')} ${sameTokens ? '(= Node)' : `(Node: ${node.wasmTokens.join(' ')})`}`,
          pass: sameTokens,
        },
        x.ms.toFixed(0),
      ];
    }),
  );
  for (const x of r.runs.filter((x) => x.opReport)) {
    table(
      `${x.label}: where each op of the model ran (adapter: ${r.webgpuAdapter})`,
      ['op', 'GPU calls', 'CPU calls', 'why on the CPU'],
      Object.entries(x.opReport!).map(([op, n]) => [op, String(n.webgpu), String(n.cpu), n.why ?? '']),
    );
  }
  for (const m of r.parity) {
    table(
      `Op parity matrix in this browser: ${m.backend}, ${m.threads} threads, against the float64 reference`,
      ['op', 'dtype', 'shape', 'ran on', 'tier', 'worst |a − r| / bound', 'verdict'],
      m.rows.map((p) => [
        p.op,
        p.dtype,
        p.shape,
        p.ranOn,
        p.tier,
        p.worstRatio === null ? '—' : p.worstRatio.toPrecision(3),
        { text: p.pass ? 'pass' : 'FAIL', pass: p.pass },
      ]),
    );
  }
}

async function fetchOk(url: string): Promise<Response> {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`GET ${url}: HTTP ${res.status}`);
  return res;
}

async function main(): Promise<void> {
  const node = (await (await fetchOk('./node.json')).json()) as NodeResult;
  const modelBytes = new Uint8Array(await (await fetchOk('./model.gguf')).arrayBuffer());
  const runs = [
    await runModel(
      `wasm-simd, ${threads} threads`,
      { backend: 'wasm', threads, wasmBuild: 'wasm-simd' },
      modelBytes,
      node,
    ),
    await runModel(`wasm (best build), ${threads} threads`, { backend: 'wasm', threads }, modelBytes, node),
  ];
  const result: PageResult = { crossOriginIsolated, runs, parity: [] };
  const parityEngines: EngineOptions[] = [{ backend: 'wasm', threads }];
  if (params.get('webgpu') === '1') {
    const adapter = await navigator.gpu?.requestAdapter();
    result.webgpuAdapter = adapter ? `${adapter.info.vendor} ${adapter.info.architecture}` : 'none';
    runs.push(await runModel('webgpu', { backend: 'webgpu', threads }, modelBytes, node));
    parityEngines.push({ backend: 'webgpu', threads });
  }
  for (const opts of parityEngines) {
    const engine = await createEngine(opts);
    try {
      const rows = (await parityMatrix(engine)).map((p) => ({
        op: p.op + (p.numerics ? ` (${p.numerics})` : ''),
        dtype: p.dtype,
        shape: p.shape,
        tier: p.tier,
        pass: p.pass,
        worstRatio: p.worstRatio,
        reason: p.reason,
        ranOn: p.ranOn,
      }));
      result.parity.push({ backend: engine.backend, threads: engine.threads, rows });
    } finally {
      await engine.dispose();
    }
  }
  render(result, node);
  document.getElementById('status')!.textContent = 'done';
  window.plumbline = result;
}

main().catch((e: unknown) => {
  const message = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
  const status = document.getElementById('status')!;
  status.textContent = message;
  status.className = 'error';
  window.plumbline = { error: message };
});
