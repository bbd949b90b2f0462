/** README examples are run here, so they cannot rot (style.md, "Habits"). */

import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { SWIFTSHADER_ICD } from '../src/backends/webgpu/adapter.js';

// The WebGPU example needs an adapter: SwiftShader's Vulkan driver where no GPU is (CI exports the same).
if (!process.env.VK_ICD_FILENAMES && existsSync(SWIFTSHADER_ICD))
  process.env.VK_ICD_FILENAMES = SWIFTSHADER_ICD;

const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
const examples = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]);
const dir = new URL('./.readme/', import.meta.url);

describe('README examples', () => {
  it('has examples', () => {
    expect(examples.length).toBeGreaterThan(2);
  });
  examples.forEach((code, i) => {
    const title =
      code
        .split('\n')
        .find((l) => l.startsWith('import'))
        ?.slice(0, 60) ?? `#${i}`;
    it(`example ${i + 1}: ${title}`, async () => {
      mkdirSync(dir, { recursive: true });
      const file = new URL(`example-${i + 1}.ts`, dir);
      writeFileSync(file, code);
      await import(/* @vite-ignore */ file.href);
    });
  });
});
