/**
 * `ferry verify NAME.NNN`: one volume checked alone, so a damaged one can be named and sent
 * again by itself. Checked: its line in the set's checksum file, its volume header, that its
 * gzip members inflate cleanly (each member's CRC-32), and the digest of every blob that lies
 * wholly inside it, found by walking the tar headers from the first one the header names. An
 * entry that continues from the previous volume or into the next one is named, and left to the
 * set's verify (`ferry verify NAME`), which reads the volumes as one bundle.
 */
import { createHash, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { basename } from 'node:path';
import { createGunzip } from 'node:zlib';
import { checkEntryName, BLOB_ENTRY } from './entry-name.js';
import { archiveErrorText } from './reader.js';
import { TAR_BLOCK, parseTarHeader, tarPadding } from './tar-header.js';
import type { VolumeHeader } from './volume-header.js';
import { readSetSidecar, readVolumeHeader, setSidecarName, volumeBase } from './volume-set.js';
import { writeChunk } from '../util/streams.js';
import { describe } from '../errors.js';


export interface VolumeVerifyResult {
  header: VolumeHeader;
  problems: string[];
  checked: {
    /** Entries wholly inside the volume, each checked (blobs against their digest). */
    entries: number;
    bytes: number;
    /** The entry this volume continues from the previous one, if any. */
    continues?: string;
    /** The entry that goes on in the next volume, if any. */
    spans?: string;
    sidecar: 'ok' | 'absent' | 'mismatch';
  };
}

/** Walks the tar bytes of one volume, from tar offset `start` (see the file comment). */
class TarWalk {
  private pos: number;
  private state: 'skip' | 'header' | 'data' | 'pad' | 'end' = 'skip';
  private header: Buffer[] = [];
  private headerLen = 0;
  private entry?: { name: string; size: number; left: number; hash?: Hash; want?: string };
  private pad = 0;
  entries = 0;
  bytes = 0;
  continues?: string;
  readonly problems: string[] = [];

  constructor(
    start: number,
    private readonly next: number | null,
  ) {
    this.pos = start;
    if (next === start) this.state = 'header';
  }

  push(c: Buffer): void {
    let i = 0;
    while (i < c.length && this.state !== 'end') {
      if (this.state === 'skip') {
        if (this.next === null) return;
        const n = Math.min(c.length - i, this.next - this.pos);
        i += n;
        this.pos += n;
        if (this.pos === this.next) this.state = 'header';
      } else if (this.state === 'header') {
        const n = Math.min(c.length - i, TAR_BLOCK - this.headerLen);
        this.header.push(c.subarray(i, i + n));
        this.headerLen += n;
        i += n;
        this.pos += n;
        if (this.headerLen === TAR_BLOCK) this.startEntry(Buffer.concat(this.header));
      } else if (this.state === 'data') {
        const e = this.entry!;
        const n = Math.min(c.length - i, e.left);
        e.hash?.update(c.subarray(i, i + n));
        e.left -= n;
        i += n;
        this.pos += n;
        if (e.left === 0) this.endEntry();
      } else {
        const n = Math.min(c.length - i, this.pad);
        this.pad -= n;
        i += n;
        this.pos += n;
        if (this.pad === 0) this.state = 'header';
      }
    }
  }

  private startEntry(block: Buffer): void {
    this.header = [];
    this.headerLen = 0;
    if (block.every((b) => b === 0)) {
      this.state = 'end';
      return;
    }
    try {
      const h = parseTarHeader(block, `tar offset ${this.pos - TAR_BLOCK}`);
      const name = checkEntryName(h.name);
      const m = BLOB_ENTRY.exec(name);
      this.entry = { name, size: h.size, left: h.size, ...(m ? { hash: createHash('sha256'), want: m[1]! } : {}) };
      this.state = 'data';
      if (h.size === 0) this.endEntry();
    } catch (err) {
      this.problems.push(describe(err));
      this.state = 'end';
    }
  }

  private endEntry(): void {
    const e = this.entry!;
    if (e.hash) {
      const got = e.hash.digest('hex');
      if (got !== e.want) this.problems.push(`bundle entry ${e.name} hashes to sha256:${got}`);
    }
    this.entries++;
    this.bytes += e.size;
    this.entry = undefined;
    this.pad = tarPadding(e.size);
    this.state = this.pad ? 'pad' : 'header';
  }

  /** The entry still open at the end of the volume (it goes on in the next one). */
  open(): string | undefined {
    return this.state === 'data' ? this.entry?.name : undefined;
  }

  /** Whether the whole volume lay before its first header (the middle of an entry that spans volumes). */
  inside(): boolean {
    return this.state === 'skip';
  }
}

/** Verifies the volume at `path` alone; resolves undefined when it is no volume. Throws only when it cannot be read. */
export async function verifyVolume(path: string, onBytes?: (n: number) => void): Promise<VolumeVerifyResult | undefined> {
  const h = await readVolumeHeader(path);
  if (!h) return undefined;
  const { header } = h;
  const walk = new TarWalk(header.tarOffset, header.nextHeader);
  if (header.nextHeader !== header.tarOffset) walk.continues = 'an entry of the previous volume';
  const fileHash = createHash('sha256');
  const gz = createGunzip({ chunkSize: 1024 * 1024 });
  let inflateError: unknown;
  const walking = (async () => {
    try {
      for await (const c of gz as AsyncIterable<Buffer>) walk.push(c);
    } catch (err) {
      inflateError = err;
    }
  })();
  let inflating = true;
  for await (const c of createReadStream(path, { highWaterMark: 1024 * 1024 }) as AsyncIterable<Buffer>) {
    fileHash.update(c);
    onBytes?.(c.length);
    if (inflating) await writeChunk(gz, c).catch(() => (inflating = false));
  }
  if (inflating) gz.end();
  await walking;
  const problems = [...walk.problems];
  if (inflateError !== undefined) problems.push(`its gzip data does not inflate: ${archiveErrorText(inflateError)}`);
  const lines = await readSetSidecar(volumeBase(path));
  const want = lines?.get(basename(path));
  const got = fileHash.digest('hex');
  const sidecar = want === undefined ? 'absent' : want === got ? 'ok' : 'mismatch';
  if (sidecar === 'mismatch') problems.unshift(`${setSidecarName(volumeBase(path))} says ${want} for ${basename(path)}, the file hashes to ${got}`);
  const spans = inflateError === undefined ? (walk.inside() ? (header.nextHeader !== null ? 'the entry it continues' : undefined) : walk.open()) : undefined;
  return {
    header,
    problems,
    checked: { entries: walk.entries, bytes: walk.bytes, ...(walk.continues ? { continues: walk.continues } : {}), ...(spans ? { spans } : {}), sidecar },
  };
}
