/**
 * The WebGPU part of `plumbline demo`: which adapter this machine has (or why
 * none), and on a hardware adapter the parity matrix on WebGPU. A software
 * adapter (SwiftShader) runs the matrix correctly but in seconds, not
 * milliseconds, so `npm start` leaves it to --webgpu-parity.
 */
import type { ParityRow } from '../oracle/parity-matrix.js';
import { parityMatrix } from '../oracle/parity-matrix.js';
import { formatGpu, type GpuInfo, probeGpu } from './gpu-info.js';

export interface DemoWebGpu {
  /** The adapter found, or null (then `reason` says why). */
  adapter: GpuInfo | null;
  reason?: string;
  /** The parity matrix on WebGPU: run on a hardware adapter, or on any with `force`; else null. */
  parity: ParityRow[] | null;
}

export async function demoWebGpu(opts: { force: boolean }): Promise<DemoWebGpu> {
  const probe = await probeGpu();
  if (!('found' in probe)) return { adapter: null, reason: probe.reason, parity: null };
  if (probe.info.software && !opts.force) return { adapter: probe.info, parity: null };
  const { WebGpuEngine } = await import('../backends/webgpu/engine.js');
  const engine = await WebGpuEngine.create({ adapter: probe.found });
  try {
    return { adapter: probe.info, parity: await parityMatrix(engine) };
  } finally {
    await engine.dispose();
  }
}

/** One line: the adapter and what happened to its parity matrix, or why there is no adapter. */
export function formatWebGpuLine(w: DemoWebGpu): string {
  if (!w.adapter) return `webgpu: no adapter — ${w.reason}`;
  const gpu = formatGpu(w.adapter);
  if (!w.parity) return `webgpu: ${gpu}: parity not run on a software adapter (--webgpu-parity runs it)`;
  const onGpu = w.parity.filter((r) => r.ranOn === 'webgpu').length;
  return `webgpu: ${gpu}: parity below, ${onGpu} of ${w.parity.length} cases on the GPU`;
}
