import type { Readable } from 'node:stream';

/**
 * One remote store: a flat key space in DVC 3's remote layout (`files/md5/ab/cdef…`,
 * `files/md5/ab/cdef….dir`, `runs/…`). Keys are POSIX, relative to the remote's root.
 *
 * Every implementation passes test/contract/remote-contract.ts. Uploads are all-or-nothing: a
 * reader never sees a partial object under its final key.
 */
export interface Remote {
  /** The remote's name in the config ('' for an ad-hoc remote). */
  readonly name: string;
  /** The URL with any credentials removed, safe to print. */
  readonly display: string;
  readonly kind: RemoteKind;
  exists(key: string): Promise<boolean>;
  /** Every key that starts with `prefix` (a plain string prefix, as in S3), in no particular order. */
  list(prefix: string): AsyncIterable<string>;
  /** Copy a local file to `key`; lands under a temporary name and is renamed/completed only when whole. */
  upload(localPath: string, key: string, onBytes?: (n: number) => void): Promise<void>;
  /** A stream of the object's bytes; rejects with RemoteNotFound when the key is absent. */
  read(key: string): Promise<Readable>;
  /** Remove a key; absent keys are not an error. */
  remove(key: string): Promise<void>;
  /**
   * lockstep's own temp files (util/atomic.ts `isOwnTempName`) under the object and run-cache folders,
   * with their modification times: what a killed upload leaves behind. Absent on stores whose
   * uploads leave no visible partial object (S3's multipart uploads).
   */
  listTemps?(): AsyncIterable<RemoteTemp>;
  close(): Promise<void>;
}

export interface RemoteTemp {
  key: string;
  mtimeMs: number;
}

/** The folders of the remote layout where uploads land (temp siblings included). */
export const UPLOAD_FOLDERS = ['files', 'runs'] as const;

export type RemoteKind = 'folder' | 'ssh' | 's3';

/** Thrown by Remote.read for an absent key (an expected outcome, not a failure of the remote). */
export class RemoteNotFound extends Error {
  constructor(readonly key: string) {
    super(`${key} not found`);
    this.name = 'RemoteNotFound';
  }
}

/** Options every remote understands besides its URL. */
export interface RemoteOptions {
  /** Parallel transfers wanted by the caller; remotes size their connection pools by it. */
  jobs: number;
}
