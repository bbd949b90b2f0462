import { availableParallelism } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WasmRuntime } from '../../src/backends/wasm/module.js';
import { SizeError, WasmRuntimeError, WorkerError } from '../../src/errors.js';
import { quantize } from '../../src/ops/quantize.js';
import { MAX_THREADS, threadSupport, WorkerPool } from '../../src/scheduler/pool.js';
import { GGML_TYPES, type GgmlTypeName } from '../../src/types/ggml-types.js';

const TYPES: GgmlTypeName[] = ['q4_K', 'q8_0', 'q6_K'];
const BLOCKS = 301; // not a multiple of any split below
const exitWorker = new URL('./fixtures/exit-worker.ts', import.meta.url);

function signal(n: number, seed: number): Float32Array {
  let s = seed;
  const x = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    x[i] = ((s >>> 8) / 2 ** 24) * 2 - 1;
  }
  return x;
}

interface Case {
  type: GgmlTypeName;
  src: number;
  dst: number;
  blocks: number;
  /** The whole dequantization in one call on the calling thread. */
  want: Uint32Array;
}

/** Quantized weights in wasm memory, and their 1-thread dequantization. */
function makeCase(rt: WasmRuntime, type: GgmlTypeName, blocks = BLOCKS): Case {
  const info = GGML_TYPES[type];
  const bytes = quantize(type, signal(blocks * info.blockSize, 7 + blocks));
  const src = rt.arena.alloc(bytes.length);
  const dst = rt.arena.alloc(blocks * info.blockSize * 4);
  rt.u8.set(bytes, src);
  rt.kernel(`dequant_${type}`)(src, dst, blocks);
  const want = new Uint32Array(rt.memory.buffer, dst, blocks * info.blockSize).slice();
  return { type, src, dst, blocks, want };
}

/** Dequantizes `c` split by block ranges over the pool, into a cleared output; returns the bits. */
async function splitDequant(
  pool: WorkerPool,
  rt: WasmRuntime,
  c: Case,
  granularity: number,
): Promise<Uint32Array> {
  const { blockSize, typeSize } = GGML_TYPES[c.type];
  const out = new Uint32Array(rt.memory.buffer, c.dst, c.blocks * blockSize);
  out.fill(0x7fc00001); // a NaN no kernel writes: a skipped element shows
  await pool.runRanges(`dequant_${c.type}`, pool.split(c.blocks, granularity), (r) => [
    c.src + r.start * typeSize,
    c.dst + r.start * blockSize * 4,
    r.end - r.start,
  ]);
  return new Uint32Array(rt.memory.buffer, c.dst, c.blocks * blockSize).slice();
}

function expectSameBits(got: Uint32Array, want: Uint32Array, what: string): void {
  expect(got.length).toBe(want.length);
  for (let i = 0; i < want.length; i++) {
    if (got[i] !== want[i])
      expect.fail(`${what}: element ${i} is 0x${got[i].toString(16)}, want 0x${want[i].toString(16)}`);
  }
}

/** Fault injection from outside: the pool's worker handles (private). */
function handles(pool: WorkerPool) {
  return (
    pool as unknown as { slots: { handle?: { terminate(): Promise<void>; exited: Promise<string> } }[] }
  ).slots
    .slice(1)
    .map((s) => s.handle!);
}

let rt: WasmRuntime;
let cases: Case[];

beforeAll(async () => {
  rt = await WasmRuntime.create();
  cases = TYPES.map((t) => makeCase(rt, t));
});

describe('WorkerPool results are bit-identical for 1, 2, 3 and 4 threads', () => {
  for (const threads of [1, 2, 3, 4]) {
    it(`${threads} thread(s)`, async () => {
      const pool = await WorkerPool.create({ threads, compiled: rt, memory: rt.memory });
      try {
        expect(pool.threads).toBe(threads);
        expect(pool.reason).toBeUndefined();
        for (const c of cases) {
          for (const g of [1, 3, 16]) {
            expectSameBits(
              await splitDequant(pool, rt, c, g),
              c.want,
              `${c.type} ${threads} threads, granularity ${g}`,
            );
          }
          // And across runs.
          expectSameBits(await splitDequant(pool, rt, c, 1), c.want, `${c.type} again`);
        }
      } finally {
        await pool.dispose();
      }
    });
  }
});

