#!/usr/bin/env node
// Thin launcher: the compiled CLI lives in dist/ (built by `npm ci` through the prepare script).
// Node >= 22.1 keeps V8's compiled code of lockstep's modules in a cache folder (in the OS temp dir),
// so later starts skip parsing and compiling them; it must be enabled before the CLI is imported, hence
// the dynamic imports. Node 20 has no such cache for ES modules: there the launcher runs the same code as
// one CommonJS file with a V8 code cache of its own (bin/code-cache.js; LOCKSTEP_CODE_CACHE=0 turns it off).
// `npm run build` also bundles the CLI into a few files (dist/bundle, scripts/bundle.mjs), which start
// faster than the ~100 modules they are made of; the bundle is used only when it was made after the
// last compile (dist/.tsbuildinfo), so a `tsc` alone never leaves an old bundle running.
// LOCKSTEP_NO_BUNDLE=1 runs the modules as compiled.
import module from 'node:module';
import { statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

module.enableCompileCache?.();

function bundleIsCurrent() {
  if (process.env.LOCKSTEP_NO_BUNDLE === '1') return false;
  const built = statSync(new URL('../dist/bundle/built', import.meta.url), { throwIfNoEntry: false });
  const compiled = statSync(new URL('../dist/.tsbuildinfo', import.meta.url), { throwIfNoEntry: false });
  return built !== undefined && (compiled === undefined || built.mtimeMs >= compiled.mtimeMs);
}

async function loadMain() {
  if (!bundleIsCurrent()) return { main: (await import('../dist/src/cli/main.js')).main };
  // Node 22.1+ caches the ES modules itself: bin/code-cache.js is not even loaded there
  if (module.enableCompileCache !== undefined || process.env.LOCKSTEP_CODE_CACHE === '0')
    return { main: (await import('../dist/bundle/main.js')).main };
  const { loadCached } = await import('./code-cache.js');
  const bundle = loadCached(fileURLToPath(new URL('../dist/bundle/cli.cjs', import.meta.url)), (s) => import(s));
  return { main: bundle.exports.main, ran: () => bundle.save() };
}

const { main, ran } = await loadMain();
process.exitCode = await main(process.argv);
ran?.();
