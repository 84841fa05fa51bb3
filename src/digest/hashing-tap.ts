/** A pass-through stream that counts and sha256-hashes what flows through it. */
import { createHash, type Hash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';

export class HashingTap extends Transform {
  private readonly hash: Hash | undefined;
  /** Bytes seen so far. */
  bytes = 0;

  /**
   * @param also another hash to feed the same bytes (a volume set's whole-set sha256)
   * @param countOnly count without hashing (the hash is taken elsewhere: file-hash-worker.ts)
   */
  constructor(
    private readonly onBytes?: (n: number) => void,
    private readonly also?: Hash,
    countOnly = false,
  ) {
    super();
    this.hash = countOnly ? undefined : createHash('sha256');
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.hash?.update(chunk);
    this.also?.update(chunk);
    this.bytes += chunk.length;
    this.onBytes?.(chunk.length);
    cb(null, chunk);
  }

  /** The hex sha256 of everything seen; call once, after the stream ended. */
  hex(): string {
    if (!this.hash) throw new Error('this tap only counts');
    return this.hash.digest('hex');
  }
}
