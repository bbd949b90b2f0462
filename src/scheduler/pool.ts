/**
 * The worker pool: `threads - 1` workers plus the calling thread, each with
 * its own instance of the kernels' module over one shared WebAssembly.Memory.
 *
 * Control plane (start, load, stop, one-off calls): comlink messages.
 * Data plane (every op): the shared control block of protocol.ts. An op
 * writes each worker's kernel and arguments into its slot, bumps the slot's
 * GEN word (notifying only workers that sleep), runs the calling thread's own
 * share, then waits for the workers: spinning first (an adaptive budget),
 * then Atomics.wait in short slices where the thread may block (Node, workers)
 * or Atomics.waitAsync where it may not (a browser's main thread). A dispatch costs
 * microseconds, not a message round trip (bench/scheduler.bench.ts).
 *
 * Failure: a kernel that traps or throws on any thread, or a worker that dies,
 * makes the op reject with a WorkerError once every surviving thread is done;
 * the pool discards what failed (an instance that trapped, a dead worker),
 * starts a replacement, and stays usable.
 *
 * Without shared memory (a browser page that is not cross-origin isolated) the
 * pool runs every op on the calling thread: `threads` is 1 and `reason` says why.
 */
import type { CompiledKernels } from '../backends/wasm/module.js';
import { SizeError, WasmRuntimeError, WorkerError, type WorkerFailure } from '../errors.js';
import { partition, type Range } from './partition.js';
import {
  ARGC,
  ControlBlock,
  callKernel,
  controlBytes,
  DONE,
  FAILED,
  GEN,
  KERNEL,
  MAX_ARGS,
  OK,
  OPS,
  PARK,
  PENDING,
  SLEEPING,
  SpinBudget,
  STATUS,
  WAITING,
} from './protocol.js';
import { isNode, spawnWorker, type WorkerHandle } from './spawn.js';

export const MAX_THREADS = 64;
const DEFAULT_SPIN_MICROS = 100;
/** Longest blocking wait before the caller lets its event loop run (worker exit events). */
const BLOCK_SLICE_MS = 5;
/** Longest single waitAsync before the pool re-checks the slots (a guard, not a poll: workers notify). */
const ASYNC_SLICE_MS = 50;
const STOP_TIMEOUT_MS = 1000;

type Kernel = (...args: number[]) => unknown;
/** A thread's kernel arguments (at most MAX_ARGS numbers), or null for no work on that thread. */
export type KernelArgs = readonly number[] | null;

export interface WorkerPoolOptions {
  /** Threads including the calling thread (default: the machine's available parallelism). */
  threads?: number;
  /** The compiled kernels (compileKernels() in backends/wasm/module.ts, or a WasmRuntime). */
  compiled: Pick<CompiledKernels, 'module'>;
  /** The shared memory every thread's instance imports. */
  memory: WebAssembly.Memory;
  /** How long idle workers, and the calling thread waiting for them, spin before blocking. */
  spinMicros?: number;
  /** Worker script to start instead of the built-in one (bundlers, tests). */
  workerUrl?: URL | string;
}

/** Whether this runtime can run the pool's workers on `memory`; if not, why. */
export function threadSupport(
  memory: WebAssembly.Memory,
  scope: { crossOriginIsolated?: boolean; Worker?: unknown } = globalThis as never,
): { ok: true } | { ok: false; reason: string } {
  if (typeof SharedArrayBuffer === 'undefined' || scope.crossOriginIsolated === false) {
    return {
      ok: false,
      reason:
        'SharedArrayBuffer is not available (a browser page needs cross-origin isolation: COOP same-origin and COEP require-corp)',
    };
  }
  if (!(memory.buffer instanceof SharedArrayBuffer))
    return { ok: false, reason: 'the wasm memory is not shared' };
  if (!isNode && typeof scope.Worker !== 'function') {
    return { ok: false, reason: 'Web Workers are not available here' };
  }
  return { ok: true };
}

async function defaultThreads(): Promise<number> {
  if (isNode) {
    const name = 'node:os'; // hidden from bundlers: Node only
    const os = (await import(/* @vite-ignore */ name)) as typeof import('node:os');
    return os.availableParallelism();
  }
  return globalThis.navigator?.hardwareConcurrency ?? 1;
}

