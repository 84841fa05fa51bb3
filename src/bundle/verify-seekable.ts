/**
 * The one-pass checks of `verify` for a seekable bundle (seekable.ts), using both cores: a
 * worker thread hashes the file (for the `.sha256` sidecar) while the main thread reads each
 * gzip member on its own and hashes the entries in it. A big layer's stored member (level 0) is
 * read as it lies in the file, no zlib (stored-member.ts), its CRC32 checked by the thread that
 * hashes the file (file-hash-worker.ts); any other member is inflated. With --deep, gzip layers decompress on libuv's threads and are hashed on another
 * worker (gunzip-hash-worker.ts) while the reading goes on. It checks as much as the full reader
 * (reader.ts): the members tile the file with no gap or overlap, each holds exactly the tar bytes
 * of the entries the table of contents places in it (so no entry can hide between them), every
 * header is where the table says, and every blob hashes to its name.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { PassThrough } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { DigestMismatchError, FerryError } from '../errors.js';
import { BLOB_ENTRY } from './entry-name.js';
import { decodeErrorText, layerDiffId, sniffLayerCompression } from '../oci/layer-diff-id.js';
import { archiveError, type ArchiveContents } from './reader.js';
import { BUNDLE_DOCUMENTS } from './layout.js';
import type { SeekableArchive } from './seekable.js';
import { TAR_BLOCK, TAR_END, parseTarHeader, tarEntryLength } from './tar-header.js';
import { TOC_ENTRY, type TocEntry } from './toc.js';
import { STORED_READ_MIN, gzipDataStart } from './stored-runs.js';
import { NotStoredError, storedMemberBody } from './stored-member.js';
import { writeChunk } from '../util/streams.js';
import { checkStoredCrcs, type StoredMember } from '../digest/file-hash-worker.js';
import { GunzipHasher } from '../digest/gunzip-hash-worker.js';

/** Entries up to this size are kept in memory (the full reader keeps up to SMALL_FILE_LIMIT; these are what --policy reads). */
const KEEP_LIMIT = 1024 * 1024;

export interface SeekableVerifyResult {
  contents: ArchiveContents;
  /** Layer name -> its DiffID or why it does not decompress (deep). */
  diffIds: Map<string, string | { error: string }>;
}

/** Checks `s` (see the file comment); `onBytes` sees file bytes as they are read. Throws BUNDLE_FORMAT or DigestMismatchError for damage. */
export async function verifySeekable(s: SeekableArchive, deep: boolean, onBytes?: (n: number) => void): Promise<SeekableVerifyResult> {
  const diffIds = new Map<string, string | { error: string }>();
  const members = new Map<number, TocEntry[]>();
  for (const e of s.entries) members.set(e.member, [...(members.get(e.member) ?? []), e]);
  const starts = [...members.keys()].sort((a, b) => a - b);
  if (starts[0] !== 0) throw new FerryError('BUNDLE_FORMAT', `${s.path}: the table of contents does not start at the beginning of the file`);
  const endOf = (i: number): number => starts[i + 1] ?? s.end;
  // The members read from their stored blocks have their CRC32 checked by the thread that hashes
  // the file, in the same pass: the main thread then only hashes the blobs.
  const stored = new Map<number, StoredMember & { entry: string }>();
  if (s.gzip) {
    const fh = await open(s.path, 'r');
    try {
      for (const [i, start] of starts.entries()) {
        const inMember = members.get(start)!;
        if (inMember.length !== 1 || inMember[0]!.size < STORED_READ_MIN) continue;
        const from = await gzipDataStart(fh, start).catch(() => undefined);
        if (from !== undefined && from < endOf(i)) stored.set(start, { from, end: endOf(i), entry: inMember[0]!.name });
      }
    } finally {
      await fh.close();
    }
  }
  const fileHash = checkStoredCrcs(s.path, [...stored.values()].map(({ from, end }) => ({ from, end })));
  fileHash.catch(() => undefined);
  const run: Run = { deep, diffIds, digests: new Map(), pending: [], crcByThread: new Set(stored.keys()), readStored: new Set() };
  try {
    for (const [i, start] of starts.entries()) {
      const inMember = members.get(start)!.sort((a, b) => a.offset - b.offset);
      await checkMember(s, start, endOf(i), inMember, run, onBytes);
    }
    // The layers' decompression runs behind the reading: the last ones finish here.
    await Promise.all(run.pending);
  } finally {
    await run.gunzip?.close();
  }
  const { hex, crcs } = await fileHash;
  for (const [j, [start, m]] of [...stored.entries()].entries()) {
    if (!run.readStored.has(start) || crcs[j] === 'ok') continue; // an inflated member had zlib check its CRC
    const err = crcs[j] === 'crc' ? Object.assign(new Error('incorrect data check'), { code: 'Z_DATA_ERROR' }) : new Error(`the file changed while it was read (gzip member at offset ${start}: ${crcs[j]})`);
    throw archiveError(s.path, err, m.entry);
  }
  const files = new Map(s.contents.files);
  for (const [name, digest] of run.digests) files.set(name, { name, size: files.get(name)?.size ?? 0, digest });
  return { contents: { ...s.contents, files, fileSha256: hex }, diffIds };
}

