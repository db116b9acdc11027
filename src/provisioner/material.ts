/**
 * A cluster's own PKI and join material, made once at create time: the cluster CA (kubeadm uses it
 * instead of generating one, so kaas can pin it and issue its own short-lived certificates), the
 * etcd CA (likewise, so kaas can talk to etcd to manage its members), the front-proxy CA and
 * service-account key (so kaas holds every secret a master joining later needs), the
 * kubeadm bootstrap token, certificate key and CA pin, and the token-webhook kubeconfig masters read.
 * Stored only sealed (secretbox.ts); handed to nodes through their user data.
 */
import {
  createHash,
  createHmac,
  generateKeyPairSync,
  randomInt,
  randomBytes,
  X509Certificate,
} from 'node:crypto';
import { stringify } from 'yaml';
import { webhookKubeconfigYaml } from '../auth/kubeconfig.ts';
import { createCa, type KeyPair } from '../auth/pki.ts';
import type { JoinMaterial } from './bootstrap.ts';

/** Everything secret about one cluster (sealed as one JSON document in cluster_secrets). */
export interface ClusterMaterial {
  ca: KeyPair;
  /**
   * The etcd CA master-0's kubeadm init uses, so kaas can sign short-lived etcd client certificates
   * and manage members itself (etcd.ts). Absent in clusters created before kaas made it.
   */
  etcdCa?: KeyPair;
  /**
   * The front-proxy CA and service-account signing key master-0's kubeadm init uses, so kaas holds
   * every shared control-plane secret a later master needs. Absent in older clusters.
   */
  frontProxyCa?: KeyPair;
  serviceAccountKey?: { publicKeyPem: string; keyPem: string };
  /** kubeadm bootstrap token `[a-z0-9]{6}.[a-z0-9]{16}`. */
  token: string;
  /** `sha256:<hex>` of the CA's SubjectPublicKeyInfo (kubeadm's discovery-token-ca-cert-hash). */
  caCertHash: string;
  /** 64 hex: encrypts the control-plane certificates kubeadm uploads for joining masters. */
  certificateKey: string;
  /**
   * The one-year `system:masters` certificate of clusters created before kaas had its own identity
   * (identity.ts): their next job binds that identity with it, then deletes it. New clusters store none.
   */
  admin?: KeyPair;
  /** The kubeconfig kube-apiserver reads for the TokenReview webhook. */
  webhookKubeconfig: string;
  /**
   * The cluster's own OpenStack identity (steps/credential.ts), made by its create job. Absent in
   * clusters created before kaas made one, and until create's credential step ran.
   */
  credential?: ClusterCredential;
  /** During a rotation: the credential being replaced, deleted once the cluster runs on the new one. */
  retiredCredential?: ClusterCredential;
  /** cluster-autoscaler's client certificate for kaas's externalgrpc server (issued on first use). */
  autoscaler?: KeyPair;
}

/** A Keystone application credential kaas made for one cluster; `secret` is shown by Keystone once. */
export interface ClusterCredential {
  id: string;
  name: string;
  secret: string;
  /** kaas's service user, who owns it (Keystone lets only the owner delete it). */
  userId: string;
  projectId: string;
  /** The roles it carries on `projectId` (steps/credential.ts says which and why). */
  roles: string[];
}

/**
 * Where the cluster's API server reaches kaas' TokenReview webhook, and the CA of kaas'
 * certificate (none for plain http to a kaas on the same machine, as `kaas dev` serves).
 */
export interface WebhookTarget {
  kaasUrl: string;
  caPem?: string;
}

const ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789';
const pick = (n: number) => Array.from({ length: n }, () => ALPHABET[randomInt(ALPHABET.length)]).join('');

/**
 * The kubeadm bootstrap token of job `jobId`: the nodes that job adds join with it, and its
 * join-token step registers it with that step's lifetime. Derived from the cluster CA's key, so a
 * resumed job renders the same token and nothing new is stored.
 */
export function jobJoinToken(material: Pick<ClusterMaterial, 'ca'>, jobId: string): string {
  const digest = createHmac('sha256', material.ca.keyPem).update(`join-token:${jobId}`).digest();
  const chars = [...digest.subarray(0, 22)].map((b) => ALPHABET[b % ALPHABET.length]).join('');
  return `${chars.slice(0, 6)}.${chars.slice(6)}`;
}

/** kubeadm's CA pin: SHA-256 over the DER SubjectPublicKeyInfo of the CA certificate. */
export function caCertHashOf(caPem: string): string {
  const spki = new X509Certificate(caPem).publicKey.export({ type: 'spki', format: 'der' });
  return `sha256:${createHash('sha256').update(spki).digest('hex')}`;
}

/** Makes a cluster's material: cluster, etcd and front-proxy CAs (10 years), service-account key, fresh join secrets. */
export async function generateClusterMaterial(input: {
  clusterId: string;
  clusterName: string;
  webhook: WebhookTarget;
}): Promise<ClusterMaterial> {
  const webhookKubeconfig = webhookKubeconfigYaml({
    kaasUrl: input.webhook.kaasUrl,
    clusterId: input.clusterId,
    caPem: input.webhook.caPem,
  });
  const ca = await createCa({ commonName: `kubernetes-${input.clusterName}` });
  const etcdCa = await createCa({ commonName: `etcd-ca-${input.clusterName}` });
  const frontProxyCa = await createCa({ commonName: `front-proxy-ca-${input.clusterName}` });
  const sa = generateKeyPairSync('ec', {
    namedCurve: 'prime256v1',
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  return {
    ca,
    etcdCa,
    frontProxyCa,
    serviceAccountKey: { publicKeyPem: sa.publicKey, keyPem: sa.privateKey },
    token: `${pick(6)}.${pick(16)}`,
    caCertHash: caCertHashOf(ca.certPem),
    certificateKey: randomBytes(32).toString('hex'),
    webhookKubeconfig,
  };
}

/** What the bootstrap renderer needs from the material. */
export function joinMaterialOf(m: ClusterMaterial): JoinMaterial {
  return {
    join: { token: m.token, caCertHash: m.caCertHash, certificateKey: m.certificateKey },
    webhook: { kubeconfig: m.webhookKubeconfig },
    clusterCa: m.ca,
    ...(m.etcdCa ? { etcdCa: m.etcdCa } : {}),
    ...(m.frontProxyCa ? { frontProxyCa: m.frontProxyCa } : {}),
    ...(m.serviceAccountKey ? { serviceAccountKey: m.serviceAccountKey } : {}),
  };
}

/** The break-glass admin kubeconfig (client certificate `cert`, no token): for the operator only. */
export function adminKubeconfigYaml(input: {
  clusterName: string;
  server: string;
  caPem: string;
  cert: KeyPair;
}): string {
  const b64 = (s: string) => Buffer.from(s).toString('base64');
  const user = `${input.clusterName}-break-glass`;
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [
      {
        name: input.clusterName,
        cluster: { server: input.server, 'certificate-authority-data': b64(input.caPem) },
      },
    ],
    users: [
      {
        name: user,
        user: {
          'client-certificate-data': b64(input.cert.certPem),
          'client-key-data': b64(input.cert.keyPem),
        },
      },
    ],
    contexts: [{ name: user, context: { cluster: input.clusterName, user } }],
    'current-context': user,
  });
}
