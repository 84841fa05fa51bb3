/**
 * A sigstore instance in miniature, made with openssl and nothing of ferry: a Fulcio-like CA
 * (root and intermediate, EC P-256) issuing leaf certificates with the Fulcio extensions (the
 * OIDC issuer as 1.3.6.1.4.1.57264.1.8, a UTF8String, and the identity as a SAN URI), a
 * Rekor-like log key (P-256) signing SETs with `openssl dgst -sha256 -sign` over the canonical
 * JSON (sorted keys, no spaces) of {body, integratedTime, logIndex, logID}, and the
 * trusted_root.json naming them in sigstore's format (protobuf-specs TrustedRoot, JSON form).
 * Certificates are issued with `openssl ca`, which takes explicit start and end dates, so a
 * leaf can be valid only for ten minutes in the past, as Fulcio's are.
 */
import { createHash, X509Certificate } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runOk } from './processes.js';

export const GITHUB_ISSUER = 'https://token.actions.githubusercontent.com';

/** openssl's date form: 2025-01-01T00:00:00Z -> 20250101000000Z. */
const osslDate = (iso: string): string => iso.replace(/[-:]/g, '').replace(/\.\d+/, '').replace('T', '');

export interface TestCa {
  dir: string;
  rootPem: string;
  intermediatePem: string;
  /** Issues a leaf for `subject` from `issuer`, valid from `start` to `end` (ISO); returns its key file and PEM. */
  leaf(name: string, o: { subject: string; issuer: string; start: string; end: string }): Promise<{ key: string; pem: string }>;
}

async function caConfig(dir: string): Promise<string> {
  mkdirSync(join(dir, 'newcerts'), { recursive: true });
  writeFileSync(join(dir, 'index.txt'), '');
  writeFileSync(join(dir, 'serial'), '1000\n');
  const cnf = join(dir, 'ca.cnf');
  writeFileSync(
    cnf,
    [
      '[ ca ]',
      'default_ca = ca_default',
      '[ ca_default ]',
      `dir = ${dir}`,
      'database = $dir/index.txt',
      'new_certs_dir = $dir/newcerts',
      'serial = $dir/serial',
      'default_md = sha256',
      'policy = policy_any',
      'unique_subject = no',
      'email_in_dn = no',
      '[ policy_any ]',
      'commonName = optional',
      'organizationName = optional',
      '[ req ]',
      'distinguished_name = dn',
      '[ dn ]',
      '[ v3_ca ]',
      'basicConstraints = critical, CA:TRUE',
      'keyUsage = critical, keyCertSign, cRLSign',
      'subjectKeyIdentifier = hash',
      'authorityKeyIdentifier = keyid:always',
      '',
    ].join('\n'),
  );
  return cnf;
}

