/**
 * The byte sink of the bundle writer: tar bytes go in, grouped into gzip members (RFC 1952
 * §2.2: a gzip file is a series of members, and every gzip reader concatenates them), and the
 * output knows at each member start where it is in the tar stream and in the file. That is
 * what the table of contents records (toc.ts). Each member has its own level: stored (0) for
 * layers that are already compressed, deflated (6) for everything else. With compression
 * 'none' members are only markers and the tar goes out as it is.
 *
 * With a split (volumes, volume-header.ts) the output also ends a member, and where needed the
 * volume, before the bytes would pass the volume's size: a member is cut wherever its input
 * reaches what the volume can still hold (even inside a blob's data: the tar stream does not
 * change), and the next volume starts with its header member.
 */
import type { Readable, Writable } from 'node:stream';
import { createGzip, crc32, gzipSync } from 'node:zlib';
import { writeChunk } from '../util/streams.js';

export const DEFLATE_LEVEL = 6;
export const STORED_LEVEL = 0;

export interface VolumeSplit {
  /** Bytes a volume may hold before the footer's 50 (header member included). */
  limit: number;
  /** Ends the current volume and starts the next at `tarOffset`/`fileOffset`; resolves with its header member, written first. */
  next(tarOffset: number, fileOffset: number): Promise<Buffer>;
}

/**
 * The most compressed bytes a gzip member of `n` input bytes can take: zlib's deflateBound
 * (stored blocks cost 5 bytes per 16 KiB at worst) rounded up, plus the gzip header and trailer.
 */
export const memberBound = (n: number): number => n + Math.ceil(n / 2048) + 128;
/** A member is not started in a volume with less room than this: the volume is ended instead. */
const MIN_ROOM = 64 * 1024;

/** A member being written: its input goes in with `write`, `end` finishes it. */
interface MemberWriter {
  write(chunk: Buffer): Promise<void>;
  end(): Promise<void>;
  destroy(): void;
}

interface OpenMember {
  w: MemberWriter;
  /** Volume bytes used when the member started. */
  usedAtStart: number;
  /** Input bytes fed so far. */
  fed: number;
}

/** A deflate stored block holds at most this many bytes (RFC 1951 §3.2.4: LEN is 16 bits). */
const MAX_STORED_BLOCK = 65535;
/** The gzip header zlib writes at level 0 (no name, no mtime, XFL 4, OS 3: Unix), so members read as before. */
const STORED_HEADER = Buffer.from([0x1f, 0x8b, 0x08, 0x00, 0, 0, 0, 0, 0x04, 0x03]);

/**
 * A stored member written by hand: the gzip header, full 65535-byte stored blocks (whatever
 * the chunking of the input, so the bytes do not depend on it), a final block with the rest,
 * then CRC32 and ISIZE. No zlib: the data is copied once, and the CRC is zlib's own crc32.
 */
class StoredMember implements MemberWriter {
  private crc = 0;
  private size = 0;
  private pending: Buffer[] = [];
  private pendingLength = 0;
  private started = false;

  constructor(private readonly emit: (b: Buffer) => Promise<void>) {}

  private async block(data: Buffer, final: boolean): Promise<void> {
    if (!this.started) {
      this.started = true;
      await this.emit(STORED_HEADER);
    }
    const hdr = Buffer.allocUnsafe(5);
    hdr[0] = final ? 1 : 0;
    hdr.writeUInt16LE(data.length, 1);
    hdr.writeUInt16LE(~data.length & 0xffff, 3);
    await this.emit(hdr);
    if (data.length) await this.emit(data);
  }

  async write(chunk: Buffer): Promise<void> {
    this.crc = crc32(chunk, this.crc);
    this.size += chunk.length;
    let off = 0;
    if (this.pendingLength) {
      const need = MAX_STORED_BLOCK - this.pendingLength;
      if (chunk.length < need) {
        this.pending.push(Buffer.from(chunk));
        this.pendingLength += chunk.length;
        return;
      }
      this.pending.push(chunk.subarray(0, need));
      const full = Buffer.concat(this.pending, MAX_STORED_BLOCK);
      this.pending = [];
      this.pendingLength = 0;
      await this.block(full, false);
      off = need;
    }
    while (chunk.length - off >= MAX_STORED_BLOCK) {
      await this.block(chunk.subarray(off, off + MAX_STORED_BLOCK), false);
      off += MAX_STORED_BLOCK;
    }
    if (off < chunk.length) {
      // A copy: the producer may reuse its buffer once this write resolves.
      this.pending = [Buffer.from(chunk.subarray(off))];
      this.pendingLength = chunk.length - off;
    }
  }

  async end(): Promise<void> {
    await this.block(Buffer.concat(this.pending, this.pendingLength), true);
    this.pending = [];
    const trailer = Buffer.allocUnsafe(8);
    trailer.writeUInt32LE(this.crc >>> 0, 0);
    trailer.writeUInt32LE(this.size % 2 ** 32, 4);
    await this.emit(trailer);
  }

