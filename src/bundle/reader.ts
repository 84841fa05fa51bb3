/**
 * Reads a bundle or image archive in one streaming pass: sniffs the outer compression (gzip or
 * plain tar), walks the tar entries, rejects hostile ones (entry-name.ts), hashes every regular
 * file and hands its bytes to a consumer. Small JSON-like files are kept in memory for the
 * interpretation step. Nothing is written to disk by the reader itself.
 */
import { createHash, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { Readable, Transform } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { extract as tarExtract } from 'tar-stream';
import { DigestMismatchError, FerryError, describe } from '../errors.js';
import { checkEntryName, checkEntryType, checkLayerLink, BLOB_ENTRY } from './entry-name.js';
import { pipeTo, writeChunk } from '../util/streams.js';
import { BUNDLE_DOCUMENTS } from './layout.js';
import { findVolumeSet, setStream } from './volume-set.js';

/** Files up to this size are kept in memory (manifests, configs, JSON documents). */
export const SMALL_FILE_LIMIT = 4 * 1024 * 1024;
/** The known JSON documents may not exceed this. */
export const JSON_DOCUMENT_LIMIT = 8 * 1024 * 1024;

export interface ArchiveFile {
  name: string;
  size: number;
  /** sha256 of the content, as computed while reading. */
  digest: string;
  /** Set for a layer link (docker save, skopeo): the name of the file it stands for. */
  aliasOf?: string;
}

export interface ReadOptions {
  /** Also hash the archive file itself (for the .sha256 sidecar check). */
  hashFile?: boolean;
  /** Stop before an entry with this name when it returns true (ls reads only the head). */
  stopBefore?: (name: string, contents: ArchiveContents) => boolean;
  /** Called with the number of archive-file bytes read so far, chunk by chunk (progress). */
  onBytes?: (n: number) => void;
  /** Which small files to keep in `small` (default: all); inspect keeps only the documents it needs. */
  keep?: (name: string, size: number) => boolean;
}

export interface ArchiveContents {
  /** sha256 hex of the archive file, with hashFile (only when read to the end). */
  fileSha256?: string;
  /** With hashFile, for a volume set: each volume's sha256 hex, in order. */
  volumeSha256?: string[];
  /** True when reading stopped early (stopBefore). */
  partial?: boolean;
  /** Every regular file by normalised name, in archive order. */
  files: Map<string, ArchiveFile>;
  /** Content of small files, by name. */
  small: Map<string, Buffer>;
}

/**
 * Called for every regular file with a stream of its bytes. It must consume the stream. When the
 * name is `blobs/sha256/<hex>` the reader itself verifies the content against the name. The
 * consumer may return a commit function: it is called with the computed digest only after the
 * entry checked out, so nothing unverified is ever kept.
 */
export type EntryConsumer = (file: { name: string; size: number; expectedDigest: string | undefined }, body: Readable) => Promise<((digest: string) => Promise<void>) | void>;

async function sniff(path: string): Promise<'gzip' | 'tar'> {
  // A bundle is read more than once (its head, then all of it): a pipe or a directory cannot be.
  const st = await stat(path).catch((err: unknown) => {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new FerryError('USAGE', `${path}: no such file`, { hint: 'name an existing bundle file (.tar.gz or .tar)' });
    return undefined;
  });
  if (st?.isDirectory()) throw new FerryError('USAGE', `${path} is a directory, not a bundle`, { hint: 'name the bundle file (.tar.gz or .tar)' });
  if (st && !st.isFile()) throw new FerryError('USAGE', `${path} is not a regular file (a pipe or a device): ferry reads a bundle more than once, which a pipe cannot give`, { hint: 'write the stream to a file first, then name that file' });
  const fh = await open(path, 'r').catch((err: unknown) => {
    throw new FerryError('USAGE', `opening ${path}: ${describe(err)}`, { hint: 'name an existing bundle file' });
  });
  try {
    const buf = Buffer.alloc(6);
    const { bytesRead } = await fh.read(buf, 0, 6, 0);
    if (bytesRead >= 2 && buf[0] === 0x1f && buf[1] === 0x8b) return 'gzip';
    if (bytesRead >= 4 && buf.readUInt32LE(0) === 0xfd2fb528) throw new FerryError('UNSUPPORTED', `${path} is zstd-compressed, which ferry does not read`, { hint: 'decompress it with `zstd -d` first' });
    if (bytesRead >= 3 && buf.subarray(0, 3).toString() === 'BZh') throw new FerryError('UNSUPPORTED', `${path} is bzip2-compressed, which ferry does not read`, { hint: 'decompress it with `bunzip2` first' });
    if (bytesRead >= 6 && buf.equals(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]))) throw new FerryError('UNSUPPORTED', `${path} is xz-compressed, which ferry does not read`, { hint: 'decompress it with `xz -d` first' });
    return 'tar';
  } finally {
    await fh.close();
  }
}

/**
 * The raw (decompressed) tar stream of an archive file, or of a volume set read as one
 * (volume-set.ts); `onRaw` sees the file's bytes, with the index of the volume they are from.
 */
export async function openTarStream(path: string, onRaw?: (chunk: Buffer, volume?: number) => void): Promise<Readable> {
  const set = await findVolumeSet(path);
  if (set) return pipeTo(setStream(set, 0, set.size - 1, onRaw), createGunzip({ chunkSize: 1024 * 1024 }));
  const kind = await sniff(path);
  const raw = createReadStream(path, { highWaterMark: 1024 * 1024 });
  let file: Readable = raw;
  if (onRaw) {
    file = pipeTo(raw, new Transform({ transform: (c: Buffer, _e, cb) => (onRaw(c), cb(null, c)) }));
  }
  if (kind === 'tar') return file;
  return pipeTo(file, createGunzip({ chunkSize: 1024 * 1024 }));
}


