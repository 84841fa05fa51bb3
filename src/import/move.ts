/**
 * Moving a bundle and its sidecar out of the drop directory (into done/ or failed/). A move is
 * a rename; across file systems (EXDEV) the file is copied to a temporary name, flushed,
 * checked against the original (size and sha256), renamed into place, and only then is the
 * original removed. The bundle moves first, its sidecar second: a crash between the two leaves
 * a sidecar alone, which the next run finishes moving (its hash is in the journal).
 *
 * A volume set moves as one: one free name for the whole set, its checksum file written there
 * first (naming the volumes as they are called there), then the volumes part by part, then the
 * checksum file in drop removed. A crash in between leaves the same checksum file in both
 * places and each volume in one of them, which the next run recognises and finishes
 * (drop.ts, unfinishedMove).
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { copyFile, mkdir, open, readdir, readFile, rename, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { FerryError } from '../errors.js';
import { ioError } from '../fs/io-error.js';
import { removeOnInterrupt } from '../process/interrupt.js';
import { writeFileAtomic } from '../fs/atomic-write.js';

async function sha256Of(path: string): Promise<string> {
  const h = createHash('sha256');
  await pipeline(createReadStream(path), async function* (src: AsyncIterable<Buffer>) {
    for await (const c of src) h.update(c);
    yield* [];
  });
  return h.digest('hex');
}

const exists = (p: string): Promise<boolean> => stat(p).then(() => true, () => false);

/** Renames `from` to `to`, copying and checking across file systems. Throws an IO FerryError. */
export async function moveFile(from: string, to: string): Promise<void> {
  try {
    await rename(from, to);
    return;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EXDEV') throw ioError(`moving ${from} to`, to, err);
  }
  const tmp = `${to}.${process.pid}.partial`;
  const forget = removeOnInterrupt(tmp);
  try {
    await copyFile(from, tmp);
    const fh = await open(tmp, 'r+');
    await fh.sync().finally(() => fh.close());
    const [a, b] = await Promise.all([sha256Of(from), sha256Of(tmp)]);
    if (a !== b) throw new FerryError('IO', `moving ${from} to ${to}: the copy does not match the original (sha256 ${b.slice(0, 12)}, expected ${a.slice(0, 12)})`, { hint: 'check the disk holding that directory; the original was left in place' });
    await rename(tmp, to);
    await rm(from);
  } catch (err) {
    await rm(tmp, { force: true }).catch(() => undefined);
    throw ioError(`moving ${from} across file systems to`, to, err);
  } finally {
    forget();
  }
}

/**
 * The name a file gets in `dir`: its own, or with `~N` before the extension when that name is
 * taken (a bundle of the same name but other content, imported or rejected before).
 */
export async function freeName(dir: string, name: string): Promise<string> {
  if (!(await exists(join(dir, name)))) return name;
  const m = /^(.*?)(\.tar\.gz|\.tgz|\.tar)?$/.exec(name)!;
  for (let n = 1; ; n++) {
    const candidate = `${m[1]}~${n}${m[2] ?? ''}`;
    if (!(await exists(join(dir, candidate))) && !(await exists(join(dir, `${candidate}.sha256`)))) return candidate;
  }
}

export interface Moved {
  /** Where the bundle is now. */
  bundle: string;
  /** Where its sidecar is now, if it had one. */
  sidecar?: string;
}

/**
 * Moves `bundle` (and `sidecar`) into `dir`, creating it. When the name is taken the bundle
 * gets a free one and the sidecar is rewritten to name it (`sha256sum -c` still works).
 * `touch` sets the bundle's modification time to now (done/ is pruned by it). Throws IO.
 */
export async function moveBundle(bundle: string, sidecar: string | undefined, sidecarHex: string | undefined, dir: string, touch = false): Promise<Moved> {
  await mkdir(dir, { recursive: true }).catch((err: unknown) => {
    throw ioError('creating directory', dir, err);
  });
  const name = await freeName(dir, basename(bundle));
  const to = join(dir, name);
  await moveFile(bundle, to);
  if (touch) {
    const now = new Date();
    await utimes(to, now, now).catch(() => undefined);
  }
  if (!sidecar) return { bundle: to };
  const sideTo = `${to}.sha256`;
  if (name === basename(bundle) || !sidecarHex) await moveFile(sidecar, sideTo);
  else {
    await writeFile(sideTo, `${sidecarHex}  ${name}\n`).catch((err: unknown) => {
      throw ioError('writing checksum file', sideTo, err);
    });
    await rm(sidecar, { force: true });
  }
  return { bundle: to, sidecar: sideTo };
}

/** The checksum-file text of the set `name` (lines: volume file name, hex) when it is called `there`. */
export const setSidecarText = (name: string, lines: readonly (readonly [string, string])[], there: string): string =>
  lines.map(([n, h]) => `${h}  ${n.startsWith(`${name}.`) ? `${there}${n.slice(name.length)}` : n}\n`).join('');

/**
 * A name for a set in `dir`: its own, or `~N` before the extension, free when no file of that
 * name, no volume of it is there, and no checksum file but one with `text` (the same set's,
 * written by a run stopped before it moved a volume).
 */
async function freeSetName(dir: string, name: string, lines: readonly (readonly [string, string])[]): Promise<string> {
  const names = new Set(await readdir(dir));
  const m = /^(.*?)(\.tar\.gz|\.tgz|\.tar)?$/.exec(name)!;
  for (let n = 0; ; n++) {
    const candidate = n === 0 ? name : `${m[1]}~${n}${m[2] ?? ''}`;
    if (names.has(candidate) || [...names].some((f) => f.startsWith(`${candidate}.`) && /^\d{3}$/.test(f.slice(candidate.length + 1)))) continue;
    if (names.has(`${candidate}.sha256`) && (await readFile(join(dir, `${candidate}.sha256`), 'utf8').catch(() => '')) !== setSidecarText(name, lines, candidate)) continue;
    return candidate;
  }
}

export interface MovedSetFiles {
  /** The set's path there (`dir/NAME`, without `.NNN`). */
  base: string;
  volumes: string[];
  sidecar: string;
}

/**
 * Moves the set `name` whose volumes (in part order) are `volumes` and whose checksum file is
 * `sidecar` (`lines`: volume file name, hex) into `dir` as one, under one free name (`into`: a
 * name already chosen by a run that was stopped mid-move). `touch` sets the volumes'
 * modification time to now. Throws IO.
 */
export async function moveSet(name: string, volumes: readonly string[], sidecar: string, lines: readonly (readonly [string, string])[], dir: string, touch = false, into?: string): Promise<MovedSetFiles> {
  await mkdir(dir, { recursive: true }).catch((err: unknown) => {
    throw ioError('creating directory', dir, err);
  });
  const there = into ?? (await freeSetName(dir, name, lines));
  const text = setSidecarText(name, lines, there);
  const sideTo = join(dir, `${there}.sha256`);
  await writeFileAtomic(sideTo, text, { what: 'the checksum file' });
  const now = new Date();
  const moved: string[] = [];
  for (const v of volumes) {
    const to = join(dir, `${there}${basename(v).slice(name.length)}`);
    await moveFile(v, to);
    if (touch) await utimes(to, now, now).catch(() => undefined);
    moved.push(to);
  }
  await rm(sidecar, { force: true });
  return { base: join(dir, there), volumes: moved, sidecar: sideTo };
}
