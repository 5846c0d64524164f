import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { LocalQueue } from '../../src/queue/local.js';
import { queueContract } from './queue-contract.js';

const root = await fs.mkdtemp(path.join(os.tmpdir(), 'lockstep-queue-'));
queueContract('local', async (place) => new LocalQueue(path.join(root, place)));
