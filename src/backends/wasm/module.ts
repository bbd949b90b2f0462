/**
 * Loads plumbline's wasm kernels. Two builds come from one source
 * (asconfig.json): SIMD128 and SIMD128 + relaxed SIMD, both over an imported
 * shared memory. The loader takes the best build the runtime validates.
 */
import { WasmRuntimeError } from '../../errors.js';
import { Arena } from './arena.js';
import { buildFileUrl } from './build-url.js';

export type WasmBuild = 'wasm-relaxed-simd' | 'wasm-simd';

/** What the wasm module exports (assembly/index.ts). Pointers and sizes are plain numbers. */
export interface KernelExports {
  heap_base(): number;
  relaxed_simd(): number;
  [kernel: string]: (...args: number[]) => number | undefined;
}

/** Each build's file in build/ (scripts/bundle-browser.ts copies them beside the bundle). */
export const BUILD_FILES: Readonly<Record<WasmBuild, string>> = {
  'wasm-relaxed-simd': 'plumbline.relaxed.wasm',
  'wasm-simd': 'plumbline.simd.wasm',
};

/** Order of preference: the fastest build first. */
export const BUILD_PREFERENCE: readonly WasmBuild[] = ['wasm-relaxed-simd', 'wasm-simd'];

const MAX_PAGES = 65536; // 4 GiB: the whole 32-bit address space

async function readBuildFile(file: string): Promise<Uint8Array<ArrayBuffer>> {
  const url = buildFileUrl(file);
  if (url.protocol === 'file:') {
    const { readFile } = await import('node:fs/promises');
    return new Uint8Array(await readFile(url));
  }
  const res = await fetch(url);
  if (!res.ok) throw new WasmRuntimeError(`cannot fetch ${url}: HTTP ${res.status}`);
  return new Uint8Array(await res.arrayBuffer());
}

export interface CompiledKernels {
  build: WasmBuild;
  module: WebAssembly.Module;
  /** Builds the runtime rejected, with why (e.g. relaxed SIMD behind a flag in Node 20). */
  rejected: { build: WasmBuild; reason: string }[];
}

/** Compiles the best build this runtime validates. */
export async function compileKernels(
  prefer: readonly WasmBuild[] = BUILD_PREFERENCE,
): Promise<CompiledKernels> {
  const rejected: CompiledKernels['rejected'] = [];
  for (const build of prefer) {
    let bytes: Uint8Array<ArrayBuffer>;
    try {
      bytes = await readBuildFile(BUILD_FILES[build]);
    } catch (e) {
      rejected.push({ build, reason: `not found: ${(e as Error).message}` });
      continue;
    }
    if (!WebAssembly.validate(bytes)) {
      rejected.push({ build, reason: 'the runtime does not validate it' });
      continue;
    }
    return { build, module: await WebAssembly.compile(bytes), rejected };
  }
  throw new WasmRuntimeError(
    `no plumbline wasm build runs here: ${rejected.map((r) => `${r.build}: ${r.reason}`).join('; ')}`,
  );
}

/** One instance of the kernels over its memory, with an allocator. */
export class WasmRuntime {
  readonly arena: Arena;

  private constructor(
    readonly build: WasmBuild,
    readonly module: WebAssembly.Module,
    readonly memory: WebAssembly.Memory,
    readonly kernels: KernelExports,
  ) {
    this.arena = new Arena(memory, kernels.heap_base(), MAX_PAGES * 65536);
  }

  static async create(compiled?: CompiledKernels): Promise<WasmRuntime> {
    const c = compiled ?? (await compileKernels());
    const memory = new WebAssembly.Memory({ initial: 16, maximum: MAX_PAGES, shared: true });
    const instance = await WebAssembly.instantiate(c.module, { env: { memory } });
    const exports = instance.exports as unknown as KernelExports & { _start?: () => void };
    exports._start?.();
    return new WasmRuntime(c.build, c.module, memory, exports);
  }

  /** A fresh byte view (views go stale when the memory grows). */
  get u8(): Uint8Array {
    return new Uint8Array(this.memory.buffer);
  }

  f32(ptr: number, length: number): Float32Array {
    return new Float32Array(this.memory.buffer, ptr, length);
  }

  kernel(name: string): (...args: number[]) => number | undefined {
    const k = this.kernels[name];
    if (typeof k !== 'function') throw new WasmRuntimeError(`the wasm module has no kernel ${name}`);
    return k;
  }
}
