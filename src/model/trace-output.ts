/**
 * A captured trace as a file: safetensors with design.md's metadata
 * (`format` plumbline-trace/1, producer, backend, model = sha256 of the GGUF,
 * tokens as a JSON array, numerics). Stages keep their capture (computation)
 * order.
 */
import { writeSafetensorsFile } from '../formats/safetensors/index.js';
import type { Trace } from './capture.js';

export const TRACE_FORMAT = 'plumbline-trace/1';

export interface ModelTraceMetadata {
  producer: string;
  backend: string;
  /** sha256 of the GGUF, 64 lowercase hex digits. */
  model: string;
  tokens: readonly number[];
  numerics: string;
}

export async function writeModelTrace(path: string, trace: Trace, meta: ModelTraceMetadata): Promise<void> {
  const tensors = [...trace].map(([name, t]) => ({
    name,
    dtype: 'F32' as const,
    shape: t.shape,
    data: t.data,
  }));
  await writeSafetensorsFile(path, tensors, {
    format: TRACE_FORMAT,
    producer: meta.producer,
    backend: meta.backend,
    model: meta.model,
    tokens: JSON.stringify(meta.tokens),
    numerics: meta.numerics,
  });
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