describe('WorkerPool with 3 threads', () => {
  let pool: WorkerPool;
  beforeAll(async () => {
    pool = await WorkerPool.create({ threads: 3, compiled: rt, memory: rt.memory });
    expect(pool.threads).toBe(3);
  });
  afterAll(() => pool.dispose());

  it('fans out 10 000 empty ops in a row without a hang, with all, some or no threads busy', async () => {
    const masks = [0b111, 0b000, 0b001, 0b010, 0b110]; // bit t: thread t takes part
    let calls = 0;
    for (let i = 0; i < 10_000; i++) {
      const mask = masks[i % masks.length];
      await pool.run('noop', (t) => {
        if (!((mask >> t) & 1)) return null;
        calls++;
        return [i];
      });
    }
    expect(calls).toBe(2000 * (3 + 0 + 1 + 1 + 2));
  });

  it('a trap on a worker rejects the op with a WorkerError; the pool replaces the worker and goes on', async () => {
    const err = await pool.run('trap_if', (t) => [t === 2 ? 1 : 0]).catch((e) => e);
    expect(err).toBeInstanceOf(WorkerError);
    expect(err.kernel).toBe('trap_if');
    expect(err.failures).toEqual([
      { thread: 2, kind: 'threw', message: expect.stringMatching(/unreachable/) },
    ]);
    expect(pool.threads).toBe(3);
    expectSameBits(await splitDequant(pool, rt, cases[0], 1), cases[0].want, 'after a worker trap');
  });

  it('a trap on the calling thread, or on every thread, is reported per thread', async () => {
    const own = await pool.run('trap_if', (t) => [t === 0 ? 1 : 0]).catch((e) => e);
    expect(own).toBeInstanceOf(WorkerError);
    expect(own.failures.map((f: { thread: number }) => f.thread)).toEqual([0]);
    const all = await pool.run('trap_if', () => [1]).catch((e) => e);
    expect(all.failures.map((f: { thread: number; kind: string }) => [f.thread, f.kind])).toEqual([
      [0, 'threw'],
      [1, 'threw'],
      [2, 'threw'],
    ]);
    expectSameBits(await splitDequant(pool, rt, cases[1], 3), cases[1].want, 'after traps everywhere');
  });

  it('a worker terminated while idle is replaced before the next op', async () => {
    const [h1] = handles(pool);
    await h1.terminate();
    await h1.exited;
    expectSameBits(await splitDequant(pool, rt, cases[2], 1), cases[2].want, 'after an idle worker died');
    expect(handles(pool)[0]).not.toBe(h1);
  });

  it('the control-plane path (a comlink call) runs a kernel on one worker; ops resume afterwards', async () => {
    const c = cases[0];
    const { blockSize } = GGML_TYPES[c.type];
    new Uint32Array(rt.memory.buffer, c.dst, c.blocks * blockSize).fill(0);
    await pool.callOnWorker(1, `dequant_${c.type}`, [c.src, c.dst, c.blocks]);
    expectSameBits(new Uint32Array(rt.memory.buffer, c.dst, c.blocks * blockSize).slice(), c.want, 'comlink');
    const err = await pool.callOnWorker(2, 'trap_if', [1]).catch((e) => e);
    expect(err).toBeInstanceOf(WorkerError);
    expect(err.failures[0]).toMatchObject({ thread: 2, kind: 'threw' });
    expectSameBits(await splitDequant(pool, rt, c, 1), c.want, 'after comlink calls');
  });

  it('rejects bad requests with typed errors before any work starts', async () => {
    await expect(pool.run('no_such_kernel', () => [])).rejects.toThrow(WasmRuntimeError);
    await expect(pool.run('noop', () => new Array(17).fill(0))).rejects.toThrow(SizeError);
    await expect(pool.runRanges('noop', pool.split(8).concat(pool.split(8)), () => [0])).rejects.toThrow(
      SizeError,
    );
    await expect(pool.callOnWorker(3, 'noop', [0])).rejects.toThrow(SizeError);
    await pool.run('noop', () => [0]);
  });
});

describe('worker death', () => {
  it('a worker that exits in the middle of an op: WorkerError, then the pool replaces it', async () => {
    const pool = await WorkerPool.create({
      threads: 3,
      compiled: rt,
      memory: rt.memory,
      workerUrl: exitWorker,
    });
    try {
      expect(pool.threads).toBe(3);
      await pool.run('noop', () => [0]);
      const err = await pool.run('noop', (t) => [t === 1 ? 0xdead : 0]).catch((e) => e);
      expect(err).toBeInstanceOf(WorkerError);
      expect(err.failures).toEqual([{ thread: 1, kind: 'died', message: expect.stringMatching(/code 3/) }]);
      expectSameBits(await splitDequant(pool, rt, cases[0], 1), cases[0].want, 'after a death');
      // Through the control plane too.
      const viaComlink = await pool.callOnWorker(2, 'noop', [0xdead]).catch((e) => e);
      expect(viaComlink).toBeInstanceOf(WorkerError);
      expect(viaComlink.failures[0]).toMatchObject({ thread: 2, kind: 'died' });
      expectSameBits(
        await splitDequant(pool, rt, cases[1], 1),
        cases[1].want,
        'after a death in a comlink call',
      );
    } finally {
      await pool.dispose();
    }
  });

  it('a worker terminated while an op waits on it', async () => {
    const pool = await WorkerPool.create({ threads: 2, compiled: rt, memory: rt.memory });
    try {
      // A long share for the worker, none for the calling thread.
      const big = makeCase(rt, 'q8_0', 1 << 14);
      const victim = handles(pool)[0];
      const op = pool.run('dequant_q8_0', (t) => (t === 1 ? [big.src, big.dst, big.blocks] : null));
      const [err] = await Promise.all([op.catch((e) => e), victim.terminate()]);
      // Either the worker died first (the op fails) or it finished first (the op succeeds).
      if (err !== undefined) {
        expect(err).toBeInstanceOf(WorkerError);
        expect(err.failures[0]).toMatchObject({ thread: 1, kind: 'died' });
      }
      expectSameBits(await splitDequant(pool, rt, big, 1), big.want, 'after termination mid-op');
      rt.arena.release(big.dst);
      rt.arena.release(big.src);
    } finally {
      await pool.dispose();
    }
  });
});

