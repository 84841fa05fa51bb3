import { describe, expect, it } from 'vitest';
import { inspectText, inspectView, type InspectInput } from './inspect-view.js';

const config = Buffer.from(JSON.stringify({
  created: '2024-05-01T10:00:00Z',
  architecture: 'arm64',
  variant: 'v8',
  os: 'linux',
  config: { User: 'app', Env: ['PATH=/bin'], Entrypoint: ['/init'], Cmd: ['serve'], WorkingDir: '/srv', ExposedPorts: { '80/tcp': {}, '443/tcp': {} }, Labels: { z: '1', a: '2' } },
  rootfs: { type: 'layers', diff_ids: ['sha256:d1', 'sha256:d2'] },
}));

const input = (over: Partial<InspectInput> = {}): InspectInput => ({
  name: 'r.example/team/app:1',
  repoTag: 'r.example/team/app:1',
  repository: 'r.example/team/app',
  top: { digest: 'sha256:index', mediaType: 'application/vnd.oci.image.index.v1+json' },
  platforms: [
    { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: 'sha256:amd', size: 400, platform: { os: 'linux', architecture: 'amd64' } },
    { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: 'sha256:arm', size: 401, platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } },
  ],
  manifest: {
    descriptor: { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: 'sha256:arm', size: 401 },
    parsed: {
      kind: 'manifest',
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: 'sha256:cfg', size: config.length },
      layers: [
        { mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: 'sha256:l1', size: 1000 },
        { mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: 'sha256:l2', size: 234 },
      ],
    },
    platform: undefined,
  },
  config,
  referrers: [{ digest: 'sha256:sig', mediaType: 'application/vnd.oci.image.manifest.v1+json', artifactType: undefined, subject: 'sha256:arm', tag: 'sha256-arm.sig' }],
  ...over,
});

describe('inspectView', () => {
  it('takes the fields docker and skopeo show from the manifest and config', () => {
    const v = inspectView(input());
    expect(v).toMatchObject({
      Name: 'r.example/team/app:1',
      Digest: 'sha256:index',
      RepoDigests: ['r.example/team/app@sha256:index'],
      Id: 'sha256:cfg',
      Created: '2024-05-01T10:00:00Z',
      Os: 'linux',
      Architecture: 'arm64',
      Variant: 'v8',
      Size: 1234,
      Layers: ['sha256:l1', 'sha256:l2'],
      RootFS: { Type: 'layers', Layers: ['sha256:d1', 'sha256:d2'] },
      Manifest: { Digest: 'sha256:arm', Platform: 'linux/arm64/v8' },
    });
    expect(v.Config).toEqual({ User: 'app', Env: ['PATH=/bin'], Cmd: ['serve'], Entrypoint: ['/init'], WorkingDir: '/srv', ExposedPorts: { '443/tcp': {}, '80/tcp': {} }, Volumes: {}, Labels: { a: '2', z: '1' }, StopSignal: '' });
    expect(v.LayersData[1]).toEqual({ MIMEType: 'application/vnd.oci.image.layer.v1.tar+gzip', Digest: 'sha256:l2', Size: 234, DiffID: 'sha256:d2', Annotations: {} });
    expect(v.Platforms.map((p) => p.Platform)).toEqual(['linux/amd64', 'linux/arm64/v8']);
    expect(v.Referrers).toEqual([{ Digest: 'sha256:sig', MediaType: 'application/vnd.oci.image.manifest.v1+json', ArtifactType: null, Subject: 'sha256:arm', Tag: 'sha256-arm.sig' }]);
  });

  it('an index entry platform wins over the config; a missing config leaves the fields empty', () => {
    const v = inspectView(input({ config: undefined, manifest: { ...input().manifest, platform: { os: 'linux', architecture: 'arm', variant: 'v7' } } }));
    expect([v.Os, v.Architecture, v.Variant, v.Created]).toEqual(['linux', 'arm', 'v7', null]);
    expect(v.Config.Env).toEqual([]);
    expect(v.LayersData[0]!.DiffID).toBeNull();
  });

  it('renders for people: one field a line, layers with sizes and diff_ids', () => {
    const text = inspectText(inspectView(input()), (n) => `${n} B`);
    expect(text).toContain('Platforms:\n  linux/amd64       sha256:amd\n  linux/arm64/v8    sha256:arm\n');
    expect(text).toContain('Platform:     linux/arm64/v8\n');
    expect(text).toContain('Cmd:          ["serve"]\n');
    expect(text).toContain('  sha256:l1     1000 B  diff_id sha256:d1\n');
    expect(text).toContain('Total size:   1234 B\n');
    expect(text).toContain('  sha256:sig  application/vnd.oci.image.manifest.v1+json  (tag sha256-arm.sig)\n');
  });
});
