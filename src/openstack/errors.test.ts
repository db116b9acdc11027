import { describe, expect, it } from 'vitest';
import { UpstreamError } from '../errors.ts';
import {
  codeForStatus,
  errorFromResponse,
  extractErrorMessage,
  isOpenStackError,
  OpenStackError,
  redactUrl,
  requestIdFromHeaders,
} from './errors.ts';

describe('extractErrorMessage', () => {
  it('reads each service format', () => {
    expect(
      extractErrorMessage(
        '{"error":{"code":401,"title":"Unauthorized","message":"The request you have made requires authentication."}}',
      ),
    ).toBe('The request you have made requires authentication.');
    expect(extractErrorMessage('{"badRequest":{"code":400,"message":"Invalid flavorRef provided."}}')).toBe(
      'Invalid flavorRef provided.',
    );
    expect(extractErrorMessage('{"forbidden":{"code":403,"message":"Quota exceeded for cores"}}')).toBe(
      'Quota exceeded for cores',
    );
    expect(
      extractErrorMessage(
        '{"NeutronError":{"type":"OverQuota","message":"Quota exceeded for resources: [\'port\'].","detail":""}}',
      ),
    ).toBe("Quota exceeded for resources: ['port'].");
    expect(
      extractErrorMessage('{"faultcode":"Client","faultstring":"Load Balancer not found","debuginfo":null}'),
    ).toBe('Load Balancer not found');
    expect(
      extractErrorMessage(
        '<html><h1>Unauthorized</h1><p>This server could not verify that you are authorized.</p></html>',
      ),
    ).toBe('Unauthorized This server could not verify that you are authorized.');
    expect(extractErrorMessage('<html><body>oops</body></html>')).toBe('oops');
    expect(extractErrorMessage('Container not found')).toBe('Container not found');
    expect(extractErrorMessage('{"weird": 1}')).toBe('{"weird": 1}');
    expect(extractErrorMessage('{not json')).toBe('{not json');
    expect(extractErrorMessage('')).toBeUndefined();
    expect(extractErrorMessage(undefined)).toBeUndefined();
    expect(extractErrorMessage('x'.repeat(1000))?.length).toBe(401);
  });
});

describe('codeForStatus', () => {
  it('maps statuses and quota answers', () => {
    expect(codeForStatus(401)).toBe('openstack_unauthorized');
    expect(codeForStatus(403)).toBe('openstack_forbidden');
    expect(codeForStatus(403, '{"forbidden":{"message":"Quota exceeded for instances"}}')).toBe(
      'openstack_quota_exceeded',
    );
    expect(codeForStatus(409, '{"NeutronError":{"type":"OverQuota","message":"x"}}')).toBe(
      'openstack_quota_exceeded',
    );
    const octavia =
      '{"faultcode": "Client", "faultstring": "Quota has been met for resources: Load Balancer"}';
    expect(codeForStatus(403, octavia)).toBe('openstack_quota_exceeded');
    const cinder =
      '{"overLimit": {"code": 413, "message": "VolumeLimitExceeded: Maximum number of volumes allowed (0) exceeded for quota \'volumes\'.", "retryAfter": "0"}}';
    expect(codeForStatus(413, cinder)).toBe('openstack_quota_exceeded');
    expect(codeForStatus(403, '{"faultstring": "Policy does not allow this request to be performed."}')).toBe(
      'openstack_forbidden',
    );
    expect(codeForStatus(409)).toBe('openstack_conflict');
    expect(codeForStatus(404)).toBe('openstack_not_found');
    expect(codeForStatus(429)).toBe('openstack_rate_limited');
    expect(codeForStatus(503)).toBe('openstack_unavailable');
    expect(codeForStatus(400)).toBe('openstack_bad_request');
    expect(codeForStatus(500)).toBe('openstack_error');
  });
});

describe('errorFromResponse', () => {
  it('builds an actionable error with request id and a redacted url', () => {
    const err = errorFromResponse({
      service: 'compute',
      method: 'POST',
      url: 'http://nova/v2.1/servers?temp_url_sig=abc&x=1',
      status: 403,
      headers: { 'x-compute-request-id': 'req-1' },
      body: '{"forbidden":{"message":"Quota exceeded for cores: Requested 4, but already used 20 of 20 cores"}}',
    });
    expect(err).toBeInstanceOf(OpenStackError);
    expect(err).toBeInstanceOf(UpstreamError);
    expect(err.code).toBe('openstack_quota_exceeded');
    expect(err.requestId).toBe('req-1');
    expect(err.url).not.toContain('abc');
    expect(err.message).toBe(
      'compute POST /v2.1/servers failed with HTTP 403: Quota exceeded for cores: Requested 4, but already used 20 of 20 cores ' +
        '(the project is over its quota; free resources or ask for a larger quota) [request req-1]',
    );
    expect(isOpenStackError(err)).toBe(true);
    expect(isOpenStackError(err, 'openstack_quota_exceeded')).toBe(true);
    expect(isOpenStackError(err, 'openstack_forbidden')).toBe(false);
    expect(isOpenStackError(new Error('x'))).toBe(false);
  });

  it('says "wrong username or password" for a rejected credential auth', () => {
    const err = errorFromResponse({
      service: 'identity',
      method: 'POST',
      url: 'http://k/v3/auth/tokens',
      status: 401,
      headers: { 'x-openstack-request-id': 'req-2' },
      body: '{"error":{"message":"The request you have made requires authentication."}}',
      credentialAuth: true,
    });
    expect(err.code).toBe('openstack_unauthorized');
    expect(err.message).toMatch(/wrong username or password.*\[request req-2\]/);
  });

  it('treats an unknown application credential (Keystone 404 on auth) as openstack_unauthorized', () => {
    const err = errorFromResponse({
      service: 'identity',
      method: 'POST',
      url: 'http://k/v3/auth/tokens',
      status: 404,
      headers: {},
      body: '{"error":{"code":404,"message":"Could not find Application Credential: x."}}',
      credentialAuth: true,
    });
    expect(err.code).toBe('openstack_unauthorized');
    expect(err.status).toBe(404);
  });
});

describe('helpers', () => {
  it('finds request ids from every service', () => {
    expect(requestIdFromHeaders({ 'x-openstack-request-id': 'a' })).toBe('a');
    expect(requestIdFromHeaders({ 'x-compute-request-id': ['b'] })).toBe('b');
    expect(requestIdFromHeaders({ 'x-trans-id': 'tx1' })).toBe('tx1');
    expect(requestIdFromHeaders({})).toBeUndefined();
  });
  it('redacts secrets in query strings only', () => {
    expect(redactUrl('http://h/p?temp_url_sig=s&temp_url_expires=1')).toBe(
      'http://h/p?temp_url_sig=redacted&temp_url_expires=1',
    );
    expect(redactUrl('http://h/p?name=x')).toBe('http://h/p?name=x');
    expect(redactUrl('not a url?token=x')).toBe('not a url');
  });
});
