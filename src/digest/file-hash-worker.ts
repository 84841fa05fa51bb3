/**
 * sha256 of a file on another thread, so the hash of a bundle (its `.sha256` sidecar) costs the
 * main thread nothing while it does other work: `hashFile` for a file that is complete (verify),
 * `followFile` for one still being written (the bundle writer): the thread reads what has
 * reached the file (the page cache) and waits for more until it is told the final size.
 */
import { Worker } from 'node:worker_threads';

const CODE = `
const { createHash } = require('node:crypto');
const { openSync, readSync, closeSync } = require('node:fs');
const { parentPort, workerData } = require('node:worker_threads');
const { path, shared } = workerData;
// shared[0]: final size + 1 once known (0: still growing); shared[1]: 1 to abandon.
const state = new Float64Array(shared, 0, 2);
const nap = new Int32Array(shared, 16, 1);
(function run() { try {
  let fd;
  // A file still being created (its writer opens it asynchronously): wait for it.
  for (;;) {
    try { fd = openSync(path, 'r'); break; } catch (e) {
      if (e.code !== 'ENOENT' || state[1]) throw e;
      Atomics.wait(nap, 0, 0, 2);
    }
  }
  const h = createHash('sha256');
  const buf = Buffer.allocUnsafe(4 * 1024 * 1024);
  let pos = 0;
  for (;;) {
    if (state[1]) { closeSync(fd); parentPort.postMessage({ abandoned: true }); return; }
    const final = state[0] ? state[0] - 1 : -1;
    const want = final >= 0 ? Math.min(buf.length, final - pos) : buf.length;
    const n = want > 0 ? readSync(fd, buf, 0, want, pos) : 0;
    if (n > 0) { h.update(buf.subarray(0, n)); pos += n; continue; }
    if (final >= 0 && pos >= final) break;
    if (final >= 0 && n === 0) throw new Error('the file is shorter than its written size');
    Atomics.wait(nap, 0, 0, 2);
  }
  closeSync(fd);
  parentPort.postMessage({ hex: h.digest('hex'), bytes: pos });
} catch (e) {
  parentPort.postMessage({ error: e.message });
} })();`;

export interface FollowedHash {
  /** Tells the thread the file is complete at `size` bytes; resolves its sha256 hex. */
  finish(size: number): Promise<string>;
  /** Stops the thread (the write failed). */
  abandon(): void;
}

function start(path: string, final?: number): { shared: SharedArrayBuffer; result: Promise<string> } {
  const shared = new SharedArrayBuffer(24);
  if (final !== undefined) new Float64Array(shared, 0, 2)[0] = final + 1;
  const worker = new Worker(CODE, { eval: true, workerData: { path, shared } });
  const result = new Promise<string>((resolve, reject) => {
    worker.once('message', (m: { hex?: string; error?: string; abandoned?: boolean }) => {
      if (m.hex) resolve(m.hex);
      else reject(new Error(m.abandoned ? 'abandoned' : `hashing ${path}: ${m.error}`));
    });
    worker.once('error', reject);
    worker.once('exit', (code) => code !== 0 && reject(new Error(`the hashing thread exited with ${code}`)));
  });
  result.catch(() => undefined);
  return { shared, result };
}

/** sha256 hex of the complete file at `path`, computed on another thread. */
export async function hashFile(path: string): Promise<string> {
  const { stat } = await import('node:fs/promises');
  return start(path, (await stat(path)).size).result;
}

/** Starts hashing `path` (which must exist) while it is still being written. */
export function followFile(path: string): FollowedHash {
  const { shared, result } = start(path);
  const state = new Float64Array(shared, 0, 2);
  const nap = new Int32Array(shared, 16, 1);
  return {
    finish(size) {
      state[0] = size + 1;
      Atomics.notify(nap, 0);
      return result;
    },
    abandon() {
      state[1] = 1;
      Atomics.notify(nap, 0);
    },
  };
}
