/**
 * Typed access to tokenizer.* metadata. Types are checked as strictly as
 * llama.cpp's loader checks them (a u32 key written as i32 is refused there,
 * so it is refused here), and every error names the key.
 */
import { type GgufMetadataValue, ggufValueTypeName, GgufValueType as T } from '../../formats/gguf/index.js';
import { TokenizerError } from './errors.js';

export type MetadataMap = ReadonlyMap<string, GgufMetadataValue>;

function typeName(v: GgufMetadataValue): string {
  return v.type === T.ARRAY ? `${ggufValueTypeName(v.itemType)}[]` : ggufValueTypeName(v.type);
}

function wrongType(key: string, v: GgufMetadataValue, expected: string): TokenizerError {
  return new TokenizerError(`${key} must be a ${expected} but is a ${typeName(v)}`, key);
}

export function getString(md: MetadataMap, key: string): string | undefined {
  const v = md.get(key);
  if (v === undefined) return undefined;
  if (v.type !== T.STRING) throw wrongType(key, v, 'string');
  return v.value;
}

export function getBool(md: MetadataMap, key: string): boolean | undefined {
  const v = md.get(key);
  if (v === undefined) return undefined;
  if (v.type !== T.BOOL) throw wrongType(key, v, 'bool');
  return v.value;
}

export function getU32(md: MetadataMap, key: string): number | undefined {
  const v = md.get(key);
  if (v === undefined) return undefined;
  if (v.type !== T.UINT32) throw wrongType(key, v, 'u32');
  return v.value;
}

export function getStringArray(md: MetadataMap, key: string): readonly string[] | undefined {
  const v = md.get(key);
  if (v === undefined) return undefined;
  if (v.type !== T.ARRAY || v.itemType !== T.STRING) throw wrongType(key, v, 'string[]');
  return v.value;
}

/** An array of numbers whose item type is one of `itemTypes` (named in the error, e.g. 'f32[] or i32[]'). */
export function getNumberArray(
  md: MetadataMap,
  key: string,
  itemTypes: readonly number[],
  expected: string,
): readonly number[] | undefined {
  const v = md.get(key);
  if (v === undefined) return undefined;
  if (v.type !== T.ARRAY || !itemTypes.includes(v.itemType)) throw wrongType(key, v, expected);
  return v.value as readonly number[];
}
