/**
 * Volumes of a bundle (`save`/`export --split SIZE`, docs/bundle-format.md "Volumes"): the
 * bundle's bytes cut into `NAME.001`, `NAME.002`, ... at gzip member boundaries, so that their
 * concatenation is exactly one format-2 bundle. Each volume begins with an empty gzip member
 * whose FEXTRA field (RFC 1952 §2.3.1.1) holds one subfield, id `FV`: the volume header, a
 * small JSON document saying which set the volume belongs to, which part it is, and where it
 * starts in the set (in the file and in the tar stream). Readers that do not know it see an
 * empty member. Everything in it is known when the volume is started, so a volume is written
 * once, front to back, and the same inputs give the same bytes.
 */
import { z } from 'zod';
import { FerryError, UsageError } from '../errors.js';

export const VOLUME_HEADER_VERSION = 1;
/** Volumes are numbered with three digits: `cat NAME.0*` or `NAME.[0-9]*` puts them in order. */
export const MAX_VOLUMES = 999;
/** The smallest --split: below it the per-volume overhead is no longer negligible. */
export const MIN_SPLIT = 1_000_000;
/** A gzip header with FEXTRA (10) + XLEN (2) + subfield id and length (4), then the empty deflate block (2) and CRC32 + ISIZE (8). */
const OVERHEAD = 26;
/** FEXTRA holds at most 65535 bytes, 4 of them the subfield's id and length. */
const MAX_PAYLOAD = 65535 - 4;

export interface VolumeHeader {
  ferryVolumeVersion: number;
  /** The set's id: the same in every volume of one write (derived from the bundle's content and SIZE). */
  set: string;
  /** 1 for the first volume. */
  part: number;
  /** The --split size the set was written with (each volume is at most this many bytes). */
  split: number;
  /** Where this volume starts in the set's concatenation (the sum of the sizes of the volumes before it). */
  fileOffset: number;
  /** Where its bytes start in the tar stream. */
  tarOffset: number;
  /** Tar offset of the first tar header at or after `tarOffset`; before it, the volume continues an entry of the previous one. Null: no header starts in it (it continues the table of contents). */
  nextHeader: number | null;
  /** Index, in tar order, of the entry whose header is at `nextHeader` (the table of contents is the last); null with it. */
  entry: number | null;
}

const headerSchema = z.object({
  ferryVolumeVersion: z.literal(VOLUME_HEADER_VERSION),
  set: z.string().regex(/^[a-f0-9]{64}$/),
  part: z.number().int().min(1).max(MAX_VOLUMES),
  split: z.number().int().min(MIN_SPLIT),
  fileOffset: z.number().int().nonnegative(),
  tarOffset: z.number().int().nonnegative(),
  nextHeader: z.number().int().nonnegative().nullable(),
  entry: z.number().int().nonnegative().nullable(),
});

/** The volume file name of part `part` of the set written to `base` (`base.001`). */
export const volumePath = (base: string, part: number): string => `${base}.${String(part).padStart(3, '0')}`;

/** The empty gzip member carrying `h`. */
export function encodeVolumeHeader(h: VolumeHeader): Buffer {
  const payload = Buffer.from(JSON.stringify(h));
  if (payload.length > MAX_PAYLOAD) throw new Error(`volume header of ${payload.length} bytes does not fit a gzip FEXTRA field`);
  const b = Buffer.alloc(OVERHEAD + payload.length);
  b.set([0x1f, 0x8b, 0x08, 0x04, 0, 0, 0, 0, 0x00, 0xff], 0); // FLG.FEXTRA, no mtime, OS unknown
  b.writeUInt16LE(4 + payload.length, 10);
  b.write('FV', 12, 'ascii');
  b.writeUInt16LE(payload.length, 14);
  payload.copy(b, 16);
  b.set([0x03, 0x00], 16 + payload.length); // a final, empty fixed-Huffman block; CRC32 and ISIZE of nothing: zero
  return b;
}

/** Bytes to read from a file's start to be sure to hold its volume header. */
export const VOLUME_HEADER_MAX = OVERHEAD + MAX_PAYLOAD;

/**
 * The volume header at the start of `head` (a file's first bytes) and the length of its
 * member; undefined when the file does not start with one (it is no volume). Throws
 * BUNDLE_FORMAT, naming `where`, for a header that is there but damaged.
 */
export function parseVolumeHeader(head: Buffer, where: string): { header: VolumeHeader; length: number } | undefined {
  if (head.length < 16 || head[0] !== 0x1f || head[1] !== 0x8b || head[2] !== 0x08 || head[3] !== 0x04) return undefined;
  if (head.toString('ascii', 12, 14) !== 'FV') return undefined;
  const bad = (why: string): FerryError =>
    new FerryError('BUNDLE_FORMAT', `${where}: the volume header is damaged (${why})`, { hint: 'copy this volume again and check it against the set\'s .sha256 file' });
  const xlen = head.readUInt16LE(10);
  const len = head.readUInt16LE(14);
  if (xlen !== len + 4) throw bad('its length fields disagree');
  const length = OVERHEAD + len;
  if (head.length < length) throw bad('the file ends inside it');
  const tail = head.subarray(16 + len, length);
  if (!tail.equals(Buffer.from([0x03, 0, 0, 0, 0, 0, 0, 0, 0, 0]))) throw bad('its member is not empty');
  let value: unknown;
  try {
    value = JSON.parse(head.toString('utf8', 16, 16 + len));
  } catch {
    throw bad('not JSON');
  }
  const r = headerSchema.safeParse(value);
  if (!r.success) throw bad(`${r.error.issues[0]?.path.join('.') || 'root'}: ${r.error.issues[0]?.message}`);
  return { header: r.data, length };
}

const UNITS: Record<string, number> = {
  '': 1, B: 1,
  K: 1e3, KB: 1e3, M: 1e6, MB: 1e6, G: 1e9, GB: 1e9, T: 1e12, TB: 1e12,
  KI: 2 ** 10, KIB: 2 ** 10, MI: 2 ** 20, MIB: 2 ** 20, GI: 2 ** 30, GIB: 2 ** 30, TI: 2 ** 40, TIB: 2 ** 40,
};

/**
 * Parses --split SIZE: a number with an optional unit, decimal (K, M, G, T, also KB..TB: 4.7G
 * is 4,700,000,000 bytes, what a DVD holds) or binary (Ki, Mi, Gi, Ti, also KiB..TiB).
 * Throws a UsageError (exit 2) for anything else or a size below MIN_SPLIT.
 */
export function parseSplitSize(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(text);
  const unit = m ? UNITS[m[2]!.toUpperCase()] : undefined;
  if (!m || unit === undefined) throw new UsageError(`--split ${text}: not a size`, 'give bytes or a number with a unit: 700M, 4.7G (decimal, as media are sold) or 4Gi (binary)');
  const bytes = Math.floor(Number(m[1]) * unit);
  if (!Number.isSafeInteger(bytes)) throw new UsageError(`--split ${text}: too large`);
  if (bytes < MIN_SPLIT) throw new UsageError(`--split ${text} is ${bytes} bytes, less than the smallest volume ferry writes (1M, ${MIN_SPLIT} bytes)`, 'choose a size of 1M or more');
  return bytes;
}
