/**
 * Random access to a bundle without reading it through: a format-2 gzip bundle through its
 * table of contents (toc.ts), a plain tar (any OCI layout tar: ferry's `--compression none`,
 * Docker 25+ `docker save`) by walking its headers with seeks. Opening reads the footer, the
 * TOC and the small documents the interpretation needs (index.json, ferry.json, manifests,
 * indexes and configs, each checked against its digest as it is read); layers are read only
 * when opened, unverified: whoever streams them checks them (the copy engine, the registry
 * server). Archives this cannot index (older gzip bundles, legacy `docker save` with layer
 * links) give undefined: the caller reads them through once (reader.ts).
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open, stat, type FileHandle } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import { Readable } from 'node:stream';
import { createGunzip, gunzipSync } from 'node:zlib';
import pLimit from 'p-limit';
import { DigestMismatchError, FerryError } from '../errors.js';
import { checkEntryName, checkEntryType, BLOB_ENTRY } from './entry-name.js';
import { archiveError, JSON_DOCUMENT_LIMIT, SMALL_FILE_LIMIT, type ArchiveContents, type ArchiveFile } from './reader.js';
import { BUNDLE_DOCUMENTS, FERRY_JSON, INDEX_JSON, MANIFEST_JSON, type FerryMetadata } from './layout.js';
import { TAR_BLOCK, parseTarHeader, tarEntryLength } from './tar-header.js';
import { FOOTER_SIZE, TOC_ENTRY, parseToc, parseTocFooter, type TocEntry } from './toc.js';
import { STORED_READ_MIN, readRuns, storedRuns, type StoredRun } from './stored-runs.js';
import { findVolumeSet, setReader, setStream } from './volume-set.js';


async function readAll(s: AsyncIterable<Buffer>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of s) parts.push(c);
  return Buffer.concat(parts);
}

/**
 * A stream of the one `make` resolves with, passed on chunk for chunk (no copies, no generator):
 * for a source that needs some I/O before it is known. An error of `make` is the stream's.
 */
function deferred(make: () => Promise<Readable>): Readable {
  let src: Readable | undefined;
  const out = new Readable({
    construct(cb) {
      make().then((s) => {
        src = s;
        if (out.destroyed) {
          s.destroy();
          return cb();
        }
        s.on('data', (c: Buffer) => {
          if (!out.push(c)) s.pause();
        });
        s.once('end', () => out.push(null));
        s.once('error', (err) => out.destroy(err));
        s.pause();
        cb();
      }, cb);
    },
    read() {
      src!.resume();
    },
    destroy(err, cb) {
      src?.destroy();
      cb(err);
    },
  });
  return out;
}

export interface SeekableArchive {
  path: string;
  /** True for a gzip bundle (members), false for a plain tar. */
  gzip: boolean;
  /** Every entry (the TOC's, or the headers a plain tar walk found), the TOC entry itself included. */
  entries: readonly TocEntry[];
  /** Where the entries' bytes end in the file: the footer (gzip), the tar's end blocks (plain). */
  end: number;
  /** Every regular file, as the full reader gives them; a blob's digest is its name (checked when it is read). */
  contents: ArchiveContents;
  /**
   * Streams bytes [start, end] (inclusive) of an entry's data, unverified. `readSize`: bytes
   * per positioned read of a stored member (stored-runs.ts; default READ_SIZE).
   */
  open(name: string, start?: number, end?: number, opts?: { readSize?: number }): Readable;
  /** Reads a whole entry into memory and checks it against its name (blobs). */
  read(name: string): Promise<Buffer>;
}

const damaged = (path: string, why: string): FerryError =>
  new FerryError('BUNDLE_FORMAT', `${path}: ${why}`, { hint: 'the file is truncated or corrupted; copy it again and check it against its .sha256 file' });

/** Positioned reads of the bundle's bytes: one file, or a volume set's concatenation (volume-set.ts). */
interface Bytes {
  read(position: number, length: number): Promise<Buffer>;
  close(): Promise<void>;
}

function fileBytes(fh: FileHandle): Bytes {
  return {
    async read(position, length) {
      const buf = Buffer.alloc(length);
      let got = 0;
      while (got < length) {
        const { bytesRead } = await fh.read(buf, got, length - got, position + got);
        if (bytesRead === 0) break;
        got += bytesRead;
      }
      return buf.subarray(0, got);
    },
    close: () => fh.close(),
  };
}

/** Reads `length` bytes at `position`; throws when the file is shorter. */
async function readAt(fh: Bytes, position: number, length: number, path: string): Promise<Buffer> {
  const buf = await fh.read(position, length);
  if (buf.length < length) throw damaged(path, `the file ends early (wanted ${length} bytes at offset ${position})`);
  return buf;
}

