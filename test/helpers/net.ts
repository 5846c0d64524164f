import net from 'node:net';
import { waitFor } from './wait.js';

/** A TCP port free on 127.0.0.1 right now. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

/** Resolve once something accepts connections on the port (bounded wait). */
export async function waitForPort(port: number, timeoutMs = 10_000): Promise<void> {
  const accepts = () =>
    new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1');
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
  await waitFor(accepts, { timeoutMs, everyMs: 100, what: `something to listen on 127.0.0.1:${port}` });
}

/**
 * A TCP proxy on 127.0.0.1 in front of a server, so a test can drop every connection mid-transfer
 * (as a flaky network or a restarted server would) and later let connections through again.
 */
export interface CuttableProxy {
  port: number;
  /** Destroy open connections; with `refuse`, new ones are closed at once until restore(). */
  cut(opts?: { refuse?: boolean }): void;
  restore(): void;
  /** Call `fn` once when `bytes` have gone from client to server in total. */
  onUpstreamBytes(bytes: number, fn: () => void): void;
  close(): Promise<void>;
}

export async function startProxy(targetPort: number): Promise<CuttableProxy> {
  const sockets = new Set<net.Socket>();
  let refuse = false;
  let sent = 0;
  let trigger: { at: number; fn: () => void } | null = null;
  const server = net.createServer((client) => {
    if (refuse) return client.destroy();
    const upstream = net.connect(targetPort, '127.0.0.1');
    sockets.add(client);
    sockets.add(upstream);
    const drop = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('data', (d: Buffer) => {
      sent += d.length;
      if (trigger && sent >= trigger.at) {
        const t = trigger;
        trigger = null;
        t.fn();
      }
    });
    client.pipe(upstream);
    upstream.pipe(client);
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    cut(opts = {}) {
      refuse = Boolean(opts.refuse);
      for (const s of sockets) s.destroy();
      sockets.clear();
    },
    restore() {
      refuse = false;
    },
    onUpstreamBytes(bytes, fn) {
      trigger = { at: sent + bytes, fn };
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
