/**
 * Who owns a lock or a workspace: a pid alone is not enough, since pids are reused. A process is named
 * by its pid, its start time (field 22 of /proc/<pid>/stat, in clock ticks since boot; null where
 * there is no /proc) and the host, so a lock left by a dead lockstep whose pid now belongs to another
 * process is seen as stale.
 */
import { readFileSync } from 'node:fs';
import os from 'node:os';

export interface ProcessId {
  pid: number;
  /** Opaque start-time token, null when the platform does not tell. */
  startTime: string | null;
  host: string;
}

/** Fields 3.. of /proc/<pid>/stat (after the command name, which may hold spaces), or null. */
function statFields(pid: number): string[] | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return null;
  }
}

/** The start time of `pid` (Linux), or null. */
export function processStartTime(pid: number): string | null {
  return statFields(pid)?.[19] ?? null; // field 22
}

export function thisProcess(): ProcessId {
  return { pid: process.pid, startTime: processStartTime(process.pid), host: os.hostname() };
}

function pidExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Whether the process named by `id` may still be running. A process on another host cannot be checked
 * and counts as running; a pid alive with another start time is another process (the owner is dead).
 */
export function stillRunning(id: { pid: number; startTime?: string | null; host?: string }): boolean {
  if (!Number.isInteger(id.pid) || id.pid <= 0) return false;
  if (id.host && id.host !== os.hostname()) return true;
  if (!pidExists(id.pid)) return false;
  const fields = statFields(id.pid);
  if (fields?.[0] === 'Z') return false; // exited, not yet reaped
  const now = fields?.[19];
  return !(id.startTime && now !== undefined && now !== id.startTime);
}
