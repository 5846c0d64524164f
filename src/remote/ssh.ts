import { promises as fs, readFileSync } from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import ssh2 from 'ssh2';
import type { ConnectConfig, SFTPWrapper } from 'ssh2';
import { isTempName } from './keys.js';
import { authMethods, noSpace, readAhead, sftpCode } from './ssh-io.js';
import { RemoteNotFound, UPLOAD_FOLDERS, type Remote, type RemoteTemp } from './types.js';
import { isOwnTempName, tempSibling } from '../util/atomic.js';

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
/**
 * Servers and credentials accepted in this process (any remote object: a push may open several):
 * a later refusal of the same credentials is a connection broken during the exchange.
 */
const AUTHENTICATED = new Set<string>();

export class SshRemote implements Remote {
  readonly kind = 'ssh' as const;
  readonly display: string;
  private session: Promise<Session> | null = null;
  private next = 0;
  private readonly madeDirs = new Set<string>();

  constructor(
    readonly name: string,
    private readonly spec: SshSpec,
  ) {
    this.display = `ssh://${spec.user}@${spec.host}:${spec.port}${spec.root}`;
  }

  private credentialKey(): string {
    const { user, host, port, keyfile, password } = this.spec;
    return JSON.stringify([user, host, port, keyfile ?? null, password ? 'password' : null]);
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
        AUTHENTICATED.add(this.credentialKey());
        resolve();
      });
      // one permanent handler: ssh2 may emit several errors, and an unhandled one would crash the process
      client.on('error', (e) => {
        if (!ready) reject(AUTHENTICATED.has(this.credentialKey()) ? reconnectFailure(e, this.spec) : e);
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

  private readdir(dirKey: string): Promise<{ name: string; dir: boolean; file: boolean; mtimeMs: number }[]> {
    return this.op(
      (sftp) =>
        new Promise((resolve, reject) =>
          sftp.readdir(dirKey ? this.abs(dirKey) : this.spec.root, (e, list) => {
            if (e) {
              if (sftpCode(e) === SFTP_NO_SUCH_FILE) resolve([]);
              else reject(e);
              return;
            }
            resolve(
              list.map((f) => ({
                name: f.filename,
                dir: f.attrs.isDirectory(),
                file: f.attrs.isFile(),
                mtimeMs: f.attrs.mtime * 1000,
              })),
            );
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

  async *listTemps(): AsyncIterable<RemoteTemp> {
    // breadth first, 16 folders at a time: one round trip per folder, as in walk
    let level: string[] = [...UPLOAD_FOLDERS];
    while (level.length > 0) {
      const next: string[] = [];
      for (let i = 0; i < level.length; i += 16) {
        const lists = await Promise.all(level.slice(i, i + 16).map(async (d) => ({ d, list: await this.readdir(d) })));
        for (const { d, list } of lists) {
          for (const ent of list) {
            const key = `${d}/${ent.name}`;
            if (ent.dir && !ent.name.startsWith('.')) next.push(key);
            else if (ent.file && isOwnTempName(ent.name)) yield { key, mtimeMs: ent.mtimeMs };
          }
        }
      }
      level = next;
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
          // posix-rename replaces an existing target (plain SFTP rename refuses); an identical object may be
          // there already
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
