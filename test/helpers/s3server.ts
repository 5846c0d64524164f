import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import S3rver from 's3rver';

export interface TestS3 {
  endpoint: string;
  port: number;
  bucket: string;
  accessKeyId: string;
  secretAccessKey: string;
  /** Remote config options (what `remote modify --local` would store) for this server. */
  options(): Record<string, string>;
  stop(): Promise<void>;
}

/**
 * An S3 API server on 127.0.0.1:<free port> (s3rver: the S3 REST API over a folder, with SigV4
 * signature checks, so wrong credentials are refused as S3 refuses them).
 */
export async function startS3(opts: { port?: number; directory?: string } = {}): Promise<TestS3> {
  const directory = opts.directory ?? (await fs.mkdtemp(path.join(os.tmpdir(), 'lockstep-s3-')));
  const bucket = 'lockstep-test';
  const server = new S3rver({
    address: '127.0.0.1',
    port: opts.port ?? 0,
    silent: true,
    directory,
    configureBuckets: [{ name: bucket }],
    vhostBuckets: false,
  });
  const info = (await server.run()) as { port: number };
  const endpoint = `http://127.0.0.1:${info.port}`;
  return {
    endpoint,
    port: info.port,
    bucket,
    accessKeyId: 'S3RVER',
    secretAccessKey: 'S3RVER',
    options: () => ({
      endpointurl: endpoint,
      access_key_id: 'S3RVER',
      secret_access_key: 'S3RVER',
      region: 'us-east-1',
    }),
    async stop() {
      await server.close();
      if (!opts.directory) await fs.rm(directory, { recursive: true, force: true });
    },
  };
}