/** The TOC of a format-2 gzip bundle, or undefined when the file has no ferry footer. */
async function gzipToc(fh: Bytes, size: number, path: string): Promise<{ entries: TocEntry[]; tocMember: number } | undefined> {
  if (size < FOOTER_SIZE + 20) return undefined;
  const tocMember = parseTocFooter(await readAt(fh, size - FOOTER_SIZE, FOOTER_SIZE, path));
  if (tocMember === undefined) return undefined;
  if (tocMember >= size - FOOTER_SIZE) throw damaged(path, 'the table of contents lies outside the file');
  const compressed = await readAt(fh, tocMember, size - FOOTER_SIZE - tocMember, path);
  let tar: Buffer;
  try {
    tar = gunzipSync(compressed, { maxOutputLength: JSON_DOCUMENT_LIMIT + 4 * TAR_BLOCK });
  } catch (err) {
    throw archiveError(path, err, TOC_ENTRY);
  }
  const h = parseTarHeader(tar, `${path}: ${TOC_ENTRY}`);
  if (h.name !== TOC_ENTRY || tar.length < TAR_BLOCK + h.size) throw damaged(path, `the footer does not point at ${TOC_ENTRY}`);
  const toc = parseToc(tar.subarray(TAR_BLOCK, TAR_BLOCK + h.size).toString('utf8'), path);
  for (const e of toc.entries) if (e.member >= tocMember) throw damaged(path, `${TOC_ENTRY} places "${e.name}" after the table of contents`);
  // The TOC itself starts its member (its tar offset is not needed, only the one within the member).
  return { entries: [...toc.entries, { name: TOC_ENTRY, size: h.size, offset: 0, member: tocMember, memberOffset: 0 }], tocMember };
}

/** The entries of a plain tar, by walking its headers (no data is read); undefined when it holds anything but regular files ferry can index. */
async function plainTarEntries(fh: Bytes, size: number, path: string): Promise<{ entries: TocEntry[]; end: number } | undefined> {
  const entries: TocEntry[] = [];
  let pos = 0;
  while (pos + TAR_BLOCK <= size) {
    const block = await readAt(fh, pos, TAR_BLOCK, path);
    if (block.every((b) => b === 0)) return { entries, end: pos };
    const h = parseTarHeader(block, `${path} at offset ${pos}`);
    const kind = checkEntryType(h.name, h.type === '\0' ? 'file' : tarType(h.type));
    if (kind === 'symlink') return undefined; // legacy docker save: layer links; the full reader resolves them
    if (kind === 'file') entries.push({ name: checkEntryName(h.name), size: h.size, offset: pos, member: pos, memberOffset: pos });
    else if (h.type !== '5') return undefined; // PAX or GNU long-name headers: leave them to the full reader
    pos += tarEntryLength(h.size);
  }
  throw damaged(path, 'the tar ends early (no end-of-archive blocks)');
}

function tarType(flag: string): string {
  return ({ '0': 'file', '1': 'link', '2': 'symlink', '3': 'character-device', '4': 'block-device', '5': 'directory', '6': 'fifo', '7': 'contiguous-file', x: 'pax-header', g: 'pax-global-header', L: 'gnu-long-path', K: 'gnu-long-link-path' } as Record<string, string>)[flag] ?? 'unknown';
}

/**
 * Opens `path` for random access, or resolves undefined when it cannot be indexed without a
 * full pass. Throws BUNDLE_FORMAT for a damaged table of contents or document, and
 * DigestMismatchError for a manifest or config that does not match its name.
 */
