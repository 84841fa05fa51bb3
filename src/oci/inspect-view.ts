/**
 * What `ferry inspect` shows of an image, built from its manifests and config bytes only (no
 * layer is read): the fields `docker image inspect` and `skopeo inspect` show, under the names
 * their users type in `--format` (`.Os`, `.Architecture`, `.Config.Env`, `.Layers`,
 * `.LayersData`, `.RootFS.Layers`), plus the index's platforms and the referrers.
 */
import type { Descriptor, ImageManifest, Platform } from './manifest.js';
import { formatPlatform } from './platform.js';

export interface InspectConfig {
  User: string;
  Env: string[];
  Cmd: string[];
  Entrypoint: string[];
  WorkingDir: string;
  ExposedPorts: Record<string, unknown>;
  Volumes: Record<string, unknown>;
  Labels: Record<string, string>;
  StopSignal: string;
}

export interface InspectView {
  /** `registry/repository[:tag]` as given (normalised), or null for an unnamed bundle image. */
  Name: string | null;
  /** The digest the reference names: the index for a multi-platform image. */
  Digest: string;
  MediaType: string;
  RepoTags: string[];
  RepoDigests: string[];
  /** The config's digest (Docker's image ID). */
  Id: string;
  Created: string | null;
  Author: string;
  Architecture: string;
  Os: string;
  Variant: string;
  /** Sum of the layers' (compressed) sizes as the manifest lists them. */
  Size: number;
  Config: InspectConfig;
  RootFS: { Type: string; Layers: string[] };
  /** Layer digests, as skopeo inspect lists them. */
  Layers: string[];
  LayersData: { MIMEType: string; Digest: string; Size: number; DiffID: string | null; Annotations: Record<string, string> }[];
  /** The platform manifest shown (the reference's own manifest for a single-platform image). */
  Manifest: { Digest: string; MediaType: string; Size: number; Platform: string };
  /** The index's entries with their platforms; empty for a single manifest. */
  Platforms: { Platform: string; Digest: string; MediaType: string; Size: number }[];
  /** Signatures, attestations and SBOMs found for the image. */
  Referrers: { Digest: string; MediaType: string; ArtifactType: string | null; Subject: string; Tag: string | null }[];
}

export interface InspectInput {
  name: string | undefined;
  repoTag: string | undefined;
  repository: string | undefined;
  top: { digest: string; mediaType: string };
  /** Leaf entries of the index (empty for a single manifest). */
  platforms: readonly Descriptor[];
  manifest: { descriptor: Descriptor; parsed: ImageManifest; platform: Platform | undefined };
  /** The config bytes, or undefined when they could not be read. */
  config: Buffer | undefined;
  referrers: readonly { digest: string; mediaType: string; artifactType: string | undefined; subject: string; tag: string | undefined }[];
}

type Json = Record<string, unknown>;

const obj = (v: unknown): Json => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : {});
const str = (v: unknown): string => (typeof v === 'string' ? v : '');
const strings = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []);
const sorted = <T>(o: Record<string, T>): Record<string, T> => Object.fromEntries(Object.keys(o).sort().map((k) => [k, o[k]!]));

function parseConfig(raw: Buffer | undefined): Json {
  if (!raw) return {};
  try {
    return obj(JSON.parse(raw.toString('utf8')));
  } catch {
    return {};
  }
}

