// HTTP to one registry endpoint: its TLS settings, the 401 → credentials →
// retry dance, redirects (blob storage often answers with one to another
// host, which must not see our Authorization header), and turning a failed
// answer into one RegistryError naming host, status and the registry's code.

import { tlsLib } from "../lib/node-libs.ts";
import { basicHeader, fetchToken, parseChallenges, USER_AGENT, type Token } from "./auth.ts";
import { basicCredentials, fetchTLS, type Endpoint } from "./config.ts";
import { RegistryError, registryErrorText } from "./errors.ts";

export interface SendOptions {
  accept?: string[];
  /** Token scope for a bearer challenge: "repository:<name>:pull". */
  scope: string;
  /** Aborts the request and its body. */
  signal?: AbortSignal;
  /** A Range header value ("bytes=0-4194303"). */
  range?: string;
}

/** Until the status line and headers arrive. A body then has its own idle limit (see blob.ts). */
export const HEADER_TIMEOUT_MS = 30_000;
const MAX_REDIRECTS = 5;

type TLSOption = NonNullable<BunFetchRequestInit["tls"]>;

export class EndpointSession {
  private readonly tokens = new Map<string, Token>();
  private basic = false; // the endpoint asked for Basic once: send it up front from then on
  private readonly tlsOption: TLSOption | undefined;

  constructor(readonly endpoint: Endpoint) {
    const t = fetchTLS(endpoint);
    // Bun's `ca` replaces the built-in roots; Talos's `ca` adds to them.
    this.tlsOption = t === undefined ? undefined : { ...t, ...(t.ca !== undefined ? { ca: [...tlsLib().rootCertificates, t.ca] } : {}) };
  }

  get host(): string {
    return this.endpoint.host;
  }

  /** GET/HEAD `path` (relative to the endpoint's /v2). Resolves only with a 2xx response; throws RegistryError. */
  async send(method: "GET" | "HEAD", path: string, opts: SendOptions): Promise<Response> {
    let res = await this.sendOnce(method, path, opts, this.authorization(opts.scope));
    if (res.status === 401) {
      const auth = await this.answerChallenge(res, method, path, opts.scope);
      res = await this.sendOnce(method, path, opts, auth);
    }
    if (res.status >= 200 && res.status < 300) return res;
    throw await this.failure(method, path, res);
  }

  private authorization(scope: string): string | undefined {
    const t = this.tokens.get(scope);
    if (t !== undefined && t.expiresAt > Date.now()) return `Bearer ${t.value}`;
    const creds = basicCredentials(this.endpoint.settings.auth);
    if (this.basic && creds !== undefined) return basicHeader(creds);
    return undefined;
  }

  private async answerChallenge(res: Response, method: string, path: string, scope: string): Promise<string> {
    const header = res.headers.get("www-authenticate") ?? "";
    const challenges = parseChallenges(header);
    const creds = basicCredentials(this.endpoint.settings.auth);
    const bearer = challenges.find((c) => c.scheme === "bearer");
    if (bearer?.params.realm) {
      await res.body?.cancel();
      let token: Token;
      try {
        token = await fetchToken({
          realm: bearer.params.realm,
          ...(bearer.params.service !== undefined ? { service: bearer.params.service } : {}),
          scope: bearer.params.scope || scope,
          ...(creds !== undefined ? { basic: creds } : {}),
          ...(this.endpoint.settings.auth?.identityToken ? { identityToken: this.endpoint.settings.auth.identityToken } : {}),
          send: (url, init) => this.rawFetch(url, init.method, init.headers, undefined, init.body),
        });
      } catch (e) {
        throw new RegistryError(
          `registry ${this.host}: ${method} ${new URL(this.endpoint.api).pathname}${path}: 401 and no token: ${(e as Error).message}`,
          this.host,
          401,
          "UNAUTHORIZED",
        );
      }
      this.tokens.set(scope, token);
      return `Bearer ${token.value}`;
    }
    if (challenges.some((c) => c.scheme === "basic")) {
      if (creds === undefined) throw await this.failure(method, path, res, "the registry wants basic auth and none is configured for this host");
      await res.body?.cancel();
      this.basic = true;
      return basicHeader(creds);
    }
    throw await this.failure(method, path, res, header ? `unsupported challenge "${header}"` : "no WWW-Authenticate challenge");
  }

