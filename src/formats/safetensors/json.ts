/**
 * A strict, pull-style JSON reader for safetensors headers.
 *
 * JSON.parse is not used: it silently keeps the last of two duplicate keys,
 * and turns `1e3`, `2.0` and 20-digit integers into doubles, so a header could
 * mean something other than what it says. It also builds the whole tree, and
 * a 100 MB header of `[{},{},...]` inside an ignored field would become
 * gigabytes of objects. Here the caller walks the document: it reads the
 * values it needs (numbers keep their text, so the caller decides what an
 * integer is) and skips the rest, which is validated but never materialized.
 * Objects that are read refuse duplicate keys.
 */

/** A syntax error at character index `pos` of the text. */
export class JsonSyntaxError extends Error {
  constructor(
    message: string,
    readonly pos: number,
  ) {
    super(message);
  }
}

/** serde_json's recursion limit: what the reference accepts, so do we. */
export const MAX_JSON_DEPTH = 128;

const NUMBER = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;
const NUMBER_CHAR = /[0-9.eE+-]/;

const SIMPLE_ESCAPES = new Map<string | undefined, string>([
  ['"', '"'],
  ['\\', '\\'],
  ['/', '/'],
  ['b', '\b'],
  ['f', '\f'],
  ['n', '\n'],
  ['r', '\r'],
  ['t', '\t'],
]);

const LITERALS: ReadonlyArray<readonly [string, boolean | null]> = [
  ['true', true],
  ['false', false],
  ['null', null],
];

export type JsonKind = 'object' | 'array' | 'string' | 'number' | 'literal';

export class JsonReader {
  /** Index of the next character to read. */
  pos = 0;

  constructor(private readonly text: string) {}

  fail(message: string, pos = this.pos): never {
    throw new JsonSyntaxError(message, pos);
  }

  /** The kind of value that starts at `pos` (after whitespace), judged by its first character. */
  peekKind(): JsonKind | undefined {
    this.skipWhitespace();
    const c = this.text[this.pos];
    if (c === '{') return 'object';
    if (c === '[') return 'array';
    if (c === '"') return 'string';
    if (c === '-' || (c >= '0' && c <= '9')) return 'number';
    if (c === 't' || c === 'f' || c === 'n') return 'literal';
    return undefined;
  }

  /**
   * Skips the value at `pos` (validating it) and describes it for an error
   * message: "an array", "the number 12", "null".
   */
  skipAndDescribe(depth: number): string {
    const kind = this.peekKind();
    const start = this.pos;
    this.skipValue(depth);
    if (kind === 'number') {
      const text = this.text.slice(start, Math.min(this.pos, start + 41));
      return `the number ${text.length > 40 ? `${text.slice(0, 40)}…` : text}`;
    }
    if (kind === 'literal') return this.text.slice(start, this.pos);
    return kind === 'string' ? 'a string' : `an ${kind}`;
  }

  /** Reads an object, calling `onEntry` with each key; `onEntry` must consume the value. */
  readObject(depth: number, onEntry: (key: string, keyPos: number) => void): void {
    this.enter(depth);
    const seen = new Set<string>();
    this.members('{', '}', () => {
      const keyPos = this.pos;
      const key = this.readKey();
      if (seen.has(key)) this.fail(`duplicate key ${JSON.stringify(key)}`, keyPos);
      seen.add(key);
      onEntry(key, keyPos);
    });
  }

  /** Reads an array, calling `onItem` once per element; `onItem` must consume the element. */
  readArray(depth: number, onItem: (index: number) => void): void {
    this.enter(depth);
    let index = 0;
    this.members('[', ']', () => onItem(index++));
  }

  readString(): string {
    this.skipWhitespace();
    if (this.text[this.pos] !== '"') this.fail(`expected a string, found ${this.describeHere()}`);
    return this.string();
  }

  /** The text of a number literal, as written. */
  readNumberText(): string {
    this.skipWhitespace();
    const pos = this.pos;
    NUMBER.lastIndex = pos;
    const match = NUMBER.exec(this.text);
    // "01", "1.", "1e": the regex stops early; the leftover would be reported as
    // a missing separator, which is true but less helpful.
    if (!match || NUMBER_CHAR.test(this.text[pos + match[0].length] ?? ''))
      this.fail('malformed number', pos);
    this.pos = pos + match[0].length;
    return match[0];
  }

  readLiteral(): boolean | null {
    this.skipWhitespace();
    for (const [word, value] of LITERALS) {
      if (this.text.startsWith(word, this.pos)) {
        this.pos += word.length;
        return value;
      }
    }
    return this.fail(`expected a JSON value, found ${this.describeHere()}`);
  }

