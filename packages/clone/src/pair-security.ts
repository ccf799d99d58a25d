/**
 * CURVE within a pair: both servers share one key pair, the passive follows the active with it,
 * and the Binary Star state channel uses it too.
 */
import type { SecurityOptions, ZapRequest } from '@zpatterns/core';
import { resolveCurveKeys } from '@zpatterns/core/internal';

/** A pair's bound sockets admit the pair's own key on top of the allow-list (operators need not list it). */
export function withPeerAdmitted(security: SecurityOptions | undefined, paired: boolean): SecurityOptions | undefined {
  const authorize = security?.authorize;
  if (security === undefined || !paired || authorize === undefined) return security;
  const own = resolveCurveKeys(security.curve).publicKey;
  const allowed = (request: ZapRequest): boolean => {
    if (request.publicKey === own) return true;
    if (typeof authorize === 'function') return authorize(request);
    return authorize.has(request.publicKey ?? '');
  };
  return { ...security, authorize: allowed };
}

/** The links to the peer: the same keys, the peer as server. */
export function peerSecurity(security: SecurityOptions | undefined): SecurityOptions | undefined {
  if (security === undefined) return undefined;
  const keys = resolveCurveKeys(security.curve);
  return { curve: { ...keys, serverPublicKey: security.curve.serverPublicKey ?? keys.publicKey } };
}
