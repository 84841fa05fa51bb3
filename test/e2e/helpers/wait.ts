/**
 * Polling until a server is ready. Each attempt may throw or return false; the last error is
 * reported when time runs out, together with `describe()` (usually the server's log tail).
 */
import { setTimeout as sleep } from 'node:timers/promises';

export interface WaitOptions {
  /** What is awaited, for the error message ("registry on 127.0.0.1:5000"). */
  what: string;
  timeoutMs?: number;
  intervalMs?: number;
  /** Checked before each attempt: a reason to give up at once (the process died), or null. */
  abort?: () => string | null;
  /** Extra context for the error message, e.g. the last lines of a log. */
  describe?: () => string;
}

/**
 * Calls `probe` until it returns true. Throws when `timeoutMs` (default 30 s) passes or `abort`
 * returns a reason.
 */
export async function waitFor(probe: () => Promise<boolean> | boolean, opts: WaitOptions): Promise<void> {
  const deadline = Date.now() + (opts.timeoutMs ?? 30_000);
  let last: unknown;
  for (;;) {
    const reason = opts.abort?.();
    if (reason) throw new Error(`${opts.what}: ${reason}\n${opts.describe?.() ?? ''}`);
    try {
      if (await probe()) return;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      const cause = last instanceof Error ? `; last error: ${last.message}` : '';
      throw new Error(`${opts.what}: not ready after ${opts.timeoutMs ?? 30_000} ms${cause}\n${opts.describe?.() ?? ''}`);
    }
    await sleep(opts.intervalMs ?? 100);
  }
}
