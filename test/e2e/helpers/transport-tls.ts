/**
 * A test certificate authority made with openssl, and server certificates it signs, for
 * registries that serve HTTPS (`http.tls.certificate` / `http.tls.key` in the registry config).
 *
 * The CA is a self-signed RSA certificate with `basicConstraints=critical,CA:TRUE`; a server
 * certificate carries the given subjectAltNames (`DNS:registry.test`, `IP:127.0.0.1`), which is
 * all Go (the registry) and Node (ferry) look at: neither falls back to the CN.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runOk } from './processes.js';

export interface TestCa {
  /** PEM of the CA certificate: what `--ca-file` is given. */
  readonly caFile: string;
  readonly caKeyFile: string;
  /** Signs a server certificate for `sans` (e.g. ["DNS:registry.test", "IP:127.0.0.1"]). */
  issue(name: string, sans: readonly string[]): Promise<ServerCertificate>;
}

export interface ServerCertificate {
  readonly certFile: string;
  readonly keyFile: string;
}

/** Makes a CA in `dir` named `name`. Throws (with openssl's output) when openssl fails. */
export async function makeTestCa(dir: string, name: string): Promise<TestCa> {
  const caKeyFile = join(dir, `${name}-key.pem`);
  const caFile = join(dir, `${name}.pem`);
  await runOk('openssl', [
    'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-sha256', '-days', '2',
    '-subj', `/CN=${name}`,
    '-addext', 'basicConstraints=critical,CA:TRUE',
    '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
    '-keyout', caKeyFile, '-out', caFile,
  ]);
  return {
    caFile,
    caKeyFile,
    async issue(certName, sans) {
      const keyFile = join(dir, `${certName}-key.pem`);
      const csrFile = join(dir, `${certName}.csr`);
      const certFile = join(dir, `${certName}.pem`);
      const extFile = join(dir, `${certName}.ext`);
      writeFileSync(
        extFile,
        [
          'basicConstraints=critical,CA:FALSE',
          'keyUsage=critical,digitalSignature,keyEncipherment',
          'extendedKeyUsage=serverAuth',
          `subjectAltName=${sans.join(',')}`,
          '',
        ].join('\n'),
      );
      await runOk('openssl', ['req', '-new', '-newkey', 'rsa:2048', '-nodes', '-subj', `/CN=${certName}`, '-keyout', keyFile, '-out', csrFile]);
      await runOk('openssl', [
        'x509', '-req', '-in', csrFile, '-CA', caFile, '-CAkey', caKeyFile, '-CAcreateserial',
        '-days', '2', '-sha256', '-extfile', extFile, '-out', certFile,
      ]);
      return { certFile, keyFile };
    },
  };
}
