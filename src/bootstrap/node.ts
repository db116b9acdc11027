/**
 * The files and the bootstrap script a node needs, independent of how they are delivered
 * (cloud-init `write_files` + `runcmd`, or Ignition `storage.files` + a oneshot unit).
 */
import { stringify } from 'yaml';
import { InputError } from '../errors.ts';
import type { BootstrapInput } from './input.ts';
import { WEBHOOK_KUBECONFIG_PATH, kubernetesRelease, validateBootstrapInput } from './input.ts';
import { AUTHENTICATION_CONFIG_PATH, NODE_IP_PLACEHOLDER, kubeadmDocuments } from './kubeadm.ts';
import { authenticationConfiguration } from './manifests.ts';

/**
 * One file written at first boot. `mode` is numeric (e.g. 0o600). A `secret` file (join secrets,
 * private keys) never goes into user data: the node fetches it from kaas with its enrollment.
 */
export interface NodeFile {
  readonly path: string;
  readonly content: string;
  readonly mode: number;
  readonly secret?: boolean;
}

/** Delivery-independent node content. */
export interface NodeContent {
  readonly files: readonly NodeFile[];
  /** Path of the executable bootstrap script among `files`. */
  readonly scriptPath: string;
  /** Directory kubeadm, kubelet and kubectl are installed to. */
  readonly binDir: string;
}

/** Working directory for secrets and the release download; not mounted into any pod. */
export const WORK_DIR = '/var/lib/kaas';
/** The bootstrap script every node runs once. */
export const SCRIPT_PATH = `${WORK_DIR}/bootstrap.sh`;
/** Marker written after a successful bootstrap. */
export const DONE_MARKER = `${WORK_DIR}/bootstrap.done`;
/** kubeadm's `--config` file; removed once the node has joined (it holds the join secrets). */
export const KUBEADM_CONFIG_PATH = `${WORK_DIR}/kubeadm.yaml`;
/** The node's enrollment (URL and single-use credential, shell assignments); removed once redeemed. */
export const ENROLLMENT_PATH = `${WORK_DIR}/enrollment`;
/** The CA of kaas's certificate, for the enrollment request. */
export const KAAS_CA_PATH = `${WORK_DIR}/kaas-ca.crt`;
/** The cloud's metadata service, which pods must not reach (it serves the node's user data). */
export const METADATA_ADDRESS = '169.254.169.254';
/** The same over IPv6 (OpenStack's link-local metadata address). */
export const METADATA_ADDRESS_V6 = 'fe80::a9fe:a9fe';
/** The unit that loads the metadata guard at every boot, before the kubelet starts pods. */
export const METADATA_GUARD_UNIT = 'kaas-metadata-guard';
const METADATA_GUARD_RULES = '/etc/kaas/metadata-guard.nft';

/**
 * nftables rules dropping packets for the metadata service that arrive at the node from anywhere but
 * the node itself: pods (on the bridge or the overlay) and other hosts. In a table of its own, so no
 * other table's accept (kube-proxy's, flannel's) can let them through; the node's own requests leave
 * through OUTPUT and are untouched. Reloading replaces the table.
 */
function metadataGuardRules(): string {
  return [
    'table inet kaas_metadata_guard',
    'delete table inet kaas_metadata_guard',
    'table inet kaas_metadata_guard {',
    '  chain prerouting {',
    '    type filter hook prerouting priority raw; policy accept;',
    `    iifname != "lo" ip daddr ${METADATA_ADDRESS} counter drop`,
    `    iifname != "lo" ip6 daddr ${METADATA_ADDRESS_V6} counter drop`,
    '  }',
    '}',
    '',
  ].join('\n');
}

function metadataGuardUnit(): string {
  return [
    '[Unit]',
    'Description=kaas: keep pods off the cloud metadata service',
    'Before=kubelet.service',
    '',
    '[Service]',
    'Type=oneshot',
    'RemainAfterExit=yes',
    `ExecStart=/usr/sbin/nft -f ${METADATA_GUARD_RULES}`,
    '',
    '[Install]',
    'WantedBy=multi-user.target',
    '',
  ].join('\n');
}

/**
 * The script's first step on a node whose user data carries no secrets: redeem the enrollment
 * (one POST; kaas answers once per credential) and write the files it returns, each line
 * `<octal mode> <path> <base64 content>`. A second run finds the kubeadm config already there.
 */
