/**
 * The model side of a replay: a GGUF's tensors by name, dequantized exactly
 * (reference dequantization) the first time a rule asks and kept, and its
 * hyperparameters. Rules read weights by their GGUF names, so a model family
 * whose hyperparameters plumbline's transformer does not describe (a scan or
 * MoE model) can still register rules that read its own tensors and keys.
 */
import { type GgufFile, type GgufPlainValue, readGguf } from '../formats/gguf/index.js';
import { type HParams, readHParams } from '../model/hparams.js';
import { dequantize } from '../ops/dequantize.js';
import type { GgmlTypeName } from '../types/ggml-types.js';
import { ParityOptionError } from './errors.js';

export class ReplayModel {
  private readonly values = new Map<string, Float32Array>();
  private hp: HParams | undefined;

  private constructor(private readonly file: GgufFile) {}

  static async open(source: string | Uint8Array): Promise<ReplayModel> {
    return new ReplayModel(await readGguf(source));
  }

  get name(): string {
    return this.file.name;
  }

  /** The GGUF's general.architecture (the model family rules are chosen by), or undefined. */
  get architecture(): string | undefined {
    const a = this.file.get('general.architecture');
    return typeof a === 'string' ? a : undefined;
  }

  /** llama/qwen2/qwen3 hyperparameters (a HyperparameterError or UnsupportedArchitectureError otherwise). */
  get hparams(): HParams {
    this.hp ??= readHParams(this.file, this.file.tensor('token_embd.weight')?.shape[0]);
    return this.hp;
  }

  /** A metadata value (arrays as plain arrays), or undefined. */
  metadata(key: string): GgufPlainValue | undefined {
    return this.file.get(key);
  }

  has(name: string): boolean {
    return this.file.tensor(name) !== undefined;
  }

  /** The tensor's ggml type. */
  type(name: string): GgmlTypeName {
    return this.info(name).type.name as GgmlTypeName;
  }

  /** Row-major shape, outermost first. */
  shape(name: string): readonly number[] {
    return this.info(name).shape;
  }

  /** The tensor's values as f32 (quantized types dequantized exactly), cached. */
  async tensor(name: string): Promise<Float32Array> {
    const cached = this.values.get(name);
    if (cached) return cached;
    const info = this.info(name);
    const bytes = await this.file.tensorData(info);
    const data = dequantize(info.type.name, bytes, info.count, { backend: 'reference' });
    this.values.set(name, data);
    return data;
  }

  /** The tensor's values, or undefined when the file has no such tensor. */
  async optional(name: string): Promise<Float32Array | undefined> {
    return this.has(name) ? this.tensor(name) : undefined;
  }

  /** Drops the cached values of the tensors whose names match (a replay past a layer no longer needs them). */
  forget(match: (name: string) => boolean): void {
    for (const name of [...this.values.keys()]) if (match(name)) this.values.delete(name);
  }

  private info(name: string) {
    const info = this.file.tensor(name);
    if (!info) throw new ParityOptionError(`replay: the model ${this.file.name} has no tensor ${name}`);
    return info;
  }

  close(): Promise<void> {
    this.values.clear();
    return this.file.close();
  }
}
