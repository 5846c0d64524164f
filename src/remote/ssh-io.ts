/**
 * The SSH remote's helpers that need no connection state: reading a file with reads in flight,
 * telling a full disk from OpenSSH's bare "Failure", and the authentication methods to offer.
 */
import { existsSync, promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { AgentAuthMethod, NoAuthMethod, PasswordAuthMethod, PublicKeyAuthMethod, SFTPWrapper } from 'ssh2';
import type { SshSpec } from './ssh.js';

export type AuthMethod = AgentAuthMethod | PublicKeyAuthMethod | PasswordAuthMethod | NoAuthMethod;
const DEFAULT_KEYS = ['id_ed25519', 'id_ecdsa', 'id_rsa'];

const READ_CHUNK = 64 * 1024;
const READ_WINDOW = 32;

/**
 * The file's bytes in order, with READ_WINDOW reads of READ_CHUNK in flight (2 MiB). One read at a
 * time (ssh2's ReadStream) is bound by the round trip, ~7 MB/s for a 1 GiB file here; 32 reads of
 * 32 KiB reached 23 MB/s once the consumer hashed each chunk, 32 of 64 KiB 230-258 MB/s
 * (scratch measurement against the test sshd, 512 MiB). A server may answer a read with fewer
 * bytes than asked (OpenSSH caps a read's length): the rest is read before the chunk is passed on.
 */
export async function* readAhead(
  sftp: SFTPWrapper,
  handle: Buffer,
  size: number,
  guard: <T>(p: Promise<T>) => Promise<T>,
): AsyncGenerator<Buffer> {
  const readOnce = (buf: Buffer, at: number, pos: number) =>
    new Promise<number>((resolve, reject) => {
      sftp.read(handle, buf, at, buf.length - at, pos, (e, n) => (e ? reject(e) : resolve(n)));
    });
  const readAt = async (pos: number, len: number): Promise<Buffer> => {
    const buf = Buffer.allocUnsafe(len);
    let got = 0;
    while (got < len) {
      const n = await readOnce(buf, got, pos + got);
      if (n <= 0) break; // end of file: the file shrank; the caller's size and md5 checks refuse it
      got += n;
    }
    return buf.subarray(0, got);
  };
  const pending: Promise<Buffer>[] = [];
  let offset = 0;
  try {
    while (offset < size || pending.length > 0) {
      while (pending.length < READ_WINDOW && offset < size) {
        const p = readAt(offset, Math.min(READ_CHUNK, size - offset));
        p.catch(() => {});
        pending.push(p);
        offset += READ_CHUNK;
      }
      yield await guard(pending.shift()!);
    }
  } finally {
    sftp.close(handle, () => {});
  }
}

export const sftpCode = (e: unknown): number | undefined => (e as { code?: number } | undefined)?.code;

/**
 * ENOSPC-like error when the file system holding `dir` has no room for `size` more bytes (or no
 * free inode), by the statvfs@openssh.com extension; null when it has room or cannot tell.
 */
export function noSpace(sftp: SFTPWrapper, dir: string, size: number): Promise<Error | null> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(null), 5_000);
    timer.unref();
    try {
      sftp.ext_openssh_statvfs(
        dir,
        (e, st: { bavail?: number; frsize?: number; bsize?: number; favail?: number } | undefined) => {
          clearTimeout(timer);
          if (e || !st) return resolve(null);
          const free = (st.bavail ?? 0) * (st.frsize || st.bsize || 0);
          if (free >= size && st.favail !== 0) return resolve(null);
          resolve(
            Object.assign(new Error(`no space left on the server's disk (${free} bytes free, ${size} needed)`), {
              code: 'ENOSPC',
            }),
          );
        },
      );
    } catch {
      clearTimeout(timer);
      resolve(null); // the server lacks the extension
    }
  });
}

/** Agent first (SSH_AUTH_SOCK), then the configured key or the usual ~/.ssh/id_* files, then a password. */
export async function authMethods(spec: SshSpec): Promise<AuthMethod[]> {
  const methods: AuthMethod[] = [];
  const username = spec.user;
  if (process.env.SSH_AUTH_SOCK && !spec.keyfile)
    methods.push({ type: 'agent' as const, username, agent: process.env.SSH_AUTH_SOCK });
  const keyFiles = spec.keyfile
    ? [spec.keyfile]
    : DEFAULT_KEYS.map((k) => path.join(os.homedir(), '.ssh', k)).filter((f) => existsSync(f));
  for (const file of keyFiles) {
    let key: Buffer;
    try {
      key = await fs.readFile(file);
    } catch (e) {
      throw Object.assign(new Error(`cannot read keyfile ${file}: ${(e as Error).message}`), {
        code: (e as NodeJS.ErrnoException).code === 'EACCES' ? 'EACCES' : 'EKEYFILE',
      });
    }
    methods.push({ type: 'publickey' as const, username, key });
  }
  if (spec.password) methods.push({ type: 'password' as const, username, password: spec.password });
  if (methods.length === 0) methods.push({ type: 'none' as const, username });
  return methods;
}
