/**
 * Finding a WebGPU adapter: `navigator.gpu` in browsers, Dawn's Node binding
 * (the optional dependency `webgpu`) in Node. Every way it can fail has a
 * reason a user can act on (no navigator.gpu, package missing, no Vulkan
 * driver), carried by WebGpuUnavailableError.
 */
import { BackendUnavailableError } from '../../engine/engine.js';

export class WebGpuUnavailableError extends BackendUnavailableError {}

export interface GpuAdapterFound {
  gpu: GPU;
  adapter: GPUAdapter;
  /** A software rasterizer (SwiftShader, WARP, llvmpipe): correct, but slower than the wasm backend. */
  software: boolean;
  /** vendor / architecture / description, for engine.backend and reports. */
  description: string;
}

/** SwiftShader's Vulkan driver as Debian's chromium package ships it: a software adapter where no GPU is. */
export const SWIFTSHADER_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';

/**
 * Mesa's lavapipe (llvmpipe) Vulkan driver, Debian's `mesa-vulkan-drivers` from bookworm-backports
 * (Mesa 25; bookworm's own Mesa 22 lacks features Dawn requires): a second software adapter, one with
 * `shader-f16`, which SwiftShader lacks.
 */
export const LAVAPIPE_ICD = '/usr/share/vulkan/icd.d/lvp_icd.json';

async function nodeGpu(): Promise<GPU> {
  const name = 'webgpu'; // a variable: bundlers for browsers must not pull in the native binding
  let mod: { create(flags: string[]): GPU; globals: Record<string, unknown> };
  try {
    mod = (await import(/* @vite-ignore */ name)) as typeof mod;
  } catch (e) {
    throw new WebGpuUnavailableError(
      `WebGPU in Node needs the optional package 'webgpu' (Dawn's Node binding), which did not load: ${(e as Error).message}`,
    );
  }
  // The binding's GPUBufferUsage, GPUMapMode, ... constants, as browsers define them.
  for (const [k, v] of Object.entries(mod.globals)) {
    if (!(k in globalThis)) (globalThis as Record<string, unknown>)[k] = v;
  }
  return mod.create([]);
}

function describe(adapter: GPUAdapter): { software: boolean; description: string } {
  const info = adapter.info as GPUAdapterInfo & { isFallbackAdapter?: boolean };
  const legacy = (adapter as GPUAdapter & { isFallbackAdapter?: boolean }).isFallbackAdapter;
  const text = [info.vendor, info.architecture, info.description].filter(Boolean).join(' ');
  const software =
    info.isFallbackAdapter === true || legacy === true || /swiftshader|llvmpipe|warp|lavapipe/i.test(text);
  return { software, description: text || 'unknown adapter' };
}

let gpuObject: Promise<GPU> | undefined;

/** The GPU entry point of this process or page (looked up once; a failed lookup is retried next time). */
function getGpu(isNode: boolean): Promise<GPU> {
  gpuObject ??= (async () => {
    const nav = (globalThis as { navigator?: { gpu?: GPU } }).navigator;
    if (nav?.gpu) return nav.gpu;
    if (isNode) return nodeGpu();
    throw new WebGpuUnavailableError(
      'this runtime has no navigator.gpu (WebGPU is off, or the page is not a secure context)',
    );
  })();
  gpuObject.catch(() => {
    gpuObject = undefined;
  });
  return gpuObject;
}

/**
 * A fresh adapter (an adapter makes one device, so each engine asks for its
 * own); throws WebGpuUnavailableError saying why there is none.
 */
export async function requestGpuAdapter(): Promise<GpuAdapterFound> {
  const isNode = typeof process !== 'undefined' && typeof process.versions?.node === 'string';
  const gpu = await getGpu(isNode);
  const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  if (!adapter) {
    const hint =
      isNode && !process.env.VK_ICD_FILENAMES
        ? ` (no Vulkan driver was found; for a software adapter, install Chromium and set VK_ICD_FILENAMES=${SWIFTSHADER_ICD})`
        : '';
    throw new WebGpuUnavailableError(`requestAdapter() found no WebGPU adapter${hint}`);
  }
  return { gpu, adapter, ...describe(adapter) };
}

/** The adapter, or null where there is none (for backend 'auto', which then runs on the CPU). */
export async function findGpuAdapter(): Promise<GpuAdapterFound | null> {
  try {
    return await requestGpuAdapter();
  } catch (e) {
    if (e instanceof WebGpuUnavailableError) return null;
    throw e;
  }
}
