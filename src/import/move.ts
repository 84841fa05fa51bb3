/**
 * Moving a bundle and its sidecar out of the drop directory (into done/ or failed/). A move is
 * a rename; across file systems (EXDEV) the file is copied to a temporary name, flushed,
 * checked against the original (size and sha256), renamed into place, and only then is the
 * original removed. The bundle moves first, its sidecar second: a crash between the two leaves
 * a sidecar alone, which the next run finishes moving (its hash is in the journal).
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { copyFile, mkdir, open, rename, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { FerryError } from '../errors.js';
import { ioError } from '../fs/io-error.js';
import { removeOnInterrupt } from '../process/interrupt.js';

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
