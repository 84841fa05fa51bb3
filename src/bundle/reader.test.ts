/**
 * The bundle reader against hostile and damaged archives built in memory with tar-stream: each
 * is rejected with a BUNDLE_FORMAT (or DIGEST_MISMATCH) error that names the entry, and the
 * consumer never sees an entry after the bad one.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { pack as tarPack, type Header } from 'tar-stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FerryError } from '../errors.js';
import { JSON_DOCUMENT_LIMIT, readArchive, type ArchiveContents } from './reader.js';

interface Entry {
  header: Partial<Header> & Pick<Header, 'name'>;
  data?: Buffer;
}

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

/** A plain tar of `entries`, headers written exactly as given. */
async function tarOf(entries: Entry[]): Promise<Buffer> {
  const pack = tarPack();
  const chunks: Buffer[] = [];
  const collecting = (async () => {
    for await (const c of pack as AsyncIterable<Buffer>) chunks.push(c);
  })();
  for (const e of entries) {
    await new Promise<void>((resolve, reject) => {
      const done = (err?: Error | null): void => (err ? reject(err) : resolve());
      if (e.header.type && e.header.type !== 'file') pack.entry({ ...e.header, size: 0 }, done);
      else pack.entry({ ...e.header, size: e.data?.length ?? 0 }, e.data ?? Buffer.alloc(0), done);
    });
  }
  pack.finalize();
  await collecting;
  return Buffer.concat(chunks);
}

const file = (name: string, data: string | Buffer): Entry => ({ header: { name, type: 'file', mode: 0o644 }, data: Buffer.from(data) });
const blob = (data: string | Buffer): Entry => file(`blobs/sha256/${sha(Buffer.from(data))}`, data);

let dir: string;
let n = 0;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'ferry-reader-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function write(bytes: Buffer): string {
  const p = join(dir, `archive-${++n}.tar`);
  writeFileSync(p, bytes);
  return p;
}

/** Reads the archive; resolves the names the consumer saw and the contents, or rejects. */
async function read(path: string): Promise<{ seen: string[]; contents: ArchiveContents }> {
  const seen: string[] = [];
  const contents = await readArchive(path, async (f, body) => {
    seen.push(f.name);
    for await (const _ of body) void _;
  });
  return { seen, contents };
}

/** Reads the tar of `entries` (gzip unless told) and returns the error it is rejected with. */
async function rejection(entries: Entry[] | Buffer, gzip = true): Promise<FerryError> {
  const tar = Buffer.isBuffer(entries) ? entries : await tarOf(entries);
  const err = await read(write(gzip ? gzipSync(tar) : tar)).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err, 'the archive was accepted').toBeInstanceOf(FerryError);
  return err as FerryError;
}

const good = [file('oci-layout', '{"imageLayoutVersion":"1.0.0"}'), blob('layer bytes')];

