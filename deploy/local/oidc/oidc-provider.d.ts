// oidc-provider ships no types and DefinitelyTyped's lag behind v9; this
// declares the small surface the dev provider uses.
declare module 'oidc-provider' {
  import type { IncomingMessage, ServerResponse } from 'node:http';

  export interface KoaContext {
    method: string;
    path: string;
    url: string;
    status: number;
    body: unknown;
    type: string;
    req: IncomingMessage;
    res: ServerResponse;
    request: { body?: unknown };
    params?: Record<string, string>;
    query: Record<string, string | string[] | undefined>;
    host: string;
    oidc: any;
    set(field: string, value: string): void;
    redirect(url: string): void;
  }

  export type Next = () => Promise<void>;
  export type Middleware = (ctx: KoaContext, next: Next) => Promise<void> | void;

  export interface Interaction {
    uid: string;
    prompt: { name: string; reasons: string[]; details: Record<string, any> };
    params: Record<string, any>;
    session?: { accountId?: string; uid?: string; cookie?: string };
    grantId?: string;
    lastSubmission?: Record<string, any>;
  }

  export interface GrantInstance {
    addOIDCScope(scope: string): void;
    addOIDCClaims(claims: string[]): void;
    addResourceScope(indicator: string, scope: string): void;
    save(): Promise<string>;
  }

  export class Provider {
    constructor(issuer: string, configuration: Record<string, any>);
    issuer: string;
    proxy: boolean;
    use(middleware: Middleware): void;
    callback(): (req: IncomingMessage, res: ServerResponse) => void;
    on(event: string, listener: (...args: any[]) => void): this;
    interactionDetails(req: IncomingMessage, res: ServerResponse): Promise<Interaction>;
    interactionFinished(req: IncomingMessage, res: ServerResponse, result: Record<string, unknown>, options?: { mergeWithLastSubmission?: boolean }): Promise<void>;
    Grant: {
      new (properties: { accountId: string; clientId: string }): GrantInstance;
      find(id: string): Promise<GrantInstance | undefined>;
    };
    Client: { find(id: string): Promise<{ clientId: string; clientName?: string } | undefined> };
  }

  export class OIDCProviderError extends Error {
    constructor(description?: string);
    status: number;
    error: string;
    error_description?: string;
  }
  export const errors: {
    OIDCProviderError: typeof OIDCProviderError;
    InvalidRequest: typeof OIDCProviderError;
    InvalidTarget: typeof OIDCProviderError;
    SessionNotFound: typeof OIDCProviderError;
  };

  export default Provider;
}
