/** A real Redis (Debian's redis-server) on 127.0.0.1 and a free port, for the queue tests. */
import { after } from 'node:test';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort, waitForPort } from './net.js';

export const REDIS_BIN = ['/usr/bin/redis-server', '/usr/local/bin/redis-server'].find(
  (p) => spawnSync(p, ['--version']).status === 0,
);

export interface RedisServer {
  url: string;
  port: number;
  stop(): Promise<void>;
  /** Stop and start again on the same port and data folder (a server restart mid-sweep). */
  restart(): Promise<void>;
}

export async function startRedis(): Promise<RedisServer> {
  if (!REDIS_BIN) throw new Error('redis-server is not installed');
  const port = await freePort();
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'lockstep-redis-'));
  let child: ChildProcess;
  const start = async () => {
    child = spawn(
      REDIS_BIN!,
      ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '1 1', '--appendonly', 'yes'],
      { stdio: 'ignore' },
    );
    await waitForPort(port);
  };
  const stop = async () => {
    if (child.exitCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await exited;
  };
  await start();
  after(async () => {
    await stop();
    await fs.rm(dir, { recursive: true, force: true });
  });
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    stop,
    restart: async () => {
      await stop();
      await start();
    },
  };
}
