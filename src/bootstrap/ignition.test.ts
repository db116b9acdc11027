import { describe, expect, it } from 'vitest';
import { bootstrapInput } from '../../test/bootstrap/fixtures.ts';
import { IGNITION_VERSION, renderIgnition } from './ignition.ts';

interface IgnFile {
  path: string;
  mode: number;
  overwrite: boolean;
  contents: { source: string };
}

function decode(source: string): string {
  const prefix = 'data:;base64,';
  expect(source.startsWith(prefix)).toBe(true);
  return Buffer.from(source.slice(prefix.length), 'base64').toString('utf8');
}

describe('renderIgnition', () => {
  it('renders Ignition 3.3.0 with files as data URLs and decimal modes', () => {
    const input = bootstrapInput('init', 'flatcar');
    const config = JSON.parse(renderIgnition(input));
    expect(config.ignition.version).toBe(IGNITION_VERSION);
    expect(config.passwd.users).toEqual([{ name: 'core', sshAuthorizedKeys: input.sshAuthorizedKeys }]);
    const files = config.storage.files as IgnFile[];
    const script = files.find((f) => f.path === '/var/lib/kaas/bootstrap.sh')!;
    expect(script.mode).toBe(448);
    expect(files.find((f) => f.path === '/var/lib/kaas/enrollment')!.mode).toBe(384);
    expect(files.some((f) => f.path === '/var/lib/kaas/kubeadm.yaml')).toBe(false);
    const text = decode(script.contents.source);
    expect(text).toContain(`BIN_DIR='/opt/bin'`);
    expect(text).not.toContain('containerd config default');
    expect(text).toContain('kubeadm init');
    expect(
      decode(files.find((f) => f.path === '/etc/systemd/system/kubelet.service')!.contents.source),
    ).toContain('ExecStart=/opt/bin/kubelet');
    expect(files.some((f) => f.path === '/etc/kubernetes/kaas/authentication-config.yaml')).toBe(true);
  });

  it('enables containerd and a oneshot bootstrap unit that runs once', () => {
    const config = JSON.parse(renderIgnition(bootstrapInput('worker', 'flatcar')));
    expect(config.systemd.units[0]).toEqual({ name: 'containerd.service', enabled: true });
    const unit = config.systemd.units[1];
    expect(unit.name).toBe('kaas-bootstrap.service');
    expect(unit.enabled).toBe(true);
    expect(unit.contents).toContain('Type=oneshot');
    expect(unit.contents).toContain('ExecStart=/var/lib/kaas/bootstrap.sh');
    expect(unit.contents).toContain('ConditionPathExists=!/var/lib/kaas/bootstrap.done');
  });

  it('gives core no keys when none are given', () => {
    const input = { ...bootstrapInput('worker', 'flatcar'), sshAuthorizedKeys: undefined };
    expect(JSON.parse(renderIgnition(input)).passwd.users).toEqual([{ name: 'core', sshAuthorizedKeys: [] }]);
  });

  it('refuses cloud-init images', () => {
    expect(() => renderIgnition(bootstrapInput('worker', 'ubuntu'))).toThrow(
      expect.objectContaining({
        field: 'spec.os',
        message: 'os ubuntu boots with cloud-init; use renderCloudConfig',
      }),
    );
  });

  it('is deterministic and pinned by snapshots', () => {
    const master = renderIgnition(bootstrapInput('init', 'flatcar'));
    expect(renderIgnition(bootstrapInput('init', 'flatcar'))).toBe(master);
    expect(master).toMatchSnapshot('master');
    expect(renderIgnition(bootstrapInput('worker', 'flatcar'))).toMatchSnapshot('worker');
  });
});
