/**
 * Headless Chromium for the browser test and bench, through playwright-core. The
 * browser is the system's (CHROMIUM_PATH, default /usr/bin/chromium; CI
 * installs it with apt): playwright-core never downloads one.
 */
import { existsSync } from 'node:fs';
import { type Browser, chromium } from 'playwright-core';

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/**
 * WebGPU on SwiftShader (Vulkan on the CPU): `navigator.gpu` is behind
 * --enable-unsafe-webgpu on Linux, and the adapter flag picks SwiftShader even
 * where a GPU exists, so every machine runs the same device.
 */
export const WEBGPU_FLAGS = ['--enable-unsafe-webgpu', '--use-webgpu-adapter=swiftshader'];

/** No network beyond the page's own origin: no updates, sync or QUIC probes. */
const QUIET_FLAGS = [
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
];

export const haveChromium = existsSync(CHROMIUM_PATH);

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    // Containers (and CI runners) often lack the user namespaces the sandbox needs.
    args: ['--no-sandbox', ...QUIET_FLAGS, ...WEBGPU_FLAGS],
  });
}
