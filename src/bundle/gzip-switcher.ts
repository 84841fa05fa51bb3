/**
 * A gzip writer that compresses some byte ranges and stores others. Layers are already
 * compressed: deflating them again costs ~10x the copy time for <1% in size. At each switch
 * offset the deflate stream is sync-flushed and its level changed with `params()`, so
 * compressed blobs go in as stored blocks (level 0) and the rest is deflated. The output is one
 * valid gzip member.
 */
import { Writable } from 'node:stream';
import { constants, createGzip, type Gzip } from 'node:zlib';

export interface LevelSwitch {
  /** Byte offset in the uncompressed stream at which `level` takes effect. */
  offset: number;
  level: number;
}

export const DEFAULT_LEVEL = 6;

/**
 * A Writable that feeds `gzip` and switches levels at the given offsets (ascending). Write order
 * and params() calls are serialised through the zlib queue, so a switch lands exactly at its offset.
 */
export class GzipLevelSwitcher extends Writable {
  readonly gzip: Gzip;
  private pos = 0;
  private level: number;
  private next = 0;

  constructor(private readonly switches: readonly LevelSwitch[], initialLevel = DEFAULT_LEVEL) {
    super({ highWaterMark: 1024 * 1024 });
    this.level = initialLevel;
    this.gzip = createGzip({ level: initialLevel, chunkSize: 256 * 1024 });
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.writeFrom(chunk, cb);
  }

  private writeFrom(chunk: Buffer, cb: (err?: Error | null) => void): void {
    const sw = this.switches[this.next];
    if (sw && sw.offset < this.pos + chunk.length) {
      const cut = Math.max(0, sw.offset - this.pos);
      const head = chunk.subarray(0, cut);
      const tail = chunk.subarray(cut);
      this.pos += cut;
      this.next++;
      const apply = (): void => {
        if (sw.level === this.level) return this.writeFrom(tail, cb);
        this.level = sw.level;
        (this.gzip as unknown as { params(l: number, s: number, cb: (e?: Error | null) => void): void }).params(sw.level, constants.Z_DEFAULT_STRATEGY, (err?: Error | null) => (err ? cb(err) : this.writeFrom(tail, cb)));
      };
      if (head.length) this.gzip.write(head, (err) => (err ? cb(err) : apply()));
      else apply();
      return;
    }
    this.pos += chunk.length;
    if (chunk.length === 0) return cb();
    if (this.gzip.write(chunk)) cb();
    else this.gzip.once('drain', () => cb());
  }

  override _final(cb: (err?: Error | null) => void): void {
    this.gzip.end(cb);
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    // Normal completion also destroys this Writable (autoDestroy): the gzip then finishes on its own.
    if (err) this.gzip.destroy(err);
    cb(err);
  }
}
