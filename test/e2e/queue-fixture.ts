/**
 * The set-up the queue e2e tests share: a real Redis, a bare git repository as the git remote, a folder as
 * the lockstep remote, the project pushed to it, and `lockstep worker` processes in separate clones (as
 * separate machines have), each logging to a file (a pipe would be held open by the stages of a killed
 * worker) and killed with its process group when the test file ends.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, promises as fs, openSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { after } from 'node:test';
import { execa } from 'execa';
import { CLI, freshClone, tempProject, type TempProject } from '../helpers/project.js';
import { startRedis } from '../helpers/redis.js';
import { tempDir } from '../helpers/tmp.js';

export interface QueueSite {
  redis: Awaited<ReturnType<typeof startRedis>>;
  tmp: string;
  /** Where the stages count their runs (one file per stage). */
  counts: string;
  bare: string;
  store: string;
  env: Record<string, string>;
  p: TempProject;
  /** A fresh clone of the git remote, with its own git user name. */
  clone(name: string): Promise<string>;
  /** Start `lockstep worker --until-empty` in `dir`, in its own process group (kill -9 takes its stages). */
  startWorker(dir: string, name: string): ChildProcess;
  /** Every worker's log so far, for assertion messages. */
  logs(): string;
}

export async function queueSite(
  prefix: string,
  files: (counts: string) => Record<string, string>,
  env: Record<string, string> = {},
): Promise<QueueSite> {
  const redis = await startRedis();
  const tmp = await tempDir(prefix);
  const counts = path.join(tmp, 'counts');
  const bare = path.join(tmp, 'origin.git');
  const store = path.join(tmp, 'store');
  await fs.mkdir(counts);
  await fs.mkdir(store);
  await execa('git', ['init', '-q', '--bare', '-b', 'main', bare]);
  const allEnv = { LOCKSTEP_QUEUE_URL: redis.url, ...env };
  const p = await tempProject({
    ...files(counts),
    '.lockstep/config.yaml': `core:\n  remote: store\nremote:\n  store:\n    url: ${store}\n`,
  });
  await p.git('remote', 'add', 'origin', bare);
  await p.git('push', '-q', 'origin', 'main');
  const clone = async (name: string) => {
    const { dir } = await freshClone(bare);
    await execa('git', ['config', 'user.name', name], { cwd: dir });
    return dir;
  };
  const workers: ChildProcess[] = [];
  const logFiles: string[] = [];
  const startWorker = (dir: string, name: string) => {
    const file = path.join(tmp, `${name}.log`);
    logFiles.push(file);
    const fd = openSync(file, 'a');
    const child = spawn(process.execPath, [CLI, 'worker', '--name', name, '--until-empty'], {
      cwd: dir,
      env: { ...process.env, ...allEnv },
      stdio: ['ignore', fd, fd],
      detached: true,
    });
    closeSync(fd);
    workers.push(child);
    return child;
  };
  after(() => {
    for (const w of workers) {
      try {
        if (w.exitCode === null && w.signalCode === null) process.kill(-w.pid!, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  });
  const logs = () => logFiles.map((f) => `${f}:\n${readFileSync(f, 'utf8')}`).join('\n');
  return { redis, tmp, counts, bare, store, env: allEnv, p, clone, startWorker, logs };
}
