/**
 * A pass-through stream that hashes what flows through it and, at the end, fails unless the
 * content has exactly the expected size and digest ("expected X, calculated Y", as regclient).
 * With `holdLast`, the last chunk is passed on only after the digest matched, so a consumer
 * (an upload, an HTTP response) never receives the whole of a blob that is wrong.
 */
import { createHash, type Hash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { DigestMismatchError } from '../errors.js';

export class VerifyingStream extends Transform {
  private readonly hash: Hash = createHash('sha256');
  private seen = 0;
  private held: Buffer | undefined;

  /** `subject` names the content in errors, e.g. "layer sha256:… of nginx:1.27". */
  constructor(
    private readonly expectedDigest: string,
    private readonly expectedSize: number | undefined,
    private readonly subject: string,
    private readonly opts: { holdLast?: boolean } = {},
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
    if (!this.opts.holdLast) return cb(null, chunk);
    const previous = this.held;
    this.held = chunk;
    cb(null, previous);
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
    cb(null, this.held);
  }
}
