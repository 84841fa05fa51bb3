/**
 * Shared setup for the internal-side suites (verify, ls, push, load, hostile bundles): start a
 * private dockerd and any number of registries together, build the fixtures with docker on the
 * first (open) registry, and make ferry bundles of them with `ferry save`, each run in its own
 * ferry home (cache, Docker config).
 *
 * Every server started here is stopped by `stop()`, also when starting another one failed.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { startDockerd, type Dockerd } from './dockerd.js';
import { describeRun, ferryEnv, runFerry } from './ferry.js';
import { buildFixtures, type Fixtures } from './fixtures.js';
import type { RunResult } from './processes.js';
import { startRegistry, type Registry, type RegistryOptions } from './registry.js';

export interface Servers {
  dockerd: Dockerd;
  /** The open registry the fixtures were built on. */
  source: Registry;
  /** One registry per option object given, in order. */
  targets: Registry[];
  fx: Fixtures;
  /** Stops everything that was started. Safe to call twice. */
  stop(): Promise<void>;
}

/**
 * Starts dockerd, an open source registry and the `targets`, in parallel, then builds the
 * fixtures in `workDir`. Throws (after stopping whatever did start) when any of it fails.
 */
export async function startServers(workDir: string, targets: RegistryOptions[] = []): Promise<Servers> {
  const started = await Promise.allSettled<Dockerd | Registry>([
    startDockerd(),
    startRegistry(),
    ...targets.map((t) => startRegistry(t)),
  ]);
  const up = started.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> =>
    (stopping ??= Promise.allSettled(up.map((s) => s.stop())).then(() => undefined));
  const failed = started.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed) {
    await stop();
    throw failed.reason;
  }
  const [dockerd, source, ...rest] = up as [Dockerd, Registry, ...Registry[]];
  try {
    const fx = await buildFixtures(dockerd, source.host, join(workDir, 'fixtures'));
    return { dockerd, source, targets: rest, fx, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** One ferry run with its own home directory. */
export interface HomeRun extends RunResult {
  /** The ferry home (cache, docker, home) the run used. */
  home: string;
  env: NodeJS.ProcessEnv;
  /** describeRun() of the result, for assertion messages. */
  report: string;
}

let homes = 0;

/** A fresh ferry home under `root` (`<root>/home-N`) and the env pointing ferry at it. */
export function freshHome(root: string): { home: string; env: NodeJS.ProcessEnv } {
  const home = join(root, `home-${++homes}`);
  mkdirSync(home, { recursive: true });
  return { home, env: ferryEnv(home) };
}

/**
 * Runs `ferry args` in a fresh home under `root` (or in `opts.home`/`opts.env` when given),
 * with cwd = the home unless `opts.cwd` says otherwise.
 */
export async function ferryIn(
  root: string,
  args: readonly string[],
  opts: { env?: NodeJS.ProcessEnv; home?: string; cwd?: string; input?: string } = {},
): Promise<HomeRun> {
  const fresh = opts.home ? { home: opts.home, env: ferryEnv(opts.home) } : freshHome(root);
  const env = { ...fresh.env, ...opts.env };
  const r = await runFerry(args, {
    env,
    cwd: opts.cwd ?? fresh.home,
    ...(opts.input === undefined ? {} : { input: opts.input }),
  });
  return { ...r, home: fresh.home, env, report: describeRun(r) };
}

/**
 * `ferry save refs -o <dir>/<name> ...extra` in a fresh home. Throws with the run's output
 * unless it exits 0; returns the bundle path.
 */
export async function saveBundle(root: string, name: string, refs: string[], extra: string[] = []): Promise<string> {
  const dir = join(root, 'bundles');
  mkdirSync(dir, { recursive: true });
  const out = join(dir, name);
  const r = await ferryIn(root, ['save', ...refs, '-o', out, ...extra]);
  if (r.code !== 0) throw new Error(`ferry save ${refs.join(' ')} failed:\n${r.report}`);
  return out;
}