function enrollmentLines(): string[] {
  return [
    `if [ ! -f ${KUBEADM_CONFIG_PATH} ]; then`,
    `  if [ ! -f ${ENROLLMENT_PATH} ]; then`,
    '    echo "kaas: no join material and no enrollment on this node" >&2',
    '    exit 1',
    '  fi',
    `  . ${ENROLLMENT_PATH}`,
    '  CA_ARGS=()',
    `  if [ -f ${KAAS_CA_PATH} ]; then CA_ARGS=(--cacert ${KAAS_CA_PATH}); fi`,
    '  # Connection failures are retried; an answer (even an error) is not: the credential is single-use.',
    '  curl -fsS --retry 10 --retry-delay 5 --retry-connrefused "${CA_ARGS[@]}" -X POST \\',
    '    -H "Authorization: Bearer $ENROLL_CREDENTIAL" -o "$WORK/enrolled" "$ENROLL_URL"',
    '  while read -r mode path data; do',
    '    case "$path" in',
    '      /etc/kubernetes/*|/var/lib/kaas/*) ;;',
    '      *) echo "kaas: the enrollment names a file outside /etc/kubernetes and /var/lib/kaas" >&2; exit 1 ;;',
    '    esac',
    '    mkdir -p "$(dirname "$path")"',
    '    (umask 077 && printf \'%s\' "$data" | base64 -d > "$path")',
    '    chmod "$mode" "$path"',
    '  done < "$WORK/enrolled"',
    '  rm -f "$WORK/enrolled"',
    'fi',
    `rm -f ${ENROLLMENT_PATH}`,
  ];
}

/** The enrollment answer for `files`: a line `<octal mode> <path> <base64 content>` each. */
export function encodeEnrolledFiles(files: readonly NodeFile[]): string {
  return files
    .map((f) => `${f.mode.toString(8)} ${f.path} ${Buffer.from(f.content, 'utf8').toString('base64')}\n`)
    .join('');
}

/** Reads an enrollment answer back into files (what the node's script does). */
export function decodeEnrolledFiles(text: string): NodeFile[] {
  return text
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => {
      const [mode = '', path = '', data = ''] = line.split(' ');
      return {
        path,
        mode: parseInt(mode, 8),
        content: Buffer.from(data, 'base64').toString('utf8'),
        secret: true,
      };
    });
}

/** YAML with stable output: no line folding, keys in insertion order. */
export function toYaml(value: unknown): string {
  return stringify(value, { lineWidth: 0 });
}

function yamlDocuments(docs: readonly unknown[]): string {
  return docs.map((doc) => `---\n${toYaml(doc)}`).join('');
}

function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/** The kubelet's unit: it starts no pod unless the metadata guard is loaded (Requires, After). */
function kubeletUnit(binDir: string): string {
  return [
    '[Unit]',
    'Description=kubelet: The Kubernetes Node Agent',
    'Documentation=https://kubernetes.io/docs/',
    'Wants=network-online.target containerd.service',
    `Requires=${METADATA_GUARD_UNIT}.service`,
    `After=network-online.target containerd.service ${METADATA_GUARD_UNIT}.service`,
    '',
    '[Service]',
    `ExecStart=${binDir}/kubelet`,
    'Restart=always',
    'StartLimitInterval=0',
    'RestartSec=10',
    '',
    '[Install]',
    'WantedBy=multi-user.target',
    '',
  ].join('\n');
}

/** The drop-in kubeadm expects: it writes the flags files this reads. */
function kubeletKubeadmDropIn(binDir: string): string {
  return [
    '[Service]',
    'Environment="KUBELET_KUBECONFIG_ARGS=--bootstrap-kubeconfig=/etc/kubernetes/bootstrap-kubelet.conf --kubeconfig=/etc/kubernetes/kubelet.conf"',
    'Environment="KUBELET_CONFIG_ARGS=--config=/var/lib/kubelet/config.yaml"',
    'EnvironmentFile=-/var/lib/kubelet/kubeadm-flags.env',
    'EnvironmentFile=-/etc/default/kubelet',
    'ExecStart=',
    `ExecStart=${binDir}/kubelet $KUBELET_KUBECONFIG_ARGS $KUBELET_CONFIG_ARGS $KUBELET_KUBEADM_ARGS $KUBELET_EXTRA_ARGS`,
    '',
  ].join('\n');
}

