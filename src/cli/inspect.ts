/** `plumbline inspect FILE.gguf`: metadata, tokenizer summary and tensor table, as text or JSON. */
import { readGguf } from '../formats/gguf/reader.js';
import { type GgufSummary, summarizeGguf } from '../formats/gguf/summary.js';
import { isSupportedTensorType } from '../formats/gguf/tensor-types.js';
import { type GgufMetadataValue, GgufValueType, ggufValueTypeName } from '../formats/gguf/value-types.js';
import { type CliIo, type Command, parseCommandArgs, UsageError } from './command.js';
import { formatBytes, formatTable } from './table.js';

const HELP = `usage: plumbline inspect FILE.gguf [--json] [--metadata]

Shows a GGUF file's architecture, hyperparameters (the <arch>.* keys),
tokenizer summary (model, vocab size, special token ids, merges count), and
tensor table (name, type, shape, bytes, offset), with totals. Only the header
is read, so any size of file is quick to list.

  shape    row-major, outermost first (ggml's ne reversed)
  offset   from the start of the data section, as stored in the file

options:
  --metadata   also list every metadata key with its GGUF type (long arrays abridged)
  --json       print the same as one JSON object (64-bit integers as numbers
               when exactly representable, else as strings)
  -h, --help   show this help`;

/** Arrays longer than this are shown as their length and first few items. */
const ARRAY_FULL_LIMIT = 64;
const ARRAY_HEAD = 8;

export const inspectCommand: Command = {
  name: 'inspect',
  summary: 'show a GGUF file: metadata, tokenizer summary, tensor table',
  help: HELP,
  async run(argv: string[], io: CliIo): Promise<number> {
    const { file, json, metadata } = parseInspectArgs(argv);
    let gguf: Awaited<ReturnType<typeof readGguf>>;
    try {
      gguf = await readGguf(file);
    } catch (e) {
      const code = (e as { code?: unknown }).code;
      if (typeof code === 'string' && code.startsWith('E')) {
        io.err(`plumbline inspect: cannot open ${file}: ${(e as Error).message}`);
        return 1;
      }
      throw e;
    }
    try {
      const summary = summarizeGguf(gguf);
      const allMetadata = metadata ? [...gguf.metadata] : undefined;
      io.out(json ? JSON.stringify(toJson(summary, allMetadata), null, 2) : toText(summary, allMetadata));
      return 0;
    } finally {
      await gguf.close();
    }
  },
};

function parseInspectArgs(argv: string[]): { file: string; json: boolean; metadata: boolean } {
  const { values, positionals } = parseCommandArgs(argv, {
    json: { type: 'boolean' },
    metadata: { type: 'boolean' },
  });
  if (positionals.length !== 1) {
    throw new UsageError(
      positionals.length === 0 ? 'missing FILE.gguf' : `expected one file, got ${positionals.length}`,
    );
  }
  return { file: positionals[0], json: values.json ?? false, metadata: values.metadata ?? false };
}

// ---- text ----

function toText(s: GgufSummary, allMetadata: [string, GgufMetadataValue][] | undefined): string {
  const out: string[] = [];
  out.push(`${s.name}: GGUF v${s.version}, ${formatBytes(s.fileSize)} (${s.fileSize} bytes)`);
  out.push(
    `${s.metadataCount} metadata keys, ${s.totals.tensors} tensors, alignment ${s.alignment}, data at offset ${s.dataOffset}`,
  );
  out.push('', `architecture: ${s.architecture ?? '(none: no general.architecture)'}`);
  section(out, 'general', s.general);
  section(out, 'hyperparameters', s.hyperparameters);
  if (s.tokenizer) {
    const t = s.tokenizer;
    const rows: [string, string][] = [
      ['model', t.model ?? '-'],
      ['pre', t.pre ?? '-'],
      ['vocab size', t.vocabSize?.toString() ?? '-'],
      ['merges', t.mergesCount?.toString() ?? '-'],
      [
        'bos / eos / unk / pad ids',
        [t.bosTokenId, t.eosTokenId, t.unknownTokenId, t.paddingTokenId]
          .map((x) => x?.toString() ?? '-')
          .join(' / '),
      ],
      ['scores, token types', `${t.hasScores ? 'yes' : 'no'}, ${t.hasTokenTypes ? 'yes' : 'no'}`],
    ];
    if (t.chatTemplateLength !== undefined)
      rows.push(['chat template', `${t.chatTemplateLength} characters`]);
    out.push('', 'tokenizer:', ...alignPairs(rows));
  }
  if (allMetadata) {
    out.push('', 'metadata:');
    out.push(
      formatTable(
        ['key', 'type', 'value'],
        allMetadata.map(([k, v]) => [k, typeName(v), textValue(v)]),
      ),
    );
  }
  out.push('', 'tensors:');
  out.push(
    formatTable(
      ['name', 'type', 'shape', 'bytes', 'offset'],
      s.tensors.map((t) => [t.name, t.type.name, `[${t.shape.join(', ')}]`, t.byteSize, t.offset]),
    ),
  );
  const types = s.totals.byType
    .map((t) => `${t.type}${t.supported ? '' : ' (unsupported)'} ×${t.tensors}`)
    .join(', ');
  out.push(
    '',
    `total: ${s.totals.tensors} tensors, ${s.totals.elements} elements, ${formatBytes(s.totals.bytes)} (${s.totals.bytes} bytes) of tensor data`,
  );
  if (types) out.push(`types: ${types}`);
  return out.join('\n');
}

