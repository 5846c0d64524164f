import type { Md5 } from '../hash/types.js';

/**
 * pipeline.lock in dvc.lock's format (schema '2.0'):
 *
 * schema: '2.0'
 * stages:
 *   train:
 *     cmd: node train.js
 *     deps:
 *     - path: data/prepared
 *       hash: md5
 *       md5: 0123….dir
 *       size: 123
 *       nfiles: 3
 *     params:
 *       params.yaml:
 *         train.lr: 0.001
 *     outs:
 *     - path: models/model
 *       hash: md5
 *       md5: …
 *       size: …
 */
export interface LockedPath {
  path: string;
  hash: 'md5';
  /** Checked and branded when a lock file is read (`lockFromData` in lockfile.ts). */
  md5: Md5;
  size: number;
  nfiles?: number;
}

export interface LockedStage {
  /** A single command as a string, several as a list (as in dvc.lock). */
  cmd: string | string[];
  deps?: LockedPath[];
  params?: Record<string, Record<string, unknown>>;
  outs?: LockedPath[];
}

export interface LockFile {
  schema: '2.0';
  stages: Record<string, LockedStage>;
}
