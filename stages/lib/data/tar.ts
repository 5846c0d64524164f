/**
 * Streams a .tar.gz and hands the wanted members to a callback, treating the archive as untrusted:
 * path escapes and link members are rejected outright, member and total sizes are bounded before a
 * byte is buffered, and only members the caller names are ever read into memory. Nothing from the
 * archive is used as a path on disk.
 */
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { createGunzip } from 'node:zlib';
import { pipeline } from 'node:stream/promises';
import tar from 'tar-stream';
import { StageError, errorText } from '../common/stage.js';

export interface TarLimits {
  /** Largest member we accept (header size), in bytes. */
  maxMemberBytes: number;
  /** Largest sum of member sizes, in bytes: bounds a decompression bomb. */
  maxTotalBytes: number;
  maxMembers: number;
}

const BAD_ARCHIVE_HINT =
  'Check that the pull source is the CIFAR-10 binary archive (delete data/.pull to download it again).';

/** Normalises a member name, or throws if it could escape the extraction root. */
export function safeMemberName(archive: string, raw: string): string {
  const name = raw.replace(/^(\.\/)+/, '');
  if (name.startsWith('/') || /^[A-Za-z]:/.test(name) || name.includes('\\')) {
    throw new StageError(`${archive}: member '${raw}' has an absolute path`, BAD_ARCHIVE_HINT);
  }
  if (name.split('/').some((seg) => seg === '..')) {
    throw new StageError(`${archive}: member '${raw}' escapes the archive root ('..')`, BAD_ARCHIVE_HINT);
  }
  return name.replace(/\/+$/, '');
}

export async function assertGzip(archive: string): Promise<void> {
  const fh = await open(archive, 'r');
  try {
    const { bytesRead, buffer } = await fh.read(Buffer.alloc(2), 0, 2, 0);
    if (bytesRead < 2 || buffer[0] !== 0x1f || buffer[1] !== 0x8b)
      throw new StageError(`${archive} is not a gzip file`, BAD_ARCHIVE_HINT);
  } finally {
    await fh.close();
  }
}

/**
 * Calls `onMember(name, bytes)` for every regular-file member whose normalised name `want` accepts,
 * in archive order; the stream waits while the callback runs, so memory stays at one member.
 */
export async function readTarGz(
  archive: string,
  want: (name: string) => boolean,
  onMember: (name: string, data: Buffer) => Promise<void> | void,
  limits: TarLimits,
): Promise<void> {
  await assertGzip(archive);
  const extract = tar.extract();
  const source = pipeline(createReadStream(archive), createGunzip(), extract);
  // The consumer below reports the first error; keep the pipeline's rejection from going unhandled.
  let streamError: unknown;
  source.catch((e: unknown) => {
    streamError ??= e;
  });
  let members = 0;
  let total = 0;
  try {
    for await (const entry of extract) {
      const h = entry.header;
      const name = safeMemberName(archive, h.name);
      if (h.type === 'symlink' || h.type === 'link') {
        throw new StageError(
          `${archive}: member '${h.name}' is a ${h.type === 'link' ? 'hard link' : 'symlink'} (to ` +
            `'${h.linkname ?? ''}'); links are not allowed`,
          BAD_ARCHIVE_HINT,
        );
      }
      if (h.type !== 'file' && h.type !== 'directory' && h.type !== 'contiguous-file') {
        throw new StageError(`${archive}: member '${h.name}' has unsupported type ${h.type}`, BAD_ARCHIVE_HINT);
      }
      const size = h.size ?? 0;
      if (++members > limits.maxMembers)
        throw new StageError(`${archive}: more than ${limits.maxMembers} members`, BAD_ARCHIVE_HINT);
      if (size > limits.maxMemberBytes) {
        throw new StageError(
          `${archive}: member '${name}' is ${size} bytes, over the limit of ${limits.maxMemberBytes}`,
          BAD_ARCHIVE_HINT,
        );
      }
      total += size;
      if (total > limits.maxTotalBytes)
        throw new StageError(`${archive}: members add up to more than ${limits.maxTotalBytes} bytes`, BAD_ARCHIVE_HINT);
      if (h.type === 'directory' || !want(name)) {
        entry.resume();
        continue;
      }
      const chunks: Buffer[] = [];
      let got = 0;
      for await (const chunk of entry as AsyncIterable<Buffer>) {
        got += chunk.length;
        if (got > size)
          throw new StageError(`${archive}: member '${name}' is longer than its header says`, BAD_ARCHIVE_HINT);
        chunks.push(chunk);
      }
      if (got !== size)
        throw new StageError(`${archive}: member '${name}' is truncated (${got} of ${size} bytes)`, BAD_ARCHIVE_HINT);
      await onMember(name, Buffer.concat(chunks, got));
    }
    await source;
  } catch (e) {
    extract.destroy();
    if (e instanceof StageError) throw e;
    throw corrupt(archive, streamError ?? e);
  }
  if (streamError) throw corrupt(archive, streamError);
}

function corrupt(archive: string, e: unknown): StageError {
  const msg = errorText(e);
  const truncated = /unexpected end|premature close|end of data/i.test(msg);
  return new StageError(`${archive} is ${truncated ? 'truncated' : 'corrupt'} (${msg})`, BAD_ARCHIVE_HINT);
}