/** What the checks of the members share: the results and, for --deep, the layers still decompressing. */
interface Run {
  deep: boolean;
  diffIds: Map<string, string | { error: string }>;
  digests: Map<string, string>;
  /** Settle when a layer's DiffID is in diffIds (never reject). */
  pending: Promise<void>[];
  /** The thread that hashes decompressed gzip layers, started with the first. */
  gunzip?: GunzipHasher;
  /** Members (file offsets) whose CRC32 the file-hashing thread checks. */
  crcByThread: ReadonlySet<number>;
  /** Members read from their stored blocks (the others were inflated). */
  readStored: Set<number>;
}

/** A layer being decompressed beside the digest check (--deep). */
interface DeepLayer {
  write(part: Buffer): Promise<void>;
  /** Ends the input; settles when the DiffID (or why there is none) is in diffIds. */
  end(): Promise<void>;
  /** Drops it: no result is recorded. */
  drop(): void;
}

/** A gzip layer: decompressed on libuv's threads and hashed on the GunzipHasher's. */
function gunzipLayer(run: Run, name: string): DeepLayer {
  const layer = (run.gunzip ??= new GunzipHasher()).layer();
  let dropped = false;
  return {
    write: (part) => layer.write(part),
    end: async () => {
      const r = await layer.end();
      if (dropped) return;
      run.diffIds.set(name, 'hex' in r ? `sha256:${r.hex}` : { error: `the layer does not decompress: ${decodeErrorText('gzip', r.failure)}` });
    },
    drop: () => {
      dropped = true;
      layer.abort();
    },
  };
}

/** Any other compressed layer (zstd), or one too short to sniff yet: layerDiffId on this thread. */
function streamedLayer(run: Run, name: string): DeepLayer {
  const feed = new PassThrough({ highWaterMark: 1024 * 1024 });
  let dropped = false;
  const done = layerDiffId(feed).then(
    (r) => void (dropped || run.diffIds.set(name, r.diffId)),
    (err: unknown) => void (dropped || run.diffIds.set(name, { error: err instanceof Error ? err.message : String(err) })),
  );
  return {
    // A copy: the body reuses its buffers, and the feed holds on to what it is given.
    write: (part) => writeChunk(feed, Buffer.from(part)).catch(() => undefined),
    end: () => {
      feed.end();
      return done;
    },
    drop: () => {
      dropped = true;
      feed.destroy();
    },
  };
}

/** One member (gzip) or one entry's bytes (plain tar): inflates it, checks its headers and length, hashes its entries. */
async function checkMember(s: SeekableArchive, start: number, end: number, entries: readonly TocEntry[], run: Run, onBytes?: (n: number) => void): Promise<void> {
  const memberOffset = entries[0]!.memberOffset;
  const isToc = entries.some((e) => e.name === TOC_ENTRY);
  const last = entries[entries.length - 1]!;
  const expected = last.offset - memberOffset + tarEntryLength(last.size) + (isToc && s.gzip ? TAR_END.length : 0);
  // A plain tar's header walk (seekable.ts) already placed every entry, directory entries
  // between them included: read each entry's own bytes.
  const stop = s.gzip ? end : start + expected;
  // A stored member (a big compressed layer) is read as it lies in the file, no zlib: its block
  // structure, CRC32 and ISIZE are checked by storedMemberBody, its length below, its content by
  // the sha256. When a block turns out not to be stored, the member is inflated after all.
  if (s.gzip && entries.length === 1 && last.size >= STORED_READ_MIN) {
    try {
      await walkMember(s, start, storedMemberBody(s.path, start, end, onBytes, !run.crcByThread.has(start)), expected, entries, run);
      run.readStored.add(start);
      return;
    } catch (err) {
      if (!(err instanceof NotStoredError)) throw err;
    }
  }
  const raw = createReadStream(s.path, { start, end: stop - 1, highWaterMark: 1024 * 1024 });
  raw.on('data', (c) => onBytes?.((c as Buffer).length));
  const body = s.gzip ? raw.pipe(createGunzip({ chunkSize: 1024 * 1024 })) : raw;
  raw.on('error', (err) => body.destroy(err));
  return walkMember(s, start, body, expected, entries, run);
}

