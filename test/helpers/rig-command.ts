#!/usr/bin/env node
/**
 * The controllable fake stage command of test/helpers/rig.ts (compiled to dist/test/helpers/rig-command.js).
 * It imports only node builtins, so it starts in ~40 ms.
 *
 *   node rig-command.js CONTROL_DIR NAME [--child] [--write FILE=TEXT]... [--append FILE=TEXT]...
 *
 * 1. Claims the next run number N of NAME by creating CONTROL_DIR/NAME.N/ (mkdir is atomic, so
 *    concurrent runs never share a number).
 * 2. With --child, starts one child process (this program in --hold mode) that holds until the same
 *    release; the test uses it to check that a stage's whole process tree stops.
 * 3. Writes CONTROL_DIR/NAME.N/started.json = { pid, ppid, pgid, cwd, childPid } (temp + rename), the
 *    signal that the run has started.
 * 4. Holds until CONTROL_DIR/NAME.release or CONTROL_DIR/NAME.N/release exists. The release file holds
 *    the exit code (empty: 0).
 * 5. Then writes each --write FILE (relative to its cwd) with TEXT, appends each --append, and exits
 *    with the released exit code (after its child).
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync, appendFileSync } from 'node:fs';
import path from 'node:path';

const POLL_MS = 15;

function holdUntil(files: string[], then: (content: string) => void): void {
  const timer = setInterval(() => {
    for (const f of files) {
      if (!existsSync(f)) continue;
      clearInterval(timer);
      then(readFileSync(f, 'utf8'));
      return;
    }
  }, POLL_MS);
}

function writeJson(file: string, value: unknown): void {
  const tmp = `${file}.tmp`;
  writeFileSync(tmp, JSON.stringify(value));
  renameSync(tmp, file);
}

function claimRun(control: string, name: string): { n: number; dir: string } {
  const taken = readdirSync(control).filter(
    (f) => f.startsWith(`${name}.`) && /^\d+$/.test(f.slice(name.length + 1)),
  ).length;
  for (let n = Math.max(1, taken); ; n++) {
    const dir = path.join(control, `${name}.${n}`);
    try {
      mkdirSync(dir);
      return { n, dir };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
  }
}

/** Our process group id (Linux: field 5 of /proc/self/stat), or null elsewhere. */
function processGroup(): number | null {
  try {
    const stat = readFileSync('/proc/self/stat', 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]);
  } catch {
    return null;
  }
}

/** A rig never released (its test failed or was killed) must not poll forever: it gives up after this long. */
const GIVE_UP_MS = 10 * 60_000;

function main(argv: string[]): void {
  setTimeout(() => process.exit(124), GIVE_UP_MS).unref();
  if (argv[0] === '--hold') {
    // the child: report its pid, hold until the parent's release, exit 0
    const [, runDir, release] = argv as [string, string, string];
    writeJson(path.join(runDir, 'child.json'), { pid: process.pid });
    holdUntil([release, path.join(runDir, 'release')], () => process.exit(0));
    return;
  }
  const [control, name, ...rest] = argv;
  if (!control || !name) {
    process.stderr.write(
      'usage: rig-command CONTROL_DIR NAME [--child] [--write FILE=TEXT]... [--append FILE=TEXT]...\n',
    );
    process.exit(64);
  }
  const writes: [string, string, 'write' | 'append'][] = [];
  let withChild = false;
  for (let i = 0; i < rest.length; i++) {
    const a = rest[i]!;
    if (a === '--child') withChild = true;
    else if (a === '--write' || a === '--append') {
      const spec = rest[++i] ?? '';
      const eq = spec.indexOf('=');
      writes.push([spec.slice(0, eq), spec.slice(eq + 1), a === '--write' ? 'write' : 'append']);
    } else {
      process.stderr.write(`rig-command: unknown argument ${a}\n`);
      process.exit(64);
    }
  }
  const { dir } = claimRun(control, name);
  const release = path.join(control, `${name}.release`);
  let child: ReturnType<typeof spawn> | undefined;
  if (withChild) {
    child = spawn(process.execPath, [process.argv[1]!, '--hold', dir, release], { stdio: 'ignore' });
    // wait for the child to report, so started.json names a running child
    const childFile = path.join(dir, 'child.json');
    holdUntil([childFile], () => started());
  } else started();

  function started(): void {
    const childPid = child
      ? (JSON.parse(readFileSync(path.join(dir, 'child.json'), 'utf8')) as { pid: number }).pid
      : null;
    writeJson(path.join(dir, 'started.json'), {
      pid: process.pid,
      ppid: process.ppid,
      pgid: processGroup(),
      cwd: process.cwd(),
      childPid,
    });
    holdUntil([release, path.join(dir, 'release')], (content) => {
      const code = Number(content.trim() || '0');
      for (const [file, text, mode] of writes) {
        mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
        if (mode === 'write') writeFileSync(file, text);
        else appendFileSync(file, text);
      }
      if (child && child.exitCode === null) child.on('exit', () => process.exit(code));
      else process.exit(code);
    });
  }
}

main(process.argv.slice(2));
