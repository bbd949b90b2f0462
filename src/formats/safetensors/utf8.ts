/**
 * UTF-8 helpers for the header: strict decoding that reports where the first
 * bad byte is, and the byte length of a decoded prefix (to turn a position in
 * the header text back into a file offset for error messages).
 */

// ignoreBOM keeps a leading U+FEFF in the text, so the JSON parser rejects it
// as the reference does, instead of the decoder silently dropping it.
const strictDecoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** The decoded text, or the index of the first byte that is not valid UTF-8. */
export function decodeUtf8(bytes: Uint8Array): { text: string } | { invalidAt: number } {
  try {
    return { text: strictDecoder.decode(bytes) };
  } catch {
    return { invalidAt: firstInvalidUtf8Byte(bytes) };
  }
}

/** Index of the first byte that starts an invalid sequence (RFC 3629: no overlongs, surrogates or > U+10FFFF). */
export function firstInvalidUtf8Byte(bytes: Uint8Array): number {
  let i = 0;
  while (i < bytes.length) {
    const b = bytes[i];
    if (b < 0x80) {
      i++;
      continue;
    }
    let length: number;
    let min = 0x80; // smallest allowed second byte
    let max = 0xbf; // largest allowed second byte
    if (b >= 0xc2 && b <= 0xdf) length = 2;
    else if (b >= 0xe0 && b <= 0xef) {
      length = 3;
      if (b === 0xe0) min = 0xa0; // overlong
      if (b === 0xed) max = 0x9f; // UTF-16 surrogates
    } else if (b >= 0xf0 && b <= 0xf4) {
      length = 4;
      if (b === 0xf0) min = 0x90; // overlong
      if (b === 0xf4) max = 0x8f; // above U+10FFFF
    } else return i;
    if (i + length > bytes.length) return i;
    const second = bytes[i + 1];
    if (second < min || second > max) return i;
    for (let k = 2; k < length; k++) {
      if ((bytes[i + k] & 0xc0) !== 0x80) return i;
    }
    i += length;
  }
  return bytes.length;
}

/** Bytes that `text` takes in UTF-8 (the text came from valid UTF-8, so surrogates are paired). */
export function utf8ByteLength(text: string): number {
  let length = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) length += 1;
    else if (c < 0x800) length += 2;
    else if (c >= 0xd800 && c <= 0xdbff) {
      length += 4;
      i++;
    } else length += 3;
  }
  return length;
}
