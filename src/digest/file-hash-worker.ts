/**
 * sha256 of a file on another thread, so the hash of a bundle (its `.sha256` sidecar) costs the
 * main thread nothing while it does other work: `hashFile` for a file that is complete (verify),
 * `followFile` for one still being written (the bundle writer): the thread reads what has
 * reached the file (the page cache) and waits for more until it is told the final size.
 * `checkStoredCrcs` also checks the CRC32 of stored gzip members as their bytes pass (verify).
 */
import { stat } from 'node:fs/promises';
import { Worker } from 'node:worker_threads';

const CODE = `
const { createHash } = require('node:crypto');
const { openSync, readSync, closeSync } = require('node:fs');
const { parentPort, workerData } = require('node:worker_threads');
const { crc32 } = require('node:zlib');
const { path, shared, stored } = workerData;
// Stored gzip members whose CRC32 this thread checks as the bytes pass (see checkStoredCrcs).
const members = (stored || []).map((m) => ({ from: m.from, end: m.end, phase: 0, have: 0, small: Buffer.alloc(8), left: 0, final: false, crc: 0, verdict: undefined }));
let first = 0;
function step(m, b) {
  let i = 0;
  while (i < b.length) {
    if (m.phase === 1) {
      const n = Math.min(m.left, b.length - i);
      m.crc = crc32(b.subarray(i, i + n), m.crc);
      m.left -= n; i += n;
      if (!m.left) m.phase = m.final ? 2 : 0;
      continue;
    }
    const want = m.phase === 0 ? 5 : 8;
    const n = Math.min(want - m.have, b.length - i);
    b.copy(m.small, m.have, i, i + n);
    m.have += n; i += n;
    if (m.have < want) continue;
    m.have = 0;
    if (m.phase === 2) { m.verdict = m.small.readUInt32LE(0) === m.crc >>> 0 ? 'ok' : 'crc'; return; }
    if (m.small[0] >> 1) { m.verdict = 'not stored'; return; }
    m.final = (m.small[0] & 1) === 1;
    m.left = m.small.readUInt16LE(1);
    if ((m.left ^ 0xffff) !== m.small.readUInt16LE(3)) { m.verdict = 'lengths'; return; }
    m.phase = m.left ? 1 : m.final ? 2 : 0;
  }
}
function feed(buf, at) {
  while (first < members.length && members[first].end <= at) first++;
  for (let j = first; j < members.length && members[j].from < at + buf.length; j++) {
    const m = members[j];
    if (m.verdict) continue;
    const s = Math.max(m.from, at), e = Math.min(m.end, at + buf.length);
    if (s < e) step(m, buf.subarray(s - at, e - at));
  }
}
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
    if (n > 0) { h.update(buf.subarray(0, n)); if (members.length) feed(buf.subarray(0, n), pos); pos += n; continue; }
    if (final >= 0 && pos >= final) break;
    if (final >= 0 && n === 0) throw new Error('the file is shorter than its written size');
    Atomics.wait(nap, 0, 0, 2);
  }
  closeSync(fd);
  parentPort.postMessage({ hex: h.digest('hex'), bytes: pos, crcs: members.map((m) => m.verdict || 'truncated') });
} catch (e) {
  parentPort.postMessage({ error: e.message });
} })();`;

export interface FollowedHash {
  /** Tells the thread the file is complete at `size` bytes; resolves its sha256 hex. */
  finish(size: number): Promise<string>;
  /** Stops the thread (the write failed). */
  abandon(): void;
}

function start(path: string, final?: number, stored?: readonly StoredMember[]): { shared: SharedArrayBuffer; result: Promise<{ hex: string; crcs: CrcVerdict[] }> } {
  const shared = new SharedArrayBuffer(24);
  if (final !== undefined) new Float64Array(shared, 0, 2)[0] = final + 1;
  const worker = new Worker(CODE, { eval: true, workerData: { path, shared, stored } });
  const result = new Promise<{ hex: string; crcs: CrcVerdict[] }>((resolve, reject) => {
    worker.once('message', (m: { hex?: string; crcs?: CrcVerdict[]; error?: string; abandoned?: boolean }) => {
      if (m.hex) resolve({ hex: m.hex, crcs: m.crcs ?? [] });
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
  return (await checkStoredCrcs(path, [])).hex;
}

/** A stored gzip member (stored-runs.ts): its first block header at `from`, its end (after the trailer) at `end`. */
export interface StoredMember {
  from: number;
  end: number;
}

/** What the thread found of a stored member: its CRC32 matches, does not, or its blocks are not what a stored member's are. */
export type CrcVerdict = 'ok' | 'crc' | 'not stored' | 'lengths' | 'truncated';

/**
 * sha256 hex of the complete file at `path` and, in the same pass on the same thread, the CRC32
 * check of each stored member in `stored` (in file order, not overlapping): verify gives this
 * thread the CRCs so that the main thread only hashes the blobs, and the two cores share the work.
 */
export async function checkStoredCrcs(path: string, stored: readonly StoredMember[]): Promise<{ hex: string; crcs: CrcVerdict[] }> {
  return start(path, (await stat(path)).size, stored).result;
}

/** Starts hashing `path` (which must exist) while it is still being written. */
export function followFile(path: string): FollowedHash {
  const { shared, result: full } = start(path);
  const result = full.then((r) => r.hex);
  result.catch(() => undefined);
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
