/**
 * The vocabulary and settings llama.cpp's loader (llama_vocab::impl::load)
 * builds from tokenizer.* metadata: tokens, scores and attributes, merge
 * ranks, special ids with the per-model defaults, add_bos/add_eos/space
 * prefix flags, the end-of-generation set and the special-token match order.
 */
import { GgufValueType as T } from '../../formats/gguf/index.js';
import { TokenizerError } from './errors.js';
import { getBool, getNumberArray, getString, getStringArray, getU32, type MetadataMap } from './metadata.js';
import { type PreTokenizer, preTokenizerFor } from './pre-tokenizers.js';
import { hex2 } from './spm.js';
import {
  ATTR_CONTROL,
  ATTR_NORMAL,
  ATTR_UNKNOWN,
  ATTR_USER_DEFINED,
  attrOfType,
  EOG_TEXTS,
  EOT_TEXTS,
  FIM_KINDS,
} from './token-attrs.js';
import { utf8 } from './unicode.js';

export type TokenizerModel = 'llama' | 'gpt2';

export interface SpecialIds {
  bos?: number;
  eos?: number;
  eot?: number;
  eom?: number;
  unk?: number;
  sep?: number;
  pad?: number;
  mask?: number;
}

export interface Vocab {
  readonly model: TokenizerModel;
  /** tokenizer.ggml.pre as given. */
  readonly preName?: string;
  /** The BPE pre-tokenizer (gpt2 model only). */
  readonly pre?: PreTokenizer;
  readonly texts: readonly string[];
  readonly scores: Float32Array;
  readonly attrs: Uint16Array;
  readonly ids: ReadonlyMap<string, number>;
  readonly ranks: ReadonlyMap<string, number>;
  readonly byteTokens: Int32Array;
  readonly special: Readonly<SpecialIds>;
  readonly addBos: boolean;
  readonly addEos: boolean;
  readonly addSpacePrefix: boolean;
  readonly cleanSpaces: boolean;
  readonly eog: ReadonlySet<number>;
  /** Control, user-defined and unknown tokens, longest text (in bytes) first, then by id. */
  readonly specialTokens: readonly number[];
  /** What llama.cpp would log as a warning while loading. */
  readonly warnings: readonly string[];
}

const KEY = (name: string) => `tokenizer.ggml.${name}`;
const SPECIAL_KEYS: readonly [keyof SpecialIds, string][] = [
  ['bos', 'bos_token_id'],
  ['eos', 'eos_token_id'],
  ['eot', 'eot_token_id'],
  ['eom', 'eom_token_id'],
  ['unk', 'unknown_token_id'],
  ['sep', 'seperator_token_id'],
  ['pad', 'padding_token_id'],
  ['mask', 'mask_token_id'],
];

export function loadVocab(md: MetadataMap): Vocab {
  const warnings: string[] = [];
  const model = getString(md, KEY('model'));
  if (model === undefined) throw new TokenizerError(`${KEY('model')} is missing`, KEY('model'));
  const preName = getString(md, KEY('pre'));

  let settings: Settings;
  if (model === 'llama') settings = llamaSettings();
  else if (model === 'gpt2') settings = gpt2Settings(preName, warnings);
  else {
    throw new TokenizerError(
      `${KEY('model')} = ${JSON.stringify(model)} is not supported (supported: llama, gpt2)`,
      KEY('model'),
    );
  }
  const ranks = model === 'gpt2' ? readMerges(md) : new Map<string, number>();
  const addSpacePrefix = getBool(md, KEY('add_space_prefix')) ?? settings.addSpacePrefix;

  const { texts, scores, attrs, ids } = readTokens(md, warnings);
  const n = texts.length;
  const special = readSpecialIds(md, settings.special, n, warnings);
  const addBos = getBool(md, KEY('add_bos_token')) ?? settings.addBos;
  const addEos = getBool(md, KEY('add_eos_token')) ?? settings.addEos;
  if (addBos && special.bos === undefined)
    throw new TokenizerError(
      `${KEY('add_bos_token')} is true, but ${KEY('bos_token_id')} is not set`,
      KEY('bos_token_id'),
    );
  if (addEos && special.eos === undefined)
    throw new TokenizerError(
      `${KEY('add_eos_token')} is true, but ${KEY('eos_token_id')} is not set`,
      KEY('eos_token_id'),
    );

  const eog = detectEndOfGeneration(md, texts, attrs, special, n);
  return {
    model,
    preName,
    pre: settings.pre,
    texts,
    scores,
    attrs,
    ids,
    ranks,
    byteTokens: byteTokens(ids),
    special,
    addBos,
    addEos,
    addSpacePrefix,
    cleanSpaces: settings.cleanSpaces,
    eog,
    specialTokens: specialTokenOrder(texts, attrs),
    warnings,
  };
}

interface Settings {
  pre?: PreTokenizer;
  special: SpecialIds;
  addBos: boolean;
  addEos: boolean;
  addSpacePrefix: boolean;
  cleanSpaces: boolean;
}

function llamaSettings(): Settings {
  return {
    special: { bos: 1, eos: 2, unk: 0 },
    addBos: true,
    addEos: false,
    addSpacePrefix: true,
    cleanSpaces: false,
  };
}

function gpt2Settings(preName: string | undefined, warnings: string[]): Settings {
  if (!preName) warnings.push(`${KEY('pre')} is missing: using the 'default' pre-tokenizer`);
  const pre = preTokenizerFor(preName);
  return {
    pre,
    special: pre.noDefaultBos ? { eos: 11 } : { bos: 11, eos: 11 },
    addBos: pre.addBos,
    addEos: false,
    addSpacePrefix: false,
    cleanSpaces: pre.cleanSpaces,
  };
}

