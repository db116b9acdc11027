import {
  Alert,
  Checkbox,
  Content,
  FormGroup,
  FormHelperText,
  FormSelect,
  FormSelectOption,
  HelperText,
  HelperTextItem,
  NumberInput,
  TextInput,
} from '@patternfly/react-core';
import { useState } from 'react';
import { api, type ClusterView, type Job, type NodeGroup, type Version } from '../api.ts';
import { OperationModal } from '../components/ConfirmModal.tsx';
import { useLoad } from '../useLoad.ts';

/** A select of the cluster's node groups, after an optional `first` choice. */
function GroupSelect(props: {
  id: string;
  label: string;
  value: string;
  groups: NodeGroup[];
  first?: { value: string; label: string };
  optionLabel: (group: NodeGroup) => string;
  onChange: (value: string) => void;
}) {
  return (
    <FormGroup label={props.label} fieldId={props.id}>
      <FormSelect id={props.id} value={props.value} onChange={(_e, v) => props.onChange(v)}>
        {props.first && <FormSelectOption value={props.first.value} label={props.first.label} />}
        {props.groups.map((g) => (
          <FormSelectOption key={g.name} value={g.name} label={props.optionLabel(g)} />
        ))}
      </FormSelect>
    </FormGroup>
  );
}

/** A whole-number input of at least 0 with its helper line. */
function CountInput(props: {
  id: string;
  label: string;
  value: number;
  help: string;
  onChange: (value: number) => void;
}) {
  return (
    <FormGroup label={props.label} fieldId={props.id}>
      <NumberInput
        id={props.id}
        inputName={props.id}
        inputAriaLabel={props.label}
        value={props.value}
        min={0}
        onMinus={() => props.onChange(Math.max(0, props.value - 1))}
        onPlus={() => props.onChange(props.value + 1)}
        onChange={(e) => props.onChange(Number((e.target as HTMLInputElement).value))}
      />
      <FormHelperText>
        <HelperText>
          <HelperTextItem>{props.help}</HelperTextItem>
        </HelperText>
      </FormHelperText>
    </FormGroup>
  );
}

/** A group's size and autoscaling bounds as stored (a group without bounds: its count for both). */
function sizesOf(group: NodeGroup | undefined) {
  const count = group?.count ?? 0;
  return { count, minSize: group?.minSize ?? count, maxSize: group?.maxSize ?? count };
}

/**
 * Resizes one node group, or changes its autoscaling bounds (one or the other per submit): a resize
 * job is handed to `onJob`; bounds give a job when the group is resized into them or its
 * autoscaling turns on or off, else they are stored at once (`onSaved`).
 */
export function ResizeModal(props: {
  cluster: ClusterView;
  onJob: (job: Job) => void;
  onSaved: () => void;
  onClose: () => void;
}) {
  const groups = props.cluster.spec.nodeGroups;
  const [group, setGroup] = useState(groups[0]?.name ?? '');
  const stored = sizesOf(groups.find((g) => g.name === group));
  const [sizes, setSizes] = useState(stored);
  const set = (key: keyof typeof sizes) => (value: number) => setSizes((s) => ({ ...s, [key]: value }));
  const resizing = sizes.count !== stored.count;
  const bounding = sizes.minSize !== stored.minSize || sizes.maxSize !== stored.maxSize;
  const autoscaled = stored.maxSize > stored.minSize;
  return (
    <OperationModal
      id="resize-form"
      title={`Resize ${props.cluster.name}`}
      description="Nodes are added or removed in one node group; removed nodes are drained first. cluster-autoscaler adds and removes nodes between the fewest and the most."
      submitLabel={bounding ? 'Save bounds' : 'Resize'}
      canSubmit={resizing !== bounding && sizes.minSize <= sizes.maxSize}
      submit={async () => {
        if (!bounding)
          return props.onJob((await api.resizeCluster(props.cluster.id, group, sizes.count)).job);
        const saved = await api.setSizeBounds(props.cluster.id, group, sizes.minSize, sizes.maxSize);
        if ('job' in saved) props.onJob(saved.job);
        else props.onSaved();
      }}
      onClose={props.onClose}
    >
      <GroupSelect
        id="resize-group"
        label="Node group"
        value={group}
        groups={groups}
        optionLabel={(g) => `${g.name} (${g.count} ${g.count === 1 ? 'node' : 'nodes'})`}
        onChange={(v) => {
          setGroup(v);
          setSizes(sizesOf(groups.find((g) => g.name === v)));
        }}
      />
      <CountInput
        id="resize-count"
        label="Nodes"
        value={sizes.count}
        help={`Now ${stored.count}.`}
        onChange={set('count')}
      />
      <CountInput
        id="resize-min"
        label="Fewest nodes"
        value={sizes.minSize}
        help={autoscaled ? `Autoscaled between ${stored.minSize} and ${stored.maxSize}.` : 'Not autoscaled.'}
        onChange={set('minSize')}
      />
      <CountInput
        id="resize-max"
        label="Most nodes"
        value={sizes.maxSize}
        help="Autoscaled when above the fewest; a group outside its bounds is resized into them."
        onChange={set('maxSize')}
      />
      {resizing && bounding && (
        <Alert variant="info" isInline isPlain title="Change the nodes or the bounds, one at a time." />
      )}
      {sizes.minSize > sizes.maxSize && (
        <Alert variant="warning" isInline isPlain title="The fewest nodes cannot be more than the most." />
      )}
    </OperationModal>
  );
}

