import path from 'node:path';
import { LocalQueue } from '../../src/queue/local.js';
import { queueContract } from './queue-contract.js';
import { tempDir } from '../helpers/tmp.js';

const root = await tempDir('lockstep-queue-');
queueContract('local', async (place) => new LocalQueue(path.join(root, place)));
