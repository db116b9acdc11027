import {
  ActionGroup,
  Alert,
  AlertActionLink,
  Bullseye,
  Button,
  Card,
  CardBody,
  CardTitle,
  Form,
  FormGroup,
  FormHelperText,
  FormSection,
  FormSelect,
  FormSelectOption,
  HelperText,
  HelperTextItem,
  NumberInput,
  Radio,
  Spinner,
  TextInput,
} from '@patternfly/react-core';
import PlusCircleIcon from '@patternfly/react-icons/dist/esm/icons/plus-circle-icon';
import TrashIcon from '@patternfly/react-icons/dist/esm/icons/trash-icon';
import { useState, type ReactNode } from 'react';
import {
  api,
  ApiError,
  type ClusterSpec,
  type CreateDefaults,
  type Flavor,
  type Image,
  type NodeGroup,
  type UserProjects,
  type Version,
} from '../api.ts';
import { PageView } from '../components/PageView.tsx';
import { linkProps, PATHS } from '../router.ts';
import { useLoad } from '../useLoad.ts';

/** What the form offers, read once: the catalogue, the cloud's flavors and images, the defaults. */
interface Choices {
  versions: Version[];
  flavors: Flavor[];
  images: Image[];
  defaults: CreateDefaults;
  projects: UserProjects;
}

async function loadChoices(): Promise<Choices> {
  const [versions, flavors, images, defaults, projects] = await Promise.all([
    api.versions(),
    api.flavors(),
    api.images(),
    api.createDefaults(),
    api.projects(),
  ]);
  return { versions, flavors, images, defaults, projects };
}

/** The project options: the caller's, with a prompt first when they have no default one. */
function projectOptions(projects: UserProjects): { value: string; label: string }[] {
  const options = projects.items.map((p) => ({ value: p.id, label: p.name }));
  return projects.defaultProjectId ? options : [{ value: '', label: 'Choose a project' }, ...options];
}

const flavorLabel = (f: Flavor) =>
  `${f.name} (${f.vcpus} vCPU, ${Math.round(f.ramMb / 1024)} GiB RAM, ${f.diskGb} GB disk)`;

/** A required select with the server's error (or a hint) under it. */
function SelectField(props: {
  id: string;
  label: string;
  value: string;
  options: { value: string; label: string }[];
  onChange: (value: string) => void;
  error: string | undefined;
  helper?: string;
}) {
  return (
    <FormGroup label={props.label} isRequired fieldId={props.id}>
      <FormSelect
        id={props.id}
        value={props.value}
        onChange={(_e, v) => props.onChange(v)}
        validated={props.error ? 'error' : 'default'}
      >
        {props.options.map((o) => (
          <FormSelectOption key={o.value} value={o.value} label={o.label} />
        ))}
      </FormSelect>
      <FieldHelp error={props.error} helper={props.helper} />
    </FormGroup>
  );
}

/**
 * A select of what the cloud offers; a default the cloud does not offer stays selectable, marked as
 * such, so the form never silently picks something else.
 */
function CloudSelect(props: Parameters<typeof SelectField>[0]) {
  const offered = props.options.some((o) => o.value === props.value);
  const options = offered
    ? props.options
    : [{ value: props.value, label: `${props.value} (not offered by the cloud)` }, ...props.options];
  return <SelectField {...props} options={options} />;
}

/** A required text input with the server's error (or a hint) under it. */
function TextField(props: {
  id: string;
  label: string;
  value: string;
  onChange: (value: string) => void;
  error: string | undefined;
  helper?: string;
  placeholder?: string;
  autoFocus?: boolean;
  optional?: boolean;
}) {
  return (
    <FormGroup label={props.label} isRequired={!props.optional} fieldId={props.id}>
      <TextInput
        id={props.id}
        isRequired={!props.optional}
        value={props.value}
        onChange={(_e, v) => props.onChange(v)}
        validated={props.error ? 'error' : 'default'}
        {...(props.placeholder ? { placeholder: props.placeholder } : {})}
        {...(props.autoFocus ? { autoFocus: true } : {})}
      />
      <FieldHelp error={props.error} helper={props.helper} />
    </FormGroup>
  );
}

function FieldHelp(props: { error: string | undefined; helper?: ReactNode }) {
  if (!props.error && !props.helper) return null;
  return (
    <FormHelperText>
      <HelperText>
        <HelperTextItem variant={props.error ? 'error' : 'default'}>
          {props.error ?? props.helper}
        </HelperTextItem>
      </HelperText>
    </FormHelperText>
  );
}

