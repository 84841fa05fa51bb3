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
import { bundleEntries, writeBundle } from './writer.js';
import { blobs, created, gzA, planA, plans, shared, singlePlan, tarA, tarB, zstdB, armOnly } from './bundle.fixture.js';
import { parseTarHeader, tarHeader } from './tar-header.js';
import { FOOTER_SIZE, TOC_ENTRY, parseToc, parseTocFooter } from './toc.js';

type Entry = ReturnType<typeof bundleEntries>[number];

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

/** The header tar-stream writes for an entry as writeBundle names it (tar-stream is the oracle). */
async function tarStreamHeader(name: string, size: number): Promise<Buffer> {
  const pack = tarPack();
  const chunks: Buffer[] = [];
  const done = (async () => {
    for await (const c of pack as AsyncIterable<Buffer>) chunks.push(c);
  })();
  pack.entry({ name, size, mode: 0o644, mtime: created, type: 'file', uid: 0, gid: 0, uname: '', gname: '' }, Buffer.alloc(size));
  pack.finalize();
  await done;
  return Buffer.concat(chunks).subarray(0, 512);
}

describe('tarHeader', () => {
  it.each([0, 1, 511, 512, 1234567])('equals tar-stream\'s header for a file of %i bytes', async (size) => {
    const want = await tarStreamHeader('blobs/sha256/' + 'a'.repeat(64), size);
    expect(tarHeader('blobs/sha256/' + 'a'.repeat(64), size, created).equals(want)).toBe(true);
  });

  it('round-trips sizes past 8 GiB through the base-256 field', () => {
    const size = 9 * 1024 ** 3 + 7;
    const h = tarHeader('big', size, created);
    expect(h[124]).toBe(0x80);
    expect(parseTarHeader(h, 'test')).toEqual({ name: 'big', size, type: '0' });
  });

  it('rejects a header with a broken checksum', () => {
    const h = tarHeader('x', 5, created);
    h[0] = 0x79;
    expect(() => parseTarHeader(h, 'entry x')).toThrow(/entry x: not a tar header \(bad checksum\)/);
  });
});

describe('writeBundle members (format 2)', () => {
  const dirs: string[] = [];
  afterEach(async () => {
    for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
  });

  it.each(['gzip', 'none'] as const)('%s: every entry of the table of contents is where it says, from its member alone', async (compression) => {
    const dir = await mkdtemp(join(tmpdir(), 'ferry-writer-'));
    dirs.push(dir);
    const store = new BlobStore(join(dir, 'cache'));
    await store.init();
    for (const [d, data] of blobs) await store.putBuffer(d, data, d);
    const out = join(dir, 'b.tar');
    await writeBundle(plans, store, { out, compression, prefer: [{ os: 'linux', architecture: 'amd64' }], tool: 'ferry test', created });
    const file = await readFile(out);
    const tocMember = compression === 'gzip' ? parseTocFooter(file.subarray(file.length - FOOTER_SIZE)) : undefined;
    if (compression === 'gzip') expect(tocMember).toBeGreaterThan(0);
    const whole = compression === 'gzip' ? gunzipSync(file) : file;
    // The TOC is the last entry, followed by the end of the tar.
    const tocText = (() => {
      const end = whole.length - 1024;
      const start = whole.lastIndexOf(Buffer.from(TOC_ENTRY), end) ;
      const h = parseTarHeader(whole.subarray(start, start + 512), 'toc');
      return whole.subarray(start + 512, start + 512 + h.size).toString();
    })();
    const toc = parseToc(tocText, 'test');
    expect(toc.entries.map((e) => e.name)).toEqual(entries.map((e) => e.name));
    const members = [...new Set(toc.entries.map((e) => e.member)), tocMember ?? file.length].sort((x, y) => x - y);
    for (const e of toc.entries) {
      const next = members.find((m) => m > e.member)!;
      // One member inflated on its own (gzip) or the raw bytes (plain) hold the entry.
      const bytes = compression === 'gzip' ? gunzipSync(file.subarray(e.member, next)) : file.subarray(e.member);
      const at = e.offset - e.memberOffset;
      expect(parseTarHeader(bytes.subarray(at, at + 512), e.name)).toMatchObject({ name: e.name, size: e.size });
      const want = entries.find((x) => x.name === e.name)!;
      const data = Buffer.isBuffer(want.data) ? want.data : blobs.get(want.data.digest)!;
      expect(bytes.subarray(at + 512, at + 512 + e.size).equals(data)).toBe(true);
      // And the same offset in the whole tar stream.
      expect(whole.subarray(e.offset + 512, e.offset + 512 + e.size).equals(data)).toBe(true);
    }
    // Blobs start members of their own; the documents share the first.
    for (const e of toc.entries) expect(e.name.startsWith('blobs/') ? e.memberOffset === e.offset : e.member === 0).toBe(true);
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
    expect(got.map(([n]) => n)).toEqual([...entries.map((e) => e.name), TOC_ENTRY]);
    // GNU tar, an independent reader, sees the same entries.
    const listed = execFileSync('tar', [compression === 'gzip' ? '-tzf' : '-tf', out], { encoding: 'utf8' }).trim().split('\n');
    expect(listed).toEqual([...entries.map((e) => e.name), TOC_ENTRY]);
    for (const [name, data] of got) {
      if (name === TOC_ENTRY) continue;
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