describe('memory growth', () => {
  it('workers started on a small memory work on regions allocated after it grew', async () => {
    const small = await WasmRuntime.create();
    const before = small.memory.buffer.byteLength;
    const pool = await WorkerPool.create({ threads: 3, compiled: small, memory: small.memory });
    try {
      const pad = small.arena.alloc(24 << 20); // pushes the next buffers past 24 MiB
      const c = makeCase(small, 'q8_0', 2039);
      expect(small.memory.buffer.byteLength).toBeGreaterThan(24 << 20);
      expect(c.dst).toBeGreaterThan(24 << 20);
      expect(before).toBeLessThan(2 << 20);
      expectSameBits(await splitDequant(pool, small, c, 1), c.want, 'after growth');
      small.arena.release(pad);
    } finally {
      await pool.dispose();
    }
  });
});

describe('lifecycle and fallback', () => {
  it('dispose ends every worker thread and is idempotent; the pool refuses ops afterwards', async () => {
    const pool = await WorkerPool.create({ threads: 3, compiled: rt, memory: rt.memory });
    const exits = handles(pool).map((h) => h.exited);
    const queued = pool.run('noop', () => [0]);
    const disposing = pool.dispose();
    await queued; // ops queued before dispose() still run
    await disposing;
    await pool.dispose();
    expect(await Promise.all(exits)).toHaveLength(2);
    await expect(pool.run('noop', () => [0])).rejects.toThrow(WasmRuntimeError);
  });

  it('without SharedArrayBuffer the pool runs on the calling thread and says why', async () => {
    const sab = globalThis.SharedArrayBuffer;
    // As on a browser page that is not cross-origin isolated.
    delete (globalThis as { SharedArrayBuffer?: unknown }).SharedArrayBuffer;
    let pool: WorkerPool;
    try {
      pool = await WorkerPool.create({ threads: 4, compiled: rt, memory: rt.memory });
    } finally {
      globalThis.SharedArrayBuffer = sab;
    }
    try {
      expect(pool.threads).toBe(1);
      expect(pool.reason).toMatch(/SharedArrayBuffer is not available.*cross-origin/);
      expectSameBits(await splitDequant(pool, rt, cases[0], 1), cases[0].want, 'fallback');
      const err = await pool.run('trap_if', () => [1]).catch((e) => e);
      expect(err).toBeInstanceOf(WorkerError);
      expectSameBits(await splitDequant(pool, rt, cases[1], 1), cases[1].want, 'fallback after a trap');
    } finally {
      await pool.dispose();
    }
  });

  it('threadSupport names what is missing', () => {
    expect(threadSupport(rt.memory)).toEqual({ ok: true });
    expect(threadSupport(rt.memory, { crossOriginIsolated: false })).toMatchObject({ ok: false });
    expect(threadSupport(new WebAssembly.Memory({ initial: 1 }))).toEqual({
      ok: false,
      reason: 'the wasm memory is not shared',
    });
  });

  it('defaults to the available parallelism', async () => {
    const pool = await WorkerPool.create({ compiled: rt, memory: rt.memory });
    try {
      expect(pool.threads).toBe(Math.min(availableParallelism(), MAX_THREADS));
      expectSameBits(await splitDequant(pool, rt, cases[2], 1), cases[2].want, 'default threads');
    } finally {
      await pool.dispose();
    }
  });

  it('rejects a thread count out of range', async () => {
    await expect(WorkerPool.create({ threads: 0, compiled: rt, memory: rt.memory })).rejects.toThrow(
      SizeError,
    );
    await expect(WorkerPool.create({ threads: 2.5, compiled: rt, memory: rt.memory })).rejects.toThrow(
      SizeError,
    );
  });
});