/** The form, once its choices are loaded; `onCreated` receives what the server answered. */
function CreateClusterForm(props: {
  choices: Choices;
  onCreated: (created: { clusterId: string; name: string; privateKey?: string }) => void;
}) {
  const { versions, flavors, images, defaults, projects } = props.choices;
  const [project, setProject] = useState(projects.defaultProjectId ?? '');
  const [spec, setSpec] = useState<ClusterSpec>({
    ...defaults.spec,
    name: '',
    adminRoleId: defaults.spec.adminRoleId ?? '',
    nodeGroups: defaults.spec.nodeGroups.map((g) => ({ ...g })),
  });
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<{ message: string; field?: string }>();

  const set = (patch: Partial<ClusterSpec>) => setSpec((s) => ({ ...s, ...patch }));
  const setGroup = (index: number, patch: Partial<NodeGroup>) =>
    set({ nodeGroups: spec.nodeGroups.map((g, i) => (i === index ? { ...g, ...patch } : g)) });
  const fieldError = (field: string) => (error?.field === field ? error.message : undefined);
  const flavorOptions = flavors.map((f) => ({ value: f.name, label: flavorLabel(f) }));
  const imageOptions = images.map((i) => ({ value: i.name, label: i.name }));

  const addGroup = () => {
    const last = spec.nodeGroups.at(-1) ?? defaults.spec.nodeGroups[0];
    const names = new Set(spec.nodeGroups.map((g) => g.name));
    let n = spec.nodeGroups.length + 1;
    while (names.has(`group-${n}`)) n++;
    set({
      nodeGroups: [
        ...spec.nodeGroups,
        {
          name: `group-${n}`,
          count: 1,
          flavor: last?.flavor ?? spec.masterFlavor,
          image: last?.image ?? spec.image,
        },
      ],
    });
  };

  const submit = async (e: React.FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      const created = await api.createCluster(spec, defaults.options, project);
      props.onCreated({
        clusterId: created.cluster.id,
        name: created.cluster.name,
        ...(created.privateKey ? { privateKey: created.privateKey } : {}),
      });
    } catch (err) {
      setError({ message: (err as Error).message, field: err instanceof ApiError ? err.field : undefined });
      setBusy(false);
    }
  };

  const shownFields = new Set([
    'project',
    'name',
    'kubernetesVersion',
    'masters',
    'masterFlavor',
    'image',
    'adminRoleId',
    'imageRepository',
  ]);
  const groupField = /^nodeGroups\[(\d+)\]\.(name|count|flavor|image)$/;
  const elsewhere = error && !(error.field && (shownFields.has(error.field) || groupField.test(error.field)));

  return (
    <Form onSubmit={submit} aria-label="Create cluster" className="kaas-create-form">
      <FormSection title="Cluster" titleElement="h2">
        <TextField
          id="cluster-name"
          label="Name"
          value={spec.name}
          onChange={(v) => set({ name: v })}
          error={fieldError('name')}
          helper="Lowercase letters, digits and '-', at most 40; names the cluster's servers and kubeconfig."
          placeholder="e.g. prod-eu"
          autoFocus
        />
        <SelectField
          id="cluster-project"
          label="Project"
          value={project}
          options={projectOptions(projects)}
          onChange={setProject}
          error={fieldError('project')}
          helper="The OpenStack project the cluster is built in and belongs to: its users see and use it."
        />
        <SelectField
          id="cluster-version"
          label="Kubernetes version"
          value={spec.kubernetesVersion}
          options={versions.map((v) => ({
            value: v.version,
            label: v.isDefault ? `${v.version} (default)` : v.version,
          }))}
          onChange={(v) => set({ kubernetesVersion: v })}
          error={fieldError('kubernetesVersion')}
        />
        <TextField
          id="cluster-image-repository"
          label="Image repository"
          optional
          value={spec.imageRepository ?? ''}
          onChange={(v) => set({ imageRepository: v.trim() === '' ? undefined : v })}
          error={fieldError('imageRepository')}
          helper="Registry every image of the cluster is pulled from, host[:port][/path]; empty: the server's default (KAAS_IMAGE_REPOSITORY), else the upstream registries."
          placeholder="e.g. registry.example:5000/mirror"
        />
        {defaults.spec.adminRoleId === null && (
          <TextField
            id="cluster-admin-role"
            label="Cluster admin role ID"
            value={spec.adminRoleId}
            onChange={(v) => set({ adminRoleId: v })}
            error={fieldError('adminRoleId')}
            helper="The Keystone role whose holders on the project administer the cluster (the server sets no KUBE_ADMIN_ROLE_ID)."
          />
        )}
      </FormSection>
      <FormSection title="Control plane" titleElement="h2">
        <FormGroup role="radiogroup" label="Masters" isRequired fieldId="cluster-masters" isInline>
          {[1, 3].map((n) => (
            <Radio
              key={n}
              id={`cluster-masters-${n}`}
              name="cluster-masters"
              label={n === 1 ? '1 master' : '3 masters (highly available)'}
              isChecked={spec.masters === n}
              onChange={() => set({ masters: n })}
            />
          ))}
          <FieldHelp error={fieldError('masters')} />
        </FormGroup>
        <CloudSelect
          id="cluster-master-flavor"
          label="Master flavor"
          value={spec.masterFlavor}
          options={flavorOptions}
          onChange={(v) => set({ masterFlavor: v })}
          error={fieldError('masterFlavor')}
        />
        <CloudSelect
          id="cluster-image"
          label="Master image"
          value={spec.image}
          options={imageOptions}
          onChange={(v) => set({ image: v })}
          error={fieldError('image')}
        />
      </FormSection>
      <FormSection title="Node groups" titleElement="h2">
        {spec.nodeGroups.map((g, i) => {
          const f = (name: string) => fieldError(`nodeGroups[${i}].${name}`);
          return (
            <Card key={i} isCompact className="kaas-node-group">
              <CardTitle>
                <span className="kaas-state-row">
                  Node group {i + 1}
                  {spec.nodeGroups.length > 1 && (
                    <Button
                      variant="link"
                      isDanger
                      icon={<TrashIcon />}
                      onClick={() => set({ nodeGroups: spec.nodeGroups.filter((_, j) => j !== i) })}
                    >
                      Remove
                    </Button>
                  )}
                </span>
              </CardTitle>
              <CardBody>
                <TextField
                  id={`group-${i}-name`}
                  label="Group name"
                  value={g.name}
                  onChange={(v) => setGroup(i, { name: v })}
                  error={f('name')}
                />
                <FormGroup label="Nodes" isRequired fieldId={`group-${i}-count`}>
                  <NumberInput
                    id={`group-${i}-count`}
                    inputName={`group-${i}-count`}
                    inputAriaLabel={`Nodes in group ${i + 1}`}
                    value={g.count}
                    min={0}
                    onMinus={() => setGroup(i, { count: Math.max(0, g.count - 1) })}
                    onPlus={() => setGroup(i, { count: g.count + 1 })}
                    onChange={(e) => setGroup(i, { count: Number((e.target as HTMLInputElement).value) })}
                    validated={f('count') ? 'error' : 'default'}
                  />
                  <FieldHelp error={f('count')} />
                </FormGroup>
                <CloudSelect
                  id={`group-${i}-flavor`}
                  label="Flavor"
                  value={g.flavor}
                  options={flavorOptions}
                  onChange={(v) => setGroup(i, { flavor: v })}
                  error={f('flavor')}
                />
                <CloudSelect
                  id={`group-${i}-image`}
                  label="Image"
                  value={g.image}
                  options={imageOptions}
                  onChange={(v) => setGroup(i, { image: v })}
                  error={f('image')}
                />
              </CardBody>
            </Card>
          );
        })}
        <div>
          <Button variant="link" icon={<PlusCircleIcon />} onClick={addGroup}>
            Add node group
          </Button>
        </div>
      </FormSection>
      {elsewhere && <Alert variant="danger" isInline title={error.message} />}
      {error && !elsewhere && (
        <Alert
          variant="danger"
          isInline
          title="The cluster was not created: correct the field marked above."
        />
      )}
      <ActionGroup>
        <Button variant="primary" type="submit" isLoading={busy} isDisabled={busy}>
          Create cluster
        </Button>
        <Button variant="link" component="a" {...linkProps(PATHS.clusters)}>
          Cancel
        </Button>
      </ActionGroup>
    </Form>
  );
}

/** Operators: the guided form for a new cluster, prefilled with the defaults the CLI would use. */
export function CreateClusterPage(props: {
  onCreated: (created: { clusterId: string; name: string; privateKey?: string }) => void;
}) {
  const choices = useLoad(loadChoices, 'create-cluster');
  return (
    <PageView
      title="Create cluster"
      description="A Kubernetes cluster in one of your OpenStack projects, built by kaas' job workers. Defaults are filled in; change what you need."
    >
      {choices.error ? (
        <Alert
          variant="danger"
          isInline
          title="Could not load what the cloud offers"
          actionLinks={<AlertActionLink onClick={choices.reload}>Try again</AlertActionLink>}
        >
          {choices.error.message}
        </Alert>
      ) : !choices.data ? (
        <Bullseye className="kaas-loading">
          <Spinner aria-label="Loading versions, flavors and images" />
        </Bullseye>
      ) : (
        <CreateClusterForm choices={choices.data} onCreated={props.onCreated} />
      )}
    </PageView>
  );
}
