import { randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { gunzipSync } from 'node:zlib';
import { pack as tarPack, extract as tarExtract } from 'tar-stream';
import { afterEach, describe, expect, it } from 'vitest';
import { DigestMismatchError } from '../errors.js';
import { sha256Digest, blobPath } from '../digest/digest.js';
import type { Descriptor, Platform } from '../oci/manifest.js';
import { MediaType } from '../oci/media-types.js';
import { parseReference } from '../reference/parse-reference.js';
import { BlobStore } from '../store/blob-store.js';
import type { ImagePlan, PlatformImage } from '../content/plan.js';
import { DEFAULT_LEVEL } from './gzip-switcher.js';
import { bundleEntries, levelSwitches, writeBundle } from './writer.js';

type Entry = ReturnType<typeof bundleEntries>[number];

/** Blob contents by digest, so fake plans can be written into a real store. */
const blobs = new Map<string, Buffer>();

function blob(mediaType: string, data: Buffer): Descriptor {
  const digest = sha256Digest(data);
  blobs.set(digest, data);
  return { mediaType, digest, size: data.length };
}

function image(platform: Platform | undefined, layers: Descriptor[]): { img: PlatformImage; raw: Buffer } {
  const config = blob(MediaType.ociConfig, Buffer.from(JSON.stringify({ architecture: platform?.architecture ?? 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: layers.map((l) => l.digest) } })));
  const raw = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MediaType.ociManifest, config, layers }));
  const manifest: Descriptor = { mediaType: MediaType.ociManifest, digest: sha256Digest(raw), size: raw.length, ...(platform ? { platform } : {}) };
  return { img: { platform, manifest, config, layers, kind: 'image' }, raw };
}

function singlePlan(request: string, layers: Descriptor[]): ImagePlan {
  const ref = parseReference(request);
  const { img, raw } = image(undefined, layers);
  return {
    request,
    ref,
    name: ref.tag ? `${ref.registry}/${ref.repository}:${ref.tag}` : undefined,
    root: img.manifest,
    upstreamDigest: img.manifest.digest,
    manifests: [{ digest: img.manifest.digest, mediaType: img.manifest.mediaType, raw }],
    images: [img],
    notes: [],
  };
}

function indexPlan(request: string, platforms: [Platform, Descriptor[]][]): ImagePlan {
  const ref = parseReference(request);
  const built = platforms.map(([p, layers]) => image(p, layers));
  const indexRaw = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MediaType.ociIndex, manifests: built.map((b) => b.img.manifest) }));
  const root: Descriptor = { mediaType: MediaType.ociIndex, digest: sha256Digest(indexRaw), size: indexRaw.length };
  return {
    request,
    ref,
    name: ref.tag ? `${ref.registry}/${ref.repository}:${ref.tag}` : undefined,
    root,
    upstreamDigest: root.digest,
    manifests: [...built.map((b) => ({ digest: b.img.manifest.digest, mediaType: MediaType.ociManifest, raw: b.raw })), { digest: root.digest, mediaType: MediaType.ociIndex, raw: indexRaw }],
    images: built.map((b) => b.img),
    notes: [],
  };
}

const shared = blob(MediaType.ociLayerGzip, randomBytes(1000)); // shared by both plans
const gzA = blob(MediaType.dockerLayerGzip, randomBytes(513));
const tarA = blob(MediaType.ociLayer, Buffer.from('uncompressed tar layer\n'.repeat(40)));
const zstdB = blob(MediaType.ociLayerZstd, randomBytes(512));
const tarB = blob(MediaType.ociLayer, Buffer.alloc(0));
const armOnly = blob(MediaType.ociLayerGzip, randomBytes(77));

const planA = singlePlan('nginx:1.27', [shared, gzA, tarA]);
const planB = indexPlan('127.0.0.1:5000/x/y:1', [
  [{ os: 'linux', architecture: 'amd64' }, [shared, zstdB, tarB]],
  [{ os: 'linux', architecture: 'arm64', variant: 'v8' }, [shared, armOnly]],
]);
const plans = [planA, planB];
const created = new Date('2025-06-01T12:00:00Z');
const entries = bundleEntries(plans, [{ os: 'linux', architecture: 'amd64' }], 'ferry test', created);

