/**
 * The common e2e set-up: a private dockerd, an open registry with the fixture images (built
 * with docker, not ferry), and the same images copied by skopeo into an htpasswd registry and
 * a token-auth registry that accept `user`. If any server fails to start, the others are
 * still returned for cleanup and the error is thrown (the suite fails, never skips).
 */
import { startDockerd, type Dockerd } from './dockerd.js';
import { buildFixtures, copyFixtures, type Fixtures } from './fixtures.js';
import { startRegistry, type Credentials, type Registry } from './registry.js';

export interface AuthRegistries {
  dockerd: Dockerd;
  open: Registry;
  basic: Registry;
  token: Registry;
  fx: Fixtures;
}

/** Starts the servers and builds the fixtures into `fixturesDir`. `onStarted` sees whatever started, for cleanup. */
export async function startAuthRegistries(user: Credentials, fixturesDir: string, onStarted: (s: Partial<AuthRegistries>) => void): Promise<AuthRegistries> {
  const started = await Promise.allSettled([startDockerd(), startRegistry(), startRegistry({ auth: 'htpasswd', users: [user] }), startRegistry({ auth: 'token', users: [user] })]);
  const [dockerd, open, basic, token] = started.map((s) => (s.status === 'fulfilled' ? s.value : undefined)) as [Dockerd, Registry, Registry, Registry];
  onStarted({ dockerd, open, basic, token });
  const failed = started.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed) throw failed.reason;
  const fx = await buildFixtures(dockerd, open.host, fixturesDir);
  await copyFixtures(fx, basic.host, user);
  await copyFixtures(fx, token.host, user);
  return { dockerd, open, basic, token, fx };
}
