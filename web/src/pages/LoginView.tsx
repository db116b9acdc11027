import { ActionGroup, Alert, Button, Form, FormGroup, LoginPage, TextInput } from '@patternfly/react-core';
import { useState } from 'react';
import { api, ApiError, type Session } from '../api.ts';

/**
 * Login with OpenStack (Keystone) credentials. This session is for the control panel only;
 * kubectl authenticates with the API tokens created here.
 */
export function LoginView(props: { notice: string | undefined; onLogin: (s: Session) => void }) {
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [domain, setDomain] = useState('Default');
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);

  const submit = async (e: React.FormEvent) => {
    e.preventDefault();
    setError(undefined);
    if (!username || !password) {
      setError('Enter your OpenStack user name and password.');
      return;
    }
    setBusy(true);
    try {
      props.onLogin(await api.login(username, password, domain.trim() || 'Default'));
    } catch (err) {
      setBusy(false);
      setPassword('');
      setError(
        err instanceof ApiError && err.status === 401
          ? 'The user name, password or domain is not correct.'
          : (err as Error).message,
      );
    }
  };

  return (
    <LoginPage
      brandImgSrc="/favicon.svg"
      brandImgAlt="kaas"
      loginTitle="Log in to kaas"
      loginSubtitle="Use your OpenStack credentials"
      textContent="Manage API tokens, download kubeconfig files and reach the managed services of your Kubernetes clusters."
    >
      {/* A slot as tall as one message, whether or not one shows, so the form never moves. */}
      <div className="kaas-login-slot">
        {props.notice && !error && <Alert variant="info" isInline title={props.notice} />}
        {error && <Alert variant="danger" isInline title={error} data-testid="login-error" />}
      </div>
      <Form onSubmit={submit} noValidate>
        <FormGroup label="User name" isRequired fieldId="login-username">
          <TextInput
            id="login-username"
            name="username"
            autoComplete="username"
            isRequired
            value={username}
            onChange={(_e, v) => setUsername(v)}
            validated={error && !username ? 'error' : 'default'}
          />
        </FormGroup>
        <FormGroup label="Password" isRequired fieldId="login-password">
          <TextInput
            id="login-password"
            name="password"
            type="password"
            autoComplete="current-password"
            isRequired
            value={password}
            onChange={(_e, v) => setPassword(v)}
          />
        </FormGroup>
        <FormGroup label="Domain" fieldId="login-domain">
          <TextInput id="login-domain" name="domain" value={domain} onChange={(_e, v) => setDomain(v)} />
        </FormGroup>
        <ActionGroup>
          <Button type="submit" variant="primary" isBlock isLoading={busy} isDisabled={busy}>
            Log in
          </Button>
        </ActionGroup>
      </Form>
    </LoginPage>
  );
}
