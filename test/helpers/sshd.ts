import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import ssh2 from 'ssh2';
import { freePort, waitForPort } from './net.js';

export const SSHD = '/usr/sbin/sshd';

export interface TestSshd {
  port: number;
  user: string;
  /** Private key (OpenSSH format) that the server accepts. */
  keyfile: string;
  /** A key the server does not know, for wrong-credential tests. */
  wrongKeyfile: string;
  /** Empty folder on the server side for a remote's root. */
  root: string;
  url(subdir?: string): string;
  /** Kill the per-connection server processes: every open session drops, the listener stays. */
  dropConnections(): Promise<void>;
  stop(): Promise<void>;
}

/** Why the ssh tests cannot run here, or null when they can. */
export function sshdUnavailable(): string | null {
  if (!existsSync(SSHD)) return `${SSHD} is absent (apt-get install openssh-server)`;
  return null;
}

/**
 * A real OpenSSH server on 127.0.0.1:<free port> with a throwaway host key and client key in a
 * temp folder. It logs in the current user (root here: `PermitRootLogin prohibit-password`), or
 * `opts.user` (an existing account, e.g. nobody, when sshd runs as root; SFTP runs in-process, so
 * the account needs no shell), with only the throwaway key, through AuthorizedKeysFile pointing
 * into the temp folder.
 */
export async function startSshd(opts: { user?: string } = {}): Promise<TestSshd> {
  // the free port can be taken by a concurrent test between our probe and sshd's bind: try again
  for (let attempt = 1; ; attempt++) {
    try {
      return await startSshdOnce(opts.user ?? os.userInfo().username);
    } catch (e) {
      if (attempt >= 3) throw e;
    }
  }
}

async function startSshdOnce(user: string): Promise<TestSshd> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'lockstep-sshd-'));
  // the account logging in must be able to read its authorized_keys in here
  await fs.chmod(dir, 0o755);
  const write = (name: string, text: string, mode = 0o600) => fs.writeFile(path.join(dir, name), text, { mode });
  const host = ssh2.utils.generateKeyPairSync('ed25519');
  const client = ssh2.utils.generateKeyPairSync('ed25519');
  const wrong = ssh2.utils.generateKeyPairSync('ed25519');
  await write('host_ed25519', host.private);
  await write('client_ed25519', client.private);
  await write('wrong_ed25519', wrong.private);
  await write('authorized_keys', `${client.public}\n`, 0o644);
  const root = path.join(dir, 'remote');
  await fs.mkdir(root);
  const port = await freePort();
  const config = [
    `Port ${port}`,
    'ListenAddress 127.0.0.1',
    `HostKey ${path.join(dir, 'host_ed25519')}`,
    `PidFile ${path.join(dir, 'sshd.pid')}`,
    `AuthorizedKeysFile ${path.join(dir, 'authorized_keys')}`,
    'StrictModes no',
    'PubkeyAuthentication yes',
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    'PermitRootLogin prohibit-password',
    'UsePAM no',
    'Subsystem sftp internal-sftp',
    'MaxSessions 32',
    'MaxStartups 64',
    'LogLevel ERROR',
  ].join('\n');
  await write('sshd_config', `${config}\n`, 0o644);
  // privilege separation folder Debian's sshd insists on when started as root
  if (process.getuid?.() === 0) await fs.mkdir('/run/sshd', { recursive: true, mode: 0o755 });
  let proc: ChildProcess | null = spawn(SSHD, ['-D', '-e', '-f', path.join(dir, 'sshd_config')], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  proc.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<void>((resolve) => proc!.once('exit', () => resolve()));
  try {
    await Promise.race([
      waitForPort(port),
      exited.then(() => Promise.reject(new Error(`sshd exited: ${stderr.trim()}`))),
    ]);
  } catch (e) {
    proc.kill('SIGKILL');
    await fs.rm(dir, { recursive: true, force: true });
    throw e;
  }
  const listenerPid = proc.pid!;
  const children = async (pid: number): Promise<number[]> => {
    const out: number[] = [];
    for (const ent of await fs.readdir('/proc')) {
      if (!/^\d+$/.test(ent)) continue;
      const stat = await fs.readFile(`/proc/${ent}/stat`, 'utf8').catch(() => '');
      // field 4 (after the parenthesised command name) is the parent pid
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) out.push(Number(ent));
    }
    return out;
  };
  return {
    port,
    user,
    keyfile: path.join(dir, 'client_ed25519'),
    wrongKeyfile: path.join(dir, 'wrong_ed25519'),
    root,
    url: (subdir = '') => `ssh://${user}@127.0.0.1:${port}${path.posix.join(root, subdir)}`,
    async dropConnections() {
      for (const pid of await children(listenerPid)) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
    },
    async stop() {
      if (proc) {
        const p = proc;
        proc = null;
        for (const pid of await children(listenerPid)) {
          try {
            process.kill(pid, 'SIGKILL');
          } catch {
            // already gone
          }
        }
        p.kill('SIGTERM');
        await exited;
      }
      await fs.rm(dir, { recursive: true, force: true });
    },
  };
}
