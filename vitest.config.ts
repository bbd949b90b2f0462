import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

/** Mesa's lavapipe: the WebGPU suites run a second time on it (a second driver, and one with shader-f16). */
const LAVAPIPE_ICD = '/usr/share/vulkan/icd.d/lvp_icd.json';

export default defineConfig({
  resolve: {
    // README examples import 'plumbline' and 'plumbline/testing'; in tests that is the source tree.
    // Exact-match patterns, the subpath first, so 'plumbline' does not swallow 'plumbline/testing'.
    alias: [
      {
        find: /^plumbline\/testing$/,
        replacement: fileURLToPath(new URL('./src/testing/index.ts', import.meta.url)),
      },
      { find: /^plumbline$/, replacement: fileURLToPath(new URL('./src/index.ts', import.meta.url)) },
    ],
  },
  test: {
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    projects: [
      // Everything, WebGPU on the driver the environment names (SwiftShader in CI; the test helper's default).
      { extends: true, test: { name: 'main', include: ['test/**/*.test.ts'] } },
      {
        extends: true,
        test: {
          name: 'webgpu-lavapipe',
          include: ['test/backends/webgpu/**/*.test.ts'],
          env: { VK_ICD_FILENAMES: LAVAPIPE_ICD, PLUMBLINE_TEST_VULKAN_DRIVER: 'lavapipe' },
        },
      },
    ],
  },
});
