/**
 * Streams a bundle as a plain tar with a different manifest.json and only the blobs it names:
 * how `ferry load` hands Docker a chosen platform or a subset of images without a temporary
 * copy. Entries are checked as in reader.ts (names, types) and blobs verified against their
 * names while they pass; a bad blob aborts the stream, so the engine loads nothing.
 */
import { Readable } from 'node:stream';
import { pack as tarPack, extract as tarExtract } from 'tar-stream';
import { VerifyingStream } from '../digest/verifying-stream.js';
import { checkEntryName, checkEntryType } from './entry-name.js';
import { MANIFEST_JSON } from './layout.js';
import { openTarStream } from './reader.js';

const BLOB = /^blobs\/sha256\/([a-f0-9]{64})$/;

/** A plain-tar stream of `path` with `manifestJson` in place of its manifest.json, keeping `keep` blobs. */
export async function rewriteForLoad(path: string, manifestJson: string, keep: ReadonlySet<string>): Promise<Readable> {
  const tar = await openTarStream(path);
  const extract = tarExtract();
  const pack = tarPack();
  const run = async (): Promise<void> => {
    const feeding = (async () => {
      for await (const chunk of tar as AsyncIterable<Buffer>) {
        if (!extract.write(chunk)) await new Promise<void>((r) => extract.once('drain', () => r()));
      }
      (extract as unknown as { end(): void }).end();
    })();
    feeding.catch((err: unknown) => extract.destroy(err as Error));
    for await (const entry of extract) {
      const kind = checkEntryType(entry.header.name, entry.header.type);
      const name = kind === 'file' ? checkEntryName(entry.header.name) : '';
      const m = BLOB.exec(name);
      if (kind !== 'file' || (m && !keep.has(`sha256:${m[1]}`))) {
        entry.resume();
        continue;
      }
      if (name === MANIFEST_JSON) {
        entry.resume();
        await new Promise<void>((res, rej) => pack.entry({ name, size: Buffer.byteLength(manifestJson), mode: 0o644, mtime: entry.header.mtime ?? new Date() }, manifestJson, (e) => (e ? rej(e) : res())));
        continue;
      }
      const size = entry.header.size ?? 0;
      const sink = pack.entry({ name, size, mode: 0o644, mtime: entry.header.mtime ?? new Date() });
      const src: AsyncIterable<Buffer> = m ? (entry as unknown as Readable).pipe(new VerifyingStream(`sha256:${m[1]}`, size, `bundle entry ${name}`)) : (entry as AsyncIterable<Buffer>);
      for await (const c of src) if (!sink.write(c)) await new Promise<void>((r) => sink.once('drain', () => r()));
      await new Promise<void>((res, rej) => {
        sink.once('error', rej);
        sink.once('finish', () => res());
        (sink as unknown as { end(): void }).end();
      });
    }
    await feeding;
    pack.finalize();
  };
  run().catch((err: unknown) => pack.destroy(err as Error));
  return Readable.from(pack);
}
