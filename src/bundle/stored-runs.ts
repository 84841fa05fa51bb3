/**
 * Reading a stored gzip member without inflating it. A member written at level 0 (a bundle's
 * compressed layers, docs/bundle-format.md) is a gzip header, then deflate *stored* blocks
 * (RFC 1951 §3.2.4: a byte holding BFINAL and BTYPE=00, LEN, NLEN, then LEN bytes as they are),
 * then the CRC32 and ISIZE. Its bytes are therefore in the file as they are, 5 bytes of block
 * header every 64 KiB at most: mapping where the runs lie lets a reader (push, serve) stream any
 * range with plain positioned reads, no zlib. Any other member (deflated, or not parseable) maps
 * to undefined and is inflated instead. The content is not checked here (no CRC): readers of
 * blobs check their sha256, which is stronger.
 */
import fs from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { Readable } from 'node:stream';

/** Blobs from this size on are read from a stored member's runs when they can be (seekable.ts, verify-seekable.ts). */
export const STORED_READ_MIN = 256 * 1024;

/** A full stored block with its header: where the next header is, predicted (storedRuns). */
const FULL_BLOCK = 5 + 65535;
/** Headers read at once at most when the predictions hold. */
const PREDICT = 64;

/** `length` bytes of the member's uncompressed stream, starting at `at`, lie at file offset `file`. */
export interface StoredRun {
  at: number;
  file: number;
  length: number;
}

/**
 * The file offset where the deflate data of the gzip member at `member` starts (after its
 * header, RFC 1952 §2.3), or undefined when it is not a deflate gzip member.
 */
export async function gzipDataStart(fh: FileHandle, member: number): Promise<number | undefined> {
  const head = Buffer.alloc(10);
  if ((await fh.read(head, 0, 10, member)).bytesRead !== 10) return undefined;
  if (head[0] !== 0x1f || head[1] !== 0x8b || head[2] !== 8) return undefined;
  const flags = head[3]!;
  let p = member + 10;
  if (flags & 0x04) {
    const x = Buffer.alloc(2);
    await fh.read(x, 0, 2, p);
    p += 2 + x.readUInt16LE(0);
  }
  const skipZeroTerminated = async (): Promise<void> => {
    const b = Buffer.alloc(256);
    for (;;) {
      const { bytesRead } = await fh.read(b, 0, b.length, p);
      if (!bytesRead) throw new Error('end of file in a gzip header');
      const z = b.subarray(0, bytesRead).indexOf(0);
      if (z >= 0) {
        p += z + 1;
        return;
      }
      p += bytesRead;
    }
  };
  if (flags & 0x08) await skipZeroTerminated();
  if (flags & 0x10) await skipZeroTerminated();
  if (flags & 0x02) p += 2;
  return p;
}

/** The runs of the stored member [member, end) of `path`, or undefined when it is not one. */
export async function storedRuns(path: string, member: number, end: number): Promise<StoredRun[] | undefined> {
  const fh = await open(path, 'r');
  try {
    let p = await gzipDataStart(fh, member);
    if (p === undefined) return undefined;
    const runs: StoredRun[] = [];
    // One positioned read per header, but many at once: a member's blocks are nearly all full
    // (65535 bytes), so the next headers' places are predicted and read together (13 KB read
    // for a 170 MB layer, a few dozen round trips to the thread pool, not one per block and not
    // the data between them). A prediction that misses (a shorter block) is read again from
    // where the last true header puts the next one, a batch of one, then doubling.
    let at = 0;
    let batch = PREDICT;
    for (let done = false; !done; ) {
      if (p + 5 > end) return undefined;
      const places: number[] = [];
      for (let k = 0; k < batch && p + k * FULL_BLOCK + 5 <= end; k++) places.push(p + k * FULL_BLOCK);
      const headers = await Promise.all(
        places.map(async (q) => {
          const b = Buffer.allocUnsafe(5);
          return (await fh.read(b, 0, 5, q)).bytesRead === 5 ? b : undefined;
        }),
      );
      let used = 0;
      for (let i = 0; i < headers.length && places[i] === p; i++, used++) {
        const hdr = headers[i];
        if (!hdr) return undefined;
        const final = hdr[0]! & 1;
        if (((hdr[0]! >> 1) & 3) !== 0 || hdr[0]! >> 3 !== 0) return undefined; // not a stored block (or bits we do not expect)
        const len = hdr.readUInt16LE(1);
        if ((len ^ 0xffff) !== hdr.readUInt16LE(3)) return undefined;
        if (len) runs.push({ at, file: p + 5, length: len });
        at += len;
        p += 5 + len;
        if (final) {
          done = true;
          break;
        }
      }
      batch = used < headers.length ? 1 : Math.min(PREDICT, batch * 2);
    }
    return p + 8 === end ? runs : undefined;
  } catch {
    return undefined;
  } finally {
    await fh.close();
  }
}

