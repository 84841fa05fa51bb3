/**
 * Catching a ferry run in the middle of a file, for the interruption tests: polls
 * /proc/<pid>/fd for a descriptor open on `path` (or on `path` + a suffix, such as `.partial`)
 * whose offset (/proc/<pid>/fdinfo) has passed `minBytes`, then stops the process with SIGSTOP
 * so that it stays there while the test looks and sends its signal (delivered on SIGCONT).
 */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { waitFor } from './wait.js';

/** The offset of the first descriptor of `pid` open on a file whose name starts with `path`, or undefined. */
export function openOffset(pid: number, path: string): number | undefined {
  let fds: string[];
  try {
    fds = readdirSync(`/proc/${pid}/fd`);
  } catch {
    return undefined;
  }
  for (const fd of fds) {
    let target: string;
    try {
      target = readlinkSync(`/proc/${pid}/fd/${fd}`);
    } catch {
      continue;
    }
    if (!target.startsWith(path)) continue;
    const pos = /^pos:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8').toString());
    if (pos) return Number(pos[1]);
  }
  return undefined;
}

/** Waits until `pid` has `path*` open at offset >= minBytes, then SIGSTOPs it. */
export async function stopMidway(pid: number, path: string, minBytes: number, describe: () => string): Promise<void> {
  await waitFor(
    () => {
      const at = openOffset(pid, path);
      if (at === undefined || at < minBytes) return false;
      process.kill(pid, 'SIGSTOP');
      return true;
    },
    { what: `process ${pid} at byte ${minBytes} of ${path}`, timeoutMs: 60_000, intervalMs: 2, describe },
  );
}

/** Bytes `pid` has read through read(2)/pread(2) in all its threads (/proc/<pid>/io rchar), or undefined. */
function bytesRead(pid: number): number | undefined {
  try {
    const m = /^rchar:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/io`, 'utf8'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * For a reader that uses positioned reads (pread moves no file offset): waits until `pid` has
 * `path*` open, then until it has read `minBytes` more (all reads count, /proc/<pid>/io), then
 * SIGSTOPs it.
 */
export async function stopMidwayReading(pid: number, path: string, minBytes: number, describe: () => string): Promise<void> {
  let base: number | undefined;
  await waitFor(
    () => {
      if (base === undefined) {
        if (openOffset(pid, path) === undefined) return false;
        base = bytesRead(pid);
        return false;
      }
      const now = bytesRead(pid);
      if (now === undefined || now - base < minBytes) return false;
      process.kill(pid, 'SIGSTOP');
      return true;
    },
    { what: `process ${pid} ${minBytes} bytes into reading ${path}`, timeoutMs: 60_000, intervalMs: 2, describe },
  );
}

/** Sends `signal` to a stopped process and lets it run to receive it. */
export function signalStopped(pid: number, signal: NodeJS.Signals): void {
  process.kill(pid, signal);
  process.kill(pid, 'SIGCONT');
}
