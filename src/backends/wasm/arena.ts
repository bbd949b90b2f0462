/**
 * Allocator over the wasm linear memory. Kernels never allocate (design.md,
 * "Kernel ABI"): every buffer they touch comes from here. First fit over a
 * sorted free list with coalescing; the memory grows on demand.
 */
import { WasmRuntimeError } from '../../errors.js';

const PAGE = 65536;
export const ALIGN = 64;

interface Span {
  start: number;
  size: number;
}

const alignUp = (x: number, a: number) => Math.ceil(x / a) * a;

export class Arena {
  private readonly free: Span[] = [];
  private readonly used = new Map<number, number>();
  private top: number;

  constructor(
    private readonly memory: WebAssembly.Memory,
    base: number,
    /** Hard limit in bytes (the memory's declared maximum). */
    private readonly limit: number,
  ) {
    this.top = alignUp(base, ALIGN);
  }

  /** Bytes currently allocated. */
  get allocatedBytes(): number {
    let n = 0;
    for (const s of this.used.values()) n += s;
    return n;
  }

  /** A 64-byte-aligned region of at least `bytes` bytes. */
  alloc(bytes: number): number {
    if (!Number.isSafeInteger(bytes) || bytes < 0)
      throw new WasmRuntimeError(`cannot allocate ${bytes} bytes`);
    const size = alignUp(Math.max(bytes, 1), ALIGN);
    for (let i = 0; i < this.free.length; i++) {
      const span = this.free[i];
      if (span.size >= size) {
        const ptr = span.start;
        if (span.size === size) this.free.splice(i, 1);
        else {
          span.start += size;
          span.size -= size;
        }
        this.used.set(ptr, size);
        return ptr;
      }
    }
    const ptr = this.top;
    this.ensure(ptr + size);
    this.top = ptr + size;
    this.used.set(ptr, size);
    return ptr;
  }

  release(ptr: number): void {
    const size = this.used.get(ptr);
    if (size === undefined) throw new WasmRuntimeError(`free of unknown pointer ${ptr}`);
    this.used.delete(ptr);
    // Insert sorted, then merge with neighbours; a span that reaches the top returns to it.
    let i = 0;
    while (i < this.free.length && this.free[i].start < ptr) i++;
    this.free.splice(i, 0, { start: ptr, size });
    if (i + 1 < this.free.length && ptr + size === this.free[i + 1].start) {
      this.free[i].size += this.free[i + 1].size;
      this.free.splice(i + 1, 1);
    }
    if (i > 0 && this.free[i - 1].start + this.free[i - 1].size === this.free[i].start) {
      this.free[i - 1].size += this.free[i].size;
      this.free.splice(i, 1);
      i--;
    }
    const last = this.free[this.free.length - 1];
    if (last && last.start + last.size === this.top) {
      this.top = last.start;
      this.free.pop();
    }
  }

  private ensure(end: number): void {
    if (end > this.limit) {
      throw new WasmRuntimeError(
        `wasm memory limit: ${end} bytes needed, the 32-bit memory holds at most ${this.limit} bytes`,
      );
    }
    const have = this.memory.buffer.byteLength;
    if (end > have) this.memory.grow(Math.ceil((end - have) / PAGE));
  }
}
