import { createReadStream, promises as fs } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsCommand,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
  type CompletedPart,
} from '@aws-sdk/client-s3';
import { fromNodeProviderChain } from '@aws-sdk/credential-providers';
import pLimit from 'p-limit';
import { isTempName } from './keys.js';
import { RemoteNotFound, type Remote } from './types.js';

export interface S3Spec {
  bucket: string;
  /** Key prefix inside the bucket, without leading or trailing '/'. */
  prefix: string;
  endpoint?: string;
  region: string;
  profile?: string;
  accessKeyId?: string;
  secretAccessKey?: string;
  sessionToken?: string;
  forcePathStyle: boolean;
  /** Files above this size go up as a multipart upload (completed only when every part is in). */
  multipartThreshold: number;
  partSize: number;
  maxSockets: number;
  /** Keys per list request (S3's maximum, 1,000, unless a test wants many pages). */
  listPageSize?: number;
}

export const DEFAULT_MULTIPART_THRESHOLD = 64 * 1024 * 1024;
export const DEFAULT_PART_SIZE = 16 * 1024 * 1024;

const quiet = () => {};
const SILENT = { trace: quiet, debug: quiet, info: quiet, warn: quiet, error: quiet };

const isNotFound = (e: unknown): boolean => {
  const x = e as { name?: string; $metadata?: { httpStatusCode?: number } };
  return x?.name === 'NoSuchKey' || x?.name === 'NotFound' || x?.$metadata?.httpStatusCode === 404;
};

/**
 * S3 and S3-compatible remote. A PUT is atomic on S3 (the object appears whole or not at all); large
 * files use a multipart upload that is aborted on failure, so no partial object is ever visible.
 * Credentials come from the config (local file) or the standard AWS chain, and are never printed.
 */
export class S3Remote implements Remote {
  readonly kind = 's3' as const;
  readonly display: string;
  private readonly client: S3Client;

  constructor(
    readonly name: string,
    private readonly spec: S3Spec,
  ) {
    // the SDK would print a multi-line Node-version notice on Node 20 (supported by lockstep)
    process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
    const at = spec.endpoint ? ` at ${spec.endpoint}` : '';
    this.display = `s3://${spec.bucket}${spec.prefix ? `/${spec.prefix}` : ''}${at}`;
    // concurrency is bounded by the transfer layer; requests queued inside the agent would count
    // against the connection timeout, so the agent itself does not limit
    const agentOpts = { keepAlive: true, maxSockets: Math.max(256, spec.maxSockets) };
    this.client = new S3Client({
      region: spec.region,
      endpoint: spec.endpoint,
      forcePathStyle: spec.forcePathStyle,
      // one retry policy for every remote lives in the transfer layer
      maxAttempts: 1,
      // the core never prints: the SDK would warn on the console about failed streaming uploads
      logger: SILENT,
      // S3-compatible servers often lack the newer streaming checksums; ask for them only when S3 requires them
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      credentials:
        spec.accessKeyId && spec.secretAccessKey
          ? { accessKeyId: spec.accessKeyId, secretAccessKey: spec.secretAccessKey, sessionToken: spec.sessionToken }
          : fromNodeProviderChain(spec.profile ? { profile: spec.profile } : {}),
      requestHandler: {
        httpAgent: new http.Agent(agentOpts),
        httpsAgent: new https.Agent(agentOpts),
        connectionTimeout: 10_000,
        requestTimeout: 120_000,
      },
    });
  }

  private full(key: string): string {
    return this.spec.prefix ? `${this.spec.prefix}/${key}` : key;
  }

  async exists(key: string): Promise<boolean> {
    try {
      await this.client.send(new HeadObjectCommand({ Bucket: this.spec.bucket, Key: this.full(key) }));
      return true;
    } catch (e) {
      if (isNotFound(e)) return false;
      throw e;
    }
  }

  async *list(prefix: string): AsyncIterable<string> {
    const strip = this.spec.prefix ? this.spec.prefix.length + 1 : 0;
    // ListObjects (v1) paged by Marker: the same cost as v2 on S3, and understood by every
    // S3-compatible server (s3rver on OpenSSL 3 fails to make v2 continuation tokens)
    let marker: string | undefined;
    for (;;) {
      const page = await this.client.send(
        new ListObjectsCommand({
          Bucket: this.spec.bucket,
          Prefix: this.full(prefix),
          Marker: marker,
          MaxKeys: this.spec.listPageSize ?? 1000,
        }),
      );
      const contents = page.Contents ?? [];
      for (const obj of contents) {
        const key = obj.Key?.slice(strip);
        if (key && !isTempName(key)) yield key;
      }
      const last = contents[contents.length - 1]?.Key;
      if (!page.IsTruncated || !last) return;
      marker = last;
    }
  }

  async upload(localPath: string, key: string, onBytes?: (n: number) => void): Promise<void> {
    const size = (await fs.stat(localPath)).size;
    if (size > this.spec.multipartThreshold) {
      await this.uploadMultipart(localPath, key, size, onBytes);
      return;
    }
    await this.client.send(
      new PutObjectCommand({
        Bucket: this.spec.bucket,
        Key: this.full(key),
        Body: createReadStream(localPath),
        ContentLength: size,
      }),
    );
    onBytes?.(size);
  }

  private async uploadMultipart(
    localPath: string,
    key: string,
    size: number,
    onBytes?: (n: number) => void,
  ): Promise<void> {
    const Bucket = this.spec.bucket;
    const Key = this.full(key);
    // S3 allows at most 10,000 parts
    const partSize = Math.max(this.spec.partSize, Math.ceil(size / 10_000));
    const { UploadId } = await this.client.send(new CreateMultipartUploadCommand({ Bucket, Key }));
    try {
      const limit = pLimit(4);
      const count = Math.ceil(size / partSize);
      const parts = await Promise.all(
        Array.from({ length: count }, (_, i) =>
          limit(async (): Promise<CompletedPart> => {
            const start = i * partSize;
            const end = Math.min(size, start + partSize);
            const res = await this.client.send(
              new UploadPartCommand({
                Bucket,
                Key,
                UploadId,
                PartNumber: i + 1,
                ContentLength: end - start,
                Body: createReadStream(localPath, { start, end: end - 1 }),
              }),
            );
            onBytes?.(end - start);
            return { ETag: res.ETag, PartNumber: i + 1 };
          }),
        ),
      );
      await this.client.send(
        new CompleteMultipartUploadCommand({ Bucket, Key, UploadId, MultipartUpload: { Parts: parts } }),
      );
    } catch (e) {
      await this.client.send(new AbortMultipartUploadCommand({ Bucket, Key, UploadId })).catch(() => {});
      throw e;
    }
  }

  async read(key: string): Promise<Readable> {
    try {
      const res = await this.client.send(new GetObjectCommand({ Bucket: this.spec.bucket, Key: this.full(key) }));
      if (!(res.Body instanceof Readable)) throw new Error(`unexpected body type for ${key}`);
      return res.Body;
    } catch (e) {
      if (isNotFound(e)) throw new RemoteNotFound(key);
      throw e;
    }
  }

  async remove(key: string): Promise<void> {
    await this.client.send(new DeleteObjectCommand({ Bucket: this.spec.bucket, Key: this.full(key) }));
  }

  async close(): Promise<void> {
    this.client.destroy();
  }
}
