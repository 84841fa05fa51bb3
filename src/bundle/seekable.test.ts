import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { blobPath } from '../digest/digest.js';
import { DigestMismatchError } from '../errors.js';
import { randomBytes } from 'node:crypto';
import { MediaType } from '../oci/media-types.js';
import { blob, blobs, created, fixtureBundle, fixtureStore, gzA, plans, shared, singlePlan } from './bundle.fixture.js';
import { SEQUENTIAL_READ_SIZE, releaseView, storedRuns } from './stored-runs.js';
import { readArchive } from './reader.js';
import { openSeekable } from './seekable.js';
import { FOOTER_SIZE, TOC_ENTRY, parseTocFooter, tocFooter } from './toc.js';
import { TAR_END, parseTarHeader, tarHeader, tarPadding } from './tar-header.js';
import { writeBundle, type Compression } from './writer.js';

const dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

const bundle = (compression: Compression): Promise<string> => fixtureBundle(dirs, compression);

async function text(s: AsyncIterable<Buffer>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of s) parts.push(c);
  return Buffer.concat(parts);
}

// A layer big enough to be read from its stored member's runs (no zlib).
const bigLayer = blob(MediaType.ociLayerGzip, randomBytes(700_000));
const bigPlan = singlePlan('127.0.0.1:5000/big/layer:1', [bigLayer]);

describe('openSeekable, big stored blobs', () => {
  it('reads any range of a blob in a stored member from its runs, equal to the bytes', async () => {
    const out = await fixtureBundle(dirs, 'gzip', [bigPlan]);
    const s = (await openSeekable(out))!;
    const e = s.entries.find((x) => x.name === blobPath(bigLayer.digest))!;
    const next = Math.min(...s.entries.filter((x) => x.member > e.member).map((x) => x.member));
    const runs = await storedRuns(out, e.member, next);
    expect(runs, 'the member is all stored blocks').toBeDefined();
    expect(runs!.reduce((n, r) => n + r.length, 0)).toBe(512 + 700_000 + (512 - (700_000 % 512)));
    const data = blobs.get(bigLayer.digest)!;
    expect((await text(s.open(blobPath(bigLayer.digest)))).equals(data)).toBe(true);
    for (const [a, b] of [[0, 0], [65530, 65540], [100_000, 699_999], [699_999, 699_999]] as const) {
      expect((await text(s.open(blobPath(bigLayer.digest), a, b))).equals(data.subarray(a, b + 1)), `${a}-${b}`).toBe(true);
    }
    // Other read sizes (push and load read in SEQUENTIAL_READ_SIZE), pooled buffers handed back.
    for (const readSize of [SEQUENTIAL_READ_SIZE, 100_000, 70_000]) {
      for (const [a, b] of [[0, 699_999], [65530, 65540], [100_000, 699_999]] as const) {
        for (let pass = 0; pass < 2; pass++) {
          const parts: Buffer[] = [];
          for await (const c of s.open(blobPath(bigLayer.digest), a, b, { readSize }) as AsyncIterable<Buffer>) {
            parts.push(Buffer.from(c));
            releaseView(c);
          }
          expect(Buffer.concat(parts).equals(data.subarray(a, b + 1)), `${readSize}: ${a}-${b}`).toBe(true);
        }
      }
    }
  });

  it('reuses a read buffer once every view of it is handed back, and the bytes stay right', async () => {
    const out = await fixtureBundle(dirs, 'gzip', [bigPlan]);
    const s = (await openSeekable(out))!;
    const data = blobs.get(bigLayer.digest)!;
    const memories = new Set<ArrayBufferLike>();
    let chunks = 0;
    for (let pass = 0; pass < 4; pass++) {
      // Two readers at once, one of them handing its views back a tick late.
      const read = (late: boolean): Promise<Buffer> =>
        new Promise((resolve, reject) => {
          const parts: Buffer[] = [];
          const r = s.open(blobPath(bigLayer.digest));
          let ended = false;
          const settle = (): void => void (ended && !queue.length && resolve(Buffer.concat(parts)));
          r.on('data', (c: Buffer) => {
            memories.add(c.buffer);
            chunks++;
            const i = parts.push(c) - 1;
            if (!late) {
              parts[i] = Buffer.from(c);
              releaseView(c);
              return;
            }
            // Copied only when handed back, one view per turn of the event loop (reads complete
            // in between): a buffer reused too early would show here.
            queue.push(() => {
              parts[i] = Buffer.from(c);
              releaseView(c);
            });
            if (queue.length === 1) setImmediate(next);
          });
          const queue: Array<() => void> = [];
          const next = (): void => {
            queue[0]!();
            queue.shift();
            if (queue.length) setImmediate(next);
            else settle();
          };
          r.on('end', () => {
            ended = true;
            settle();
          });
          r.on('error', reject);
        });
      const [a, b] = await Promise.all([read(false), read(true)]);
      expect(a.equals(data), `pass ${pass}`).toBe(true);
      expect(b.equals(data), `pass ${pass}`).toBe(true);
    }
    expect(memories.size).toBeLessThan(chunks / 4);
  });

  it('is undefined for a deflated member (read by inflating instead)', async () => {
    const path = await bundle('gzip');
    const s = (await openSeekable(path))!;
    const doc = s.entries.find((x) => x.name === 'index.json')!;
    const next = Math.min(...s.entries.filter((x) => x.member > doc.member).map((x) => x.member));
    expect(await storedRuns(path, doc.member, next)).toBeUndefined();
  });
});

