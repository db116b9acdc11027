import { describe, expect, it } from 'vitest';
import {
  TOKENREVIEW_VERSIONS,
  matchAudiences,
  parseTokenReview,
  tokenReviewJson,
  tokenReviewResponse,
} from './tokenreview.ts';

const valid = {
  kind: 'TokenReview',
  apiVersion: 'authentication.k8s.io/v1',
  metadata: { creationTimestamp: null },
  spec: { token: 'kaas_x', audiences: ['https://kubernetes.default.svc.cluster.local'] },
  status: { user: {} },
};

describe('parseTokenReview', () => {
  it('reads v1 and v1beta1', () => {
    expect(parseTokenReview(valid)).toEqual({
      apiVersion: 'authentication.k8s.io/v1',
      token: 'kaas_x',
      audiences: ['https://kubernetes.default.svc.cluster.local'],
    });
    const beta = parseTokenReview({
      ...valid,
      apiVersion: 'authentication.k8s.io/v1beta1',
      spec: { token: 't', audiences: [] },
    });
    expect(beta).toEqual({ apiVersion: 'authentication.k8s.io/v1beta1', token: 't', audiences: undefined });
  });

  it.each([
    [null, /TokenReview JSON object/],
    [[1], /TokenReview JSON object/],
    [{ ...valid, apiVersion: 'authentication.k8s.io/v2' }, /apiVersion must be one of/],
    [{ ...valid, kind: 'SubjectAccessReview' }, /kind must be TokenReview/],
    [{ ...valid, spec: 'x' }, /spec must be an object/],
    [{ ...valid, spec: {} }, /spec.token must be a string/],
    [{ ...valid, spec: { token: 'x'.repeat(5000) } }, /longer than 4096/],
    [{ ...valid, spec: { token: 't', audiences: [1] } }, /spec.audiences must be an array of strings/],
  ])('rejects %j', (body, message) => {
    expect(() => parseTokenReview(body)).toThrow(message);
  });

  it('never puts the token in an error message', () => {
    expect(() => parseTokenReview({ ...valid, kind: 'X', spec: { token: 'kaas_secret' } })).toThrow(
      expect.objectContaining({ message: expect.not.stringContaining('kaas_secret') }),
    );
  });
});

describe('audiences and response', () => {
  it('intersects', () => {
    expect(matchAudiences(undefined, ['a'])).toBeUndefined();
    expect(matchAudiences(['a', 'b'], ['b', 'c'])).toEqual(['b']);
    expect(matchAudiences(['x'], ['b'])).toEqual([]);
  });
  it('answers without spec', () => {
    const user = { username: 'u', uid: '1', groups: ['r'], extra: {} };
    expect(tokenReviewResponse('authentication.k8s.io/v1beta1', { user, audiences: ['a'] })).toEqual({
      apiVersion: 'authentication.k8s.io/v1beta1',
      kind: 'TokenReview',
      metadata: { creationTimestamp: null },
      status: { authenticated: true, user, audiences: ['a'] },
    });
    expect(tokenReviewResponse('authentication.k8s.io/v1', { error: 'nope' }).status).toEqual({
      authenticated: false,
      error: 'nope',
    });
  });
  it('writes the same bytes as JSON.stringify of the response, serialising each user once', () => {
    const user = {
      username: 'kaas:D\u00e9fault:"quoted"\\\u2028',
      uid: '1',
      groups: ['r1', 'r2'],
      extra: { 'kaas.io/role-names': ['member', '\u0000odd'], 'kaas.io/project-id': ['p'] },
    };
    const results = [
      { user },
      { user, audiences: ['https://kubernetes.default.svc'] },
      { user, audiences: [] },
      { user: { username: 'u', uid: '2', groups: [], extra: {} } },
      { error: 'token is "unknown"\n' },
    ];
    for (const version of TOKENREVIEW_VERSIONS) {
      for (const result of results) {
        expect(tokenReviewJson(version, result)).toBe(JSON.stringify(tokenReviewResponse(version, result)));
        // The second answer comes from the user's memoised JSON.
        expect(tokenReviewJson(version, result)).toBe(JSON.stringify(tokenReviewResponse(version, result)));
      }
    }
  });
});
