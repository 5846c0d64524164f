/**
 * Lets tfjs-backend-wasm run its multi-threaded SIMD binary under Node.
 *
 * tfjs-backend-wasm 4.x ships `tfjs-backend-wasm-threaded-simd.wasm` (XNNPACK on a pthreadpool) but
 * never picks it under Node (tfjs issue 3830), for three reasons this module works around while
 * `tf.setBackend('wasm')` runs:
 * 1. the flag WASM_HAS_MULTITHREAD_SUPPORT answers false whenever IS_NODE: we set it;
 * 2. the pthread workers are created from `URL.createObjectURL(blob)` URLs, which Node's
 *    worker_threads cannot load: the worker script and the Emscripten factory (both handed over
 *    as Blobs of known text) are written to a private temp folder and passed as file paths;
 * 3. the C++ side caps the pool at `emscripten_num_logical_cores() / 2` (it assumes two hyper-threads
 *    per core), i.e. one thread on a 2-core machine: `os.cpus()` reports twice the wanted count
 *    during initialisation only.
 * The factory's text is the bundle's function source, which refers to a few of the bundle's own
 * module-level names (`commonjsGlobal`, `require$$N`); they are defined in front of it.
 *
 * XNNPACK splits work between threads by output tiles, never inside a dot product, so results are
 * bit-identical for any thread count (checked in test/unit/wasm-threads.test.ts).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import workerThreads from 'node:worker_threads';

/** The bundle's module-level names that the Emscripten factory's source uses (tfjs-backend-wasm 4.x). */
const FACTORY_PROLOGUE =
  "var commonjsGlobal = globalThis, require$$0 = require('fs'), require$$1 = require('path'), " +
  "require$$3 = require('perf_hooks'), require$$4 = require('os');\n";
const FACTORY_MARK = 'var WasmBackendModuleThreadedSimd';
const DEFINED = new Set(['require$$0', 'require$$1', 'require$$3', 'require$$4']);

/**
 * A bundle-level name the prologue does not define would crash the worker threads, and Emscripten
 * rethrows their errors where nothing can catch them; so another tfjs build is refused here, in the
 * main thread, where the failure reaches tf.setBackend and the single-threaded binary is used.
 */
function checkFactory(text: string): void {
  const unknown = [...new Set(text.match(/\brequire\$\$\d+\b/g) ?? [])].filter((n) => !DEFINED.has(n));
  if (unknown.length)
    throw new Error(`lockstep wasm threads: this tfjs-backend-wasm build's factory uses ${unknown.join(', ')}`);
}

/**
 * Runs in each pthread worker after Emscripten's worker code: the factory arrives as a Blob; load it from the file
 * instead.
 */
function workerEpilogue(factoryFile: string): string {
  return `
;(() => {
  const handle = self.onmessage;
  self.onmessage = (e) => {
    if (e.data && e.data.cmd === 'load' && typeof e.data.urlOrBlob !== 'string')
      e.data.urlOrBlob = ${JSON.stringify(factoryFile)};
    return handle(e);
  };
})();
`;
}

/**
 * `tf.setBackend('wasm')` on `threads` threads (the threaded binary when > 1); resolves false or
 * throws when the backend does not start, as tf.setBackend does.
 */
export async function startWasmBackend(
  tf: TfLike & { setBackend(name: string): Promise<boolean> },
  wasm: { setThreadsCount(n: number): void },
  threads: number,
): Promise<boolean> {
  const setup = threads > 1 ? prepareWasmThreads(tf, threads) : null;
  wasm.setThreadsCount(threads);
  if (setup === null) {
    tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
    return tf.setBackend('wasm');
  }
  try {
    // A pthread worker that dies while the binary starts leaves tfjs waiting for it forever with nothing keeping
    // the event loop alive: the process would end with exit code 0 and no output. Race the start against that.
    return await Promise.race([tf.setBackend('wasm'), setup.failed]);
  } catch (e) {
    setup.abandon();
    throw e;
  } finally {
    setup.finish();
  }
}

interface TfLike {
  env(): { set(flag: string, value: boolean): void };
}

