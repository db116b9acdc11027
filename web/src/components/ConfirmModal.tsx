import { Alert, Button, Modal, ModalBody, ModalFooter, ModalHeader } from '@patternfly/react-core';
import type { ReactNode } from 'react';
import { useSubmit } from '../useSubmit.ts';

/** A destructive action's confirmation: says what will break, shows the error if it fails. */
export function ConfirmModal(props: {
  title: string;
  children: ReactNode;
  confirmLabel: string;
  onConfirm: () => Promise<void>;
  onClose: () => void;
}) {
  const { busy, error, run: confirm } = useSubmit(props.onConfirm, props.onClose);
  return (
    <Modal isOpen variant="small" onClose={props.onClose} aria-labelledby="confirm-title">
      <ModalHeader title={props.title} titleIconVariant="warning" labelId="confirm-title" />
      <ModalBody>
        {props.children}
        {error && <Alert variant="danger" isInline title={error} className="kaas-gap-top" />}
      </ModalBody>
      <ModalFooter>
        <Button variant="danger" onClick={confirm} isLoading={busy} isDisabled={busy}>
          {props.confirmLabel}
        </Button>
        <Button variant="link" onClick={props.onClose}>
          Cancel
        </Button>
      </ModalFooter>
    </Modal>
  );
}
