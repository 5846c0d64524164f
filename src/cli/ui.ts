/** `lockstep ui`: start the read-only experiments page and print its URL; runs until interrupted. */
import { LockstepError } from '../errors.js';
import { openProject } from '../project.js';
import { isLoopback, startUiServer } from '../ui/server.js';
import { errLine, out } from './options.js';

export async function run(flags: { host?: string; port?: string; open?: boolean }): Promise<number> {
  const host = flags.host ?? '127.0.0.1';
  const port = flags.port === undefined ? 0 : Number(flags.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new LockstepError(
      'usage',
      `--port takes 0-65535, not '${flags.port}'`,
      'Example: --port 8080 (0: a free port).',
    );
  const project = await openProject();
  const server = await startUiServer({ root: project.root, cacheDir: project.cacheDir, host, port });
  out(server.url);
  if (!isLoopback(host))
    errLine('lockstep: the page is reachable from other machines; the URL holds its access token.');
  if (flags.open) {
    const { default: open } = await import('open');
    await open(server.url, { wait: false });
  }
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  await server.close();
  return 0;
}
