import {
  ActionGroup,
  Alert,
  Button,
  EmptyState,
  EmptyStateBody,
  Form,
  FormGroup,
  FormSelect,
  FormSelectOption,
  Grid,
  GridItem,
  Label,
  TextInput,
  Title,
} from '@patternfly/react-core';
import UsersIcon from '@patternfly/react-icons/dist/esm/icons/users-icon';
import { useEffect, useState } from 'react';
import { api, type RoleBinding, type RoleBindings } from '../api.ts';
import type { ClusterContext } from '../App.tsx';
import { DataTable, type Column } from '../components/DataTable.tsx';
import { PageView } from '../components/PageView.tsx';
import { formatDateTime } from '../format.ts';
import { useLoad } from '../useLoad.ts';

function StateLabel({ data }: { data: RoleBindings }) {
  if (data.state === 'applied') return <Label status="success">Applied to the cluster</Label>;
  if (data.state === 'pending')
    return <Label status="warning">Pending: not yet applied to the cluster</Label>;
  return <Label color="grey">No bindings saved</Label>;
}

const EMPTY_DRAFT = {
  keystoneRoleId: '',
  kind: 'ClusterRole' as RoleBinding['kind'],
  roleName: '',
  namespace: '',
};

/**
 * Administrators: which further Keystone roles become which Kubernetes ClusterRoles/Roles. Edits
 * are saved here and applied to the cluster by kaas; the state shows whether that happened yet.
 */
