import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { GzipLevelSwitcher, type LevelSwitch } from './gzip-switcher.js';

const MiB = 1024 * 1024;

/** Compressible text in which every 64-byte window is unique (numbered lines). */
function text(n: number): Buffer {
  const lines: string[] = [];
  let len = 0;
  for (let i = 0; len < n; i++) {
    const line = `${String(i).padStart(8, '0')} the quick brown fox jumps over the lazy dog\n`;
    lines.push(line);
    len += line.length;
  }
  return Buffer.from(lines.join('')).subarray(0, n);
}

function chunks(b: Buffer, sizes: readonly number[]): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0, k = 0; i < b.length; k++) {
    const n = sizes[k % sizes.length]!;
    out.push(b.subarray(i, i + n));
    i += n;
  }
  return out;
}

/** Writes `parts` through a switcher and resolves the gzip bytes it produced. */
async function compress(parts: readonly Buffer[], switches: readonly LevelSwitch[], initialLevel?: number): Promise<Buffer> {
  const sw = initialLevel === undefined ? new GzipLevelSwitcher(switches) : new GzipLevelSwitcher(switches, initialLevel);
  const out: Buffer[] = [];
  const collected = (async () => {
    for await (const c of sw.output as AsyncIterable<Buffer>) out.push(c);
  })();
  await Promise.all([pipeline(Readable.from(parts), sw), collected]);
  return Buffer.concat(out);
}

/**
 * Whether a stored deflate block starts exactly at `data[k]`: the window data[k..k+64] appears
 * verbatim in the output, right after a stored block's LEN/NLEN pair.
 */
function storedBlockStartsAt(gz: Buffer, data: Buffer, k: number): boolean {
  const i = gz.indexOf(data.subarray(k, k + 64));
  if (i < 4) return false;
  return (gz.readUInt16LE(i - 4) ^ gz.readUInt16LE(i - 2)) === 0xffff;
}

describe('GzipLevelSwitcher round trip (gunzip with node:zlib is the oracle)', () => {
  const rnd = randomBytes(700_000);
  const txt = text(700_000);
  const mixed = Buffer.concat([text(100_003), randomBytes(250_001), text(99_999), randomBytes(77_777), text(50_000)]);

  const cases: [label: string, data: Buffer, sizes: number[], switches: LevelSwitch[]][] = [
    ['random data, no switches', rnd, [65_536], []],
    ['text, no switches', txt, [65_536], []],
    ['random data, stored from offset 0', rnd, [65_536], [{ offset: 0, level: 0 }]],
    ['text, switch inside a chunk', txt, [10_000], [{ offset: 12_345, level: 0 }]],
    ['text, switch on a chunk boundary', txt, [10_000], [{ offset: 30_000, level: 0 }, { offset: 40_000, level: 6 }]],
    ['text, two adjacent switches', txt, [7_777], [{ offset: 5_001, level: 0 }, { offset: 5_002, level: 9 }, { offset: 5_003, level: 0 }, { offset: 300_001, level: 1 }]],
    ['text, two switches at the same offset', txt, [4_096], [{ offset: 50_000, level: 0 }, { offset: 50_000, level: 6 }]],
    ['switch to the level already in effect', txt, [4_096], [{ offset: 1, level: 6 }, { offset: 2, level: 0 }]],
    [
      'mixed data, switches at odd offsets, odd chunk sizes',
      mixed,
      [1, 3, 511, 512, 513, 65_537, 131_071],
      [
        { offset: 100_003, level: 0 },
        { offset: 350_004, level: 6 },
        { offset: 450_003, level: 0 },
        { offset: 527_780, level: 9 },
      ],
    ],
    ['all data in one write, many switches inside it', mixed, [mixed.length], [1, 2, 3, 1000, 1001, 99_999, 350_000, 527_779].map((offset, i) => ({ offset, level: i % 2 === 0 ? 0 : 6 }))],
    ['switch past the end of the data', txt.subarray(0, 1000), [100], [{ offset: 5000, level: 0 }]],
    ['empty input', Buffer.alloc(0), [1], [{ offset: 0, level: 0 }]],
  ];

  it.each(cases)('%s', async (_label, data, sizes, switches) => {
    const gz = await compress(chunks(data, sizes), switches);
    const back = gunzipSync(gz);
    expect(back.length).toBe(data.length);
    expect(back.equals(data)).toBe(true);
  });

  it('switches land exactly at their offsets', async () => {
    const data = text(400_000);
    const offsets = [12_345, 200_001];
    const gz = await compress(chunks(data, [10_000]), [
      { offset: offsets[0]!, level: 0 },
      { offset: 100_000, level: 6 },
      { offset: offsets[1]!, level: 0 },
    ]);
    expect(gunzipSync(gz).equals(data)).toBe(true);
    for (const k of offsets) {
      expect(storedBlockStartsAt(gz, data, k)).toBe(true);
      // The byte before the switch was deflated, not stored.
      expect(gz.indexOf(data.subarray(k - 1, k + 63))).toBe(-1);
    }
  });
});

describe('GzipLevelSwitcher output size', () => {
  it('a stored range of 1 MiB random data grows by at most 1%', async () => {
    const data = randomBytes(MiB);
    const gz = await compress(chunks(data, [65_536]), [{ offset: 0, level: 0 }]);
    expect(gunzipSync(gz).equals(data)).toBe(true);
    expect(gz.length).toBeLessThanOrEqual(data.length * 1.01);
  });

  it('text ranges are deflated while the random range between them is stored', async () => {
    const t1 = text(MiB);
    const r = randomBytes(MiB);
    const t2 = text(MiB / 2);
    const data = Buffer.concat([t1, r, t2]);
    const gz = await compress(chunks(data, [100_000]), [
      { offset: MiB, level: 0 },
      { offset: 2 * MiB, level: 6 },
    ]);
    expect(gunzipSync(gz).equals(data)).toBe(true);
    // The text compresses at least 4:1, the random MiB costs at most 1% extra.
    expect(gz.length).toBeLessThan(r.length * 1.01 + (t1.length + t2.length) / 4);
    expect(gz.length).toBeGreaterThanOrEqual(r.length);
  });

  it('level 0 really stores: text in a stored range is not compressed', async () => {
    const data = text(MiB);
    const stored = await compress(chunks(data, [65_536]), [{ offset: 0, level: 0 }]);
    const deflated = await compress(chunks(data, [65_536]), []);
    expect(stored.length).toBeGreaterThanOrEqual(data.length);
    expect(deflated.length).toBeLessThan(data.length / 4);
  });

  it('honours the initial level', async () => {
    const data = text(MiB);
    const gz = await compress(chunks(data, [65_536]), [{ offset: MiB / 2, level: 6 }], 0);
    expect(gunzipSync(gz).equals(data)).toBe(true);
    expect(gz.length).toBeGreaterThan(MiB / 2);
    expect(gz.length).toBeLessThan(MiB / 2 + MiB / 8);
  });
});
