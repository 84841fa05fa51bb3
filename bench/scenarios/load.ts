/** load: the bundle into a private Docker engine (the e2e harness's dockerd: vfs, no network). */
import { join } from 'node:path';
import type { Dockerd } from '../../test/e2e/helpers/dockerd.js';
import type { BigImage } from '../fixtures/big-image.js';
import { defineScenario, pick, ratio } from '../scenario.js';
import { childEnv } from '../timing.js';
import { checkLoaded, clearEngine, ferryReport } from './common.js';
import { bigInfo } from './fixture-info.js';

interface Data {
  ref: string;
  bytes: number;
  fixture: BigImage;
  fixtureInfo: Record<string, unknown>;
  bundle: string;
  engine: Dockerd;
  env: NodeJS.ProcessEnv;
  imageId: string;
  engineVersion: string;
  ferry: string;
}

export default defineScenario<Data>({
  name: 'load',
  title: 'load the bundle into a private Docker engine (dockerd 20.10, vfs)',
  baseline: 'docker load',
  tools: ['dockerd', 'docker', 'containerd', 'ctr', 'umount'],
  async setup(ctx) {
    const fixture = await ctx.fixture(ctx.opts.loadSize);
    const ref = await ctx.pushed(fixture, fixture.size === (ctx.opts.size === 'small' ? 'small' : 'full') ? 'bench/big' : `bench/big-${fixture.size}`);
    const [bundle, engine] = await Promise.all([ctx.bundle(ref), ctx.docker()]);
    const v = await engine.docker(['version', '--format', '{{.Server.Version}} (API {{.Server.APIVersion}}), client {{.Client.Version}}']);
    return { ref, bytes: fixture.compressedBytes, fixture, fixtureInfo: bigInfo(fixture), bundle, engine, env: childEnv(engine.env), imageId: fixture.config.digest, engineVersion: v.stdout.trim(), ferry: ctx.ferry };
  },
  variants: [
    {
      name: 'ferry load',
      note: 'DOCKER_HOST=private engine ferry load big.tar.gz',
      prepare: ({ engine, ref }) => clearEngine(engine, ref),
      steps: ({ bundle, env, ferry }, dir) => [{ cmd: process.execPath, args: [ferry, 'load', bundle, '--json'], env, stdout: join(dir, 'report.json') }],
      async inspect(dir, _t, { engine, ref, imageId }) {
        const report = await ferryReport(join(dir, 'report.json'));
        if (!report.loaded?.length) throw new Error(`ferry load loaded nothing: ${JSON.stringify(report)}`);
        await checkLoaded(engine, ref, imageId);
        return {};
      },
      cleanup: ({ engine, ref }) => clearEngine(engine, ref),
    },
    {
      name: 'docker load',
      note: 'docker load -i big.tar.gz (the same engine)',
      prepare: ({ engine, ref }) => clearEngine(engine, ref),
      steps: ({ bundle, env }) => [{ cmd: 'docker', args: ['load', '-i', bundle], env }],
      async inspect(_dir, _t, { engine, ref, imageId }) {
        await checkLoaded(engine, ref, imageId);
        return {};
      },
      cleanup: ({ engine, ref }) => clearEngine(engine, ref),
    },
  ],
  targets(m, { engineVersion, fixture }) {
    const ferry = pick(m, 'ferry load');
    const dl = pick(m, 'docker load');
    const slowest = Math.max(...ferry.runs.map((r) => r.seconds), ...dl.runs.map((r) => r.seconds));
    return [
      { what: 'ferry load <= 1.0x docker load (issue 12)', value: ratio(ferry.seconds, dl.seconds), ok: ferry.seconds <= dl.seconds },
      { what: `engine ${engineVersion}; image: the ${fixture.size} fixture`, value: `slowest load ${slowest.toFixed(1)} s${slowest > 60 && fixture.size === 'full' ? ' (> 60 s: consider --load-size small)' : ''}`, info: true },
    ];
  },
});
