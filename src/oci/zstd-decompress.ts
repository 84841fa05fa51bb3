/**
 * A zstd decompressing Transform (RFC 8878) over fzstd, a pure-JavaScript streaming decoder:
 * Node 20's zlib has no zstd, and a native binding would need a prebuilt binary per platform.
 * Handles multi-frame streams and skippable frames; an input that ends inside a frame, or
 * that is not zstd, fails the stream with a ZstdDataError.
 */
import { Transform } from 'node:stream';
import { Decompress } from 'fzstd';

/** The first four bytes of a zstd frame (RFC 8878 section 3.1.1), 0xFD2FB528 little-endian. */
export const ZSTD_MAGIC = Buffer.from([0x28, 0xb5, 0x2f, 0xfd]);

/** Whether `head` starts a zstd stream: a zstd frame, or a skippable frame (magic 0x184D2A5?). */
export function isZstdHead(head: Uint8Array): boolean {
  if (head.length < 4) return false;
  if (head[0] === 0x28 && head[1] === 0xb5 && head[2] === 0x2f && head[3] === 0xfd) return true;
  return (head[0]! & 0xf0) === 0x50 && head[1] === 0x2a && head[2] === 0x4d && head[3] === 0x18;
}

/** Thrown (as the stream's error) when the input is not a complete, valid zstd stream. */
export class ZstdDataError extends Error {
  constructor(
    message: string,
    /** True when the data ended inside a frame. */
    readonly truncated: boolean,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'ZstdDataError';
  }
}

// fzstd's ZstdErrorCode values.
const UNEXPECTED_EOF = 5;
const WINDOW_TOO_LARGE = 1;

function zstdError(err: unknown): ZstdDataError {
  const code = (err as { code?: unknown }).code;
  if (code === UNEXPECTED_EOF) return new ZstdDataError('the zstd data ends early (truncated)', true, { cause: err });
  if (code === WINDOW_TOO_LARGE) return new ZstdDataError('the zstd data asks for a window larger than the decoder supports', false, { cause: err });
  return new ZstdDataError(`the zstd data is corrupted (${(err as Error)?.message ?? String(err)})`, false, { cause: err });
}

/**
 * A Transform that decompresses a zstd stream. Errors with ZstdDataError when the input is
 * invalid or ends early; an empty input is an empty output.
 */
export function createZstdDecompress(): Transform {
  const out = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      try {
        decoder.push(chunk);
        cb();
      } catch (err) {
        cb(zstdError(err));
      }
    },
    flush(cb) {
      try {
        decoder.push(new Uint8Array(0), true);
        cb();
      } catch (err) {
        cb(zstdError(err));
      }
    },
  });
  // fzstd hands each decoded block over in a fresh array, so it can be pushed without a copy.
  const decoder = new Decompress((data) => {
    if (data.length) out.push(Buffer.from(data.buffer, data.byteOffset, data.byteLength));
  });
  return out;
}