export function AdminRoleBindingsPage(props: { cluster: ClusterContext }) {
  const loaded = useLoad(() => api.roleBindings(props.cluster.id), props.cluster.id);
  const [items, setItems] = useState<RoleBinding[]>([]);
  const [dirty, setDirty] = useState(false);
  const [draft, setDraft] = useState(EMPTY_DRAFT);
  const [draftError, setDraftError] = useState<string>();
  const [saving, setSaving] = useState(false);
  const [saveError, setSaveError] = useState<string>();

  useEffect(() => {
    if (loaded.data) {
      setItems(loaded.data.items);
      setDirty(false);
    }
  }, [loaded.data]);

  const roles = loaded.data?.availableRoles ?? [];
  const roleName = (id: string) => roles.find((r) => r.id === id)?.name ?? id;

  const add = (e: React.FormEvent) => {
    e.preventDefault();
    const keystoneRoleId = draft.keystoneRoleId || roles[0]?.id || '';
    if (!keystoneRoleId) return setDraftError('Choose the Keystone role.');
    if (!draft.roleName.trim())
      return setDraftError('Enter the name of the Kubernetes role, e.g. view or edit.');
    if (draft.kind === 'Role' && !draft.namespace.trim())
      return setDraftError('A Role lives in a namespace: enter it.');
    setDraftError(undefined);
    const ns = draft.namespace.trim();
    setItems([
      ...items,
      { keystoneRoleId, kind: draft.kind, roleName: draft.roleName.trim(), ...(ns ? { namespace: ns } : {}) },
    ]);
    setDraft(EMPTY_DRAFT);
    setDirty(true);
  };

  const save = async () => {
    setSaving(true);
    setSaveError(undefined);
    try {
      await api.saveRoleBindings(props.cluster.id, items);
      loaded.reload();
    } catch (e) {
      setSaveError((e as Error).message);
    } finally {
      setSaving(false);
    }
  };

  const columns: Column<RoleBinding>[] = [
    { title: 'Keystone role', render: (b) => <strong>{roleName(b.keystoneRoleId)}</strong> },
    {
      title: 'Kubernetes role',
      render: (b) => <span className="kaas-mono">{`${b.kind}/${b.roleName}`}</span>,
    },
    { title: 'Scope', render: (b) => (b.namespace ? `Namespace ${b.namespace}` : 'Whole cluster') },
    {
      title: 'Actions',
      isAction: true,
      render: (b) => (
        <Button
          variant="link"
          isDanger
          onClick={() => {
            setItems(items.filter((x) => x !== b));
            setDirty(true);
          }}
          aria-label={`Remove binding of ${roleName(b.keystoneRoleId)} to ${b.kind} ${b.roleName}`}
        >
          Remove
        </Button>
      ),
    },
  ];

  return (
    <PageView
      title="Role bindings"
      description="Give holders of further Keystone roles on this project a Kubernetes ClusterRole or Role. Holders of the cluster's admin role are always cluster-admin."
      actions={
        loaded.data && (
          <Button variant="primary" onClick={save} isDisabled={!dirty || saving} isLoading={saving}>
            Save changes
          </Button>
        )
      }
    >
      {loaded.data && (
        <div className="kaas-login-alert kaas-state-row">
          <StateLabel data={loaded.data} />
          {loaded.data.updatedAt && (
            <span className="kaas-subtitle">
              Revision {loaded.data.revision}, saved {formatDateTime(loaded.data.updatedAt)} by{' '}
              {loaded.data.updatedBy}
              {dirty && ' · you have unsaved changes'}
            </span>
          )}
        </div>
      )}
      {saveError && (
        <Alert variant="danger" isInline title="Could not save" className="kaas-login-alert">
          {saveError}
        </Alert>
      )}
      <DataTable
        label="Role bindings"
        columns={columns}
        rows={loaded.data ? items : undefined}
        rowKey={(b) => `${b.keystoneRoleId}/${b.kind}/${b.roleName}/${b.namespace ?? ''}`}
        load={loaded}
        empty={
          <EmptyState titleText="No role bindings" headingLevel="h2" icon={UsersIcon} variant="sm">
            <EmptyStateBody>
              Only the admin role grants access to Kubernetes so far. Add a binding below.
            </EmptyStateBody>
          </EmptyState>
        }
      />
      {loaded.data && (
        <Form onSubmit={add} className="kaas-gap-top" aria-labelledby="add-binding-title">
          <Title headingLevel="h2" size="lg" id="add-binding-title">
            Add a binding
          </Title>
          <Grid hasGutter md={6} xl={3}>
            <GridItem>
              <FormGroup label="Keystone role" fieldId="binding-keystone-role">
                <FormSelect
                  id="binding-keystone-role"
                  value={draft.keystoneRoleId || roles[0]?.id || ''}
                  onChange={(_e, v) => setDraft({ ...draft, keystoneRoleId: v })}
                >
                  {roles.length === 0 && (
                    <FormSelectOption value="" label="No roles on this project yet" isDisabled />
                  )}
                  {roles.map((r) => (
                    <FormSelectOption key={r.id} value={r.id} label={r.name} />
                  ))}
                </FormSelect>
              </FormGroup>
            </GridItem>
            <GridItem>
              <FormGroup label="Kind" fieldId="binding-kind">
                <FormSelect
                  id="binding-kind"
                  value={draft.kind}
                  onChange={(_e, v) => setDraft({ ...draft, kind: v as RoleBinding['kind'] })}
                >
                  <FormSelectOption value="ClusterRole" label="ClusterRole" />
                  <FormSelectOption value="Role" label="Role" />
                </FormSelect>
              </FormGroup>
            </GridItem>
            <GridItem>
              <FormGroup label="Kubernetes role name" fieldId="binding-role-name" isRequired>
                <TextInput
                  id="binding-role-name"
                  value={draft.roleName}
                  placeholder="view"
                  onChange={(_e, v) => setDraft({ ...draft, roleName: v })}
                />
              </FormGroup>
            </GridItem>
            <GridItem>
              <FormGroup label="Namespace" fieldId="binding-namespace" isRequired={draft.kind === 'Role'}>
                <TextInput
                  id="binding-namespace"
                  value={draft.namespace}
                  placeholder={draft.kind === 'Role' ? 'required' : 'empty = whole cluster'}
                  onChange={(_e, v) => setDraft({ ...draft, namespace: v })}
                />
              </FormGroup>
            </GridItem>
          </Grid>
          {draftError && <Alert variant="danger" isInline isPlain title={draftError} />}
          <ActionGroup>
            <Button type="submit" variant="secondary">
              Add binding
            </Button>
          </ActionGroup>
        </Form>
      )}
    </PageView>
  );
}
