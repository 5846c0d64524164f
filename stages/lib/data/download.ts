/**
 * Resumable HTTP(S) download: bytes go to `<dest>.part` (with a `<dest>.part.json` note of the URL,
 * so a part from another URL is never resumed), a dropped connection is resumed with a Range request,
 * and the file is renamed to `dest` only once its md5 matches. A source that cannot be reached at all
 * raises `Unreachable`, which the caller answers by trying the next mirror.
 */
import { createHash } from 'node:crypto';
import { createReadStream, promises as fs } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { pipeline } from 'node:stream/promises';
import { StageError, errorText } from '../common/stage.js';

/** The source could not be reached (DNS, refused, timeout, HTTP error status): try the next one. */
export class Unreachable extends Error {
  override name = 'Unreachable';
}

export interface DownloadProgress {
  url: string;
  received: number;
  /** Total bytes when the server says; undefined otherwise. */
  total: number | undefined;
  resumedFrom: number;
}

export interface DownloadOptions {
  /** Connect/idle timeout per request, ms. */
  timeoutMs?: number;
  /** How many times a dropped transfer is resumed before giving up. */
  maxResumes?: number;
  onProgress?: (p: DownloadProgress) => void;
}

export async function md5File(file: string): Promise<string> {
  const hash = createHash('md5');
  await pipeline(createReadStream(file), hash);
  return hash.digest('hex');
}

export function checksumError(file: string, source: string, expected: string, actual: string): StageError {
  return new StageError(
    `checksum mismatch for ${file} (from ${source}): expected md5 ${expected}, got ${actual}`,
    'Fix the md5 in params.yaml if the source changed on purpose, else the download is corrupt.',
  );
}

/**
 * The response body as an async iterable that keeps what arrived before a dropped connection: a
 * destroyed IncomingMessage discards its buffered chunks, so they are taken off it as they come
 * (with pause/resume as back-pressure) and an early close is raised only after they are consumed.
 */
class Body implements AsyncIterable<Buffer> {
  private readonly chunks: Buffer[] = [];
  private queued = 0;
  private done = false;
  private error: Error | undefined;
  private wake: (() => void) | undefined;

  constructor(private readonly res: http.IncomingMessage) {
    res.on('data', (c: Buffer) => {
      this.chunks.push(c);
      this.queued += c.length;
      if (this.queued > 8 * 1024 * 1024) res.pause();
      this.notify();
    });
    res.on('error', (e) => {
      this.error ??= e;
    });
    res.on('close', () => {
      if (!res.complete) this.error ??= new Error('connection closed before the body was complete');
      this.done = true;
      this.notify();
    });
  }

