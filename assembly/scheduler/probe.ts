// Probe kernels for the worker pool (src/scheduler): an empty op to measure
// dispatch overhead, and one that traps on demand to test failure recovery.

/** Does nothing: a fan-out of it costs only the dispatch. */
export function noop(a: i32): void {}

/** Traps (wasm `unreachable`) when `x` is non-zero; otherwise does nothing. */
export function trap_if(x: i32): void {
  if (x != 0) unreachable();
}
