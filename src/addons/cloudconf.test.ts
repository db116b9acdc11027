import { describe, expect, it } from 'vitest';
import { cloudConf } from './cloudconf.ts';

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
});
