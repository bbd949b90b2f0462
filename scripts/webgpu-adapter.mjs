// Prints the WebGPU adapter this machine gives plumbline (CI: fails when there is none,
// so the WebGPU suites can never silently skip). Run after the build (dist/).
import { requestGpuAdapter } from '../dist/backends/webgpu/adapter.js';

try {
  const { description, software, adapter } = await requestGpuAdapter();
  const features = [...adapter.features].filter((f) => f === 'shader-f16' || f === 'subgroups');
  console.log(
    `webgpu adapter: ${description}${software ? ' (software)' : ''}; features: ${features.join(', ') || 'none'}`,
  );
} catch (e) {
  console.error(`webgpu adapter: none (${e.message})`);
  process.exit(1);
}
