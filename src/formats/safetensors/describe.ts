/** Short, unambiguous renderings of untrusted strings for error messages. */

const MAX_SHOWN = 80;

/** A name as a JSON string literal, cut short if long (a hostile name can be megabytes). */
export function quoted(name: string): string {
  const shown = name.length > MAX_SHOWN ? `${name.slice(0, MAX_SHOWN)}…` : name;
  return JSON.stringify(shown);
}

export function tensorLabel(name: string): string {
  return `tensor ${quoted(name)}`;
}

/** Largest number of elements or bytes plumbline handles exactly (doubles count exactly up to here). */
export const MAX_COUNT = Number.MAX_SAFE_INTEGER;

/** The element count of a shape, or undefined when it passes MAX_COUNT (checked left to right, as the reference does). */
export function elementCount(shape: readonly number[]): number | undefined {
  let count = 1;
  for (const dim of shape) {
    count *= dim;
    // Each factor is at most 2^53 − 1, so a true product above MAX_COUNT never rounds back below it.
    if (count > MAX_COUNT) return undefined;
  }
  return count;
}

/** A shape as "[2, 3]", eliding the middle of very long ones. */
export function shapeText(shape: readonly number[]): string {
  if (shape.length <= 16) return `[${shape.join(', ')}]`;
  return `[${shape.slice(0, 8).join(', ')}, … ${shape.length - 16} more …, ${shape.slice(-8).join(', ')}]`;
}
