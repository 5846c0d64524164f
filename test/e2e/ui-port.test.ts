/** `lockstep ui --port N` when N is taken: one line naming the port and another to try, exit 2, no server. */
import assert from 'node:assert/strict';
import net from 'node:net';
import { test } from 'node:test';
import { tempProject } from '../helpers/project.js';

test('ui --port on a port in use: a one-line error naming the port and suggesting another, exit 2', async () => {
  const taken = net.createServer();
  await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
  const port = (taken.address() as net.AddressInfo).port;
  try {
    const p = await tempProject({ 'pipeline.yaml': 'stages: {}\n' });
    const r = await p.run(['ui', '--port', String(port)], { timeout: 30_000 });
    assert.equal(r.exitCode, 2, r.all);
    assert.equal(r.stdout, '', 'no URL is printed');
    const next = port < 65535 ? `--port ${port + 1}, or ` : '';
    assert.equal(
      r.stderr,
      `lockstep: port ${port} on 127.0.0.1 is in use by another program. Choose another port: ${next}--port 0 ` +
        `for a free one.`,
    );
  } finally {
    await new Promise((resolve) => taken.close(resolve));
  }
});