/**
 * Walks the archive at `path`. Resolves with what it held; throws BUNDLE_FORMAT for truncated
 * or corrupted archives and hostile entries, DigestMismatchError for a blob whose content does
 * not match its name.
 */
export async function readArchive(path: string, consume: EntryConsumer, opts: ReadOptions = {}): Promise<ArchiveContents> {
  const fileHash = opts.hashFile ? createHash('sha256') : undefined;
  const volumeHashes: Hash[] = [];
  const onBytes = opts.onBytes;
  const tar = await openTarStream(
    path,
    fileHash || onBytes
      ? (c, volume) => {
          fileHash?.update(c);
          if (fileHash && volume !== undefined) (volumeHashes[volume] ??= createHash('sha256')).update(c);
          onBytes?.(c.length);
        }
      : undefined,
  );
  const extract = tarExtract();
  const files = new Map<string, ArchiveFile>();
  const small = new Map<string, Buffer>();
  const contents: ArchiveContents = { files, small };
  const aliases = new Map<string, string>();
  // Feed the decompressed bytes into tar-stream's (streamx) extractor with backpressure.
  const feeding = (async () => {
    for await (const chunk of tar as AsyncIterable<Buffer>) {
      await writeChunk(extract, chunk);
    }
    (extract as unknown as { end(): void }).end();
  })();
  feeding.catch((err: unknown) => extract.destroy(err as Error));
  /** The entry whose bytes are being read, named when the archive fails inside it. */
  let current: string | undefined;
  try {
    for await (const entry of extract) {
      const raw = entry.header.name;
      const kind = checkEntryType(raw, entry.header.type);
      if (kind === 'symlink') {
        const name = checkEntryName(raw);
        aliases.set(name, checkLayerLink(name, entry.header.linkname));
        entry.resume();
        continue;
      }
      if (kind !== 'file') {
        entry.resume();
        continue;
      }
      const name = checkEntryName(raw);
      if (opts.stopBefore?.(name, contents)) {
        contents.partial = true;
        break;
      }
      const size = entry.header.size ?? 0;
      if (files.has(name)) throw new FerryError('BUNDLE_FORMAT', `bundle entry "${name}" appears twice`);
      if (BUNDLE_DOCUMENTS.has(name) && size > JSON_DOCUMENT_LIMIT) {
        throw new FerryError('BUNDLE_FORMAT', `bundle entry "${name}" is ${size} bytes, more than the ${JSON_DOCUMENT_LIMIT} allowed for it`);
      }
      const m = BLOB_ENTRY.exec(name);
      const expectedDigest = m ? `sha256:${m[1]}` : undefined;
      const hash = createHash('sha256');
      const keep = size <= SMALL_FILE_LIMIT && (opts.keep?.(name, size) ?? true) ? ([] as Buffer[]) : undefined;
      let seen = 0;
      const body = Readable.from(
        (async function* () {
          for await (const c of entry as AsyncIterable<Buffer>) {
            hash.update(c);
            seen += c.length;
            keep?.push(c);
            yield c;
          }
        })(),
        { objectMode: false },
      );
      current = name;
      const commit = await consume({ name, size, expectedDigest }, body);
      // Drain whatever the consumer left, so hashing covers the whole entry.
      for await (const _ of body) void _;
      if (seen !== size) throw new FerryError('BUNDLE_FORMAT', `bundle entry "${name}" is truncated: ${seen} of ${size} bytes`);
      const digest = `sha256:${hash.digest('hex')}`;
      if (expectedDigest && digest !== expectedDigest) throw new DigestMismatchError(`bundle entry ${name}`, expectedDigest, digest);
      if (commit) await commit(digest);
      files.set(name, { name, size, digest });
      if (keep) small.set(name, Buffer.concat(keep));
      current = undefined;
    }
    if (contents.partial) {
      tar.destroy();
      extract.destroy();
      return contents;
    }
    await feeding;
  } catch (err) {
    extract.destroy();
    tar.destroy();
    throw archiveError(path, err, current);
  }
  for (const [name, target] of aliases) {
    const f = files.get(target);
    if (!f) throw new FerryError('BUNDLE_FORMAT', `bundle entry "${name}" links to "${target}", which the archive does not hold`);
    if (files.has(name)) throw new FerryError('BUNDLE_FORMAT', `bundle entry "${name}" appears twice`);
    files.set(name, { ...f, name, aliasOf: target });
  }
  if (fileHash) contents.fileSha256 = fileHash.digest('hex');
  if (volumeHashes.length) contents.volumeSha256 = volumeHashes.map((h) => h.digest('hex'));
  return contents;
}

/** A read failure as a FerryError naming the entry it happened in, if any (FerryErrors pass unchanged). */
export function archiveError(path: string, err: unknown, entry?: string): FerryError {
  if (err instanceof FerryError) return err;
  const where = entry === undefined ? '' : ` inside bundle entry "${entry}"`;
  return new FerryError('BUNDLE_FORMAT', `reading ${path}: ${archiveErrorText(err)}${where}`, { cause: err, hint: 'the file is truncated or corrupted; copy it again and check it against its .sha256 file' });
}

/** Archive read failures as users see them: truncated, corrupted, or the error itself. */
export function archiveErrorText(err: unknown): string {
  const code = (err as { code?: string }).code;
  if (code === 'Z_BUF_ERROR' || /unexpected end/i.test(String((err as Error)?.message))) return 'the archive ends early (truncated)';
  if (code === 'Z_DATA_ERROR') return `the gzip data is corrupted (${(err as Error).message})`;
  return describe(err);
}
