/**
 * Reading a set of volumes (volume-header.ts) as the one bundle their concatenation is: given
 * the first volume (`NAME.001`) or the set's name (`NAME`, when no such file exists but
 * `NAME.001` does), finds the volumes beside it, checks that they belong together (one set
 * id, parts 1..n in order, each starting where the ones before it end, the last ending with
 * the bundle's footer) and presents them as one byte range: positioned reads for seekable.ts
 * and a concatenating stream for reader.ts. File offsets in the table of contents are offsets
 * in the concatenation.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open, readdir, readFile, stat, type FileHandle } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { FerryError, UsageError } from '../errors.js';
import { sidecarPath } from './sidecar.js';
import { FOOTER_SIZE, parseTocFooter } from './toc.js';
import { VOLUME_HEADER_MAX, parseVolumeHeader, volumePath, type VolumeHeader } from './volume-header.js';

export interface Volume {
  path: string;
  size: number;
  header: VolumeHeader;
}

export interface VolumeSet {
  /** The set's name: the volumes' path without `.NNN`. */
  base: string;
  volumes: Volume[];
  /** Bytes of all volumes. */
  size: number;
}

const VOLUME_NAME = /\.(\d{3})$/;

const setError = (base: string, why: string, hint = 'copy the missing or damaged volume again; `ferry verify NAME.NNN` checks one volume alone'): FerryError =>
  new FerryError('BUNDLE_FORMAT', `volume set ${basename(base)}: ${why}`, { hint });

/** The volume header at the start of the file `path`, or undefined when it has none; throws BUNDLE_FORMAT for a damaged one. */
export async function readVolumeHeader(path: string): Promise<{ header: VolumeHeader; length: number } | undefined> {
  let fh: FileHandle;
  try {
    fh = await open(path, 'r');
  } catch {
    return undefined;
  }
  try {
    const buf = Buffer.alloc(VOLUME_HEADER_MAX);
    const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
    return parseVolumeHeader(buf.subarray(0, bytesRead), path);
  } finally {
    await fh.close();
  }
}

const isFile = async (p: string): Promise<boolean> => (await stat(p).catch(() => undefined))?.isFile() ?? false;

/**
 * The volume set `path` names, or undefined when it names something else (a bundle file, a
 * missing file: the caller reports those). Throws a UsageError for a later volume (its set is
 * read from the first), BUNDLE_FORMAT when the set is incomplete or mixed.
 */
export async function findVolumeSet(path: string): Promise<VolumeSet | undefined> {
  let base: string;
  if (await isFile(path)) {
    if (!VOLUME_NAME.test(path)) return undefined;
    const h = await readVolumeHeader(path);
    if (!h) return undefined;
    base = path.replace(VOLUME_NAME, '');
    if (h.header.part !== 1) {
      throw new UsageError(`${path} is volume ${h.header.part} of the set ${basename(base)}: a set is read from its first volume`, `name ${basename(volumePath(base, 1))} (or ${basename(base)}); \`ferry verify ${basename(path)}\` checks this volume alone`);
    }
  } else if (!(await stat(path).catch(() => undefined)) && (await isFile(volumePath(path, 1)))) {
    base = path;
  } else {
    return undefined;
  }
  return readSet(base);
}

