import type { INamespace } from 'kubernetes-models/v1/Namespace';
import type { IValidatingAdmissionPolicy } from 'kubernetes-models/admissionregistration.k8s.io/v1/ValidatingAdmissionPolicy';
import type { IValidatingAdmissionPolicyBinding } from 'kubernetes-models/admissionregistration.k8s.io/v1/ValidatingAdmissionPolicyBinding';
import type { ResolvedContext } from './context.ts';
import { KAAS_NAMESPACE, PROTECTED_NAMESPACES } from './names.ts';
import { meta, typed, type KubernetesObject } from './objects.ts';

const ADDON = 'namespaces';

/** Name of the policy (and its binding) guarding the protected namespaces. */
export const PROTECTION_POLICY = 'kaas-protected-namespaces';

/*
 * The protection rule. Tenants get RBAC from their Keystone roles (rbac.ts), and a tenant may well
 * hold cluster-admin; RBAC alone cannot then keep them out of the namespaces that run the managed
 * services. This policy denies every CREATE, UPDATE and DELETE of a namespaced object (subresources
 * such as pods/status or pods/binding are not matched) in kaas-system and kube-system unless the
 * requester is:
 *   - kaas itself (group kaas:cluster-admins, src/provisioner/identity.ts), or in system:masters
 *     (the operator's break-glass kubeconfig);
 *   - a service account of kube-system or kaas-system (the managed controllers, including kaas's);
 *   - a control-plane component that writes there under its own identity: kube-controller-manager,
 *     kube-scheduler, the apiserver, or a kubelet (group system:nodes, mirror pods of static pods).
 * Without the last line the control plane itself would be locked out of kube-system.
 */
const ALLOW_EXPRESSION = [
  "request.userInfo.groups.exists(g, g == 'system:masters' || g == 'system:nodes' || g == 'kaas:cluster-admins')",
  "request.userInfo.username.startsWith('system:serviceaccount:kube-system:')",
  "request.userInfo.username.startsWith('system:serviceaccount:kaas-system:')",
  "request.userInfo.username in ['system:kube-controller-manager', 'system:kube-scheduler', 'system:apiserver']",
].join(' || ');

/** kaas-system plus the admission policy that keeps tenants out of it and out of kube-system. */
export function namespacesAddon(_ctx: ResolvedContext): KubernetesObject[] {
  return [
    typed<INamespace>({
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: {
        ...meta(ADDON, KAAS_NAMESPACE),
        labels: { ...meta(ADDON, KAAS_NAMESPACE).labels, 'kubernetes.io/metadata.name': KAAS_NAMESPACE },
      },
    }),
    typed<IValidatingAdmissionPolicy>({
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: 'ValidatingAdmissionPolicy',
      metadata: meta(ADDON, PROTECTION_POLICY),
      spec: {
        failurePolicy: 'Fail',
        matchConstraints: {
          namespaceSelector: {
            matchExpressions: [
              { key: 'kubernetes.io/metadata.name', operator: 'In', values: [...PROTECTED_NAMESPACES] },
            ],
          },
          resourceRules: [
            {
              apiGroups: ['*'],
              apiVersions: ['*'],
              operations: ['CREATE', 'UPDATE', 'DELETE'],
              resources: ['*'],
              scope: 'Namespaced',
            },
          ],
        },
        validations: [
          {
            expression: ALLOW_EXPRESSION,
            message: 'kaas-system and kube-system are managed by kaas; tenants may not change them',
            reason: 'Forbidden',
          },
        ],
      },
    }),
    typed<IValidatingAdmissionPolicyBinding>({
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: 'ValidatingAdmissionPolicyBinding',
      metadata: meta(ADDON, PROTECTION_POLICY),
      spec: { policyName: PROTECTION_POLICY, validationActions: ['Deny'] },
    }),
  ];
}