/** Bytes read from the file per positioned read by default: several runs at once, their block headers then left out (256 KiB: four runs a read, and 16 clients of serve stay under 200 MB). */
export const READ_SIZE = 256 * 1024;
/**
 * Bytes per positioned read for one sequential reader of a whole blob (push, load: one stream
 * per blob, a few at a time): a quarter of the reads, and the thread-pool round trips, of
 * READ_SIZE's.
 */
export const SEQUENTIAL_READ_SIZE = 1024 * 1024;

/**
 * Read buffers whose every view a consumer has handed back (releaseView), for the next reads,
 * by their size: a server streaming gigabytes (or a sink that copies what it gets) reuses a few
 * buffers instead of allocating one per read (which costs the garbage collector more than the
 * reads and lets RSS climb until it runs).
 */
const free = new Map<number, Buffer[]>();
/** Bytes kept per buffer size at most. */
const FREE_BYTES = 8 * 1024 * 1024;
/** The views of a pooled read buffer not handed back yet, by its memory. */
const outstanding = new WeakMap<ArrayBufferLike, number>();

function readBuffer(length: number, size: number): Buffer {
  if (length < size / 4) return Buffer.allocUnsafeSlow(length);
  return free.get(size)?.pop() ?? Buffer.allocUnsafeSlow(size);
}

/**
 * Hands back a chunk a RunsReadable pushed, once it is no longer used (written to a socket, or
 * copied): when every view of its read buffer is back, the buffer is reused. Optional (a chunk
 * never handed back is collected as usual); a chunk of any other source is ignored. Each chunk
 * at most once, and only when nothing holds it any more.
 */
export function releaseView(chunk: Buffer): void {
  const mem = chunk.buffer;
  const n = outstanding.get(mem);
  if (n === undefined) return;
  if (n > 1) {
    outstanding.set(mem, n - 1);
    return;
  }
  outstanding.delete(mem);
  const size = mem.byteLength;
  let list = free.get(size);
  if (!list) free.set(size, (list = []));
  if ((list.length + 1) * size <= FREE_BYTES) list.push(Buffer.from(mem as ArrayBuffer, 0, size));
}

export interface ReadRunsOptions {
  /** Awaited before the first read (seekable.ts checks the entry's tar header there); its error is the stream's. */
  before?: () => Promise<void>;
  /** Turns a read's error (or before's) into the one the stream fails with. */
  mapError?: (err: unknown) => Error;
  /** Bytes per positioned read (default READ_SIZE); also the stream's buffer. */
  readSize?: number;
}

/**
 * Streams bytes [from, to) of the member's uncompressed stream through its runs: one positioned
 * read of up to 256 KiB of the file at a time (the runs are 5 bytes apart), then each run's bytes
 * pushed as a view of that buffer, so the block headers cost no read and nothing is copied. One
 * stream, no generator layers: each read is asked for by the consumer (backpressure), and the
 * views of one read are pushed together, so a consumer that corks writes them in one go.
 */
