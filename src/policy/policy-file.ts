/**
 * The signature policy file (docs/policy.md): which keys and keyless identities are trusted,
 * and per image pattern which of them must have signed it. Loaded and checked whole before any
 * work; every key file and trusted root is read and parsed up front. Throws MANIFEST_FILE-coded
 * errors (exit 2) naming the file and the field.
 *
 * Trust entries: a public key (PEM: ECDSA P-256/P-384, RSA, ed25519), optionally with the key
 * of the transparency log its signatures are logged in (`tlog: { key }`); or keyless, a sigstore
 * trusted root (`trustedRoot`: Fulcio CAs, Rekor and CT log keys) with the accepted
 * `identities`. Rules may require transparency-log evidence (`tlog: required`), attestations
 * (signed by the `signedBy` entries, key or keyless), or Notation signatures (`notation: true`,
 * which ferry does not verify: such a rule always rejects, never passes silently).
 */
import { createPublicKey, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { parse } from 'yaml';
import { z } from 'zod';
import { FerryError, describe } from '../errors.js';
import { loadTrustedRoot, type Identity, type KeylessTrust } from './keyless.js';
import { logIdOf, type LogKey } from './rekor-set.js';

const trustSchema = z
  .object({
    key: z.string().min(1).optional().describe('PEM public key file, relative to the policy file'),
    tlog: z.object({ key: z.string().min(1).describe('PEM public key of the transparency log (Rekor) whose SETs are checked') }).strict().optional(),
    trustedRoot: z.string().min(1).optional().describe('keyless: a sigstore trusted_root.json (Fulcio CAs, Rekor and CT log keys), relative to the policy file; never fetched'),
    identities: z
      .array(
        z
          .object({
            issuer: z.string().min(1).describe('the OIDC issuer in the certificate (extension 1.3.6.1.4.1.57264.1.8)'),
            subject: z.string().min(1).optional().describe("the certificate's SAN (URI or email), exactly"),
            subjectRegExp: z.string().min(1).optional().describe("a RegExp the certificate's SAN must match"),
          })
          .strict(),
      )
      .optional()
      .describe('keyless: the accepted signers; one must match'),
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
        notation: z.boolean().optional().describe('true: Notation signatures are required; ferry does not verify them, so a matching image is always rejected, saying how many it carries'),
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
  /** `tlog: required`: a signature counts only with valid transparency-log evidence. */
  tlogRequired: boolean;
  /** `notation: true`: Notation signatures are asked for; ferry cannot verify them, so the image is rejected. */
  notation: boolean;
}

export interface Policy {
  path: string;
  /** Key trust entries by name. */
  keys: Map<string, KeyObject>;
  /** The transparency logs a key trust entry names (`tlog: { key }`). */
  logs: Map<string, LogKey[]>;
  /** Keyless trust entries by name. */
  keyless: Map<string, KeylessTrust>;
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
  const logs = new Map<string, LogKey[]>();
  const keyless = new Map<string, KeylessTrust>();
  for (const [name, t] of Object.entries(p.trust)) {
    if (t.trustedRoot !== undefined || t.identities !== undefined) {
      keyless.set(name, await keylessTrust(path, name, t));
      continue;
    }
    if (!t.key) throw fail(path, `trust.${name}: needs a key (a PEM public key file), or trustedRoot and identities (keyless)`);
    keys.set(name, await readKey(path, `trust.${name}.key`, t.key));
    if (t.tlog) {
      const log = await readKey(path, `trust.${name}.tlog.key`, t.tlog.key);
      logs.set(name, [{ id: logIdOf(log), key: log }]);
    }
  }
  const rules: PolicyRule[] = p.rules.map((r, i) => {
    if (r.require?.attestations?.length && !r.require.signedBy?.length) throw fail(path, `rules[${i}].require.attestations: needs signedBy too (the keys the attestations must be signed with)`);
    const signedBy = r.require?.signedBy ?? [];
    const known = [...keys.keys(), ...keyless.keys()];
    for (const s of signedBy) if (!known.includes(s)) throw fail(path, `rules[${i}].require.signedBy: "${s}" is not a name under trust (known: ${known.join(', ') || 'none'})`);
    const tlogRequired = r.require?.tlog === 'required';
    for (const s of signedBy) {
      if (tlogRequired && keys.has(s) && !logs.has(s)) throw fail(path, `rules[${i}].require.tlog: required, but trust.${s} names no log key to check the SET with`, `add the log's public key: trust: { ${s}: { key: ..., tlog: { key: rekor.pub } } }`);
    }
    const notation = r.require?.notation === true;
    if (notation && r.allow) throw fail(path, `rules[${i}]: allow: true and require.notation contradict each other (a rule asking for Notation signatures rejects)`);
    if (!signedBy.length && !r.allow && !notation) throw fail(path, `rules[${i}]: give require.signedBy, or allow: true`);
    const re = patternRegExp(r.images);
    return { pattern: r.images, matches: (ref) => re.test(ref), signedBy, attestations: r.require?.attestations ?? [], allow: r.allow === true && !signedBy.length, tlogRequired, notation };
  });
  return { path, keys, logs, keyless, rules, defaultVerdict: p.default };
}

/** Reads a PEM public key named at `field`, relative to the policy file. */
async function readKey(path: string, field: string, name: string): Promise<KeyObject> {
  const file = resolve(dirname(path), name);
  let pem: string;
  try {
    pem = await readFile(file, 'utf8');
  } catch (err) {
    throw fail(path, `${field}: ${file} cannot be read (${describe(err)})`);
  }
  try {
    return createPublicKey(pem);
  } catch (err) {
    throw fail(path, `${field}: ${file} is not a PEM public key (${describe(err)})`, 'export it with `cosign public-key` or `openssl pkey -pubout`');
  }
}

/** A keyless trust entry: its trusted root read, its identities checked. */
async function keylessTrust(path: string, name: string, t: z.infer<typeof trustSchema>): Promise<KeylessTrust> {
  if (t.key !== undefined || t.tlog !== undefined) throw fail(path, `trust.${name}: give either key (and tlog) or trustedRoot and identities, not both`);
  if (!t.trustedRoot) throw fail(path, `trust.${name}: identities need a trustedRoot (a sigstore trusted_root.json)`);
  if (!t.identities?.length) throw fail(path, `trust.${name}: a trustedRoot needs identities: [{ issuer, subject | subjectRegExp }] (who may sign)`);
  const identities: Identity[] = t.identities.map((id, j) => {
    const at = `trust.${name}.identities[${j}]`;
    if ((id.subject === undefined) === (id.subjectRegExp === undefined)) throw fail(path, `${at}: give one of subject or subjectRegExp`);
    if (id.subject !== undefined) return { issuer: id.issuer, subject: id.subject };
    try {
      return { issuer: id.issuer, subjectRegExp: new RegExp(id.subjectRegExp!) };
    } catch (err) {
      throw fail(path, `${at}.subjectRegExp: not a valid RegExp (${describe(err)})`);
    }
  });
  const file = resolve(dirname(path), t.trustedRoot);
  try {
    return { root: t.trustedRoot, identities, ...(await loadTrustedRoot(file)) };
  } catch (err) {
    throw fail(path, `trust.${name}.trustedRoot: ${file}: ${describe(err)}`, 'give the trusted_root.json of your sigstore instance (for the public one, trusted_root.json from its TUF repository), copied across the gap');
  }
}
