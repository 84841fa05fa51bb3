/**
 * A gzip writer that compresses some byte ranges and stores others. Layers are already
 * compressed: deflating them again costs ~10x the copy time for <1% in size. At each switch
 * offset the deflate stream is sync-flushed and its level changed with `params()`, so
 * compressed blobs go in as stored blocks (level 0) and the rest is deflated. The output is one
 * valid gzip member (RFC 1952).
 *
 * Node applies `params()` only to raw deflate and zlib streams, not to gzip ones (it silently
 * does nothing there), so this writes the gzip header and the CRC32/ISIZE trailer itself around
 * a raw deflate stream.
 */
import { Readable, Writable } from 'node:stream';
import { constants, crc32, createDeflateRaw, type DeflateRaw } from 'node:zlib';

export interface LevelSwitch {
  /** Byte offset in the uncompressed stream at which `level` takes effect. */
  offset: number;
  level: number;
}

export const DEFAULT_LEVEL = 6;

/** The 10-byte gzip header: deflate, no flags, no mtime, OS unknown. */
const GZIP_HEADER = Buffer.from([0x1f, 0x8b, 0x08, 0x00, 0, 0, 0, 0, 0x00, 0xff]);

type Params = (level: number, strategy: number, cb: (err?: Error | null) => void) => void;

/**
 * A Writable that feeds a raw deflate stream and switches levels at the given offsets
 * (ascending). Writes and params() calls are serialised through the zlib queue, so a switch
 * lands exactly at its offset. Read the gzip bytes from `output`.
 */
export class GzipLevelSwitcher extends Writable {
  /** The gzip stream: header, deflate data, trailer. */
  readonly output: Readable;
  private readonly deflate: DeflateRaw;
  private pos = 0;
  private crc = 0;
  private level: number;
  private next = 0;
  private paramsPending = false;
  private destroyAfterParams: Error | undefined;

  constructor(private readonly switches: readonly LevelSwitch[], initialLevel = DEFAULT_LEVEL) {
    super({ highWaterMark: 1024 * 1024 });
    this.level = initialLevel;
    this.deflate = createDeflateRaw({ level: initialLevel, chunkSize: 256 * 1024 });
    const deflate = this.deflate;
    const self = this;
    this.output = Readable.from(
      (async function* () {
        yield GZIP_HEADER;
        for await (const c of deflate as AsyncIterable<Buffer>) yield c;
        const trailer = Buffer.alloc(8);
        trailer.writeUInt32LE(self.crc >>> 0, 0);
        trailer.writeUInt32LE(self.pos % 2 ** 32, 4);
        yield trailer;
      })(),
      { objectMode: false },
    );
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.crc = crc32(chunk, this.crc);
    this.writeFrom(chunk, cb);
  }

  private setLevel(level: number, then: () => void, cb: (err?: Error | null) => void): void {
    if (level === this.level) return then();
    this.level = level;
    this.paramsPending = true;
    (this.deflate.params as unknown as Params).call(this.deflate, level, constants.Z_DEFAULT_STRATEGY, (err) => {
      this.paramsPending = false;
      if (this.destroyAfterParams) {
        this.deflate.destroy(this.destroyAfterParams);
        return cb(this.destroyAfterParams);
      }
      if (err) return cb(err);
      then();
    });
  }

  private writeFrom(chunk: Buffer, cb: (err?: Error | null) => void): void {
    const sw = this.switches[this.next];
    if (sw && sw.offset < this.pos + chunk.length) {
      const cut = Math.max(0, sw.offset - this.pos);
      const head = chunk.subarray(0, cut);
      const tail = chunk.subarray(cut);
      this.pos += cut;
      this.next++;
      const apply = (): void => this.setLevel(sw.level, () => this.writeFrom(tail, cb), cb);
      if (head.length) this.deflate.write(head, (err) => (err ? cb(err) : apply()));
      else apply();
      return;
    }
    this.pos += chunk.length;
    if (chunk.length === 0) return cb();
    if (this.deflate.write(chunk)) cb();
    else this.deflate.once('drain', () => cb());
  }

  override _final(cb: (err?: Error | null) => void): void {
    this.deflate.end(cb);
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    // Normal completion also destroys this Writable (autoDestroy): the deflate then finishes on
    // its own. On an error, never destroy zlib while a params() flush is pending (Node asserts).
    if (err) {
      if (this.paramsPending) this.destroyAfterParams = err;
      else this.deflate.destroy(err);
    }
    cb(err);
  }
}