  private notify(): void {
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<Buffer> {
    for (;;) {
      const c = this.chunks.shift();
      if (c) {
        this.queued -= c.length;
        if (this.queued < 1024 * 1024 && this.res.isPaused()) this.res.resume();
        yield c;
        continue;
      }
      if (this.done) {
        if (this.error) throw this.error;
        return;
      }
      await new Promise<void>((resolve) => (this.wake = resolve));
    }
  }
}

interface Opened {
  res: http.IncomingMessage;
  body: Body;
  url: string;
}

function get(url: string, headers: Record<string, string>, timeoutMs: number, redirects = 5): Promise<Opened> {
  return new Promise((resolve, reject) => {
    const lib = url.startsWith('https:') ? https : http;
    const req = lib.get(url, { headers, timeout: timeoutMs }, (res) => {
      const status = res.statusCode ?? 0;
      if (status >= 300 && status < 400 && res.headers.location) {
        res.resume();
        if (redirects === 0) return reject(new Unreachable(`${url}: too many redirects`));
        return resolve(get(new URL(res.headers.location, url).toString(), headers, timeoutMs, redirects - 1));
      }
      resolve({ res, body: new Body(res), url });
    });
    req.on('timeout', () => req.destroy(new Error(`no response within ${timeoutMs} ms`)));
    req.on('error', (e) => reject(new Unreachable(`${url}: ${(e as NodeJS.ErrnoException).code ?? errorText(e)}`)));
  });
}

const sizeOf = (file: string) =>
  fs.stat(file).then(
    (s) => s.size,
    () => 0,
  );

/** Downloads `url` to `dest`, verified against `md5`. Reuses a verified `dest` that is already there. */
/**
 * `md5` null: a source whose content changes over time (`md5: changes`): downloaded afresh every time
 * (no earlier copy or part file is reused across runs), and not checked against a pinned hash.
 */
export async function download(
  url: string,
  dest: string,
  md5: string | null,
  opts: DownloadOptions = {},
): Promise<void> {
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const maxResumes = opts.maxResumes ?? 5;
  const part = `${dest}.part`;
  const note = `${part}.json`;
  if (md5 === null) {
    await fs.rm(dest, { force: true });
    await fs.rm(part, { force: true });
  } else if ((await sizeOf(dest)) > 0 && (await md5File(dest)) === md5) return;
  const noted = await fs.readFile(note, 'utf8').then(
    (t) => (JSON.parse(t) as { url?: string }).url,
    () => undefined,
  );
  if (noted !== url) await fs.rm(part, { force: true });
  await fs.writeFile(note, `${JSON.stringify({ url, md5 })}\n`);

  let failures = 0;
  for (;;) {
    const have = await sizeOf(part);
    let opened: Opened;
    try {
      opened = await get(url, have > 0 ? { Range: `bytes=${have}-` } : {}, timeoutMs);
    } catch (e) {
      // Lost the server after part of the file arrived: worth another try; never reached: next source.
      if (have > 0 && failures++ < maxResumes) continue;
      if (have === 0) await fs.rm(note, { force: true });
      throw e;
    }
    const { res, body } = opened;
    const status = res.statusCode ?? 0;
    if (status === 416 && have > 0) {
      res.resume();
      break; // the part is already whole; the md5 check below decides
    }
    if (status !== 200 && status !== 206) {
      res.resume();
      throw new Unreachable(`${url}: HTTP ${status}`);
    }
    let start = 0;
    let total = res.headers['content-length'] ? Number(res.headers['content-length']) : undefined;
    if (status === 206) {
      const m = /^bytes (\d+)-\d+\/(\d+|\*)$/.exec(res.headers['content-range'] ?? '');
      if (!m || Number(m[1]) !== have) {
        // A range we did not ask for: start over rather than splice mismatched bytes.
        res.resume();
        await fs.rm(part, { force: true });
        if (failures++ >= maxResumes)
          throw new StageError(
            `${url}: server answered a resume with a wrong range (${res.headers['content-range'] ?? 'none'})`,
            'Delete data/.pull and try again.',
          );
        continue;
      }
      start = have;
      total = m[2] === '*' ? undefined : Number(m[2]);
    }
    let received = start;
    opts.onProgress?.({ url, received, total, resumedFrom: start });
    // Each chunk is written before the next is read, so when the connection drops, everything
    // received so far is in the part file for the resume (a piped write stream would drop its queue).
    const fh = await fs.open(part, start > 0 ? 'a' : 'w');
    try {
      for await (const chunk of body) {
        await fh.write(chunk);
        received += chunk.length;
        opts.onProgress?.({ url, received, total, resumedFrom: start });
      }
      // A clean end short of the announced length is a drop too.
      if (total !== undefined && received < total)
        throw new Error(`connection closed at ${received} of ${total} bytes`);
      break;
    } catch (e) {
      if (failures++ >= maxResumes) {
        throw new StageError(
          `download of ${url} failed after ${maxResumes} resumes: ${errorText(e)}`,
          `Run the stage again to resume from ${part}.`,
        );
      }
    } finally {
      await fh.close();
    }
  }

  const actual = await md5File(part);
  if (md5 !== null && actual !== md5) {
    await fs.rm(part, { force: true });
    await fs.rm(note, { force: true });
    throw checksumError(part, url, md5, actual);
  }
  await fs.rename(part, dest);
  await fs.rm(note, { force: true });
}
