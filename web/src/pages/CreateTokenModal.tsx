import {
  Alert,
  Button,
  Checkbox,
  ClipboardCopy,
  ClipboardCopyButton,
  CodeBlock,
  CodeBlockCode,
  Content,
  Form,
  FormGroup,
  FormHelperText,
  FormSelect,
  FormSelectOption,
  HelperText,
  HelperTextItem,
  Modal,
  ModalBody,
  ModalFooter,
  ModalHeader,
  TextInput,
  Title,
} from '@patternfly/react-core';
import { useState } from 'react';
import { api, type NewToken } from '../api.ts';
import { formatDate, saveFile } from '../format.ts';
import type { ClusterContext } from '../App.tsx';

const EXPIRY_CHOICES = [
  { days: 30, label: '30 days' },
  { days: 90, label: '90 days' },
  { days: 365, label: '1 year (default)' },
  { days: 730, label: '2 years' },
];

/**
 * Creates a token, then shows it exactly once with copy buttons and paste-ready kubectl and
 * kubeconfig snippets. Closing the dialog forgets the secret.
 */
export function CreateTokenModal(props: {
  cluster: ClusterContext | undefined;
  userName: string;
  onCreated: () => void;
  onClose: () => void;
}) {
  const [name, setName] = useState('');
  const [days, setDays] = useState('365');
  const [onlyThisCluster, setOnlyThisCluster] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<{ message: string; field?: string }>();
  const [created, setCreated] = useState<NewToken>();
  const [downloadError, setDownloadError] = useState<string>();
  const [snippetCopied, setSnippetCopied] = useState(false);

  const create = async (e?: React.FormEvent) => {
    e?.preventDefault();
    if (!name.trim()) {
      setError({
        message: 'Give the token a name, e.g. the machine or pipeline that will use it.',
        field: 'name',
      });
      return;
    }
    setBusy(true);
    setError(undefined);
    try {
      const clusters = onlyThisCluster && props.cluster ? [props.cluster.id] : undefined;
      setCreated(await api.createToken(name.trim(), Number(days), clusters));
      props.onCreated();
    } catch (err) {
      setError({ message: (err as Error).message, field: (err as { field?: string }).field });
    } finally {
      setBusy(false);
    }
  };

  const download = async () => {
    if (!created || !props.cluster) return;
    setDownloadError(undefined);
    try {
      saveFile(
        `kubeconfig-${props.cluster.name}.yaml`,
        await api.kubeconfigWithToken(props.cluster.id, created.token),
      );
    } catch (err) {
      setDownloadError((err as Error).message);
    }
  };

  if (created) {
    const user = props.cluster ? `${props.userName}@${props.cluster.name}` : props.userName;
    const kubeconfigUser = `users:\n- name: ${user}\n  user:\n    token: ${created.token}`;
    return (
      <Modal isOpen variant="medium" onClose={props.onClose} aria-labelledby="token-created-title">
        <ModalHeader
          title={`Token "${created.name}" created`}
          titleIconVariant="success"
          labelId="token-created-title"
        />
        <ModalBody>
          <Alert variant="warning" isInline title="Copy the token now: it is shown only once.">
            kaas keeps only a hash of it. If you lose it, delete it and create a new one. It expires on{' '}
            {formatDate(created.expiresAt)}.
          </Alert>
          <Title headingLevel="h3" size="md" className="kaas-gap-top">
            Token
          </Title>
          <ClipboardCopy
            isReadOnly
            hoverTip="Copy token"
            clickTip="Copied"
            textAriaLabel="New API token"
            copyAriaLabel="Copy token"
            data-testid="new-token"
          >
            {created.token}
          </ClipboardCopy>
          {props.cluster && (
            <>
              <Title headingLevel="h3" size="md" className="kaas-gap-top">
                Use it with kubectl
              </Title>
              {/* Through the cluster's own kubeconfig: a bare --token would go to whatever cluster the
                  current context names, handing it the secret. */}
              <Content component="p">
                Download the kubeconfig for <strong>{props.cluster.name}</strong> below (it holds this token),
                then:
              </Content>
              <ClipboardCopy
                isReadOnly
                isCode
                hoverTip="Copy command"
                clickTip="Copied"
                textAriaLabel="kubectl command"
              >
                {`kubectl --kubeconfig ~/Downloads/kubeconfig-${props.cluster.name}.yaml get namespaces`}
              </ClipboardCopy>
            </>
          )}
          <Title headingLevel="h3" size="md" className="kaas-gap-top">
            Or add it to a kubeconfig
          </Title>
          <CodeBlock
            actions={
              <ClipboardCopyButton
                id="copy-kubeconfig-snippet"
                variant="plain"
                aria-label="Copy kubeconfig snippet"
                onClick={() => {
                  void navigator.clipboard.writeText(kubeconfigUser).then(() => setSnippetCopied(true));
                }}
                onTooltipHidden={() => setSnippetCopied(false)}
              >
                {snippetCopied ? 'Copied' : 'Copy snippet'}
              </ClipboardCopyButton>
            }
          >
            <CodeBlockCode>{kubeconfigUser}</CodeBlockCode>
          </CodeBlock>
          {downloadError && (
            <Alert variant="danger" isInline title={downloadError} className="kaas-gap-top" />
          )}
        </ModalBody>
        <ModalFooter className="kaas-wrap-footer">
          <Button variant="primary" onClick={props.onClose}>
            Done
          </Button>
          {props.cluster && (
            <Button variant="secondary" onClick={download}>
              Download kubeconfig
            </Button>
          )}
        </ModalFooter>
      </Modal>
    );
  }

  return (
    <Modal isOpen variant="small" onClose={props.onClose} aria-labelledby="create-token-title">
      <ModalHeader
        title="Create API token"
        labelId="create-token-title"
        description="kubectl and other Kubernetes clients authenticate with this token as you."
      />
      <ModalBody>
        <Form id="create-token-form" onSubmit={create}>
          <FormGroup label="Name" isRequired fieldId="token-name">
            <TextInput
              id="token-name"
              isRequired
              value={name}
              onChange={(_e, v) => setName(v)}
              validated={error?.field === 'name' ? 'error' : 'default'}
              placeholder="e.g. laptop, ci-pipeline"
              autoFocus
            />
            <FormHelperText>
              <HelperText>
                <HelperTextItem variant={error?.field === 'name' ? 'error' : 'default'}>
                  {error?.field === 'name' ? error.message : 'Helps you recognise the token later.'}
                </HelperTextItem>
              </HelperText>
            </FormHelperText>
          </FormGroup>
          <FormGroup label="Expires after" fieldId="token-expiry">
            <FormSelect id="token-expiry" value={days} onChange={(_e, v) => setDays(v)}>
              {EXPIRY_CHOICES.map((c) => (
                <FormSelectOption key={c.days} value={String(c.days)} label={c.label} />
              ))}
            </FormSelect>
          </FormGroup>
          {props.cluster && (
            <Checkbox
              id="token-only-cluster"
              label={`Valid only on cluster ${props.cluster.name}`}
              description="Other clusters refuse the token."
              isChecked={onlyThisCluster}
              onChange={(_e, checked) => setOnlyThisCluster(checked)}
            />
          )}
        </Form>
        {error && error.field !== 'name' && (
          <Alert variant="danger" isInline title={error.message} className="kaas-gap-top" />
        )}
      </ModalBody>
      <ModalFooter>
        <Button variant="primary" type="submit" form="create-token-form" isLoading={busy} isDisabled={busy}>
          Create
        </Button>
        <Button variant="link" onClick={props.onClose}>
          Cancel
        </Button>
      </ModalFooter>
    </Modal>
  );
}
