/**
 * The manifest file's schema (docs/manifest-file.md). zod validates it and generates the JSON
 * Schema in docs/manifest-file.schema.json (`npm run schema`), so editors can check files.
 * Unknown keys are errors: a typo must not silently drop a setting.
 */
import { z } from 'zod';

import { KNOWN_ARCH, KNOWN_OS } from '../oci/platform.js';

const platform = z
  .string()
  .regex(/^[a-z0-9._-]+\/[a-z0-9._-]+(\/[a-z0-9._-]+)?$|^all$/, 'expected os/arch[/variant] (e.g. linux/amd64) or "all"')
  .refine((p) => p === 'all' || KNOWN_OS.includes(p.split('/')[0]!), { message: `unknown operating system (known: ${KNOWN_OS.join(', ')})` })
  .refine((p) => p === 'all' || KNOWN_ARCH.includes(p.split('/')[1]!), { message: `unknown architecture (known: ${KNOWN_ARCH.join(', ')})` })
  .describe('os/arch[/variant], e.g. linux/amd64 or linux/arm64/v8, or "all" for every platform of an index');

const platforms = z.array(platform).min(1).describe('platforms to keep from multi-platform images');

const tagName = z.string().regex(/^[\w][\w.-]{0,127}$/, 'a tag is letters, digits, _ . and -, at most 128, not starting with . or -');

export const tagSelectorSchema = z
  .union([
    z.literal('all').describe('every tag of the repository (use with limit)'),
    z.array(tagName).min(1).describe('exactly these tags'),
    z.object({ regex: z.string().min(1).describe('tags that match this regular expression as a whole (JavaScript syntax)') }).strict(),
    z.object({ semver: z.string().min(1).describe('version tags in this range, e.g. ">=1.26 <1.28", "^2.1", "~1.4 || >=2"') }).strict(),
    z.object({ latest: z.number().int().min(1).describe('the N highest release versions') }).strict(),
  ])
  .describe('which tags of the repository to carry; each becomes an image, as if listed by hand');

export const imageEntrySchema = z.union([
  z.string().min(1).describe('an image reference, e.g. docker.io/library/nginx:1.27'),
  z
    .object({
      ref: z.string().min(1).describe('the image reference to pull; may be pinned with @sha256:...'),
      name: z.string().min(1).optional().describe('the name the image gets in the bundle (and in docker after load), e.g. acme/api:1.4'),
      platforms: platforms.optional(),
      referrers: z.boolean().optional().describe('carry the image\'s signatures, attestations and SBOMs (default: the file\'s referrers, true)'),
      tags: tagSelectorSchema.optional(),
      limit: z.number().int().min(1).optional().describe('with tags: keep at most this many, the highest versions first'),
    })
    .strict(),
]);

export const registrySettingsSchema = z
  .object({
    insecure: z.boolean().optional().describe('allow plain HTTP and unverified TLS for this registry'),
    'ca-file': z.string().min(1).optional().describe('PEM file with the CA that signed the registry certificate (relative to the manifest file)'),
  })
  .strict();

export const manifestFileSchema = z
  .object({
    bundle: z
      .string()
      .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'a bundle name is letters, digits, . _ and -')
      .optional()
      .describe('bundle name: the output is bundles/<bundle>.tar.gz (default: the manifest file name)'),
    platforms: platforms.optional().describe('default platforms for every image (default linux/amd64)'),
    referrers: z.boolean().optional().describe('carry signatures, attestations and SBOMs of every image (default true)'),
    images: z.array(imageEntrySchema).min(1).describe('the images to carry'),
    registries: z.record(z.string(), registrySettingsSchema).optional().describe('per-registry settings, keyed by HOST[:PORT]'),
  })
  .strict();

export type ManifestFile = z.infer<typeof manifestFileSchema>;

/** The JSON Schema of the manifest file. */
export function manifestJsonSchema(): unknown {
  return {
    $id: 'https://ferry.invalid/manifest-file.schema.json',
    title: 'ferry manifest file',
    ...(z.toJSONSchema(manifestFileSchema) as object),
  };
}
