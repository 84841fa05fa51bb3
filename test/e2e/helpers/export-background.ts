/**
 * A ferry run in the background, for tests that act while it runs (kill -9 it mid-download,
 * start a second run against the same bundle). It gets the same clean environment as
 * runFerry (helpers/ferry.ts) plus the caller's overrides; stdout and stderr go to one log file.
 * The child is registered with the harness, so it is SIGKILLed if the test process exits.
 */
import { FERRY_BIN } from './ferry.js';
import { startDaemon, type Daemon } from './processes.js';

export interface BackgroundFerry {
  readonly pid: number;
  /** Resolves with the exit code, or the signal name when it was killed. */
  readonly exited: Promise<number | string>;
  running(): boolean;
  /** stdout and stderr so far, interleaved. */
  output(): string;
  /** SIGKILLs this process (by its pid) and waits until it is gone. */
  kill9(): Promise<void>;
  /** SIGTERM, then SIGKILL; for cleanup. */
  stop(): Promise<void>;
}

/** Starts `ferry args` with output in `logFile`. */
export function startFerryInBackground(
  args: readonly string[],
  opts: { env: NodeJS.ProcessEnv; cwd: string; logFile: string },
): BackgroundFerry {
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin',
    LANG: 'C.UTF-8',
    HOME: '/nonexistent/ferry-e2e-home',
    ...opts.env,
  };
  const d: Daemon = startDaemon(process.execPath, [FERRY_BIN, ...args], { logFile: opts.logFile, env, cwd: opts.cwd });
  return {
    pid: d.pid,
    exited: d.exited,
    running: () => d.running(),
    output: () => d.log(),
    async kill9() {
      if (d.running()) d.child.kill('SIGKILL');
      await d.exited;
    },
    stop: () => d.stop(2000),
  };
}
