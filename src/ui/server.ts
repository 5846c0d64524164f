/**
 * `lockstep ui`'s web server: node:http, read-only (GET only), JSON endpoints over src/ui/data.ts and
 * one server-sent-events stream that tells the page when a running experiment's plots changed.
 *
 * Bound to 127.0.0.1 by default, where the Host header must name the loopback (so a web page elsewhere
 * cannot reach it through DNS rebinding). Bound to any other address, every request must carry the
 * access token (`?token=`) that the printed URL holds.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { LockstepError } from '../errors.js';
import { compare, experiments, run, running, runningSignature, type UiContext } from './data.js';
import { uiPage } from './page.js';

export interface UiServerOptions extends UiContext {
  host: string;
  port: number;
  /** How often running workspaces are checked for new epochs (ms). */
  pollMs?: number;
}

export interface UiServer {
  url: string;
  close(): Promise<void>;
}

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);

export function isLoopback(host: string): boolean {
  return LOOPBACK.has(host) || /^127\.\d+\.\d+\.\d+$/.test(host);
}

function sendJson(res: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
  res.end(text);
}

export async function startUiServer(opts: UiServerOptions): Promise<UiServer> {
  const token = isLoopback(opts.host) ? null : randomBytes(18).toString('base64url');
  const clients = new Set<http.ServerResponse>();
  let port = 0;

  const allowed = (req: http.IncomingMessage, url: URL): boolean => {
    if (token) {
      const given = Buffer.from(url.searchParams.get('token') ?? '');
      const want = Buffer.from(token);
      return given.length === want.length && timingSafeEqual(given, want);
    }
    const host = (req.headers.host ?? '').replace(/:\d+$/, '').replace(/^\[(.*)\]$/, '$1');
    return isLoopback(host);
  };

  const server = http.createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://ui.invalid');
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.writeHead(405, { allow: 'GET' }).end('read-only\n');
        return;
      }
      if (!allowed(req, url)) {
        res.writeHead(403, { 'content-type': 'text/plain' }).end('forbidden: open the URL lockstep ui printed\n');
        return;
      }
      try {
        switch (url.pathname) {
          case '/':
            res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
            res.end(uiPage());
            return;
          case '/api/experiments':
            return sendJson(res, 200, await experiments(opts, url.searchParams.get('group') ?? 'data'));
          case '/api/run':
            return sendJson(res, 200, await run(opts, url.searchParams.get('sha') ?? ''));
          case '/api/compare': {
            const shas = (url.searchParams.get('shas') ?? '').split(',').filter(Boolean).slice(0, 20);
            return sendJson(res, 200, await compare(opts, shas));
          }
          case '/api/running':
            return sendJson(res, 200, await running(opts));
          case '/api/events':
            res.writeHead(200, {
              'content-type': 'text/event-stream',
              'cache-control': 'no-store',
              connection: 'keep-alive',
            });
            res.write('retry: 1000\n\n');
            clients.add(res);
            req.on('close', () => clients.delete(res));
            return;
          case '/hard-examples': {
            const { hardExamplesPage } = await import('./hard-examples.js');
            res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
            res.end(await hardExamplesPage(opts));
            return;
          }
          default:
            res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
        }
      } catch (e) {
        const message = e instanceof LockstepError ? e.message : `internal error: ${(e as Error).message}`;
        sendJson(res, e instanceof LockstepError ? 400 : 500, { error: message });
      }
    })();
  });

  // One watcher for every page: poll the running workspaces' plot files and push a change event.
  let last = '';
  let polling = false;
  const timer = setInterval(() => {
    if (polling || clients.size === 0) return;
    polling = true;
    runningSignature(opts)
      .then((sig) => {
        if (sig === last) return;
        last = sig;
        for (const c of clients) c.write(`event: running\ndata: ${JSON.stringify({ at: Date.now() })}\n\n`);
      })
      .catch(() => {})
      .finally(() => {
        polling = false;
      });
  }, opts.pollMs ?? 1000);
  timer.unref();

  await new Promise<void>((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) => {
      clearInterval(timer);
      const next = opts.port > 0 && opts.port < 65535 ? `--port ${opts.port + 1}, or ` : '';
      reject(
        e.code === 'EADDRINUSE'
          ? new LockstepError(
              'usage',
              `port ${opts.port} on ${opts.host} is in use by another program`,
              `Choose another port: ${next}--port 0 for a free one.`,
            )
          : new LockstepError(
              'usage',
              `cannot listen on ${opts.host}:${opts.port}: ${e.code ?? e.message}`,
              'Choose another --port (0 picks a free one).',
            ),
      );
    });
    server.listen(opts.port, opts.host, () => resolve());
  });
  port = (server.address() as AddressInfo).port;
  const shownHost = opts.host.includes(':') ? `[${opts.host}]` : opts.host;
  const url = `http://${shownHost}:${port}/${token ? `?token=${token}` : ''}`;
  return {
    url,
    close: () =>
      new Promise<void>((resolve) => {
        clearInterval(timer);
        for (const c of clients) c.end();
        server.close(() => resolve());
        server.closeAllConnections?.();
      }),
  };
}
