/**
 * A pass-through stream that hashes what flows through it and, at the end, fails unless the
 * content has exactly the expected size and digest ("expected X, calculated Y", as regclient).
 */
import { createHash, type Hash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { DigestMismatchError } from '../errors.js';

export class VerifyingStream extends Transform {
  private readonly hash: Hash = createHash('sha256');
  private seen = 0;

  /** `subject` names the content in errors, e.g. "layer sha256:… of nginx:1.27". */
  constructor(
    private readonly expectedDigest: string,
    private readonly expectedSize: number | undefined,
    private readonly subject: string,
  ) {
    super();
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.seen += chunk.length;
    if (this.expectedSize !== undefined && this.seen > this.expectedSize) {
      cb(new DigestMismatchError(this.subject, `size ${this.expectedSize}`, `more than ${this.expectedSize} bytes`));
      return;
    }
    this.hash.update(chunk);
    cb(null, chunk);
  }

  override _flush(cb: TransformCallback): void {
    if (this.expectedSize !== undefined && this.seen !== this.expectedSize) {
      cb(new DigestMismatchError(this.subject, `size ${this.expectedSize}`, `size ${this.seen}`));
      return;
    }
    const actual = `sha256:${this.hash.digest('hex')}`;
    if (actual !== this.expectedDigest) {
      cb(new DigestMismatchError(this.subject, this.expectedDigest, actual));
      return;
    }
    cb();
  }
}
