/**
 * Writes a bundle: one tar (gzip by default) that is an OCI image layout and a `docker load`
 * archive at once, and seekable (docs/bundle-format.md). Entry order: oci-layout, ferry.json,
 * index.json, manifest.json, repositories, then manifests and indexes, configs, and layers —
 * each blob once — and last the table of contents, ferry-toc.json.
 * Blobs are streamed from the verified store through a verifying stream (the store's content is
 * checked again as it is copied). Written to `<out>.partial`, renamed to `<out>` when complete,
 * then `<out>.sha256` is written the same way. On failure the partial file is removed. With
 * `split`, the same bytes go to volumes `<out>.001`, ... (volume-header.ts, output-files.ts).
 */
import { createHash } from 'node:crypto';
import { ioError, isFsError } from '../fs/io-error.js';
import { FerryError, UsageError } from '../errors.js';
import { blobPath } from '../digest/digest.js';
import { VerifyingStream } from '../digest/verifying-stream.js';
import { isCompressedMediaType } from '../oci/media-types.js';
import type { PlatformSpec } from '../oci/platform.js';
import type { BlobStore } from '../store/blob-store.js';
import { carriedLayers, planManifestImages, type ImagePlan } from '../content/plan.js';
import { DEFLATE_LEVEL, MemberOutput, STORED_LEVEL, type VolumeSplit } from './member-output.js';
import { BundleFiles, type WrittenFile } from './output-files.js';
import { TAR_END, tarEntryLength, tarHeader, tarPadding } from './tar-header.js';
import { MAX_VOLUMES, VOLUME_HEADER_VERSION, encodeVolumeHeader } from './volume-header.js';
import { FOOTER_SIZE, TOC_ENTRY, TOC_VERSION, tocFooter, type Toc, type TocEntry } from './toc.js';
import { BUNDLE_DOCUMENTS, type BundleSettings, FERRY_JSON, INDEX_JSON, MANIFEST_JSON, OCI_LAYOUT, REPOSITORIES, dockerManifestJson, ferryMetadata, indexJson, ociLayout } from './layout.js';
import { pipeTo } from '../util/streams.js';

export type Compression = 'gzip' | 'none';

export interface WriteBundleOptions {
  out: string;
  compression: Compression;
  /** Platforms preferred for the docker-load view, in order. */
  prefer: readonly PlatformSpec[];
  tool: string;
  created?: Date;
  /** Digest of the lock file this bundle is for (export). */
  lock?: string;
  /** The export settings that shape the bundle (export compares them for "unchanged"). */
  settings?: BundleSettings;
  /** Called with the number of blob bytes copied since the last call. */
  onBytes?: (n: number) => void;
  /**
   * Resolves when a blob is in the store (a pull still running beside the write); rejects to
   * abandon the write. Without it every blob must be in the store already. Resolving true says
   * the pull verified the blob into the store moments ago: it is copied without hashing it a
   * second time (a blob that was in the cache before is checked again as it is copied).
   */
  ready?: (digest: string) => Promise<boolean | void>;
  /**
   * The bytes of a blob `ready` called fresh, when the pull kept them as they arrived (small
   * blobs, bundle-sink.ts): written from memory instead of read back from the store.
   */
  take?: (digest: string) => Buffer | undefined;
  /** Write volumes `<out>.001`, ... of at most this many bytes each (gzip only; volume-header.ts). */
  split?: number;
}

export interface WrittenBundle {
  path: string;
  /** The file's sha256 (with volumes: their concatenation's). */
  sha256: string;
  /** Bytes written (with volumes: all of them). */
  bytes: number;
  /** With a split: each volume. */
  volumes?: WrittenFile[];
}

interface Entry {
  name: string;
  size: number;
  /** Already compressed: stored, not deflated. */
  compressed: boolean;
  data: Buffer | { digest: string; subject: string };
}

