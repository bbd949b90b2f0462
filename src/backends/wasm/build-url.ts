/**
 * Where a wasm build file lies: the package's build/ beside src/ and dist/.
 * A single-file browser bundle has no such tree, so scripts/bundle-browser.ts
 * swaps this module for one that resolves the file beside the bundle.
 */
export function buildFileUrl(file: string): URL {
  return new URL(`../../../build/${file}`, import.meta.url);
}
