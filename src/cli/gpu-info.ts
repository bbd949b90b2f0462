/** The WebGPU adapter here in one line (demo, parity): what it is and what it offers, or why there is none. */
import {
  type GpuAdapterFound,
  requestGpuAdapter,
  WebGpuUnavailableError,
} from '../backends/webgpu/adapter.js';

export interface GpuInfo {
  description: string;
  /** A software rasterizer (SwiftShader, llvmpipe, WARP). */
  software: boolean;
  /** `shader-f16` and `subgroups`: the kernels use them where the adapter has them. */
  f16: boolean;
  subgroups: boolean;
}

export type GpuProbe = { found: GpuAdapterFound; info: GpuInfo } | { reason: string };

/** Looks for an adapter; a WebGpuUnavailableError becomes the reason (other errors are bugs and propagate). */
export async function probeGpu(): Promise<GpuProbe> {
  try {
    const found = await requestGpuAdapter();
    const { features } = found.adapter;
    return {
      found,
      info: {
        description: found.description,
        software: found.software,
        f16: features.has('shader-f16'),
        subgroups: features.has('subgroups'),
      },
    };
  } catch (e) {
    if (e instanceof WebGpuUnavailableError) return { reason: e.message };
    throw e;
  }
}

export function formatGpu(d: GpuInfo): string {
  const features = [d.f16 && 'shader-f16', d.subgroups && 'subgroups'].filter(Boolean).join(', ');
  return `${d.description} (${d.software ? 'software' : 'hardware'}; ${features || 'no shader-f16, no subgroups'})`;
}
