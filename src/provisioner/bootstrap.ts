/**
 * Adapts src/bootstrap's renderers to the provisioner: picks cloud-init or Ignition from the spec
 * and adds the cluster's join material, CA and token-webhook kubeconfig (the provisioner's stored
 * material), which the node fetches with its enrollment (enrollment.ts) rather than reads from user data.
 */
import { renderCloudConfig } from '../bootstrap/cloudinit.ts';
import { renderIgnition } from '../bootstrap/ignition.ts';
import type { BootstrapInput } from '../bootstrap/input.ts';
import { firstBootContent } from '../bootstrap/node.ts';
import { bootstrapFormatFor } from '../cluster/spec.ts';
import { enrollmentTarget, newEnrollmentCredential, type SaveEnrollment } from './enrollment.ts';
import type { NodeBootstrap, RenderUserData } from './steps/context.ts';

/** Secrets every node of a cluster joins with (kubeadm token, CA pin, certificate key, webhook). */
export interface JoinMaterial {
  join: BootstrapInput['join'];
  webhook: NonNullable<BootstrapInput['webhook']>;
  sshAuthorizedKeys?: readonly string[];
  /** The cluster CA, written on the first master only. */
  clusterCa?: NonNullable<BootstrapInput['clusterCa']>;
  /** The etcd CA, written on the first master only. */
  etcdCa?: NonNullable<BootstrapInput['etcdCa']>;
  /** The front-proxy CA and service-account key, written on the first master only. */
  frontProxyCa?: NonNullable<BootstrapInput['frontProxyCa']>;
  serviceAccountKey?: NonNullable<BootstrapInput['serviceAccountKey']>;
}

/** The bootstrap input of one node: what the provisioner knows of it plus the cluster's material. */
export function bootstrapInputFor(node: NodeBootstrap, m: JoinMaterial): BootstrapInput {
  return {
    spec: node.spec,
    role: node.role,
    nodeName: node.nodeName,
    labels: node.labels,
    controlPlaneEndpoint: node.controlPlaneEndpoint,
    release: node.release,
    join: m.join,
    ...(node.role === 'worker' ? {} : { webhook: m.webhook }),
    ...(node.role !== 'worker' && node.certSANs ? { certSANs: node.certSANs } : {}),
    ...(node.role === 'init' && m.clusterCa ? { clusterCa: m.clusterCa } : {}),
    ...(node.role === 'init' && m.etcdCa ? { etcdCa: m.etcdCa } : {}),
    ...(node.role === 'init' && m.frontProxyCa ? { frontProxyCa: m.frontProxyCa } : {}),
    ...(node.role === 'init' && m.serviceAccountKey ? { serviceAccountKey: m.serviceAccountKey } : {}),
    ...(m.sshAuthorizedKeys ? { sshAuthorizedKeys: m.sshAuthorizedKeys } : {}),
  };
}

/**
 * A RenderUserData that renders real cloud-config / Ignition with `material(clusterId)`: each node
 * gets a fresh enrollment, saved with `save` before its user data is handed out, which carries
 * only the enrollment's credential where the join secrets and keys would be.
 */
export function bootstrapRenderer(
  material: (clusterId: string) => JoinMaterial,
  save: SaveEnrollment,
): RenderUserData {
  return async (node) => {
    const m = material(node.clusterId);
    const credential = newEnrollmentCredential();
    const input = {
      ...bootstrapInputFor(node, m),
      enrollment: { ...enrollmentTarget(m.webhook.kubeconfig), credential },
    };
    const userData =
      bootstrapFormatFor(node.spec.os) === 'ignition' ? renderIgnition(input) : renderCloudConfig(input);
    const { enrolled } = firstBootContent(input);
    await save({ clusterId: node.clusterId, nodeName: node.nodeName, credential, files: enrolled });
    return userData;
  };
}
