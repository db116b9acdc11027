import { EmptyState, EmptyStateBody } from '@patternfly/react-core';
import KeyIcon from '@patternfly/react-icons/dist/esm/icons/key-icon';
import { useState } from 'react';
import { api, type UserToken } from '../api.ts';
import type { ClusterContext } from '../App.tsx';
import { ConfirmModal } from '../components/ConfirmModal.tsx';
import { DataTable, type Column } from '../components/DataTable.tsx';
import { PageView } from '../components/PageView.tsx';
import { tokenColumns } from '../components/TokenColumns.tsx';
import { useLoad } from '../useLoad.ts';

/** Administrators: every token of the cluster project's members, with the power to revoke. */
export function AdminTokensPage(props: { cluster: ClusterContext }) {
  const tokens = useLoad(() => api.adminTokens(props.cluster.id), props.cluster.id);
  const [revoking, setRevoking] = useState<UserToken>();
  const columns: Column<UserToken>[] = [
    { title: 'User', render: (t) => <strong>{`${t.userName} @ ${t.domainName}`}</strong> },
    { title: 'Token', render: (t) => t.name },
    ...tokenColumns<UserToken>({
      expiredWithDate: false,
      action: 'Revoke',
      actionLabel: (t) => `Revoke token ${t.name} of ${t.userName}`,
      onAction: setRevoking,
    }),
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
        load={tokens}
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