/** Builds the view. Pure: every byte it needs is in `input`. */
export function inspectView(input: InspectInput): InspectView {
  const doc = parseConfig(input.config);
  const c = obj(doc.config);
  const platform = input.manifest.platform ?? (typeof doc.os === 'string' && typeof doc.architecture === 'string' ? { os: doc.os, architecture: doc.architecture, ...(typeof doc.variant === 'string' ? { variant: doc.variant } : {}) } : undefined);
  const diffIds = strings(obj(doc.rootfs).diff_ids);
  const layers = input.manifest.parsed.layers;
  const labels = Object.fromEntries(Object.entries(obj(c.Labels)).filter((e): e is [string, string] => typeof e[1] === 'string'));
  const d = input.manifest.descriptor;
  return {
    Name: input.name ?? null,
    Digest: input.top.digest,
    MediaType: input.top.mediaType,
    RepoTags: input.repoTag ? [input.repoTag] : [],
    RepoDigests: input.repository ? [`${input.repository}@${input.top.digest}`] : [],
    Id: input.manifest.parsed.config.digest,
    Created: typeof doc.created === 'string' ? doc.created : null,
    Author: str(doc.author),
    Architecture: platform?.architecture ?? '',
    Os: platform?.os ?? '',
    Variant: platform?.variant ?? '',
    Size: layers.reduce((n, l) => n + l.size, 0),
    Config: {
      User: str(c.User),
      Env: strings(c.Env),
      Cmd: strings(c.Cmd),
      Entrypoint: strings(c.Entrypoint),
      WorkingDir: str(c.WorkingDir),
      ExposedPorts: sorted(obj(c.ExposedPorts)),
      Volumes: sorted(obj(c.Volumes)),
      Labels: sorted(labels),
      StopSignal: str(c.StopSignal),
    },
    RootFS: { Type: str(obj(doc.rootfs).type) || 'layers', Layers: diffIds },
    Layers: layers.map((l) => l.digest),
    LayersData: layers.map((l, i) => ({ MIMEType: l.mediaType, Digest: l.digest, Size: l.size, DiffID: diffIds[i] ?? null, Annotations: l.annotations ?? {} })),
    Manifest: { Digest: d.digest, MediaType: input.manifest.parsed.mediaType, Size: d.size, Platform: formatPlatform(platform) },
    Platforms: input.platforms.map((p) => ({ Platform: formatPlatform(p.platform), Digest: p.digest, MediaType: p.mediaType, Size: p.size })),
    Referrers: input.referrers.map((r) => ({ Digest: r.digest, MediaType: r.mediaType, ArtifactType: r.artifactType ?? null, Subject: r.subject, Tag: r.tag ?? null })),
  };
}

/** The view for people: one `Field: value` line each, the layers and platforms one a line. */
export function inspectText(v: InspectView, formatSize: (n: number) => string): string {
  const lines: string[] = [];
  const row = (k: string, val: string): void => void lines.push(`${`${k}:`.padEnd(14)}${val}`.trimEnd());
  const list = (xs: readonly string[]): string => (xs.length ? JSON.stringify(xs) : '');
  row('Name', v.Name ?? '<none>');
  row('Digest', v.Digest);
  row('MediaType', v.MediaType);
  if (v.Platforms.length) {
    row('Platforms', '');
    for (const p of v.Platforms) lines.push(`  ${p.Platform.padEnd(18)}${p.Digest}`);
    row('Manifest', `${v.Manifest.Digest} (${v.Manifest.Platform})`);
  }
  row('Platform', v.Manifest.Platform);
  row('Created', v.Created ?? '');
  row('Config', v.Id);
  row('User', v.Config.User);
  row('WorkingDir', v.Config.WorkingDir);
  row('Entrypoint', list(v.Config.Entrypoint));
  row('Cmd', list(v.Config.Cmd));
  row('Env', '');
  for (const e of v.Config.Env) lines.push(`  ${e}`);
  row('ExposedPorts', Object.keys(v.Config.ExposedPorts).join(' '));
  row('Labels', '');
  for (const [k, val] of Object.entries(v.Config.Labels)) lines.push(`  ${k}=${val}`);
  row('Layers', String(v.LayersData.length));
  for (const l of v.LayersData) lines.push(`  ${l.Digest}  ${formatSize(l.Size).padStart(9)}  diff_id ${l.DiffID ?? '?'}`);
  row('Total size', formatSize(v.Size));
  row('Referrers', String(v.Referrers.length));
  for (const r of v.Referrers) lines.push(`  ${r.Digest}  ${r.ArtifactType ?? r.MediaType}${r.Tag ? `  (tag ${r.Tag})` : ''}`);
  return `${lines.join('\n')}\n`;
}
