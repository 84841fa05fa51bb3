/** push: the bundle into an empty registry (a new one per timed run). */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Registry } from '../../test/e2e/helpers/registry.js';
import { defineScenario, pick, ratio, type RunRecord } from '../scenario.js';
import { emptyRegistry, ferryReport, fmtCounts, manifestDigest, requestsSince, requestSummary } from './common.js';
import { bigInfo } from './fixture-info.js';

interface Data {
  bytes: number;
  fixtureInfo: Record<string, unknown>;
  bundle: string;
  ociArchive: string;
  sourceDigest: string;
  ferry: string;
}

interface Prep {
  registry: Registry;
  offset: number;
}

export default defineScenario<Data>({
  name: 'push',
  title: 'push the bundle into an empty registry',
  baseline: 'skopeo oci-archive',
  async setup(ctx) {
    const fixture = await ctx.fixture();
    const ref = await ctx.pushed(fixture, 'bench/big');
    const [bundle, ociArchive, sourceDigest] = await Promise.all([ctx.bundle(ref), ctx.ociArchive(ref), manifestDigest(ref)]);
    return { bytes: fixture.compressedBytes, fixtureInfo: bigInfo(fixture), bundle, ociArchive, sourceDigest, ferry: ctx.ferry };
  },
  variants: [
    {
      name: 'ferry push',
      note: 'ferry push big.tar.gz --to REG2/bench; --cache-dir fresh; empty registry',
      prepare: () => emptyRegistry(),
      steps: ({ bundle, ferry }, dir, { registry }: Prep) => [
        { cmd: process.execPath, args: [ferry, 'push', bundle, '--to', `${registry.host}/bench`, '--cache-dir', join(dir, 'cache'), '--mapping-file', join(dir, 'mapping.json'), '--json'], stdout: join(dir, 'report.json') },
      ],
      // The first blob request ends ferry's read of the bundle (today it verifies it all first).
      poll: (_data, _dir, { registry }: Prep) => ({ upload: () => readFileSync(registry.logFile, 'utf8').includes('/blobs/') }),
      phaseLabels: { read: 'read bundle into cache', upload: 'upload' },
      async inspect(dir, t, { sourceDigest }, { registry, offset }: Prep) {
        const report = await ferryReport(join(dir, 'report.json'));
        const image = report.images?.[0];
        const target = (image?.target ?? '').replace(/@sha256:[0-9a-f]{64}$/, '');
        const requests = requestSummary(await requestsSince(registry, offset));
        const digest = await manifestDigest(target);
        if (image?.digest !== digest) throw new Error(`ferry push reported ${image?.digest}, the registry serves ${digest}`);
        const u = t.marks.upload;
        return { target, digest, digestKept: digest === sourceDigest, requests, phases: u === undefined ? undefined : { read: u, upload: t.seconds - u } };
      },
      cleanup: async (_data, _dir, prep: Prep | undefined) => prep?.registry.stop(),
    },
    {
      name: 'skopeo oci-archive',
      note: 'skopeo copy oci-archive:big-oci.tar docker://REG2/bench/big:1; empty registry',
      prepare: () => emptyRegistry(),
      steps: ({ ociArchive }, _dir, { registry }: Prep) => [{ cmd: 'skopeo', args: ['--insecure-policy', 'copy', '--quiet', '--dest-tls-verify=false', `oci-archive:${ociArchive}`, `docker://${registry.host}/bench/big:1`] }],
      async inspect(_dir, _t, { sourceDigest }, { registry, offset }: Prep) {
        const target = `${registry.host}/bench/big:1`;
        const requests = requestSummary(await requestsSince(registry, offset));
        const digest = await manifestDigest(target);
        return { target, digest, digestKept: digest === sourceDigest, requests };
      },
      cleanup: async (_data, _dir, prep: Prep | undefined) => prep?.registry.stop(),
    },
  ],
  targets(m, { sourceDigest }) {
    const ferry = pick(m, 'ferry push');
    const sk = pick(m, 'skopeo oci-archive');
    const kept = (runs: RunRecord[]): boolean => runs.every((r) => r.digestKept === true);
    const digests = (runs: RunRecord[]): string => [...new Set(runs.map((r) => String(r.digest).slice(0, 19)))].join(', ');
    return [
      { what: 'ferry push <= 0.9x skopeo oci-archive (issue 12)', value: ratio(ferry.seconds, sk.seconds), ok: ferry.seconds <= 0.9 * sk.seconds },
      { what: `ferry push keeps the manifest digest (source ${sourceDigest.slice(0, 19)})`, value: `pushed ${digests(ferry.runs)}`, ok: kept(ferry.runs) },
      { what: 'skopeo oci-archive copy keeps the manifest digest', value: `${kept(sk.runs) ? 'kept' : 'changed'}: pushed ${digests(sk.runs)}`, info: true },
      { what: 'registry requests, ferry push', value: fmtCounts(ferry.runs[0]?.requests), info: true },
      { what: 'registry requests, skopeo', value: fmtCounts(sk.runs[0]?.requests), info: true },
      { what: 'CPU s, ferry push vs skopeo', value: `${ferry.cpuSeconds.toFixed(2)} vs ${sk.cpuSeconds.toFixed(2)}`, info: true },
    ];
  },
});
