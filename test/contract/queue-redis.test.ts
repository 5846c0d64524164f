import { test } from 'node:test';
import { RedisQueue } from '../../src/queue/redis.js';
import { REDIS_BIN, startRedis } from '../helpers/redis.js';
import { queueContract } from './queue-contract.js';

if (!REDIS_BIN)
  test('queue contract (redis)', { skip: 'redis-server is not installed (apt-get install redis-server)' }, () => {});
else {
  const redis = await startRedis();
  queueContract(
    'redis (Debian redis-server on 127.0.0.1)',
    async (place) => new RedisQueue({ url: redis.url, prefix: place }),
  );
}
