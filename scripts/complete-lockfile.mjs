// Restores lockfile entries for optional platform packages (e.g. @biomejs/cli-win32-x64) that
// `npm install` drops when the registry mirror in use does not serve them; without the entries
// `npm ci` refuses the lockfile as out of sync. The os/cpu/libc come from the package name
// (the convention those native-binary packages follow); such a package is never installed here.
import { readFileSync, writeFileSync } from 'node:fs';

const PLATFORM =
  /-(android|darwin|linux|win32|freebsd|openbsd|netbsd|sunos|aix|openharmony)-(x64|arm64|arm|ia32|ppc64|s390x|riscv64|loong64|mips64el|wasm32)(-(musl|gnu|msvc|gnueabihf|eabi))?$/;

const path = new URL('../package-lock.json', import.meta.url);
const lock = JSON.parse(readFileSync(path, 'utf8'));
const packages = lock.packages;
let added = 0;
for (const [key, entry] of Object.entries(packages)) {
  for (const [dep, version] of Object.entries(entry.optionalDependencies ?? {})) {
    const where = `${key ? `${key}/` : ''}node_modules/${dep}`;
    const hoisted = `node_modules/${dep}`;
    if (packages[where] || packages[hoisted]) continue;
    const m = PLATFORM.exec(dep);
    if (!m) continue;
    const stub = { version, cpu: [m[2]], optional: true, os: [m[1]] };
    if (entry.dev) stub.dev = true;
    if (m[4] === 'musl' || m[4] === 'gnu') stub.libc = [m[4] === 'gnu' ? 'glibc' : 'musl'];
    packages[hoisted] = stub;
    added++;
  }
}
lock.packages = Object.fromEntries(
  Object.entries(packages).sort(([a], [b]) => (a === '' ? -1 : b === '' ? 1 : a < b ? -1 : 1)),
);
writeFileSync(path, `${JSON.stringify(lock, null, 2)}\n`);
console.log(`complete-lockfile: ${added} platform entries restored`);
