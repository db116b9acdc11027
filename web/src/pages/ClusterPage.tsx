import {
  Alert,
  AlertActionCloseButton,
  AlertActionLink,
  Bullseye,
  Button,
  Card,
  CardBody,
  DescriptionList,
  DescriptionListDescription,
  DescriptionListGroup,
  DescriptionListTerm,
  Flex,
  Spinner,
} from '@patternfly/react-core';
import { useEffect, useRef, useState } from 'react';
import { api, type Job, type JobEvent, type JobView } from '../api.ts';
import { ClusterStateLabel } from '../components/ClusterState.tsx';
import { JobProgress } from '../components/JobProgress.tsx';
import { NodesSummary } from '../components/ObservedNodes.tsx';
import { PageView } from '../components/PageView.tsx';
import { formatDateTime, saveFile } from '../format.ts';
import { useLoad } from '../useLoad.ts';
import {
  AutoHealModal,
  autoHealText,
  DeleteClusterModal,
  ResizeModal,
  RotateCredentialsModal,
  UpgradeModal,
} from './ClusterModals.tsx';

const POLL_MS = 2_000;
const FINAL = new Set<Job['state']>(['succeeded', 'failed', 'cancelled']);

/** A new cluster's SSH private key, which the server hands out once, at creation. */
export interface CreatedKey {
  clusterId: string;
  name: string;
  privateKey: string;
}

/**
 * Follows one job: polls its steps and new events until it ends, then calls `onEnd` once. A 404
 * once a delete job has run means the cluster is gone, which is how a delete ends.
 */
function useJob(
  clusterId: string,
  jobId: string | undefined,
  round: number,
  onEnd: (job: Job | undefined) => void,
) {
  const [view, setView] = useState<JobView>();
  const [events, setEvents] = useState<JobEvent[]>([]);
  const [error, setError] = useState<string>();
  const onEndRef = useRef(onEnd);
  onEndRef.current = onEnd;
  useEffect(() => {
    setView(undefined);
    setEvents([]);
    setError(undefined);
    if (!jobId) return;
    let stopped = false;
    let after: string | undefined;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const poll = async () => {
      try {
        const next = await api.job(clusterId, jobId, after);
        if (stopped) return;
        setError(undefined);
        setView(next);
        if (next.events.length) {
          after = next.events.at(-1)?.at;
          setEvents((e) => [...e, ...next.events]);
        }
        if (FINAL.has(next.job.state)) {
          onEndRef.current(next.job);
          return;
        }
      } catch (e) {
        if (stopped) return;
        if ((e as { status?: number }).status === 404) {
          onEndRef.current(undefined);
          return;
        }
        setError((e as Error).message);
      }
      timer = setTimeout(poll, POLL_MS);
    };
    void poll();
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }, [clusterId, jobId, round]);
  return { view, events, error };
}

/**
 * Administrators: one cluster's state, the live progress of its latest job (steps, events, the
 * failed step with Retry), and resize, upgrade, credential rotation, the auto-healing switch and delete.
 */
