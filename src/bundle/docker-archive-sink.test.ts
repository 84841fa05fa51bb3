import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { extract as tarExtract } from 'tar-stream';
import { describe, expect, it } from 'vitest';
import type { BlobSource } from '../content/image-source.js';
import type { ImagePlan } from '../content/plan.js';
import { blobPath } from '../digest/digest.js';
import type { Descriptor } from '../oci/manifest.js';
import { MediaType } from '../oci/media-types.js';
import { blobContent } from '../transfer/blob-content.js';
import { copyImages } from '../transfer/copy.js';
import { DockerArchiveSink } from './docker-archive-sink.js';
import { TAR_BLOCK, tarEntryLength } from './tar-header.js';

const blob = (data: Buffer, mediaType: string): { d: Descriptor; data: Buffer } => ({
  d: { mediaType, digest: `sha256:${createHash('sha256').update(data).digest('hex')}`, size: data.length },
  data,
});

const cfgA = blob(Buffer.from('{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}'), MediaType.dockerConfig);
const cfgB = blob(Buffer.from('{"architecture":"arm64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}'), MediaType.dockerConfig);
const shared = blob(randomBytes(300_000), MediaType.dockerLayerGzip);
const onlyA = blob(randomBytes(1000), MediaType.dockerLayerGzip);
const empty = blob(Buffer.alloc(0), MediaType.dockerLayerGzip);
const all = new Map([cfgA, cfgB, shared, onlyA, empty].map((b) => [b.d.digest, b.data]));

function plan(request: string, config: Descriptor, layers: Descriptor[]): ImagePlan {
  return {
    request, ref: { registry: 'unnamed', repository: 'unnamed', tag: undefined, digest: config.digest }, name: request, root: config, upstreamDigest: config.digest,
    manifests: [], images: [{ platform: undefined, manifest: config, config, layers, kind: 'image' }], notes: [],
  };
}

const planA = plan('a:1', cfgA.d, [shared.d, onlyA.d, empty.d]);
const planB = plan('b:1', cfgB.d, [shared.d]);

/** Blobs from memory in 64 KiB chunks; `damage` flips a byte of that blob's last chunk. */
function memorySource(damage?: string): BlobSource {
  return {
    description: 'memory',
    oneFile: true,
    blob: (_ref, d) => async (offset, end) => {
      let data = all.get(d.digest)!;
      if (d.digest === damage) {
        data = Buffer.from(data);
        data[data.length - 1]! ^= 0xff;
      }
      const part = data.subarray(offset, (end ?? data.length - 1) + 1);
      const chunks: Buffer[] = [];
      for (let i = 0; i < part.length; i += 65536) chunks.push(part.subarray(i, i + 65536));
      return { body: Readable.from(chunks), start: offset };
    },
  };
}

/** Everything the stream gave, and how it ended. */
async function drain(stream: Readable): Promise<{ bytes: Buffer; error: Error | undefined }> {
  const parts: Buffer[] = [];
  try {
    for await (const c of stream as AsyncIterable<Buffer>) parts.push(c);
    return { bytes: Buffer.concat(parts), error: undefined };
  } catch (err) {
    return { bytes: Buffer.concat(parts), error: err as Error };
  }
}

/** The tar's regular files, in order, read by tar-stream. */
async function untar(bytes: Buffer): Promise<{ name: string; data: Buffer }[]> {
  const ex = tarExtract();
  const out: { name: string; data: Buffer }[] = [];
  const done = (async () => {
    for await (const e of ex) {
      const parts: Buffer[] = [];
      for await (const c of e as AsyncIterable<Buffer>) parts.push(c);
      out.push({ name: e.header.name, data: Buffer.concat(parts) });
    }
  })();
  ex.end(bytes);
  await done;
  return out;
}

/** The error `p` rejects with (the test fails when it resolves). */
async function failure(p: Promise<unknown>): Promise<Error & { code?: string }> {
  try {
    await p;
  } catch (err) {
    return err as Error & { code?: string };
  }
  throw new Error('expected a failure');
}

/** A sink whose writes go out at once (writeSize 1), so a test sees every byte it wrote. */
const sinkFor = (writeSize = 1): DockerArchiveSink =>
  new DockerArchiveSink('the test archive', { repoTags: (p) => [p.request], origin: (d) => (d === shared.d.digest ? '/base.tar.gz' : undefined), writeSize });