export function readRuns(path: string, runs: readonly StoredRun[], from: number, to: number, opts: ReadRunsOptions = {}): Readable {
  return new RunsReadable(path, runs, from, to, opts);
}

class RunsReadable extends Readable {
  private fd: number | undefined;
  /** A read in flight: the descriptor is closed only after it (its number could be reused). */
  private reading: (() => void) | undefined;
  private pos: number;
  private i: number;
  private readonly size: number;

  constructor(
    private readonly path: string,
    private readonly runs: readonly StoredRun[],
    from: number,
    private readonly to: number,
    private readonly opts: ReadRunsOptions,
  ) {
    const size = opts.readSize ?? READ_SIZE;
    super({ highWaterMark: size });
    this.size = size;
    this.pos = from;
    // The first run that holds `from` (runs are sorted by `at`).
    let lo = 0;
    let hi = runs.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (runs[mid]!.at <= from) lo = mid;
      else hi = mid - 1;
    }
    this.i = lo;
  }

  private fail(err: unknown): void {
    this.destroy(this.opts.mapError ? this.opts.mapError(err) : (err as Error));
  }

  override _construct(cb: (err?: Error | null) => void): void {
    const opened = (): void =>
      fs.open(this.path, 'r', (err, fd) => {
        if (err) return cb(this.opts.mapError ? this.opts.mapError(err) : err);
        this.fd = fd;
        cb();
      });
    if (!this.opts.before) return opened();
    this.opts.before().then(opened, (err: unknown) => cb(this.opts.mapError ? this.opts.mapError(err) : (err as Error)));
  }

  override _read(): void {
    const { runs, to, size } = this;
    if (!(this.pos < to && this.i < runs.length)) {
      if (this.pos < to) return this.fail(new Error('the member holds fewer bytes than the entry'));
      this.push(null);
      return;
    }
    // The file range from `pos` to the end of the last run that fits in one read.
    const first = runs[this.i]!;
    const fileStart = first.file + (this.pos - first.at);
    let j = this.i;
    while (j + 1 < runs.length && runs[j + 1]!.file + runs[j + 1]!.length - fileStart <= size && runs[j + 1]!.at < to) j++;
    const fileEnd = Math.min(runs[j]!.file + runs[j]!.length, runs[j]!.file + (to - runs[j]!.at), fileStart + size);
    // A buffer per read (fresh, or one handed back whole): the runs in it are pushed as views
    // (no copy), which the consumer may hold for a while.
    const length = fileEnd - fileStart;
    const raw = readBuffer(length, size);
    this.reading = () => {};
    fs.read(this.fd!, raw, 0, length, fileStart, (err, bytesRead) => {
      const after = this.reading!;
      this.reading = undefined;
      after();
      if (this.destroyed) return;
      if (err) return this.fail(err);
      if (bytesRead !== length) return this.fail(new Error('the file ends early'));
      const views: Buffer[] = [];
      while (this.i <= j && this.pos < to) {
        const r = runs[this.i]!;
        const off = this.pos - r.at;
        const n = Math.min(r.length - off, to - this.pos, fileEnd - (r.file + off));
        if (n <= 0) break;
        this.pos += n;
        if (this.pos === r.at + r.length) this.i++;
        views.push(raw.subarray(r.file + off - fileStart, r.file + off - fileStart + n));
      }
      if (!views.length && this.pos < to) return this.fail(new Error('the member holds fewer bytes than the entry'));
      if (raw.length === size) outstanding.set(raw.buffer, views.length);
      for (const v of views) this.push(v);
      if (this.pos >= to) this.push(null);
    });
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    if (this.fd === undefined) return cb(err);
    const fd = this.fd;
    this.fd = undefined;
    const close = (): void => fs.close(fd, () => cb(err));
    if (this.reading) this.reading = close;
    else close();
  }
}
