import { InputError } from '../errors.ts';

/** The TokenReview API versions kube-apiserver may send (`--authentication-token-webhook-version`). */
export const TOKENREVIEW_VERSIONS = ['authentication.k8s.io/v1', 'authentication.k8s.io/v1beta1'] as const;
export type TokenReviewVersion = (typeof TOKENREVIEW_VERSIONS)[number];

/** The part of a TokenReview request kaas reads. */
export interface TokenReviewRequest {
  apiVersion: TokenReviewVersion;
  token: string;
  /** Undefined when the request names none (the apiserver's own audience is then implied). */
  audiences: string[] | undefined;
}

/** The user a TokenReview vouches for. `extra` values are string arrays, as the API requires. */
export interface ReviewedUser {
  username: string;
  uid: string;
  groups: string[];
  extra: Record<string, string[]>;
}

const MAX_TOKEN_LENGTH = 4096;

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Validates a TokenReview request body; InputError (400) names what is wrong. Never echoes the token. */
export function parseTokenReview(body: unknown): TokenReviewRequest {
  if (!isObject(body)) throw new InputError('body must be a TokenReview JSON object');
  const { apiVersion, kind, spec } = body;
  if (!TOKENREVIEW_VERSIONS.includes(apiVersion as TokenReviewVersion)) {
    throw new InputError(`apiVersion must be one of ${TOKENREVIEW_VERSIONS.join(', ')}`, {
      field: 'apiVersion',
    });
  }
  if (kind !== 'TokenReview') throw new InputError('kind must be TokenReview', { field: 'kind' });
  if (!isObject(spec)) throw new InputError('spec must be an object', { field: 'spec' });
  // An empty token is a well-formed request for a credential that authenticates nobody: it is
  // answered (authenticated: false), not refused as malformed.
  if (typeof spec.token !== 'string') {
    throw new InputError('spec.token must be a string', { field: 'spec.token' });
  }
  if (spec.token.length > MAX_TOKEN_LENGTH) {
    throw new InputError(`spec.token is longer than ${MAX_TOKEN_LENGTH} characters`, { field: 'spec.token' });
  }
  let audiences: string[] | undefined;
  if (spec.audiences !== undefined && spec.audiences !== null) {
    if (!Array.isArray(spec.audiences) || !spec.audiences.every((a) => typeof a === 'string')) {
      throw new InputError('spec.audiences must be an array of strings', { field: 'spec.audiences' });
    }
    audiences = spec.audiences.length > 0 ? (spec.audiences as string[]) : undefined;
  }
  return { apiVersion: apiVersion as TokenReviewVersion, token: spec.token, audiences };
}

/** The audiences to answer: the intersection, or undefined when the request named none. */
export function matchAudiences(
  requested: string[] | undefined,
  accepted: readonly string[],
): string[] | undefined {
  if (requested === undefined) return undefined;
  return requested.filter((a) => accepted.includes(a));
}

/** A TokenReview answer in the request's apiVersion; `spec` (with the token) is never echoed. */
export function tokenReviewResponse(
  apiVersion: TokenReviewVersion,
  result: { user: ReviewedUser; audiences?: string[] } | { error: string },
) {
  const status =
    'user' in result
      ? {
          authenticated: true,
          user: result.user,
          ...(result.audiences ? { audiences: result.audiences } : {}),
        }
      : { authenticated: false, error: result.error };
  return { apiVersion, kind: 'TokenReview', metadata: { creationTimestamp: null }, status };
}

/** Each version's answer up to `"authenticated":`, as JSON.stringify writes tokenReviewResponse's. */
const answerHeads = new Map(
  TOKENREVIEW_VERSIONS.map((v) => [
    v,
    `{"apiVersion":${JSON.stringify(v)},"kind":"TokenReview","metadata":{"creationTimestamp":null},"status":{"authenticated":`,
  ]),
);
/** Users' JSON, by user object: the identity cache answers every review of a token with the same one. */
const userJson = new WeakMap<ReviewedUser, string>();

/**
 * JSON.stringify(tokenReviewResponse(apiVersion, result)), byte for byte, without building and
 * serialising a generic object per review: the fixed parts are written once, and a user (never
 * changed once made) is serialised once per object.
 */
export function tokenReviewJson(
  apiVersion: TokenReviewVersion,
  result: { user: ReviewedUser; audiences?: string[] } | { error: string },
): string {
  const head = answerHeads.get(apiVersion) as string;
  if (!('user' in result)) return `${head}false,"error":${JSON.stringify(result.error)}}}`;
  let user = userJson.get(result.user);
  if (user === undefined) {
    user = JSON.stringify(result.user);
    userJson.set(result.user, user);
  }
  const audiences = result.audiences ? `,"audiences":${JSON.stringify(result.audiences)}` : '';
  return `${head}true,"user":${user}${audiences}}}`;
}
