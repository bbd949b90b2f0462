/**
 * The WebGPU engine for tests: Dawn over whatever Vulkan driver is here
 * (SwiftShader's in CI). Where no adapter exists the GPU suites skip —
 * except under CI, where that is a failure: skipped GPU tests don't count.
 */

import { existsSync } from 'node:fs';
import { SWIFTSHADER_ICD } from '../../src/backends/webgpu/adapter.js';
import { WebGpuEngine } from '../../src/backends/webgpu/engine.js';

let engine: Promise<WebGpuEngine | null> | undefined;

/** One WebGPU engine per test file (null where there is no adapter and CI is not set). */
export function webgpuEngine(): Promise<WebGpuEngine | null> {
  engine ??= (async () => {
    if (!process.env.VK_ICD_FILENAMES && existsSync(SWIFTSHADER_ICD))
      process.env.VK_ICD_FILENAMES = SWIFTSHADER_ICD;
    try {
      return await WebGpuEngine.create({ threads: 1 });
    } catch (e) {
      if (process.env.CI) throw new Error(`CI is set but WebGPU is unavailable: ${(e as Error).message}`);
      console.warn(`WebGPU tests skipped: ${(e as Error).message}`);
      return null;
    }
  })();
  return engine;
}
