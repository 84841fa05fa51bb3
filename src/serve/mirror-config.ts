/**
 * `ferry serve --print-mirror-config containerd|cri-o|k3s`: the client configuration that makes
 * a node pull the bundles' upstream registries (docker.io, ghcr.io, ...) from this server:
 * - containerd: one `hosts.toml` per registry (/etc/containerd/certs.d/<registry>/hosts.toml),
 *   each file introduced by a `# file:` comment line; containerd adds `?ns=<registry>`, which
 *   the server routes by;
 * - cri-o (and podman, skopeo, buildah): registries.conf v2, a `[[registry]]` with a mirror per
 *   registry; the mirror location's path replaces the registry, so `--prefix` is in it;
 * - k3s: registries.yaml `mirrors` with an endpoint per registry (and `rewrite` for --prefix).
 */
export type MirrorFlavour = 'containerd' | 'cri-o' | 'k3s';

export interface MirrorTarget {
  /** host:port clients reach the server at. */
  authority: string;
  tls: boolean;
  /** The --prefix, without slashes, or undefined. */
  prefix: string | undefined;
  /** With TLS: the certificate file, to trust (an absolute path). */
  caFile: string | undefined;
}

const q = (s: string): string => JSON.stringify(s);

/** Where containerd's upstream for a registry is (Docker Hub's API is not at docker.io). */
function upstreamServer(registry: string): string {
  return registry === 'docker.io' ? 'https://registry-1.docker.io' : `https://${registry}`;
}

function containerd(registries: readonly string[], t: MirrorTarget): string {
  const scheme = t.tls ? 'https' : 'http';
  const host = t.prefix ? `${scheme}://${t.authority}/v2/${t.prefix}` : `${scheme}://${t.authority}`;
  return registries
    .map((r) => {
      const lines = [`# file: /etc/containerd/certs.d/${r}/hosts.toml`, `server = ${q(upstreamServer(r))}`, '', `[host.${q(host)}]`, '  capabilities = ["pull", "resolve"]'];
      if (t.prefix) lines.push('  override_path = true');
      if (t.caFile) lines.push(`  ca = ${q(t.caFile)}`);
      return `${lines.join('\n')}\n`;
    })
    .join('\n');
}

function crio(registries: readonly string[], t: MirrorTarget): string {
  const location = t.prefix ? `${t.authority}/${t.prefix}` : t.authority;
  const blocks = registries.map((r) => {
    const lines = ['[[registry]]', `prefix = ${q(r)}`, `location = ${q(r)}`, '', '[[registry.mirror]]', `location = ${q(location)}`];
    if (!t.tls) lines.push('insecure = true');
    return lines.join('\n');
  });
  return `# file: /etc/containers/registries.conf.d/ferry-serve.conf\n\n${blocks.join('\n\n')}\n`;
}

function k3s(registries: readonly string[], t: MirrorTarget): string {
  const endpoint = `${t.tls ? 'https' : 'http'}://${t.authority}`;
  const lines = ['# file: /etc/rancher/k3s/registries.yaml', 'mirrors:'];
  for (const r of registries) {
    lines.push(`  ${q(r)}:`, '    endpoint:', `      - ${q(endpoint)}`);
    if (t.prefix) lines.push('    rewrite:', `      "^(.*)$": ${q(`${t.prefix}/$1`)}`);
  }
  if (t.caFile) lines.push('configs:', `  ${q(t.authority)}:`, '    tls:', `      ca_file: ${q(t.caFile)}`);
  return `${lines.join('\n')}\n`;
}

/** The configuration text for `flavour`, for the upstream `registries` (in their order). */
export function mirrorConfig(flavour: MirrorFlavour, registries: readonly string[], target: MirrorTarget): string {
  if (flavour === 'containerd') return containerd(registries, target);
  if (flavour === 'cri-o') return crio(registries, target);
  return k3s(registries, target);
}