async function instantiate(module: WebAssembly.Module, memory: WebAssembly.Memory): Promise<Kernel[]> {
  const instance = await WebAssembly.instantiate(module, { env: { memory } });
  const exports = instance.exports as Record<string, unknown>;
  (exports._start as (() => void) | undefined)?.();
  return kernelNames(module).map((n) => exports[n] as Kernel);
}

function kernelNames(module: WebAssembly.Module): string[] {
  return WebAssembly.Module.exports(module)
    .filter((e) => e.kind === 'function')
    .map((e) => e.name);
}

function describe(e: unknown): string {
  return e instanceof Error ? `${e.name}: ${e.message}` : String(e);
}

/** Yields to the event loop (so worker exit events are delivered). */
function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Rejects when the worker dies first. */
function orDeath<T>(h: WorkerHandle, p: Promise<T>): Promise<T> {
  return Promise.race([
    p,
    h.exited.then((why) => {
      throw new Error(`the worker died: ${why}`);
    }),
  ]);
}

/** Atomics.waitAsync (ES2024; V8 since 8.7, so Node 16+ and Chromium 87+). */
const waitAsync = (
  Atomics as {
    waitAsync?: (
      a: Int32Array,
      index: number,
      value: number,
      ms: number,
    ) => { async: boolean; value: Promise<string> | string };
  }
).waitAsync;

/** Whether this thread may block in Atomics.wait: everywhere but a browser's main thread. */
const canBlock = (() => {
  try {
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 1, 0);
    return true;
  } catch {
    return false;
  }
})();

const yieldTask: () => Promise<void> = isNode ? () => new Promise((r) => setImmediate(r)) : () => sleep(0);

/**
 * Waits until i32[index] !== value, or a while. Where the thread may block
 * (Node's main thread, any worker) Atomics.wait wakes quickest (here ~30%
 * below waitAsync under load); it blocks the event loop, so it waits in
 * slices and yields between them, letting a worker's exit event through.
 * A browser's main thread may not block: Atomics.waitAsync there.
 */
async function waitFor(i32: Int32Array, index: number, value: number): Promise<void> {
  if (canBlock) {
    if (Atomics.wait(i32, index, value, BLOCK_SLICE_MS) === 'timed-out') await yieldTask();
    return;
  }
  if (waitAsync) {
    const r = waitAsync(i32, index, value, ASYNC_SLICE_MS);
    if (r.async) await r.value;
    return;
  }
  await sleep(1);
}

interface Slot {
  handle: WorkerHandle | undefined;
  /** In its job loop (else parked in its event loop, reachable by comlink). */
  serving: boolean;
}

interface Op {
  gen: number;
  /** Worker threads posted a job in this op. */
  active: number[];
  /** Threads that died during the op, with why. */
  died: Map<number, string>;
}

/**
 * ```ts
 * const rt = await WasmRuntime.create();
 * const pool = await WorkerPool.create({ threads: 4, compiled: rt, memory: rt.memory });
 * // Dequantize `blocks` q4_K blocks (144 bytes in, 256 floats out each), split by block ranges:
 * await pool.runRanges('dequant_q4_K', pool.split(blocks), (r) => [src + r.start * 144, dst + r.start * 1024, r.end - r.start]);
 * await pool.dispose();
 * ```
 */
export class WorkerPool {
  /** Kernel names in index order (the module's exported functions). */
  readonly kernels: readonly string[];
  private readonly kernelIndex: Map<string, number>;
  private readonly ctrl: ControlBlock | undefined;
  private readonly slots: Slot[] = [];
  private readonly spinMs: number;
  private readonly spin: SpinBudget;
  private own: Kernel[];
  private queue: Promise<unknown> = Promise.resolve();
  private op: Op | undefined;
  /** Some slot is dead or parked: check before the next op. */
  private dirty = false;
  private disposed = false;

  private constructor(
    /** Threads that share an op's work, the calling thread included (1: no workers). */
    readonly threads: number,
    /** Why there are fewer threads than asked (no shared memory, no workers); undefined otherwise. */
    readonly reason: string | undefined,
    private readonly module: WebAssembly.Module,
    private readonly memory: WebAssembly.Memory,
    own: Kernel[],
    spinMicros: number,
    private readonly workerUrl: URL | string | undefined,
  ) {
    this.kernels = kernelNames(module);
    this.kernelIndex = new Map(this.kernels.map((n, i) => [n, i]));
    this.own = own;
    this.spinMs = spinMicros / 1000;
    this.spin = new SpinBudget(this.spinMs);
    if (threads > 1) {
      this.ctrl = new ControlBlock(new SharedArrayBuffer(controlBytes(threads)));
      for (let t = 0; t < threads; t++) this.slots.push({ handle: undefined, serving: false });
    }
  }

