/** The tables on stdout and bench/results.json. */
import type { Medians, RunRecord, Scenario, ScenarioData, Target } from './scenario.js';
import { fmtMB, MB } from './log.js';
import { median, isNoisy, spreadOf } from './timing.js';

/** One row of a scenario's table: a tool's runs and their medians. */
export interface Row {
  name: string;
  note: string;
  seconds: number[];
  median: number;
  cpu: number;
  rssKB: number;
  phaseLabels: Record<string, string> | undefined;
  phases?: Record<string, number>;
  noisy?: number;
}

/** Summarises a tool's runs: medians, worst RSS, phase medians (when every run has them). */
export function toRow(name: string, note: string, runs: RunRecord[], phaseLabels?: Record<string, string>): Row {
  const secs = runs.map((x) => x.seconds);
  const first = runs[0]?.phases;
  const keys = first && runs.every((x) => x.phases) ? Object.keys(first) : [];
  const phases = keys.length ? Object.fromEntries(keys.map((k) => [k, median(runs.map((x) => x.phases?.[k] ?? 0))])) : undefined;
  return {
    name,
    note,
    seconds: secs,
    median: median(secs),
    cpu: median(runs.map((x) => x.cpuSeconds)),
    rssKB: Math.max(...runs.map((x) => x.rssKB)),
    phaseLabels,
    ...(phases ? { phases } : {}),
    ...(isNoisy(secs) ? { noisy: spreadOf(secs) } : {}),
  };
}

export const toMedians = (r: Row, runs: RunRecord[]): Medians => ({ seconds: r.median, cpuSeconds: r.cpu, rssKB: r.rssKB, runs });

/** The scenario's table (markdown), its phase and noise notes, and its targets. */
export function formatTable(sc: Scenario, rows: readonly Row[], targets: readonly Target[], data: ScenarioData): string {
  const head = ['tool', 'median s', 'min-max s', 'MB/s', `vs ${sc.baseline}`, 'CPU s', 'peak RSS MB'];
  const base = rows.find((r) => r.name === sc.baseline);
  const body = rows.map((r) => [
    r.name,
    r.median.toFixed(2),
    `${Math.min(...r.seconds).toFixed(2)}-${Math.max(...r.seconds).toFixed(2)}`,
    data.bytes ? (data.bytes / MB / r.median).toFixed(0) : '-',
    base ? `${(r.median / base.median).toFixed(2)}x` : '-',
    r.cpu.toFixed(2),
    (r.rssKB / 1024).toFixed(0),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]): string => `| ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(' | ')} |`;
  const out = [
    '',
    `## ${sc.name}: ${sc.title}`,
    `${data.bytes ? `${data.what ?? 'image'}: ${fmtMB(data.bytes)} MB compressed; MB/s = compressed MB / median s` : (data.what ?? 'no image')}; ratio = median / ${sc.baseline}'s median; CPU s = user + system of the tool's own processes (median)`,
    '',
    line(head),
    `|${widths.map((w, i) => (i === 0 ? '-'.repeat(w + 2) : `${'-'.repeat(w + 1)}:`)).join('|')}|`,
    ...body.map(line),
    '',
  ];
  for (const r of rows) if (r.phases) out.push(`${r.name} phases (median): ${Object.entries(r.phases).map(([k, v]) => `${r.phaseLabels?.[k] ?? k} ${v.toFixed(2)} s`).join(', ')}`);
  for (const r of rows) if (r.noisy) out.push(`note: ${r.name} runs spread ${r.noisy.toFixed(2)}x (max/min): other load on the machine? rerun this scenario (--only ${sc.name} --runs 5)`);
  out.push('', 'targets:');
  for (const t of targets) out.push(`  [${t.info ? 'info' : t.ok ? 'met ' : 'MISS'}] ${t.what}: ${t.value}`);
  return `${out.join('\n')}\n`;
}

/** A scenario's entry in results.json (the shape bench/run.mjs wrote, unchanged). */
export function scenarioResult(sc: Scenario, rows: readonly Row[], raw: Record<string, RunRecord[]>, targets: Target[], data: ScenarioData, wallSeconds: number): Record<string, unknown> {
  const base = rows.find((r) => r.name === sc.baseline);
  return {
    title: sc.title,
    baseline: sc.baseline,
    bytes: data.bytes,
    wallSeconds,
    fixture: data.fixtureInfo,
    tools: Object.fromEntries(
      rows.map((r) => [
        r.name,
        {
          note: r.note,
          medianSeconds: r.median,
          medianCpuSeconds: r.cpu,
          MBps: data.bytes / MB / r.median,
          ratioVsBaseline: base ? r.median / base.median : null,
          peakRssMB: r.rssKB / 1024,
          phasesMedian: r.phases ?? null,
          spread: spreadOf(r.seconds),
          runs: raw[r.name],
        },
      ]),
    ),
    targets,
  };
}
