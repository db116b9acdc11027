import { Alert, AlertActionLink, Bullseye, Spinner } from '@patternfly/react-core';
import type { ReactNode } from 'react';
import type { Loaded } from '../useLoad.ts';
import '@patternfly/react-styles/css/components/Table/table.css';
import '@patternfly/react-styles/css/components/Table/table-grid.css';

/** One column of a list: a header and how to render a row's cell. */
export interface Column<T> {
  title: string;
  render: (row: T) => ReactNode;
  /** Right-aligned action cells get no header text visually but keep it for screen readers. */
  isAction?: boolean;
}

/**
 * The one table every list in the panel uses: column specs in, a PatternFly table out, with
 * designed loading, error and empty states. Below 768 px rows stack into labelled cards.
 */
export function DataTable<T>(props: {
  label: string;
  columns: Column<T>[];
  rows: T[] | undefined;
  rowKey: (row: T) => string;
  /** The read behind the rows: its error (with a retry) or that it is still loading. */
  load: Loaded<unknown>;
  empty: ReactNode;
}): ReactNode {
  const { label, columns, rows, rowKey, empty } = props;
  const { loading, error, reload: onRetry } = props.load;
  if (error)
    return (
      <Alert
        variant="danger"
        isInline
        title={`Could not load ${label.toLowerCase()}`}
        actionLinks={<AlertActionLink onClick={onRetry}>Try again</AlertActionLink>}
      >
        {error.message}
      </Alert>
    );
  if (!rows)
    return (
      <Bullseye className="kaas-loading">
        <Spinner size="lg" aria-label={`Loading ${label.toLowerCase()}`} />
      </Bullseye>
    );
  if (rows.length === 0) return empty;
  return (
    <table className="pf-v6-c-table pf-m-grid-md" aria-label={label} aria-busy={loading}>
      <thead className="pf-v6-c-table__thead">
        <tr className="pf-v6-c-table__tr">
          {columns.map((c) => (
            <th key={c.title} className="pf-v6-c-table__th" scope="col">
              {c.isAction ? <span className="pf-v6-screen-reader">{c.title}</span> : c.title}
            </th>
          ))}
        </tr>
      </thead>
      <tbody className="pf-v6-c-table__tbody">
        {rows.map((row) => (
          <tr key={rowKey(row)} className="pf-v6-c-table__tr">
            {columns.map((c) => (
              <td
                key={c.title}
                className={c.isAction ? 'pf-v6-c-table__td pf-v6-c-table__action' : 'pf-v6-c-table__td'}
                data-label={c.isAction ? undefined : c.title}
              >
                {c.render(row)}
              </td>
            ))}
          </tr>
        ))}
      </tbody>
    </table>
  );
}
