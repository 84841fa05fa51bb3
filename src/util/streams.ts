/**
 * Stream plumbing used by the bundle reader, writer and rewriter, where Node streams meet
 * tar-stream's streamx streams.
 */
import { pipeline } from 'node:stream';

interface WritableLike {
  write(chunk: Buffer): boolean;
  once(event: 'drain' | 'close' | 'error', fn: (arg?: unknown) => void): unknown;
  off?(event: 'drain' | 'close' | 'error', fn: (arg?: unknown) => void): unknown;
  removeListener?(event: 'drain' | 'close' | 'error', fn: (arg?: unknown) => void): unknown;
  destroyed?: boolean;
}

/**
 * Writes `chunk` and, when the destination asks for it, waits for 'drain'. Rejects when the
 * destination closes or fails first, so a writer never waits forever on a reader that is gone.
 */
export function writeChunk(dest: WritableLike, chunk: Buffer): Promise<void> {
  if (dest.destroyed) return Promise.reject(new Error('the destination stream was closed'));
  if (dest.write(chunk)) return Promise.resolve();
  return new Promise<void>((resolve, reject) => {
    const off = (ev: 'drain' | 'close' | 'error', fn: (arg?: unknown) => void): void => {
      if (dest.off) dest.off(ev, fn);
      else dest.removeListener?.(ev, fn);
    };
    const done = (err?: unknown): void => {
      off('drain', onDrain);
      off('close', onClose);
      off('error', onError);
      if (err) reject(err instanceof Error ? err : new Error(String(err)));
      else resolve();
    };
    const onDrain = (): void => done();
    const onClose = (): void => done(new Error('the destination stream was closed'));
    const onError = (e?: unknown): void => done(e ?? new Error('the destination stream failed'));
    dest.once('drain', onDrain);
    dest.once('close', onClose);
    dest.once('error', onError);
  });
}

/**
 * `src.pipe(dest)` that also forwards errors both ways and destroys both ends on failure
 * (plain `.pipe()` leaves a source error unhandled and the file handle open). Returns `dest`.
 */
export function pipeTo<T extends NodeJS.WritableStream>(src: NodeJS.ReadableStream, dest: T): T {
  pipeline(src, dest, () => undefined);
  return dest;
}

interface FinishableLike {
  once(event: 'finish' | 'close' | 'error', fn: (arg?: unknown) => void): unknown;
}

/**
 * Resolves when a writable finishes; rejects when it fails or closes first. tar-stream entry
 * sinks destroyed without an error emit only 'close', and a wait on 'finish' alone would
 * never settle.
 */
export function finished(sink: FinishableLike): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    let done = false;
    sink.once('finish', () => {
      done = true;
      resolve();
    });
    sink.once('error', (e) => {
      done = true;
      reject(e instanceof Error ? e : new Error(String(e)));
    });
    sink.once('close', () => {
      if (!done) reject(new Error('the stream was closed before it finished'));
    });
  });
}

/**
 * Reads a whole stream into one buffer, at most `limit` bytes: past that, stops and throws
 * what `tooBig()` returns (a registry answer that should be small and is not).
 */
export async function readCapped(body: AsyncIterable<Buffer>, limit: number, tooBig: () => Error): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of body) {
    n += c.length;
    if (n > limit) throw tooBig();
    chunks.push(c);
  }
  return Buffer.concat(chunks);
}
