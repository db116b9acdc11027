import { Button, EmptyState, EmptyStateBody, EmptyStateFooter } from '@patternfly/react-core';
import KeyIcon from '@patternfly/react-icons/dist/esm/icons/key-icon';
import PlusCircleIcon from '@patternfly/react-icons/dist/esm/icons/plus-circle-icon';
import { useState } from 'react';
import { api, type Token } from '../api.ts';
import type { ClusterContext } from '../App.tsx';
import { ConfirmModal } from '../components/ConfirmModal.tsx';
import { DataTable, type Column } from '../components/DataTable.tsx';
import { PageView } from '../components/PageView.tsx';
import { tokenColumns } from '../components/TokenColumns.tsx';
import { useLoad } from '../useLoad.ts';
import { CreateTokenModal } from './CreateTokenModal.tsx';

/** The user's Kubernetes API tokens: create (shown once), list, delete. */
export function TokensPage(props: { cluster: ClusterContext | undefined; userName: string }) {
  const tokens = useLoad(api.listTokens, 'tokens');
  const [creating, setCreating] = useState(false);
  const [deleting, setDeleting] = useState<Token>();

  const columns: Column<Token>[] = [
    { title: 'Name', render: (t) => <strong>{t.name}</strong> },
    ...tokenColumns<Token>({
      expiredWithDate: true,
      action: 'Delete',
      actionLabel: (t) => `Delete token ${t.name}`,
      onAction: setDeleting,
    }),
  ];
  const createButton = (
    <Button variant="primary" icon={<PlusCircleIcon />} onClick={() => setCreating(true)}>
      Create token
    </Button>
  );

  return (
    <PageView
      title="API tokens"
      description="Tokens let kubectl and other Kubernetes clients act as you on every cluster you have a role on."
      actions={tokens.data?.length ? createButton : undefined}
    >
      <DataTable
        label="API tokens"
        columns={columns}
        rows={tokens.data}
        rowKey={(t) => t.id}
        load={tokens}
        empty={
          <EmptyState titleText="No API tokens yet" headingLevel="h2" icon={KeyIcon}>
            <EmptyStateBody>
              Create a token to use kubectl. You can create one per machine or pipeline and delete each on its
              own.
            </EmptyStateBody>
            <EmptyStateFooter>{createButton}</EmptyStateFooter>
          </EmptyState>
        }
      />
      {creating && (
        <CreateTokenModal
          cluster={props.cluster}
          userName={props.userName}
          onCreated={tokens.reload}
          onClose={() => setCreating(false)}
        />
      )}
      {deleting && (
        <ConfirmModal
          title={`Delete token "${deleting.name}"?`}
          confirmLabel="Delete token"
          onConfirm={async () => {
            await api.deleteToken(deleting.id);
            tokens.reload();
          }}
          onClose={() => setDeleting(undefined)}
        >
          Anything that uses this token stops working immediately. This cannot be undone.
        </ConfirmModal>
      )}
    </PageView>
  );
}
