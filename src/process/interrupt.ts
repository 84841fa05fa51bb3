/**
 * What happens when ferry is told to stop (SIGINT from Ctrl-C, SIGTERM from a supervisor, SIGHUP
 * from a closed terminal): every cleanup registered by the work in progress runs, synchronously
 * and once (remove this run's `.partial` and ingest files, release lock files, restore the
 * terminal), one line says what was (not) written, and the process exits 128 + the signal's
 * number: 130, 143, 129 (docs/cli.md). Downloads in the cache's partial/ directory are kept, so
 * a rerun resumes them.
 *
 * Cleanups are synchronous because the process exits right after them: nothing asynchronous
 * would get to run.
 */
import { rmSync, unlinkSync } from 'node:fs';

type Cleanup = () => void;

const cleanups = new Set<Cleanup>();
let describeInterruption: () => string = () => 'interrupted';
let onInterrupted: ((line: string, exitCode: number) => void) | undefined;

/** Registers a cleanup to run if the process is interrupted; returns its removal. */
export function onInterrupt(fn: Cleanup): () => void {
  cleanups.add(fn);
  return () => cleanups.delete(fn);
}

/** Registers `path` to be deleted if the process is interrupted; returns the removal. */
export function removeOnInterrupt(path: string): () => void {
  return onInterrupt(() => rmSync(path, { force: true, recursive: false }));
}

/** Registers a lock file to be released (unlinked) if the process is interrupted. */
export function releaseOnInterrupt(path: string): () => void {
  return onInterrupt(() => {
    try {
      unlinkSync(path);
    } catch {
      // already gone
    }
  });
}

/** Sets the line printed after an interruption ("interrupted: nothing was written to X"). */
export function setInterruptMessage(fn: () => string): void {
  describeInterruption = fn;
}

/** Sets what the CLI prints besides the line (the --json report). */
export function setInterruptReporter(fn: (line: string, exitCode: number) => void): void {
  onInterrupted = fn;
}

export const SIGNAL_EXIT: Record<'SIGINT' | 'SIGTERM' | 'SIGHUP', number> = { SIGHUP: 129, SIGINT: 130, SIGTERM: 143 };

/** Runs every registered cleanup once, ignoring failures (best effort at exit). */
export function runCleanups(): void {
  for (const fn of [...cleanups]) {
    cleanups.delete(fn);
    try {
      fn();
    } catch {
      // best effort: the process is going away
    }
  }
}

let takeover: ((sig: keyof typeof SIGNAL_EXIT) => void) | undefined;

/**
 * Lets a long-running command (`ferry serve`) handle the first SIGINT, SIGTERM or SIGHUP itself
 * (a graceful stop) instead of the exit above; a second signal exits at once as usual. Returns
 * the removal.
 */
export function takeOverSignals(fn: (sig: keyof typeof SIGNAL_EXIT) => void): () => void {
  takeover = fn;
  return () => {
    if (takeover === fn) takeover = undefined;
  };
}

let installed = false;

/** Installs the handlers for SIGINT, SIGTERM and SIGHUP (once per process). */
export function installSignalHandlers(): void {
  if (installed) return;
  installed = true;
  for (const sig of Object.keys(SIGNAL_EXIT) as (keyof typeof SIGNAL_EXIT)[]) {
    process.on(sig, () => {
      const own = takeover;
      if (own) {
        takeover = undefined;
        own(sig);
        return;
      }
      const exitCode = SIGNAL_EXIT[sig];
      runCleanups();
      const line = describeInterruption();
      try {
        onInterrupted?.(line, exitCode);
      } catch {
        // the report is best effort
      }
      process.exit(exitCode);
    });
  }
}
