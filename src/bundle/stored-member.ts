/**
 * Reading a stored gzip member (stored-runs.ts) in one sequential pass, checked as gunzip checks
 * it, without zlib's inflate: large positioned reads (one read ahead), the stored block headers
 * (RFC 1951 §3.2.4) walked as they pass, the uncompressed bytes handed on as views of the read
 * buffer, and at the end the member's CRC32 and ISIZE (RFC 1952 §2.3.1) compared. Used by verify
 * (verify-seekable.ts), where the member holds one big compressed layer.
 */
import { open } from 'node:fs/promises';
import { crc32 } from 'node:zlib';
import { gzipDataStart } from './stored-runs.js';

/** Bytes read from the file per positioned read (two such buffers are in flight at most). */
const READ_SIZE = 2 * 1024 * 1024;

/** Thrown when a block of the member is not stored, or more follows its trailer: the caller inflates the member instead. */
export class NotStoredError extends Error {
  constructor() {
    super('the gzip member is not made of stored blocks');
  }
}

/** An error worded as zlib words it, so that archiveError (reader.ts) names it as it names an inflate failure. */
function zlibError(code: 'Z_DATA_ERROR' | 'Z_BUF_ERROR', message: string): Error {
  return Object.assign(new Error(message), { code });
}

/**
 * The uncompressed bytes of the gzip member [start, end) of `path`, read from its stored blocks.
 * Throws NotStoredError when it is no gzip member, a block is not stored (deflated) or bytes
 * follow the trailer, an error with code Z_DATA_ERROR for damage (block lengths, CRC32, ISIZE) and
 * Z_BUF_ERROR when the member ends early. `onBytes` sees file bytes as they are read. The views
 * are valid until the consumer asks for the next one: two read buffers take turns (no garbage),
 * so a consumer that keeps bytes copies them. Without `checkCrc` the CRC32 is left to the caller
 * (verify has its file-hashing thread check it: file-hash-worker.ts).
 */
export async function* storedMemberBody(path: string, start: number, end: number, onBytes?: (n: number) => void, checkCrc = true): AsyncGenerator<Buffer> {
  const fh = await open(path, 'r');
  let next: Promise<Buffer> | undefined;
  try {
    const dataStart = await gzipDataStart(fh, start).catch(() => undefined);
    if (dataStart === undefined || dataStart >= end) throw new NotStoredError();
    // One buffer is read into while the views of the other are consumed.
    const pool = [Buffer.allocUnsafe(READ_SIZE), Buffer.allocUnsafe(READ_SIZE)];
    let turn = 0;
    const read = async (at: number): Promise<Buffer> => {
      const buf = pool[turn++ % 2]!.subarray(0, Math.min(READ_SIZE, end - at));
      const { bytesRead } = await fh.read(buf, 0, buf.length, at);
      return buf.subarray(0, bytesRead);
    };
    // Block header (5 bytes) or trailer (8 bytes) being collected, possibly across two reads.
    const small = Buffer.alloc(8);
    let have = 0;
    let phase: 'header' | 'data' | 'trailer' = 'header';
    let left = 0; // bytes of the current stored block still to come
    let final = false;
    let crc = 0;
    let size = 0;
    let pos = dataStart;
    next = read(pos);
    while (next) {
      const buf = await next;
      if (!buf.length) throw zlibError('Z_BUF_ERROR', 'unexpected end of file');
      onBytes?.(buf.length);
      pos += buf.length;
      next = pos < end ? read(pos) : undefined;
      next?.catch(() => undefined);
      let i = 0;
      while (i < buf.length) {
        if (phase === 'data') {
          const n = Math.min(left, buf.length - i);
          const part = buf.subarray(i, i + n);
          if (checkCrc) crc = crc32(part, crc);
          size += n;
          left -= n;
          i += n;
          if (left === 0) phase = final ? 'trailer' : 'header';
          yield part;
          continue;
        }
        const want = phase === 'header' ? 5 : 8;
        const n = Math.min(want - have, buf.length - i);
        buf.copy(small, have, i, i + n);
        have += n;
        i += n;
        if (have < want) continue;
        have = 0;
        if (phase === 'trailer') {
          // More after the trailer (another gzip member, say): gunzip reads on, so inflate it.
          if (i !== buf.length || next) throw new NotStoredError();
          if (checkCrc && small.readUInt32LE(0) !== crc >>> 0) throw zlibError('Z_DATA_ERROR', 'incorrect data check');
          if (small.readUInt32LE(4) !== size % 2 ** 32) throw zlibError('Z_DATA_ERROR', 'incorrect length check');
          return;
        }
        // BFINAL, BTYPE = 00 and the unused bits of the byte; anything else is inflated instead.
        if (small[0]! >> 1 !== 0) throw new NotStoredError();
        final = (small[0]! & 1) === 1;
        left = small.readUInt16LE(1);
        if ((left ^ 0xffff) !== small.readUInt16LE(3)) throw zlibError('Z_DATA_ERROR', 'invalid stored block lengths');
        phase = left ? 'data' : final ? 'trailer' : 'header';
      }
    }
    throw zlibError('Z_BUF_ERROR', 'unexpected end of file');
  } finally {
    await next?.catch(() => undefined); // no read in flight when the handle closes
    await fh.close();
  }
}
