/** verify-huge: a bundle with one layer larger than 8 GiB (only with --size huge). */
import { stat } from 'node:fs/promises';
import { defineScenario } from '../scenario.js';
import { bigInfo } from './fixture-info.js';
import { FLOOR, verifyTargets, verifyVariants, type VerifyData } from './verify-variants.js';

export default defineScenario<VerifyData>({
  name: 'verify-huge',
  title: 'verify a bundle whose single layer is larger than 8 GiB (and --deep)',
  baseline: FLOOR,
  tools: ['openssl'],
  skip: (opts) => (opts.size === 'huge' ? null : 'only with --size huge (it builds a > 8 GiB layer and needs ~30 GB of disk)'),
  async setup(ctx) {
    const fixture = await ctx.huge();
    const ref = await ctx.pushed(fixture, 'bench/huge');
    const bundle = await ctx.bundle(ref);
    return { bundle, bytes: (await stat(bundle)).size, what: `bundle file (one ${fixture.GiB} GiB layer)`, fixtureInfo: bigInfo(fixture), ferry: ctx.ferry };
  },
  variants: verifyVariants,
  targets: verifyTargets,
});
