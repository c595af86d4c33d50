// Identity: who is calling (verified OIDC access tokens) and their user row.
export { ROLES, isRole, rolesFromClaims, type Role } from './roles';
export { createTokenVerifier, invalidToken, missingToken, type TokenVerifier, type TokenVerifierOptions, type VerifiedToken } from './token-verifier';
export { AmbiguousEmailError, createKnexUserStore, type TokenIdentity, type User, type UserStore } from './user-store';
