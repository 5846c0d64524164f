/**
 * Turns pull.url + pull.mirrors into one local thing to read: a verified archive file or a folder of
 * extracted batches. Sources are tried in order; only "could not reach it" moves on to the next one.
 * A checksum mismatch stops the pull: a source that answers with the wrong bytes needs a human,
 * and quietly taking a mirror's copy instead would hide it.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { StageError } from '../common/stage.js';
import { Unreachable, checksumError, download, md5File, type DownloadOptions } from './download.js';

export interface SourceSpec {
  url: string;
  md5?: string | undefined;
  /** `md5: changes`: the content changes over time (a nightly export): read afresh, no pinned hash. */
  changing?: boolean;
  /** Where it is in params.yaml, for error messages. */
  param: string;
}

export type Located = { kind: 'archive'; file: string; url: string } | { kind: 'folder'; dir: string; url: string };

export interface LocateOptions extends DownloadOptions {
  /** Project root: `file://` URLs and plain paths are relative to it. */
  root: string;
  /** Download directory (data/.pull). */
  pullDir: string;
  onTry?: (url: string) => void;
  onSkip?: (url: string, why: string) => void;
}

/** file://../x, file:///abs/x, ./x, /abs/x -> an absolute path; undefined for http(s). */
export function localPath(url: string, root: string): string | undefined {
  if (/^https?:\/\//i.test(url)) return undefined;
  if (url.startsWith('file://')) {
    const rest = url.slice('file://'.length);
    // file:///abs is absolute; file://../rel and file://rel are relative to the project root.
    if (rest.startsWith('/')) return fileURLToPath(`file://${rest}`);
    return path.resolve(root, decodeURIComponent(rest));
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(url))
    throw new StageError(`unsupported URL scheme in ${url}`, 'Use http://, https://, file:// or a path.');
  return path.resolve(root, url);
}

function archiveName(url: string): string {
  const base = path.posix.basename(new URL(url).pathname);
  return base && base !== '/' ? base.replace(/[^A-Za-z0-9._-]/g, '_') : 'download';
}

async function locateOne(src: SourceSpec, opts: LocateOptions): Promise<Located> {
  const local = localPath(src.url, opts.root);
  if (local !== undefined) {
    const st = await fs.stat(local).catch((e: NodeJS.ErrnoException) => {
      throw new Unreachable(`${src.url}: ${e.code ?? e.message}`);
    });
    if (st.isDirectory()) return { kind: 'folder', dir: local, url: src.url };
    if (src.changing) return { kind: 'archive', file: local, url: src.url };
    if (!src.md5)
      throw new StageError(
        `${src.param}: no md5 for ${src.url}`,
        `Add md5: ${await md5File(local)} (after checking the file) next to it.`,
      );
    const actual = await md5File(local);
    if (actual !== src.md5) throw checksumError(local, src.url, src.md5, actual);
    return { kind: 'archive', file: local, url: src.url };
  }
  if (!src.md5 && !src.changing)
    throw new StageError(
      `${src.param}: no md5 for ${src.url}`,
      'Every downloaded archive is verified: add its md5 (or md5: changes for a source that changes over time).',
    );
  await fs.mkdir(opts.pullDir, { recursive: true });
  const dest = path.join(opts.pullDir, archiveName(src.url));
  await download(src.url, dest, src.changing ? null : (src.md5 ?? null), opts);
  return { kind: 'archive', file: dest, url: src.url };
}

/** Tries each source in order; fails with one line naming every source and why it was skipped. */
export async function locate(sources: readonly SourceSpec[], opts: LocateOptions): Promise<Located> {
  const tried: string[] = [];
  for (const src of sources) {
    opts.onTry?.(src.url);
    try {
      return await locateOne(src, opts);
    } catch (e) {
      if (!(e instanceof Unreachable)) throw e;
      tried.push(e.message);
      opts.onSkip?.(src.url, e.message);
    }
  }
  throw new StageError(
    `no pull source could be reached; tried ${tried.join('; ')}`,
    'Check pull.url and pull.mirrors in params.yaml (this machine may be offline: add a file:// mirror).',
  );
}
