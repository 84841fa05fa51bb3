import { describe, expect, it } from 'vitest';
import { UsageError } from '../errors.js';
import { parsePushTarget, targetRepository } from './push-target.js';
import { parseReference } from '../reference/parse-reference.js';

describe('parsePushTarget', () => {
  it.each([
    ['localhost:5001', { host: 'localhost:5001', prefix: '', keepHost: false }],
    ['LOCALHOST:5001', { host: 'localhost:5001', prefix: '', keepHost: false }],
    ['Registry.Internal:5000/mirror', { host: 'registry.internal:5000', prefix: 'mirror', keepHost: false }],
    ['https://registry.internal/a/b/', { host: 'registry.internal', prefix: 'a/b', keepHost: false }],
  ])('%s', (to, want) => {
    expect(parsePushTarget(to)).toEqual(want);
  });

  it('explains an uppercase prefix: repository paths must be lowercase (exit 2)', () => {
    let caught: unknown;
    try {
      parsePushTarget('localhost:5001/Mirror/Team');
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(UsageError);
    expect((caught as UsageError).exitCode).toBe(2);
    expect((caught as UsageError).message).toBe('--to "localhost:5001/Mirror/Team": repository path must be lowercase: got "Mirror/Team"');
    expect((caught as UsageError).hint).toBe('registries accept only lowercase repository names; e.g. --to localhost:5001/mirror/team');
  });

  it('still rejects what is not HOST[:PORT][/PREFIX]', () => {
    expect(() => parsePushTarget('localhost:5001/a b')).toThrow('--to "localhost:5001/a b" is not a registry HOST[:PORT][/PREFIX]');
    expect(() => parsePushTarget('mirror')).toThrow('does not start with a registry host');
  });

  it('puts the source repository under the prefix', () => {
    expect(targetRepository(parsePushTarget('LOCALHOST:5001/m'), parseReference('docker.io/library/nginx:1'))).toBe('m/library/nginx');
  });
});
