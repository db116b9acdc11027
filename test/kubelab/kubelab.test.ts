import { Agent, fetch } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCa } from '../../src/auth/pki.ts';
import { WEBHOOK_KUBECONFIG_PATH } from '../../src/bootstrap/input.ts';
import { AUTHENTICATION_CONFIG_PATH } from '../../src/bootstrap/kubeadm.ts';
import { startKubelab, type Kubelab } from '../../src/dev/kube/kubelab.ts';
import { labCluster } from './support.ts';

let lab: Kubelab;

beforeAll(async () => {
  const kaasCa = await createCa({ commonName: 'kaas-test' });
  const { master0 } = await labCluster({ kaasUrl: 'https://127.0.0.1:1', kaasCaPem: kaasCa.certPem });
  lab = await startKubelab({ master0 });
}, 120_000);

afterAll(async () => {
  await lab?.stop();
});

interface Item {
  metadata: { name: string };
  status?: Record<string, unknown>;
  spec?: Record<string, unknown>;
}

describe('kubelab', () => {
  it('runs kube-apiserver with the webhook and anonymous settings kubeadm derived from kaas config', () => {
    const flag = (name: string) => lab.apiServerArgs.find((f) => f.startsWith(`--${name}=`))?.split('=')[1];
    expect(flag('authentication-token-webhook-config-file')).toBe(
      WEBHOOK_KUBECONFIG_PATH.replace('/etc/kubernetes', lab.dir),
    );
    expect(flag('authentication-token-webhook-version')).toBe('v1');
    expect(flag('authentication-config')).toBe(
      AUTHENTICATION_CONFIG_PATH.replace('/etc/kubernetes', lab.dir),
    );
    expect(flag('authorization-mode')).toBe('Node,RBAC');
    expect(flag('bind-address')).toBe('127.0.0.1');
  });

  it('answers anonymous /readyz and cluster-info, refuses anonymous reads elsewhere', async () => {
    const anonymous = new Agent({ connect: { ca: lab.caPem } });
    const status = async (path: string) =>
      (await fetch(`${lab.url}${path}`, { dispatcher: anonymous })).status;
    expect(await status('/readyz')).toBe(200);
    expect(await status('/livez')).toBe(200);
    expect(await status('/api/v1/namespaces')).toBe(401);
    expect(await status('/version')).toBe(401);
    await anonymous.close();
  });

  it('kwok keeps a registered node Ready, the scheduler binds pods and they run', async () => {
    await lab.addNode('kaas-lab-default-0', { kubeletVersion: '1.37.2' });
    await lab.waitFor('node Ready', async () => {
      const { body } = await lab.request('GET', '/api/v1/nodes/kaas-lab-default-0');
      const conditions = ((body as Item).status?.['conditions'] ?? []) as { type: string; status: string }[];
      return conditions.some((c) => c.type === 'Ready' && c.status === 'True');
    });
    await lab.kubectl(['create', 'deployment', 'web', '--image=registry.invalid/web:1', '--replicas=2']);
    await lab.waitFor(
      'two Running pods',
      async () => {
        const { body } = await lab.request('GET', '/api/v1/namespaces/default/pods?labelSelector=app%3Dweb');
        const pods = (body as { items: Item[] }).items;
        return pods.length === 2 && pods.every((p) => p.status?.['phase'] === 'Running');
      },
      60_000,
    );
    await lab.kubectl(['create', 'poddisruptionbudget', 'web', '--selector=app=web', '--min-available=2']);
    await lab.waitFor('PDB status from the disruption controller', async () => {
      const { body } = await lab.request(
        'GET',
        '/apis/policy/v1/namespaces/default/poddisruptionbudgets/web',
      );
      const status = (body as Item).status ?? {};
      return status['currentHealthy'] === 2 && status['disruptionsAllowed'] === 0;
    });
  }, 120_000);
});
