/**
 * A captured forward pass as a trace file (src/trace/trace-file.ts:
 * safetensors with design.md's metadata, stages in computation order), and
 * the sha256 of the GGUF that the metadata names.
 */

import type { Engine } from '../engine/engine.js';
import { type TraceWriteMetadata, writeTraceFile } from '../trace/trace-file.js';
import type { CapturedStages } from './capture.js';

/**
 * Metadata entries beyond design.md's six that say how an engine computed:
 * `matmul_precision: f16` for a WebGPU engine with f16 matmul operands (replay reads it).
 */
export function engineTraceExtra(engine: Engine): Record<string, string> {
  const device = (engine as { device?: { matmulPrecision?: string } }).device;
  return device?.matmulPrecision === 'f16' ? { matmul_precision: 'f16' } : {};
}

export async function writeModelTrace(
  path: string,
  stages: CapturedStages,
  meta: TraceWriteMetadata,
): Promise<void> {
  const tensors = [...stages].map(([name, t]) => ({ name, shape: t.shape, data: t.data }));
  await writeTraceFile(path, tensors, meta);
}

/** sha256 (hex) of a file, streamed, or of bytes. */
export async function sha256Of(source: string | Uint8Array): Promise<string> {
  const { createHash } = await import('node:crypto');
  const hash = createHash('sha256');
  if (typeof source !== 'string') return hash.update(source).digest('hex');
  const { createReadStream } = await import('node:fs');
  for await (const chunk of createReadStream(source)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}
