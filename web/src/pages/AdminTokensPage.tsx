import { Button, EmptyState, EmptyStateBody, Label } from '@patternfly/react-core';
import KeyIcon from '@patternfly/react-icons/dist/esm/icons/key-icon';
import { useState } from 'react';
import { api, type UserToken } from '../api.ts';
import type { ClusterContext } from '../App.tsx';
import { ConfirmModal } from '../components/ConfirmModal.tsx';
import { DataTable, type Column } from '../components/DataTable.tsx';
import { PageView } from '../components/PageView.tsx';
import { formatDate, formatDateTime, isExpired } from '../format.ts';
import { useLoad } from '../useLoad.ts';

/** Administrators: every token of the cluster project's members, with the power to revoke. */
export function AdminTokensPage(props: { cluster: ClusterContext }) {
  const tokens = useLoad(() => api.adminTokens(props.cluster.id), props.cluster.id);
  const [revoking, setRevoking] = useState<UserToken>();
  const columns: Column<UserToken>[] = [
    { title: 'User', render: (t) => <strong>{`${t.userName} @ ${t.domainName}`}</strong> },
    { title: 'Token', render: (t) => t.name },
    { title: 'Created', render: (t) => formatDateTime(t.createdAt) },
    {
      title: 'Expires',
      render: (t) =>
        isExpired(t.expiresAt) ? (
          <Label color="red" isCompact>
            Expired
          </Label>
        ) : (
          formatDate(t.expiresAt)
        ),
    },
    { title: 'Last used', render: (t) => (t.lastUsedAt ? formatDateTime(t.lastUsedAt) : 'Never') },
    {
      title: 'Actions',
      isAction: true,
      render: (t) => (
        <Button
          variant="secondary"
          isDanger
          size="sm"
          onClick={() => setRevoking(t)}
          aria-label={`Revoke token ${t.name} of ${t.userName}`}
        >
          Revoke
        </Button>
      ),
    },
  ];
  return (
    <PageView
      title="User tokens"
      description={
        <>
          API tokens of everyone with a role on the OpenStack project of <strong>{props.cluster.name}</strong>
          .
        </>
      }
    >
      <DataTable
        label="User tokens"
        columns={columns}
        rows={tokens.data}
        rowKey={(t) => t.id}
        loading={tokens.loading}
        error={tokens.error}
        onRetry={tokens.reload}
        empty={
          <EmptyState titleText="No tokens" headingLevel="h2" icon={KeyIcon}>
            <EmptyStateBody>No member of this cluster's project has created an API token yet.</EmptyStateBody>
          </EmptyState>
        }
      />
      {revoking && (
        <ConfirmModal
          title={`Revoke "${revoking.name}" of ${revoking.userName}?`}
          confirmLabel="Revoke token"
          onConfirm={async () => {
            await api.revokeToken(props.cluster.id, revoking.id);
            tokens.reload();
          }}
          onClose={() => setRevoking(undefined)}
        >
          The token stops working on every cluster immediately. Its owner can create a new one.
        </ConfirmModal>
      )}
    </PageView>
  );
}
