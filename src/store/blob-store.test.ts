import { randomBytes } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { sha256Digest, digestHex } from '../digest/digest.js';
import { DigestMismatchError, FerryError } from '../errors.js';
import type { RetryPolicy } from '../registry/retry.js';
import type { BlobOpener } from '../content/image-source.js';
import { blobContent } from '../transfer/blob-content.js';
import { BlobStore } from './blob-store.js';

/** A download as the copy engine makes it: the source's bytes through the engine's verified content into the store. */
function fetchInto(store: BlobStore, digest: string, size: number, opener: BlobOpener, subject: string, onBytes?: (n: number) => void, retry?: RetryPolicy) {
  return store.receive(digest, size, blobContent(opener, size, digest, subject), subject, onBytes, retry);
}

const fast: RetryPolicy = { attempts: 3, baseDelayMs: 1, maxDelayMs: 5 };
const data = randomBytes(300_001);
const digest = sha256Digest(data);

/** Chunks of `b` of at most 16 KiB, so streams have several chunks. */
function chunked(b: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < b.length; i += 16_384) out.push(b.subarray(i, i + 16_384));
  return out;
}

/** An opener serving `content` that honours Range, recording the offsets it was asked for. */
function serving(content: Buffer, opts: { ignoreRange?: boolean } = {}): BlobOpener & { calls: number[] } {
  const calls: number[] = [];
  const opener = async (offset: number): Promise<{ body: Readable; start: number }> => {
    calls.push(offset);
    const start = opts.ignoreRange ? 0 : offset;
    return { body: Readable.from(chunked(content.subarray(start))), start };
  };
  return Object.assign(opener, { calls });
}

let dir: string;
let store: BlobStore;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ferry-store-'));
  // Every blob through the resumable path (partial file, lock, Range), whatever its size.
  store = new BlobStore(dir, 0);
  await store.init();
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const partialDir = (): string => join(dir, 'partial');

async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  throw new Error('expected a rejection');
}

