import { existsSync, promises as fs, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import ssh2 from 'ssh2';
import type {
  AgentAuthMethod,
  ConnectConfig,
  NoAuthMethod,
  PasswordAuthMethod,
  PublicKeyAuthMethod,
  SFTPWrapper,
} from 'ssh2';
type AuthMethod = AgentAuthMethod | PublicKeyAuthMethod | PasswordAuthMethod | NoAuthMethod;
import { isTempName } from './keys.js';
import { RemoteNotFound, type Remote } from './types.js';
import { tempSibling } from '../util/atomic.js';

const { Client } = ssh2;
type SshClient = InstanceType<typeof Client>;

export interface SshSpec {
  host: string;
  port: number;
  user: string;
  root: string;
  /** Explicit private key file; otherwise the agent and ~/.ssh/id_* are tried. */
  keyfile?: string;
  password?: string;
  /** SFTP channels opened on the one connection (OpenSSH allows 10 sessions by default). */
  channels: number;
  timeoutMs: number;
}

const SFTP_NO_SUCH_FILE = 2;
/** OpenSSH's generic error status, its answer to ENOSPC among others. */
const SFTP_FAILURE = 4;
/** Objects up to this size go up in a single SFTP write. */
const SMALL = 256 * 1024;
const DEFAULT_KEYS = ['id_ed25519', 'id_ecdsa', 'id_rsa'];

interface Session {
  client: SshClient;
  channels: SFTPWrapper[];
  closed: boolean;
  /**
   * Fails an operation when the connection goes away (ssh2 leaves some in-flight SFTP requests
   * unanswered then). Not Promise.race with one long-lived promise: every race would stay attached
   * to it and keep its result alive (a 1 GiB download kept 1 GiB).
   */
  guard: <T>(p: Promise<T>) => Promise<T>;
  streams: Set<Readable>;
}

/**
 * SFTP remote over one SSH connection with several SFTP channels, so `-j` transfers run in
 * parallel without a handshake each. A dropped connection is re-established on the next
 * operation (the transfer layer retries the operation that saw the drop).
 */
export class SshRemote implements Remote {
  readonly kind = 'ssh' as const;
  readonly display: string;
  private session: Promise<Session> | null = null;
  private next = 0;
  private readonly madeDirs = new Set<string>();
  /** The server accepted these credentials once in this process: a later refusal is a broken reconnect. */
  private authenticated = false;

  constructor(
    readonly name: string,
    private readonly spec: SshSpec,
  ) {
    this.display = `ssh://${spec.user}@${spec.host}:${spec.port}${spec.root}`;
  }

  private abs(key: string): string {
    return path.posix.join(this.spec.root, key);
  }

  private async connect(): Promise<Session> {
    const auth = await authMethods(this.spec);
    const client = new Client();
    const waiters = new Set<(e: Error) => void>();
    let lostError: Error | null = null;
    const guard = <T>(p: Promise<T>): Promise<T> => {
      if (lostError) {
        p.catch(() => {});
        return Promise.reject(lostError);
      }
      return new Promise<T>((resolve, reject) => {
        waiters.add(reject);
        p.then(
          (v) => {
            waiters.delete(reject);
            resolve(v);
          },
          (e: unknown) => {
            waiters.delete(reject);
            reject(e);
          },
        );
      });
    };
    const session: Session = { client, channels: [], closed: false, guard, streams: new Set() };
    const drop = () => {
      session.closed = true;
      const e = Object.assign(new Error(`connection to ${this.spec.host}:${this.spec.port} lost`), {
        code: 'ECONNRESET',
      });
      lostError ??= e;
      for (const w of waiters) w(e);
      waiters.clear();
      for (const st of session.streams) st.destroy(e);
    };
    await new Promise<void>((resolve, reject) => {
      let ready = false;
      client.once('ready', () => {
        ready = true;
        this.authenticated = true;
        resolve();
      });
      // one permanent handler: ssh2 may emit several errors, and an unhandled one would crash the process
      client.on('error', (e) => {
        if (!ready) reject(this.authenticated ? reconnectFailure(e, this.spec) : e);
        drop();
      });
      client.on('close', () => {
        if (!ready)
          reject(
            Object.assign(new Error(`connection to ${this.spec.host}:${this.spec.port} closed during the handshake`), {
              code: 'ECONNRESET',
            }),
          );
        drop();
      });
      const config: ConnectConfig = {
        host: this.spec.host,
        port: this.spec.port,
        username: this.spec.user,
        readyTimeout: this.spec.timeoutMs,
        // generous: a busy event loop (thousands of transfers) must not be taken for a dead server
        keepaliveInterval: 30_000,
        keepaliveCountMax: 10,
        authHandler: auth,
      };
      client.connect(config);
    });
    const channels = await Promise.all(
      Array.from({ length: Math.max(1, this.spec.channels) }, () =>
        new Promise<SFTPWrapper>((resolve, reject) => client.sftp((e, sftp) => (e ? reject(e) : resolve(sftp)))).catch(
          () => null,
        ),
      ),
    );
    session.channels = channels.filter((c): c is SFTPWrapper => c !== null);
    if (session.channels.length === 0) {
      client.end();
      throw Object.assign(new Error('the server refused to open an SFTP channel'), { code: 'ESFTP' });
    }
    return session;
  }

  private async sftp(): Promise<SFTPWrapper> {
    return (await this.channel()).sftp;
  }

  /** Run one SFTP operation; it fails (as a transient fault) if the connection drops meanwhile. */
  private async op<T>(fn: (sftp: SFTPWrapper) => Promise<T>): Promise<T> {
    const { sftp, session } = await this.channel();
    return session.guard(fn(sftp));
  }

  private async channel(): Promise<{ sftp: SFTPWrapper; session: Session }> {
    for (;;) {
      if (!this.session) {
        const pending = this.connect();
        this.session = pending;
        pending.catch(() => {
          if (this.session === pending) this.session = null;
        });
      }
      const pending = this.session;
      const current = await pending;
      if (current.closed) {
        if (this.session === pending) this.session = null;
        continue;
      }
      this.next = (this.next + 1) % current.channels.length;
      return { sftp: current.channels[this.next]!, session: current };
    }
  }

  async exists(key: string): Promise<boolean> {
    return this.op(
      (sftp) =>
        new Promise((resolve, reject) =>
          sftp.stat(this.abs(key), (e) => {
            if (!e) resolve(true);
            else if (sftpCode(e) === SFTP_NO_SUCH_FILE) resolve(false);
            else reject(e);
          }),
        ),
    );
  }

  async *list(prefix: string): AsyncIterable<string> {
    const slash = prefix.lastIndexOf('/');
    yield* this.walk(slash >= 0 ? prefix.slice(0, slash) : '', prefix);
  }

  private readdir(dirKey: string): Promise<{ name: string; dir: boolean }[]> {
    return this.op(
      (sftp) =>
        new Promise((resolve, reject) =>
          sftp.readdir(dirKey ? this.abs(dirKey) : this.spec.root, (e, list) => {
            if (e) {
              if (sftpCode(e) === SFTP_NO_SUCH_FILE) resolve([]);
              else reject(e);
              return;
            }
            resolve(list.map((f) => ({ name: f.filename, dir: f.attrs.isDirectory() })));
          }),
        ),
    );
  }

  private async *walk(dirKey: string, prefix: string): AsyncIterable<string> {
    const entries = await this.readdir(dirKey);
    const subdirs: string[] = [];
    for (const ent of entries) {
      if (ent.name.startsWith('.')) continue;
      const key = dirKey ? `${dirKey}/${ent.name}` : ent.name;
      if (ent.dir) {
        if (key.startsWith(prefix) || prefix.startsWith(`${key}/`)) subdirs.push(key);
      } else if (key.startsWith(prefix) && !isTempName(key)) {
        yield key;
      }
    }
    // fan-out folders are read several at a time: a listing costs one round trip per folder
    const width = 16;
    for (let i = 0; i < subdirs.length; i += width) {
      const lists = await Promise.all(
        subdirs.slice(i, i + width).map(async (d) => {
          const out: string[] = [];
          for await (const k of this.walk(d, prefix)) out.push(k);
          return out;
        }),
      );
      for (const l of lists) yield* l;
    }
  }

  private async mkdirp(dir: string, parentMade = false): Promise<void> {
    if (this.madeDirs.has(dir) || dir === '/' || dir === '.') return;
    const made = await this.op(
      (sftp) =>
        new Promise<boolean>((resolve, reject) =>
          sftp.mkdir(dir, (e) => {
            if (!e) return resolve(true);
            // exists already (a concurrent upload made it), or the parent is missing: stat tells which.
            // Any other refusal (permission denied, a full disk) is the answer: retrying cannot help.
            sftp.stat(dir, (se, st) => {
              if (!se && st.isDirectory()) resolve(true);
              else if (!parentMade && sftpCode(e) === SFTP_NO_SUCH_FILE && sftpCode(se) === SFTP_NO_SUCH_FILE)
                resolve(false);
              else reject(e);
            });
          }),
        ),
    );
    if (!made) {
      await this.mkdirp(path.posix.dirname(dir));
      return this.mkdirp(dir, true);
    }
    this.madeDirs.add(dir);
  }

  async upload(localPath: string, key: string, onBytes?: (n: number) => void): Promise<void> {
    const target = this.abs(key);
    await this.mkdirp(path.posix.dirname(target));
    const tmp = tempSibling(target).split(path.sep).join('/');
    const size = (await fs.stat(localPath)).size;
    await this.op(async (sftp) => {
      try {
        if (size <= SMALL) {
          // one open/write/close exchange; fastPut's local bookkeeping costs more than the data here
          const data = readFileSync(localPath);
          await new Promise<void>((resolve, reject) => sftp.writeFile(tmp, data, (e) => (e ? reject(e) : resolve())));
        } else {
          await new Promise<void>((resolve, reject) =>
            sftp.fastPut(localPath, tmp, { concurrency: 32, chunkSize: 32 * 1024 }, (e) => (e ? reject(e) : resolve())),
          );
        }
        await new Promise<void>((resolve, reject) => {
          const done = (e: Error | null | undefined) => (e ? reject(e) : resolve());
          // posix-rename replaces an existing target (plain SFTP rename refuses); an identical object may be there already
          try {
            sftp.ext_openssh_rename(tmp, target, done);
          } catch {
            sftp.rename(tmp, target, done);
          }
        });
      } catch (e) {
        // OpenSSH answers a full disk with a bare "Failure": ask the server for the free space
        // before the temp file is removed (and frees what it took)
        const full = sftpCode(e) === SFTP_FAILURE ? await noSpace(sftp, path.posix.dirname(target), size) : null;
        // wait for the temp file to go (a full remote must not fill up with them), not forever
        await new Promise<void>((resolve) => {
          sftp.unlink(tmp, () => resolve());
          setTimeout(resolve, 5_000).unref();
        });
        throw full ?? e;
      }
    });
    onBytes?.(size);
  }

  async read(key: string): Promise<Readable> {
    const { sftp, session } = await this.channel();
    const file = this.abs(key);
    const handle = await session.guard(
      new Promise<Buffer>((resolve, reject) =>
        sftp.open(file, 'r', (e, h) => {
          if (!e) resolve(h);
          else reject(sftpCode(e) === SFTP_NO_SUCH_FILE ? new RemoteNotFound(key) : e);
        }),
      ),
    );
    const size = await session
      .guard(
        new Promise<number>((resolve, reject) => sftp.fstat(handle, (e, st) => (e ? reject(e) : resolve(st.size)))),
      )
      .catch((e: unknown) => {
        sftp.close(handle, () => {});
        throw e;
      });
    const stream = Readable.from(readAhead(sftp, handle, size, session.guard));
    // ssh2 may report a failed handle close after the reader is done (a dropped connection): keep
    // that late error from crashing the process; errors while reading still reach the reader
    stream.on('error', () => {});
    session.streams.add(stream);
    stream.once('close', () => session.streams.delete(stream));
    return stream;
  }

  async remove(key: string): Promise<void> {
    await this.op(
      (sftp) =>
        new Promise<void>((resolve, reject) =>
          sftp.unlink(this.abs(key), (e) => (!e || sftpCode(e) === SFTP_NO_SUCH_FILE ? resolve() : reject(e))),
        ),
    );
  }

  async close(): Promise<void> {
    const s = this.session ? await this.session.catch(() => null) : null;
    this.session = null;
    if (s && !s.closed) {
      await new Promise<void>((resolve) => {
        s.client.once('close', () => resolve());
        s.client.end();
        setTimeout(resolve, 2_000).unref();
      });
    }
  }
}

const READ_CHUNK = 64 * 1024;
const READ_WINDOW = 32;

/**
 * The file's bytes in order, with READ_WINDOW reads of READ_CHUNK in flight (2 MiB). One read at a
 * time (ssh2's ReadStream) is bound by the round trip, ~7 MB/s for a 1 GiB file here; 32 reads of
 * 32 KiB reached 23 MB/s once the consumer hashed each chunk, 32 of 64 KiB 230-258 MB/s
 * (scratch measurement against the test sshd, 512 MiB). A server may answer a read with fewer
 * bytes than asked (OpenSSH caps a read's length): the rest is read before the chunk is passed on.
 */
async function* readAhead(
  sftp: SFTPWrapper,
  handle: Buffer,
  size: number,
  guard: Session['guard'],
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

const sftpCode = (e: unknown): number | undefined => (e as { code?: number } | undefined)?.code;

/**
 * ENOSPC-like error when the file system holding `dir` has no room for `size` more bytes (or no
 * free inode), by the statvfs@openssh.com extension; null when it has room or cannot tell.
 */
function noSpace(sftp: SFTPWrapper, dir: string, size: number): Promise<Error | null> {
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

/**
 * A reconnect refused at authentication after the same credentials were accepted in this run: the
 * connection broke during the exchange (seen when a link is cut mid-handshake), so it is a
 * transient fault to retry, not a wrong key to report.
 */
export function reconnectFailure(e: Error, spec: SshSpec): Error {
  if ((e as { level?: string }).level !== 'client-authentication') return e;
  return Object.assign(
    new Error(`connection to ${spec.host}:${spec.port} broke while reconnecting (${e.message.replace(/\.$/, '')})`),
    { code: 'ECONNRESET' },
  );
}

/** Agent first (SSH_AUTH_SOCK), then the configured key or the usual ~/.ssh/id_* files, then a password. */
async function authMethods(spec: SshSpec): Promise<AuthMethod[]> {
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
