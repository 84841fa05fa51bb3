/**
 * The one place where served bytes are checked: nothing a ServedContent returns reaches a client
 * before its digest has been. Manifests are small and checked whole before they are sent. A blob
 * is checked as it streams the first time: every full GET of a blob not yet verified passes its
 * chunks through a tap, and the chunk that completes the blob is let through only once the
 * digest and size matched, so a client never receives a complete wrong blob (on a mismatch the
 * response is destroyed before its last bytes, the blob is marked bad, later requests for it
 * fail, and the mismatch is logged once). Concurrent GETs of one blob share one hash: whichever
 * reader is furthest hashes, the others send what it has hashed already, and all of them learn
 * the result before their last chunk (16 clients pulling a layer at once hash it once, not 16
 * times). A Range request on a blob not yet verified first reads the rest of the blob through
 * the same hash. Verified digests are remembered for the life of the server; later requests
 * stream without hashing (the bundle is read-only while it is served).
 */
import { createHash } from 'node:crypto';
import { FerryError } from '../errors.js';
import { sha256Digest } from '../digest/digest.js';
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

export class Verifier {
  private readonly verified = new Set<string>();
  private readonly bad = new Map<string, string>();
  private readonly checking = new Map<string, Promise<void>>();
  private readonly sharing = new Map<string, SharedCheck>();
  /** Bytes hashed so far, over all blobs (a statistic: concurrent reads of a blob hash it once). */
  hashedBytes = 0;

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
   * A check for one full read of a blob, or undefined when the blob is verified already (its
   * bytes then flow unhashed). The reader passes every chunk through `pass` before sending it,
   * in order from byte 0; `pass` throws DamagedContentError instead of letting the chunk that
   * completes the blob through unless its digest and size matched (so a client never receives
   * a whole wrong blob), and as soon as the blob is known bad. Concurrent reads of one blob share
   * one hash (SharedCheck): however many clients pull it at once, it is hashed once.
   */
  tap(digest: string, blob: ServedBlob): BlobTap | undefined {
    this.refuseBad(digest);
    if (this.verified.has(digest)) return undefined;
    if (blob.size === 0) {
      if (digest !== sha256Digest('')) throw this.markBad(digest, '0 bytes');
      this.verified.add(digest);
      return undefined;
    }
    return new BlobTap(this.shared(digest, blob.size), 0);
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

  /** Reads what the shared check of the blob has not hashed yet, through it, to its result. */
  private async check(digest: string, blob: ServedBlob): Promise<void> {
    if (blob.size === 0) {
      this.tap(digest, blob);
      return;
    }
    const shared = this.shared(digest, blob.size);
    const tap = new BlobTap(shared, shared.frontier);
    const source = blob.open(shared.frontier, blob.size - 1);
    try {
      for await (const chunk of source) tap.pass(chunk as Buffer);
      tap.end();
    } catch (err) {
      throw tap.fail(err) ?? err;
    }
  }

  /** The one check of a blob that every read of it feeds (created with the first). */
  private shared(digest: string, size: number): SharedCheck {
    let c = this.sharing.get(digest);
    if (!c) {
      c = new SharedCheck(digest, size, {
        good: () => {
          this.verified.add(digest);
          this.sharing.delete(digest);
        },
        bad: (reason) => {
          this.sharing.delete(digest);
          return this.markBad(digest, reason);
        },
        hashed: (n) => (this.hashedBytes += n),
      });
      this.sharing.set(digest, c);
    }
    return c;
  }
}

/**
 * The hash of one blob, fed by every reader of it at once. Each reader reads the blob in order;
 * the check has hashed the first `frontier` bytes, and a reader's chunk [p, q) always starts at
 * or before the frontier (the reader has seen everything before p, and every chunk it saw moved
 * the frontier at least to its end), so the part of it past the frontier is hashed and the
 * frontier moves to q. The fastest reader hashes, the others pass their chunks on untouched; no
 * reader waits for another, and a reader that goes away leaves the frontier where the others
 * (or a later reader) carry it on. The reader that brings the frontier to the end settles the
 * result, synchronously, before its last chunk is sent; readers behind it find it settled.
 */
class SharedCheck {
  frontier = 0;
  /** The reason it failed, once it did; `done` once settled. */
  failure: DamagedContentError | undefined;
  done = false;
  private readonly hash = createHash('sha256');

  constructor(
    readonly digest: string,
    readonly size: number,
    private readonly on: { good: () => void; bad: (reason: string) => DamagedContentError; hashed: (n: number) => void },
  ) {}

  /** Hashes the part of chunk [p, p + chunk.length) past the frontier; settles at the end. */
  feed(chunk: Buffer, p: number): void {
    const q = p + chunk.length;
    if (this.done || q <= this.frontier) return;
    if (p > this.frontier) throw new Error(`internal: a read of ${this.digest} skipped bytes ${this.frontier}-${p} of its check`);
    if (q > this.size) {
      this.settle(`more than ${this.size} bytes, expected ${this.size}`);
      return;
    }
    const part = p === this.frontier ? chunk : chunk.subarray(this.frontier - p);
    this.hash.update(part);
    this.on.hashed(part.length);
    this.frontier = q;
    if (q === this.size) {
      const actual = `sha256:${this.hash.digest('hex')}`;
      this.settle(actual === this.digest ? undefined : `calculated ${actual}`);
    }
  }

  /** Settles the check: good (reason undefined) or bad. */
  settle(reason: string | undefined): void {
    if (this.done) return;
    this.done = true;
    if (reason === undefined) this.on.good();
    else this.failure = this.on.bad(reason);
  }
}

/** One reader's view of a SharedCheck: where it is in the blob. */
export class BlobTap {
  constructor(
    private readonly check: SharedCheck,
    private pos: number,
  ) {}

  /** Feeds the next chunk; throws DamagedContentError when the blob is bad, or when this chunk would complete it unverified. */
  pass(chunk: Buffer): void {
    const c = this.check;
    if (c.failure) throw c.failure;
    const p = this.pos;
    this.pos += chunk.length;
    if (this.pos > c.size) {
      c.settle(`more than ${c.size} bytes, expected ${c.size}`);
      throw c.failure ?? new DamagedContentError(c.digest, `more than ${c.size} bytes`);
    }
    c.feed(chunk, p);
    if (c.failure) throw c.failure;
    if (this.pos === c.size && !c.done) throw new Error(`internal: ${c.digest} was read to its end unchecked`);
  }

  /** The source ended: short of the blob's size is damage. Throws DamagedContentError then. */
  end(): void {
    const c = this.check;
    if (c.failure) throw c.failure;
    if (this.pos < c.size) {
      c.settle(`${this.pos} bytes, expected ${c.size}`);
      throw c.failure!;
    }
  }

  /**
   * The source failed: damage the bundle's framing found (a gzip CRC, a tar header that
   * disagrees) marks the blob bad; returns the blob's DamagedContentError when it is bad.
   */
  fail(err: unknown): DamagedContentError | undefined {
    if (isDamage(err)) this.check.settle((err as Error).message);
    return err instanceof DamagedContentError ? err : this.check.failure;
  }
}

/** A read failure that is damage in the bundle (its gzip or tar framing), not a passing I/O problem. */
function isDamage(err: unknown): boolean {
  return err instanceof FerryError && err.code === 'BUNDLE_FORMAT';
}
