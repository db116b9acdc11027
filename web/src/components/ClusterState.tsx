import { Label } from '@patternfly/react-core';

const IN_PROGRESS = new Set(['creating', 'resizing', 'upgrading', 'deleting', 'rotating', 'healing']);

/** A cluster's provisioning state as a label: ready, failed, or an operation under way. */
export function ClusterStateLabel(props: { status: string | null }) {
  const { status } = props;
  if (status === null) return <span className="kaas-subtitle">Not provisioned by kaas</span>;
  if (status === 'ready') return <Label status="success">Ready</Label>;
  if (status === 'failed') return <Label status="danger">Failed</Label>;
  const text = status.charAt(0).toUpperCase() + status.slice(1);
  return IN_PROGRESS.has(status) ? <Label status="info">{text}…</Label> : <Label color="grey">{text}</Label>;
}