/** Merge rank by the merge's text; a repeated pair keeps its first rank. */
function readMerges(md: MetadataMap): Map<string, number> {
  const merges = getStringArray(md, KEY('merges'));
  if (merges === undefined) {
    throw new TokenizerError(`${KEY('merges')} is missing (the gpt2 tokenizer needs it)`, KEY('merges'));
  }
  const ranks = new Map<string, number>();
  merges.forEach((m, i) => {
    // llama.cpp splits at the first space after the first character; a merge without one never matches.
    if (m.indexOf(' ', 1) > 0 && !ranks.has(m)) ranks.set(m, i);
  });
  return ranks;
}

function readTokens(md: MetadataMap, warnings: string[]) {
  const tokens = getStringArray(md, KEY('tokens'));
  if (tokens === undefined) throw new TokenizerError(`${KEY('tokens')} is missing`, KEY('tokens'));
  const n = tokens.length;
  const rawScores = getNumberArray(md, KEY('scores'), [T.FLOAT32, T.INT32], 'f32[] or i32[]');
  const types = getNumberArray(md, KEY('token_type'), [T.INT32], 'i32[]');
  for (const [name, arr] of [
    ['scores', rawScores],
    ['token_type', types],
  ] as const) {
    if (arr && arr.length < n) {
      throw new TokenizerError(
        `${KEY(name)} has ${arr.length} entries but ${KEY('tokens')} has ${n}`,
        KEY(name),
      );
    }
  }

  const texts: string[] = new Array(n);
  const scores = new Float32Array(n);
  const attrs = new Uint16Array(n);
  const ids = new Map<string, number>();
  for (let i = 0; i < n; i++) {
    let text = tokens[i];
    if (text === '') {
      warnings.push(`empty token at index ${i}`);
      text = `[EMPTY_${i}]`;
    }
    const dup = ids.get(text);
    if (dup !== undefined) {
      throw new TokenizerError(
        `duplicate token in ${KEY('tokens')}: ${JSON.stringify(text)} has ids ${dup} and ${i}`,
        KEY('tokens'),
      );
    }
    ids.set(text, i);
    texts[i] = text;
    scores[i] = rawScores ? rawScores[i] : 0;
    attrs[i] = types ? attrOfType(types[i]) : ATTR_NORMAL;
  }
  return { texts, scores, attrs, ids };
}

/** Defaults outside the vocabulary are dropped; metadata ids outside it are ignored (both with a warning). */
function readSpecialIds(md: MetadataMap, defaults: SpecialIds, n: number, warnings: string[]): SpecialIds {
  const out: SpecialIds = {};
  for (const [name, key] of SPECIAL_KEYS) {
    let id = defaults[name];
    if (id !== undefined && id >= n) {
      warnings.push(`default special token ${KEY(key)} = ${id} is outside the vocabulary; disabled`);
      id = undefined;
    }
    const given = getU32(md, KEY(key));
    if (given !== undefined) {
      if (given >= n)
        warnings.push(`${KEY(key)} = ${given} is outside the vocabulary (${n} tokens); ignored`);
      else id = given;
    }
    if (id !== undefined) out[name] = id;
  }
  return out;
}

/**
 * llama.cpp's by-text detection: EOT/EOM and fill-in-the-middle tokens not
 * named in the metadata are found by their text (here: the lowest id of a
 * matching text; llama.cpp takes whichever its hash map yields first) and
 * made CONTROL, as is every end-of-generation text; the end-of-generation
 * set is those texts plus eos, eot, eom and the FIM pad/repo/separator ids.
 */
function detectEndOfGeneration(
  md: MetadataMap,
  texts: readonly string[],
  attrs: Uint16Array,
  special: SpecialIds,
  n: number,
): Set<number> {
  const firstWith = (set: ReadonlySet<string>) => {
    const i = texts.findIndex((t) => set.has(t));
    return i < 0 ? undefined : i;
  };
  const eog = new Set<number>();
  for (let i = 0; i < n; i++) {
    if (EOG_TEXTS.has(texts[i])) {
      eog.add(i);
      attrs[i] |= ATTR_CONTROL;
    }
  }
  const eot = special.eot ?? firstWith(EOT_TEXTS);
  if (eot !== undefined) special.eot = eot;
  const eom = special.eom ?? firstWith(new Set(['<|eom_id|>']));
  if (eom !== undefined) special.eom = eom;
  for (const kind of FIM_KINDS) {
    const given = getU32(md, KEY(kind.key));
    const id = given !== undefined && given < n ? given : firstWith(kind.texts);
    if (id === undefined) continue;
    if (given === undefined) attrs[id] |= ATTR_CONTROL;
    if (kind.eog) eog.add(id);
  }
  for (const id of [special.eos, special.eot, special.eom]) if (id !== undefined) eog.add(id);
  return eog;
}

function byteTokens(ids: ReadonlyMap<string, number>): Int32Array {
  const out = new Int32Array(256);
  for (let b = 0; b < 256; b++) {
    out[b] = ids.get(`<0x${hex2(b)}>`) ?? (b < 0x80 ? ids.get(String.fromCharCode(b)) : undefined) ?? -1;
  }
  return out;
}

function specialTokenOrder(texts: readonly string[], attrs: Uint16Array): number[] {
  const special: number[] = [];
  for (let i = 0; i < texts.length; i++) {
    if (attrs[i] & (ATTR_CONTROL | ATTR_USER_DEFINED | ATTR_UNKNOWN)) special.push(i);
  }
  const bytes = new Map(special.map((i) => [i, utf8(texts[i]).length]));
  return special.sort((a, b) => bytes.get(b)! - bytes.get(a)! || a - b);
}
