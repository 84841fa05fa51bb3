import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FerryError } from '../errors.js';
import { acquireLock } from './lock.js';

let dir: string;
let file: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ferry-lock-'));
  file = join(dir, 'blob.lock');
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** The pid of a process that has exited. */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', '0']);
  expect(r.status).toBe(0);
  return r.pid;
}

const exists = (f: string): Promise<boolean> => stat(f).then(
  () => true,
  () => false,
);

describe('acquireLock', () => {
  it('creates the lock file holding our pid, and release removes it', async () => {
    const lock = await acquireLock(file, 'blob');
    expect(await readFile(file, 'utf8')).toBe(String(process.pid));
    await lock.release();
    expect(await exists(file)).toBe(false);
  });

  it('takes over a stale lock whose owner is dead', async () => {
    const pid = deadPid();
    await writeFile(file, String(pid));
    const started = Date.now();
    const lock = await acquireLock(file, 'blob', 5_000);
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(await readFile(file, 'utf8')).toBe(String(process.pid));
    await lock.release();
  });

  it('takes over a lock holding junk instead of a pid', async () => {
    await writeFile(file, 'not-a-pid');
    const lock = await acquireLock(file, 'blob', 5_000);
    expect(await readFile(file, 'utf8')).toBe(String(process.pid));
    await lock.release();
  });

  it('times out with LOCKED on a lock held by another live process', async () => {
    await writeFile(file, '1'); // pid 1 is always alive
    const started = Date.now();
    let caught: unknown;
    try {
      await acquireLock(file, 'layer sha256:abc of nginx:1', 300);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(FerryError);
    const e = caught as FerryError;
    expect(e.code).toBe('LOCKED');
    expect(e.message).toBe(`layer sha256:abc of nginx:1 is locked by process 1 (${file})`);
    expect(e.hint).toMatch(/another ferry run/);
    expect(Date.now() - started).toBeGreaterThanOrEqual(300);
    expect(Date.now() - started).toBeLessThan(3_000);
    // The other process's lock is left alone.
    expect(await readFile(file, 'utf8')).toBe('1');
  });

  it('waits for another holder in the same process to release', async () => {
    const first = await acquireLock(file, 'blob');
    let got = false;
    const second = acquireLock(file, 'blob', 5_000).then((l) => {
      got = true;
      return l;
    });
    await new Promise((r) => setTimeout(r, 300));
    expect(got).toBe(false);
    await first.release();
    const lock = await second;
    expect(got).toBe(true);
    await lock.release();
  });

  it('fails with an IO error naming the lock file and the OS reason when the directory does not exist', async () => {
    const missing = join(dir, 'missing', 'x.lock');
    await expect(acquireLock(missing, 'blob', 10)).rejects.toMatchObject({ code: 'IO', message: `creating lock file ${missing}: no such file or directory` });
  });

  it('takes over a lock holding our own pid that this process does not hold (a killed run in a container, same pid)', async () => {
    const file = join(dir, 'own-pid.lock');
    await writeFile(file, String(process.pid));
    const lock = await acquireLock(file, 'blob x', 200);
    expect(await readFile(file, 'utf8')).toBe(String(process.pid));
    await lock.release();
  });
});