/** The entries of a bundle in write order, each blob once. */
export function bundleEntries(plans: readonly ImagePlan[], prefer: readonly PlatformSpec[], tool: string, created: Date, lock?: string, settings?: BundleSettings): Entry[] {
  const docker = dockerManifestJson(plans, prefer);
  const json = (name: string, text: string): Entry => {
    const data = Buffer.from(text);
    return { name, size: data.length, compressed: false, data };
  };
  const entries: Entry[] = [
    json(OCI_LAYOUT, ociLayout()),
    json(FERRY_JSON, JSON.stringify(ferryMetadata(plans, prefer, tool, created, lock, settings), null, 2)),
    json(INDEX_JSON, indexJson(plans)),
    json(MANIFEST_JSON, docker.json),
    json(REPOSITORIES, docker.repositories),
  ];
  const seen = new Set<string>();
  const once = (digest: string): boolean => !seen.has(digest) && !!seen.add(digest);
  for (const p of plans) for (const m of p.manifests) if (once(m.digest)) entries.push({ name: blobPath(m.digest), size: m.raw.length, compressed: false, data: m.raw });
  const layers: Entry[] = [];
  for (const p of plans) {
    for (const img of planManifestImages(p)) {
      if (once(img.config.digest)) entries.push({ name: blobPath(img.config.digest), size: img.config.size, compressed: false, data: { digest: img.config.digest, subject: `config ${img.config.digest} of ${p.request}` } });
      for (const l of carriedLayers(p, img)) {
        if (once(l.digest)) layers.push({ name: blobPath(l.digest), size: l.size, compressed: isCompressedMediaType(l.mediaType), data: { digest: l.digest, subject: `layer ${l.digest} of ${p.request}` } });
      }
    }
  }
  // Uncompressed layers first, so the level switches once into stored mode for the rest.
  layers.sort((a, b) => Number(a.compressed) - Number(b.compressed));
  return [...entries, ...layers];
}

/** A tar entry's header, data and padding, as buffers (documents, manifests). */
function entryBytes(e: Entry, data: Buffer, created: Date): Buffer[] {
  return [tarHeader(e.name, e.size, created), data, Buffer.alloc(tarPadding(e.size))];
}

/** Which entries share the first member: the JSON documents, read together. */
function isDocument(e: Entry): boolean {
  return BUNDLE_DOCUMENTS.has(e.name);
}

/**
 * Writes the bundle to `opts.out` atomically (format 2, docs/bundle-format.md): the JSON
 * documents in one gzip member, then one member per blob (its tar header, data and padding),
 * then the table of contents with the tar's end, then the footer that points at it. Throws
 * (leaving nothing at `out` and no partial file) on any failure: a FerryError as it is (digest
 * mismatch), anything else as an IO error naming the file and the OS reason. Every wait is
 * raced against the output stream failing, so a full or read-only file system ends the write
 * at once instead of stalling it.
 */
