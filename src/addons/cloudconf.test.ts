import { describe, expect, it } from 'vitest';
import { defaultContext } from '../../test/addons/default-context.ts';
import { CREDENTIAL_ANNOTATION, cloudConf } from './cloudconf.ts';
import { ADDON_NAMES, renderAddons } from './index.ts';

const input = {
  authUrl: 'https://keystone.example:5000/v3',
  region: 'RegionOne',
  applicationCredentialId: 'ac1',
  applicationCredentialSecret: 's"e\\cret',
  floatingNetworkId: 'ext-net-id',
  subnetId: 'subnet-id',
};

describe('cloudConf', () => {
  it('renders the Global, LoadBalancer and BlockStorage sections with quoted, escaped values', () => {
    const text = cloudConf(input);
    expect(text).toContain('[Global]\nauth-url = "https://keystone.example:5000/v3"\n');
    expect(text).toContain('application-credential-secret = "s\\"e\\\\cret"');
    expect(text).toContain('[LoadBalancer]\nfloating-network-id = "ext-net-id"\nsubnet-id = "subnet-id"');
    expect(text).not.toContain('ca-file');
    expect(cloudConf({ ...input, caFile: '/etc/ssl/ca.pem' })).toContain('ca-file = "/etc/ssl/ca.pem"');
  });

  it('refuses a value with a line break (it would inject a key)', () => {
    expect(() => cloudConf({ ...input, region: 'r\n[Global]' })).toThrow(/cannot span lines/);
  });

  it('renders no floating-network-id without an external network (no password key ever)', () => {
    const { floatingNetworkId: _none, ...internal } = input;
    const text = cloudConf(internal);
    expect(text).not.toContain('floating-network-id');
    expect(text).not.toMatch(/password|username/);
  });
});

describe('the pods reading the cloud credential', () => {
  /** Workload name → its pod template's credential annotation, for every workload rendered. */
  const annotated = (cloudCredentialId?: string) =>
    Object.fromEntries(
      renderAddons(defaultContext(cloudCredentialId ? { cloudCredentialId } : {}), ADDON_NAMES)
        .flatMap((a) => a.objects)
        .filter((o) => ['Deployment', 'DaemonSet', 'StatefulSet'].includes(o.kind))
        .map((o) => {
          type Templated = { spec: { template: { metadata?: { annotations?: Record<string, string> } } } };
          const template = (o as unknown as Templated).spec.template;
          return [o.metadata.name, template.metadata?.annotations?.[CREDENTIAL_ANNOTATION]];
        })
        .filter(([, id]) => id !== undefined),
    );

  it('carry its id, so a new credential restarts exactly them; without one (operator Secrets) none does', () => {
    expect(annotated('ac-2')).toEqual({
      'openstack-cloud-controller-manager': 'ac-2',
      'csi-cinder-controller': 'ac-2',
      'csi-cinder-node': 'ac-2',
      'harbor-registry': 'ac-2',
      velero: 'ac-2',
    });
    expect(annotated()).toEqual({});
  });
});
