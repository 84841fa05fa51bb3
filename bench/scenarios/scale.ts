/**
 * scale: hundreds of small images in one manifest file, exported cold and re-exported warm, at
 * two counts four times apart (100 and 400; 25 and 100 with --size small), to show that time
 * grows linearly with the image count and RSS stays flat.
 */
import { stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runOk } from '../../test/e2e/helpers/processes.js';
import { manifestFiles, type PushedImages } from '../context.js';
import { defineScenario, pick, type Scenario, type Target, type Variant } from '../scenario.js';
import { ferryExportSteps, ferryReport } from './common.js';
import { smallInfo } from './fixture-info.js';

interface Data extends PushedImages {
  bytes: number;
  what: string;
  fixtureInfo: Record<string, unknown>;
  ferry: string;
  counts: [number, number];
  yaml: Record<number, string>;
}

const sizes = (small: boolean): [number, number] => (small ? [25, 100] : [100, 400]);
const cold = (n: number): string => `ferry export cold x${n}`;
const warm = (n: number): string => `ferry export warm x${n}`;

/** A cold export of the first counts[i] images. */
function coldVariant(i: 0 | 1, name: string, note: string): Variant<Data> {
  return {
    name,
    note,
    prepare: async ({ yaml, counts }, dir) => writeFile(join(dir, 'scale.yaml'), yaml[counts[i]]!),
    steps: ({ ferry }, dir) => ferryExportSteps(ferry, dir, 'scale'),
    async inspect(dir, _t, { counts }) {
      const report = await ferryReport(join(dir, 'report.json'));
      if (report.images?.length !== counts[i]) throw new Error(`ferry export reported ${report.images?.length} images, expected ${counts[i]}`);
      return { images: counts[i], outputBytes: (await stat(join(dir, 'scale.tar.gz'))).size };
    },
  };
}

/** The same export again right after a cold one (untimed), nothing changed. */
function warmVariant(i: 0 | 1, name: string, note: string): Variant<Data> {
  return {
    name,
    note,
    async prepare({ yaml, counts, ferry }, dir) {
      await writeFile(join(dir, 'scale.yaml'), yaml[counts[i]]!);
      for (const s of ferryExportSteps(ferry, dir, 'scale')) await runOk(s.cmd, s.args, { cwd: dir, timeoutMs: 1800_000 });
    },
    steps: ({ ferry }, dir) => ferryExportSteps(ferry, dir, 'scale'),
    async inspect(dir, _t, { counts }) {
      const report = await ferryReport(join(dir, 'report.json'), ['ok', 'unchanged']);
      const unchanged = report.images?.filter((x) => x.status === 'unchanged').length ?? 0;
      if (unchanged !== counts[i]) throw new Error(`ferry re-export reported ${unchanged} of ${counts[i]} images unchanged`);
      return { images: counts[i], unchanged };
    },
  };
}

/** The scenario for the sizes of this run (the names carry the counts). */
export function scaleScenario(small: boolean): Scenario {
  const [a, b] = sizes(small);
  return defineScenario<Data>({
    name: 'scale',
    title: `export ${a} and ${b} small images of one manifest file, cold and warm (linear growth, flat RSS)`,
    baseline: cold(a),
    async setup(ctx) {
      const p = await ctx.scale(b);
      const yaml = { [a]: manifestFiles(p.refs.slice(0, a), p.registry, `scale${a}`).manifestYaml, [b]: p.manifestYaml };
      return { ...p, counts: [a, b], yaml, bytes: 0, what: `${a} / ${b} images (2 layers each, ${(p.images.compressedBytes / 1e6).toFixed(1)} MB gzip for ${b})`, fixtureInfo: smallInfo(p.images), ferry: ctx.ferry };
    },
    variants: [
      coldVariant(0, cold(a), `ferry export of ${a} images, --cache-dir fresh`),
      coldVariant(1, cold(b), `ferry export of ${b} images, --cache-dir fresh`),
      warmVariant(0, warm(a), `the same export of ${a} again, nothing changed`),
      warmVariant(1, warm(b), `the same export of ${b} again, nothing changed`),
    ],
    targets(m) {
      const k = b / a;
      const out: Target[] = [];
      for (const [label, name] of [['cold', cold], ['warm', warm]] as const) {
        const x = pick(m, name(a));
        const y = pick(m, name(b));
        const growth = y.seconds / x.seconds;
        out.push({ what: `${label}: ${b} images take no more than ${k}x the time of ${a} (linear)`, value: `${growth.toFixed(2)}x; ${((y.seconds - x.seconds) / (b - a) * 1000).toFixed(1)} ms per extra image`, ok: growth <= k * 1.1 });
      }
      const rss = Math.max(...[cold(a), cold(b), warm(a), warm(b)].map((n) => pick(m, n).rssKB)) / 1024;
      out.push({ what: 'peak RSS under 300 MB at every count (issue 12)', value: `${rss.toFixed(0)} MB`, ok: rss < 300 });
      return out;
    },
  });
}
