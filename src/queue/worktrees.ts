/**
 * The worker's git worktrees, one per job running at once, kept from job to job: `git worktree add` of the
 * whole project and its removal cost ~0.6 s a job on a loaded machine, while bringing a kept worktree to
 * the next job's baseline is a forced checkout (nothing to do when the baseline is the same) and a
 * `git clean` of what the last job left (a warm-up's outputs and lock files). Links to the clone's
 * untracked package folders and its local config are kept out of the clean and placed again.
 */
import { existsSync, promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { git, gitMaybe } from '../exp/git.js';
import { LOCAL_CONFIG_FILE } from '../project.js';

/** Untracked folders of the clone a job's stages need (the packages stage programs import). */
const LINKED = ['node_modules', '.venv', 'venv'];

export class WorktreePool {
  private readonly free: string[] = [];
  private readonly all = new Set<string>();

  constructor(private readonly root: string) {}

  /** A worktree at `baseline` holding nothing but its tracked files, the links and the local config. */
  async take(baseline: string): Promise<string> {
    for (let dir = this.free.pop(); dir !== undefined; dir = this.free.pop()) {
      if (await this.reset(dir, baseline)) return dir;
      await this.drop(dir); // a worktree that cannot be reset is not used again
    }
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'lockstep-worker-'));
    this.all.add(dir);
    await git(this.root, ['worktree', 'add', '--quiet', '--detach', dir, baseline]);
    await this.place(dir);
    return dir;
  }

  /** Give a worktree back after its job; it is reset when taken again. */
  give(dir: string): void {
    if (this.all.has(dir)) this.free.push(dir);
  }

  /** Remove every worktree (the worker is stopping). */
  async close(): Promise<void> {
    for (const dir of [...this.all]) await this.drop(dir);
    await gitMaybe(this.root, ['worktree', 'prune']);
  }

  private async reset(dir: string, baseline: string): Promise<boolean> {
    // a folder that is no longer a worktree would let git find a repository above it: never clean that
    if (!existsSync(path.join(dir, '.git'))) return false;
    if ((await gitMaybe(dir, ['checkout', '--quiet', '--force', '--detach', baseline])) === null) return false;
    const keep = [...LINKED, LOCAL_CONFIG_FILE].flatMap((p) => ['-e', `/${p}`]);
    if ((await gitMaybe(dir, ['clean', '-ffdxq', ...keep])) === null) return false;
    await this.place(dir);
    return true;
  }

  private async place(dir: string): Promise<void> {
    for (const name of LINKED) {
      const src = path.join(this.root, name);
      if (existsSync(src) && !existsSync(path.join(dir, name))) await fs.symlink(src, path.join(dir, name));
    }
    const local = path.join(this.root, LOCAL_CONFIG_FILE);
    if (existsSync(local)) await fs.copyFile(local, path.join(dir, LOCAL_CONFIG_FILE));
  }

  private async drop(dir: string): Promise<void> {
    this.all.delete(dir);
    await gitMaybe(this.root, ['worktree', 'remove', '--force', dir]);
    await fs.rm(dir, { recursive: true, force: true });
  }
}
