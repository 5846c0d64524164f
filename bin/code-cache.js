// Running the CLI's CommonJS bundle (dist/bundle/cli.cjs) with a V8 code cache: a later start deserializes
// the compiled code instead of parsing and compiling ~1.2 MB of JavaScript. Node 20 has no compile cache
// for ES modules; on Node 22+ this one file still starts faster than the ES modules through
// module.enableCompileCache (500 stages' no-op `repro` 0.24 against 0.32 s on Node 24, bench/README.md).
//
// The cache is only ever a saving, never an input that can change what runs:
// - one file per installation, Node version and flags (its name), in a folder of the OS temp dir that only
//   this user can write (created 0700; a folder owned by someone else, or a symlink, is not used);
// - the file starts with the sha256 of the bundle's bytes, Node's version and flags it was made for, and
//   the sha256 of the V8 data that follows: a cache of another bundle, a truncated or damaged file is ignored
//   (and replaced), and V8 itself rejects data of another V8 or another source;
// - written whole (temp file + rename) after the first run of a bundle, so a reader never sees half a file;
//   two processes writing at once each rename a complete file, and the last one stays.

// Built-ins through process.getBuiltinModule (Node >= 20.16), as in bin/lockstep.js: an `import` of a built-in
// makes an ES-module facade of all its exports, which costs every start a few milliseconds.
const builtin = process.getBuiltinModule ?? (await import('node:module')).createRequire(import.meta.url);
const { isAscii } = builtin('node:buffer');
const { createHash } = builtin('node:crypto');
const { lstatSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } = builtin('node:fs');
const { createRequire } = builtin('node:module');
const { tmpdir } = builtin('node:os');
const path = builtin('node:path');
const { pathToFileURL } = builtin('node:url');
const vm = builtin('node:vm');

const MAGIC = Buffer.from('LSCODE01');
const HEAD = MAGIC.length + 64; // magic, sha256 of what the data is for, sha256 of the data

/** The folder the cache files live in, when it is this user's alone (made so when missing); else undefined. */
export function cacheDir(base = tmpdir()) {
  const dir = path.join(base, `lockstep-code-cache-${process.getuid?.() ?? 'user'}`);
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const st = lstatSync(dir);
    const mine = process.getuid === undefined || st.uid === process.getuid();
    return st.isDirectory() && mine && (st.mode & 0o077) === 0 ? dir : undefined;
  } catch {
    return undefined;
  }
}

// sha256, not md5: ~3x faster here on the bundle's 1.2 MB (the processor's SHA instructions)
const sha256 = (...parts) => {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest();
};

/** What a cache is valid for: the bundle's bytes, Node's version and architecture, V8's flags. */
const validFor = (bytes) => sha256(process.version, '\0', process.arch, '\0', process.execArgv.join('\0'), '\0', bytes);

/** The V8 data in `file` when it was made for `key` and is whole; else undefined. */
export function readCache(file, key) {
  let bytes;
  try {
    bytes = readFileSync(file);
  } catch {
    return undefined;
  }
  if (bytes.length <= HEAD || !bytes.subarray(0, MAGIC.length).equals(MAGIC)) return undefined;
  if (!bytes.subarray(MAGIC.length, MAGIC.length + 32).equals(key)) return undefined;
  const data = bytes.subarray(HEAD);
  return sha256(data).equals(bytes.subarray(MAGIC.length + 32, HEAD)) ? data : undefined;
}

/** Write the cache whole (temp + rename); a failure only costs the saving. */
export function writeCache(file, key, data) {
  const temp = `${file}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  try {
    writeFileSync(temp, Buffer.concat([MAGIC, key, sha256(data), data]), { mode: 0o600 });
    renameSync(temp, file);
  } catch {
    rmSync(temp, { force: true });
  }
}

/**
 * Load the CommonJS bundle `file` through the code cache and return its exports, and `save()`, which
 * writes the cache when none was used (call it once the command ran: V8 then includes every function
 * compiled so far). `importModule` does the bundle's `import()` of packages that are ES modules only.
 */
export function loadCached(file, importModule, opts = {}) {
  const bytes = readFileSync(file);
  const key = validFor(bytes);
  const dir = opts.dir === undefined ? cacheDir() : opts.dir;
  // one slot per installation, Node and flags: a rebuilt bundle replaces its old cache, not beside it
  const slot =
    dir &&
    path.join(
      dir,
      `${sha256(file, '\0', process.version, '\0', process.execArgv.join('\0')).toString('hex').slice(0, 32)}.bin`,
    );
  const cachedData = slot ? readCache(slot, key) : undefined;
  // The build writes the bundle in ASCII (scripts/bundle.mjs): decoded as latin1 it is a one-byte string, made
  // ~4x faster than by the UTF-8 decoder, which would also make the whole 1.2 MB a two-byte string for one `…`.
  const source = isAscii(bytes) ? bytes.toString('latin1') : bytes.toString('utf8');
  const wrapper = `(function (exports, require, module, __filename, __dirname, __lockstepBundleUrl, __lockstepImport) {${source}\n})`;
  const script = new vm.Script(wrapper, { filename: file, ...(cachedData ? { cachedData } : {}) });
  const used = cachedData !== undefined && !script.cachedDataRejected;
  const mod = { exports: {} };
  script.runInThisContext()(
    mod.exports,
    createRequire(file),
    mod,
    file,
    path.dirname(file),
    pathToFileURL(file).href,
    importModule,
  );
  return {
    exports: mod.exports,
    used,
    save() {
      if (used || !slot) return;
      let data;
      try {
        data = script.createCachedData();
      } catch {
        return; // the command ran; only the saving is lost
      }
      writeCache(slot, key, data);
    },
  };
}
