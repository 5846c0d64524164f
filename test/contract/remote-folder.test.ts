import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { FolderRemote } from '../../src/remote/folder.js';
import { remoteContract } from './remote-contract.js';

remoteContract('folder', async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'lockstep-folder-remote-'));
  return {
    open: async (ns) => new FolderRemote('test', path.join(dir, ns)),
    stop: () => fs.rm(dir, { recursive: true, force: true }),
  };
});
