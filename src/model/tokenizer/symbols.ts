/**
 * The linked list of symbols both merge tokenizers work on: each symbol is a
 * slice [start, start + len) of the text; a merge grows the left symbol over
 * the right one (len 0 marks a merged-away symbol), so live symbols stay
 * contiguous and in order.
 */
export class Symbols {
  readonly start: Int32Array;
  readonly len: Int32Array;
  readonly prev: Int32Array;
  readonly next: Int32Array;
  readonly count: number;

  /** One symbol per code point of `text` (a surrogate pair is one symbol). */
  constructor(readonly text: string) {
    const n = text.length;
    this.start = new Int32Array(n);
    this.len = new Int32Array(n);
    let count = 0;
    for (let i = 0; i < n; count++) {
      const c = text.charCodeAt(i);
      const pair = c >= 0xd800 && c < 0xdc00 && i + 1 < n && (text.charCodeAt(i + 1) & 0xfc00) === 0xdc00;
      this.start[count] = i;
      this.len[count] = pair ? 2 : 1;
      i += this.len[count];
    }
    this.count = count;
    this.prev = new Int32Array(count);
    this.next = new Int32Array(count);
    for (let i = 0; i < count; i++) {
      this.prev[i] = i - 1;
      this.next[i] = i + 1 < count ? i + 1 : -1;
    }
  }

  textOf(i: number): string {
    return this.text.slice(this.start[i], this.start[i] + this.len[i]);
  }

  /** The text of symbols l and r together (they are adjacent). */
  pairText(l: number, r: number): string {
    return this.text.slice(this.start[l], this.start[r] + this.len[r]);
  }

  /** Merges r (l's right neighbour) into l. */
  merge(l: number, r: number): void {
    this.len[l] += this.len[r];
    this.len[r] = 0;
    const after = this.next[r];
    this.next[l] = after;
    if (after >= 0) this.prev[after] = l;
  }

  /** Indices of the live symbols, in order. */
  *live(): Generator<number> {
    for (let i = this.count > 0 ? 0 : -1; i !== -1; i = this.next[i]) yield i;
  }
}
