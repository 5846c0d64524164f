/**
 * One command's folder listings (readdir with entry types), each read once and shared by the walks that
 * run while a workspace opens: the pipeline-file walk (config/collect.ts) and the `.dvc` walk
 * (dvcfile/collect.ts) both enter every folder that is not an output, so a data folder that is only a
 * dependency (60,000 files in the engine benchmark) was listed twice per command. Short-lived by design:
 * the owner drops it once both walks are done, so no listing outlives the moment it describes.
 */
import { readdirSync, type Dirent } from 'node:fs';

export class DirListings {
  private readonly read = new Map<string, Dirent[]>();

  /** readdirSync(abs, { withFileTypes: true }), from memory when this folder was listed already; throws as it does. */
  list(abs: string): Dirent[] {
    let entries = this.read.get(abs);
    if (entries === undefined) {
      entries = readdirSync(abs, { withFileTypes: true });
      this.read.set(abs, entries);
    }
    return entries;
  }

  /** How many folders are held (tests). */
  size(): number {
    return this.read.size;
  }

  clear(): void {
    this.read.clear();
  }
}

/** A folder's entries, through `listings` when given. */
export const listDir = (abs: string, listings?: DirListings): Dirent[] =>
  listings ? listings.list(abs) : readdirSync(abs, { withFileTypes: true });
