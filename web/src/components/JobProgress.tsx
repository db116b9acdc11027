import { Alert, AlertActionLink, Card, CardBody, CardTitle, Icon } from '@patternfly/react-core';
import CheckCircleIcon from '@patternfly/react-icons/dist/esm/icons/check-circle-icon';
import ExclamationCircleIcon from '@patternfly/react-icons/dist/esm/icons/exclamation-circle-icon';
import InProgressIcon from '@patternfly/react-icons/dist/esm/icons/in-progress-icon';
import OutlinedCircleIcon from '@patternfly/react-icons/dist/esm/icons/outlined-circle-icon';
import type { JobEvent, JobView } from '../api.ts';
import { formatDateTime } from '../format.ts';

const KIND = {
  create: 'Create',
  resize: 'Resize',
  upgrade: 'Upgrade',
  delete: 'Delete',
  rotate: 'Rotate credentials',
  heal: 'Heal node',
} as const;

/** A step's state as an icon (with its name for screen readers). */
function StepIcon(props: { state: string }) {
  const { state } = props;
  if (state === 'done')
    return (
      <Icon status="success" aria-label="done">
        <CheckCircleIcon />
      </Icon>
    );
  if (state === 'failed')
    return (
      <Icon status="danger" aria-label="failed">
        <ExclamationCircleIcon />
      </Icon>
    );
  if (state === 'running')
    return (
      <Icon status="info" aria-label="running">
        <InProgressIcon />
      </Icon>
    );
  return (
    <Icon aria-label={state}>
      <OutlinedCircleIcon />
    </Icon>
  );
}

/** The job's failure as the failed step reported it, with Retry (from that step). */
function JobFailure(props: { view: JobView; onRetry: () => void; retrying: boolean }) {
  const { job, steps } = props.view;
  const failed = steps.find((s) => s.state === 'failed');
  const error = failed?.error ?? job.error;
  return (
    <Alert
      variant="danger"
      isInline
      title={`${KIND[job.kind]} failed${failed ? ` at step ${failed.stepId}` : ''}`}
      actionLinks={
        <AlertActionLink onClick={props.onRetry} isDisabled={props.retrying}>
          Retry
        </AlertActionLink>
      }
      data-testid="job-failure"
    >
      {error ? `${error.message} (${error.code})` : 'The job stopped without saying why.'}
    </Alert>
  );
}

/** A job's steps as a stepper, its failure with Retry, and its events newest first. */
export function JobProgress(props: {
  view: JobView;
  events: JobEvent[];
  onRetry: () => void;
  retrying: boolean;
}) {
  const { job, steps } = props.view;
  const done = steps.filter((s) => s.state === 'done').length;
  return (
    <Card>
      <CardTitle>
        {KIND[job.kind]} job: {job.state} ({done} of {steps.length} steps done)
      </CardTitle>
      <CardBody>
        {job.state === 'failed' && (
          <JobFailure view={props.view} onRetry={props.onRetry} retrying={props.retrying} />
        )}
        <ol className="kaas-steps" aria-label={`Steps of the ${job.kind} job`}>
          {steps.map((s) => (
            <li
              key={s.stepId}
              className="kaas-step"
              aria-current={s.state === 'running' ? 'step' : undefined}
            >
              <StepIcon state={s.state} />
              <span className="kaas-mono">{s.stepId}</span>
            </li>
          ))}
        </ol>
      </CardBody>
      <CardTitle>Events</CardTitle>
      <CardBody>
        {props.events.length === 0 ? (
          <span className="kaas-subtitle">No events yet.</span>
        ) : (
          <ul className="kaas-events" aria-label="Job events">
            {[...props.events].reverse().map((e, i) => (
              <li key={`${e.at}-${i}`} className={`kaas-event kaas-event-${e.level}`}>
                <span className="kaas-subtitle kaas-nowrap">{formatDateTime(e.at)}</span>{' '}
                {e.stepId && <span className="kaas-mono">{e.stepId}</span>} {e.message}
              </li>
            ))}
          </ul>
        )}
      </CardBody>
    </Card>
  );
}
