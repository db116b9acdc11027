import { Alert, Button, Modal, ModalBody, ModalFooter, ModalHeader } from '@patternfly/react-core';
import { useState, type ReactNode } from 'react';

/** A destructive action's confirmation: says what will break, shows the error if it fails. */
export function ConfirmModal(props: {
  title: string;
  children: ReactNode;
  confirmLabel: string;
  onConfirm: () => Promise<void>;
  onClose: () => void;
}) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string>();
  const confirm = async () => {
    setBusy(true);
    setError(undefined);
    try {
      await props.onConfirm();
      props.onClose();
    } catch (e) {
      setError((e as Error).message);
      setBusy(false);
    }
  };
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
