/**
 * The table of contents of a seekable bundle (format 2, docs/bundle-format.md): where each
 * tar entry starts, in the tar and in the file, so a reader reaches any blob without inflating
 * what comes before it. It is the archive's last entry, `ferry-toc.json`, in a gzip member of
 * its own; the file then ends with a fixed-size, empty gzip member (the footer) whose FEXTRA
 * field gives the file offset of that member. The footer follows eStargz's (stargz-snapshotter
 * `estargz.go`): readers that do not know it see an empty member and nothing else.
 */
import { z } from 'zod';
import { FerryError } from '../errors.js';

export const TOC_ENTRY = 'ferry-toc.json';
export const TOC_VERSION = 1;

export interface TocEntry {
  /** The tar entry's name. */
  name: string;
  /** Its data size. */
  size: number;
  /** Offset of its header in the tar stream (the uncompressed bytes). */
  offset: number;
  /** File offset of the gzip member that holds the header (equal to `offset` in a plain tar). */
  member: number;
  /** Offset in the tar stream at which that member starts. */
  memberOffset: number;
}

export interface Toc {
  ferryTocVersion: number;
  entries: TocEntry[];
}

const tocSchema = z.object({
  ferryTocVersion: z.literal(TOC_VERSION),
  entries: z.array(
    z.object({
      name: z.string().min(1).max(99),
      size: z.number().int().nonnegative(),
      offset: z.number().int().nonnegative(),
      member: z.number().int().nonnegative(),
      memberOffset: z.number().int().nonnegative(),
    }),
  ),
});

/** Parses and checks a TOC's JSON; throws BUNDLE_FORMAT naming `where`. */
export function parseToc(text: string, where: string): Toc {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new FerryError('BUNDLE_FORMAT', `${where}: ${TOC_ENTRY} is not valid JSON`, { cause: err });
  }
  const r = tocSchema.safeParse(value);
  if (!r.success) throw new FerryError('BUNDLE_FORMAT', `${where}: ${TOC_ENTRY} is malformed (${r.error.issues[0]?.path.join('.') || 'root'}: ${r.error.issues[0]?.message})`);
  for (const e of r.data.entries) {
    if (e.memberOffset > e.offset) throw new FerryError('BUNDLE_FORMAT', `${where}: ${TOC_ENTRY} places "${e.name}" before its gzip member`);
  }
  return r.data;
}

const MAGIC = 'FERRYTOC';
/** gzip header with FEXTRA (10) + XLEN (2) + subfield id and length (4) + payload (24) + empty deflate (2) + CRC32 and ISIZE (8). */
export const FOOTER_SIZE = 50;

/** The footer member pointing at the TOC member at file offset `tocMember`. */
export function tocFooter(tocMember: number): Buffer {
  const b = Buffer.alloc(FOOTER_SIZE);
  b.set([0x1f, 0x8b, 0x08, 0x04, 0, 0, 0, 0, 0x00, 0xff], 0); // FLG.FEXTRA, no mtime, OS unknown
  b.writeUInt16LE(28, 10); // XLEN: one subfield of 4 + 24 bytes
  b.write('FY', 12, 'ascii'); // subfield id
  b.writeUInt16LE(24, 14);
  b.write(`${tocMember.toString(16).padStart(16, '0')}${MAGIC}`, 16, 'ascii');
  b.set([0x03, 0x00], 40); // a final, empty fixed-Huffman block
  // CRC32 and ISIZE of nothing: zero.
  return b;
}

/** The TOC member's file offset from a file's last FOOTER_SIZE bytes, or undefined when they are no ferry footer. */
export function parseTocFooter(tail: Buffer): number | undefined {
  if (tail.length !== FOOTER_SIZE) return undefined;
  if (tail[0] !== 0x1f || tail[1] !== 0x8b || tail[2] !== 0x08 || tail[3] !== 0x04) return undefined;
  if (tail.readUInt16LE(10) !== 28 || tail.toString('ascii', 12, 14) !== 'FY' || tail.readUInt16LE(14) !== 24) return undefined;
  const payload = tail.toString('ascii', 16, 40);
  if (!payload.endsWith(MAGIC) || !/^[0-9a-f]{16}$/.test(payload.slice(0, 16))) return undefined;
  const offset = parseInt(payload.slice(0, 16), 16);
  return Number.isSafeInteger(offset) ? offset : undefined;
}
