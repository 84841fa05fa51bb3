/**
 * Runs `ferry serve` (the built CLI) in the background on an ephemeral loopback port and waits
 * for its start-up line ("serving N images from M bundles on http://127.0.0.1:PORT"), read
 * from its stderr log. Throws, with the log tail, when it exits or does not start within 120 s.
 */
import { FERRY_BIN } from './ferry.js';
import { startDaemon, tail, type Daemon } from './processes.js';
import { waitFor } from './wait.js';

export interface Served {
  daemon: Daemon;
  /** http://127.0.0.1:PORT */
  url: string;
  /** 127.0.0.1:PORT */
  host: string;
  /** The whole log so far (start-up lines and the access log). */
  log(): string;
}

export async function startServe(args: readonly string[], env: NodeJS.ProcessEnv, logFile: string): Promise<Served> {
  const daemon = startDaemon(process.execPath, [FERRY_BIN, 'serve', '--listen', '127.0.0.1:0', ...args], {
    logFile,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', LANG: 'C.UTF-8', HOME: '/nonexistent/ferry-e2e-home', ...env },
  });
  let url: string | undefined;
  await waitFor(
    () => {
      url = /serving \d+ images? from \d+ bundles? on (https?:\/\/\S+)/.exec(daemon.log())?.[1];
      return url !== undefined;
    },
    { what: 'ferry serve', timeoutMs: 120_000, abort: () => (daemon.running() ? null : 'exited before it was ready'), describe: () => tail(daemon.log()) },
  );
  return { daemon, url: url!, host: new URL(url!).host, log: () => daemon.log() };
}
