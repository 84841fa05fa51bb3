import { describe, expect, it } from 'vitest';
import { parseChallenge, type Challenge } from './challenge.js';

describe('parseChallenge', () => {
  const cases: [label: string, header: string | string[] | undefined, want: Challenge | undefined][] = [
    [
      'Docker Hub bearer with realm, service and scope',
      'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/nginx:pull"',
      { scheme: 'bearer', params: { realm: 'https://auth.docker.io/token', service: 'registry.docker.io', scope: 'repository:library/nginx:pull' } },
    ],
    [
      'scope with commas and colons inside quotes',
      'Bearer realm="https://auth.example.com/token",service="reg",scope="repository:team/api:pull,push"',
      { scheme: 'bearer', params: { realm: 'https://auth.example.com/token', service: 'reg', scope: 'repository:team/api:pull,push' } },
    ],
    [
      'several space-separated scopes',
      'Bearer realm="https://a/token",scope="repository:a/b:pull repository:c/d:pull,push"',
      { scheme: 'bearer', params: { realm: 'https://a/token', scope: 'repository:a/b:pull repository:c/d:pull,push' } },
    ],
    [
      'spaces after commas and around =',
      'Bearer realm = "https://a/token", service="svc" ,  scope="x:y:z"',
      { scheme: 'bearer', params: { realm: 'https://a/token', service: 'svc', scope: 'x:y:z' } },
    ],
    ['Basic realm', 'Basic realm="Registry Realm"', { scheme: 'basic', params: { realm: 'Registry Realm' } }],
    ['lowercase scheme', 'bearer realm="https://a/token"', { scheme: 'bearer', params: { realm: 'https://a/token' } }],
    ['uppercase scheme and parameter names', 'BASIC Realm="r"', { scheme: 'basic', params: { realm: 'r' } }],
    ['escaped quotes in a quoted value', 'Basic realm="say \\"hi\\" \\\\ there"', { scheme: 'basic', params: { realm: 'say "hi" \\ there' } }],
    ['unquoted token values', 'Bearer realm=https://a/token,service=svc', { scheme: 'bearer', params: { realm: 'https://a/token', service: 'svc' } }],
    ['scheme without parameters', 'Basic', { scheme: 'basic', params: {} }],
    ['first of several header values', ['Bearer realm="https://a/token"', 'Basic realm="b"'], { scheme: 'bearer', params: { realm: 'https://a/token' } }],
    [
      'first challenge of a header listing two',
      'Bearer realm="https://a/token",service="svc", Basic realm="b"',
      { scheme: 'bearer', params: { realm: 'https://a/token', service: 'svc' } },
    ],
    ['missing header', undefined, undefined],
    ['empty header', '', undefined],
    ['empty header list', [], undefined],
  ];
  it.each(cases)('%s', (_label, header, want) => {
    expect(parseChallenge(header)).toEqual(want);
  });
});
