/** export: the forty small images of a manifest file, cold cache, against `skopeo sync`. */
import { stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { PushedImages } from '../context.js';
import { FORTY } from '../fixtures/small-images.js';
import { defineScenario, pick, ratio } from '../scenario.js';
import { checkSynced, ferryExportSteps, ferryReport, skopeoSyncSteps } from './common.js';
import { smallInfo } from './fixture-info.js';

export interface ExportData extends PushedImages {
  bytes: number;
  what: string;
  fixtureInfo: Record<string, unknown>;
  ferry: string;
}

export default defineScenario<ExportData>({
  name: 'export',
  title: `export ${FORTY.count} small images listed in a manifest file (cold cache)`,
  baseline: 'skopeo sync',
  async setup(ctx) {
    const p = await ctx.forty();
    return { ...p, bytes: p.images.compressedBytes, what: `${p.refs.length} images (3 layers each)`, fixtureInfo: smallInfo(p.images), ferry: ctx.ferry };
  },
  variants: [
    {
      name: 'ferry export',
      note: 'ferry export forty.yaml --cache-dir fresh',
      prepare: ({ manifestYaml }, dir) => writeFile(join(dir, 'forty.yaml'), manifestYaml),
      steps: ({ ferry }, dir) => ferryExportSteps(ferry, dir),
      watch: ['forty.tar.gz.partial'],
      phaseLabels: { pull: 'pull into cache', bundle: 'write bundle' },
      async inspect(dir, t, { refs }) {
        const report = await ferryReport(join(dir, 'report.json'));
        if (report.images?.length !== refs.length) throw new Error(`ferry export reported ${report.images?.length} images, expected ${refs.length}`);
        const p = t.marks['forty.tar.gz.partial'];
        return { outputBytes: (await stat(join(dir, 'forty.tar.gz'))).size, phases: p === undefined ? undefined : { pull: p, bundle: t.seconds - p } };
      },
    },
    {
      name: 'skopeo sync',
      note: 'skopeo sync --src yaml --dest dir',
      prepare: ({ syncYaml }, dir) => writeFile(join(dir, 'forty-sync.yaml'), syncYaml),
      steps: (_data, dir) => skopeoSyncSteps(dir),
      inspect: (dir, _t, { refs }) => checkSynced(dir, refs.length),
    },
  ],
  targets(m) {
    const ferry = pick(m, 'ferry export');
    const sk = pick(m, 'skopeo sync');
    return [
      { what: 'ferry export <= 0.8x skopeo sync (issue 12)', value: ratio(ferry.seconds, sk.seconds), ok: ferry.seconds <= 0.8 * sk.seconds },
      { what: 'CPU s, ferry export vs skopeo sync', value: `${ferry.cpuSeconds.toFixed(2)} vs ${sk.cpuSeconds.toFixed(2)}`, info: true },
    ];
  },
});
