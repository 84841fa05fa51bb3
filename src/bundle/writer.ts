/**
 * Writes a bundle: one tar (gzip by default) that is an OCI image layout and a `docker load`
 * archive at once (docs/bundle-format.md). Entry order: oci-layout, ferry.json, index.json,
 * manifest.json, repositories, then manifests and indexes, configs, and layers — each blob once.
 * Blobs are streamed from the verified store through a verifying stream (the store's content is
 * checked again as it is copied). Written to `<out>.partial`, renamed to `<out>` when complete,
 * then `<out>.sha256` is written the same way. On failure the partial file is removed.
 */
import { createWriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { Readable, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { pack as tarPack, type Header, type Pack } from 'tar-stream';
import { sidecarPath, sidecarText } from './sidecar.js';
import { writeFileAtomic } from '../fs/atomic-write.js';
import { ioError, isFsError } from '../fs/io-error.js';
import { FerryError } from '../errors.js';
import { removeOnInterrupt } from '../process/interrupt.js';
import { blobPath } from '../digest/digest.js';
import { HashingTap } from '../digest/hashing-tap.js';
import { VerifyingStream } from '../digest/verifying-stream.js';
import { isCompressedMediaType } from '../oci/media-types.js';
import type { PlatformSpec } from '../oci/platform.js';
import type { BlobStore } from '../store/blob-store.js';
import { carriedLayers, planManifestImages, type ImagePlan } from '../content/plan.js';
import { DEFAULT_LEVEL, GzipLevelSwitcher, type LevelSwitch } from './gzip-switcher.js';
import { type BundleSettings, FERRY_JSON, INDEX_JSON, MANIFEST_JSON, OCI_LAYOUT, REPOSITORIES, dockerManifestJson, ferryMetadata, indexJson, ociLayout } from './layout.js';
import { pipeTo, writeChunk } from '../util/streams.js';

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
}

export interface WrittenBundle {
  path: string;
  sha256: string;
  bytes: number;
}

interface Entry {
  name: string;
  size: number;
  /** Already compressed: stored, not deflated. */
  compressed: boolean;
  data: Buffer | { digest: string; subject: string };
}

const BLOCK = 512;
const padded = (n: number): number => Math.ceil(n / BLOCK) * BLOCK;

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

/** Offsets at which the deflate level changes: stored for compressed entries' data, deflated elsewhere. */
export function levelSwitches(entries: readonly Entry[]): LevelSwitch[] {
  const out: LevelSwitch[] = [];
  let pos = 0;
  let level = DEFAULT_LEVEL;
  const set = (offset: number, l: number): void => {
    if (l !== level) out.push({ offset, level: l });
    level = l;
  };
  for (const e of entries) {
    pos += BLOCK; // header; names are under 100 bytes, so no extended headers
    set(pos, e.compressed ? 0 : DEFAULT_LEVEL);
    pos += padded(e.size);
  }
  return out;
}

/**
 * Streams `src` into a new tar entry with backpressure; resolves when the entry is complete.
 * Errors of `src` (a digest mismatch) reject.
 */
async function copyEntry(pack: Pack, header: Partial<Header> & { name: string }, src: Readable, onBytes?: (n: number) => void): Promise<void> {
  let settle!: (err?: Error | null) => void;
  const done = new Promise<void>((resolve, reject) => {
    settle = (err) => (err ? reject(err) : resolve());
  });
  // Observed at once: when the output fails while this waits for the source, the entry is
  // destroyed and `done` rejects before anyone awaits it (the caller reports the output's error).
  done.catch(() => undefined);
  const entry = pack.entry(header, (err) => settle(err));
  entry.on('error', (err: Error) => settle(err));
  try {
    for await (const chunk of src as AsyncIterable<Buffer>) {
      onBytes?.(chunk.length);
      await writeChunk(entry, chunk);
    }
  } catch (err) {
    done.catch(() => undefined);
    entry.destroy();
    throw err;
  }
  (entry as unknown as { end(): void }).end();
  await done;
}

/**
 * Writes the bundle to `opts.out` atomically. Throws (leaving nothing at `out` and no partial
 * file) on any failure: a FerryError as it is (digest mismatch), anything else as an IO error
 * naming the file and the OS reason. Every wait is raced against the output stream failing, so
 * a full or read-only file system ends the write at once instead of stalling it.
 */
export async function writeBundle(plans: readonly ImagePlan[], store: BlobStore, opts: WriteBundleOptions): Promise<WrittenBundle> {
  const created = opts.created ?? new Date(0);
  const entries = bundleEntries(plans, opts.prefer, opts.tool, created, opts.lock, opts.settings);
  const partial = `${opts.out}.partial`;
  const forget = removeOnInterrupt(partial);
  const tap = new HashingTap();
  const file = createWriteStream(partial, { highWaterMark: 1024 * 1024 });
  const pack = tarPack();
  let sink: Writable;
  let outDone: Promise<void>;
  if (opts.compression === 'gzip') {
    const switcher = new GzipLevelSwitcher(levelSwitches(entries));
    sink = switcher;
    outDone = pipeline(switcher.output, tap, file);
  } else {
    sink = tap;
    outDone = pipeline(tap, file);
  }
  // tar-stream's streams are streamx streams: bridge them to Node streams through iteration.
  const packDone = pipeline(Readable.from(pack), sink);
  // Settles (rejecting) as soon as either end fails; every wait below races it.
  const failed = Promise.race([packDone, outDone]).then(() => new Promise<never>(() => undefined));
  failed.catch(() => undefined);
  packDone.catch(() => undefined);
  outDone.catch(() => undefined);
  const guard = <T>(p: Promise<T>): Promise<T> => Promise.race([p, failed]);
  try {
    for (const e of entries) {
      const header: Partial<Header> & { name: string } = { name: e.name, size: e.size, mode: 0o644, mtime: created, type: 'file', uid: 0, gid: 0, uname: '', gname: '' };
      if (Buffer.isBuffer(e.data)) {
        await guard(new Promise<void>((resolve, reject) => pack.entry(header, e.data as Buffer, (err) => (err ? reject(err) : resolve()))));
      } else {
        const { digest, subject } = e.data;
        await guard(copyEntry(pack, header, pipeTo(store.read(digest), new VerifyingStream(digest, e.size, subject)), opts.onBytes));
      }
    }
    pack.finalize();
    await guard(packDone);
    await outDone;
    // The old checksum goes first: an interruption between the two renames must not leave the
    // new bundle beside the previous bundle's checksum.
    await rm(sidecarPath(opts.out), { force: true });
    await rename(partial, opts.out);
  } catch (err) {
    pack.destroy();
    sink.destroy(err as Error);
    file.destroy();
    await Promise.allSettled([packDone, outDone]);
    await rm(partial, { force: true }).catch(() => undefined);
    // The output file's own error (ENOSPC) says more than the broken pipe it caused upstream.
    const outErr = await outDone.then(() => undefined, (e: unknown) => e);
    const cause = err instanceof FerryError || !isFsError(outErr) ? err : outErr;
    throw ioError('writing bundle', opts.out, cause, 'check free space and permissions of the output directory');
  } finally {
    forget();
  }
  const sha256 = tap.hex();
  const bytes = tap.bytes;
  const sidecar = sidecarPath(opts.out);
  try {
    await writeFileAtomic(sidecar, sidecarText(opts.out, sha256), { what: 'checksum file' });
  } catch (err) {
    // A bundle beside a stale checksum would look damaged; one without any would look
    // unverifiable. Leave neither.
    await Promise.all([rm(opts.out, { force: true }), rm(sidecar, { force: true })]).catch(() => undefined);
    throw err;
  }
  return { path: opts.out, sha256, bytes };
}
