import { Alert, Button, Form, Modal, ModalBody, ModalFooter, ModalHeader } from '@patternfly/react-core';
import type { ReactNode } from 'react';
import { useSubmit } from '../useSubmit.ts';

/**
 * A dialog for one write: what it does, optional form fields, and the submit button; the server's
 * refusal stays in the dialog, success closes it.
 */
export function OperationModal(props: {
  id: string;
  title: string;
  description: ReactNode;
  submitLabel: string;
  /** Destructive: a warning icon and a red button. */
  danger?: boolean;
  canSubmit?: boolean;
  submit: () => Promise<void>;
  onClose: () => void;
  children?: ReactNode;
}) {
  const { busy, error, run } = useSubmit(props.submit, props.onClose);
  return (
    <Modal isOpen variant="small" onClose={props.onClose} aria-labelledby={`${props.id}-title`}>
      <ModalHeader
        title={props.title}
        labelId={`${props.id}-title`}
        {...(props.danger ? { titleIconVariant: 'warning' as const } : {})}
      />
      <ModalBody>
        {props.description}
        {props.children && (
          <Form
            id={props.id}
            className="kaas-gap-top"
            onSubmit={(e) => {
              e.preventDefault();
              void run();
            }}
          >
            {props.children}
          </Form>
        )}
        {error && <Alert variant="danger" isInline title={error} className="kaas-gap-top" />}
      </ModalBody>
      <ModalFooter>
        <Button
          variant={props.danger ? 'danger' : 'primary'}
          onClick={() => void run()}
          isLoading={busy}
          isDisabled={busy || props.canSubmit === false}
        >
          {props.submitLabel}
        </Button>
        <Button variant="link" onClick={props.onClose}>
          Cancel
        </Button>
      </ModalFooter>
    </Modal>
  );
}

/** A destructive action's confirmation: says what will break, shows the error if it fails. */
export function ConfirmModal(props: {
  title: string;
  children: ReactNode;
  confirmLabel: string;
  onConfirm: () => Promise<void>;
  onClose: () => void;
}) {
  return (
    <OperationModal
      id="confirm"
      title={props.title}
      description={props.children}
      submitLabel={props.confirmLabel}
      danger
      submit={props.onConfirm}
      onClose={props.onClose}
    />
  );
}
