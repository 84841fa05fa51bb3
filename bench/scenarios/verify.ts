/** verify: the big image's bundle, against Node's gunzip + sha256 of the same file. */
import { stat } from 'node:fs/promises';
import { defineScenario } from '../scenario.js';
import { bigInfo } from './fixture-info.js';
import { FLOOR, verifyTargets, verifyVariants, type VerifyData } from './verify-variants.js';

export default defineScenario<VerifyData>({
  name: 'verify',
  title: 'verify the bundle of the big image offline (and --deep)',
  baseline: FLOOR,
  async setup(ctx) {
    const fixture = await ctx.fixture();
    const ref = await ctx.pushed(fixture, 'bench/big');
    const bundle = await ctx.bundle(ref);
    return { bundle, bytes: (await stat(bundle)).size, what: 'bundle file', fixtureInfo: bigInfo(fixture), ferry: ctx.ferry };
  },
  variants: verifyVariants,
  targets: verifyTargets,
});
