#!/usr/bin/env node
// Thin launcher: the compiled CLI lives in dist/ (built by `npm ci` through the prepare script).
// Node >= 22.1 keeps V8's compiled code of lockstep's modules in a cache folder (in the OS temp dir),
// so later starts skip parsing and compiling them; on older Node this is a no-op. It must run before
// the CLI is imported, hence the dynamic import.
import module from 'node:module';

module.enableCompileCache?.();
const { main } = await import('../dist/src/cli/main.js');
process.exitCode = await main(process.argv);
