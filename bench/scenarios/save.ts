/** save: pull the big image from the local registry into one archive (cold cache). */
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { BigImage } from '../fixtures/big-image.js';
import { defineScenario, pick, ratio } from '../scenario.js';
import { ferryReport } from './common.js';
import { bigInfo } from './fixture-info.js';

interface Data {
  ref: string;
  bytes: number;
  fixture: BigImage;
  fixtureInfo: Record<string, unknown>;
  ferry: string;
}

export default defineScenario<Data>({
  name: 'save',
  title: 'pull one image from a local registry into one archive (cold cache)',
  baseline: 'skopeo oci-archive',
  async setup(ctx) {
    const fixture = await ctx.fixture();
    const ref = await ctx.pushed(fixture, 'bench/big');
    return { ref, bytes: fixture.compressedBytes, fixture, fixtureInfo: bigInfo(fixture), ferry: ctx.ferry };
  },
  variants: [
    {
      name: 'ferry save',
      note: '--cache-dir fresh; output .tar.gz',
      steps: ({ ref, ferry }, dir) => [{ cmd: process.execPath, args: [ferry, 'save', ref, '-o', join(dir, 'out.tar.gz'), '--cache-dir', join(dir, 'cache'), '--json'], stdout: join(dir, 'report.json') }],
      // The bundle writer opens out.tar.gz.partial once the image is resolved and its configs are in the cache.
      watch: ['out.tar.gz.partial'],
      phaseLabels: { pull: 'pull into cache', bundle: 'write bundle' },
      async inspect(dir, t) {
        const report = await ferryReport(join(dir, 'report.json'));
        const p = t.marks['out.tar.gz.partial'];
        return {
          outputBytes: (await stat(join(dir, 'out.tar.gz'))).size,
          downloadedBytes: report.summary?.downloadedBytes,
          phases: p === undefined ? undefined : { pull: p, bundle: t.seconds - p },
        };
      },
    },
    {
      name: 'skopeo oci-archive',
      note: 'skopeo copy docker:// oci-archive:',
      steps: ({ ref }, dir) => [{ cmd: 'skopeo', args: ['--insecure-policy', 'copy', '--quiet', '--src-tls-verify=false', `docker://${ref}`, `oci-archive:${join(dir, 'out.tar')}`] }],
      inspect: async (dir) => ({ outputBytes: (await stat(join(dir, 'out.tar'))).size }),
    },
    {
      name: 'docker-archive+gzip',
      note: 'skopeo copy docker:// docker-archive:, then gzip -6 (one run: it is >10x slower, so noise does not matter)',
      runs: 1,
      steps: ({ ref }, dir) => [
        { cmd: 'skopeo', args: ['--insecure-policy', 'copy', '--quiet', '--src-tls-verify=false', `docker://${ref}`, `docker-archive:${join(dir, 'out.tar')}:bench/big:1`] },
        { cmd: 'gzip', args: ['-6', join(dir, 'out.tar')] },
      ],
      inspect: async (dir) => ({ outputBytes: (await stat(join(dir, 'out.tar.gz'))).size }),
    },
    {
      name: 'floor (curl blobs)',
      note: 'one curl fetching config + layer blobs into one file',
      steps: ({ ref, fixture }, dir) => {
        const [hostPort, ...rest] = ref.split('/');
        const repo = rest.join('/').replace(/:[^:/]+$/, '');
        const urls = [fixture.config, ...fixture.layers].map((b) => `http://${hostPort}/v2/${repo}/blobs/${b.digest}`);
        return [{ cmd: 'curl', args: ['-sS', '--fail', '-L', ...urls], stdout: join(dir, 'blobs.bin') }];
      },
      async inspect(dir, _t, { fixture }) {
        const n = (await stat(join(dir, 'blobs.bin'))).size;
        const want = fixture.config.size + fixture.layers.reduce((a, l) => a + l.size, 0);
        if (n !== want) throw new Error(`curl wrote ${n} bytes, expected ${want}`);
        return { outputBytes: n };
      },
    },
  ],
  targets(m) {
    const ferry = pick(m, 'ferry save');
    const sk = pick(m, 'skopeo oci-archive');
    const da = pick(m, 'docker-archive+gzip');
    return [
      { what: 'ferry save <= 0.8x skopeo oci-archive (issue 12)', value: ratio(ferry.seconds, sk.seconds), ok: ferry.seconds <= 0.8 * sk.seconds },
      { what: 'ferry save >15x faster than docker-archive+gzip', value: `${(da.seconds / ferry.seconds).toFixed(1)}x faster`, ok: da.seconds > 15 * ferry.seconds },
      { what: 'ferry save peak RSS < 200 MB', value: `${(ferry.rssKB / 1024).toFixed(0)} MB`, ok: ferry.rssKB / 1024 < 200 },
      { what: 'CPU s, ferry save vs skopeo', value: `${ferry.cpuSeconds.toFixed(2)} vs ${sk.cpuSeconds.toFixed(2)}`, info: true },
    ];
  },
});
