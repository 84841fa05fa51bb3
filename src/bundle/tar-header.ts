/**
 * The ustar headers of a bundle's entries (POSIX.1-1988 ustar, as tar-stream and Go's
 * archive/tar write them): regular files, mode 0644, uid/gid 0, no user names. Sizes of 8 GiB
 * and more use the base-256 size field (a GNU extension that GNU tar, Go, containerd and
 * tar-stream read). The bundle writer emits tar bytes itself because each entry starts its own
 * gzip member (docs/bundle-format.md), which a tar packer cannot be asked to do.
 */
import { FerryError } from '../errors.js';

export const TAR_BLOCK = 512;
/** Two zero blocks: the end of a tar archive. */
export const TAR_END = Buffer.alloc(2 * TAR_BLOCK);

/** Bytes from the end of `size` bytes of data to the next 512-byte boundary. */
export function tarPadding(size: number): number {
  return (TAR_BLOCK - (size % TAR_BLOCK)) % TAR_BLOCK;
}

/** Bytes an entry of `size` bytes takes in the tar: header, data and padding. */
export function tarEntryLength(size: number): number {
  return TAR_BLOCK + size + tarPadding(size);
}

function octal(buf: Buffer, value: number, offset: number, width: number): void {
  const text = value.toString(8).padStart(width - 1, '0');
  buf.write(`${text} `, offset, 'ascii');
}

/** The 512-byte header of a regular file `name` (under 100 bytes) of `size` bytes. */
export function tarHeader(name: string, size: number, mtime: Date): Buffer {
  const buf = Buffer.alloc(TAR_BLOCK);
  if (Buffer.byteLength(name) >= 100) throw new FerryError('BUNDLE_FORMAT', `tar entry name "${name}" is 100 bytes or longer`);
  buf.write(name, 0, 'utf8');
  octal(buf, 0o644, 100, 7);
  octal(buf, 0, 108, 7);
  octal(buf, 0, 116, 7);
  if (size.toString(8).length > 11) {
    // base-256: the high bit of the first byte marks it; big-endian in the remaining 11 bytes.
    buf[124] = 0x80;
    let n = BigInt(size);
    for (let i = 11; i > 0; i--) {
      buf[124 + i] = Number(n & 0xffn);
      n >>= 8n;
    }
  } else {
    octal(buf, size, 124, 12);
  }
  octal(buf, Math.floor(mtime.getTime() / 1000), 136, 12);
  buf[156] = 0x30; // '0': regular file
  buf.write('ustar\u0000', 257, 'ascii');
  buf.write('00', 263, 'ascii');
  octal(buf, 0, 329, 7);
  octal(buf, 0, 337, 7);
  let sum = 8 * 0x20;
  for (let i = 0; i < TAR_BLOCK; i++) if (i < 148 || i >= 156) sum += buf[i]!;
  buf.write(`${sum.toString(8).padStart(6, '0')} `, 148, 'ascii'); // as tar-stream: digits, space, NUL
  return buf;
}

export interface ParsedTarHeader {
  name: string;
  size: number;
  /** The type flag: '0' (or NUL) for a regular file. */
  type: string;
}

/** Reads a header written by tarHeader (or any ustar header of a regular file); throws BUNDLE_FORMAT when it is not one. */
export function parseTarHeader(buf: Buffer, where: string): ParsedTarHeader {
  const bad = (why: string): FerryError => new FerryError('BUNDLE_FORMAT', `${where}: not a tar header (${why})`, { hint: 'the file is damaged; copy it again and check it against its .sha256 file' });
  if (buf.length < TAR_BLOCK) throw bad('too short');
  let sum = 8 * 0x20;
  for (let i = 0; i < TAR_BLOCK; i++) if (i < 148 || i >= 156) sum += buf[i]!;
  const stored = parseInt(buf.toString('ascii', 148, 156).replace(/[\0 ]/g, ''), 8);
  if (stored !== sum) throw bad('bad checksum');
  const str = (off: number, len: number): string => {
    const s = buf.subarray(off, off + len);
    const nul = s.indexOf(0);
    return s.subarray(0, nul === -1 ? len : nul).toString('utf8');
  };
  let name = str(0, 100);
  const prefix = buf.toString('ascii', 257, 262) === 'ustar' ? str(345, 155) : '';
  if (prefix) name = `${prefix}/${name}`;
  let size: number;
  if (buf[124]! & 0x80) {
    let n = 0n;
    for (let i = 1; i < 12; i++) n = (n << 8n) | BigInt(buf[124 + i]!);
    size = Number(n);
  } else {
    size = parseInt(str(124, 12).trim() || '0', 8);
  }
  if (!Number.isSafeInteger(size) || size < 0) throw bad('bad size');
  return { name, size, type: String.fromCharCode(buf[156]!) };
}
