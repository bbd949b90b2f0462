/**
 * A captured forward pass as a trace file (src/trace/trace-file.ts:
 * safetensors with design.md's metadata, stages in computation order), and
 * the sha256 of the GGUF that the metadata names.
 */
import { type TraceWriteMetadata, writeTraceFile } from '../trace/trace-file.js';
import type { CapturedStages } from './capture.js';

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
