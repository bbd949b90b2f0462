// Compiles assembly/ into the two wasm builds named in asconfig.json
// (SIMD128, and SIMD128 + relaxed SIMD; both with threads and shared memory).
import { mkdirSync } from 'node:fs';
import asc from 'assemblyscript/asc';

mkdirSync('build', { recursive: true });
for (const target of ['simd', 'relaxed']) {
  const { error, stderr } = await asc.main(['--config', 'asconfig.json', '--target', target]);
  if (error) {
    console.error(stderr.toString());
    console.error(`build-wasm: target ${target} failed: ${error.message}`);
    process.exit(1);
  }
  console.log(`build-wasm: build/plumbline.${target}.wasm`);
}
