/**
 * Child processes that die with lockstep, whatever ends it (kill -9 included), from their first instant.
 *
 * Node cannot set PR_SET_PDEATHSIG, and a signal handler never runs on SIGKILL. So a child is started
 * through a tiny POSIX shell supervisor that leads its own process group (spawned detached) and holds
 * the read end of a pipe on fd 3 whose only writer is lockstep. A background `read` on that pipe
 * returns only when lockstep's end closes, which the kernel does when lockstep exits for any reason;
 * the supervisor then signals its whole group (TERM, then KILL after 2 s). The pipe exists before the
 * child runs, so there is no window in which lockstep can die unnoticed, and no polling. When the
 * child ends normally the watcher is stopped, and the group id is never signalled after the group is
 * gone (the watcher is itself a member until its last kill).
 */

/**
 * `sh -c SUPERVISOR lockstep-supervisor CMD ARGS...`: run CMD in the foreground (so it keeps the default
 * signal dispositions; fd 3 closed for it), with a watcher in the background, and exit with CMD's status.
 * A CMD killed by a signal is reported by re-raising that signal, so the parent sees a signal, not 128+N.
 */
const SUPERVISOR = [
  "{ read -r _ <&3; trap '' TERM INT HUP; kill -TERM 0; sleep 2; kill -KILL 0; } &",
  'watcher=$!',
  '"$@" 3<&-',
  'code=$?',
  'kill "$watcher" 2>/dev/null',
  'if [ "$code" -gt 128 ] && [ "$code" -lt 160 ]; then sig=$((code - 128)); trap - "$sig" 2>/dev/null; kill -s ' +
    '"$(kill -l "$sig")" $$ 2>/dev/null; fi',
  'exit "$code"',
].join('\n');

export interface SupervisedSpawn {
  file: string;
  args: string[];
  /** stdio for fd 0-3: fd 3 must stay a pipe held by lockstep only. */
  stdio: ['ignore', 'pipe', 'pipe', 'pipe'];
  /** The child must lead its own process group. */
  detached: true;
}

/** Whether this platform gets the supervisor (POSIX shells only). */
export const canSupervise = process.platform !== 'win32';

/** How to spawn `argv` supervised; spawn it with these file/args/stdio/detached. */
export function supervised(argv: string[]): SupervisedSpawn {
  return {
    file: '/bin/sh',
    args: ['-c', SUPERVISOR, 'lockstep-supervisor', ...argv],
    stdio: ['ignore', 'pipe', 'pipe', 'pipe'],
    detached: true,
  };
}

/** How to spawn a shell command line supervised. */
export function supervisedShell(command: string): SupervisedSpawn {
  return supervised(['/bin/sh', '-c', command]);
}

/** Signal a whole process group; a group that is gone is not an error. */
export function killGroup(pid: number | undefined, signal: NodeJS.Signals): void {
  if (!pid) return;
  try {
    process.kill(-pid, signal);
  } catch {
    // already gone
  }
}
