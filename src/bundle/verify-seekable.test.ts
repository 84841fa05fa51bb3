import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { blobPath, sha256Digest } from '../digest/digest.js';
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

  /** The member of the big layer: its offset and end in `file` (the next member's offset). */
  async function bigMember(out: string, layer = bigLayer): Promise<{ file: Buffer; start: number; end: number; name: string }> {
    const s = (await openSeekable(out))!;
    const name = blobPath(layer.digest);
    const start = s.entries.find((e) => e.name === name)!.member;
    const end = Math.min(...s.entries.map((e) => e.member).filter((m) => m > start), s.end);
    return { file: await readFile(out), start, end, name };
  }

  it('checks the member\'s CRC32: a changed byte of tar padding (the digest still matches) is named as gzip damage in that entry', async () => {
    const out = await fixtureBundle(dirs, 'gzip', [bigPlan]);
    const { file, end, name } = await bigMember(out);
    // The last stored block ends with the tar padding of the 900,000-byte layer, then 8 bytes of CRC32 and ISIZE.
    file[end - 9] = file[end - 9]! ^ 0x01;
    await writeFile(out, file);
    await expect(verifySeekable((await openSeekable(out))!, false)).rejects.toThrow(`the gzip data is corrupted (incorrect data check) inside bundle entry "${name}"`);
  });

  /** Puts `bytes` in place of the member [start, end) of the bundle `out`, the TOC moved to match. */
  async function replaceMember(out: string, start: number, end: number, bytes: Buffer): Promise<void> {
    const file = await readFile(out);
    const shift = bytes.length - (end - start);
    const at = parseTocFooter(file.subarray(file.length - FOOTER_SIZE))!;
    const tocTar = gunzipSync(file.subarray(at, file.length - FOOTER_SIZE));
    const h = parseTarHeader(tocTar, 'toc');
    const toc = JSON.parse(tocTar.subarray(512, 512 + h.size).toString()) as { entries: { member: number }[] };
    const json = Buffer.from(JSON.stringify({ ...toc, entries: toc.entries.map((e) => (e.member > start ? { ...e, member: e.member + shift } : e)) }));
    const tocMember = gzipSync(Buffer.concat([tarHeader(TOC_ENTRY, json.length, created), json, Buffer.alloc(tarPadding(json.length)), TAR_END]));
    await writeFile(out, Buffer.concat([file.subarray(0, start), bytes, file.subarray(end, at), tocMember, tocFooter(at + shift)]));
  }

  it('reads on past a stored member\'s trailer as gunzip does: an empty gzip member after it is sound', async () => {
    const out = await fixtureBundle(dirs, 'gzip', [bigPlan]);
    const { file, start, end } = await bigMember(out);
    await replaceMember(out, start, end, Buffer.concat([file.subarray(start, end), gzipSync(Buffer.alloc(0))]));
    const r = await verifySeekable((await openSeekable(out))!, false);
    expect(r.contents.files.get(blobPath(bigLayer.digest))?.digest).toBe(bigLayer.digest);
  });

  it('checks the member\'s ISIZE', async () => {
    const out = await fixtureBundle(dirs, 'gzip', [bigPlan]);
    const { file, end } = await bigMember(out);
    const isize = Buffer.from(file.subarray(end - 4, end));
    file.writeUInt32LE(isize.readUInt32LE(0) + 1, end - 4);
    await writeFile(out, file);
    await expect(verifySeekable((await openSeekable(out))!, false)).rejects.toThrow(/incorrect length check/);
  });

  it('inflates a big layer\'s member that is deflated, not stored, and finds the same digests', async () => {
    // A compressible layer (gzip at level 0 of text), so that gzip at level 1 deflates its member.
    const textLayer = blob(MediaType.ociLayerGzip, gzipSync(Buffer.alloc(700_000, 'ferry verify '), { level: 0 }));
    const out = await fixtureBundle(dirs, 'gzip', [singlePlan('127.0.0.1:5000/text/verify:1', [textLayer])]);
    const before = await verifySeekable((await openSeekable(out))!, true);
    const { file, start, end } = await bigMember(out, textLayer);
    // The same member again, written by gzip at level 1 (deflated blocks), where the TOC says it is: only the following offsets move.
    const deflated = gzipSync(gunzipSync(file.subarray(start, end)), { level: 1 });
    expect(deflated.length).not.toBe(end - start);
    await replaceMember(out, start, end, deflated);
    const after = await verifySeekable((await openSeekable(out))!, true);
    expect(after.contents.files.get(blobPath(textLayer.digest))?.digest).toBe(textLayer.digest);
    expect(after.diffIds.get(blobPath(textLayer.digest))).toMatch(/^sha256:/);
    expect(after.diffIds).toEqual(before.diffIds);
  });
});

describe('verifySeekable --deep, big gzip layers (decompressed on another thread)', () => {
  it('gives each layer the sha256 of its decompressed bytes, and says why a layer does not decompress', async () => {
    const tarA = randomBytes(700_000);
    const good = blob(MediaType.ociLayerGzip, gzipSync(tarA, { level: 1 }));
    const broken = gzipSync(randomBytes(600_000), { level: 1 });
    broken[300_000] = broken[300_000]! ^ 0xff; // a stored block's LEN, or its data: the CRC then fails
    const bad = blob(MediaType.ociLayerGzip, broken);
    const out = await fixtureBundle(dirs, 'gzip', [singlePlan('127.0.0.1:5000/deep/verify:1', [good, bad])]);
    const r = await verifySeekable((await openSeekable(out))!, true);
    expect(r.diffIds.get(blobPath(good.digest))).toBe(sha256Digest(tarA));
    expect(r.diffIds.get(blobPath(bad.digest))).toEqual({ error: expect.stringMatching(/^the layer does not decompress: the gzip data is corrupted \(/) });
    // The bytes as the bundle holds them are sound: the digests match.
    expect(r.contents.files.get(blobPath(bad.digest))?.digest).toBe(bad.digest);
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