/** Whether patch version `a` is newer than `b` (both `x.y.z`). */
export function isNewer(a: string, b: string): boolean {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < 3; i++) if ((pa[i] ?? 0) !== (pb[i] ?? 0)) return (pa[i] ?? 0) > (pb[i] ?? 0);
  return false;
}

/** Upgrades to a catalogue version newer than the cluster's. */
export function UpgradeModal(props: {
  cluster: ClusterView;
  onJob: (job: Job) => void;
  onClose: () => void;
}) {
  const current = props.cluster.spec.kubernetesVersion;
  const versions = useLoad(api.versions, 'versions');
  const newer = (versions.data ?? []).filter((v: Version) => isNewer(v.version, current));
  const [chosen, setChosen] = useState<string>();
  const version = chosen ?? newer.at(-1)?.version ?? '';
  return (
    <OperationModal
      id="upgrade-form"
      title={`Upgrade ${props.cluster.name}`}
      description={`Nodes are replaced one by one with nodes of the new version, masters first. It runs Kubernetes ${current} now.`}
      submitLabel="Upgrade"
      canSubmit={version !== ''}
      submit={async () => {
        const { job } = await api.upgradeCluster(props.cluster.id, version);
        if (job) props.onJob(job);
      }}
      onClose={props.onClose}
    >
      <FormGroup label="Kubernetes version" fieldId="upgrade-version">
        {versions.error ? (
          <Alert variant="danger" isInline title={versions.error.message} />
        ) : newer.length === 0 ? (
          <Content component="p" className="kaas-subtitle">
            {versions.data ? 'No newer version in the catalogue.' : 'Loading versions…'}
          </Content>
        ) : (
          <FormSelect id="upgrade-version" value={version} onChange={(_e, v) => setChosen(v)}>
            {newer.map((v) => (
              <FormSelectOption key={v.version} value={v.version} label={v.version} />
            ))}
          </FormSelect>
        )}
      </FormGroup>
    </OperationModal>
  );
}

/** What a delete can leave in the cloud: the CLI's `--keep-volumes` and `--keep-backups`. */
const KEEP_CHOICES = [
  {
    flag: 'keepVolumes',
    label: 'Keep volumes',
    description: "Leave the Cinder volumes of the cluster's PersistentVolumes in the cloud.",
  },
  {
    flag: 'keepBackups',
    label: 'Keep backups',
    description: 'Leave the etcd-backup, Velero and registry Swift containers in the cloud.',
  },
] as const;