describe('DockerArchiveSink', () => {
  it.each([1, 1024 * 1024])('writes each blob once as blobs/sha256/<hex>, then manifest.json (Config, RepoTags, Layers) and the end of the tar (writes of %i bytes)', async (writeSize) => {
    const sink = sinkFor(writeSize);
    const got = drain(sink.stream);
    let bytes = 0;
    await copyImages(memorySource(), [planA, planB], sink, { onBytes: (_p, n) => (bytes += n) });
    const { bytes: tar, error } = await got;
    expect(error).toBeUndefined();
    const entries = await untar(tar);
    const names = entries.map((e) => e.name);
    expect(names.at(-1)).toBe('manifest.json');
    expect(new Set(names.slice(0, -1))).toEqual(new Set([cfgA, cfgB, shared, onlyA, empty].map((b) => blobPath(b.d.digest))));
    expect(names).toHaveLength(6);
    for (const e of entries.slice(0, -1)) expect(e.data.equals(all.get(`sha256:${e.name.slice('blobs/sha256/'.length)}`)!), e.name).toBe(true);
    expect(JSON.parse(entries.at(-1)!.data.toString('utf8'))).toEqual([
      { Config: blobPath(cfgA.d.digest), RepoTags: ['a:1'], Layers: [shared, onlyA, empty].map((b) => blobPath(b.d.digest)) },
      { Config: blobPath(cfgB.d.digest), RepoTags: ['b:1'], Layers: [blobPath(shared.d.digest)] },
    ]);
    // Entries, manifest.json, then exactly the two zero blocks of the end.
    const manifestLen = entries.at(-1)!.data.length;
    const blobBytes = [...all.values()].reduce((n, b) => n + tarEntryLength(b.length), 0);
    expect(tar.length).toBe(blobBytes + tarEntryLength(manifestLen) + 2 * TAR_BLOCK);
    expect(tar.subarray(-2 * TAR_BLOCK).every((b) => b === 0)).toBe(true);
    expect(bytes).toBe([...all.values()].reduce((n, b) => n + b.length, 0));
  });

  it('a wrong blob fails the copy before its entry ends: the stream fails and holds no whole entry of it', async () => {
    const sink = sinkFor();
    const got = drain(sink.stream);
    const err = await failure(copyImages(memorySource(onlyA.d.digest), [planA], sink));
    expect(err.code).toBe('DIGEST_MISMATCH');
    expect(err.message).toContain(onlyA.d.digest);
    const { bytes, error } = await got;
    expect(error, 'the stream ends in an error, not cleanly').toBeDefined();
    expect(bytes.includes(Buffer.from('manifest.json'))).toBe(false);
    // The damaged blob's data, if its header went out, stops short of its last byte.
    const at = bytes.indexOf(Buffer.from(blobPath(onlyA.d.digest)));
    if (at >= 0) expect(bytes.length - (at + TAR_BLOCK)).toBeLessThan(onlyA.d.size);
  });

  it('names where a failing blob is read from (a --base bundle)', async () => {
    const sink = sinkFor();
    void drain(sink.stream);
    const err = await failure(copyImages(memorySource(shared.d.digest), [planB], sink));
    expect(err.message).toContain(`reading ${shared.d.digest} from /base.tar.gz`);
  });

  it('abort leaves an unfinished tar: no manifest.json, no end blocks, and the stream fails', async () => {
    const sink = sinkFor();
    const got = drain(sink.stream);
    const content = blobContent(memorySource().blob(planA.ref, cfgA.d, 'x'), cfgA.d.size, cfgA.d.digest, 'config');
    await sink.putBlob(planA, cfgA.d, content, () => undefined);
    await sink.finishImage(planA);
    await sink.abort();
    const { bytes, error } = await got;
    expect(error).toBeDefined();
    expect(bytes.length).toBeLessThanOrEqual(tarEntryLength(cfgA.d.size));
    expect(bytes.includes(Buffer.from('manifest.json'))).toBe(false);
    await expect(untar(bytes)).rejects.toThrow();
  });

  it('writes fail once the reader has gone: closedEarly says the reader closed it, not abort', async () => {
    const sink = sinkFor();
    sink.stream.destroy();
    const content = blobContent(memorySource().blob(planA.ref, shared.d, 'x'), shared.d.size, shared.d.digest, 'layer');
    await expect(sink.putBlob(planA, shared.d, content, () => undefined)).rejects.toThrow(/closed/);
    expect(sink.closedEarly).toBe(true);
  });
});
