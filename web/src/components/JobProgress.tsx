import {
  Alert,
  AlertActionLink,
  Card,
  CardBody,
  CardTitle,
  ProgressStep,
  ProgressStepper,
} from '@patternfly/react-core';
import type { JobEvent, JobStep, JobView } from '../api.ts';
import { formatDateTime } from '../format.ts';

const KIND = { create: 'Create', resize: 'Resize', upgrade: 'Upgrade', delete: 'Delete' } as const;

function variantOf(step: JobStep): 'success' | 'danger' | 'info' | 'pending' {
  if (step.state === 'succeeded') return 'success';
  if (step.state === 'failed') return 'danger';
  if (step.state === 'running') return 'info';
  return 'pending';
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
  const done = steps.filter((s) => s.state === 'succeeded').length;
  return (
    <Card>
      <CardTitle>
        {KIND[job.kind]} job: {job.state} ({done} of {steps.length} steps done)
      </CardTitle>
      <CardBody>
        {job.state === 'failed' && (
          <JobFailure view={props.view} onRetry={props.onRetry} retrying={props.retrying} />
        )}
        <ProgressStepper
          isVertical
          isCompact
          aria-label={`Steps of the ${job.kind} job`}
          className="kaas-gap-top"
        >
          {steps.map((s) => (
            <ProgressStep
              key={s.stepId}
              id={`step-${s.stepId}`}
              titleId={`step-${s.stepId}-title`}
              variant={variantOf(s)}
              isCurrent={s.state === 'running'}
              description={s.error ? s.error.message : s.state}
              aria-label={`${s.stepId}: ${s.state}`}
            >
              {s.stepId}
            </ProgressStep>
          ))}
        </ProgressStepper>
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
