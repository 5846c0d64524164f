/**
 * How long after a file's or folder's mtime a change to it could still leave the same mtime: the timestamp
 * granularity, generously (Linux takes file times from a clock that ticks every few ms). Whole-second
 * timestamps suggest a coarse file system (FAT has 2 s). What was read within this window of its mtime is
 * not remembered by its stamp (git's "racy clean" rule): the stat cache's files and listings, and the
 * folder listings kept between commands (dir-listings.ts).
 */
export function racyWindow(mtimeMs: number): number {
  return mtimeMs % 1000 === 0 ? 2000 : 100;
}
