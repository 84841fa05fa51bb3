import { afterAll, beforeAll, expect, it } from 'vitest';
import { startDockerd, type Dockerd } from './helpers/dockerd.js';
import { startRegistry, type Registry } from './helpers/registry.js';
import { buildFixtures, copyFixtures, type Fixtures } from './helpers/fixtures.js';
import { suiteTempDir } from './helpers/tmp.js';

const tmp = suiteTempDir('scratch');
let d: Dockerd | undefined; let r: Registry | undefined; let b: Registry | undefined; let t: Registry | undefined;
let fx: Fixtures;
const user = { user: 'ferry', password: 's3cret-pw' };
beforeAll(async () => {
  let t0 = Date.now();
  [d, r, b, t] = await Promise.all([startDockerd(), startRegistry(), startRegistry({ auth: 'htpasswd', users: [user] }), startRegistry({ auth: 'token', users: [user] })]);
  console.log('servers', Date.now() - t0); t0 = Date.now();
  fx = await buildFixtures(d, r.host, tmp.join('fx'));
  console.log('fixtures', Date.now() - t0, JSON.stringify(fx, null, 1)); t0 = Date.now();
  await copyFixtures(fx, b.host, user);
  await copyFixtures(fx, t.host, user);
  console.log('copies', Date.now() - t0);
});
afterAll(async () => { await Promise.all([d?.stop(), r?.stop(), b?.stop(), t?.stop()]); });
it('works', async () => {
  console.log(t!.issuer!.requests);
  const out = await d!.dockerOk(['run', '--rm', '--network', 'none', fx.app.ref]);
  console.log(out);
  expect(out).toContain(fx.app.randomSha256);
});