function script(input: BootstrapInput, binDir: string): string {
  const { spec, role } = input;
  const flatcar = spec.os === 'flatcar';
  const lines = [
    '#!/bin/bash',
    `# kaas node bootstrap (${role}). Safe to re-run: it stops once the node has joined.`,
    'set -euo pipefail',
    `BIN_DIR=${shellQuote(binDir)}`,
    `KUBE_VERSION=${shellQuote(spec.kubernetesVersion)}`,
    `RELEASE_URL=${shellQuote(input.release.url)}`,
    `RELEASE_SHA256=${shellQuote(input.release.sha256)}`,
    `OVERLAY_IFACE=${shellQuote(spec.overlayInterface)}`,
    `WORK=${shellQuote(WORK_DIR)}`,
    'export PATH="$BIN_DIR:$PATH"',
    'mkdir -p "$WORK" "$BIN_DIR" /opt/cni/bin /etc/cni/net.d',
    'if [ -f /etc/kubernetes/kubelet.conf ]; then',
    '  echo "kaas: node already bootstrapped"',
    `  touch ${DONE_MARKER}`,
    '  exit 0',
    'fi',
    '# Pods must never read this user data back from the metadata service: guard it before any pod runs.',
    'if ! command -v nft >/dev/null; then',
    '  echo "kaas: nft (nftables) is missing: cannot keep pods off the metadata service" >&2',
    '  exit 1',
    'fi',
    `systemctl enable ${METADATA_GUARD_UNIT}`,
    `systemctl start ${METADATA_GUARD_UNIT}`,
    ...enrollmentLines(),
    'modprobe overlay',
    'modprobe br_netfilter',
    'sysctl --system >/dev/null',
  ];
  if (!flatcar) {
    // Debian/Ubuntu's containerd ships without the systemd cgroup driver the kubelet uses, and
    // with an older pause image than the release's: containerd, not the kubelet, picks the pod
    // sandbox image, so without this every node pulls a second pause image (an air-gapped one
    // cannot) and kubeadm warns of the mismatch. kubeadm names it `<repository>/pause:<tag>`.
    const pause = `${spec.imageRepository ?? 'registry.k8s.io'}/pause:${kubernetesRelease(spec).images.pause}`;
    lines.push(
      'mkdir -p /etc/containerd',
      'containerd config default > /etc/containerd/config.toml',
      "sed -i 's/SystemdCgroup = false/SystemdCgroup = true/' /etc/containerd/config.toml",
      `sed -i 's#sandbox_image = .*#sandbox_image = "${pause}"#' /etc/containerd/config.toml`,
      'systemctl restart containerd',
    );
  }
  lines.push(
    '# flannel delegates to the standard plugins (bridge, portmap, host-local): expose the distro ones.',
    'for dir in /usr/lib/cni /usr/libexec/cni; do',
    '  if [ -d "$dir" ]; then',
    '    for plugin in "$dir"/*; do ln -sf "$plugin" /opt/cni/bin/; done',
    '  fi',
    'done',
    'TARBALL="$WORK/kubernetes-server-linux-amd64.tar.gz"',
    'curl -fsSL --retry 10 --retry-delay 5 --retry-connrefused -o "$TARBALL" "$RELEASE_URL"',
    'echo "$RELEASE_SHA256  $TARBALL" | sha256sum -c -',
    'tar -xzf "$TARBALL" -C "$WORK" kubernetes/server/bin/kubeadm kubernetes/server/bin/kubelet kubernetes/server/bin/kubectl',
    'for bin in kubeadm kubelet kubectl; do install -m 0755 "$WORK/kubernetes/server/bin/$bin" "$BIN_DIR/$bin"; done',
    'rm -rf "$WORK/kubernetes" "$TARBALL"',
    '# The staged release must be the version this node was rendered for (kubeadm refuses skew late).',
    `for got in "$("$BIN_DIR/kubeadm" version -o short)" "$("$BIN_DIR/kubelet" --version | awk '{print $2}')"; do`,
    '  if [ "$got" != "v$KUBE_VERSION" ]; then',
    '    echo "kaas: the staged release is $got, expected v$KUBE_VERSION" >&2',
    '    exit 1',
    '  fi',
    'done',
    `NODE_IP="$(ip -4 -o addr show dev "$OVERLAY_IFACE" scope global | awk '{split($4, a, "/"); print a[1]; exit}')"`,
    'if [ -z "$NODE_IP" ]; then',
    '  echo "kaas: no IPv4 address on $OVERLAY_IFACE" >&2',
    '  exit 1',
    'fi',
    `sed -i "s/${NODE_IP_PLACEHOLDER}/$NODE_IP/g" ${KUBEADM_CONFIG_PATH}`,
    'systemctl daemon-reload',
    'systemctl enable kubelet',
  );
  if (role === 'init') {
    // Nothing is applied from here: flannel and the cluster-admin binding are managed services
    // (src/addons), applied by the provisioner once the API answers; kubeadm needs no CNI to finish.
    lines.push(`kubeadm init --config ${KUBEADM_CONFIG_PATH} --upload-certs`);
  } else {
    lines.push(`kubeadm join --config ${KUBEADM_CONFIG_PATH}`);
  }
  lines.push(
    '# The join token and certificate key are no longer needed on disk.',
    `rm -f ${KUBEADM_CONFIG_PATH}`,
    `touch ${DONE_MARKER}`,
    '',
  );
  return lines.join('\n');
}