const ecKey = (out: string) => runOk('openssl', ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', out]);

/** Makes a root and an intermediate, both valid from 2024 to 2034. */
export async function makeTestCa(dir: string, name: string): Promise<TestCa> {
  mkdirSync(dir, { recursive: true });
  const cnf = await caConfig(dir);
  const f = (x: string): string => join(dir, x);
  const ca = (args: string[]) => runOk('openssl', ['ca', '-batch', '-notext', '-config', cnf, ...args]);
  await ecKey(f('root.key'));
  await runOk('openssl', ['req', '-new', '-config', cnf, '-key', f('root.key'), '-subj', `/O=${name}/CN=${name} root`, '-out', f('root.csr')]);
  await ca(['-selfsign', '-keyfile', f('root.key'), '-in', f('root.csr'), '-out', f('root.crt'), '-startdate', '20240101000000Z', '-enddate', '20340101000000Z', '-extensions', 'v3_ca']);
  await ecKey(f('intermediate.key'));
  await runOk('openssl', ['req', '-new', '-config', cnf, '-key', f('intermediate.key'), '-subj', `/O=${name}/CN=${name} intermediate`, '-out', f('intermediate.csr')]);
  await ca(['-cert', f('root.crt'), '-keyfile', f('root.key'), '-in', f('intermediate.csr'), '-out', f('intermediate.crt'), '-startdate', '20240101000000Z', '-enddate', '20340101000000Z', '-extensions', 'v3_ca']);
  return {
    dir,
    rootPem: readFileSync(f('root.crt'), 'utf8'),
    intermediatePem: readFileSync(f('intermediate.crt'), 'utf8'),
    async leaf(leafName, o) {
      const ext = f(`${leafName}.ext`);
      writeFileSync(
        ext,
        [
          '[ leaf ]',
          'basicConstraints = critical, CA:FALSE',
          'keyUsage = critical, digitalSignature',
          'extendedKeyUsage = codeSigning',
          'subjectKeyIdentifier = hash',
          'authorityKeyIdentifier = keyid',
          `subjectAltName = URI:${o.subject}`,
          `1.3.6.1.4.1.57264.1.8 = ASN1:UTF8String:${o.issuer}`,
          '',
        ].join('\n'),
      );
      await ecKey(f(`${leafName}.key`));
      await runOk('openssl', ['req', '-new', '-config', cnf, '-key', f(`${leafName}.key`), '-subj', '/', '-out', f(`${leafName}.csr`)]);
      await ca(['-cert', f('intermediate.crt'), '-keyfile', f('intermediate.key'), '-in', f(`${leafName}.csr`), '-out', f(`${leafName}.crt`), '-startdate', osslDate(o.start), '-enddate', osslDate(o.end), '-extfile', ext, '-extensions', 'leaf']);
      return { key: f(`${leafName}.key`), pem: readFileSync(f(`${leafName}.crt`), 'utf8') };
    },
  };
}

/** DER bytes of a PEM file (certificate or public key). */
async function der(file: string, kind: 'x509' | 'pkey'): Promise<Buffer> {
  const out = `${file}.der`;
  await runOk('openssl', kind === 'x509' ? ['x509', '-in', file, '-outform', 'DER', '-out', out] : ['pkey', '-pubin', '-in', file, '-outform', 'DER', '-out', out]);
  return readFileSync(out);
}

export interface TestLog {
  key: string;
  pub: string;
  /** hex sha256 of the DER SubjectPublicKeyInfo: the log id. */
  id: string;
  spki: Buffer;
}

export async function makeTestLog(dir: string): Promise<TestLog> {
  mkdirSync(dir, { recursive: true });
  const key = join(dir, 'log.key');
  const pub = join(dir, 'log.pub');
  await ecKey(key);
  await runOk('openssl', ['pkey', '-in', key, '-pubout', '-out', pub]);
  const spki = await der(pub, 'pkey');
  return { key, pub, id: createHash('sha256').update(spki).digest('hex'), spki };
}

/** Writes trusted_root.json naming `ca` (intermediate, then root) and `log`. */
export async function writeTrustedRoot(file: string, ca: TestCa, log: TestLog): Promise<void> {
  const chain = [await der(join(ca.dir, 'intermediate.crt'), 'x509'), await der(join(ca.dir, 'root.crt'), 'x509')];
  const root = {
    mediaType: 'application/vnd.dev.sigstore.trustedroot+json;version=0.1',
    tlogs: [{ baseUrl: 'https://rekor.test.invalid', hashAlgorithm: 'SHA2_256', publicKey: { rawBytes: log.spki.toString('base64'), keyDetails: 'PKIX_ECDSA_P256_SHA_256', validFor: { start: '2024-01-01T00:00:00Z' } }, logId: { keyId: Buffer.from(log.id, 'hex').toString('base64') } }],
    certificateAuthorities: [{ subject: { organization: 'test', commonName: 'test' }, uri: 'https://fulcio.test.invalid', certChain: { certificates: chain.map((d) => ({ rawBytes: d.toString('base64') })) }, validFor: { start: '2024-01-01T00:00:00Z' } }],
    ctlogs: [],
    timestampAuthorities: [],
  };
  writeFileSync(file, JSON.stringify(root, null, 2));
}

/** Canonical JSON: sorted keys, no whitespace (the values here are strings and integers). */
const canonical = (v: Record<string, string | number>): string => `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${JSON.stringify(v[k])}`).join(',')}}`;

/** Signs `data` with an EC key file: ECDSA over SHA-256, DER; base64. */
export async function opensslSign(key: string, data: Buffer | string, work: string): Promise<string> {
  const input = join(work, `in-${Math.random().toString(36).slice(2)}`);
  writeFileSync(input, data);
  await runOk('openssl', ['dgst', '-sha256', '-sign', key, '-out', `${input}.sig`, input]);
  return readFileSync(`${input}.sig`).toString('base64');
}

/**
 * cosign's `dev.sigstore.cosign/bundle` for a signature: a hashedrekord 0.0.1 body recording
 * `signature`, the sha256 of `payload` and `publicKeyPem`, with a SET by the log.
 */
export async function rekorBundle(log: TestLog, o: { payload: Buffer | string; signature: string; publicKeyPem: string; integratedTime: number; logIndex: number; work: string; corruptSet?: boolean }): Promise<string> {
  const body = {
    apiVersion: '0.0.1',
    kind: 'hashedrekord',
    spec: {
      data: { hash: { algorithm: 'sha256', value: createHash('sha256').update(o.payload).digest('hex') } },
      signature: { content: o.signature, publicKey: { content: Buffer.from(o.publicKeyPem).toString('base64') } },
    },
  };
  const payload = { body: Buffer.from(JSON.stringify(body)).toString('base64'), integratedTime: o.integratedTime, logIndex: o.logIndex, logID: log.id };
  let set = await opensslSign(log.key, canonical(payload), o.work);
  if (o.corruptSet) set = await opensslSign(log.key, canonical({ ...payload, logIndex: o.logIndex + 1 }), o.work);
  return JSON.stringify({ SignedEntryTimestamp: set, Payload: payload });
}

const sha256hex = (b: Buffer | string): string => createHash('sha256').update(b).digest('hex');

/**
 * A cosign v3 image signature: a sigstore bundle v0.3 whose DSSE envelope holds an in-toto
 * statement (subject: `digest`, predicateType https://sigstore.dev/cosign/sign/v1) signed by the
 * leaf, with the certificate and one Rekor `dsse` 0.0.1 entry carrying both its inclusion
 * promise (SET) and an inclusion proof: a one-leaf tree (index 0, size 1, root = the RFC 6962
 * leaf hash of the body) and a checkpoint signed by the log as a signed note.
 */
export async function sigstoreBundleV03(log: TestLog, o: { leafPem: string; leafKey: string; digest: string; integratedTime: number; work: string; predicateType?: string; corruptProof?: boolean }): Promise<string> {
  const statement = Buffer.from(JSON.stringify({ _type: 'https://in-toto.io/Statement/v1', subject: [{ name: 'image', digest: { sha256: o.digest.slice('sha256:'.length) } }], predicateType: o.predicateType ?? 'https://sigstore.dev/cosign/sign/v1', predicate: {} }));
  const type = 'application/vnd.in-toto+json';
  const pae = Buffer.concat([Buffer.from(`DSSEv1 ${type.length} ${type} ${statement.length} `), statement]);
  const sig = await opensslSign(o.leafKey, pae, o.work);
  const envelope = { payload: statement.toString('base64'), payloadType: type, signatures: [{ sig, keyid: '' }] };
  const body = Buffer.from(JSON.stringify({
    apiVersion: '0.0.1',
    kind: 'dsse',
    spec: {
      envelopeHash: { algorithm: 'sha256', value: sha256hex(JSON.stringify(envelope)) },
      payloadHash: { algorithm: 'sha256', value: sha256hex(statement) },
      signatures: [{ signature: sig, verifier: Buffer.from(o.leafPem).toString('base64') }],
    },
  }));
  const setPayload = { body: body.toString('base64'), integratedTime: o.integratedTime, logIndex: 0, logID: log.id };
  const set = await opensslSign(log.key, canonical(setPayload), o.work);
  let root = createHash('sha256').update(Buffer.concat([Buffer.from([0]), body])).digest();
  if (o.corruptProof) root = createHash('sha256').update('another tree').digest();
  const note = `rekor.test.invalid - 1\n1\n${root.toString('base64')}\n`;
  const noteSig = Buffer.concat([Buffer.from(log.id, 'hex').subarray(0, 4), Buffer.from(await opensslSign(log.key, note, o.work), 'base64')]);
  const checkpoint = `${note}\n\u2014 rekor.test.invalid ${noteSig.toString('base64')}\n`;
  return JSON.stringify({
    mediaType: 'application/vnd.dev.sigstore.bundle.v0.3+json',
    verificationMaterial: {
      certificate: { rawBytes: new X509Certificate(o.leafPem).raw.toString('base64') },
      tlogEntries: [
        {
          logIndex: '0',
          logId: { keyId: Buffer.from(log.id, 'hex').toString('base64') },
          kindVersion: { kind: 'dsse', version: '0.0.1' },
          integratedTime: String(o.integratedTime),
          inclusionPromise: { signedEntryTimestamp: set },
          inclusionProof: { logIndex: '0', rootHash: root.toString('base64'), treeSize: '1', hashes: [], checkpoint: { envelope: checkpoint } },
          canonicalizedBody: body.toString('base64'),
        },
      ],
      timestampVerificationData: {},
    },
    dsseEnvelope: envelope,
  });
}

/**
 * A keyless cosign attestation as `cosign attest` stores it under `sha256-<hex>.att`: the layer
 * is a DSSE envelope of an in-toto statement (subject `digest`, `predicateType`), signed by the
 * leaf over the DSSE pre-authentication encoding ("DSSEv1 <len> <type> <len> <payload>",
 * computed here), and its annotations carry the certificate, the chain and the Rekor bundle of
 * an `intoto` 0.0.1 entry (what cosign logs: the sha256 of the envelope as uploaded, of its
 * payload, and the certificate PEM; no signature) with a SET by the log. `flip` changes one byte
 * of the statement after signing and logging; `otherEnvelope` logs the hash of another envelope
 * (the SET still valid); `corruptSet` signs another log index.
 */
export async function keylessAttestation(log: TestLog, o: { leafPem: string; leafKey: string; chainPem: string; digest: string; predicateType: string; integratedTime: number; logIndex: number; work: string; flip?: boolean; otherEnvelope?: boolean; corruptSet?: boolean }): Promise<{ envelope: string; annotations: Record<string, string> }> {
  const statement = JSON.stringify({ _type: 'https://in-toto.io/Statement/v1', subject: [{ name: 'image', digest: { sha256: o.digest.slice('sha256:'.length) } }], predicateType: o.predicateType, predicate: { buildType: 'https://example.invalid/build/v1' } });
  const type = 'application/vnd.in-toto+json';
  const pae = `DSSEv1 ${Buffer.byteLength(type)} ${type} ${Buffer.byteLength(statement)} ${statement}`;
  const sig = await opensslSign(o.leafKey, pae, o.work);
  const envelopeOf = (s: string): string => JSON.stringify({ payloadType: type, payload: Buffer.from(s).toString('base64'), signatures: [{ keyid: '', sig }] });
  const envelope = envelopeOf(statement);
  const body = { apiVersion: '0.0.1', kind: 'intoto', spec: { content: { hash: { algorithm: 'sha256', value: sha256hex(o.otherEnvelope ? `${envelope} ` : envelope) }, payloadHash: { algorithm: 'sha256', value: sha256hex(statement) } }, publicKey: Buffer.from(o.leafPem).toString('base64') } };
  const setPayload = { body: Buffer.from(JSON.stringify(body)).toString('base64'), integratedTime: o.integratedTime, logIndex: o.logIndex, logID: log.id };
  const set = await opensslSign(log.key, canonical(o.corruptSet ? { ...setPayload, logIndex: o.logIndex + 1 } : setPayload), o.work);
  return {
    envelope: o.flip ? envelopeOf(statement.replace('build/v1', 'build/v2')) : envelope,
    annotations: {
      'dev.cosignproject.cosign/signature': '',
      predicateType: o.predicateType,
      'dev.sigstore.cosign/certificate': o.leafPem,
      'dev.sigstore.cosign/chain': o.chainPem,
      'dev.sigstore.cosign/bundle': JSON.stringify({ SignedEntryTimestamp: set, Payload: setPayload }),
    },
  };
}
