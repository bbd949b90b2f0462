/**
 * Pre-tokenization: splitting text into the pieces BPE merges within, as
 * llama.cpp's unicode_regex_split does. Each regex splits every piece left by
 * the one before; matches and the text between them both become pieces.
 *
 * Three regexes (GPT-2, Llama 3, Qwen2) have hand-written scanners, as in
 * llama.cpp, since they need lookahead and Unicode classes. Any other regex
 * runs as an ECMAScript regex over a "collapsed" text with one character per
 * code point — ASCII kept, other code points replaced by a stand-in for
 * their class (whitespace by \v) — with \p{..} rewritten to those stand-ins.
 * That is llama.cpp's std::regex fallback, and only ASCII-only regexes are
 * accepted for it, as there.
 */
import { TokenizerError } from './errors.js';
import { GPT2_REGEX, LLAMA3_REGEX, QWEN2_REGEX } from './pre-tokenizers.js';
import { cptFlags, LETTER, MARK, NUMBER, PUNCTUATION, SYMBOL, WHITESPACE } from './unicode.js';

const CR = 0x0d;
const LF = 0x0a;
const SPACE = 0x20;
const APOSTROPHE = 0x27;

/** Appends the lengths (in code points) of the pieces of cps[start, end) to `out`. */
type Scanner = (cps: Uint32Array, start: number, end: number, out: number[]) => void;

/** Flags of cps[p], or 0 outside [start, end): the scanners never look past their piece. */
function flagsIn(cps: Uint32Array, p: number, end: number): number {
  return p < end ? cptFlags(cps[p]) : 0;
}

function lowerAscii(cp: number): number {
  return cp >= 0x41 && cp <= 0x5a ? cp + 0x20 : cp;
}

/** Length of a contraction ('s 't 're 've 'm 'll 'd) at cps[pos], or 0; `caseless` folds ASCII case. */
function contraction(cps: Uint32Array, pos: number, end: number, caseless: boolean): number {
  if (cps[pos] !== APOSTROPHE || pos + 1 >= end) return 0;
  const a = caseless ? lowerAscii(cps[pos + 1]) : cps[pos + 1];
  if (a === 0x73 || a === 0x74 || a === 0x6d || a === 0x64) return 2; // s t m d
  if (pos + 2 >= end) return 0;
  const b = caseless ? lowerAscii(cps[pos + 2]) : cps[pos + 2];
  // re ve ll
  return (a === 0x72 && b === 0x65) || (a === 0x76 && b === 0x65) || (a === 0x6c && b === 0x6c) ? 3 : 0;
}

/** Neither whitespace, letter nor number (0, outside the piece, counts as such here). */
function isOther(flags: number): boolean {
  return !(flags & (WHITESPACE | LETTER | NUMBER));
}

/** End of the run from p of code points whose flags have any of `mask` (mask 0: "other", in the piece). */
function runEnd(cps: Uint32Array, p: number, end: number, mask: number): number {
  if (mask === 0) {
    while (p < end && isOther(cptFlags(cps[p]))) p++;
  } else {
    while (flagsIn(cps, p, end) & mask) p++;
  }
  return p;
}

/** `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+` */
const scanGpt2: Scanner = (cps, start, end, out) => {
  let pos = start;
  while (pos < end) {
    let to: number;
    const k = contraction(cps, pos, end, false);
    // The optional leading space belongs to the class of what follows it.
    const lead = cps[pos] === SPACE ? 1 : 0;
    const f = flagsIn(cps, pos + lead, end);
    if (k) to = pos + k;
    else if (f & LETTER) to = runEnd(cps, pos + lead, end, LETTER);
    else if (f & NUMBER) to = runEnd(cps, pos + lead, end, NUMBER);
    else if (f !== 0 && isOther(f)) to = runEnd(cps, pos + lead, end, 0);
    else {
      const n = runEnd(cps, pos, end, WHITESPACE) - pos;
      // \s+(?!\S): a run followed by a non-space leaves its last space to that.
      to = n > 1 && pos + n < end ? pos + n - 1 : pos + Math.max(n, 1);
    }
    out.push(to - pos);
    pos = to;
  }
};

/**
 * Llama 3 (maxDigits 3) and Qwen2 (maxDigits 1):
 * `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,max}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
 */
