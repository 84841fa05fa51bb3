/**
 * Runs the built CLI (`<repo>/bin/ferry`, which runs dist/) as a child process, the way a user
 * would, with a clean environment: only PATH, LANG and a HOME that points nowhere useful, plus
 * the caller's overrides. Nothing leaks in from the developer's shell (no ~/.docker, no
 * ~/.cache, no DOCKER_HOST).
 */
import { mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { run, type RunResult } from './processes.js';

/** The repository root, found from this file's location (test/e2e/helpers). */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
export const FERRY_BIN = join(REPO_ROOT, 'bin', 'ferry');

export interface FerryOptions {
  env?: NodeJS.ProcessEnv;
  input?: string;
  cwd?: string;
  /** Kill ferry after this long (default 150 s); the result then has code null. */
  timeoutMs?: number;
  /** Run as this user (and group); default the test's own (root in CI). */
  uid?: number;
  gid?: number;
}

/** Runs `ferry args`; returns exit code and output, never throws for a failing exit. */
export function runFerry(args: readonly string[], opts: FerryOptions = {}): Promise<RunResult> {
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin',
    LANG: 'C.UTF-8',
    HOME: '/nonexistent/ferry-e2e-home',
    ...opts.env,
  };
  return run(process.execPath, [FERRY_BIN, ...args], {
    env,
    cwd: opts.cwd ?? REPO_ROOT,
    ...(opts.input === undefined ? {} : { input: opts.input }),
    timeoutMs: opts.timeoutMs ?? 150_000,
    ...(opts.uid === undefined ? {} : { uid: opts.uid, gid: opts.gid ?? opts.uid }),
  });
}

/**
 * Makes `<dir>/{cache,docker,home}` and returns the env that points ferry at them:
 * XDG_CACHE_HOME, DOCKER_CONFIG (no config.json unless the caller writes one), HOME, and a
 * short retry backoff (FERRY_RETRY_BASE_MS=20) so fault tests stay fast. Use a fresh `dir`
 * per run unless a test is about the cache.
 */
export function ferryEnv(dir: string): NodeJS.ProcessEnv {
  for (const d of ['cache', 'docker', 'home']) mkdirSync(join(dir, d), { recursive: true });
  return {
    XDG_CACHE_HOME: join(dir, 'cache'),
    DOCKER_CONFIG: join(dir, 'docker'),
    HOME: join(dir, 'home'),
    FERRY_RETRY_BASE_MS: '20',
  };
}

/** A one-line summary of a run for assertion messages. */
export function describeRun(r: RunResult): string {
  return `exit ${r.code ?? r.signal}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`;
}
