/**
 * The one place where served bytes are checked: nothing a ServedContent returns reaches a client
 * before its digest has been. Manifests are small and checked whole before they are sent. A blob
 * is checked as it streams the first time: a full GET of a blob not yet verified hashes the
 * stream and HOLDS BACK its last chunk until the digest and size match, so a client never
 * receives a complete wrong blob (on a mismatch the response is destroyed before its last bytes,
 * the blob is marked bad, later requests for it fail, and the mismatch is logged). A Range
 * request on a blob not yet verified first reads the whole blob through the hash. Verified
 * digests are remembered for the life of the server; later requests stream without hashing.
 */
import { createHash } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { DigestMismatchError, FerryError } from '../errors.js';
import { sha256Digest } from '../digest/digest.js';
import { VerifyingStream } from '../digest/verifying-stream.js';
import type { ServedBlob, ServedContent, ServedManifest } from './content.js';

/** Thrown for content that failed its check (now or earlier): it is never served. */
export class DamagedContentError extends Error {
  constructor(
    readonly digest: string,
    readonly reason: string,
  ) {
    super(`${digest} is damaged in the bundle (${reason}); it is not served`);
    this.name = 'DamagedContentError';
  }
}

/** The words of a mismatch found while streaming, as the whole-blob check (check below) puts them. */
function mismatchReason(err: DigestMismatchError, digest: string, size: number): string {
  if (err.expected === digest) return `calculated ${err.actual}`;
  const seen = /^size (\d+)$/.exec(err.actual);
  return `${seen ? `${seen[1]} bytes` : err.actual}, expected ${size}`;
}

export class Verifier {
  private readonly verified = new Set<string>();
  private readonly bad = new Map<string, string>();
  private readonly checking = new Map<string, Promise<void>>();

  /** `onDamage` hears every mismatch once (the access log's error line). */
  constructor(
    private readonly content: ServedContent,
    private readonly onDamage: (digest: string, reason: string) => void,
  ) {}

  /** Whether a digest has been checked and found good. */
  isVerified(digest: string): boolean {
    return this.verified.has(digest);
  }

  private markBad(digest: string, reason: string): DamagedContentError {
    if (!this.bad.has(digest)) {
      this.bad.set(digest, reason);
      this.onDamage(digest, reason);
    }
    return new DamagedContentError(digest, reason);
  }

  private refuseBad(digest: string): void {
    const reason = this.bad.get(digest);
    if (reason !== undefined) throw new DamagedContentError(digest, reason);
  }

  /** The manifest, checked; undefined when the content has none. Throws DamagedContentError. */
  async manifest(digest: string): Promise<ServedManifest | undefined> {
    this.refuseBad(digest);
    const m = await this.content.manifest(digest);
    if (!m) return undefined;
    if (!this.verified.has(digest)) {
      const actual = sha256Digest(m.bytes);
      if (actual !== digest) throw this.markBad(digest, `calculated ${actual}`);
      this.verified.add(digest);
    }
    return m;
  }

  /** The blob, or undefined when the content has none. Throws DamagedContentError for a blob found bad before. */
  async blob(digest: string): Promise<ServedBlob | undefined> {
    this.refuseBad(digest);
    return this.content.blob(digest);
  }

  /**
   * The whole blob as a stream that is safe to send: verified already, or checked as it flows
   * with the last chunk held back (the stream errors instead of ending on a mismatch).
   */
  whole(digest: string, blob: ServedBlob): Readable {
    this.refuseBad(digest);
    if (blob.size === 0) {
      if (digest !== sha256Digest('')) throw this.markBad(digest, '0 bytes');
      return emptyStream();
    }
    const source = blob.open(0, blob.size - 1);
    if (this.verified.has(digest)) return source;
    // The last chunk is held back until digest and size match (VerifyingStream's holdLast).
    const tap = new VerifyingStream(digest, blob.size, `blob ${digest}`, { holdLast: true });
    tap.on('finish', () => this.verified.add(digest));
    tap.on('error', (err) => {
      if (err instanceof DigestMismatchError) this.markBad(digest, mismatchReason(err, digest, blob.size));
    });
    source.on('error', (err) => {
      // Damage the bundle's own framing finds first (a gzip CRC, a tar header that disagrees).
      if (isDamage(err)) this.markBad(digest, (err as Error).message);
      tap.destroy(err);
    });
    return source.pipe(tap);
  }

  /** Makes sure the whole blob has been checked (for Range requests). Throws DamagedContentError. */
  async ensure(digest: string, blob: ServedBlob): Promise<void> {
    this.refuseBad(digest);
    if (this.verified.has(digest)) return;
    let p = this.checking.get(digest);
    if (!p) {
      p = this.check(digest, blob).finally(() => this.checking.delete(digest));
      this.checking.set(digest, p);
    }
    await p;
  }

  private async check(digest: string, blob: ServedBlob): Promise<void> {
    const hash = createHash('sha256');
    let bytes = 0;
    const sink = new Writable({
      write(chunk: Buffer, _enc, cb) {
        hash.update(chunk);
        bytes += chunk.length;
        cb();
      },
    });
    await pipeline(blob.size ? blob.open(0, blob.size - 1) : emptyStream(), sink).catch((err: unknown) => {
      throw isDamage(err) ? this.markBad(digest, (err as Error).message) : err;
    });
    const actual = `sha256:${hash.digest('hex')}`;
    if (bytes !== blob.size) throw this.markBad(digest, `${bytes} bytes, expected ${blob.size}`);
    if (actual !== digest) throw this.markBad(digest, `calculated ${actual}`);
    this.verified.add(digest);
  }
}

/** A read failure that is damage in the bundle (its gzip or tar framing), not a passing I/O problem. */
function isDamage(err: unknown): boolean {
  return err instanceof FerryError && err.code === 'BUNDLE_FORMAT';
}

function emptyStream(): Readable {
  return Readable.from([]);
}
