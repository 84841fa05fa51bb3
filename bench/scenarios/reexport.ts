/** reexport: the forty images again right after an export, nothing changed (warm cache). */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { accessMark } from '../../test/e2e/helpers/export-access-log.js';
import { runOk } from '../../test/e2e/helpers/processes.js';
import { FORTY } from '../fixtures/small-images.js';
import { defineScenario, nums, pick, ratio } from '../scenario.js';
import { checkSynced, ferryExportSteps, ferryReport, fmtCounts, requestsSince, requestSummary, skopeoSyncSteps } from './common.js';
import type { ExportData } from './export.js';
import { smallInfo } from './fixture-info.js';

const MANIFEST_ACCEPT = 'Accept: application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.v2+json, application/vnd.docker.distribution.manifest.list.v2+json';

/** http://HOST/v2/REPO/manifests/TAG of HOST/REPO:TAG. */
export function manifestUrl(ref: string): string {
  const [host, ...rest] = ref.split('/');
  const path = rest.join('/');
  const i = path.lastIndexOf(':');
  return `http://${host}/v2/${path.slice(0, i)}/manifests/${path.slice(i + 1)}`;
}

export default defineScenario<ExportData>({
  name: 'reexport',
  title: `re-export the ${FORTY.count} images right after an export, nothing changed (warm cache)`,
  baseline: 'skopeo sync (again)',
  async setup(ctx) {
    const p = await ctx.forty();
    return { ...p, bytes: p.images.compressedBytes, what: `${p.refs.length} images (3 layers each)`, fixtureInfo: smallInfo(p.images), ferry: ctx.ferry };
  },
  variants: [
    {
      name: 'ferry export (warm)',
      note: 'ferry export forty.yaml again, same cache, bundle and lock',
      async prepare({ manifestYaml, registry, ferry }, dir) {
        await writeFile(join(dir, 'forty.yaml'), manifestYaml);
        for (const s of ferryExportSteps(ferry, dir)) await runOk(s.cmd, s.args, { cwd: dir, timeoutMs: 600_000 });
        await requestsSince(registry, 0);
        return { offset: accessMark(registry) };
      },
      steps: ({ ferry }, dir) => ferryExportSteps(ferry, dir),
      async inspect(dir, _t, { refs, registry }, { offset }: { offset: number }) {
        const report = await ferryReport(join(dir, 'report.json'), ['ok', 'unchanged']);
        const requests = await requestsSince(registry, offset);
        const gets = requests.filter((q) => q.method === 'GET' && /\/(manifests|blobs)\//.test(q.path)).length;
        const unchanged = report.images?.filter((i) => i.status === 'unchanged').length ?? 0;
        return { status: report.status, unchanged, images: refs.length, gets, requests: requestSummary(requests) };
      },
    },
    {
      // skopeo sync has no "nothing changed" mode: into the directory it synced to before it
      // refuses ("Refusing to overwrite destination directory"), so a nightly job syncs
      // everything again into a new one.
      name: 'skopeo sync (again)',
      note: 'skopeo sync again, everything, into a new dir (it refuses to overwrite the last one)',
      prepare: ({ syncYaml }, dir) => writeFile(join(dir, 'forty-sync.yaml'), syncYaml),
      steps: (_data, dir) => skopeoSyncSteps(dir),
      inspect: (dir, _t, { refs }) => checkSynced(dir, refs.length),
    },
    {
      name: 'floor (curl HEADs)',
      note: `one curl sending a HEAD per tag (${FORTY.count})`,
      steps: ({ refs }, dir) => [{ cmd: 'curl', args: ['-sS', '--fail', '-I', '-H', MANIFEST_ACCEPT, ...refs.map(manifestUrl)], stdout: join(dir, 'heads.txt') }],
    },
  ],
  targets(m, { refs }) {
    const ferry = pick(m, 'ferry export (warm)');
    const sk = pick(m, 'skopeo sync (again)');
    const gets = Math.max(...nums(ferry.runs, 'gets'));
    const unchanged = Math.min(...nums(ferry.runs, 'unchanged'));
    return [
      { what: `ferry re-export of ${refs.length} unchanged images <= 0.3 s (issue 12)`, value: `${ferry.seconds.toFixed(2)} s`, ok: ferry.seconds <= 0.3 },
      { what: 'ferry re-export sends no GET of a manifest or blob (registry access log)', value: `${gets} GETs; requests per run: ${fmtCounts(ferry.runs[0]?.requests)}`, ok: gets === 0 },
      { what: 'ferry reports every image unchanged', value: `${unchanged} of ${refs.length}; status ${[...new Set(ferry.runs.map((r) => r.status))].join(', ')}`, ok: unchanged === refs.length },
      { what: 'ferry re-export vs skopeo sync run again', value: ratio(ferry.seconds, sk.seconds), info: true },
    ];
  },
});
