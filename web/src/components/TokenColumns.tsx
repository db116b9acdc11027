import { Button, Label } from '@patternfly/react-core';
import type { Token } from '../api.ts';
import { formatDate, formatDateTime, isExpired } from '../format.ts';
import type { Column } from './DataTable.tsx';

/**
 * Column specs shared by the user's token list and the administrators' one, after their own name
 * columns: created, expires (red once expired), last used, and one danger button per token.
 */
export function tokenColumns<T extends Token>(options: {
  /** Whether an expired token's label also gives the date it expired. */
  expiredWithDate: boolean;
  action: string;
  actionLabel: (t: T) => string;
  onAction: (t: T) => void;
}): Column<T>[] {
  return [
    { title: 'Created', render: (t) => formatDateTime(t.createdAt) },
    {
      title: 'Expires',
      render: (t) =>
        isExpired(t.expiresAt) ? (
          <Label color="red" isCompact>
            Expired{options.expiredWithDate && ` ${formatDate(t.expiresAt)}`}
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
          onClick={() => options.onAction(t)}
          aria-label={options.actionLabel(t)}
        >
          {options.action}
        </Button>
      ),
    },
  ];
}
