/**
 * Damaged and hostile bundles for security tests, built in test code from a real ferry bundle:
 * the bundle is read entry by entry with tar-stream (after gunzip), changed, and packed again
 * (gzip with zlib). Headers are written exactly as given, so names such as `../x` or `/x`
 * and link entries reach the reader under test unchanged.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { gunzipSync, gzipSync } from 'node:zlib';
import { extract as tarExtract, pack as tarPack, type Header } from 'tar-stream';

export interface TarEntry {
  header: Header;
  data: Buffer;
}

/** Reads every entry of a tar file (gzip or plain, sniffed) into memory. */
export async function readTar(file: string): Promise<TarEntry[]> {
  let buf = readFileSync(file);
  if (buf[0] === 0x1f && buf[1] === 0x8b) buf = gunzipSync(buf);
  const extract = tarExtract();
  const entries: TarEntry[] = [];
  const reading = (async () => {
    for await (const entry of extract) {
      const chunks: Buffer[] = [];
      for await (const c of entry as AsyncIterable<Buffer>) chunks.push(c);
      entries.push({ header: { ...entry.header }, data: Buffer.concat(chunks) });
    }
  })();
  extract.end(buf);
  await reading;
  return entries;
}

/** Packs `entries` into a tar, gzip-compressed unless `gzip` is false. */
export async function packTar(entries: readonly TarEntry[], gzip = true): Promise<Buffer> {
  const pack = tarPack();
  const chunks: Buffer[] = [];
  const collecting = (async () => {
    for await (const c of pack as AsyncIterable<Buffer>) chunks.push(c);
  })();
  for (const e of entries) {
    const header: Header = { ...e.header, size: e.header.type === 'file' ? e.data.length : 0 };
    await new Promise<void>((resolve, reject) =>
      e.header.type === 'file'
        ? pack.entry(header, e.data, (err) => (err ? reject(err) : resolve()))
        : // Links and other bodiless entries finish as soon as their header is written.
          void pack.entry(header, (err) => (err ? reject(err) : resolve())),
    );
  }
  pack.finalize();
  await collecting;
  const tar = Buffer.concat(chunks);
  return gzip ? gzipSync(tar) : tar;
}

/** Writes `entries` to `file` (gzip unless `gzip` is false). */
export async function writeTar(file: string, entries: readonly TarEntry[], gzip = true): Promise<void> {
  writeFileSync(file, await packTar(entries, gzip));
}

/** A regular-file entry header like ferry's own (mode 0644, root, fixed time). */
export function fileHeader(name: string, overrides: Partial<Header> = {}): Header {
  return {
    name,
    size: 0,
    mode: 0o644,
    mtime: new Date('2026-01-01T00:00:00Z'),
    type: 'file',
    linkname: '',
    uid: 0,
    gid: 0,
    uname: '',
    gname: '',
    devmajor: 0,
    devminor: 0,
    ...overrides,
  };
}

/** `blobs/sha256/<hex>` for a "sha256:<hex>" digest. */
export function blobEntryName(digest: string): string {
  return `blobs/sha256/${digest.replace(/^sha256:/, '')}`;
}

/** Copy of `entries` with one byte of `name`'s content flipped (in the middle). Throws if absent. */
export function flipByte(entries: readonly TarEntry[], name: string): TarEntry[] {
  const i = entries.findIndex((e) => e.header.name === name);
  if (i < 0) throw new Error(`flipByte: no entry ${name}`);
  return entries.map((e, j) => {
    if (j !== i) return e;
    const data = Buffer.from(e.data);
    const at = Math.floor(data.length / 2);
    data[at] = data[at]! ^ 0x01;
    return { header: e.header, data };
  });
}

/** Copy of `entries` with `extra` inserted before entry number `at` (default: at the end). */
export function insertEntry(entries: readonly TarEntry[], extra: TarEntry, at = entries.length): TarEntry[] {
  return [...entries.slice(0, at), extra, ...entries.slice(at)];
}

/** Copy of `entries` with `name`'s content replaced. Throws if absent. */
export function replaceData(entries: readonly TarEntry[], name: string, data: Buffer): TarEntry[] {
  if (!entries.some((e) => e.header.name === name)) throw new Error(`replaceData: no entry ${name}`);
  return entries.map((e) => (e.header.name === name ? { header: e.header, data } : e));
}

/** The first `fraction` of `file`'s bytes written to `out` (a cut download). */
export function truncateFile(file: string, out: string, fraction: number): void {
  const buf = readFileSync(file);
  writeFileSync(out, buf.subarray(0, Math.floor(buf.length * fraction)));
}