function llama3Scanner(maxDigits: number): Scanner {
  return (cps, start, end, out) => {
    let pos = start;
    while (pos < end) {
      const c = cps[pos];
      const f = cptFlags(c);
      const k = contraction(cps, pos, end, true);
      if (k) {
        out.push(k);
        pos += k;
        continue;
      }
      // [^\r\n\p{L}\p{N}]?\p{L}+
      if (c !== CR && c !== LF && !(f & NUMBER) && (f & LETTER || flagsIn(cps, pos + 1, end) & LETTER)) {
        const to = runEnd(cps, pos + 1, end, LETTER);
        out.push(to - pos);
        pos = to;
        continue;
      }
      // \p{N}{1,maxDigits}, repeatedly
      if (f & NUMBER) {
        const to = runEnd(cps, pos, end, NUMBER);
        for (; pos < to; pos += maxDigits) out.push(Math.min(maxDigits, to - pos));
        pos = to;
        continue;
      }
      // ' ?[^\s\p{L}\p{N}]+[\r\n]*'
      const lead = c === SPACE ? 1 : 0;
      if (isOther(flagsIn(cps, pos + lead, end))) {
        let to = runEnd(cps, pos + lead, end, 0);
        while (to < end && (cps[to] === CR || cps[to] === LF)) to++;
        out.push(to - pos);
        pos = to;
        continue;
      }
      // Whitespace: \s*[\r\n]+ up to the run's last CR/LF, else \s+(?!\S), else \s+ (or one unmatched character).
      let n = 0;
      let afterNewline = 0;
      for (; flagsIn(cps, pos + n, end) & WHITESPACE; n++) {
        if (cps[pos + n] === CR || cps[pos + n] === LF) afterNewline = pos + n + 1;
      }
      const to =
        afterNewline > 0 ? afterNewline : n > 1 && pos + n < end ? pos + n - 1 : pos + Math.max(n, 1);
      out.push(to - pos);
      pos = to;
    }
  };
}

const SCANNERS: ReadonlyMap<string, Scanner> = new Map([
  [GPT2_REGEX, scanGpt2],
  [LLAMA3_REGEX, llama3Scanner(3)],
  [QWEN2_REGEX, llama3Scanner(1)],
]);

// Stand-ins of the collapsed text, and the ASCII members of each class that
// llama.cpp adds next to them (\p{S} lacks '~' there, and so here).
const CLASS_STAND_INS: ReadonlyMap<string, string> = new Map([
  ['N', '\u00d10-9'],
  ['L', '\u00d2A-Za-z'],
  ['Lu', '\u00d2A-Za-z'],
  ['Ll', '\u00d2A-Za-z'],
  ['Lt', '\u00d2A-Za-z'],
  ['Lm', '\u00d2A-Za-z'],
  ['Lo', '\u00d2A-Za-z'],
  ['P', '\u00d3!-#%-*,-/:-;?-@\\[-\\]_\\{\\}'],
  ['M', '\u00d4'],
  ['S', '\u00d5\\$\\+<->\\^`\\|'],
]);
const OTHER_STAND_IN = '\u00d0';

function collapsedChar(cp: number): string {
  if (cp < 0x80) return String.fromCharCode(cp);
  const f = cptFlags(cp);
  if (f & WHITESPACE) return '\v';
  if (f & NUMBER) return '\u00d1';
  if (f & LETTER) return '\u00d2';
  if (f & PUNCTUATION) return '\u00d3';
  if (f & MARK) return '\u00d4';
  if (f & SYMBOL) return '\u00d5';
  return OTHER_STAND_IN;
}

/** Rewrites \p{..} into stand-in classes (inside [..], just their members). */
function collapseRegex(expr: string): RegExp {
  if (/[^ -~\t\n\r]/.test(expr)) {
    throw new TokenizerError(
      `pre-tokenizer regex ${JSON.stringify(expr)} has non-ASCII characters (unsupported)`,
    );
  }
  let out = '';
  let inside = false;
  for (let i = 0; i < expr.length; i++) {
    const ch = expr[i];
    const escaped = i > 0 && expr[i - 1] === '\\';
    if (ch === '[' && !escaped) inside = true;
    else if (ch === ']' && inside && !escaped) inside = false;
    else if (ch === '\\' && expr[i + 1] === 'p' && expr[i + 2] === '{') {
      const close = expr.indexOf('}', i + 3);
      const members = close > 0 ? CLASS_STAND_INS.get(expr.slice(i + 3, close)) : undefined;
      if (members !== undefined) {
        out += inside ? members : `[${members}]`;
        i = close;
        continue;
      }
    }
    out += ch;
  }
  return new RegExp(out, 'g');
}

const compiled = new Map<string, RegExp>();

function regexScanner(expr: string): Scanner {
  let re = compiled.get(expr);
  if (!re) {
    re = collapseRegex(expr);
    compiled.set(expr, re);
  }
  const regex = re;
  return (cps, start, end, out) => {
    let text = '';
    for (let i = start; i < end; i++) text += collapsedChar(cps[i]);
    regex.lastIndex = 0;
    let last = 0;
    for (let m = regex.exec(text); m !== null; m = regex.exec(text)) {
      if (m[0].length === 0) {
        regex.lastIndex++;
        continue;
      }
      if (m.index > last) out.push(m.index - last);
      out.push(m[0].length);
      last = m.index + m[0].length;
    }
    if (last < text.length) out.push(text.length - last);
  };
}

/** The scanner llama.cpp would use for `expr`; `generic` forces the regex path (for tests). */
export function scannerFor(expr: string, generic = false): Scanner {
  return (!generic && SCANNERS.get(expr)) || regexScanner(expr);
}

/** Splits code points by each regex in turn; returns the pieces' lengths in code points. */
export function splitByRegexes(cps: Uint32Array, regexes: readonly string[], generic = false): number[] {
  let lengths = cps.length > 0 ? [cps.length] : [];
  for (const expr of regexes) {
    const scan = scannerFor(expr, generic);
    const next: number[] = [];
    let start = 0;
    for (const len of lengths) {
      scan(cps, start, start + len, next);
      start += len;
    }
    lengths = next;
  }
  return lengths;
}
