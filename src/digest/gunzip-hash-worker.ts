/**
 * The DiffID of gzip layers (sha256 of the decompressed bytes) computed on another thread, for
 * `verify --deep` (bundle/verify-seekable.ts): the main thread reads and hashes the bundle's
 * bytes and hands each gzip layer's bytes over; this thread hashes what gunzip (on libuv's
 * threads) makes of them. Without it the main thread hashed a layer's bytes twice, compressed and
 * decompressed, and was the slowest stage by far. Layers are handed over one after another; at
 * most BUDGET bytes are on their way at a time (the writer waits), so memory stays flat.
 */
import { Worker } from 'node:worker_threads';

/** Bytes posted to the thread and not yet taken by gunzip, at most. */
const BUDGET = 4 * 1024 * 1024;
/** Bytes per message (the layer's bytes are copied into such a buffer, then moved to the thread). */
const BATCH = 1024 * 1024;

const CODE = `
const { createHash } = require('node:crypto');
const { createGunzip } = require('node:zlib');
const { parentPort } = require('node:worker_threads');
const layers = new Map();
parentPort.on('message', (m) => {
  if (m.start !== undefined) {
    const l = { gunzip: createGunzip({ chunkSize: 256 * 1024 }), hash: createHash('sha256'), failure: undefined, done: false };
    const settle = () => {
      if (l.done) return;
      l.done = true;
      layers.delete(m.start);
      parentPort.postMessage(l.failure ? { id: m.start, error: { code: l.failure.code, message: l.failure.message } } : { id: m.start, hex: l.hash.digest('hex') });
    };
    l.gunzip.on('data', (c) => l.hash.update(c));
    l.gunzip.on('end', settle);
    l.gunzip.on('error', (e) => { l.failure = l.failure || e; settle(); });
    layers.set(m.start, l);
  } else if (m.chunk) {
    const l = layers.get(m.id);
    const n = m.chunk.byteLength;
    if (!l || l.failure || l.done) { parentPort.postMessage({ ack: n }); return; }
    l.gunzip.write(Buffer.from(m.chunk.buffer, m.chunk.byteOffset, n), () => parentPort.postMessage({ ack: n }));
  } else if (m.end !== undefined) {
    const l = layers.get(m.end);
    if (l && !l.failure) l.gunzip.end();
  } else if (m.abort !== undefined) {
    const l = layers.get(m.abort);
    if (l) { l.done = true; layers.delete(m.abort); l.gunzip.destroy(); }
  }
});`;

/** A zlib failure as the thread saw it (its code and message). */
export interface GunzipFailure {
  code?: string;
  message: string;
}

/** One layer being handed over: its bytes in order, then its end. */
export interface GunzipLayer {
  /** Copies `bytes` for the thread; waits while too much is on its way. */
  write(bytes: Uint8Array): Promise<void>;
  /** Resolves the sha256 hex of the decompressed bytes, or the gunzip failure. */
  end(): Promise<{ hex: string } | { failure: GunzipFailure }>;
  /** Drops the layer (its result never comes). */
  abort(): void;
}

/** A thread hashing decompressed gzip layers; `close` ends it. */
export class GunzipHasher {
  private readonly worker = new Worker(CODE, { eval: true });
  private inflight = 0;
  private next = 0;
  private waiting: Array<() => void> = [];
  private readonly results = new Map<number, (r: { hex: string } | { failure: GunzipFailure }) => void>();
  private broken: Error | undefined;

  constructor() {
    this.worker.unref();
    this.worker.on('message', (m: { ack?: number; id?: number; hex?: string; error?: GunzipFailure }) => {
      if (m.ack !== undefined) {
        this.inflight -= m.ack;
        if (this.inflight <= BUDGET) for (const w of this.waiting.splice(0)) w();
        return;
      }
      const done = this.results.get(m.id!);
      this.results.delete(m.id!);
      done?.(m.hex !== undefined ? { hex: m.hex } : { failure: m.error! });
    });
    const fail = (err: Error): void => {
      this.broken ??= err;
      for (const w of this.waiting.splice(0)) w();
      for (const done of this.results.values()) done({ failure: { message: err.message } });
      this.results.clear();
    };
    this.worker.on('error', fail);
    this.worker.on('exit', (code) => fail(new Error(`the decompressing thread exited with ${code}`)));
  }

  /** Starts a layer. */
  layer(): GunzipLayer {
    const id = this.next++;
    const result = new Promise<{ hex: string } | { failure: GunzipFailure }>((resolve) => this.results.set(id, resolve));
    this.worker.postMessage({ start: id });
    let batch = new Uint8Array(BATCH);
    let used = 0;
    const post = async (): Promise<void> => {
      if (!used) return;
      const chunk = used === batch.length ? batch : batch.slice(0, used);
      batch = new Uint8Array(BATCH);
      used = 0;
      this.inflight += chunk.byteLength;
      if (!this.broken) this.worker.postMessage({ id, chunk }, [chunk.buffer]);
      while (this.inflight > BUDGET && !this.broken) await new Promise<void>((r) => this.waiting.push(r));
    };
    return {
      write: async (bytes) => {
        let at = 0;
        while (at < bytes.length) {
          const n = Math.min(bytes.length - at, batch.length - used);
          batch.set(bytes.subarray(at, at + n), used);
          used += n;
          at += n;
          if (used === batch.length) await post();
        }
      },
      end: async () => {
        await post();
        if (!this.broken) this.worker.postMessage({ end: id });
        return this.broken ? { failure: { message: this.broken.message } } : result;
      },
      abort: () => {
        this.results.delete(id);
        if (!this.broken) this.worker.postMessage({ abort: id });
      },
    };
  }

  /** Ends the thread. */
  async close(): Promise<void> {
    this.worker.removeAllListeners('exit');
    await this.worker.terminate();
  }
}