  destroy(): void {
    this.pending = [];
  }
}

export class MemberOutput {
  /** Bytes written to the file so far (the next member's file offset); with volumes, in their concatenation. */
  fileOffset = 0;
  /** Bytes of the tar stream so far. */
  tarOffset = 0;
  /** fileOffset at which the current volume starts. */
  private volumeStart = 0;

  /**
   * @param out where the file's bytes go (written with backpressure); asked for each chunk, as volumes change it
   * @param gzip false for a plain tar
   * @param guard races every wait against the output failing (see writer.ts)
   * @param split cut into volumes (gzip only)
   */
  constructor(
    private readonly out: () => Writable,
    private readonly gzip: boolean,
    private readonly guard: <T>(p: Promise<T>) => Promise<T>,
    private readonly split?: VolumeSplit,
  ) {}

  private async emit(chunk: Buffer): Promise<void> {
    this.fileOffset += chunk.length;
    await this.guard(writeChunk(this.out(), chunk));
  }

  private used(): number {
    return this.fileOffset - this.volumeStart;
  }

  /** Writes the first volume's header member (a split output starts with it). */
  async begin(header: Buffer): Promise<void> {
    await this.emit(header);
  }

  /** With a split: ends the volume when a member would have too little room in it. Call before recording where a member starts. */
  async prepare(): Promise<void> {
    if (!this.split || this.split.limit - this.used() >= MIN_ROOM) return;
    const header = await this.guard(this.split.next(this.tarOffset, this.fileOffset));
    this.volumeStart = this.fileOffset;
    await this.emit(header);
  }

  /** Writes bytes that are all in memory as one member (several, with a split, when they do not fit). */
  async memberOf(level: number, parts: readonly Buffer[]): Promise<void> {
    const tar = Buffer.concat(parts);
    if (this.split) return this.memberStreaming(level, tar, [], Buffer.alloc(0));
    this.tarOffset += tar.length;
    await this.emit(this.gzip ? gzipSync(tar, { level }) : tar);
  }

  /** Appends bytes outside any tar member accounting (the footer). */
  async trailer(bytes: Buffer): Promise<void> {
    await this.emit(bytes);
  }

  /**
   * Writes one member: `head`, the bytes of `body` (already verified by the caller's stream),
   * then `tail`. `onBytes` sees the body's bytes as they are copied.
   */
  async memberStreaming(level: number, head: Buffer, body: Readable | readonly Buffer[], tail: Buffer, onBytes?: (n: number) => void): Promise<void> {
    if (!this.gzip) {
      await this.raw(head);
      for await (const c of body as AsyncIterable<Buffer>) {
        onBytes?.(c.length);
        await this.raw(c);
      }
      await this.raw(tail);
      return;
    }
    await this.prepare();
    let m = this.open(level);
    try {
      const feed = async (chunk: Buffer): Promise<void> => {
        let c = chunk;
        while (c.length) {
          let take = c.length;
          if (this.split) {
            // What still fits, at the worst compression, in the room the member started with.
            const room = this.split.limit - m.usedAtStart;
            let fits = Math.floor(((room - 128) * 2048) / 2049) - 1 - m.fed;
            while (fits > 0 && m.usedAtStart + memberBound(m.fed + fits) > this.split.limit) fits--;
            if (fits <= 0) {
              await this.close(m);
              await this.prepare();
              m = this.open(level);
              continue;
            }
            take = Math.min(take, fits);
          }
          this.tarOffset += take;
          m.fed += take;
          await m.w.write(c.subarray(0, take));
          c = c.subarray(take);
        }
      };
      await feed(head);
      for await (const c of body as AsyncIterable<Buffer>) {
        onBytes?.(c.length);
        await feed(c);
      }
      if (tail.length) await feed(tail);
      await this.close(m);
    } catch (err) {
      m.w.destroy();
      throw err;
    }
  }

  private open(level: number): OpenMember {
    return { w: level === STORED_LEVEL ? new StoredMember((b) => this.emit(b)) : this.deflated(level), usedAtStart: this.used(), fed: 0 };
  }

  /** A member through zlib's gzip at `level`. */
  private deflated(level: number): MemberWriter {
    const gz = createGzip({ level, chunkSize: 256 * 1024 });
    const pumping = (async () => {
      for await (const c of gz as AsyncIterable<Buffer>) await this.emit(c);
    })();
    pumping.catch(() => undefined);
    return {
      write: (c) => this.guard(Promise.race([writeChunk(gz, c), pumping.then(() => undefined)])),
      end: async () => {
        gz.end();
        await pumping;
      },
      destroy: () => gz.destroy(),
    };
  }

  private async close(m: OpenMember): Promise<void> {
    await m.w.end();
    if (this.split && this.used() > this.split.limit) throw new Error(`internal: a volume grew past its size (${this.used()} > ${this.split.limit})`);
  }

  private async raw(c: Buffer): Promise<void> {
    this.tarOffset += c.length;
    await this.emit(c);
  }
}
