/**
 * Shared by the model and replay fuzz suites: the contract every hostile case
 * is held to (a typed error naming what is wrong, or a result), a per-case
 * timeout, and leak checks on the wasm engine (arena bytes back to where they
 * were, the worker pool closed after dispose).
 */
import { expect } from 'vitest';
import type { Engine } from '../../src/engine/engine.js';
import { PlumblineError } from '../../src/errors.js';

/** Per-case limit: a hang fails the case instead of the whole file. */
export const CASE_TIMEOUT_MS = 2000;

export async function withTimeout<T>(what: string, p: Promise<T>, ms = CASE_TIMEOUT_MS): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms (a hang)`)), ms);
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** The outcome of a case: its value, or the error it threw. */
export async function outcome<T>(
  what: string,
  run: () => Promise<T>,
): Promise<{ ok: T } | { error: unknown }> {
  try {
    return { ok: await withTimeout(what, run()) };
  } catch (e) {
    if (e instanceof Error && e.message.endsWith('(a hang)')) throw e;
    return { error: e };
  }
}

/**
 * A thrown error must be a PlumblineError subclass (never a TypeError,
 * RangeError or plain Error) whose message names one of `names` (the key,
 * tensor or stage at fault) when any are given.
 */
export function expectTypedError(what: string, e: unknown, names: readonly string[] = []): void {
  const desc = e instanceof Error ? `${e.constructor.name}: ${e.message}` : String(e);
  expect(e instanceof PlumblineError, `${what}: threw ${desc}`).toBe(true);
  const err = e as PlumblineError;
  expect(err.constructor, `${what}: ${desc}`).not.toBe(PlumblineError);
  if (names.length > 0)
    expect(
      names.some((n) => err.message.includes(n)),
      `${what}: the message should name one of ${names.join(', ')}: ${err.message}`,
    ).toBe(true);
}

interface WasmInternals {
  rt?: { arena: { allocatedBytes: number } };
  pool?: { disposed: boolean; slots: { handle: unknown }[] };
}

/** Bytes the wasm engine's arena holds (0 for the reference engine, which has none). */
export function arenaBytes(engine: Engine): number {
  return (engine as unknown as WasmInternals).rt?.arena.allocatedBytes ?? 0;
}

/** After engine.dispose(): a wasm engine's pool is disposed and holds no worker. */
export function expectPoolClosed(engine: Engine): void {
  const pool = (engine as unknown as WasmInternals).pool;
  if (!pool) return;
  expect(pool.disposed).toBe(true);
  expect(pool.slots.filter((s) => s.handle !== undefined)).toEqual([]);
}
