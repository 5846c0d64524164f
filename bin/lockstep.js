#!/usr/bin/env node
// Thin launcher: the compiled CLI lives in dist/ (built by `npm ci` through the prepare script).
// The CLI runs as one CommonJS file with a V8 code cache of its own (bin/code-cache.js), so later starts
// skip parsing and compiling it: on Node 20, which has no compile cache for ES modules, and on Node 22+
// too, where it starts 17-35% faster than the ES modules through Node's compile cache (bench/README.md).
// LOCKSTEP_CODE_CACHE=0 runs the ES modules instead. Node >= 22.1 keeps V8's compiled code of the other
// modules (the launcher's, the packages a verb imports) in its own cache folder; it must be enabled
// before the CLI is imported, hence the dynamic imports.
// `npm run build` also bundles the CLI into a few files (dist/bundle, scripts/bundle.mjs), which start
// faster than the ~100 modules they are made of; the bundle is used only when it was made after the
// last compile (dist/.tsbuildinfo), so a `tsc` alone never leaves an old bundle running.
// LOCKSTEP_NO_BUNDLE=1 runs the modules as compiled.
// Built-ins come through process.getBuiltinModule (Node >= 20.16; older Nodes require them): an `import` of a
// built-in makes an ES-module facade of all its exports (fs's loads its streams), 3-8 ms of every start.
const builtin = process.getBuiltinModule ?? (await import('node:module')).createRequire(import.meta.url);
const module = builtin('node:module');
const { statSync } = builtin('node:fs');
const { fileURLToPath } = builtin('node:url');

module.enableCompileCache?.();

function bundleIsCurrent() {
  if (process.env.LOCKSTEP_NO_BUNDLE === '1') return false;
  const built = statSync(new URL('../dist/bundle/built', import.meta.url), { throwIfNoEntry: false });
  const compiled = statSync(new URL('../dist/.tsbuildinfo', import.meta.url), { throwIfNoEntry: false });
  return built !== undefined && (compiled === undefined || built.mtimeMs >= compiled.mtimeMs);
}

async function loadMain() {
  if (!bundleIsCurrent()) return { main: (await import('../dist/src/cli/main.js')).main };
  if (process.env.LOCKSTEP_CODE_CACHE === '0') return { main: (await import('../dist/bundle/main.js')).main };
  const { loadCached } = await import('./code-cache.js');
  const bundle = loadCached(fileURLToPath(new URL('../dist/bundle/cli.cjs', import.meta.url)), (s) => import(s));
  return { main: bundle.exports.main, ran: () => bundle.save() };
}

const { main, ran } = await loadMain();
process.exitCode = await main(process.argv);
ran?.();
