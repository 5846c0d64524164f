import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { freePort, waitForPort } from './net.js';
import { REPO_ROOT } from './project.js';
import type { TestS3 } from './s3server.js';

/**
 * Versity S3 Gateway (github.com/versity/versitygw, Apache 2.0): a production S3 server over a
 * POSIX folder, with real IAM accounts. `.ci/run` builds it from the Go module proxy into
 * tools/bin/ (`go install github.com/versity/versitygw/cmd/versitygw@v1.8.0`).
 */
export function versitygwBinary(): string | null {
  const candidates = [
    process.env.LOCKSTEP_VERSITYGW,
    path.join(REPO_ROOT, 'tools', 'bin', 'versitygw'),
    ...(process.env.PATH ?? '').split(path.delimiter).map((d) => path.join(d, 'versitygw')),
  ];
  return candidates.find((c): c is string => !!c && existsSync(c)) ?? null;
}

export function versitygwUnavailable(): string | null {
  return versitygwBinary()
    ? null
    : 'versitygw is not built (GOBIN=$PWD/tools/bin go install github.com/versity/versitygw/cmd/versitygw@v1.8.0)';
}

export interface TestVersity extends TestS3 {
  /** The folder holding the buckets (one directory each). */
  dataDir: string;
  /** Create an account of role `user` (it owns nothing, so it may not touch the root's bucket). */
  addUser(accessKeyId: string, secretAccessKey: string): Promise<void>;
}

const ROOT_KEY = 'lockstep-root';
const ROOT_SECRET = 'lockstep-root-secret';

/** versitygw on 127.0.0.1:<free port> over a temp folder (or `opts.dataDir`), one bucket made by the root account. */
export async function startVersity(opts: { dataDir?: string } = {}): Promise<TestVersity> {
  const bin = versitygwBinary();
  if (!bin) throw new Error(versitygwUnavailable()!);
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'lockstep-vgw-'));
  const dataDir = opts.dataDir ?? path.join(dir, 'data');
  await fs.mkdir(dataDir, { recursive: true });
  await fs.mkdir(path.join(dir, 'iam'));
  const [port, adminPort] = [await freePort(), await freePort()];
  const args = [
    '--port',
    `127.0.0.1:${port}`,
    '--admin-port',
    `127.0.0.1:${adminPort}`,
    '--access',
    ROOT_KEY,
    '--secret',
    ROOT_SECRET,
    '--iam-dir',
    path.join(dir, 'iam'),
    '--quiet',
    'posix',
    '--sidecar',
    path.join(dir, 'meta'),
    dataDir,
  ];
  await fs.mkdir(path.join(dir, 'meta'));
  let proc: ChildProcess | null = spawn(bin, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  proc.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<void>((resolve) => proc!.once('exit', () => resolve()));
  try {
    await Promise.race([
      Promise.all([waitForPort(port), waitForPort(adminPort)]),
      exited.then(() => Promise.reject(new Error(`versitygw exited: ${stderr.trim()}`))),
    ]);
  } catch (e) {
    proc.kill('SIGKILL');
    await fs.rm(dir, { recursive: true, force: true });
    throw e;
  }
  const endpoint = `http://127.0.0.1:${port}`;
  const bucket = 'lockstep-test';
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const client = new S3Client({
    endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: ROOT_KEY, secretAccessKey: ROOT_SECRET },
  });
  await client.send(new CreateBucketCommand({ Bucket: bucket }));
  client.destroy();
  return {
    endpoint,
    port,
    bucket,
    dataDir,
    accessKeyId: ROOT_KEY,
    secretAccessKey: ROOT_SECRET,
    options: () => ({
      endpointurl: endpoint,
      access_key_id: ROOT_KEY,
      secret_access_key: ROOT_SECRET,
      region: 'us-east-1',
    }),
    async addUser(accessKeyId, secretAccessKey) {
      await execa(bin, [
        'admin',
        '--access',
        ROOT_KEY,
        '--secret',
        ROOT_SECRET,
        '--endpoint-url',
        `http://127.0.0.1:${adminPort}`,
        'create-user',
        '--access',
        accessKeyId,
        '--secret',
        secretAccessKey,
        '--role',
        'user',
      ]);
    },
    async stop() {
      if (proc) {
        const p = proc;
        proc = null;
        p.kill('SIGTERM');
        await exited;
      }
      await fs.rm(dir, { recursive: true, force: true });
    },
  };
}
