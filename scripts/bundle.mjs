// The start-up bundle (run by `npm run build` after tsc): dist/src/cli/main.js and what it imports, with the
// small pure-JS packages every command loads (commander, yaml, fast-glob ...), as a few ESM files in
// dist/bundle/. Each `await import()` of the CLI stays its own file (esbuild's splitting), so a verb
// still loads only what it uses; every other package stays an import from node_modules (heavy ones load
// lazily, native ones need their files). bin/lockstep.js prefers this bundle when it is newer than the
// last compile: `status` on a small project costs ~30% less CPU than loading the ~100 modules one by one.
// bin/lockstep.js runs a second form of the same code: dist/bundle/cli.cjs, one CommonJS file (lazily imported
// verbs are inlined, each initialised on its first import()), which it runs with a V8 code cache
// (bin/code-cache.js; an ES module cannot be); the ES modules run with LOCKSTEP_CODE_CACHE=0.
import { build } from 'esbuild';
import { readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';

/** Packages inlined (with their own dependencies): pure JavaScript, on the path of every command. */
const INLINED = new Set([
  'commander',
  'yaml',
  'js-yaml',
  'jsonc-parser',
  'fast-glob',
  'p-limit',
  'fastest-levenshtein',
  'smol-toml',
  'csv-parse',
  'csv-stringify',
]);

const OUT = 'dist/bundle';
const packageOf = (spec) =>
  spec
    .split('/')
    .slice(0, spec.startsWith('@') ? 2 : 1)
    .join('/');

/** Packages stay imports from node_modules unless listed in INLINED (or `alsoInline` says so). */
const externalUnlessInlined = (alsoInline = () => false) => ({
  name: 'inline-only-listed-packages',
  setup(b) {
    b.onResolve({ filter: /^[^./]/ }, (args) => {
      if (args.path.startsWith('node:')) return { path: args.path, external: true };
      if (args.importer.includes('/node_modules/')) return undefined; // a dependency of an inlined package
      if (INLINED.has(packageOf(args.path)) || alsoInline(args)) return undefined;
      return { path: args.path, external: true };
    });
  },
});

/** Whether a package offers no CommonJS entry (package.json "type": "module" and no "require" export). */
function esmOnly(name) {
  let pkg;
  try {
    pkg = JSON.parse(readFileSync(`node_modules/${name}/package.json`, 'utf8'));
  } catch {
    return false;
  }
  return pkg.type === 'module' && !JSON.stringify(pkg.exports ?? {}).includes('"require"');
}

rmSync(OUT, { recursive: true, force: true });
await build({
  entryPoints: { main: 'dist/src/cli/main.js' },
  outdir: OUT,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  mainFields: ['module', 'main'], // jsonc-parser's UMD build requires its parts by computed names
  logLevel: 'warning',
  // CommonJS packages inlined into ESM call require() for Node's built-ins.
  banner: {
    js: "import { createRequire as __lockstepRequire } from 'node:module';\nconst require = __lockstepRequire(import.meta.url);",
  },
  plugins: [externalUnlessInlined()],
});

// The CommonJS form, run by bin/code-cache.js inside a function that passes `__lockstepBundleUrl` (the file's
// URL, for import.meta.url) and `__lockstepImport` (an import() from bin/, for the packages left external that
// are ES modules only: a vm.Script has no import() of its own). Externals imported statically become require().
const CJS = `${OUT}/cli.cjs`;
await build({
  entryPoints: ['dist/src/cli/main.js'],
  outfile: CJS,
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'node20',
  mainFields: ['module', 'main'],
  logLevel: 'warning',
  define: { 'import.meta.url': '__lockstepBundleUrl' },
  // the launcher reads, hashes and decodes this file on every start: without indentation and comments it is 28%
  // smaller (names stay, for --verbose stack traces), and in ASCII bin/code-cache.js decodes it as latin1.
  minifyWhitespace: true,
  charset: 'ascii',
  // A package that is an ES module only cannot be require()d on every Node 20: inlined when imported
  // statically (execa), left to __lockstepImport when imported with import() (open).
  plugins: [externalUnlessInlined((args) => args.kind === 'import-statement' && esmOnly(packageOf(args.path)))],
});
const cjs = readFileSync(CJS, 'utf8');
const imports = cjs.replace(/\bimport\((?=("|')[^"'\n]+\1\))/g, '__lockstepImport(');
const left = imports.match(/\bimport\s*\(/g);
if (left)
  throw new Error(`${CJS}: ${left.length} import() without a literal specifier; bin/code-cache.js cannot run it`);
writeFileSync(CJS, imports);
// What bin/lockstep.js compares with dist/.tsbuildinfo (written last: a bundle cut short stays stale).
writeFileSync(`${OUT}/built`, `${new Date().toISOString()}\n`);
const now = new Date();
utimesSync(`${OUT}/built`, now, now);
