import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { InputError, UpstreamError } from '../errors.ts';

const run = promisify(execFile);

/** A certificate and its private key, PEM. The key is secret. */
export interface KeyPair {
  certPem: string;
  keyPem: string;
}

/**
 * X.509 is delegated to Debian's `openssl` CLI (always present where kaas runs, maintained by the
 * distribution) instead of a JavaScript ASN.1 stack: fewer dependencies, well-reviewed code.
 */
async function openssl(args: string[], cwd: string): Promise<void> {
  try {
    await run('openssl', args, { cwd });
  } catch (error) {
    throw new UpstreamError(
      `openssl ${args[0]} failed: ${(error as { stderr?: string }).stderr ?? String(error)}`,
      {
        code: 'openssl_failed',
        cause: error,
      },
    );
  }
}

async function inTempDir<T>(work: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'kaas-pki-'));
  try {
    return await work(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** openssl req arguments for a fresh, unencrypted EC P-256 key (written where `-keyout` says). */
const NEW_KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];

/** The certificate and key openssl wrote as `<name>.crt` and `<name>.key` in `dir`. */
async function readKeyPair(dir: string, name: string): Promise<KeyPair> {
  return {
    certPem: await readFile(join(dir, `${name}.crt`), 'utf8'),
    keyPem: await readFile(join(dir, `${name}.key`), 'utf8'),
  };
}

function checkDays(days: number): void {
  if (!Number.isInteger(days) || days < 1 || days > 3650)
    throw new InputError('days must be 1..3650', { field: 'days' });
}

/** Creates a self-signed CA (EC P-256) whose certificate goes into kube-apiserver's webhook kubeconfig. */
export async function createCa(input: { commonName: string; days?: number }): Promise<KeyPair> {
  const days = input.days ?? 3650;
  checkDays(days);
  return inTempDir(async (dir) => {
    await openssl(
      [
        'req',
        '-x509',
        '-new',
        ...NEW_KEY,
        '-keyout',
        'ca.key',
        '-out',
        'ca.crt',
        '-days',
        String(days),
        '-subj',
        `/CN=${input.commonName.replace(/[/=]/g, '_')}`,
        '-addext',
        'basicConstraints=critical,CA:TRUE,pathlen:0',
        '-addext',
        'keyUsage=critical,keyCertSign,cRLSign',
      ],
      dir,
    );
    return readKeyPair(dir, 'ca');
  });
}

/**
 * Issues a TLS server certificate for kaas signed by the CA, valid for the given DNS names and IPs.
 * `clientAuth` adds that usage too, for servers that also dial their peers or themselves with the
 * same certificate (etcd members, as kubeadm issues theirs).
 */
export async function issueServerCert(input: {
  ca: KeyPair;
  hosts: string[];
  days?: number;
  clientAuth?: boolean;
}): Promise<KeyPair> {
  const days = input.days ?? 825;
  checkDays(days);
  if (input.hosts.length === 0)
    throw new InputError('at least one host name or IP is required', { field: 'hosts' });
  for (const h of input.hosts) {
    if (!isIP(h) && !/^[A-Za-z0-9*]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$/.test(h)) {
      throw new InputError(`"${h}" is not a host name or IP address`, { field: 'hosts' });
    }
  }
  const san = input.hosts.map((h) => (isIP(h) ? `IP:${h}` : `DNS:${h}`)).join(',');
  return signLeaf({
    ca: input.ca,
    subject: `/CN=${input.hosts[0]}`,
    extensions: `keyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth${input.clientAuth ? ',clientAuth' : ''}\nsubjectAltName=${san}\n`,
    days,
  });
}

/**
 * Issues a client certificate (clientAuth) signed by `ca`; Kubernetes reads the user from CN and
 * the groups from O (e.g. the break-glass admin in `system:masters`).
 */
export async function issueClientCert(input: {
  ca: KeyPair;
  commonName: string;
  organization: string;
  days: number;
}): Promise<KeyPair> {
  checkDays(input.days);
  const safe = (v: string) => v.replace(/[/=]/g, '_');
  return signLeaf({
    ca: input.ca,
    subject: `/O=${safe(input.organization)}/CN=${safe(input.commonName)}`,
    extensions: 'keyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n',
    days: input.days,
  });
}

/** A fresh EC P-256 key and a certificate for it signed by `ca`, with the given extensions. */
async function signLeaf(input: {
  ca: KeyPair;
  subject: string;
  extensions: string;
  days: number;
}): Promise<KeyPair> {
  return inTempDir(async (dir) => {
    await writeFile(join(dir, 'ca.crt'), input.ca.certPem);
    await writeFile(join(dir, 'ca.key'), input.ca.keyPem, { mode: 0o600 });
    await writeFile(join(dir, 'ext.cnf'), `basicConstraints=critical,CA:FALSE\n${input.extensions}`);
    await openssl(
      ['req', '-new', ...NEW_KEY, '-keyout', 'leaf.key', '-out', 'leaf.csr', '-subj', input.subject],
      dir,
    );
    await openssl(
      ['x509', '-req', '-in', 'leaf.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial'].concat([
        '-out',
        'leaf.crt',
        '-days',
        String(input.days),
        '-sha256',
        '-extfile',
        'ext.cnf',
      ]),
      dir,
    );
    return readKeyPair(dir, 'leaf');
  });
}
