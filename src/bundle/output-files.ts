/**
 * The files a bundle is written to: `<out>`, or with volumes `<out>.001`, `<out>.002`, ...
 * (volume-header.ts). Each is written as `<name>.partial` (removed on failure and on an
 * interruption) and hashed as it goes; `commit` renames them all into place once the whole
 * bundle is written, removes what a previous write left that the new one does not replace
 * (more volumes, or the other form), and then writes the checksum file. On failure none of the
 * files is left.
 */
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { readdir, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Writable } from 'node:stream';
import { HashingTap } from '../digest/hashing-tap.js';
import { followFile, type FollowedHash } from '../digest/file-hash-worker.js';
import { writeFileAtomic } from '../fs/atomic-write.js';
import { removeOnInterrupt } from '../process/interrupt.js';
import { sidecarPath, sidecarText } from './sidecar.js';
import { volumePath } from './volume-header.js';

interface OutputFile {
  path: string;
  partial: string;
  tap: HashingTap;
  /** A single file is hashed on another thread as it is written (volumes: by their taps). */
  follow?: FollowedHash;
  done: Promise<void>;
  forget: () => void;
}

export interface WrittenFile {
  path: string;
  sha256: string;
  bytes: number;
}

export class BundleFiles {
  private readonly files: OutputFile[] = [];
  /** Every byte of every file, in order: the sha256 of the concatenation. */
  private readonly total = createHash('sha256');
  /** Files already moved into place by a commit that then failed: abort removes them too. */
  private readonly renamed: string[] = [];
  private forgetPlaced: () => void = () => undefined;
  private rejectFailed!: (err: unknown) => void;
  /** Rejects as soon as any output file fails; never resolves. */
  readonly failed = new Promise<never>((_, reject) => (this.rejectFailed = reject));

  /** @param volumes write `<out>.NNN` volumes (started with `next`) instead of `<out>` */
  constructor(
    readonly out: string,
    readonly volumes: boolean,
  ) {
    this.failed.catch(() => undefined);
    this.start();
  }

  /** The stream the current file's bytes go to. */
  current(): Writable {
    return this.files[this.files.length - 1]!.tap;
  }

  /** How many files have been started. */
  get count(): number {
    return this.files.length;
  }

  private start(): void {
    const path = this.volumes ? volumePath(this.out, this.files.length + 1) : this.out;
    const partial = `${path}.partial`;
    const forget = removeOnInterrupt(partial);
    // One file: its own hash is the bundle's, taken by a thread that follows the file as it
    // grows (the main thread is busy hashing downloads). Volumes: each tap hashes its volume
    // and feeds the whole set's hash.
    const tap = this.volumes ? new HashingTap(undefined, this.total) : new HashingTap(undefined, undefined, true);
    const done = pipeline(tap, createWriteStream(partial, { highWaterMark: 1024 * 1024 }));
    done.catch((err: unknown) => this.rejectFailed(err));
    this.files.push({ path, partial, tap, done, forget, ...(this.volumes ? {} : { follow: followFile(partial) }) });
  }

  /** Ends the current volume (waiting until it is on disk) and starts the next. */
  async next(): Promise<void> {
    const f = this.files[this.files.length - 1]!;
    f.tap.end();
    await f.done;
    this.start();
  }

  /** Ends the last file and moves every file into place, then writes the checksum file; resolves with each file and the sha256 of them all. */
  async commit(): Promise<{ files: WrittenFile[]; sha256: string }> {
    const last = this.files[this.files.length - 1]!;
    last.tap.end();
    await Promise.all(this.files.map((f) => f.done));
    // Hashed before the renames: the hashing thread reads the partial file by its name.
    const written: WrittenFile[] = [];
    for (const f of this.files) written.push({ path: f.path, sha256: f.follow ? await f.follow.finish(f.tap.bytes) : f.tap.hex(), bytes: f.tap.bytes });
    // The old checksum goes first: an interruption between the renames must not leave new
    // files beside the previous write's checksums.
    await rm(sidecarPath(this.out), { force: true });
    // Until the checksum file is written, an interruption removes the renamed files too: a set
    // must not be left half renamed.
    const unplace = this.files.map((f) => removeOnInterrupt(f.path));
    for (const f of this.files) {
      await rename(f.partial, f.path);
      this.renamed.push(f.path);
    }
    for (const f of this.files) f.forget();
    this.forgetPlaced = () => unplace.forEach((u) => u());
    await this.removeStale();
    const text = written.map((w) => sidecarText(w.path, w.sha256)).join('');
    try {
      await writeFileAtomic(sidecarPath(this.out), text, { what: 'checksum file' });
      this.forgetPlaced();
    } catch (err) {
      // Files beside a stale checksum would look damaged; without any, unverifiable. Leave neither.
      await Promise.all([...written.map((w) => rm(w.path, { force: true })), rm(sidecarPath(this.out), { force: true })]).catch(() => undefined);
      throw err;
    }
    return { files: written, sha256: this.volumes ? this.total.digest('hex') : written[0]!.sha256 };
  }

  /** Removes what an earlier write to the same name left: volumes past the new count, or the single file a set replaces (and the reverse). */
  private async removeStale(): Promise<void> {
    const keep = new Set(this.files.map((f) => basename(f.path)));
    const name = basename(this.out);
    const dir = dirname(this.out);
    const stale = (await readdir(dir).catch(() => [] as string[])).filter((n) => !keep.has(n) && (n === name || (n.startsWith(`${name}.`) && /^\d{3}$/.test(n.slice(name.length + 1)))));
    await Promise.all(stale.map((n) => rm(join(dir, n), { force: true })));
  }

  /** Destroys every stream and removes every partial file (after a failure). */
  async abort(): Promise<unknown> {
    for (const f of this.files) {
      f.tap.destroy();
      f.follow?.abandon();
    }
    const errors = await Promise.all(this.files.map((f) => f.done.then(() => undefined, (e: unknown) => e)));
    await Promise.all([...this.files.map((f) => f.partial), ...this.renamed].map((p) => rm(p, { force: true }).catch(() => undefined)));
    for (const f of this.files) f.forget();
    this.forgetPlaced();
    return errors.find((e) => e !== undefined);
  }
}