export async function openSeekable(path: string): Promise<SeekableArchive | undefined> {
  const set = await findVolumeSet(path);
  const st = set ?? (await stat(path));
  if (!set && !(st as Stats).isFile()) return undefined;
  const fh = set ? setReader(set) : fileBytes(await open(path, 'r'));
  const rangeStream = (start: number, end?: number): Readable =>
    set ? setStream(set, start, end) : createReadStream(path, { start, ...(end !== undefined ? { end } : {}), highWaterMark: 1024 * 1024 });
  let index: { entries: TocEntry[]; gzip: boolean; ends: Map<number, number>; end: number } | undefined;
  try {
    const magic = await readAt(fh, 0, Math.min(2, st.size), path);
    const gzip = magic[0] === 0x1f && magic[1] === 0x8b;
    if (gzip) {
      const t = await gzipToc(fh, st.size, path);
      if (t) {
        const starts = [...new Set(t.entries.map((e) => e.member)), st.size - FOOTER_SIZE].sort((a, b) => a - b);
        const ends = new Map(starts.slice(0, -1).map((s, i) => [s, starts[i + 1]!]));
        index = { entries: t.entries, gzip, ends, end: st.size - FOOTER_SIZE };
      }
    } else {
      const walked = await plainTarEntries(fh, st.size, path);
      if (walked) index = { entries: walked.entries, gzip, ends: new Map(), end: walked.end };
    }
  } finally {
    await fh.close();
  }
  if (!index) return undefined;
  const byName = new Map<string, TocEntry>();
  for (const e of index.entries) {
    const name = checkEntryName(e.name);
    if (byName.has(name)) throw new FerryError('BUNDLE_FORMAT', `bundle entry "${name}" appears twice`);
    if (name !== TOC_ENTRY && !BUNDLE_DOCUMENTS.has(name) && !BLOB_ENTRY.test(name)) return undefined; // not an OCI layout: the full reader knows more
    if (BUNDLE_DOCUMENTS.has(name) && e.size > JSON_DOCUMENT_LIMIT) throw new FerryError('BUNDLE_FORMAT', `bundle entry "${name}" is ${e.size} bytes, more than the ${JSON_DOCUMENT_LIMIT} allowed for it`);
    byName.set(name, e);
  }
  const { gzip, ends } = index;
  const runsCache = new Map<number, Promise<StoredRun[] | undefined>>();
  const runsOf = (member: number, end: number): Promise<StoredRun[] | undefined> => {
    let p = runsCache.get(member);
    if (!p) {
      p = storedRuns(path, member, end).then((runs) => {
        runsKnown.set(member, runs ?? null);
        return runs;
      });
      runsCache.set(member, p);
    }
    return p;
  };
  /** The runs of the members mapped so far (null: not a stored member). */
  const runsKnown = new Map<number, StoredRun[] | null>();
  /** Each stored entry's tar header, checked against the TOC (once it passed, not again). */
  const headers = new Map<string, Promise<void>>();
  const headerChecked = (e: TocEntry, runs: readonly StoredRun[]): Promise<void> => {
    let p = headers.get(e.name);
    if (!p) {
      const headerAt = e.offset - e.memberOffset;
      p = readAll(readRuns(path, runs, headerAt, headerAt + TAR_BLOCK)).then((tar) => {
        const h = parseTarHeader(tar, `${path}: entry "${e.name}"`);
        if (h.name !== e.name || h.size !== e.size) throw damaged(path, `the table of contents says "${e.name}" (${e.size} bytes) is here, but the tar header says "${h.name}" (${h.size} bytes)`);
      });
      p.catch(() => headers.delete(e.name));
      headers.set(e.name, p);
    }
    return p;
  };

  const openEntry = (name: string, start = 0, end?: number, opts: { readSize?: number } = {}): Readable => {
    const e = byName.get(name);
    if (!e) throw new FerryError('NOT_FOUND', `${path} holds no entry "${name}"`);
    const last = Math.min(end ?? e.size - 1, e.size - 1);
    if (!gzip) {
      if (last < start) return Readable.from([]);
      return rangeStream(e.offset + TAR_BLOCK + start, e.offset + TAR_BLOCK + last);
    }
    const memberEnd = ends.get(e.member) ?? index!.end;
    const inflate = (): AsyncGenerator<Buffer> => {
      const raw = rangeStream(e.member, memberEnd - 1);
      const inflated = raw.pipe(createGunzip({ chunkSize: 256 * 1024 }));
      raw.on('error', (err) => inflated.destroy(err));
      return entryBytes(inflated, e, start, last, path);
    };
    // A big blob in a stored member is read as it lies in the file (stored-runs.ts), no zlib.
    // (Not across the files of a volume set: those are inflated.)
    if (e.size < STORED_READ_MIN || set) return Readable.from(inflate(), { objectMode: false });
    const headerAt = e.offset - e.memberOffset;
    const from = headerAt + TAR_BLOCK + start;
    const to = last >= start ? headerAt + TAR_BLOCK + last + 1 : from;
    const mapError = (err: unknown): Error => archiveError(path, err, e.name);
    const readSize = opts.readSize !== undefined ? { readSize: opts.readSize } : {};
    const known = runsKnown.get(e.member);
    if (known === null) return Readable.from(inflate(), { objectMode: false });
    // Once the member's runs are mapped, the data is one stream of positioned reads
    // (stored-runs.ts), no generator layers; its tar header is checked once, before the first read.
    if (known) return readRuns(path, known, from, to, { before: () => headerChecked(e, known), mapError, ...readSize });
    // The first open of a member maps its runs first, then streams as above (or inflates).
    return deferred(async () => {
      const runs = await runsOf(e.member, memberEnd);
      if (!runs) return Readable.from(inflate(), { objectMode: false });
      return readRuns(path, runs, from, to, { before: () => headerChecked(e, runs), mapError, ...readSize });
    });
  };

  const readEntry = async (name: string): Promise<Buffer> => {
    const data = await readAll(openEntry(name));
    const m = BLOB_ENTRY.exec(name);
    if (m) {
      const got = `sha256:${createHash('sha256').update(data).digest('hex')}`;
      if (got !== `sha256:${m[1]}`) throw new DigestMismatchError(`bundle entry ${name}`, `sha256:${m[1]}`, got);
    }
    return data;
  };

  const files = new Map<string, ArchiveFile>();
  const small = new Map<string, Buffer>();
  for (const [name, e] of byName) {
    const m = BLOB_ENTRY.exec(name);
    files.set(name, { name, size: e.size, digest: m ? `sha256:${m[1]}` : '' });
  }
  for (const name of BUNDLE_DOCUMENTS) {
    if (!byName.has(name)) continue;
    const data = await readEntry(name);
    small.set(name, data);
    files.set(name, { name, size: data.length, digest: `sha256:${createHash('sha256').update(data).digest('hex')}` });
  }
  await readDocuments(small, byName, readEntry);
  return { path, gzip, entries: index.entries, end: index.end, contents: { files, small }, open: openEntry, read: readEntry };
}

