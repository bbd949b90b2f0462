/**
 * A pool worker (Node worker_threads or a browser module Worker). The control
 * plane (init, serve, call, stop) arrives through comlink; once serving, the
 * worker sits in a job loop on the shared control block: it spins briefly on
 * its slot's GEN word, then blocks in Atomics.wait, runs the posted kernel on
 * its own instance of the module (over the one shared memory), records the
 * outcome, and counts itself done. While in the loop its event loop does not
 * run, so the pool parks it (a PARK job) before any control-plane call.
 */
import { expose } from 'comlink';
import {
  ARGC,
  ControlBlock,
  callKernel,
  DONE,
  FAILED,
  GEN,
  KERNEL,
  OK,
  PARK,
  PENDING,
  SLEEPING,
  SpinBudget,
  STATUS,
  WAITING,
  type WorkerApi,
  type WorkerInit,
} from './protocol.js';

type Kernel = (...args: number[]) => unknown;

interface State {
  ctrl: ControlBlock;
  thread: number;
  kernels: Kernel[];
  spin: SpinBudget;
}

let state: State | undefined;

function describe(e: unknown): string {
  return e instanceof Error ? `${e.name}: ${e.message}` : String(e);
}

function serveLoop(s: State): void {
  const { ctrl, thread, kernels, spin } = s;
  const i32 = ctrl.i32;
  const f64 = ctrl.argWords;
  const genW = ctrl.word(thread, GEN);
  const doneW = ctrl.word(thread, DONE);
  const sleepW = ctrl.word(thread, SLEEPING);
  const statusW = ctrl.word(thread, STATUS);
  const kernelW = ctrl.word(thread, KERNEL);
  const argcW = ctrl.word(thread, ARGC);
  const argBase = ctrl.argBase(thread);
  let done = Atomics.load(i32, doneW);
  for (;;) {
    let gen = Atomics.load(i32, genW);
    if (gen === done) {
      // Waking a thread blocked in Atomics.wait costs tens of microseconds;
      // a spinning one answers in under one. Spin first: ops come in bursts.
      spin.begin();
      let n = 0;
      while ((gen = Atomics.load(i32, genW)) === done) {
        if ((++n & 127) === 0 && spin.expired()) break;
      }
      spin.end(gen !== done);
      if (gen === done) {
        // SLEEPING lets the pool skip Atomics.notify for a spinning worker.
        // Stored before the wait's own compare, so a job posted after this
        // store is either seen by that compare or notified (both seq-cst).
        Atomics.store(i32, sleepW, 1);
        Atomics.wait(i32, genW, done);
        Atomics.store(i32, sleepW, 0);
        continue;
      }
    }
    const k = i32[kernelW];
    if (k === PARK) {
      finish(i32, doneW, gen);
      return;
    }
    try {
      callKernel(kernels[k], f64, argBase, i32[argcW]);
      i32[statusW] = OK;
    } catch (e) {
      ctrl.writeError(thread, describe(e));
      i32[statusW] = FAILED;
    }
    finish(i32, doneW, gen);
    done = gen;
  }
}

/** DONE first: it is the truth the pool checks; PENDING only decides who wakes the pool. */
function finish(i32: Int32Array, doneW: number, gen: number): void {
  Atomics.store(i32, doneW, gen);
  if (Atomics.sub(i32, PENDING, 1) <= 1 && Atomics.load(i32, WAITING) !== 0) Atomics.notify(i32, PENDING);
}

const api: WorkerApi = {
  async init(init: WorkerInit): Promise<void> {
    const instance = await WebAssembly.instantiate(init.module, { env: { memory: init.memory } });
    const exports = instance.exports as Record<string, unknown>;
    // Globals are per instance: run the module's start code here too.
    (exports._start as (() => void) | undefined)?.();
    const kernels = init.kernels.map((name) => {
      const f = exports[name];
      if (typeof f !== 'function') throw new Error(`the wasm module has no function ${name}`);
      return f as Kernel;
    });
    state = {
      ctrl: new ControlBlock(init.control),
      thread: init.thread,
      kernels,
      spin: new SpinBudget(init.spinMicros / 1000),
    };
  },
  serve(): void {
    const s = state;
    if (!s) throw new Error('serve() before init()');
    // A macrotask, so that comlink sends this call's reply before the loop takes the thread.
    setTimeout(() => serveLoop(s), 0);
  },
  call(kernel: number, args: number[]): void {
    if (!state) throw new Error('call() before init()');
    callKernel(state.kernels[kernel], args, 0, args.length);
  },
  stop(): void {
    state = undefined;
  },
};

const isNode = typeof process !== 'undefined' && typeof process.versions?.node === 'string';
if (isNode) {
  // Hidden from bundlers: this branch only runs in Node.
  const wt = 'node:worker_threads';
  const { parentPort } = (await import(/* @vite-ignore */ wt)) as typeof import('node:worker_threads');
  const { default: nodeEndpoint } = await import('comlink/dist/esm/node-adapter.mjs');
  if (!parentPort) throw new Error('plumbline scheduler worker started outside a worker thread');
  expose(api, nodeEndpoint(parentPort));
} else {
  expose(api);
}
