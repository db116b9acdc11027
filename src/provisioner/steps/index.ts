/** Maps a plan step (kind + resource type) to the executor that carries it out. */
import type { PlanStep } from '../../cluster/plan.ts';
import { InputError } from '../../errors.ts';
import { applyManagedServices } from './addons.ts';
import { ensureContainer, ensureReleaseTarball, verifyRelease } from './artifacts.ts';
import { deleteServer, ensureKeypair, ensureMaster, ensureServerGroup, ensureWorkers } from './compute.ts';
import type { ExecDeps } from './context.ts';
import { credentialStep } from './credential.ts';
import {
  deleteKubeadmCerts,
  deleteLbMember,
  deletePort,
  removeEtcdMember,
  updateKubeadmAddons,
  updateKubeadmConfig,
  uploadKubeadmCerts,
  verifyExisting,
  waitEtcdMember,
} from './controlplane.ts';
import { deleteNodeObject, drainNode, joinToken, kubeconfigEndpoint, waitApi, waitNodes } from './kube.ts';
import { deleteKubeObjects } from './kubecleanup.ts';
import { ensureLbMember, ensureLoadBalancer } from './loadbalancer.ts';
import {
  ensureFloatingIp,
  ensureNetwork,
  ensurePort,
  ensureRouter,
  ensureSecurityGroup,
  ensureSecurityRules,
  ensureSubnet,
} from './network.ts';
import { deleteNamed, sweep } from './sweep.ts';

/** Runs one plan step; its return value is the step's checkpointed output. */
export async function runPlanStep(deps: ExecDeps, step: PlanStep): Promise<unknown> {
  const r = step.resource;
  if (step.kind === 'sweep' && r.type === 'cluster-resources') return sweep(deps, r);
  if (r.type === 'credential') return credentialStep(deps, r);
  if (step.kind === 'delete') {
    if (r.type === 'kube-objects') return deleteKubeObjects(deps, r);
    if (r.type === 'server') return deleteServer(deps, r);
    if (r.type === 'keypair' || r.type === 'server-group' || r.type === 'container')
      return deleteNamed(deps, r);
    if (r.type === 'lb-member') return deleteLbMember(deps, r);
    if (r.type === 'port') return deletePort(deps, r);
    if (r.type === 'etcd-member') return removeEtcdMember(deps, r);
    if (r.type === 'kubeadm-certs') return deleteKubeadmCerts(deps, r);
    throw new InputError(`no executor for delete ${r.type} (step ${step.id})`, { code: 'invalid_plan' });
  }
  // An upgrade finds the cluster's shared resources as they are; it never re-creates them.
  if (
    step.kind === 'verify' &&
    (r.type === 'network' || r.type === 'subnet' || r.type === 'load-balancer' || r.type === 'server-group')
  )
    return verifyExisting(deps, r);
  switch (r.type) {
    case 'network':
      return ensureNetwork(deps, r);
    case 'subnet':
      return ensureSubnet(deps, r);
    case 'router':
      return ensureRouter(deps, r);
    case 'security-group':
      return ensureSecurityGroup(deps, r);
    case 'security-group-rules':
      return ensureSecurityRules(deps, r);
    case 'port':
      return ensurePort(deps, r);
    case 'floating-ip':
      return ensureFloatingIp(deps, r);
    case 'keypair':
      return ensureKeypair(deps, r, step.kind === 'verify');
    case 'container':
      return ensureContainer(deps, r);
    case 'release':
      return verifyRelease(deps, r);
    case 'release-tarball':
      return ensureReleaseTarball(deps, r);
    case 'server-group':
      return ensureServerGroup(deps, r);
    case 'load-balancer':
      return ensureLoadBalancer(deps, r);
    case 'lb-member':
      return ensureLbMember(deps, step.id, r);
    case 'server':
      return ensureMaster(deps, step.id, r);
    case 'servers':
      return ensureWorkers(deps, r);
    case 'api':
      return waitApi(deps, r);
    case 'nodes':
      return waitNodes(deps, r);
    case 'kubeconfig':
      return kubeconfigEndpoint(deps, r);
    case 'join-token':
      return joinToken(deps, r);
    case 'node-drain':
      return drainNode(deps, r);
    case 'node-object':
      return deleteNodeObject(deps, r);
    case 'addons':
      return applyManagedServices(deps, r);
    case 'kubeadm-config':
      return updateKubeadmConfig(deps, r);
    case 'kubeadm-certs':
      return uploadKubeadmCerts(deps, r);
    case 'kubeadm-addons':
      return updateKubeadmAddons(deps, r);
    case 'etcd-member':
      return waitEtcdMember(deps, r);
    default:
      throw new InputError(`no executor for ${step.kind} ${r.type} (step ${step.id})`, {
        code: 'invalid_plan',
      });
  }
}