/** Deletes the cluster once its name is typed, keeping what the user ticked (nothing by default). */
export function DeleteClusterModal(props: {
  cluster: ClusterView;
  onJob: (job: Job) => void;
  onClose: () => void;
}) {
  const [typed, setTyped] = useState('');
  const [keep, setKeep] = useState({ keepVolumes: false, keepBackups: false });
  const { name } = props.cluster;
  return (
    <OperationModal
      id="delete-form"
      title={`Delete ${name}?`}
      description={
        <>
          Its servers, networks and load balancers are deleted, with its volumes and Swift containers unless
          kept below, and every kubeconfig for it stops working. This cannot be undone. Type{' '}
          <strong>{name}</strong> to confirm.
        </>
      }
      submitLabel="Delete cluster"
      danger
      canSubmit={typed === name}
      submit={async () => props.onJob((await api.deleteCluster(props.cluster.id, keep)).job)}
      onClose={props.onClose}
    >
      <FormGroup label="Cluster name" fieldId="delete-confirm">
        <TextInput
          id="delete-confirm"
          value={typed}
          onChange={(_e, v) => setTyped(v)}
          autoComplete="off"
          aria-label="Type the cluster name to confirm"
        />
      </FormGroup>
      {KEEP_CHOICES.map((choice) => (
        <Checkbox
          key={choice.flag}
          id={`delete-${choice.flag}`}
          label={choice.label}
          description={choice.description}
          isChecked={keep[choice.flag]}
          onChange={(_e, checked) => setKeep((k) => ({ ...k, [choice.flag]: checked }))}
        />
      ))}
    </OperationModal>
  );
}

/** Replaces the cluster's OpenStack application credential; the job it queues is handed to `onJob`. */
export function RotateCredentialsModal(props: {
  cluster: ClusterView;
  onJob: (job: Job) => void;
  onClose: () => void;
}) {
  return (
    <OperationModal
      id="rotate-form"
      title={`Rotate the cloud credentials of ${props.cluster.name}`}
      description="kaas makes the cluster a new OpenStack application credential, restarts the cloud controller, Cinder CSI, the registry and Velero on it, then deletes the old one. The services keep running meanwhile."
      submitLabel="Rotate"
      submit={async () => props.onJob((await api.rotateCredentials(props.cluster.id)).job)}
      onClose={props.onClose}
    />
  );
}

/** Whether auto-healing is on: for the whole cluster, and the node groups where it is off. */
export function autoHealText(spec: ClusterView['spec']): string {
  if (spec.autoHeal === false) return 'Off';
  const off = spec.nodeGroups.filter((g) => g.autoHeal === false).map((g) => g.name);
  return off.length ? `On, except node group ${off.join(', ')}` : 'On';
}

const WHOLE = '';

/** Turns auto-healing on or off for the cluster or one node group; `onSaved` once the server took it. */
export function AutoHealModal(props: { cluster: ClusterView; onSaved: () => void; onClose: () => void }) {
  const { spec } = props.cluster;
  const switchOf = (name: string) =>
    name === WHOLE
      ? spec.autoHeal !== false
      : spec.nodeGroups.find((g) => g.name === name)?.autoHeal !== false;
  const [group, setGroup] = useState(WHOLE);
  const current = switchOf(group);
  const [on, setOn] = useState(current);
  return (
    <OperationModal
      id="autoheal-form"
      title={`Auto-healing of ${props.cluster.name}`}
      description="kaas replaces a worker whose Node stays NotReady too long. The switch takes effect at the healer's next look, also while a job runs; a node group stays off while the whole cluster is."
      submitLabel="Save"
      canSubmit={on !== current}
      submit={async () => {
        await api.setAutoHeal(props.cluster.id, on, group === WHOLE ? undefined : group);
        props.onSaved();
      }}
      onClose={props.onClose}
    >
      <GroupSelect
        id="autoheal-group"
        label="For"
        value={group}
        groups={spec.nodeGroups}
        first={{ value: WHOLE, label: 'The whole cluster' }}
        optionLabel={(g) => `Node group ${g.name}`}
        onChange={(v) => {
          setGroup(v);
          setOn(switchOf(v));
        }}
      />
      <FormGroup label="Auto-healing" fieldId="autoheal-on">
        <FormSelect id="autoheal-on" value={on ? 'on' : 'off'} onChange={(_e, v) => setOn(v === 'on')}>
          <FormSelectOption value="on" label="On" />
          <FormSelectOption value="off" label="Off" />
        </FormSelect>
      </FormGroup>
    </OperationModal>
  );
}
