/**
 * The signature policy file (docs/policy.md): which keys are trusted, and per image pattern which
 * of them must have signed it. Loaded and checked whole before any work; every key file is read
 * and parsed up front. Throws MANIFEST_FILE-coded errors (exit 2) naming the file and the field.
 *
 * Supported now: public keys (PEM: ECDSA P-256/P-384, RSA, ed25519), cosign's simple-signing
 * signatures and cosign's attestations (DSSE envelopes of in-toto statements). Keyless trust
 * (`trustedRoot`, `identities`) and required transparency-log evidence are recognised and
 * refused as not supported yet (exit 2), never silently ignored.
 */
import { createPublicKey, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { parse } from 'yaml';
import { z } from 'zod';
import { FerryError, describe } from '../errors.js';

const trustSchema = z
  .object({
    key: z.string().min(1).optional().describe('PEM public key file, relative to the policy file'),
    trustedRoot: z.string().min(1).optional().describe('sigstore trusted_root.json (keyless; not supported yet)'),
    identities: z.array(z.object({ issuer: z.string(), subjectRegExp: z.string().optional(), subject: z.string().optional() }).strict()).optional(),
  })
  .strict();

const ruleSchema = z
  .object({
    images: z.string().min(1).describe('a pattern over the source reference: * within a path part, ** across parts'),
    require: z
      .object({
        signedBy: z.array(z.string().min(1)).min(1).optional(),
        attestations: z.array(z.string()).optional(),
        tlog: z.enum(['required', 'optional']).optional(),
      })
      .strict()
      .optional(),
    allow: z.boolean().optional().describe('accept matching images without signatures'),
  })
  .strict();

export const policyFileSchema = z
  .object({
    trust: z.record(z.string(), trustSchema).default({}),
    rules: z.array(ruleSchema).default([]),
    default: z.enum(['reject', 'allow']).default('reject'),
  })
  .strict();

/** The JSON Schema of the policy file (docs/policy.schema.json, `npm run schema`). */
export function policyJsonSchema(): unknown {
  return { $id: 'https://ferry.invalid/policy.schema.json', title: 'ferry signature policy', ...(z.toJSONSchema(policyFileSchema, { io: 'input' }) as object) };
}

export interface PolicyRule {
  pattern: string;
  matches: (reference: string) => boolean;
  /** Trust names of which at least one must have signed; empty with `allow`. */
  signedBy: string[];
  /** in-toto predicate types that must each be attested (cosign .att, DSSE) with one of `signedBy`. */
  attestations: string[];
  allow: boolean;
}

export interface Policy {
  path: string;
  keys: Map<string, KeyObject>;
  rules: PolicyRule[];
  defaultVerdict: 'reject' | 'allow';
}

/** A pattern as a RegExp: `**` any characters, `*` any but `/`, the rest literal. */
export function patternRegExp(pattern: string): RegExp {
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '*' && pattern[i + 1] === '*') {
      re += '.*';
      i++;
    } else if (c === '*') re += '[^/]*';
    else re += c.replace(/[.+?^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

const fail = (path: string, message: string, hint = 'see docs/policy.md'): FerryError => new FerryError('MANIFEST_FILE', `policy file ${path}: ${message}`, { hint });

/** Loads and checks a policy file, reading every key it names. */
export async function loadPolicy(path: string): Promise<Policy> {
  let doc: unknown;
  try {
    doc = parse(await readFile(path, 'utf8'));
  } catch (err) {
    throw fail(path, `cannot be read: ${describe(err)}`, 'name a readable YAML file with --policy');
  }
  const parsed = policyFileSchema.safeParse(doc ?? {});
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.') || '(top)'}: ${i.message}`);
    throw fail(path, `is not valid:\n  - ${problems.join('\n  - ')}`);
  }
  const p = parsed.data;
  const keys = new Map<string, KeyObject>();
  for (const [name, t] of Object.entries(p.trust)) {
    if (t.trustedRoot || t.identities) throw fail(path, `trust.${name}: keyless trust (trustedRoot, identities) is not supported yet; use a public key`, 'sign with a key (cosign sign --key) and name its public key: trust: { NAME: { key: FILE.pub } }');
    if (!t.key) throw fail(path, `trust.${name}: needs a key (a PEM public key file)`);
    const file = resolve(dirname(path), t.key);
    let pem: string;
    try {
      pem = await readFile(file, 'utf8');
    } catch (err) {
      throw fail(path, `trust.${name}.key: ${file} cannot be read (${describe(err)})`);
    }
    try {
      keys.set(name, createPublicKey(pem));
    } catch (err) {
      throw fail(path, `trust.${name}.key: ${file} is not a PEM public key (${describe(err)})`, 'export it with `cosign public-key` or `openssl pkey -pubout`');
    }
  }
  const rules: PolicyRule[] = p.rules.map((r, i) => {
    if (r.require?.attestations?.length && !r.require.signedBy?.length) throw fail(path, `rules[${i}].require.attestations: needs signedBy too (the keys the attestations must be signed with)`);
    if (r.require?.tlog === 'required') throw fail(path, `rules[${i}].require.tlog: requiring transparency-log evidence is not supported yet`);
    const signedBy = r.require?.signedBy ?? [];
    for (const s of signedBy) if (!keys.has(s)) throw fail(path, `rules[${i}].require.signedBy: "${s}" is not a name under trust (known: ${[...keys.keys()].join(', ') || 'none'})`);
    if (!signedBy.length && !r.allow) throw fail(path, `rules[${i}]: give require.signedBy, or allow: true`);
    const re = patternRegExp(r.images);
    return { pattern: r.images, matches: (ref) => re.test(ref), signedBy, attestations: r.require?.attestations ?? [], allow: r.allow === true && !signedBy.length };
  });
  return { path, keys, rules, defaultVerdict: p.default };
}