  static async create(opts: WorkerPoolOptions): Promise<WorkerPool> {
    const wanted = opts.threads ?? Math.min(MAX_THREADS, await defaultThreads());
    if (!Number.isSafeInteger(wanted) || wanted < 1 || wanted > MAX_THREADS) {
      throw new SizeError(`WorkerPool: threads must be an integer in [1, ${MAX_THREADS}], got ${wanted}`);
    }
    const spin = opts.spinMicros ?? DEFAULT_SPIN_MICROS;
    if (!(spin >= 0)) throw new SizeError(`WorkerPool: spinMicros must be >= 0, got ${opts.spinMicros}`);
    const own = await instantiate(opts.compiled.module, opts.memory);
    const support = wanted > 1 ? threadSupport(opts.memory) : ({ ok: true } as const);
    const make = (threads: number, reason?: string) =>
      new WorkerPool(threads, reason, opts.compiled.module, opts.memory, own, spin, opts.workerUrl);
    if (!support.ok) return make(1, support.reason);
    const pool = make(wanted);
    if (wanted === 1) return pool;
    try {
      await Promise.all(pool.slots.map((_, t) => (t === 0 ? undefined : pool.startWorker(t))));
    } catch (e) {
      await pool.terminateAll();
      return make(1, `cannot start workers: ${describe(e)}`);
    }
    return pool;
  }

  /** Splits [0, total) over this pool's threads on a `granularity` grid (partition()). */
  split(total: number, granularity = 1): Range[] {
    return partition(total, this.threads, granularity);
  }

  /**
   * Runs `kernel` once on each thread t (0 = the calling thread) for which
   * `args(t)` is not null, with those arguments; resolves when all are done.
   * Ops run one at a time, in call order.
   */
  run(kernel: string, args: (thread: number) => KernelArgs): Promise<void> {
    return this.enqueue(() => this.exec(kernel, args));
  }

  /** Runs `kernel` over `ranges` (at most one per thread; thread t owns ranges[t]); empty ranges are skipped. */
  runRanges(
    kernel: string,
    ranges: readonly Range[],
    args: (range: Range, thread: number) => readonly number[],
  ): Promise<void> {
    if (ranges.length > this.threads) {
      return Promise.reject(new SizeError(`${ranges.length} ranges for a pool of ${this.threads} threads`));
    }
    return this.run(kernel, (t) => {
      const r = ranges[t];
      return r && r.end > r.start ? args(r, t) : null;
    });
  }

  /**
   * Runs one kernel call on worker `thread` (1..threads-1) through a comlink
   * message instead of the shared-memory job: the control-plane path, a
   * message round trip per call. Parks the worker; the next run() resumes it.
   */
  callOnWorker(thread: number, kernel: string, args: readonly number[]): Promise<void> {
    return this.enqueue(async () => {
      if (!Number.isInteger(thread) || thread < 1 || thread >= this.threads) {
        throw new SizeError(`callOnWorker: thread must be in [1, ${this.threads - 1}], got ${thread}`);
      }
      const k = this.index(kernel);
      if (!this.slots[thread].handle) await this.restore(kernel);
      if (this.slots[thread].serving) await this.park([thread]);
      const h = this.slots[thread].handle!;
      h.ref();
      try {
        await orDeath(h, h.remote.call(k, [...args]));
      } catch (e) {
        // onDeath (registered first on `exited`) has already cleared the slot of a dead worker.
        const kind = this.slots[thread].handle === h ? 'threw' : 'died';
        const failures: WorkerFailure[] = [{ thread, kind, message: describe(e) }];
        await this.recover(kernel, failures);
        throw new WorkerError(kernel, failures);
      } finally {
        h.unref();
      }
    });
  }

