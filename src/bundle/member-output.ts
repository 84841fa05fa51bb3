/**
 * The byte sink of the bundle writer: tar bytes go in, grouped into gzip members (RFC 1952
 * §2.2: a gzip file is a series of members, and every gzip reader concatenates them), and the
 * output knows at each member start where it is in the tar stream and in the file. That is
 * what the table of contents records (toc.ts). Each member has its own level: stored (0) for
 * layers that are already compressed, deflated (6) for everything else. With compression
 * 'none' members are only markers and the tar goes out as it is.
 */
import type { Readable, Writable } from 'node:stream';
import { constants, createGzip, gzipSync } from 'node:zlib';
import { writeChunk } from '../util/streams.js';

export const DEFLATE_LEVEL = 6;
export const STORED_LEVEL = 0;

export class MemberOutput {
  /** Bytes written to the file so far (the next member's file offset). */
  fileOffset = 0;
  /** Bytes of the tar stream so far. */
  tarOffset = 0;

  /**
   * @param out where the file's bytes go (written with backpressure)
   * @param gzip false for a plain tar
   * @param guard races every wait against the output failing (see writer.ts)
   */
  constructor(
    private readonly out: Writable,
    private readonly gzip: boolean,
    private readonly guard: <T>(p: Promise<T>) => Promise<T>,
  ) {}

  private async emit(chunk: Buffer): Promise<void> {
    this.fileOffset += chunk.length;
    await this.guard(writeChunk(this.out, chunk));
  }

  /** Writes bytes that are all in memory as one member. */
  async memberOf(level: number, parts: readonly Buffer[]): Promise<void> {
    const tar = Buffer.concat(parts);
    this.tarOffset += tar.length;
    await this.emit(this.gzip ? gzipSync(tar, { level }) : tar);
  }

  /**
   * Writes one member: `head`, the bytes of `body` (already verified by the caller's stream),
   * then `tail`. `onBytes` sees the body's bytes as they are copied.
   */
  async memberStreaming(level: number, head: Buffer, body: Readable, tail: Buffer, onBytes?: (n: number) => void): Promise<void> {
    if (!this.gzip) {
      await this.raw(head);
      for await (const c of body as AsyncIterable<Buffer>) {
        onBytes?.(c.length);
        await this.raw(c);
      }
      await this.raw(tail);
      return;
    }
    const gz = createGzip({ level, chunkSize: 256 * 1024, ...(level === STORED_LEVEL ? { strategy: constants.Z_DEFAULT_STRATEGY } : {}) });
    const pumping = (async () => {
      for await (const c of gz as AsyncIterable<Buffer>) await this.emit(c);
    })();
    pumping.catch(() => undefined);
    try {
      const feed = async (c: Buffer): Promise<void> => {
        this.tarOffset += c.length;
        await this.guard(Promise.race([writeChunk(gz, c), pumping.then(() => undefined)]));
      };
      await feed(head);
      for await (const c of body as AsyncIterable<Buffer>) {
        onBytes?.(c.length);
        await feed(c);
      }
      if (tail.length) await feed(tail);
      gz.end();
      await pumping;
    } catch (err) {
      gz.destroy();
      throw err;
    }
  }

  private async raw(c: Buffer): Promise<void> {
    this.tarOffset += c.length;
    await this.emit(c);
  }

  /** Appends bytes outside any tar member accounting (the footer). */
  async trailer(bytes: Buffer): Promise<void> {
    await this.emit(bytes);
  }
}
