import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { blobPath } from '../digest/digest.js';
import { randomBytes } from 'node:crypto';
import { MediaType } from '../oci/media-types.js';
import { blob, blobs as fixtureBlobs, created, fixtureBundle, fixtureStore, gzA, plans, singlePlan } from './bundle.fixture.js';
import { openSeekable } from './seekable.js';
import { TAR_END, parseTarHeader, tarHeader, tarPadding } from './tar-header.js';
import { FOOTER_SIZE, TOC_ENTRY, parseTocFooter, tocFooter } from './toc.js';
import { verifySeekable } from './verify-seekable.js';
import { readArchive } from './reader.js';
import { writeBundle, type Compression } from './writer.js';

const dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

const bundle = (compression: Compression): Promise<string> => fixtureBundle(dirs, compression);

/** Rewrites the TOC of a gzip bundle with `edit`. */
async function editToc(path: string, edit: (entries: { name: string }[]) => { name: string }[]): Promise<void> {
  const file = await readFile(path);
  const at = parseTocFooter(file.subarray(file.length - FOOTER_SIZE))!;
  const tar = gunzipSync(file.subarray(at, file.length - FOOTER_SIZE));
  const h = parseTarHeader(tar, 'toc');
  const toc = JSON.parse(tar.subarray(512, 512 + h.size).toString()) as { ferryTocVersion: number; entries: { name: string }[] };
  const json = Buffer.from(JSON.stringify({ ...toc, entries: edit(toc.entries) }));
  const member = gzipSync(Buffer.concat([tarHeader(TOC_ENTRY, json.length, created), json, Buffer.alloc(tarPadding(json.length)), TAR_END]));
  await writeFile(path, Buffer.concat([file.subarray(0, at), member, tocFooter(at)]));
}

// Big enough to be read from its stored member's runs, not inflated.
const bigLayer = blob(MediaType.ociLayerGzip, randomBytes(900_000));
const bigPlan = singlePlan('127.0.0.1:5000/big/verify:1', [bigLayer]);

describe('verifySeekable, a big stored layer', () => {
  it('checks it from its stored runs: sound, then a flipped byte is a digest mismatch', async () => {
    const out = await fixtureBundle(dirs, 'gzip', [bigPlan]);
    const ok = await verifySeekable((await openSeekable(out))!, false);
    expect(ok.contents.files.get(blobPath(bigLayer.digest))?.digest).toBe(bigLayer.digest);
    const file = await readFile(out);
    const data = fixtureBlobs.get(bigLayer.digest)!;
    const at = file.indexOf(data.subarray(400_000, 400_064));
    file[at + 7] = file[at + 7]! ^ 0xff;
    await writeFile(out, file);
    await expect(verifySeekable((await openSeekable(out))!, false)).rejects.toThrow(/expected sha256:[a-f0-9]{64}, calculated/);
  });
});

describe('verifySeekable', () => {
  it.each(['gzip', 'none'] as const)('%s: finds every file with the digest the full reader computes, and the file\'s sha256', async (compression) => {
    const path = await bundle(compression);
    const r = await verifySeekable((await openSeekable(path))!, true);
    const full = await readArchive(path, async () => undefined, { hashFile: true });
    expect(r.contents.fileSha256).toBe(full.fileSha256);
    for (const [name, f] of full.files) expect(r.contents.files.get(name)?.digest, name).toBe(f.digest);
    expect(r.diffIds.get(blobPath(gzA.digest))).toMatch(/^(sha256:|\{)/);
  });

  it('refuses a table of contents that hides an entry (its member would hold more than the table says)', async () => {
    const path = await bundle('gzip');
    await editToc(path, (es) => es.filter((e) => e.name !== blobPath(gzA.digest)));
    await expect(verifySeekable((await openSeekable(path))!, false)).rejects.toThrow(/holds \d+ bytes of tar, the table of contents places \d+ there/);
  });

  it('refuses a layer whose bytes were changed (a gzip CRC or the digest)', async () => {
    const path = await bundle('none');
    const file = await readFile(path);
    const data = (await import('./bundle.fixture.js')).blobs.get(gzA.digest)!;
    const at = file.indexOf(data.subarray(100, 164));
    file[at + 3] = file[at + 3]! ^ 0xff;
    await writeFile(path, file);
    await expect(verifySeekable((await openSeekable(path))!, false)).rejects.toThrow(/expected sha256:[a-f0-9]{64}, calculated/);
  });
});