describe('BlobStore.fetch', () => {
  it('downloads, verifies and makes the blob visible at path()', async () => {
    const opener = serving(data);
    let reported = 0;
    expect(await fetchInto(store, digest, data.length, opener, 'layer', (n) => (reported += n), fast)).toBe('downloaded');
    expect((await readFile(store.path(digest))).equals(data)).toBe(true);
    expect(store.path(digest)).toBe(join(dir, 'blobs', 'sha256', digestHex(digest)));
    expect(opener.calls).toEqual([0]);
    expect(reported).toBe(data.length);
    expect(await readdir(partialDir())).toEqual([]);
    expect(await store.has(digest, data.length)).toBe(true);
  });

  it('does not call the opener for a cached blob', async () => {
    await fetchInto(store, digest, data.length, serving(data), 'layer', undefined, fast);
    const opener = serving(data);
    expect(await fetchInto(store, digest, data.length, opener, 'layer', undefined, fast)).toBe('cached');
    expect(opener.calls).toEqual([]);
  });

  it('rejects content with the wrong digest and leaves nothing in partial/ or blobs/', async () => {
    const wrong = Buffer.from(data);
    wrong[1234] = wrong[1234]! ^ 1;
    const err = await rejection(fetchInto(store, digest, data.length, serving(wrong), 'layer L of img', undefined, fast));
    expect(err).toBeInstanceOf(DigestMismatchError);
    expect((err as Error).message).toBe(`layer L of img: expected ${digest}, calculated ${sha256Digest(wrong)}`);
    expect(await readdir(partialDir())).toEqual([]);
    expect(await readdir(join(dir, 'blobs', 'sha256'))).toEqual([]);
  });

  it('rejects too many bytes as a size mismatch and cleans up', async () => {
    const err = await rejection(fetchInto(store, digest, data.length, serving(Buffer.concat([data, Buffer.from('x')])), 'layer', undefined, fast));
    expect(err).toBeInstanceOf(DigestMismatchError);
    expect((err as Error).message).toBe(`layer: expected size ${data.length}, calculated more than ${data.length} bytes`);
    expect(await readdir(partialDir())).toEqual([]);
  });

  it('rejects too few bytes as a size mismatch and cleans up', async () => {
    const err = await rejection(fetchInto(store, digest, data.length, serving(data.subarray(0, 1000)), 'layer', undefined, fast));
    expect(err).toBeInstanceOf(DigestMismatchError);
    expect((err as Error).message).toBe(`layer: expected size ${data.length}, calculated size 1000`);
    expect(await readdir(partialDir())).toEqual([]);
  });

  it('resumes a partial file with a Range request from its length', async () => {
    const half = Math.floor(data.length / 2);
    await writeFile(join(partialDir(), digestHex(digest)), data.subarray(0, half));
    const opener = serving(data);
    let reported = 0;
    expect(await fetchInto(store, digest, data.length, opener, 'layer', (n) => (reported += n), fast)).toBe('downloaded');
    expect(opener.calls).toEqual([half]);
    expect((await readFile(store.path(digest))).equals(data)).toBe(true);
    expect(reported).toBe(data.length);
    expect(await readdir(partialDir())).toEqual([]);
  });

  it('starts over when the server ignores Range and sends the whole blob', async () => {
    const half = Math.floor(data.length / 2);
    await writeFile(join(partialDir(), digestHex(digest)), data.subarray(0, half));
    const opener = serving(data, { ignoreRange: true });
    expect(await fetchInto(store, digest, data.length, opener, 'layer', undefined, fast)).toBe('downloaded');
    expect(opener.calls).toEqual([half]);
    expect((await readFile(store.path(digest))).equals(data)).toBe(true);
    expect(await readdir(partialDir())).toEqual([]);
  });

  it('commits a complete partial file without calling the opener', async () => {
    await writeFile(join(partialDir(), digestHex(digest)), data);
    const opener = serving(data);
    expect(await fetchInto(store, digest, data.length, opener, 'layer', undefined, fast)).toBe('downloaded');
    expect(opener.calls).toEqual([]);
    expect((await readFile(store.path(digest))).equals(data)).toBe(true);
  });

  it('discards a partial file longer than the blob and downloads again', async () => {
    await writeFile(join(partialDir(), digestHex(digest)), Buffer.concat([data, Buffer.from('junk')]));
    const opener = serving(data);
    expect(await fetchInto(store, digest, data.length, opener, 'layer', undefined, fast)).toBe('downloaded');
    expect(opener.calls).toEqual([0]);
    expect((await readFile(store.path(digest))).equals(data)).toBe(true);
  });

  it('retries a reset mid-body and resumes from what reached the disk', async () => {
    const cut = 100_000;
    const calls: number[] = [];
    const opener: BlobOpener = async (offset) => {
      calls.push(offset);
      if (calls.length === 1) {
        const body = new Readable({ read() {} });
        for (const c of chunked(data.subarray(0, cut))) body.push(c);
        setTimeout(() => body.destroy(Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' })), 5);
        return { body, start: 0 };
      }
      return { body: Readable.from(chunked(data.subarray(offset))), start: offset };
    };
    expect(await fetchInto(store, digest, data.length, opener, 'layer', undefined, fast)).toBe('downloaded');
    expect(calls).toHaveLength(2);
    expect(calls[0]).toBe(0);
    expect(calls[1]).toBeGreaterThanOrEqual(0);
    expect(calls[1]).toBeLessThanOrEqual(cut);
    expect((await readFile(store.path(digest))).equals(data)).toBe(true);
    expect(await readdir(partialDir())).toEqual([]);
  });

  it('retries an opener that fails to connect', async () => {
    let n = 0;
    const opener: BlobOpener = async (offset) => {
      if (++n === 1) throw Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
      return { body: Readable.from(chunked(data.subarray(offset))), start: offset };
    };
    expect(await fetchInto(store, digest, data.length, opener, 'layer', undefined, fast)).toBe('downloaded');
    expect(n).toBe(2);
  });

  it('gives up after the policy attempts with a NETWORK error naming the blob, keeping the partial', async () => {
    let n = 0;
    const opener: BlobOpener = async (offset) => {
      n++;
      const body = new Readable({ read() {} });
      body.push(data.subarray(offset, offset + 1000));
      setTimeout(() => body.destroy(Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' })), 5);
      return { body, start: offset };
    };
    const err = await rejection(fetchInto(store, digest, data.length, opener, 'layer L of img', undefined, fast));
    expect(n).toBe(fast.attempts);
    expect(err).toBeInstanceOf(FerryError);
    expect((err as FerryError).code).toBe('NETWORK');
    expect((err as FerryError).message).toMatch(/^layer L of img: download failed: read ECONNRESET/);
    // What was downloaded stays for the next run; the lock is gone.
    expect(await readdir(partialDir())).toEqual([digestHex(digest)]);
  });

  it('does not retry errors that are not transient', async () => {
    let n = 0;
    const opener: BlobOpener = async () => {
      n++;
      throw new FerryError('NOT_FOUND', 'GET /v2/x/blobs/d: 404 BLOB_UNKNOWN');
    };
    const err = await rejection(fetchInto(store, digest, data.length, opener, 'layer', undefined, fast));
    expect(n).toBe(1);
    expect((err as FerryError).code).toBe('NOT_FOUND');
  });

  it('two concurrent fetches of one blob download it once', async () => {
    const opener = serving(data);
    const [a, b] = await Promise.all([
      fetchInto(store, digest, data.length, opener, 'layer', undefined, fast),
      fetchInto(store, digest, data.length, opener, 'layer', undefined, fast),
    ]);
    expect([a, b].sort()).toEqual(['cached', 'downloaded']);
    expect(opener.calls).toEqual([0]);
  });
});

describe('BlobStore.fetch of small blobs (fetched whole, no partial file)', () => {
  it('verifies and stores a small blob without touching partial/', async () => {
    const small = new BlobStore(dir);
    const content = Buffer.from('a small config blob');
    const opener = serving(content);
    expect(await fetchInto(small, sha256Digest(content), content.length, opener, 'config x')).toBe('downloaded');
    expect(opener.calls).toEqual([0]);
    expect(await readFile(small.path(sha256Digest(content)))).toEqual(content);
    expect(await readdir(join(dir, 'partial'))).toEqual([]);
  });

  it('rejects a small blob with the wrong content and stores nothing', async () => {
    const small = new BlobStore(dir);
    const content = Buffer.from('not what was asked for');
    await expect(fetchInto(small, sha256Digest(Buffer.from("other")), content.length, serving(content), 'config y')).rejects.toMatchObject({ code: 'DIGEST_MISMATCH' });
    expect(await small.list()).toEqual([]);
    expect(await readdir(join(dir, 'partial'))).toEqual([]);
  });
});

describe('BlobStore.putBuffer', () => {
  it('stores content that matches its digest', async () => {
    const b = Buffer.from('{"config":true}');
    await store.putBuffer(sha256Digest(b), b, 'config');
    expect((await readFile(store.path(sha256Digest(b)))).equals(b)).toBe(true);
  });

  it('refuses content that does not match its digest', async () => {
    const err = await rejection(store.putBuffer(digest, Buffer.from('other'), 'manifest M'));
    expect(err).toBeInstanceOf(DigestMismatchError);
    expect(await store.has(digest)).toBe(false);
  });
});

describe('BlobStore.list and remove', () => {
  it('lists verified blobs only, and removes them', async () => {
    await fetchInto(store, digest, data.length, serving(data), 'layer', undefined, fast);
    await mkdir(join(dir, 'blobs', 'sha256'), { recursive: true });
    await writeFile(join(dir, 'blobs', 'sha256', 'not-a-digest'), 'x');
    const listed = await store.list();
    expect(listed.map((b) => [b.digest, b.size])).toEqual([[digest, data.length]]);
    await store.remove(digest);
    expect(await store.has(digest)).toBe(false);
  });
});

describe('reclaimStale (temp files of killed runs)', () => {
  const host = hostname().replace(/[^A-Za-z0-9_-]/g, '_') || 'host';
  const deadPid = (): number => {
    const r = spawnSync(process.execPath, ['-e', '0']);
    return r.pid;
  };

  it("removes this host's temps of dead processes, keeps a live process's, and keeps another host's until they are a day old", async () => {
    const partial = join(dir, 'partial');
    await mkdir(partial, { recursive: true });
    const dead = deadPid();
    const files = {
      deadIngest: `ingest-${host}-${dead}-1`,
      deadSmall: `${'a'.repeat(64)}.${host}.${dead}.2`,
      liveIngest: `ingest-${host}-${process.ppid}-3`,
      otherHostFresh: `ingest-other-container-1-4`,
      otherHostOld: `${'b'.repeat(64)}.other-container.1.5`,
      resumable: 'c'.repeat(64),
    };
    for (const f of Object.values(files)) await writeFile(join(partial, f), 'x');
    const old = new Date(Date.now() - 25 * 3600_000);
    await utimes(join(partial, files.otherHostOld), old, old);
    const got = await store.reclaimStale();
    expect(got.files).toBe(3);
    expect((await readdir(partial)).sort()).toEqual([files.liveIngest, files.otherHostFresh, files.resumable].sort());
  });
});
