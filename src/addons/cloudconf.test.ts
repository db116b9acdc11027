import { describe, expect, it } from 'vitest';
import { defaultContext } from '../../test/addons/default-context.ts';
import {
  CLOUD_CA_KEY,
  CLOUD_CONFIG_DIR,
  CREDENTIAL_ANNOTATION,
  cloudConf,
  cloudConfigSecretData,
} from './cloudconf.ts';
import { ADDON_NAMES, renderAddons } from './index.ts';
import { CLOUD_CONFIG_SECRET } from './storage.ts';

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

describe('a cloud with a private CA', () => {
  const CA = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';

  it('puts the CA in the Secret beside cloud.conf, whose ca-file names it where the pods mount the Secret', () => {
    const data = cloudConfigSecretData({ ...input, caPem: CA });
    expect(Object.keys(data).sort()).toEqual([CLOUD_CA_KEY, 'cloud.conf'].sort());
    expect(data[CLOUD_CA_KEY]).toBe(CA);
    expect(data['cloud.conf']).toContain(`ca-file = "${CLOUD_CONFIG_DIR}/${CLOUD_CA_KEY}"`);
    // Without one, the Secret is cloud.conf alone and trusts the system CAs.
    expect(cloudConfigSecretData(input)).toEqual({ 'cloud.conf': cloudConf(input) });
  });

  it('every container reading cloud.conf mounts the whole Secret at the directory ca-file points into', () => {
    interface Container {
      name: string;
      args?: string[];
      volumeMounts?: { name: string; mountPath: string }[];
    }
    interface PodSpec {
      containers: Container[];
      volumes?: { name: string; secret?: { secretName: string; items?: unknown } }[];
    }
    const readers = renderAddons(defaultContext(), ADDON_NAMES)
      .flatMap((a) => a.objects)
      .filter((o) => ['Deployment', 'DaemonSet', 'StatefulSet'].includes(o.kind))
      .flatMap((o) => {
        const pod = (o as unknown as { spec: { template: { spec: PodSpec } } }).spec.template.spec;
        return pod.containers
          .filter((c) => c.args?.some((a) => a.startsWith('--cloud-config=')))
          .map((c) => ({ workload: o.metadata.name, container: c, pod }));
      });
    expect(readers.map((r) => r.workload).sort()).toEqual([
      'csi-cinder-controller',
      'csi-cinder-node',
      'openstack-cloud-controller-manager',
    ]);
    for (const { workload, container, pod } of readers) {
      expect(container.args, workload).toContain(`--cloud-config=${CLOUD_CONFIG_DIR}/cloud.conf`);
      const mount = container.volumeMounts?.find((m) => m.mountPath === CLOUD_CONFIG_DIR);
      const volume = pod.volumes?.find((v) => v.name === mount?.name);
      // All keys (no `items` list), so ca.pem is there beside cloud.conf.
      expect(volume?.secret, workload).toEqual({ secretName: CLOUD_CONFIG_SECRET });
    }
  });
});
