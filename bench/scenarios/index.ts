/** Every scenario, in the order they run. */
import type { Options } from '../args.js';
import type { Scenario } from '../scenario.js';
import delta from './delta.js';
import exportScenario from './export.js';
import load from './load.js';
import push from './push.js';
import reexport from './reexport.js';
import save from './save.js';
import { serve, serve16 } from './serve.js';
import { scaleScenario } from './scale.js';
import startup from './startup.js';
import verifyHuge from './verify-huge.js';
import verify from './verify.js';

export function allScenarios(opts: Pick<Options, 'size'>): Scenario[] {
  return [startup, save, push, load, verify, serve, serve16, exportScenario, reexport, delta, scaleScenario(opts.size === 'small'), verifyHuge];
}
