/**
 * What a scenario is. Each has variants (one per tool); per timed run, in a fresh empty `dir`:
 *   prepare(data, dir)               untimed; its result is `prep` below
 *   steps(data, dir, prep)           the commands timed together
 *   watch / poll(data, dir, prep)    files or tests whose first sight is timestamped (phases)
 *   inspect(dir, timing, data, prep) checks the outputs (throws on a wrong result) and returns
 *                                    extra numbers for results.json (`phases`: { key: seconds })
 *   cleanup(data, dir, prep)         untimed, always
 * A variant with `runs: N` runs in the first N rounds only (a slow reference).
 * setup(ctx) runs once before the timed runs; targets(medians, data) turns the medians (and
 * every run's extra numbers, `.runs`) into met/MISS lines; `info: true` lines are only reported.
 */
import type { Context } from './context.js';
import type { Options } from './args.js';
import type { Step, Timing } from './timing.js';

/** Extra numbers of one run (inspect's result); `phases` are seconds by phase key. */
export interface Extra {
  phases?: Record<string, number> | undefined;
  [key: string]: unknown;
}

/** One timed run as results.json keeps it. */
export type RunRecord = Extra & { seconds: number; cpuSeconds: number; rssKB: number; rssKBPerStep: number[] };

/** What setup() returns: anything the steps need, plus the figures for the MB/s column. */
export interface ScenarioData {
  /** Compressed image bytes (for MB/s); 0 when MB/s means nothing. */
  bytes: number;
  /** What `bytes` are, for the table's header line (default "image"). */
  what?: string;
  /** Fixture facts for results.json. */
  fixtureInfo?: Record<string, unknown>;
}

// `any` for prep: each variant has its own, and only that variant's functions see it.
export interface Variant<D, P = any> {
  name: string;
  note: string;
  /** Run only in the first N rounds (a slow reference). */
  runs?: number;
  prepare?(data: D, dir: string): Promise<P>;
  steps(data: D, dir: string, prep: P): Step[];
  watch?: string[];
  poll?(data: D, dir: string, prep: P): Record<string, () => boolean>;
  phaseLabels?: Record<string, string>;
  inspect?(dir: string, timing: Timing, data: D, prep: P): Promise<Extra>;
  cleanup?(data: D, dir: string, prep: P | undefined): Promise<void>;
}

/** The medians of one tool, with its runs. */
export interface Medians {
  seconds: number;
  cpuSeconds: number;
  rssKB: number;
  runs: RunRecord[];
}

export interface Target {
  what: string;
  value: string;
  ok?: boolean;
  info?: boolean;
}

export interface Scenario<D extends ScenarioData = ScenarioData> {
  name: string;
  title: string;
  /** The variant the ratio column divides by. */
  baseline: string;
  /** Why this scenario does not run with these options (null: it runs); only for opt-in ones. */
  skip?(opts: Options): string | null;
  /** Debian packages beyond the common ones, by tool name. */
  tools?: string[];
  setup(ctx: Context): Promise<D>;
  variants: Variant<D>[];
  targets?(m: Record<string, Medians>, data: D): Target[];
}

/** Declares a scenario with its data type checked across setup, variants and targets. */
export function defineScenario<D extends ScenarioData>(s: Scenario<D>): Scenario {
  return s as unknown as Scenario;
}

/** The medians of `name`, or a clear error when a scenario's targets name a missing variant. */
export function pick(m: Record<string, Medians>, name: string): Medians {
  const x = m[name];
  if (!x) throw new Error(`no variant named ${name}`);
  return x;
}

/** Every run's `key` as a number (0 when absent). */
export const nums = (runs: readonly RunRecord[], key: string): number[] => runs.map((r) => Number(r[key] ?? 0));

/** ratio a/b as "1.23x". */
export const ratio = (a: number, b: number): string => `${(a / b).toFixed(2)}x`;
