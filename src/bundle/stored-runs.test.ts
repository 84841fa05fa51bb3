import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { storedRuns } from './stored-runs.js';

const dirs: string[] = [];
afterAll(async () => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));

/** A gzip member of stored blocks of the given sizes (the last one final). */
function member(data: Buffer, sizes: number[]): Buffer {
  const parts: Buffer[] = [Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 4, 3])];
  let off = 0;
  sizes.forEach((n, i) => {
    const h = Buffer.alloc(5);
    h[0] = i === sizes.length - 1 ? 1 : 0;
    h.writeUInt16LE(n, 1);
    h.writeUInt16LE(~n & 0xffff, 3);
    parts.push(h, data.subarray(off, off + n));
    off += n;
  });
  const t = Buffer.alloc(8);
  t.writeUInt32LE(crcOf(data), 0);
  t.writeUInt32LE(data.length, 4);
  parts.push(t);
  return Buffer.concat(parts);
}

function crcOf(data: Buffer): number {
  // The CRC as zlib computes it: gzip the data and read its trailer.
  const gz = gzipSync(data);
  return gz.readUInt32LE(gz.length - 8);
}

/** The bytes the runs say lie where, read back from `file`. */
function fromRuns(file: Buffer, runs: { at: number; file: number; length: number }[]): Buffer {
  return Buffer.concat(runs.map((r) => file.subarray(r.file, r.file + r.length)));
}

async function runsOf(file: Buffer) {
  const dir = await mkdtemp(join(tmpdir(), 'ferry-runs-'));
  dirs.push(dir);
  const path = join(dir, 'm.gz');
  await writeFile(path, file);
  return storedRuns(path, 0, file.length);
}

describe('storedRuns', () => {
  it('maps full blocks, shorter ones among them (predictions that miss), and the final one', async () => {
    const sizes = [65535, 65535, 100, 65535, 7, 7, 65535, 65535, 65535, 300, 0];
    const data = randomBytes(sizes.reduce((a, b) => a + b, 0));
    const file = member(data, sizes);
    expect(gunzipSync(file).equals(data)).toBe(true);
    const runs = await runsOf(file);
    expect(runs?.length).toBe(sizes.filter((n) => n > 0).length);
    expect(fromRuns(file, runs!).equals(data)).toBe(true);
  });

  it("maps zlib's own level-0 members, and refuses a deflated one", async () => {
    const data = randomBytes(400_000);
    const stored = gzipSync(data, { level: 0 });
    const runs = await runsOf(stored);
    expect(fromRuns(stored, runs!).equals(data)).toBe(true);
    expect(await runsOf(gzipSync(Buffer.alloc(400_000, 1), { level: 6 }))).toBeUndefined();
  });

  it('refuses a member whose length check or end does not hold', async () => {
    const data = randomBytes(70_000);
    const file = member(data, [65535, 70_000 - 65535]);
    const bad = Buffer.from(file);
    bad[10 + 3]! ^= 0xff; // NLEN of the first block
    expect(await runsOf(bad)).toBeUndefined();
    expect(await runsOf(Buffer.concat([file, Buffer.from('x')]))).toBeUndefined();
  });
});