describe('openSeekable', () => {
  it.each(['gzip', 'none'] as const)('%s: gives the same files and documents as the full reader', async (compression) => {
    const path = await bundle(compression);
    const s = (await openSeekable(path))!;
    expect(s).toBeDefined();
    const full = await readArchive(path, async () => undefined);
    expect([...s.contents.files.keys()].sort()).toEqual([...full.files.keys()].sort());
    for (const [name, f] of full.files) expect(s.contents.files.get(name)?.size).toBe(f.size);
    // Every manifest, index and config is read (verified); layers are not.
    for (const p of plans) for (const m of p.manifests) expect(s.contents.small.get(blobPath(m.digest))?.equals(m.raw)).toBe(true);
    for (const p of plans) for (const i of p.images) expect(s.contents.small.has(blobPath(i.config.digest))).toBe(true);
    expect(s.contents.small.has(blobPath(gzA.digest))).toBe(false);
    expect(s.contents.small.get('index.json')?.equals(full.small.get('index.json')!)).toBe(true);
  });

  it.each(['gzip', 'none'] as const)('%s: opens any byte range of a blob', async (compression) => {
    const s = (await openSeekable(await bundle(compression)))!;
    const data = blobs.get(shared.digest)!;
    const name = blobPath(shared.digest);
    expect((await text(s.open(name))).equals(data)).toBe(true);
    expect((await text(s.open(name, 100, 399))).equals(data.subarray(100, 400))).toBe(true);
    expect((await text(s.open(name, 999, 999))).equals(data.subarray(999))).toBe(true);
    expect((await text(s.open(name, 0, 10_000))).equals(data)).toBe(true);
  });

  it('is undefined for a gzip archive without a table of contents (an older bundle)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ferry-seekable-'));
    dirs.push(dir);
    const plain = await readFile(await bundle('none'));
    const old = join(dir, 'old.tar.gz');
    await writeFile(old, gzipSync(plain));
    expect(await openSeekable(old)).toBeUndefined();
  });

  it('refuses a footer that points outside the file', async () => {
    const path = await bundle('gzip');
    const file = await readFile(path);
    const footer = file.subarray(file.length - FOOTER_SIZE);
    footer.write('0000ffffffffffff', 16, 'ascii');
    await writeFile(path, file);
    await expect(openSeekable(path)).rejects.toThrow(/the table of contents lies outside the file/);
  });

  it('a manifest that does not match its name fails the open; a layer fails whoever streams it', async () => {
    const path = await bundle('none');
    const file = await readFile(path);
    const m = plans[0]!.manifests[0]!;
    const at = file.indexOf(m.raw);
    file[at + 5] = file[at + 5]! ^ 0x20;
    await writeFile(path, file);
    await expect(openSeekable(path)).rejects.toBeInstanceOf(DigestMismatchError);
  });

  it('checks the tar header the table of contents points at', async () => {
    const path = await bundle('gzip');
    const file = await readFile(path);
    const tocMember = parseTocFooter(file.subarray(file.length - FOOTER_SIZE))!;
    const tar = gunzipSync(file.subarray(tocMember, file.length - FOOTER_SIZE));
    const h = parseTarHeader(tar, 'toc');
    const toc = JSON.parse(tar.subarray(512, 512 + h.size).toString()) as { entries: { name: string; member: number; offset: number; memberOffset: number }[] };
    const a = toc.entries.find((e) => e.name === blobPath(shared.digest))!;
    const b = toc.entries.find((e) => e.name === blobPath(gzA.digest))!;
    [a.member, a.offset, a.memberOffset, b.member, b.offset, b.memberOffset] = [b.member, b.offset, b.memberOffset, a.member, a.offset, a.memberOffset];
    const json = Buffer.from(JSON.stringify(toc));
    const member = gzipSync(Buffer.concat([tarHeader(TOC_ENTRY, json.length, created), json, Buffer.alloc(tarPadding(json.length)), TAR_END]));
    await writeFile(path, Buffer.concat([file.subarray(0, tocMember), member, tocFooter(tocMember)]));
    const s = (await openSeekable(path))!;
    await expect(text(s.open(blobPath(shared.digest)))).rejects.toThrow(/the table of contents says "blobs\/sha256\/[a-f0-9]+" \(1000 bytes\) is here, but the tar header says "blobs\/sha256\/[a-f0-9]+" \(513 bytes\)/);
  });
});