describe('bundleEntries', () => {
  it('puts oci-layout, ferry.json, index.json, manifest.json, repositories first', () => {
    expect(entries.slice(0, 5).map((e) => e.name)).toEqual(['oci-layout', 'ferry.json', 'index.json', 'manifest.json', 'repositories']);
  });

  it('then manifests and indexes, then configs, then uncompressed layers, then compressed layers', () => {
    const kind = (e: Entry): string => {
      const d = `sha256:${e.name.slice('blobs/sha256/'.length)}`;
      if (plans.some((p) => p.manifests.some((m) => m.digest === d))) return 'manifest';
      if (plans.some((p) => p.images.some((i) => i.config.digest === d))) return 'config';
      return e.compressed ? 'compressed layer' : 'layer';
    };
    const kinds = entries.slice(5).map(kind);
    const order = ['manifest', 'config', 'layer', 'compressed layer'];
    const ranks = kinds.map((k) => order.indexOf(k));
    expect(ranks).toEqual([...ranks].sort((a, b) => a - b));
    expect(kinds.filter((k) => k === 'manifest')).toHaveLength(4);
    expect(kinds.filter((k) => k === 'config')).toHaveLength(3);
    expect(kinds.filter((k) => k === 'layer')).toHaveLength(2);
    expect(kinds.filter((k) => k === 'compressed layer')).toHaveLength(4);
  });

  it('writes every blob once, across plans that share a layer', () => {
    const names = entries.map((e) => e.name);
    expect(new Set(names).size).toBe(names.length);
    expect(names.filter((n) => n === blobPath(shared.digest))).toHaveLength(1);
    const want = new Set<string>();
    for (const p of plans) {
      for (const m of p.manifests) want.add(blobPath(m.digest));
      for (const i of p.images) for (const d of [i.config, ...i.layers]) want.add(blobPath(d.digest));
    }
    expect(new Set(names.slice(5))).toEqual(want);
  });

  it('marks gzip and zstd layers compressed and everything else not', () => {
    const byName = new Map(entries.map((e) => [e.name, e]));
    for (const d of [shared, gzA, zstdB, armOnly]) expect(byName.get(blobPath(d.digest))?.compressed).toBe(true);
    for (const d of [tarA, tarB]) expect(byName.get(blobPath(d.digest))?.compressed).toBe(false);
    for (const e of entries.slice(0, 5)) expect(e.compressed).toBe(false);
  });

  it('gives each entry the size of its content', () => {
    for (const e of entries) {
      if (Buffer.isBuffer(e.data)) expect(e.size).toBe(e.data.length);
      else expect(e.size).toBe(blobs.get(e.data.digest)?.length);
    }
  });

  it('a digest-only plan next to a tagged one of the same image adds no blob twice', () => {
    const again = singlePlan(`nginx@${planA.root.digest}`, [shared, gzA, tarA]);
    const es = bundleEntries([planA, again], [], 't', created);
    expect(es).toHaveLength(bundleEntries([planA], [], 't', created).length);
  });
});

/** The data offset of every entry of a tar, read from its 512-byte headers. */
function tarDataOffsets(tar: Buffer): Map<string, number> {
  const out = new Map<string, number>();
  let pos = 0;
  while (pos + 512 <= tar.length) {
    const header = tar.subarray(pos, pos + 512);
    if (header.every((b) => b === 0)) break;
    const name = header.subarray(0, 100).toString('utf8').replace(/\0.*$/s, '');
    const size = parseInt(header.subarray(124, 136).toString('ascii').replace(/\0.*$/s, '').trim(), 8);
    const type = String.fromCharCode(header[156]!);
    pos += 512;
    if (type === '0' || type === '\0') out.set(name, pos);
    pos += Math.ceil(size / 512) * 512;
  }
  return out;
}

/** Packs entries with tar-stream exactly as writeBundle does (the headers are the oracle). */
async function packEntries(es: readonly Entry[]): Promise<Buffer> {
  const pack = tarPack();
  const chunks: Buffer[] = [];
  const done = (async () => {
    for await (const c of pack as AsyncIterable<Buffer>) chunks.push(c);
  })();
  for (const e of es) {
    const data = Buffer.isBuffer(e.data) ? e.data : blobs.get(e.data.digest)!;
    await new Promise<void>((resolve, reject) =>
      pack.entry({ name: e.name, size: e.size, mode: 0o644, mtime: created, type: 'file', uid: 0, gid: 0, uname: '', gname: '' }, data, (err) => (err ? reject(err) : resolve())),
    );
  }
  pack.finalize();
  await done;
  return Buffer.concat(chunks);
}

describe('levelSwitches', () => {
  it('stores exactly the data of compressed entries: switches at their data offsets in the tar', async () => {
    const tar = await packEntries(entries);
    const offsets = tarDataOffsets(tar);
    const want: { offset: number; level: number }[] = [];
    let level = DEFAULT_LEVEL;
    for (const e of entries) {
      const l = e.compressed ? 0 : DEFAULT_LEVEL;
      if (l !== level) want.push({ offset: offsets.get(e.name)!, level: l });
      level = l;
    }
    expect(want.length).toBeGreaterThan(0);
    expect(levelSwitches(entries)).toEqual(want);
    // And each stored range starts with the entry's own bytes.
    for (const s of want.filter((w) => w.level === 0)) {
      const e = entries.find((x) => offsets.get(x.name) === s.offset)!;
      const data = Buffer.isBuffer(e.data) ? e.data : blobs.get(e.data.digest)!;
      expect(tar.subarray(s.offset, s.offset + e.size).equals(data)).toBe(true);
    }
  });

  it('computes offsets from 512-byte headers and 512-byte padding', () => {
    const mk = (name: string, size: number, compressed: boolean): Entry => ({ name, size, compressed, data: Buffer.alloc(size) });
    const es = [mk('a', 0, false), mk('b', 1, true), mk('c', 512, false), mk('d', 513, true), mk('e', 1024, true), mk('f', 5, false)];
    // a: header 0, no data | b: header 512, data 1024, padded to 1536 | c: header 1536, data 2048..2560
    // d: header 2560, data 3072, padded to 4096 | e: header 4096, data 4608..5632 | f: header 5632, data 6144
    expect(levelSwitches(es)).toEqual([
      { offset: 1024, level: 0 },
      { offset: 2048, level: DEFAULT_LEVEL },
      { offset: 3072, level: 0 },
      { offset: 6144, level: DEFAULT_LEVEL },
    ]);
  });

  it('has no switches when nothing is compressed', () => {
    expect(levelSwitches(entries.filter((e) => !e.compressed))).toEqual([]);
  });
});