/**
 * Validates the input and lays out the node's files: kernel settings, kubelet units, kubeadm
 * config, and on masters the webhook kubeconfig, authentication config and (first master) the
 * cluster CA.
 */
export function nodeContent(input: BootstrapInput): NodeContent {
  validateBootstrapInput(input);
  const { spec, role } = input;
  const binDir = spec.os === 'flatcar' ? '/opt/bin' : '/usr/local/bin';
  const files: NodeFile[] = [
    { path: '/etc/modules-load.d/kaas.conf', content: 'overlay\nbr_netfilter\n', mode: 0o644 },
    {
      path: '/etc/sysctl.d/90-kaas.conf',
      content:
        'net.bridge.bridge-nf-call-iptables = 1\nnet.bridge.bridge-nf-call-ip6tables = 1\nnet.ipv4.ip_forward = 1\n',
      mode: 0o644,
    },
    { path: '/etc/systemd/system/kubelet.service', content: kubeletUnit(binDir), mode: 0o644 },
    {
      path: '/etc/systemd/system/kubelet.service.d/10-kubeadm.conf',
      content: kubeletKubeadmDropIn(binDir),
      mode: 0o644,
    },
    { path: KUBEADM_CONFIG_PATH, content: yamlDocuments(kubeadmDocuments(input)), mode: 0o600, secret: true },
    { path: METADATA_GUARD_RULES, content: metadataGuardRules(), mode: 0o644 },
    { path: `/etc/systemd/system/${METADATA_GUARD_UNIT}.service`, content: metadataGuardUnit(), mode: 0o644 },
  ];
  if (role !== 'worker') {
    const webhook = input.webhook as NonNullable<BootstrapInput['webhook']>;
    files.push({ path: WEBHOOK_KUBECONFIG_PATH, content: webhook.kubeconfig, mode: 0o600 });
    files.push({
      path: AUTHENTICATION_CONFIG_PATH,
      content: toYaml(authenticationConfiguration()),
      mode: 0o644,
    });
  }
  if (role === 'init') {
    // kubeadm init keeps the CAs and keys it finds in its certificate directory instead of making
    // its own: kaas's, so it can pin the cluster CA, sign etcd client certificates and hand every
    // shared secret to masters it boots later. The private halves reach the node by enrollment only.
    const pair = (
      cert: string,
      key: string,
      pems: { certPem?: string; publicKeyPem?: string; keyPem: string },
    ) =>
      files.push(
        {
          path: `/etc/kubernetes/pki/${cert}`,
          content: pems.certPem ?? pems.publicKeyPem ?? '',
          mode: 0o644,
        },
        { path: `/etc/kubernetes/pki/${key}`, content: pems.keyPem, mode: 0o600, secret: true },
      );
    if (input.clusterCa) pair('ca.crt', 'ca.key', input.clusterCa);
    if (input.etcdCa) pair('etcd/ca.crt', 'etcd/ca.key', input.etcdCa);
    if (input.frontProxyCa) pair('front-proxy-ca.crt', 'front-proxy-ca.key', input.frontProxyCa);
    if (input.serviceAccountKey) pair('sa.pub', 'sa.key', input.serviceAccountKey);
  }
  files.push({ path: SCRIPT_PATH, content: script(input, binDir), mode: 0o700 });
  return { files, scriptPath: SCRIPT_PATH, binDir };
}

/**
 * What a node's user data carries and what it fetches: the node's files without the secret ones,
 * plus its enrollment; `enrolled` is the enrollment answer kaas keeps for it (encodeEnrolledFiles).
 * Throws InputError without an enrollment: user data never carries join secrets or keys.
 */
export function firstBootContent(input: BootstrapInput): { content: NodeContent; enrolled: string } {
  const { enrollment } = input;
  if (enrollment === undefined) {
    throw new InputError('enrollment is required: user data carries no join secrets or keys', {
      field: 'enrollment',
    });
  }
  const content = nodeContent(input);
  const assignments = `ENROLL_URL=${shellQuote(enrollment.url)}\nENROLL_CREDENTIAL=${shellQuote(enrollment.credential)}\n`;
  const files: NodeFile[] = [
    ...content.files.filter((f) => !f.secret),
    { path: ENROLLMENT_PATH, content: assignments, mode: 0o600 },
    ...(enrollment.caPem ? [{ path: KAAS_CA_PATH, content: enrollment.caPem, mode: 0o644 }] : []),
  ];
  return {
    content: { ...content, files },
    enrolled: encodeEnrolledFiles(content.files.filter((f) => f.secret)),
  };
}