  /** Stops every worker (parks it, stops it through comlink, terminates it). Idempotent. */
  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    await this.queue.catch(() => {});
    if (this.ctrl) {
      const serving = this.slots.flatMap((s, t) => (t > 0 && s.handle && s.serving ? [t] : []));
      await this.park(serving).catch(() => {});
      await Promise.all(
        this.slots.map(async (s) => {
          const h = s.handle;
          if (!h) return;
          h.ref();
          let timer: ReturnType<typeof setTimeout> | undefined;
          const timeout = new Promise<void>((resolve) => {
            timer = setTimeout(resolve, STOP_TIMEOUT_MS);
          });
          await Promise.race([orDeath(h, h.remote.stop()), timeout]).catch(() => {});
          clearTimeout(timer);
        }),
      );
    }
    await this.terminateAll();
    this.own = [];
  }

  /** Ops run one at a time in call order; ones queued before dispose() still run. */
  private enqueue(task: () => Promise<void>): Promise<void> {
    if (this.disposed) return Promise.reject(new WasmRuntimeError('the worker pool is disposed'));
    const p = this.queue.then(task);
    this.queue = p.catch(() => {});
    return p;
  }

  private index(kernel: string): number {
    const k = this.kernelIndex.get(kernel);
    if (k === undefined) throw new WasmRuntimeError(`the wasm module has no kernel ${kernel}`);
    return k;
  }

  private async exec(kernel: string, argsOf: (thread: number) => KernelArgs): Promise<void> {
    const k = this.index(kernel);
    const ctrl = this.ctrl;
    if (!ctrl) {
      const a = argsOf(0);
      if (a) this.checkArgs(kernel, a);
      const err = a ? this.callOwn(k, a) : undefined;
      if (err) {
        const failures: WorkerFailure[] = [{ thread: 0, kind: 'threw', message: err }];
        await this.recover(kernel, failures);
        throw new WorkerError(kernel, failures);
      }
      return;
    }
    if (this.dirty) await this.restore(kernel);
    // Every argument is gathered and checked before anything is published.
    const own = argsOf(0);
    if (own) this.checkArgs(kernel, own);
    const i32 = ctrl.i32;
    const active: number[] = [];
    for (let t = 1; t < this.threads; t++) {
      const a = argsOf(t);
      if (!a) continue;
      this.checkArgs(kernel, a);
      ctrl.setArgs(t, a);
      i32[ctrl.word(t, KERNEL)] = k;
      i32[ctrl.word(t, STATUS)] = OK;
      active.push(t);
    }
    const op = this.publish(active);
    const ownError = own ? this.callOwn(k, own) : undefined;
    await this.finish(op);
    const failures: WorkerFailure[] = [];
    if (ownError !== undefined) failures.push({ thread: 0, kind: 'threw', message: ownError });
    for (const t of active) {
      const died = op.died.get(t);
      if (died !== undefined) failures.push({ thread: t, kind: 'died', message: died });
      else if (i32[ctrl.word(t, STATUS)] === FAILED) {
        failures.push({ thread: t, kind: 'threw', message: ctrl.readError(t) });
      }
    }
    if (failures.length) {
      await this.recover(kernel, failures);
      throw new WorkerError(kernel, failures);
    }
  }

  private checkArgs(kernel: string, a: readonly number[]): void {
    if (a.length > MAX_ARGS) throw new SizeError(`${kernel}: ${a.length} arguments, at most ${MAX_ARGS}`);
  }

  /** Runs a share on the calling thread; returns the error's description if it trapped or threw. */
  private callOwn(k: number, a: readonly number[]): string | undefined {
    try {
      callKernel(this.own[k], a, 0, a.length);
      return undefined;
    } catch (e) {
      return describe(e);
    }
  }

  /** Posts the jobs already written into the `active` slots. */
  private publish(active: number[]): Op {
    const ctrl = this.ctrl!;
    const i32 = ctrl.i32;
    const gen = (i32[OPS] + 1) | 0;
    i32[OPS] = gen;
    const op: Op = { gen, active, died: new Map() };
    this.op = op;
    Atomics.store(i32, PENDING, active.length);
    for (const t of active) {
      const w = ctrl.word(t, GEN);
      Atomics.store(i32, w, gen);
      if (Atomics.load(i32, ctrl.word(t, SLEEPING)) !== 0) Atomics.notify(i32, w, 1);
    }
    return op;
  }

  private complete(op: Op): boolean {
    const ctrl = this.ctrl!;
    for (const t of op.active) {
      if (Atomics.load(ctrl.i32, ctrl.word(t, DONE)) !== op.gen && !op.died.has(t)) return false;
    }
    return true;
  }

  /** Waits until every active worker finished or died: spin, then wait (waitFor). */
  private async finish(op: Op): Promise<void> {
    const i32 = this.ctrl!.i32;
    this.spin.begin();
    let n = 0;
    let pending: number;
    while ((pending = Atomics.load(i32, PENDING)) > 0) {
      if ((++n & 127) === 0 && this.spin.expired()) break;
    }
    this.spin.end(pending <= 0);
    try {
      while (!this.complete(op)) {
        Atomics.store(i32, WAITING, 1);
        const pending = Atomics.load(i32, PENDING);
        // PENDING <= 0 with work outstanding only follows a death's bookkeeping: re-check shortly.
        if (pending > 0 && !this.complete(op)) await waitFor(i32, PENDING, pending);
        else if (!this.complete(op)) await sleep(1);
      }
    } finally {
      Atomics.store(i32, WAITING, 0);
    }
    this.op = undefined;
  }

  private onDeath(t: number, h: WorkerHandle, why: string): void {
    const slot = this.slots[t];
    if (slot.handle !== h) return; // terminated on purpose
    slot.handle = undefined;
    slot.serving = false;
    this.dirty = true;
    const op = this.op;
    const ctrl = this.ctrl!;
    if (op?.active.includes(t) && Atomics.load(ctrl.i32, ctrl.word(t, DONE)) !== op.gen) {
      op.died.set(t, why);
      Atomics.sub(ctrl.i32, PENDING, 1);
      Atomics.notify(ctrl.i32, PENDING);
    }
  }

  private async startWorker(t: number): Promise<void> {
    const ctrl = this.ctrl!;
    const i32 = ctrl.i32;
    // A fresh worker must not take up a job its predecessor left unfinished.
    Atomics.store(i32, ctrl.word(t, DONE), Atomics.load(i32, ctrl.word(t, GEN)));
    Atomics.store(i32, ctrl.word(t, SLEEPING), 0);
    i32[ctrl.word(t, ARGC)] = 0;
    const h = await spawnWorker(this.workerUrl);
    try {
      await orDeath(
        h,
        h.remote.init({
          module: this.module,
          memory: this.memory,
          control: ctrl.buffer,
          thread: t,
          kernels: [...this.kernels],
          spinMicros: this.spinMs * 1000,
        }),
      );
      await orDeath(h, h.remote.serve());
    } catch (e) {
      await h.terminate();
      throw e;
    }
    this.slots[t] = { handle: h, serving: true };
    h.exited.then((why) => this.onDeath(t, h, why));
    h.unref();
  }

  /** Parks the given serving workers (a PARK job), so their event loops take comlink calls. */
  private async park(threads: number[]): Promise<void> {
    if (!threads.length) return;
    const ctrl = this.ctrl!;
    for (const t of threads) {
      ctrl.i32[ctrl.word(t, KERNEL)] = PARK;
      ctrl.i32[ctrl.word(t, ARGC)] = 0;
    }
    await this.finish(this.publish(threads));
    for (const t of threads) this.slots[t].serving = false;
    this.dirty = true;
  }

  /** Starts workers for dead slots and puts parked ones back in their job loop. */
  private async restore(kernel: string): Promise<void> {
    const failures: WorkerFailure[] = [];
    await Promise.all(
      this.slots.map(async (s, t) => {
        if (t === 0) return;
        try {
          if (!s.handle) await this.startWorker(t);
          else if (!s.serving) {
            s.handle.ref();
            try {
              await orDeath(s.handle, s.handle.remote.serve());
            } finally {
              s.handle?.unref();
            }
            s.serving = true;
          }
        } catch (e) {
          failures.push({ thread: t, kind: 'died', message: `cannot restart the worker: ${describe(e)}` });
        }
      }),
    );
    if (failures.length) throw new WorkerError(kernel, failures);
    this.dirty = false;
  }

  /** Discards what failed: the calling thread's instance, or the worker (terminated, then replaced). */
  private async recover(kernel: string, failures: WorkerFailure[]): Promise<void> {
    await Promise.all(
      failures.map(async (f) => {
        if (f.thread === 0) {
          this.own = await instantiate(this.module, this.memory);
          return;
        }
        const slot = this.slots[f.thread];
        const h = slot.handle;
        slot.handle = undefined;
        slot.serving = false;
        this.dirty = true;
        if (h) await h.terminate();
      }),
    );
    // Replacements start now; if one cannot, the next op retries and reports it.
    if (this.dirty) await this.restore(kernel).catch(() => {});
  }

  private async terminateAll(): Promise<void> {
    await Promise.all(
      this.slots.map(async (s) => {
        const h = s.handle;
        s.handle = undefined;
        s.serving = false;
        if (h) await h.terminate();
      }),
    );
  }
}
