/**
 * Timed runs: the wall clock over a tool's commands, and per command its CPU seconds (user +
 * system of the tool's own processes and their children that it waited for) and peak RSS, from
 * `/usr/bin/time -f '%M %U %S'`.
 */
import { readFileSync, watch, type FSWatcher } from 'node:fs';
import { basename, join } from 'node:path';
import { run } from '../test/e2e/helpers/processes.js';
import { indentTail } from './log.js';

/** One command of a timed run. `stdout` names a file for its output (default: a file in the run dir). */
export interface Step {
  cmd: string;
  args: string[];
  stdout?: string;
  env?: NodeJS.ProcessEnv;
}

export interface Timing {
  /** Wall-clock seconds over all steps. */
  seconds: number;
  /** Peak RSS of each step, KiB. */
  rssKB: number[];
  /** User + system CPU seconds of all steps. */
  cpuSeconds: number;
  /** Seconds from the start to the first sight of each watched file or poll mark. */
  marks: Record<string, number>;
}

export interface TimeOptions {
  /** The run's directory: the steps' cwd, and where `watch` looks. */
  dir: string;
  /** File names in `dir` whose first appearance is timestamped (phase boundaries). */
  watch?: readonly string[];
  /** Checked every 25 ms; each is timestamped the first time it returns true. */
  poll?: Record<string, () => boolean>;
  env?: NodeJS.ProcessEnv;
}

/** A step is killed after this long (the huge verify takes minutes; nothing takes hours). */
const STEP_TIMEOUT_MS = 3 * 3600_000;

/** Environment for children: loopback never goes through a proxy. */
export function childEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env = { ...process.env, ...extra };
  const np = [env.NO_PROXY, env.no_proxy, '127.0.0.1', 'localhost'].filter(Boolean).join(',');
  env.NO_PROXY = np;
  env.no_proxy = np;
  return env;
}

/**
 * Runs `steps` one after another in `opts.dir` and times them together. Each step runs under
 * `/usr/bin/time` in a process group of its own (stopped with the bench). Throws, with the
 * step's stderr tail, when a step fails.
 */
export async function timeRun(steps: readonly Step[], opts: TimeOptions): Promise<Timing> {
  const marks: Record<string, number> = {};
  const t0 = process.hrtime.bigint();
  const elapsed = (): number => Number(process.hrtime.bigint() - t0) / 1e9;
  const watchNames = opts.watch ?? [];
  let watcher: FSWatcher | undefined;
  if (watchNames.length) {
    watcher = watch(opts.dir, (_ev, name) => {
      if (name && watchNames.includes(name) && !(name in marks)) marks[name] = elapsed();
    });
  }
  const poll = Object.entries(opts.poll ?? {});
  const pollTimer = poll.length
    ? setInterval(() => {
        for (const [name, test] of poll) {
          try {
            if (!(name in marks) && test()) marks[name] = elapsed();
          } catch {
            /* not there yet */
          }
        }
      }, 25)
    : undefined;
  const rssKB: number[] = [];
  let cpuSeconds = 0;
  try {
    for (const [i, s] of steps.entries()) {
      const rssFile = join(opts.dir, `.rss-${i}`);
      const errFile = join(opts.dir, `.stderr-${i}`);
      const r = await run('/usr/bin/time', ['-f', '%M %U %S', '-o', rssFile, '--', s.cmd, ...s.args], {
        cwd: opts.dir,
        env: s.env ?? opts.env ?? childEnv(),
        stdoutFile: s.stdout ?? join(opts.dir, `.stdout-${i}`),
        stderrFile: errFile,
        group: true,
        timeoutMs: STEP_TIMEOUT_MS,
      });
      if (r.code !== 0) throw new Error(`${basename(s.cmd)} ${s.args.join(' ')} failed (${r.signal ?? `exit ${r.code}`}):\n${indentTail(readOr(errFile))}`);
      const last = readFileSync(rssFile, 'utf8').trim().split('\n').pop() ?? '';
      const [rss = 0, user = 0, sys = 0] = last.split(' ').map(Number);
      rssKB.push(rss);
      cpuSeconds += user + sys;
    }
  } finally {
    watcher?.close();
    if (pollTimer) clearInterval(pollTimer);
  }
  return { seconds: elapsed(), rssKB, cpuSeconds, marks };
}

function readOr(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '(no output)';
  }
}

/** The median of `xs` (mean of the middle two for an even count). */
export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** A tool whose runs spread more than this (max/min), and by more than NOISY_S seconds, is noisy. */
export const NOISY = 1.3;
export const NOISY_S = 0.15;

/** max/min of `xs`. */
export const spreadOf = (xs: readonly number[]): number => Math.max(...xs) / Math.min(...xs);

/** True when runs spread widely enough to deserve another round (see NOISY). */
export const isNoisy = (xs: readonly number[]): boolean => spreadOf(xs) > NOISY && Math.max(...xs) - Math.min(...xs) > NOISY_S;
