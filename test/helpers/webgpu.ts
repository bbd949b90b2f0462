/**
 * The WebGPU engine for tests: Dawn over whatever Vulkan driver is here
 * (SwiftShader's in CI, and lavapipe's for the `webgpu-lavapipe` project of
 * vitest.config.ts). Where no adapter exists the GPU suites skip — except
 * under CI, where that is a failure: skipped GPU tests don't count.
 */

import { existsSync } from 'node:fs';
import { SWIFTSHADER_ICD } from '../../src/backends/webgpu/adapter.js';
import { WebGpuEngine, type WebGpuEngineOptions } from '../../src/backends/webgpu/engine.js';

/** The driver a test process was given (vitest.config.ts projects), if any: its name and ICD file. */
function driver(): { name: string; icd: string } | null {
  const name = process.env.PLUMBLINE_TEST_VULKAN_DRIVER;
  const icd = process.env.VK_ICD_FILENAMES;
  return name && icd ? { name, icd } : null;
}

const engines = new Map<string, Promise<WebGpuEngine | null>>();

/**
 * One WebGPU engine per test file and option set (null where there is no adapter and CI is not set).
 * `precision: 'f16'` needs an adapter with shader-f16: where the adapter lacks it the engine is null.
 */
export function webgpuEngine(opts: Omit<WebGpuEngineOptions, 'threads'> = {}): Promise<WebGpuEngine | null> {
  const key = JSON.stringify(opts);
  let engine = engines.get(key);
  if (!engine) {
    engine = create(opts);
    engines.set(key, engine);
  }
  return engine;
}

async function create(opts: Omit<WebGpuEngineOptions, 'threads'>): Promise<WebGpuEngine | null> {
  if (!process.env.VK_ICD_FILENAMES && existsSync(SWIFTSHADER_ICD))
    process.env.VK_ICD_FILENAMES = SWIFTSHADER_ICD;
  const d = driver();
  if (d && !existsSync(d.icd)) {
    const why = `the ${d.name} Vulkan driver is not installed (${d.icd} is missing; .ci/run installs it)`;
    if (process.env.CI) throw new Error(`CI is set but WebGPU is unavailable: ${why}`);
    console.warn(`WebGPU tests skipped: ${why}`);
    return null;
  }
  try {
    return await WebGpuEngine.create({ ...opts, threads: 1 });
  } catch (e) {
    if (process.env.CI) throw new Error(`CI is set but WebGPU is unavailable: ${(e as Error).message}`);
    console.warn(`WebGPU tests skipped: ${(e as Error).message}`);
    return null;
  }
}
