/**
 * Special-token matching before tokenization (llama.cpp's
 * tokenizer_st_partition): each control, user-defined or unknown token, longest
 * first, is found as a literal string in the text not yet claimed and cut out
 * as its id. Control and unknown tokens are matched only when parsing special
 * tokens; user-defined ones always are.
 */
import { ATTR_CONTROL, ATTR_UNKNOWN } from './token-attrs.js';
import type { Vocab } from './vocab.js';

/** A token id, or a non-empty run of raw text. */
export type Fragment = number | string;

export function partitionSpecial(text: string, vocab: Vocab, parseSpecial: boolean): Fragment[] {
  let fragments: Fragment[] = text === '' ? [] : [text];
  for (const id of vocab.specialTokens) {
    if (!parseSpecial && vocab.attrs[id] & (ATTR_CONTROL | ATTR_UNKNOWN)) continue;
    const needle = vocab.texts[id];
    if (!fragments.some((f) => typeof f === 'string' && f.includes(needle))) continue;
    const next: Fragment[] = [];
    for (const f of fragments) {
      if (typeof f !== 'string') {
        next.push(f);
        continue;
      }
      let from = 0;
      for (let at = f.indexOf(needle); at >= 0; at = f.indexOf(needle, from)) {
        if (at > from) next.push(f.slice(from, at));
        next.push(id);
        from = at + needle.length;
      }
      if (from < f.length) next.push(f.slice(from));
    }
    fragments = next;
  }
  return fragments;
}