  /** Validates and steps over one value without building it. */
  skipValue(depth: number): void {
    switch (this.peekKind()) {
      case 'object':
        // Keys of skipped objects are not collected: their content is never used, so a duplicate there is harmless.
        this.enter(depth + 1);
        this.members('{', '}', () => {
          this.readKey();
          this.skipValue(depth + 1);
        });
        return;
      case 'array':
        this.enter(depth + 1);
        this.members('[', ']', () => this.skipValue(depth + 1));
        return;
      case 'string':
        this.string();
        return;
      case 'number':
        this.readNumberText();
        return;
      default:
        this.readLiteral();
    }
  }

  /** Only whitespace may remain. */
  finish(): void {
    this.skipWhitespace();
    if (this.pos < this.text.length) this.fail(`unexpected ${this.describeHere()} after the JSON value`);
  }

  describeHere(): string {
    if (this.pos >= this.text.length) return 'end of header';
    const code = this.text.codePointAt(this.pos)!;
    return code >= 0x20 && code < 0x7f
      ? `character ${JSON.stringify(String.fromCodePoint(code))}`
      : `character U+${code.toString(16).toUpperCase().padStart(4, '0')}`;
  }

  private skipWhitespace(): void {
    const text = this.text;
    let i = this.pos;
    for (; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) break;
    }
    this.pos = i;
  }

  private enter(depth: number): void {
    if (depth > MAX_JSON_DEPTH) this.fail(`JSON nested more than ${MAX_JSON_DEPTH} levels deep`);
  }

  /** The comma-separated members between `open` and `close`; `member` consumes one. */
  private members(open: string, close: string, member: () => void): void {
    this.skipWhitespace();
    if (this.text[this.pos] !== open) this.fail(`expected '${open}', found ${this.describeHere()}`);
    this.pos++;
    this.skipWhitespace();
    if (this.text[this.pos] === close) {
      this.pos++;
      return;
    }
    for (;;) {
      member();
      this.skipWhitespace();
      const c = this.text[this.pos];
      if (c !== ',' && c !== close) {
        const where = open === '{' ? 'an object' : 'an array';
        this.fail(`expected ',' or '${close}' in ${where}, found ${this.describeHere()}`);
      }
      this.pos++;
      if (c === close) return;
      this.skipWhitespace();
    }
  }

  private readKey(): string {
    if (this.text[this.pos] !== '"') this.fail(`expected a quoted key, found ${this.describeHere()}`);
    const key = this.string();
    this.skipWhitespace();
    if (this.text[this.pos] !== ':') this.fail(`expected ':' after a key, found ${this.describeHere()}`);
    this.pos++;
    return key;
  }

  /** Parses a string starting at the opening quote; leaves `pos` after the closing quote. */
  private string(): string {
    const text = this.text;
    const start = this.pos;
    let out = '';
    this.pos++;
    for (;;) {
      // Copy the run of characters that need no decoding in one slice.
      let end = this.pos;
      let c = -1;
      for (; end < text.length; end++) {
        c = text.charCodeAt(end);
        if (c === 0x22 || c === 0x5c || c < 0x20) break;
      }
      out += text.slice(this.pos, end);
      this.pos = end;
      if (end >= text.length) this.fail('unterminated string', start);
      if (c === 0x22) {
        this.pos++;
        return out;
      }
      if (c < 0x20) this.fail(`unescaped control character U+${c.toString(16).padStart(4, '0')} in a string`);
      out += this.escape();
    }
  }

  /** Parses one escape sequence at a backslash. */
  private escape(): string {
    const pos = this.pos;
    const c = this.text[pos + 1];
    this.pos += 2;
    const simple = SIMPLE_ESCAPES.get(c);
    if (simple !== undefined) return simple;
    if (c !== 'u') return this.fail(`invalid escape ${JSON.stringify(`\\${c ?? ''}`)}`, pos);
    const unit = this.hex4(pos);
    if (unit >= 0xdc00 && unit <= 0xdfff) this.fail('lone low surrogate in a \\u escape', pos);
    if (unit < 0xd800 || unit > 0xdbff) return String.fromCharCode(unit);
    // A high surrogate must be followed by an escaped low one (serde_json rejects lone surrogates).
    if (!this.text.startsWith('\\u', this.pos)) this.fail('lone high surrogate in a \\u escape', pos);
    this.pos += 2;
    const low = this.hex4(this.pos - 2);
    if (low < 0xdc00 || low > 0xdfff) this.fail('lone high surrogate in a \\u escape', pos);
    return String.fromCharCode(unit, low);
  }

  private hex4(escapePos: number): number {
    const digits = this.text.slice(this.pos, this.pos + 4);
    if (!/^[0-9a-fA-F]{4}$/.test(digits)) this.fail('invalid \\u escape', escapePos);
    this.pos += 4;
    return Number.parseInt(digits, 16);
  }
}