  private async sendOnce(method: string, path: string, opts: SendOptions, auth: string | undefined): Promise<Response> {
    const headers: Record<string, string> = { "User-Agent": USER_AGENT };
    if (opts.accept !== undefined) headers.Accept = opts.accept.join(", ");
    if (auth !== undefined) headers.Authorization = auth;
    if (opts.range !== undefined) headers.Range = opts.range;
    return this.rawFetch(`${this.endpoint.api}${path}`, method, headers, opts.signal);
  }

  /** fetch with this endpoint's TLS, a header deadline, and redirects followed by hand. */
  private async rawFetch(url: string, method: string, headers: Record<string, string>, signal?: AbortSignal, body?: string): Promise<Response> {
    // Credentials are for the host we asked; a redirect elsewhere (blob storage) must not see them.
    const origin = new URL(url).origin;
    let target = url;
    for (let hop = 0; ; hop++) {
      const h = { ...headers };
      if (new URL(target).origin !== origin) delete h.Authorization;
      const deadline = AbortSignal.timeout(HEADER_TIMEOUT_MS);
      const headerPhase = new AbortController();
      const onDeadline = () => headerPhase.abort(new Error(`no answer within ${HEADER_TIMEOUT_MS / 1000} s`));
      deadline.addEventListener("abort", onDeadline);
      const signals = signal !== undefined ? AbortSignal.any([signal, headerPhase.signal]) : headerPhase.signal;
      let res: Response;
      try {
        res = await fetch(target, {
          method,
          headers: h,
          redirect: "manual",
          decompress: false, // a blob's bytes are what the digest covers
          signal: signals,
          // The endpoint's TLS settings apply to its token realm and redirects too, as containerd's
          // one http.Client per host does; our `ca` keeps the built-in roots, so it only widens trust.
          ...(this.tlsOption !== undefined ? { tls: this.tlsOption } : {}),
          ...(body !== undefined ? { body } : {}),
        });
      } catch (e) {
        const why = e instanceof Error ? e.message || e.name : String(e);
        const code = (e as { code?: unknown }).code;
        throw new RegistryError(
          `registry ${this.host}: ${method} ${target}: cannot connect: ${why}${typeof code === "string" && !why.includes(code) ? ` (${code})` : ""}`,
          this.host,
          0,
        );
      } finally {
        deadline.removeEventListener("abort", onDeadline);
      }
      const loc = res.headers.get("location");
      if (res.status >= 300 && res.status < 400 && loc !== null) {
        if (hop >= MAX_REDIRECTS)
          throw new RegistryError(`registry ${this.host}: ${method} ${url}: more than ${MAX_REDIRECTS} redirects`, this.host, res.status);
        await res.body?.cancel();
        target = new URL(loc, target).toString();
        continue;
      }
      return res;
    }
  }

  private async failure(method: string, path: string, res: Response, extra?: string): Promise<RegistryError> {
    let body = "";
    if (method !== "HEAD") {
      try {
        body = await res.text();
      } catch {
        // the body broke off; the status is what we report
      }
    }
    const { code, text } = registryErrorText(body);
    const parts = [
      `registry ${this.host}: ${method} ${new URL(this.endpoint.api).pathname}${path}: ${res.status}${res.statusText ? ` ${res.statusText}` : ""}`,
    ];
    if (text) parts.push(text);
    if (extra) parts.push(extra);
    return new RegistryError(parts.join(": "), this.host, res.status, code);
  }
}