/** Walks the tar bytes `body` of one member: checks its headers and length against the TOC, hashes its entries. */
async function walkMember(s: SeekableArchive, start: number, body: AsyncIterable<Buffer>, expected: number, entries: readonly TocEntry[], run: Run): Promise<void> {
  const { deep, diffIds, digests } = run;
  const memberOffset = entries[0]!.memberOffset;
  let pos = 0;
  let k = 0;
  let header: Buffer[] = [];
  let cur: { e: TocEntry; hash: ReturnType<typeof createHash>; seen: number; keep?: Buffer[]; wantDeep?: boolean; deep?: DeepLayer } | undefined;
  const where = (e: TocEntry): string => `${s.path}: entry "${e.name}"`;
  const finish = async (): Promise<void> => {
    if (!cur) return;
    const { e, hash } = cur;
    // Not waited for: the layer decompresses while the next members are read (verifySeekable waits).
    if (cur.deep) run.pending.push(cur.deep.end());
    const digest = `sha256:${hash.digest('hex')}`;
    // An uncompressed layer's DiffID is its digest: no second pass.
    if (cur.wantDeep && !cur.deep) diffIds.set(e.name, digest);
    const m = BLOB_ENTRY.exec(e.name);
    if (m && digest !== `sha256:${m[1]}`) throw new DigestMismatchError(`bundle entry ${e.name}`, `sha256:${m[1]}`, digest);
    digests.set(e.name, digest);
    if (cur.keep && !s.contents.small.has(e.name)) s.contents.small.set(e.name, Buffer.concat(cur.keep));
    cur = undefined;
    k++;
  };
  try {
    for await (const chunk of body) {
      let c = chunk;
      while (c.length) {
        const e = entries[k];
        const headerAt = e ? e.offset - memberOffset : expected;
        if (!e || pos + c.length <= headerAt) {
          // Padding between entries, or the tar's end blocks (checked by length only).
          const take = e ? Math.min(c.length, headerAt - pos) : c.length;
          pos += take;
          c = c.subarray(take);
          continue;
        }
        if (pos < headerAt) {
          const skip = headerAt - pos;
          pos += skip;
          c = c.subarray(skip);
          continue;
        }
        const dataAt = headerAt + TAR_BLOCK;
        if (pos < dataAt) {
          const part = c.subarray(0, dataAt - pos);
          header.push(Buffer.from(part)); // a copy: the body may reuse its buffers
          pos += part.length;
          c = c.subarray(part.length);
          if (pos === dataAt) {
            const h = parseTarHeader(Buffer.concat(header), where(e));
            header = [];
            if (h.name !== e.name || h.size !== e.size || (h.type !== '0' && h.type !== '\0')) throw new FerryError('BUNDLE_FORMAT', `${s.path}: the table of contents says "${e.name}" (${e.size} bytes) is at offset ${e.offset}, but the tar header there says "${h.name}" (${h.size} bytes)`);
            // Small blobs are kept, as the full reader keeps them (signature payloads for --policy).
            cur = { e, hash: createHash('sha256'), seen: 0, ...(e.size <= KEEP_LIMIT ? { keep: [] } : {}) };
            if (deep && BLOB_ENTRY.test(e.name) && !BUNDLE_DOCUMENTS.has(e.name)) cur.wantDeep = true;
            if (e.size === 0) await finish();
          }
          continue;
        }
        // Data of the current entry.
        const want = e.size - cur!.seen;
        const part = c.subarray(0, want);
        if (cur!.wantDeep && cur!.seen === 0) {
          // A compressed layer: decompress it beside the digest check.
          const kind = sniffLayerCompression(part);
          if (kind === 'gzip') cur!.deep = gunzipLayer(run, e.name);
          else if (kind !== 'none' || (part.length < 4 && e.size > part.length)) cur!.deep = streamedLayer(run, e.name);
        }
        cur!.hash.update(part);
        cur!.keep?.push(Buffer.from(part));
        if (cur!.deep) await cur!.deep.write(part);
        cur!.seen += part.length;
        pos += part.length;
        c = c.subarray(part.length);
        if (cur!.seen === e.size) await finish();
      }
    }
  } catch (err) {
    // (Leaving the loop closed the body: a stream is destroyed, a generator returns.)
    // A member that is not stored after all is inflated instead (checkMember): any layer decompression started here is dropped.
    if (err instanceof NotStoredError) {
      cur?.deep?.drop();
      throw err;
    }
    // Damage found at the member's end (its CRC32) is named after the member's last entry.
    throw archiveError(s.path, err, (entries[k] ?? entries[entries.length - 1])?.name);
  }
  if (k < entries.length || pos !== expected) {
    throw new FerryError('BUNDLE_FORMAT', `${s.path}: the gzip member at offset ${start} holds ${pos} bytes of tar, the table of contents places ${expected} there`, { hint: 'the file is damaged or was altered; copy it again and check it against its .sha256 file' });
  }
}