export async function writeBundle(plans: readonly ImagePlan[], store: BlobStore, opts: WriteBundleOptions): Promise<WrittenBundle> {
  const created = opts.created ?? new Date(0);
  const entries = bundleEntries(plans, opts.prefer, opts.tool, created, opts.lock, opts.settings);
  const gzip = opts.compression === 'gzip';
  if (opts.split !== undefined && !gzip) throw new UsageError('--split needs gzip compression: volumes start with gzip members', 'leave out --compression none');
  const files = new BundleFiles(opts.out, opts.split !== undefined);
  // Settles (rejecting) as soon as an output file fails; every wait below races it.
  const guard = <T>(p: Promise<T>): Promise<T> => Promise.race([p, files.failed]);
  const docs = entries.filter(isDocument);
  const split = opts.split !== undefined ? volumeSplit(opts.split, entries, docs, created, files) : undefined;
  const out = new MemberOutput(() => files.current(), gzip, guard, split?.split);
  const toc: TocEntry[] = [];
  const place = (e: Entry, memberStart: { file: number; tar: number }): void => {
    toc.push({ name: e.name, size: e.size, offset: out.tarOffset, member: memberStart.file, memberOffset: memberStart.tar });
  };
  let written: { files: WrittenFile[]; sha256: string };
  try {
    if (split) await out.begin(split.first);
    await out.prepare();
    const head = { file: out.fileOffset, tar: out.tarOffset };
    const headBytes: Buffer[] = [];
    for (const e of docs) {
      toc.push({ name: e.name, size: e.size, offset: head.tar + headBytes.reduce((n, b) => n + b.length, 0), member: head.file, memberOffset: head.tar });
      headBytes.push(...entryBytes(e, e.data as Buffer, created));
    }
    await out.memberOf(DEFLATE_LEVEL, headBytes);
    for (const e of entries) {
      if (isDocument(e)) continue;
      await out.prepare();
      const start = { file: out.fileOffset, tar: out.tarOffset };
      place(e, start);
      const level = e.compressed ? STORED_LEVEL : DEFLATE_LEVEL;
      if (Buffer.isBuffer(e.data)) {
        await out.memberOf(level, entryBytes(e, e.data, created));
      } else {
        const { digest, subject } = e.data;
        const fresh = opts.ready ? (await guard(opts.ready(digest))) === true : false;
        const held = fresh ? opts.take?.(digest) : undefined;
        const body = held ? [held] : fresh ? store.read(digest, e.size) : pipeTo(store.read(digest, e.size), new VerifyingStream(digest, e.size, subject));
        await out.memberStreaming(level, tarHeader(e.name, e.size, created), body, Buffer.alloc(tarPadding(e.size)), opts.onBytes);
      }
    }
    await out.prepare();
    const tocMember = out.fileOffset;
    const tocJson = Buffer.from(JSON.stringify({ ferryTocVersion: TOC_VERSION, entries: toc } satisfies Toc));
    await out.memberOf(DEFLATE_LEVEL, [tarHeader(TOC_ENTRY, tocJson.length, created), tocJson, Buffer.alloc(tarPadding(tocJson.length)), TAR_END]);
    if (gzip) await out.trailer(tocFooter(tocMember));
    written = await files.commit();
  } catch (err) {
    // The output file's own error (ENOSPC) says more than the broken pipe it caused upstream.
    const outErr = await files.abort();
    const cause = err instanceof FerryError || !isFsError(outErr) ? err : outErr;
    throw ioError('writing bundle', opts.out, cause, 'check free space and permissions of the output directory');
  }
  const bytes = written.files.reduce((n, w) => n + w.bytes, 0);
  return { path: opts.out, sha256: written.sha256, bytes, ...(split ? { volumes: written.files } : {}) };
}

/**
 * The volume split of a write to `files` (volume-header.ts): the set's id, derived from what
 * the bundle holds and SIZE (so the same inputs give the same volumes), every tar header's
 * offset (a volume's header names the first that starts in it), and the first volume's header.
 */
function volumeSplit(size: number, entries: readonly Entry[], docs: readonly Entry[], created: Date, files: BundleFiles): { split: VolumeSplit; first: Buffer } {
  const ordered = [...docs, ...entries.filter((e) => !isDocument(e))];
  const set = createHash('sha256').update(JSON.stringify({ size, created: created.getTime(), entries: ordered.map((e) => [e.name, e.size]) }));
  for (const d of docs) set.update(d.data as Buffer);
  const id = set.digest('hex');
  const starts: number[] = [];
  let at = 0;
  for (const e of ordered) {
    starts.push(at);
    at += tarEntryLength(e.size);
  }
  starts.push(at); // ferry-toc.json
  const header = (part: number, tarOffset: number, fileOffset: number): Buffer => {
    // The first header at or after tarOffset (none past the table of contents' header).
    const i = starts.findIndex((s) => s >= tarOffset);
    return encodeVolumeHeader({ ferryVolumeVersion: VOLUME_HEADER_VERSION, set: id, part, split: size, fileOffset, tarOffset, nextHeader: i === -1 ? null : starts[i]!, entry: i === -1 ? null : i });
  };
  const split: VolumeSplit = {
    limit: size - FOOTER_SIZE,
    next: async (tarOffset, fileOffset) => {
      const part = files.count + 1;
      if (part > MAX_VOLUMES) throw new UsageError(`the bundle needs more than ${MAX_VOLUMES} volumes of ${size} bytes`, 'choose a larger --split');
      await files.next();
      return header(part, tarOffset, fileOffset);
    },
  };
  return { split, first: header(1, 0, 0) };
}
