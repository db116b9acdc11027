/**
 * The `kubeadm-certs` Secret kubeadm's `init --upload-certs` writes, rendered by kaas from the
 * cluster's own material: the shared control-plane certificates and keys, each AES-256-GCM
 * encrypted with the cluster's certificate key (nonce, then ciphertext and tag, as kubeadm's
 * cryptoutil seals them), with the Role and RoleBinding that let bootstrap-token holders read it.
 * kubeadm's own upload expires after two hours; kaas can render it again whenever a master is to
 * join later, because it holds every one of those secrets (material.ts).
 */
import { createCipheriv, createHmac, randomBytes } from 'node:crypto';
import { InputError } from '../errors.ts';
import type { ClusterMaterial } from './material.ts';

/** The Secret's name and namespace, and the group kubeadm's node bootstrap tokens authenticate as. */
export const KUBEADM_CERTS = {
  name: 'kubeadm-certs',
  namespace: 'kube-system',
  role: 'kubeadm:kubeadm-certs',
  bootstrappers: 'system:bootstrappers:kubeadm:default-node-token',
} as const;

/**
 * The certificate key of one upgrade job. Fresh per job, so the key in the create-time masters'
 * user data never opens a later upload; the same on every run of the job, so a resumed job's
 * replacement masters open the Secret an earlier run uploaded. Derived from the cluster CA's key,
 * which the Secret carries anyway, so nothing new has to be stored.
 */
export function jobCertificateKey(material: Pick<ClusterMaterial, 'ca'>, jobId: string): string {
  return createHmac('sha256', material.ca.keyPem).update(`kubeadm-certs:${jobId}`).digest('hex');
}

/** AES-256-GCM as kubeadm's cryptoutil.EncryptBytes: 12-byte nonce || ciphertext || 16-byte tag. */
export function sealForKubeadm(data: string, keyHex: string): Buffer {
  const key = Buffer.from(keyHex, 'hex');
  if (key.length !== 32 || !/^[0-9a-f]{64}$/i.test(keyHex)) {
    throw new InputError('the certificate key must be 64 hex digits (32 bytes)', {
      code: 'invalid_certificate_key',
    });
  }
  const nonce = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, nonce);
  const sealed = Buffer.concat([cipher.update(data), cipher.final()]);
  return Buffer.concat([nonce, sealed, cipher.getAuthTag()]);
}

/**
 * The Secret, Role and RoleBinding, in the order to apply them. Refused (`control_plane_certs_missing`)
 * for a cluster created before kaas held the front-proxy CA, service-account key and etcd CA.
 */
export function kubeadmCertsObjects(
  material: Pick<ClusterMaterial, 'ca' | 'etcdCa' | 'frontProxyCa' | 'serviceAccountKey' | 'certificateKey'>,
): Record<string, unknown>[] {
  const { etcdCa, frontProxyCa, serviceAccountKey } = material;
  if (!etcdCa || !frontProxyCa || !serviceAccountKey) {
    throw new InputError(
      'this cluster was created before kaas held its etcd CA, front-proxy CA and service-account key, so kaas cannot hand them to a new master',
      { code: 'control_plane_certs_missing' },
    );
  }
  // Keys as kubeadm names them: the file path under the certificate directory, '/' as '-'.
  const files: [string, string][] = [
    ['ca.crt', material.ca.certPem],
    ['ca.key', material.ca.keyPem],
    ['front-proxy-ca.crt', frontProxyCa.certPem],
    ['front-proxy-ca.key', frontProxyCa.keyPem],
    ['sa.pub', serviceAccountKey.publicKeyPem],
    ['sa.key', serviceAccountKey.keyPem],
    ['etcd-ca.crt', etcdCa.certPem],
    ['etcd-ca.key', etcdCa.keyPem],
  ];
  const meta = { name: KUBEADM_CERTS.name, namespace: KUBEADM_CERTS.namespace };
  return [
    {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: meta,
      type: 'Opaque',
      data: Object.fromEntries(
        files.map(([name, pem]) => [name, sealForKubeadm(pem, material.certificateKey).toString('base64')]),
      ),
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'Role',
      metadata: { name: KUBEADM_CERTS.role, namespace: KUBEADM_CERTS.namespace },
      rules: [
        { apiGroups: [''], resources: ['secrets'], resourceNames: [KUBEADM_CERTS.name], verbs: ['get'] },
      ],
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata: { name: KUBEADM_CERTS.role, namespace: KUBEADM_CERTS.namespace },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: KUBEADM_CERTS.role },
      subjects: [{ kind: 'Group', name: KUBEADM_CERTS.bootstrappers }],
    },
  ];
}
