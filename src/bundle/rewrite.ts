/**
 * Streams a bundle as a plain tar with a different manifest.json and only the blobs it names:
 * how `ferry load` hands Docker a chosen platform or a subset of images of an archive it cannot
 * read in place (an older gzip bundle, a `docker save` or skopeo archive; a bundle it can read
 * in place goes through the copy engine and docker-archive-sink.ts instead) without a temporary
 * copy, and how it makes sure Docker never sees an entry ferry would reject. Entries are checked as in reader.ts (names, types) and blobs verified against their
 * names while they pass; a bad blob aborts the stream, so the engine loads nothing. Blobs from
 * elsewhere (a differential bundle's base layers, `load --base`) are appended after the
 * bundle's own entries, each verified the same way by whoever opens it.
 */
import { Readable } from 'node:stream';
import { pack as tarPack, extract as tarExtract } from 'tar-stream';
import { FerryError } from '../errors.js';
import { VerifyingStream } from '../digest/verifying-stream.js';
import { checkEntryName, checkEntryType, checkLayerLink, BLOB_ENTRY } from './entry-name.js';
import { MANIFEST_JSON } from './layout.js';
import { archiveError, openTarStream } from './reader.js';
import { finished, pipeTo, writeChunk } from '../util/streams.js';

/** Errors of an entry sink surface through `run`'s own awaits; keep them from going uncaught. */
function quiet<T extends { on(ev: 'error', fn: (e: Error) => void): unknown }>(sink: T): T {
  sink.on('error', () => undefined);
  return sink;
}


/** A blob appended to the stream: `open` gives its bytes, verified against `digest` (it fails at the end on a mismatch). */
export interface ExtraBlob {
  digest: string;
  size: number;
  /** Names where the blob comes from in read errors (a bundle's path). */
  source: string;
  open(): Readable;
}

export interface RewrittenArchive {
  stream: Readable;
  /** Resolves undefined when the whole archive passed, or the error that stopped it. */
  failure: Promise<Error | undefined>;
}

/**
 * A plain-tar stream of `path` with `manifestJson` (when given) in place of its manifest.json,
 * keeping only the `keep` blobs (all when undefined), then the `extras` the archive did not
 * hold. `onBytes` sees the file's bytes (and the extras') as they are read.
 */
export async function rewriteForLoad(path: string, manifestJson: string | undefined, keep: ReadonlySet<string> | undefined, onBytes?: (n: number) => void, extras: readonly ExtraBlob[] = []): Promise<RewrittenArchive> {
  const tar = await openTarStream(path, onBytes ? (c) => onBytes(c.length) : undefined);
  const extract = tarExtract();
  const pack = tarPack();
  const run = async (): Promise<void> => {
    const feeding = (async () => {
      for await (const chunk of tar as AsyncIterable<Buffer>) {
        await writeChunk(extract, chunk);
      }
      (extract as unknown as { end(): void }).end();
    })();
    feeding.catch((err: unknown) => extract.destroy(err as Error));
    const seen = new Set<string>();
    for await (const entry of extract) {
      const kind = checkEntryType(entry.header.name, entry.header.type);
      const name = kind === 'file' || kind === 'symlink' ? checkEntryName(entry.header.name) : '';
      if (name) {
        if (seen.has(name)) throw new FerryError('BUNDLE_FORMAT', `bundle entry "${name}" appears twice`, { hint: 'the archive is damaged or hostile; do not use it' });
        seen.add(name);
      }
      if (kind === 'symlink') {
        // Only docker save's layer links get here (checkLayerLink throws for anything else).
        checkLayerLink(name, entry.header.linkname);
        entry.resume();
        const link = quiet(pack.entry({ name, type: 'symlink', linkname: entry.header.linkname ?? '', mode: 0o777, mtime: entry.header.mtime ?? new Date() }));
        const done = finished(link);
        (link as unknown as { end(): void }).end();
        await done;
        continue;
      }
      const m = BLOB_ENTRY.exec(name);
      if (kind !== 'file' || (m && keep && !keep.has(`sha256:${m[1]}`))) {
        entry.resume();
        continue;
      }
      if (name === MANIFEST_JSON && manifestJson !== undefined) {
        entry.resume();
        const doc = quiet(pack.entry({ name, size: Buffer.byteLength(manifestJson), mode: 0o644, mtime: entry.header.mtime ?? new Date() }));
        const done = finished(doc);
        done.catch(() => undefined);
        await writeChunk(doc, Buffer.from(manifestJson));
        (doc as unknown as { end(): void }).end();
        await done;
        continue;
      }
      const size = entry.header.size ?? 0;
      const sink = quiet(pack.entry({ name, size, mode: 0o644, mtime: entry.header.mtime ?? new Date() }));
      const src: AsyncIterable<Buffer> = m ? pipeTo(entry as unknown as Readable, new VerifyingStream(`sha256:${m[1]}`, size, `bundle entry ${name}`)) : (entry as AsyncIterable<Buffer>);
      const done = finished(sink);
      done.catch(() => undefined);
      for await (const c of src) await writeChunk(sink, c);
      (sink as unknown as { end(): void }).end();
      await done;
    }
    await feeding;
    for (const x of extras) {
      const name = `blobs/sha256/${x.digest.slice('sha256:'.length)}`;
      if (seen.has(name)) continue;
      seen.add(name);
      const sink = quiet(pack.entry({ name, size: x.size, mode: 0o644, mtime: new Date(0) }));
      const done = finished(sink);
      done.catch(() => undefined);
      try {
        for await (const c of x.open() as AsyncIterable<Buffer>) {
          onBytes?.(c.length);
          await writeChunk(sink, c);
        }
      } catch (err) {
        throw archiveError(x.source, err, name);
      }
      (sink as unknown as { end(): void }).end();
      await done;
    }
    pack.finalize();
  };
  const stream = Readable.from(pack);
  // When the consumer (the engine upload) goes away early, stop reading: the failure is
  // the consumer's to report, so `failure` then resolves undefined.
  let consumerGone = false;
  stream.once('close', () => {
    if (stream.readableEnded) return;
    consumerGone = true;
    extract.destroy();
    tar.destroy();
    pack.destroy();
  });
  const failure = run().then(
    () => undefined,
    (err: unknown) => {
      // `destroyed` is set at once when the consumer destroys the stream; the 'close' event
      // that sets consumerGone may come after run() has already failed because of it.
      if (consumerGone || stream.destroyed) return undefined;
      const e = archiveError(path, err);
      extract.destroy();
      tar.destroy();
      pack.destroy(e);
      return e;
    },
  );
  return { stream, failure };
}