export interface ThreadsSetup {
  /**
   * Rejects when a pthread worker stops (exits or throws) before finish(), or when the start takes longer than
   * START_LIMIT_MS; until then its timer keeps the event loop alive. Never resolves.
   */
  failed: Promise<never>;
  /** Undo the temporary patches; call once the start has settled, whatever its outcome. */
  finish(): void;
  /** After a failed start: stop every worker it made, so none keeps the process alive or runs on. */
  abandon(): void;
}

/** The longest a threaded start may take (seconds on an idle machine; a loaded CI machine takes longer). */
export const START_LIMIT_MS = 120_000;

let folder: string | null = null;

function privateFolder(): string {
  if (folder === null) {
    folder = mkdtempSync(path.join(os.tmpdir(), 'lockstep-wasm-threads-'));
    const dir = folder;
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  }
  return folder;
}

/**
 * Prepares the next `tf.setBackend('wasm')` to start the threaded binary with `threads` threads
 * (tfjs' own `setThreadsCount` must be given the same number). Workers are unref'd so they never
 * keep a finished process alive.
 */
export function prepareWasmThreads(tf: TfLike, threads: number): ThreadsSetup {
  const dir = privateFolder();
  const factoryFile = path.join(dir, 'factory.js');
  const workerFile = path.join(dir, 'worker.cjs');
  const texts = new WeakMap<Blob, string>();
  const RealBlob = globalThis.Blob;
  const realCreateObjectURL = URL.createObjectURL;
  const realCpus = os.cpus;
  const RealWorker = workerThreads.Worker;
  const workers: InstanceType<typeof RealWorker>[] = [];
  let fail: (e: Error) => void = () => {};
  let starting = true;
  const failed = new Promise<never>((_, reject) => {
    fail = (e) => {
      if (starting) reject(e);
    };
  });
  failed.catch(() => {}); // only ever awaited in a race
  const limit = setTimeout(
    () => fail(new Error(`the threaded binary did not start within ${START_LIMIT_MS / 1000} s`)),
    START_LIMIT_MS,
  );

  globalThis.Blob = class RecordingBlob extends RealBlob {
    constructor(...args: ConstructorParameters<typeof RealBlob>) {
      super(...args);
      const parts: unknown[] = args[0] ?? [];
      const text = parts.every((p) => typeof p === 'string') ? parts.join('') : undefined;
      if (text === undefined) return;
      texts.set(this, text);
      if (!text.startsWith(FACTORY_MARK)) return;
      checkFactory(text);
      writeFileSync(factoryFile, FACTORY_PROLOGUE + text);
    }
  };
  URL.createObjectURL = (obj: Blob) => {
    const text = obj instanceof RealBlob ? texts.get(obj) : undefined;
    if (text === undefined || text.startsWith(FACTORY_MARK)) return realCreateObjectURL(obj);
    // The pthread worker script: Emscripten passes this "URL" to `new Worker(...)`.
    writeFileSync(workerFile, text + workerEpilogue(factoryFile));
    return workerFile;
  };
  (workerThreads as { Worker: typeof RealWorker }).Worker = class TrackedWorker extends RealWorker {
    constructor(...args: ConstructorParameters<typeof RealWorker>) {
      super(...args);
      const n = workers.push(this);
      this.once('exit', (code) => fail(new Error(`pthread worker ${n} stopped while starting (exit code ${code})`)));
      this.once('error', (e) => fail(new Error(`pthread worker ${n} failed while starting (${e.message})`)));
    }
  };
  os.cpus = () => {
    const one = realCpus()[0]!;
    return Array.from({ length: 2 * threads }, () => one);
  };
  tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', true);

  return {
    failed,
    abandon() {
      for (const w of workers) void w.terminate();
    },
    finish() {
      starting = false;
      clearTimeout(limit);
      globalThis.Blob = RealBlob;
      URL.createObjectURL = realCreateObjectURL;
      os.cpus = realCpus;
      (workerThreads as { Worker: typeof RealWorker }).Worker = RealWorker;
      for (const w of workers) {
        w.unref();
        // Emscripten ref()s a worker while it runs a pthread; the pool's threads run for good.
        w.ref = () => w;
      }
    },
  };
}