describe('readArchive', () => {
  it('reads a sound archive, gzip or plain, and hashes every file', async () => {
    for (const gz of [true, false]) {
      const tar = await tarOf([{ header: { name: 'blobs/', type: 'directory' } }, { header: { name: 'blobs/sha256/', type: 'directory' } }, ...good, file('./index.json', '{}')]);
      const { seen, contents } = await read(write(gz ? gzipSync(tar) : tar));
      expect(seen).toEqual(['oci-layout', `blobs/sha256/${sha(Buffer.from('layer bytes'))}`, 'index.json']);
      expect(contents.files.get('index.json')).toEqual({ name: 'index.json', size: 2, digest: `sha256:${sha(Buffer.from('{}'))}` });
      expect(contents.small.get('index.json')?.toString()).toBe('{}');
    }
  });

  it('bundle reader rejects ../ entries', async () => {
    const err = await rejection([...good, file('blobs/../../etc/passwd', 'x')]);
    expect(err.code).toBe('BUNDLE_FORMAT');
    expect(err.message).toBe('bundle entry "blobs/../../etc/passwd" is rejected: its path leaves the archive (..)');
  });

  it('bundle reader rejects absolute entry names', async () => {
    const err = await rejection([file('/etc/cron.d/x', 'x')]);
    expect(err.message).toBe('bundle entry "/etc/cron.d/x" is rejected: it has an absolute path');
  });

  it('bundle reader rejects a symlink that points out of the archive', async () => {
    const err = await rejection([{ header: { name: 'blobs/sha256/evil', type: 'symlink', linkname: '/etc/passwd' } }]);
    expect(err.message).toBe('bundle entry "blobs/sha256/evil" is rejected: it is a symlink (to "/etc/passwd"), and a bundle holds only regular files');
  });

  it('bundle reader rejects a layer link that climbs out (../../)', async () => {
    const id = 'a'.repeat(64);
    const err = await rejection([{ header: { name: `${id}/layer.tar`, type: 'symlink', linkname: `../../${'b'.repeat(64)}/layer.tar` } }]);
    expect(err.message).toContain(`bundle entry "${id}/layer.tar" is rejected: it is a symlink (to "../../`);
  });

  it('bundle reader accepts docker save layer links only to a layer the archive holds', async () => {
    const [a, b] = ['a'.repeat(64), 'b'.repeat(64)];
    const link: Entry = { header: { name: `${a}/layer.tar`, type: 'symlink', linkname: `../${b}/layer.tar` } };
    const ok = await read(write(await tarOf([file(`${b}/layer.tar`, 'tar'), link])));
    expect(ok.contents.files.get(`${a}/layer.tar`)).toMatchObject({ aliasOf: `${b}/layer.tar`, digest: `sha256:${sha(Buffer.from('tar'))}` });
    const err = await rejection([link]);
    expect(err.message).toBe(`bundle entry "${a}/layer.tar" links to "${b}/layer.tar", which the archive does not hold`);
  });

  it('bundle reader rejects hard links', async () => {
    const err = await rejection([...good, { header: { name: 'index.json', type: 'link', linkname: '/etc/shadow' } }]);
    expect(err.message).toBe('bundle entry "index.json" is rejected: it is a link entry, and a bundle holds only regular files');
  });

  it.each(['character-device', 'block-device', 'fifo'] as const)('bundle reader rejects %s entries', async (type) => {
    const err = await rejection([{ header: { name: 'dev/null', type, devmajor: 1, devminor: 3 } }]);
    expect(err.message).toBe(`bundle entry "dev/null" is rejected: it is a ${type} entry, and a bundle holds only regular files`);
  });

  it('bundle reader rejects an entry that appears twice, also under another spelling', async () => {
    expect((await rejection([...good, file('index.json', '{}'), file('index.json', '{"x":1}')])).message).toBe('bundle entry "index.json" appears twice');
    expect((await rejection([file('index.json', '{}'), file('./index.json', '{}')])).message).toBe('bundle entry "index.json" appears twice');
  });

  it('bundle reader rejects a JSON document over its size limit before reading it', async () => {
    const err = await rejection([file('index.json', Buffer.alloc(JSON_DOCUMENT_LIMIT + 1, 0x20))]);
    expect(err.message).toBe(`bundle entry "index.json" is ${JSON_DOCUMENT_LIMIT + 1} bytes, more than the ${JSON_DOCUMENT_LIMIT} allowed for it`);
  });

  it('bundle reader rejects a blob whose bytes do not hash to its name', async () => {
    const name = `blobs/sha256/${sha(Buffer.from('the real bytes'))}`;
    const err = await rejection([file(name, 'other bytes')]);
    expect(err.code).toBe('DIGEST_MISMATCH');
    expect(err.message).toBe(`bundle entry ${name}: expected sha256:${sha(Buffer.from('the real bytes'))}, calculated sha256:${sha(Buffer.from('other bytes'))}`);
  });

  it('bundle reader rejects a truncated tar, naming the entry cut short', async () => {
    const big = Buffer.alloc(64 * 1024, 7);
    const tar = await tarOf([file('oci-layout', '{}'), blob(big)]);
    const cut = tar.subarray(0, 512 + 512 + 512 + 10_000); // oci-layout header+data, blob header, part of the blob
    for (const gz of [true, false]) {
      const err = await rejection(gz ? gzipSync(cut) : cut, false);
      expect(err.code).toBe('BUNDLE_FORMAT');
      expect(err.message).toMatch(new RegExp(`^reading .*: the archive ends early \\(truncated\\) inside bundle entry "blobs/sha256/${sha(big)}"$`));
    }
  });

  it('bundle reader rejects a truncated gzip stream, naming the entry cut short', async () => {
    const data = randomBytes(100_000);
    const gz = gzipSync(await tarOf([...good, blob(data)]));
    const path = write(gz.subarray(0, Math.floor(gz.length / 2)));
    const err = await read(path).then(() => undefined, (e: unknown) => e as FerryError);
    expect(err?.code).toBe('BUNDLE_FORMAT');
    expect(err?.message).toBe(`reading ${path}: the archive ends early (truncated) inside bundle entry "blobs/sha256/${sha(data)}"`);
    // Cut after the last entry, in the end-of-archive blocks: still an error, naming no entry.
    const tail = write(gz.subarray(0, gz.length - 8));
    await expect(read(tail)).rejects.toThrow(`reading ${tail}: the archive ends early (truncated)`);
  });

  it('bundle reader rejects a corrupted gzip stream', async () => {
    const gz = gzipSync(await tarOf(good));
    const mid = Math.floor(gz.length / 2);
    gz[mid] = gz[mid]! ^ 0xff;
    const path = write(gz);
    const err = await read(path).then(() => undefined, (e: unknown) => e as FerryError);
    expect(err?.code).toBe('BUNDLE_FORMAT');
    expect(err?.message).toContain(path);
  });
});
