/**
 * ferry benchmark: ferry against skopeo, Docker and the classic docker-save route, on one
 * machine, against private local registries, reported as ratios against a peer or a floor
 * measured in the same run (absolute numbers depend on the box). See bench/README.md.
 *
 *   npm run bench -- [--size full|small|huge] [--runs N] [--only a,b] [--list] ...
 *
 * Missed targets do not fail the run (no timing assertions); a failing tool or a wrong result
 * does (exit 1).
 */
import { rmSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { cpus, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { atExit, runOk } from '../test/e2e/helpers/processes.js';
import { parseArgs, USAGE, type Options } from './args.js';
import { createContext, type Context } from './context.js';
import { BenchExit, log } from './log.js';
import { RESULTS, ROOT, WORK } from './paths.js';
import { formatTable, scenarioResult, toMedians, toRow } from './report.js';
import type { RunRecord, Scenario, ScenarioData } from './scenario.js';
import { allScenarios } from './scenarios/index.js';
import { isNoisy, spreadOf, timeRun } from './timing.js';
import { checkTools, COMMON_TOOLS, ferryBuild } from './tools.js';

// An interrupted run exits through process.exit, whose hook (test/e2e/helpers/processes.ts)
// kills every child (timed commands by process group) and removes the temp dirs.
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(sig, () => {
    log(`\nbench: ${sig}, stopping`);
    process.exit(sig === 'SIGINT' ? 130 : 143);
  });
}

/** Runs one scenario's rounds (interleaved tools, fresh dir per run); prints and returns its results. */
async function runScenario(sc: Scenario, ctx: Context, opts: Options): Promise<Record<string, unknown>> {
  const scStart = Date.now();
  const data: ScenarioData = await sc.setup(ctx);
  const raw: Record<string, RunRecord[]> = Object.fromEntries(sc.variants.map((v) => [v.name, []]));
  log(`bench: ${sc.name}: ${opts.runs} round(s) of ${sc.variants.length} tools, interleaved`);
  const round = async (r: number, label: string): Promise<void> => {
    for (const v of sc.variants) {
      const runs = raw[v.name]!;
      if (v.runs !== undefined && runs.length >= v.runs) continue;
      const dir = join(ctx.tmp, 'runs', `${sc.name}-${v.name.replace(/[^a-z0-9]+/gi, '-')}-${r}`);
      await mkdir(dir, { recursive: true });
      let prep: unknown;
      try {
        prep = v.prepare ? await v.prepare(data, dir) : undefined;
        const t = await timeRun(v.steps(data, dir, prep), { dir, ...(v.watch ? { watch: v.watch } : {}), ...(v.poll ? { poll: v.poll(data, dir, prep) } : {}) });
        const extra = v.inspect ? await v.inspect(dir, t, data, prep) : {};
        const rss = Math.max(...t.rssKB);
        runs.push({ seconds: t.seconds, cpuSeconds: t.cpuSeconds, rssKB: rss, rssKBPerStep: t.rssKB, ...extra });
        const phases = extra.phases ? `  (${Object.entries(extra.phases).map(([k, x]) => `${k} ${x.toFixed(2)} s`).join(', ')})` : '';
        log(`bench:   run ${label.padEnd(4)} ${v.name.padEnd(22)} ${t.seconds.toFixed(2).padStart(7)} s  cpu ${t.cpuSeconds.toFixed(2).padStart(6)} s  ${(rss / 1024).toFixed(0).padStart(5)} MB RSS${phases}`);
      } finally {
        if (v.cleanup) await v.cleanup(data, dir, prep);
      }
      await rm(dir, { recursive: true, force: true });
      // Flush this run's writes so they do not slow the next one down.
      await runOk('sync', []);
    }
  };
  for (let r = 1; r <= opts.runs; r++) await round(r, `${r}/${opts.runs}`);
  // Other work on the machine disturbs single runs: when a tool's runs spread widely, run
  // more rounds and take the median of all.
  const secs = (name: string): number[] => raw[name]!.map((x) => x.seconds);
  for (let extra = 1; extra <= opts.extraRounds; extra++) {
    const noisy = sc.variants.filter((v) => v.runs === undefined && isNoisy(secs(v.name)));
    if (!noisy.length) break;
    log(`bench:   noisy (${noisy.map((v) => `${v.name} ${spreadOf(secs(v.name)).toFixed(2)}x`).join(', ')}): one more round`);
    await round(opts.runs + extra, `+${extra}`);
  }
  const rows = sc.variants.map((v) => toRow(v.name, v.note, raw[v.name]!, v.phaseLabels));
  const medians = Object.fromEntries(rows.map((r) => [r.name, toMedians(r, raw[r.name]!)]));
  const targets = sc.targets ? sc.targets(medians, data) : [];
  process.stdout.write(formatTable(sc, rows, targets, data));
  return scenarioResult(sc, rows, raw, targets, data, (Date.now() - scStart) / 1000);
}

async function main(): Promise<number> {
  const opts = parseArgs(process.argv.slice(2));
  if (!opts) {
    process.stdout.write(USAGE);
    return 0;
  }
  const scenarios = allScenarios(opts);
  if (opts.list) {
    for (const s of scenarios) process.stdout.write(`${s.name.padEnd(12)} ${s.title}${s.skip?.(opts) ? ` [${s.skip(opts)}]` : ''}\n  ${s.variants.map((v) => v.name).join(', ')}\n`);
    return 0;
  }
  const unknown = opts.scenarios.filter((n) => !scenarios.some((s) => s.name === n));
  if (unknown.length) throw new BenchExit(`unknown scenario ${unknown.join(', ')}; see --list`, 2);
  const chosen = opts.scenarios.length ? scenarios.filter((s) => opts.scenarios.includes(s.name)) : scenarios.filter((s) => !s.skip?.(opts));
  for (const s of chosen) {
    const why = s.skip?.(opts);
    if (why) throw new BenchExit(`scenario ${s.name} runs ${why}`, 2);
  }
  const ferry = opts.ferry ?? join(ROOT, 'bin', 'ferry');
  const versions = checkTools([...COMMON_TOOLS, ...chosen.flatMap((s) => s.tools ?? [])], ferry);
  const ferryRoot = resolve(dirname(ferry), '..');
  const build = ferryBuild(ferryRoot);
  // The helpers keep their temp dirs (registries, dockerd) when this is set.
  if (opts.keep) process.env.FERRY_E2E_KEEP = '1';

  await mkdir(WORK, { recursive: true });
  const tmp = await mkdtemp(join(WORK, 'run-'));
  const forgetTmp = atExit(() => rmSync(tmp, { recursive: true, force: true }));
  const ctx = createContext(opts, tmp, ferry);
  const results: Record<string, unknown> & { scenarios: Record<string, unknown> } = {
    date: new Date().toISOString(),
    machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model, memGiB: +(totalmem() / 2 ** 30).toFixed(1) },
    versions,
    ferryBuild: build,
    options: { size: opts.size, loadSize: opts.loadSize, runs: opts.runs, extraRounds: opts.extraRounds, ...(opts.size === 'huge' ? { hugeGiB: opts.hugeGiB } : {}) },
    scenarios: {},
  };
  const started = Date.now();
  try {
    for (const sc of chosen) results.scenarios[sc.name] = await runScenario(sc, ctx, opts);
    if (build.distBuilt && ferryBuild(ferryRoot).distBuilt !== build.distBuilt) {
      const warning = 'dist/ was rebuilt during the run: ferry numbers may mix two builds';
      results.warnings = [warning];
      log(`\nbench: warning: ${warning}; run again`);
    }
    results.wallSeconds = (Date.now() - started) / 1000;
    await writeFile(RESULTS, `${JSON.stringify(results, null, 2)}\n`);
    log(`\nbench: ${chosen.length} scenario(s) in ${((Date.now() - started) / 60000).toFixed(1)} min; raw numbers in ${RESULTS}`);
    return 0;
  } finally {
    await ctx.close();
    forgetTmp();
    if (opts.keep) log(`bench: kept ${tmp}`);
    else rmSync(tmp, { recursive: true, force: true });
  }
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    log(`bench: ${err instanceof Error ? err.message : String(err)}`);
    process.exitCode = err instanceof BenchExit ? err.code : 1;
  },
);
