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

/** Length of a contraction ('s 't 're 've 'm 'll 'd) at cps[pos], or 0. */
function contraction(cps: Uint32Array, pos: number, end: number, caseless: boolean): number {
  if (cps[pos] !== APOSTROPHE || pos + 1 >= end) return 0;
  const fold = caseless ? lowerAscii : (c: number) => c;
  const a = fold(cps[pos + 1]);
  if (a === 0x73 || a === 0x74 || a === 0x6d || a === 0x64) return 2; // s t m d
  if (pos + 2 >= end) return 0;
  const b = fold(cps[pos + 2]);
  // re ve ll
  return (a === 0x72 && b === 0x65) || (a === 0x76 && b === 0x65) || (a === 0x6c && b === 0x6c) ? 3 : 0;
}

/** Whitespace run at pos: its length and the end of its last CR/LF (0 if none). */
function whitespaceRun(cps: Uint32Array, pos: number, end: number): { n: number; afterNewline: number } {
  let n = 0;
  let afterNewline = 0;
  while (flagsIn(cps, pos + n, end) & WHITESPACE) {
    const c = cps[pos + n];
    if (c === CR || c === LF) afterNewline = pos + n + 1;
    n++;
  }
  return { n, afterNewline };
}

/** `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+` */
const scanGpt2: Scanner = (cps, start, end, out) => {
  let pos = start;
  const emit = (to: number) => {
    if (to > pos) out.push(to - pos);
    pos = to;
  };
  while (pos < end) {
    const c = cps[pos];
    const k = contraction(cps, pos, end, false);
    if (k) {
      emit(pos + k);
      continue;
    }
    // The optional leading space belongs to the class of what follows it.
    const lead = c === SPACE ? 1 : 0;
    const f = flagsIn(cps, pos + lead, end);
    const run = (test: (flags: number) => boolean) => {
      let p = pos + lead;
      while (test(flagsIn(cps, p, end))) p++;
      emit(p);
    };
    if (f & LETTER) {
      run((g) => (g & LETTER) !== 0);
      continue;
    }
    if (f & NUMBER) {
      run((g) => (g & NUMBER) !== 0);
      continue;
    }
    const other = (g: number) => g !== 0 && !(g & (WHITESPACE | LETTER | NUMBER));
    if (other(f)) {
      run(other);
      continue;
    }
    const ws = whitespaceRun(cps, pos, end);
    // \s+(?!\S): a run followed by a non-space leaves its last space to that.
    if (ws.n > 1 && pos + ws.n < end) emit(pos + ws.n - 1);
    else emit(pos + Math.max(ws.n, 1));
  }
};

/**
 * Llama 3 (maxDigits 3) and Qwen2 (maxDigits 1):
 * `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,max}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
 */
function llama3Scanner(maxDigits: number): Scanner {
  return (cps, start, end, out) => {
    let pos = start;
    const emit = (to: number) => {
      if (to > pos) out.push(to - pos);
      pos = to;
    };
    while (pos < end) {
      const c = cps[pos];
      const f = cptFlags(c);
      const k = contraction(cps, pos, end, true);
      if (k) {
        emit(pos + k);
        continue;
      }
      // [^\r\n\p{L}\p{N}]?\p{L}+
      if (c !== CR && c !== LF && !(f & NUMBER) && (f & LETTER || flagsIn(cps, pos + 1, end) & LETTER)) {
        let p = pos + 1;
        while (flagsIn(cps, p, end) & LETTER) p++;
        emit(p);
        continue;
      }
      // \p{N}{1,maxDigits}, repeatedly
      if (f & NUMBER) {
        let p = pos;
        while (flagsIn(cps, p, end) & NUMBER) {
          p++;
          if (p - pos >= maxDigits) emit(p);
        }
        emit(p);
        continue;
      }
      // ' ?[^\s\p{L}\p{N}]+[\r\n]*'
      const lead = c === SPACE ? 1 : 0;
      const other = (g: number) => !(g & (WHITESPACE | LETTER | NUMBER));
      if (other(flagsIn(cps, pos + lead, end))) {
        let p = pos + lead;
        while (p < end && other(cptFlags(cps[p]))) p++;
        while (p < end && (cps[p] === CR || cps[p] === LF)) p++;
        emit(p);
        continue;
      }
      const ws = whitespaceRun(cps, pos, end);
      if (ws.afterNewline > 0)
        emit(ws.afterNewline); // \s*[\r\n]+
      else if (ws.n > 1 && pos + ws.n < end)
        emit(pos + ws.n - 1); // \s+(?!\S)
      else emit(pos + Math.max(ws.n, 1)); // \s+, or one unmatched character
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