/** Reads and checks the volumes `base.001`, `base.002`, ... (see findVolumeSet). */
export async function readSet(base: string): Promise<VolumeSet> {
  const name = basename(base);
  const parts = (await readdir(dirname(base)))
    .filter((n) => n.startsWith(`${name}.`) && /^\d{3}$/.test(n.slice(name.length + 1)))
    .map((n) => Number(n.slice(name.length + 1)))
    .sort((a, b) => a - b);
  const volumes: Volume[] = [];
  let size = 0;
  for (const [i, part] of parts.entries()) {
    const path = volumePath(base, i + 1);
    if (part !== i + 1) throw setError(base, `${basename(path)} is missing (the set has ${basename(volumePath(base, part))})`);
    const h = await readVolumeHeader(path);
    if (!h) throw setError(base, `${basename(path)} is not a ferry volume (it has no volume header)`);
    const first = volumes[0]?.header;
    if (first && h.header.set !== first.set) throw setError(base, `${basename(path)} belongs to another set (set ${h.header.set.slice(0, 12)}, the first volume's is ${first.set.slice(0, 12)}): it was written by another save or export`, 'copy the volumes of one write together');
    if (h.header.part !== i + 1) throw setError(base, `${basename(path)} says it is volume ${h.header.part}: the volumes were renamed or mixed up`, `rename it to ${basename(volumePath(base, h.header.part))}, or copy the set again`);
    if (h.header.fileOffset !== size) throw setError(base, `${basename(path)} starts at byte ${h.header.fileOffset} of the set, but the volumes before it hold ${size} bytes: one of them is truncated or from another write`);
    const st = await stat(path);
    volumes.push({ path, size: st.size, header: h.header });
    size += st.size;
  }
  const last = volumes[volumes.length - 1];
  if (!last) throw setError(base, 'no volumes');
  const tail = Buffer.alloc(FOOTER_SIZE);
  const fh = await open(last.path, 'r');
  try {
    await fh.read(tail, 0, FOOTER_SIZE, Math.max(0, last.size - FOOTER_SIZE));
  } finally {
    await fh.close();
  }
  if (last.size < FOOTER_SIZE || parseTocFooter(tail) === undefined) {
    throw setError(base, `the set ends without the bundle's table of contents: ${basename(volumePath(base, volumes.length + 1))} is missing, or ${basename(last.path)} is truncated`);
  }
  return { base, volumes, size };
}

/** Where byte `pos` of the set lies: the volume's index and the offset in it. */
function locate(set: VolumeSet, pos: number): { index: number; offset: number } {
  let start = 0;
  for (const [index, v] of set.volumes.entries()) {
    if (pos < start + v.size) return { index, offset: pos - start };
    start += v.size;
  }
  return { index: set.volumes.length, offset: 0 };
}

/**
 * Streams bytes [start, end] (inclusive; default: to the end) of the set's concatenation;
 * `onChunk` sees each chunk with the index of the volume it came from.
 */
export function setStream(set: VolumeSet, start = 0, end = set.size - 1, onChunk?: (chunk: Buffer, volume: number) => void): Readable {
  const out = new PassThrough({ highWaterMark: 1024 * 1024 });
  void (async () => {
    let pos = start;
    while (pos <= end) {
      const { index, offset } = locate(set, pos);
      const v = set.volumes[index];
      if (!v) break;
      const last = Math.min(v.size - 1, offset + (end - pos));
      const part = createReadStream(v.path, { start: offset, end: last, highWaterMark: 1024 * 1024 });
      for await (const c of part as AsyncIterable<Buffer>) {
        onChunk?.(c, index);
        if (!out.write(c)) await new Promise<void>((resolve, reject) => {
          const fail = (): void => reject(new Error('the reader went away'));
          out.once('drain', () => (out.off('close', fail), resolve()));
          out.once('close', fail);
        });
      }
      pos += last - offset + 1;
    }
    out.end();
  })().catch((err: unknown) => out.destroy(err as Error));
  return out;
}

/** Positioned reads over the set: `length` bytes at `position` of the concatenation (fewer at its end). */
export function setReader(set: VolumeSet): { read(position: number, length: number): Promise<Buffer>; close(): Promise<void> } {
  const handles = new Map<number, Promise<FileHandle>>();
  const handle = (i: number): Promise<FileHandle> => {
    let h = handles.get(i);
    if (!h) handles.set(i, (h = open(set.volumes[i]!.path, 'r')));
    return h;
  };
  return {
    async read(position, length) {
      const parts: Buffer[] = [];
      let pos = position;
      let want = length;
      while (want > 0) {
        const { index, offset } = locate(set, pos);
        const v = set.volumes[index];
        if (!v) break;
        const n = Math.min(want, v.size - offset);
        const buf = Buffer.alloc(n);
        const { bytesRead } = await (await handle(index)).read(buf, 0, n, offset);
        parts.push(buf.subarray(0, bytesRead));
        if (bytesRead < n) break;
        pos += n;
        want -= n;
      }
      return Buffer.concat(parts);
    },
    async close() {
      await Promise.all([...handles.values()].map(async (h) => (await h.catch(() => undefined))?.close()));
    },
  };
}