function section(out: string[], title: string, entries: [string, GgufMetadataValue][]): void {
  if (entries.length === 0) return;
  out.push('', `${title}:`, ...alignPairs(entries.map(([k, v]) => [k, textValue(v)])));
}

function alignPairs(rows: [string, string][]): string[] {
  const width = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `  ${k.padEnd(width)}  ${v}`);
}

function typeName(v: GgufMetadataValue): string {
  return v.type === GgufValueType.ARRAY ? `${ggufValueTypeName(v.itemType)}[]` : ggufValueTypeName(v.type);
}

function textValue(v: GgufMetadataValue): string {
  if (v.type === GgufValueType.STRING) return JSON.stringify(abridge(v.value));
  if (v.type === GgufValueType.FLOAT32) return String(shortestF32(v.value));
  if (v.type !== GgufValueType.ARRAY) return String(v.value);
  const items = v.value.slice(0, v.value.length > ARRAY_FULL_LIMIT ? ARRAY_HEAD : ARRAY_FULL_LIMIT);
  const shown = items.map((x: unknown) =>
    typeof x === 'object' && x !== null
      ? textValue(x as GgufMetadataValue)
      : typeof x === 'string'
        ? JSON.stringify(abridge(x))
        : v.itemType === GgufValueType.FLOAT32
          ? String(shortestF32(x as number))
          : String(x),
  );
  const more = v.value.length > items.length ? `, … (${v.value.length} items)` : '';
  return `[${shown.join(', ')}${more}]`;
}

function abridge(s: string): string {
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}

/** The shortest decimal that reads back as the same f32 (1e-5, not 0.000009999999747378752). */
function shortestF32(x: number): number {
  if (!Number.isFinite(x)) return x;
  for (let p = 1; p <= 9; p++) {
    const y = Number(x.toPrecision(p));
    if (Math.fround(y) === x) return y;
  }
  return x;
}

// ---- JSON ----

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

function toJson(s: GgufSummary, allMetadata: [string, GgufMetadataValue][] | undefined): Json {
  const entries = (list: [string, GgufMetadataValue][]) =>
    // fromEntries defines own properties, so a key named __proto__ stays a key.
    Object.fromEntries(list.map(([k, v]) => [k, jsonValue(v)]));
  const t = s.tokenizer;
  return {
    file: s.name,
    fileSize: s.fileSize,
    version: s.version,
    alignment: s.alignment,
    dataOffset: s.dataOffset,
    metadataCount: s.metadataCount,
    architecture: s.architecture ?? null,
    general: entries(s.general),
    hyperparameters: entries(s.hyperparameters),
    tokenizer: t
      ? {
          model: t.model ?? null,
          pre: t.pre ?? null,
          vocabSize: t.vocabSize ?? null,
          mergesCount: t.mergesCount ?? null,
          bosTokenId: jsonInt(t.bosTokenId),
          eosTokenId: jsonInt(t.eosTokenId),
          unknownTokenId: jsonInt(t.unknownTokenId),
          paddingTokenId: jsonInt(t.paddingTokenId),
          hasScores: t.hasScores,
          hasTokenTypes: t.hasTokenTypes,
          chatTemplateLength: t.chatTemplateLength ?? null,
        }
      : null,
    tensors: s.tensors.map((x) => ({
      name: x.name,
      type: x.type.name,
      typeId: x.type.id,
      supported: isSupportedTensorType(x.type),
      shape: [...x.shape],
      ne: [...x.ne],
      elements: x.count,
      bytes: x.byteSize,
      offset: x.offset,
      absoluteOffset: x.absoluteOffset,
    })),
    totals: {
      tensors: s.totals.tensors,
      elements: s.totals.elements,
      bytes: s.totals.bytes,
      byType: s.totals.byType.map((b) => ({ ...b })),
    },
    ...(allMetadata
      ? {
          metadata: Object.fromEntries(
            allMetadata.map(([k, v]) => [k, { type: typeName(v), value: jsonValue(v) }]),
          ),
        }
      : {}),
  };
}

function jsonInt(x: number | bigint | undefined): Json {
  if (x === undefined) return null;
  return typeof x === 'bigint' ? jsonBigInt(x) : x;
}

function jsonBigInt(x: bigint): number | string {
  return x >= BigInt(Number.MIN_SAFE_INTEGER) && x <= BigInt(Number.MAX_SAFE_INTEGER)
    ? Number(x)
    : x.toString();
}

function jsonScalar(x: unknown, type: GgufValueType): Json {
  if (typeof x === 'bigint') return jsonBigInt(x);
  if (typeof x === 'number') {
    if (!Number.isFinite(x)) return String(x); // JSON has no NaN or Infinity
    return type === GgufValueType.FLOAT32 ? shortestF32(x) : x;
  }
  return x as string | boolean;
}

/** A value as JSON; arrays longer than ARRAY_FULL_LIMIT become { length, head }. */
function jsonValue(v: GgufMetadataValue): Json {
  if (v.type !== GgufValueType.ARRAY) return jsonScalar(v.value, v.type);
  const convert = (x: unknown): Json =>
    v.itemType === GgufValueType.ARRAY ? jsonValue(x as GgufMetadataValue) : jsonScalar(x, v.itemType);
  if (v.value.length <= ARRAY_FULL_LIMIT) return v.value.map(convert);
  return {
    itemType: ggufValueTypeName(v.itemType),
    length: v.value.length,
    head: v.value.slice(0, ARRAY_HEAD).map(convert),
  };
}