/** The data bytes [start, last] of entry `e` from the inflated member that begins at `e.memberOffset`, after checking its header. */
async function* entryBytes(inflated: AsyncIterable<Buffer> & { destroy(): void }, e: TocEntry, start: number, last: number, path: string): AsyncGenerator<Buffer> {
  const headerAt = e.offset - e.memberOffset;
  const dataAt = headerAt + TAR_BLOCK;
  let pos = 0;
  let header: Buffer[] = [];
  let headerLen = 0;
  try {
    for await (const c of inflated) {
      const cEnd = pos + c.length;
      if (headerLen < TAR_BLOCK && cEnd > headerAt) {
        const part = c.subarray(Math.max(0, headerAt - pos), Math.min(c.length, dataAt - pos));
        header.push(part);
        headerLen += part.length;
        if (headerLen === TAR_BLOCK) {
          const h = parseTarHeader(Buffer.concat(header), `${path}: entry "${e.name}"`);
          if (h.name !== e.name || h.size !== e.size) throw damaged(path, `the table of contents says "${e.name}" (${e.size} bytes) is here, but the tar header says "${h.name}" (${h.size} bytes)`);
          header = [];
        }
      }
      const from = dataAt + start;
      const to = dataAt + last + 1;
      if (cEnd > from && pos < to) yield c.subarray(Math.max(0, from - pos), Math.min(c.length, to - pos));
      pos = cEnd;
      if (pos >= to) return;
    }
    if (last >= start) throw damaged(path, `entry "${e.name}" ends early`);
  } catch (err) {
    throw archiveError(path, err, e.name);
  } finally {
    inflated.destroy();
  }
}

/**
 * Reads every manifest, index and config reachable from index.json, manifest.json and
 * ferry.json (its referrers) into `small`, checked against their names. A missing or
 * oversized one is left out: the interpretation then reports it, as for any archive.
 */
async function readDocuments(small: Map<string, Buffer>, entries: ReadonlyMap<string, TocEntry>, read: (name: string) => Promise<Buffer>): Promise<void> {
  const limit = pLimit(8);
  const seen = new Set<string>();
  const parse = (buf: Buffer | undefined): unknown => {
    try {
      return buf ? JSON.parse(buf.toString('utf8')) : undefined;
    } catch {
      return undefined;
    }
  };
  const digestsIn = (doc: unknown): string[] => {
    const d = doc as { manifests?: { digest?: unknown }[]; config?: { digest?: unknown }; subject?: unknown } | undefined;
    const out: string[] = [];
    for (const m of Array.isArray(d?.manifests) ? d.manifests : []) if (typeof m?.digest === 'string') out.push(m.digest);
    if (typeof d?.config?.digest === 'string') out.push(d.config.digest);
    return out;
  };
  const visit = async (digest: string): Promise<void> => {
    const name = `blobs/${digest.replace(':', '/')}`;
    if (seen.has(name)) return;
    seen.add(name);
    const e = entries.get(name);
    if (!e || e.size > SMALL_FILE_LIMIT) return;
    const data = await limit(() => read(name));
    small.set(name, data);
    await Promise.all(digestsIn(parse(data)).map(visit));
  };
  const roots = digestsIn(parse(small.get(INDEX_JSON)));
  const docker = parse(small.get(MANIFEST_JSON)) as { Config?: unknown }[] | undefined;
  for (const d of Array.isArray(docker) ? docker : []) if (typeof d?.Config === 'string') roots.push(d.Config.replace(/^blobs\/sha256\//, 'sha256:'));
  const meta = parse(small.get(FERRY_JSON)) as FerryMetadata | undefined;
  for (const img of Array.isArray(meta?.images) ? meta.images : []) for (const r of img.referrers ?? []) roots.push(r.digest);
  await Promise.all(roots.filter((d) => /^sha256:[a-f0-9]{64}$/.test(d)).map(visit));
}
