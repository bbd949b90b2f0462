/**
 * The shared-memory data plane between the pool and its workers: one
 * SharedArrayBuffer (separate from the wasm memory, so it never moves when the
 * wasm memory grows) holding a small header and one slot per thread.
 *
 * Header (Int32 words):
 *   OPS      generation counter: +1 per op the pool publishes
 *   PENDING  workers that still have to finish the current op (a wake-up
 *            hint; each slot's DONE word is the truth)
 *   WAITING  1 while the pool is (about to be) blocked waiting on PENDING
 * Slot t (for thread t; thread 0 is the calling thread and has no slot in use):
 *   GEN      generation of the job posted to this worker; the worker waits on it
 *   DONE     generation of the last job this worker finished (death accounting)
 *   KERNEL   kernel index (position in the module's export list), or PARK
 *   ARGC     argument count
 *   STATUS   OK or FAILED (then ERRLEN bytes of UTF-8 in the slot's text area)
 *   SLEEPING 1 while the worker is (about to be) blocked in Atomics.wait
 *   args     MAX_ARGS f64 (every wasm i32/f32 argument is exact in an f64)
 *   text     ERROR_BYTES of UTF-8 error message
 * Slots are 64-byte aligned so that one worker's slot never shares a cache
 * line with another's.
 *
 * Ordering: the pool writes a slot's arguments with plain stores, then
 * Atomics.store(GEN); the worker's Atomics.load(GEN) synchronizes with it, so
 * the arguments are visible. The reverse holds for STATUS/text before the
 * worker's Atomics.sub(PENDING).
 */

export const OPS = 0;
export const PENDING = 1;
export const WAITING = 2;
const HEADER_BYTES = 64;

export const GEN = 0;
export const DONE = 1;
export const KERNEL = 2;
export const ARGC = 3;
export const STATUS = 4;
export const ERRLEN = 5;
export const SLEEPING = 6;
const SLOT_INT_BYTES = 64;

/** Most arguments a kernel call can take through the data plane. */
export const MAX_ARGS = 16;
export const ERROR_BYTES = 512;
const SLOT_BYTES = SLOT_INT_BYTES + MAX_ARGS * 8 + ERROR_BYTES; // 704, a multiple of 64

/** KERNEL value telling a worker to leave its job loop and return to its event loop. */
export const PARK = -1;
export const OK = 0;
export const FAILED = 1;

export function controlBytes(threads: number): number {
  return HEADER_BYTES + threads * SLOT_BYTES;
}

/** Views of the control block for one thread's slot (and the header). */
export class ControlBlock {
  readonly i32: Int32Array;
  private readonly f64: Float64Array;
  private readonly bytes: Uint8Array;

  constructor(readonly buffer: SharedArrayBuffer) {
    this.i32 = new Int32Array(buffer);
    this.f64 = new Float64Array(buffer);
    this.bytes = new Uint8Array(buffer);
  }

  /** Index into `i32` of a slot word (GEN, DONE, ...). */
  word(thread: number, field: number): number {
    return (HEADER_BYTES + thread * SLOT_BYTES) / 4 + field;
  }

  argBase(thread: number): number {
    return (HEADER_BYTES + thread * SLOT_BYTES + SLOT_INT_BYTES) / 8;
  }

  setArgs(thread: number, args: ArrayLike<number>): void {
    this.f64.set(args, this.argBase(thread));
    this.i32[this.word(thread, ARGC)] = args.length;
  }

  /** All slots' arguments (read thread t's at argBase(t), ARGC of them). */
  get argWords(): Float64Array {
    return this.f64;
  }

  writeError(thread: number, message: string): void {
    const start = HEADER_BYTES + thread * SLOT_BYTES + SLOT_INT_BYTES + MAX_ARGS * 8;
    // TextEncoder cannot encode into shared memory: encode, then copy.
    const encoded = new TextEncoder().encode(message).subarray(0, ERROR_BYTES);
    this.bytes.set(encoded, start);
    this.i32[this.word(thread, ERRLEN)] = encoded.length;
  }

  readError(thread: number): string {
    const start = HEADER_BYTES + thread * SLOT_BYTES + SLOT_INT_BYTES + MAX_ARGS * 8;
    const n = this.i32[this.word(thread, ERRLEN)];
    // TextDecoder rejects views of shared memory: copy out first.
    return new TextDecoder().decode(this.bytes.slice(start, start + n));
  }
}

