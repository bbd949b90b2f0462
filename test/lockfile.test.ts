/** `npm ci` (CI) needs every optional platform package listed; see scripts/complete-lockfile.mjs. */
import { readFileSync } from 'node:fs';
import { expect, it } from 'vitest';

it('package-lock.json lists every optional dependency, so npm ci accepts it', () => {
  const lock = JSON.parse(readFileSync(new URL('../package-lock.json', import.meta.url), 'utf8'));
  const missing: string[] = [];
  for (const [key, entry] of Object.entries<{ optionalDependencies?: Record<string, string> }>(
    lock.packages,
  )) {
    for (const dep of Object.keys(entry.optionalDependencies ?? {})) {
      if (
        !lock.packages[`${key ? `${key}/` : ''}node_modules/${dep}`] &&
        !lock.packages[`node_modules/${dep}`]
      ) {
        missing.push(dep);
      }
    }
  }
  expect(missing, 'run `npm run lock` (npm install + scripts/complete-lockfile.mjs)').toEqual([]);
});