describe('writeBundle round trip', () => {
  const dirs: string[] = [];
  afterEach(async () => {
    for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
  });

  it.each(['gzip', 'none'] as const)('%s: the tar holds every entry with its exact bytes, and the sidecar names its sha256', async (compression) => {
    const dir = await mkdtemp(join(tmpdir(), 'ferry-writer-'));
    dirs.push(dir);
    const store = new BlobStore(join(dir, 'cache'));
    await store.init();
    for (const [d, data] of blobs) await store.putBuffer(d, data, d);
    const out = join(dir, `bundle.tar${compression === 'gzip' ? '.gz' : ''}`);
    const written = await writeBundle(plans, store, { out, compression, prefer: [{ os: 'linux', architecture: 'amd64' }], tool: 'ferry test', created });
    const file = await readFile(out);
    expect(written.bytes).toBe(file.length);
    expect(`sha256:${written.sha256}`).toBe(sha256Digest(file));
    expect(await readFile(`${out}.sha256`, 'utf8')).toBe(`${written.sha256}  ${compression === 'gzip' ? 'bundle.tar.gz' : 'bundle.tar'}\n`);
    const tar = compression === 'gzip' ? gunzipSync(file) : file;
    const got: [string, Buffer][] = [];
    const ex = tarExtract();
    const reading = (async () => {
      for await (const entry of ex) {
        const parts: Buffer[] = [];
        for await (const c of entry as AsyncIterable<Buffer>) parts.push(c);
        got.push([entry.header.name, Buffer.concat(parts)]);
      }
    })();
    Readable.from([tar]).pipe(ex as unknown as NodeJS.WritableStream);
    await reading;
    expect(got.map(([n]) => n)).toEqual(entries.map((e) => e.name));
    // GNU tar, an independent reader, sees the same entries.
    const listed = execFileSync('tar', [compression === 'gzip' ? '-tzf' : '-tf', out], { encoding: 'utf8' }).trim().split('\n');
    expect(listed).toEqual(entries.map((e) => e.name));
    for (const [name, data] of got) {
      const e = entries.find((x) => x.name === name)!;
      if (Buffer.isBuffer(e.data)) {
        expect(data.equals(e.data)).toBe(true);
      } else expect(data.equals(blobs.get(e.data.digest)!)).toBe(true);
    }
  });

  // The invariant: a corrupt blob is a clean DigestMismatchError from writeBundle, with nothing at
  // `out` and no stray error events (an uncaught exception would kill the CLI with a stack trace).
  it.each(['gzip', 'none'] as const)('%s: a corrupt stored blob fails writeBundle cleanly, leaving nothing at out', async (compression) => {
    const dir = await mkdtemp(join(tmpdir(), 'ferry-writer-'));
    dirs.push(dir);
    const store = new BlobStore(join(dir, 'cache'));
    await store.init();
    for (const [d, data] of blobs) await store.putBuffer(d, data, d);
    // Flip one byte of a layer at rest.
    const bad = Buffer.from(blobs.get(gzA.digest)!);
    bad[10] = bad[10]! ^ 0xff;
    await writeFile(store.path(gzA.digest), bad);
    const stray: string[] = [];
    const onUncaught = (e: Error): void => void stray.push(`uncaught exception: ${e.message}`);
    const onUnhandled = (e: unknown): void => void stray.push(`unhandled rejection: ${(e as Error).message}`);
    process.on('uncaughtException', onUncaught);
    process.on('unhandledRejection', onUnhandled);
    try {
      const out = join(dir, 'bundle.tar.gz');
      const err = await writeBundle(plans, store, { out, compression, prefer: [], tool: 't', created }).then(
        () => undefined,
        (e: unknown) => e,
      );
      await new Promise((r) => setTimeout(r, 100));
      expect(err).toBeInstanceOf(DigestMismatchError);
      expect((err as Error).message).toContain(`layer ${gzA.digest} of nginx:1.27: expected ${gzA.digest}, calculated sha256:`);
      expect((await readdir(dir)).sort()).toEqual(['cache']);
      expect(stray).toEqual([]);
    } finally {
      process.off('uncaughtException', onUncaught);
      process.off('unhandledRejection', onUnhandled);
    }
  });
});