/** The set's checksum file (`NAME.sha256`, one `sha256sum` line per volume): hex by volume file name. */
export async function readSetSidecar(base: string): Promise<Map<string, string> | undefined> {
  const text = await readFile(sidecarPath(base), 'utf8').catch(() => undefined);
  if (text === undefined) return undefined;
  const lines = new Map<string, string>();
  for (const line of text.split('\n')) {
    const m = /^([a-f0-9]{64}) [ *](.+)$/.exec(line);
    if (m) lines.set(m[2]!, m[1]!);
  }
  return lines;
}

/** The checksum-file name of volume `path` (for messages). */
export const setSidecarName = (base: string): string => basename(sidecarPath(base));

/** The path of a volume's sibling volume `part`. */
export const siblingVolume = (path: string, part: number): string => volumePath(path.replace(VOLUME_NAME, ''), part);

/** `path` without its `.NNN`. */
export const volumeBase = (path: string): string => path.replace(VOLUME_NAME, '');


/**
 * Whether every volume of `set` still is the file that was written: each hashes to its line
 * of the set's checksum file. Resolves with the sha256 of the concatenation and its size when
 * they all do, with a reason for people naming the first volume that does not.
 */
export async function checkSetSidecar(set: VolumeSet): Promise<{ ok: true; sha256: string; bytes: number } | { ok: false; why: string }> {
  const lines = await readSetSidecar(set.base);
  if (!lines) return { ok: false, why: `${set.base} has no checksum file ${setSidecarName(set.base)}` };
  const total = createHash('sha256');
  for (const [i, v] of set.volumes.entries()) {
    const want = lines.get(basename(v.path));
    const hash = createHash('sha256');
    try {
      for await (const c of createReadStream(v.path, { highWaterMark: 1024 * 1024 }) as AsyncIterable<Buffer>) {
        hash.update(c);
        total.update(c);
      }
    } catch {
      return { ok: false, why: `${v.path} cannot be read` };
    }
    const got = hash.digest('hex');
    if (got !== want) return { ok: false, why: `${v.path} (volume ${i + 1}) does not match its line in ${setSidecarName(set.base)} (it was changed or damaged after it was written)` };
  }
  if (lines.size !== set.volumes.length) return { ok: false, why: `${setSidecarName(set.base)} lists ${lines.size} volumes, ${set.volumes.length} are there` };
  return { ok: true, sha256: total.digest('hex'), bytes: set.size };
}

/** Bytes of the bundle `path` names (a volume set's: all its volumes), or undefined when there is none to measure. */
export async function bundleSize(path: string): Promise<number | undefined> {
  const set = await findVolumeSet(path).catch(() => undefined);
  return set?.size ?? (await stat(path).catch(() => undefined))?.size;
}

/** The volumes of `set` that do not hash to their line of the set's checksum file (none when it has no checksum file). */
export async function mismatchedVolumes(set: VolumeSet): Promise<Volume[]> {
  const lines = await readSetSidecar(set.base);
  if (!lines) return [];
  const out: Volume[] = [];
  for (const v of set.volumes) {
    const hash = createHash('sha256');
    try {
      for await (const c of createReadStream(v.path, { highWaterMark: 1024 * 1024 }) as AsyncIterable<Buffer>) hash.update(c);
    } catch {
      out.push(v);
      continue;
    }
    if (lines.get(basename(v.path)) !== hash.digest('hex')) out.push(v);
  }
  return out;
}
