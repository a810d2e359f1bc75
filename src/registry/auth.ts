// Registry authentication as the distribution spec and Docker's token spec
// describe it: try anonymously; a 401 carries `WWW-Authenticate` with either
// `Basic realm=...` (send the configured user and password) or
// `Bearer realm=...,service=...,scope=...` (ask the realm for a token, with
// the configured credentials if any, then send `Authorization: Bearer`).
// Tokens are kept per endpoint and scope until they expire.

export interface Challenge {
  scheme: string; // lowercased: "basic", "bearer"
  params: Record<string, string>; // keys lowercased
}

/**
 * Parses a WWW-Authenticate value (RFC 9110 §11.6.1). Several challenges may
 * be joined by commas, so a token not followed by "=" starts a new one.
 */
export function parseChallenges(header: string): Challenge[] {
  const out: Challenge[] = [];
  const n = header.length;
  let i = 0;
  const skipWs = () => {
    while (i < n && (header[i] === " " || header[i] === "\t")) i++;
  };
  const token = (): string => {
    const start = i;
    while (i < n && /[!#$%&'*+\-.^_`|~0-9A-Za-z]/.test(header[i]!)) i++;
    return header.slice(start, i);
  };
  // "=" that starts a value, not token68 padding ("abc==") or an empty tail.
  const isParamEquals = (at: number): boolean => {
    if (header[at] !== "=") return false;
    let j = at + 1;
    while (j < n && (header[j] === " " || header[j] === "\t")) j++;
    return j < n && header[j] !== "=" && header[j] !== ",";
  };
  let current: Challenge | undefined;
  while (i < n) {
    skipWs();
    if (header[i] === ",") {
      i++;
      continue;
    }
    const word = token();
    if (word === "") {
      i++; // junk: step over it
      continue;
    }
    skipWs();
    if (current !== undefined && isParamEquals(i)) {
      i++;
      skipWs();
      let value = "";
      if (header[i] === '"') {
        i++;
        while (i < n && header[i] !== '"') {
          if (header[i] === "\\" && i + 1 < n) i++;
          value += header[i];
          i++;
        }
        i++; // closing quote
      } else {
        // Not RFC token syntax, but registries send unquoted URLs: take all up to a comma or space.
        const start = i;
        while (i < n && header[i] !== "," && header[i] !== " " && header[i] !== "\t") i++;
        value = header.slice(start, i);
      }
      current.params[word.toLowerCase()] = value;
      continue;
    }
    current = { scheme: word.toLowerCase(), params: {} };
    out.push(current);
    // A token68 credential after the scheme ("Negotiate abc==") carries nothing we use: skip it.
    const save = i;
    const t = token();
    skipWs();
    if (t !== "" && !isParamEquals(i)) {
      while (i < n && header[i] !== ",") i++;
    } else i = save;
  }
  return out;
}

/** The pull scope of one repository, as the token spec spells it. */
export function pullScope(repository: string): string {
  return `repository:${repository}:pull`;
}

export interface TokenRequest {
  realm: string;
  service?: string;
  scope: string;
  basic?: { username: string; password: string };
  identityToken?: string;
  /** Sends the request: the transport's own fetch, with this endpoint's TLS settings. */
  send: (url: string, init: { method: string; headers: Record<string, string>; body?: string }) => Promise<Response>;
}

export interface Token {
  value: string;
  expiresAt: number;
}

/**
 * Gets a bearer token from the realm. With an identity token, the OAuth2
 * refresh_token grant (POST form); otherwise GET with query parameters and,
 * if configured, basic credentials. Throws with the realm's status and body.
 */
export async function fetchToken(req: TokenRequest): Promise<Token> {
  const url = new URL(req.realm);
  const headers: Record<string, string> = { "User-Agent": USER_AGENT };
  let res: Response;
  if (req.identityToken !== undefined && req.identityToken !== "") {
    const form = new URLSearchParams({ grant_type: "refresh_token", refresh_token: req.identityToken, client_id: "minos", scope: req.scope });
    if (req.service !== undefined) form.set("service", req.service);
    headers["Content-Type"] = "application/x-www-form-urlencoded";
    res = await req.send(url.toString(), { method: "POST", headers, body: form.toString() });
  } else {
    if (req.service !== undefined) url.searchParams.set("service", req.service);
    url.searchParams.set("scope", req.scope);
    if (req.basic !== undefined) headers.Authorization = basicHeader(req.basic);
    res = await req.send(url.toString(), { method: "GET", headers });
  }
  const text = await res.text();
  if (!res.ok) throw new Error(`token server ${url.host} answered ${res.status}${text ? `: ${text.replace(/\s+/g, " ").trim().slice(0, 200)}` : ""}`);
  let body: { token?: unknown; access_token?: unknown; expires_in?: unknown };
  try {
    body = JSON.parse(text) as typeof body;
  } catch {
    throw new Error(`token server ${url.host} answered with a body that is not JSON`);
  }
  const value = typeof body.token === "string" && body.token ? body.token : typeof body.access_token === "string" ? body.access_token : "";
  if (value === "") throw new Error(`token server ${url.host} answered without a token`);
  // The token spec's default lifetime is 60 s; renew a little early.
  const life = typeof body.expires_in === "number" && body.expires_in > 0 ? body.expires_in : 60;
  return { value, expiresAt: Date.now() + Math.max(1, life - 5) * 1000 };
}

export function basicHeader(c: { username: string; password: string }): string {
  return `Basic ${Buffer.from(`${c.username}:${c.password}`).toString("base64")}`;
}

export const USER_AGENT = "minos-registry-client/0.1";