/** Calls `fn` with `n` arguments read from `a` at `base`; no allocation up to 10 (the kernels' usual counts). */
export function callKernel(
  fn: (...a: number[]) => unknown,
  a: ArrayLike<number>,
  base: number,
  n: number,
): void {
  const b = base;
  switch (n) {
    case 0:
      return void fn();
    case 1:
      return void fn(a[b]);
    case 2:
      return void fn(a[b], a[b + 1]);
    case 3:
      return void fn(a[b], a[b + 1], a[b + 2]);
    case 4:
      return void fn(a[b], a[b + 1], a[b + 2], a[b + 3]);
    case 5:
      return void fn(a[b], a[b + 1], a[b + 2], a[b + 3], a[b + 4]);
    case 6:
      return void fn(a[b], a[b + 1], a[b + 2], a[b + 3], a[b + 4], a[b + 5]);
    case 7:
      return void fn(a[b], a[b + 1], a[b + 2], a[b + 3], a[b + 4], a[b + 5], a[b + 6]);
    case 8:
      return void fn(a[b], a[b + 1], a[b + 2], a[b + 3], a[b + 4], a[b + 5], a[b + 6], a[b + 7]);
    case 9:
      return void fn(a[b], a[b + 1], a[b + 2], a[b + 3], a[b + 4], a[b + 5], a[b + 6], a[b + 7], a[b + 8]);
    case 10:
      return void fn(
        a[b],
        a[b + 1],
        a[b + 2],
        a[b + 3],
        a[b + 4],
        a[b + 5],
        a[b + 6],
        a[b + 7],
        a[b + 8],
        a[b + 9],
      );
    default:
      fn(...Array.prototype.slice.call(a, b, b + n));
  }
}

/**
 * An adaptive spin budget. Spinning pays while the awaited thread is running
 * (an answer in about a microsecond instead of a wake-up's tens). With more
 * runnable threads than cores it costs: the spinner holds a core the other
 * thread needs, and Linux favours threads that sleep when it picks whom to
 * wake. Measured here under load: a fixed 100 us spin made empty ops 10x
 * slower than blocking at once. So:
 * - a spin that saw the change doubles the budget, one that timed out
 *   halves it (to 0 below MIN_MS, so a thread under contention blocks at
 *   once), up to the configured maximum;
 * - a spin during which the thread was descheduled (a gap between two clock
 *   reads) stops at once and drops the budget to 0;
 * - a budget of 0 never sees a change in time (the other side blocks too,
 *   and each wake-up outlasts any short spin), so every 256th spin probes
 *   with the full budget: once both sides run again, probes succeed and the
 *   budgets climb back.
 * Spin loops call begin(), then expired() every 128 iterations, then end().
 */
export class SpinBudget {
  private ms: number;
  private cur = 0;
  private t0 = 0;
  private last = 0;
  private n = 0;
  private preempted = false;

  constructor(private readonly maxMs: number) {
    this.ms = maxMs;
  }

  begin(): void {
    this.cur = (++this.n & 255) === 0 ? this.maxMs : this.ms;
    this.t0 = this.last = performance.now();
    this.preempted = false;
  }

  /** Whether to stop spinning: the budget is spent, or the thread was just descheduled. */
  expired(): boolean {
    const now = performance.now();
    if (now - this.last > PREEMPTED_MS) this.preempted = true;
    this.last = now;
    return this.preempted || now - this.t0 > this.cur;
  }

  end(sawChange: boolean): void {
    if (this.preempted) this.ms = 0;
    else if (sawChange) this.ms = Math.min(this.maxMs, Math.max(MIN_MS, this.cur) * 2);
    else this.ms = this.ms / 2 < MIN_MS ? 0 : this.ms / 2;
  }
}

/** Below this a spin is all but sure to miss (a wake-up takes longer): the budget drops to 0. */
const MIN_MS = 0.002;
/** 128 spin iterations take well under a microsecond; a gap this long means the thread lost its core. */
const PREEMPTED_MS = 0.02;

/** What the pool sends a worker at start (through comlink: structured clone). */
export interface WorkerInit {
  module: WebAssembly.Module;
  memory: WebAssembly.Memory;
  control: SharedArrayBuffer;
  /** This worker's slot (1..threads-1). */
  thread: number;
  /** Kernel names in index order (the job's KERNEL word indexes this list). */
  kernels: string[];
  /** How long the worker spins on its GEN word before it blocks in Atomics.wait. */
  spinMicros: number;
}

/** The worker's control-plane API (exposed through comlink). */
export interface WorkerApi {
  /** Instantiates the module on the shared memory; resolves when ready. */
  init(init: WorkerInit): Promise<void>;
  /** Enters the job loop (on the next task, after this call's reply is sent). */
  serve(): void;
  /** Runs one kernel here, through the message channel (the worker must be parked). */
  call(kernel: number, args: number[]): void;
  /** Releases the instance; the pool terminates the worker after this resolves. */
  stop(): void;
}