export function ClusterPage(props: {
  clusterId: string;
  createdKey: CreatedKey | undefined;
  onDismissKey: () => void;
  /** The cluster's state changed (a job ended or was queued): the cluster list should be read again. */
  onChanged: () => void;
  onDeleted: () => void;
}) {
  const { clusterId } = props;
  const cluster = useLoad(() => api.cluster(clusterId), clusterId);
  const [jobId, setJobId] = useState<string>();
  // Bumped whenever a job is queued, so a retried job (same id) is followed afresh.
  const [round, setRound] = useState(0);
  const [dialog, setDialog] = useState<'resize' | 'upgrade' | 'rotate' | 'autoheal' | 'delete'>();
  const [retrying, setRetrying] = useState(false);
  const [retryError, setRetryError] = useState<string>();
  const c = cluster.data;
  const followed = jobId ?? c?.lastJob?.id;
  const job = useJob(clusterId, followed, round, (ended) => {
    if (!ended || (ended.kind === 'delete' && ended.state === 'succeeded')) {
      props.onDeleted();
      return;
    }
    cluster.reload();
    props.onChanged();
  });

  const started = (queued: Job) => {
    setJobId(queued.id);
    setRound((r) => r + 1);
    cluster.reload();
    props.onChanged();
  };
  const retry = async () => {
    if (!followed) return;
    setRetrying(true);
    setRetryError(undefined);
    try {
      started((await api.retryJob(clusterId, followed)).job);
    } catch (e) {
      setRetryError((e as Error).message);
    } finally {
      setRetrying(false);
    }
  };

  if (cluster.error)
    return (
      <PageView title="Cluster" description="A cluster you administer.">
        <Alert
          variant="danger"
          isInline
          title="Could not load the cluster"
          actionLinks={<AlertActionLink onClick={cluster.reload}>Try again</AlertActionLink>}
        >
          {cluster.error.message}
        </Alert>
      </PageView>
    );
  if (!c)
    return (
      <Bullseye className="kaas-loading">
        <Spinner aria-label="Loading the cluster" />
      </Bullseye>
    );

  const running = job.view ? !FINAL.has(job.view.job.state) : c.lastJob ? !FINAL.has(c.lastJob.state) : false;
  const busyReason = running ? 'Wait for the running job to end.' : undefined;
  const key = props.createdKey?.clusterId === c.id ? props.createdKey : undefined;
  const actions = (
    <Flex spaceItems={{ default: 'spaceItemsSm' }} className="kaas-wrap-footer">
      <Button variant="secondary" onClick={() => setDialog('resize')} isDisabled={running}>
        Resize
      </Button>
      <Button variant="secondary" onClick={() => setDialog('upgrade')} isDisabled={running}>
        Upgrade
      </Button>
      <Button variant="secondary" onClick={() => setDialog('rotate')} isDisabled={running}>
        Rotate cloud credentials
      </Button>
      <Button variant="danger" onClick={() => setDialog('delete')} isDisabled={running}>
        Delete
      </Button>
    </Flex>
  );
  const groups = c.spec.nodeGroups.map((g) => `${g.name}: ${g.count} × ${g.flavor}`).join(', ');

  return (
    <PageView
      title={c.name}
      description={
        busyReason ??
        'Resize, upgrade, rotate its cloud credentials or delete the cluster; each runs as a job in kaas.'
      }
      actions={actions}
    >
      {key && (
        <Alert
          variant="warning"
          isInline
          title="Save the cluster's SSH private key now: it is shown only once."
          actionClose={<AlertActionCloseButton onClose={props.onDismissKey} />}
          actionLinks={
            <AlertActionLink
              onClick={() => saveFile(`kaas-${key.name}-ssh-key.pem`, key.privateKey, 'text/plain')}
            >
              Download SSH private key
            </AlertActionLink>
          }
          className="kaas-gap-bottom"
        >
          kaas generated a keypair for the cluster's servers and keeps no copy of the private key.
        </Alert>
      )}
      <Card className="kaas-gap-bottom">
        <CardBody>
          <DescriptionList isHorizontal columnModifier={{ default: '1Col', lg: '2Col' }}>
            <DescriptionListGroup>
              <DescriptionListTerm>State</DescriptionListTerm>
              <DescriptionListDescription data-testid="cluster-state">
                <ClusterStateLabel status={c.status} />
              </DescriptionListDescription>
            </DescriptionListGroup>
            <DescriptionListGroup>
              <DescriptionListTerm>OpenStack project</DescriptionListTerm>
              <DescriptionListDescription data-testid="cluster-project">
                {c.project?.name ?? 'Unknown'}
              </DescriptionListDescription>
            </DescriptionListGroup>
            <DescriptionListGroup>
              <DescriptionListTerm>Kubernetes version</DescriptionListTerm>
              <DescriptionListDescription>{c.spec.kubernetesVersion}</DescriptionListDescription>
            </DescriptionListGroup>
            <DescriptionListGroup>
              <DescriptionListTerm>Masters</DescriptionListTerm>
              <DescriptionListDescription>
                {c.spec.masters} × {c.spec.masterFlavor}
              </DescriptionListDescription>
            </DescriptionListGroup>
            <DescriptionListGroup>
              <DescriptionListTerm>Node groups</DescriptionListTerm>
              <DescriptionListDescription data-testid="cluster-groups">{groups}</DescriptionListDescription>
            </DescriptionListGroup>
            <DescriptionListGroup>
              <DescriptionListTerm>Auto-healing</DescriptionListTerm>
              <DescriptionListDescription>
                <Flex spaceItems={{ default: 'spaceItemsSm' }}>
                  <span data-testid="cluster-autoheal">{autoHealText(c.spec)}</span>
                  <Button variant="link" isInline onClick={() => setDialog('autoheal')}>
                    Change auto-healing
                  </Button>
                </Flex>
              </DescriptionListDescription>
            </DescriptionListGroup>
            <DescriptionListGroup>
              <DescriptionListTerm>Nodes Ready</DescriptionListTerm>
              <DescriptionListDescription>
                <NodesSummary observed={c.observed ?? null} />
              </DescriptionListDescription>
            </DescriptionListGroup>
            <DescriptionListGroup>
              <DescriptionListTerm>Created</DescriptionListTerm>
              <DescriptionListDescription>{formatDateTime(c.createdAt)}</DescriptionListDescription>
            </DescriptionListGroup>
          </DescriptionList>
        </CardBody>
      </Card>
      {retryError && <Alert variant="danger" isInline title={retryError} className="kaas-gap-bottom" />}
      {job.error && (
        <Alert variant="warning" isInline title="Progress could not be read" className="kaas-gap-bottom">
          {job.error} Trying again.
        </Alert>
      )}
      {job.view ? (
        <JobProgress view={job.view} events={job.events} onRetry={retry} retrying={retrying} />
      ) : (
        followed && (
          <Bullseye className="kaas-loading">
            <Spinner aria-label="Loading the job's progress" />
          </Bullseye>
        )
      )}
      {dialog === 'resize' && (
        <ResizeModal
          cluster={c}
          onJob={started}
          onSaved={cluster.reload}
          onClose={() => setDialog(undefined)}
        />
      )}
      {dialog === 'upgrade' && (
        <UpgradeModal cluster={c} onJob={started} onClose={() => setDialog(undefined)} />
      )}
      {dialog === 'rotate' && (
        <RotateCredentialsModal cluster={c} onJob={started} onClose={() => setDialog(undefined)} />
      )}
      {dialog === 'autoheal' && (
        <AutoHealModal cluster={c} onSaved={cluster.reload} onClose={() => setDialog(undefined)} />
      )}
      {dialog === 'delete' && (
        <DeleteClusterModal cluster={c} onJob={started} onClose={() => setDialog(undefined)} />
      )}
    </PageView>
  );
}
