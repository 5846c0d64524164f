import { SshRemote } from '../../src/remote/ssh.js';
import { S3Remote } from '../../src/remote/s3.js';
import type { RemoteFixture } from '../contract/remote-contract.js';
import { freePort, startProxy } from './net.js';
import { sshdUnavailable, startSshd } from './sshd.js';
import { startS3, type TestS3 } from './s3server.js';
import { startVersity, versitygwUnavailable } from './versitygw.js';

/** SSH remotes through a cuttable proxy in front of a real sshd, so tests can drop connections. */
export async function sshFixture(): Promise<RemoteFixture | string> {
  const why = sshdUnavailable();
  if (why) return why;
  const sshd = await startSshd();
  const proxy = await startProxy(sshd.port);
  const deadPort = await freePort();
  const spec = (ns: string, port: number, keyfile: string) => ({
    host: '127.0.0.1',
    port,
    user: sshd.user,
    root: `${sshd.root}/${ns}`,
    keyfile,
    channels: 4,
    timeoutMs: 10_000,
  });
  return {
    open: async (ns) => new SshRemote('test', spec(ns, proxy.port, sshd.keyfile)),
    openUnreachable: async () => new SshRemote('test', spec('x', deadPort, sshd.keyfile)),
    openWithWrongCredentials: async (ns) => new SshRemote('test', spec(ns, sshd.port, sshd.wrongKeyfile)),
    dropConnections: () => proxy.cut(),
    afterUpstreamBytes: (b, fn) => proxy.onUpstreamBytes(b, fn),
    stop: async () => {
      await proxy.close();
      await sshd.stop();
    },
  };
}

/**
 * S3 remotes through a cuttable proxy in front of versitygw, the production S3 gateway; skipped when it is not built.
 */
export async function versityFixture(): Promise<RemoteFixture | string> {
  const why = versitygwUnavailable();
  return why ?? s3Fixture(startVersity);
}

/**
 * S3 remotes through a cuttable proxy in front of an S3 server (s3rver by default); small multipart threshold to
 * exercise it.
 */
export async function s3Fixture(start: () => Promise<TestS3> = startS3): Promise<RemoteFixture | string> {
  const s3 = await start();
  const proxy = await startProxy(s3.port);
  const deadPort = await freePort();
  const spec = (ns: string, port: number) => ({
    bucket: s3.bucket,
    prefix: `prefix/${ns}`,
    endpoint: `http://127.0.0.1:${port}`,
    region: 'us-east-1',
    accessKeyId: s3.accessKeyId,
    secretAccessKey: s3.secretAccessKey,
    forcePathStyle: true,
    multipartThreshold: 6 * 1024 * 1024,
    partSize: 5 * 1024 * 1024,
    maxSockets: 16,
    // several pages even for the suite's small listings
    listPageSize: 7,
  });
  return {
    open: async (ns) => new S3Remote('test', spec(ns, proxy.port)),
    openUnreachable: async () => new S3Remote('test', spec('x', deadPort)),
    openWithWrongCredentials: async (ns) => new S3Remote('test', { ...spec(ns, s3.port), accessKeyId: 'NOT-A-KEY' }),
    dropConnections: () => proxy.cut(),
    afterUpstreamBytes: (b, fn) => proxy.onUpstreamBytes(b, fn),
    stop: async () => {
      await proxy.close();
      await s3.stop();
    },
  };
}
