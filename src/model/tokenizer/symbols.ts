/**
 * The linked list of symbols both merge tokenizers work on: each symbol is a
 * slice [start, start + len) of the text; a merge grows the left symbol over
 * the right one (len 0 marks a merged-away symbol), so live symbols stay
 * contiguous and in order. `load` reuses the arrays, so one list can serve
 * many words.
 */
export class Symbols {
  text = '';
  count = 0;
  start = new Int32Array(16);
  len = new Int32Array(16);
  prev = new Int32Array(16);
  next = new Int32Array(16);

  /** One symbol per code point of `text` (a surrogate pair is one symbol). */
  load(text: string): this {
    const n = text.length;
    if (n > this.start.length) {
      const cap = Math.max(n, this.start.length * 2);
      this.start = new Int32Array(cap);
      this.len = new Int32Array(cap);
      this.prev = new Int32Array(cap);
      this.next = new Int32Array(cap);
    }
    this.text = text;
    let count = 0;
    for (let i = 0; i < n; count++) {
      const c = text.charCodeAt(i);
      const pair = c >= 0xd800 && c < 0xdc00 && i + 1 < n && (text.charCodeAt(i + 1) & 0xfc00) === 0xdc00;
      this.start[count] = i;
      this.len[count] = pair ? 2 : 1;
      this.prev[count] = count - 1;
      this.next[count] = count + 1;
      i += this.len[count];
    }
    if (count > 0) this.next[count - 1] = -1;
    this.count = count;
    return this;
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

  /** Index of the first live symbol (-1 if none); follow `next` from there. */
  get first(): number {
    return this.count > 0 ? 0 : -1;
  }
}
