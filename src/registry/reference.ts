// Image references as Docker and containerd read them: "busybox" means
// docker.io/library/busybox:latest, a first component with a dot, a colon or
// "localhost" is a registry host, a tag follows ":", a digest follows "@".
// Written from the grammar in the distribution project's reference docs; a
// reference that does not fit gets an error naming it and the broken part.

import { InvalidArgumentError } from "../lib/errors.ts";

/** A reference that does not parse. The message names the reference as given. */
export class InvalidReferenceError extends InvalidArgumentError {
  override name = "InvalidReferenceError";
  constructor(
    readonly reference: string,
    reason: string,
  ) {
    super(`invalid image reference "${reference}": ${reason}`);
  }
}

export const DOCKER_HUB = "docker.io";
/** docker.io is a name; its API lives on this host. */
export const DOCKER_HUB_API_HOST = "registry-1.docker.io";

export interface ImageReference {
  /** Registry as named in references and in `machine.registries` keys: "docker.io", "host:5000". */
  readonly domain: string;
  /** Repository path inside the registry: "library/busybox", "a/b". */
  readonly path: string;
  /** Absent only when a digest is given without a tag. */
  readonly tag?: string;
  /** "sha256:<64 hex>" when pinned. */
  readonly digest?: string;
  /** domain/path[:tag][@digest], the form containerd stores as an image name. */
  readonly canonical: string;
}

// One path component: lowercase alphanumerics joined by ".", "_", "__" or runs of "-".
const COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const DOMAIN_LABEL = /^(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])$/;
const PORT = /^[0-9]+$/;
const TAG = /^[\w][\w.-]{0,127}$/;
const DIGEST = /^[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}$/;
// Registered algorithms have fixed, lowercase encodings (OCI image spec, descriptor.md).
const DIGEST_ENCODING: Record<string, RegExp> = {
  sha256: /^[a-f0-9]{64}$/,
  sha512: /^[a-f0-9]{128}$/,
};
const MAX_NAME = 255;

/** Parses and normalises `ref`; throws InvalidReferenceError. */
export function parseReference(ref: string): ImageReference {
  const fail = (why: string): never => {
    throw new InvalidReferenceError(ref, why);
  };
  if (ref === "") fail("empty");
  if (ref !== ref.trim()) fail("leading or trailing whitespace");

  let rest = ref;
  let digest: string | undefined;
  const at = rest.indexOf("@");
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    checkDigest(digest, fail);
  }

  // A tag is after the last ":" that comes after the last "/" (a ":" before it is a port).
  let tag: string | undefined;
  const colon = rest.lastIndexOf(":");
  if (colon > rest.lastIndexOf("/")) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) fail(`tag "${tag}" is not valid (letters, digits, "_", "." and "-", at most 128, not starting with "." or "-")`);
  }
  if (rest === "") fail("no repository name");

  let domain = DOCKER_HUB;
  let path = rest;
  const slash = rest.indexOf("/");
  if (slash >= 0) {
    const first = rest.slice(0, slash);
    if (first.includes(".") || first.includes(":") || first === "localhost" || first !== first.toLowerCase()) {
      domain = first;
      path = rest.slice(slash + 1);
      checkDomain(domain, fail);
    }
  }
  if (domain === "index.docker.io") domain = DOCKER_HUB;
  if (domain === DOCKER_HUB && !path.includes("/")) path = `library/${path}`;

  if (path === "") fail("no repository name after the registry host");
  for (const c of path.split("/")) {
    if (c === "") fail(`empty path component in "${path}"`);
    if (!COMPONENT.test(c)) {
      fail(
        c !== c.toLowerCase()
          ? `repository name "${path}" must be lowercase`
          : `path component "${c}" is not valid (lowercase letters and digits, separated by ".", "_", "__" or "-")`,
      );
    }
  }
  const name = `${domain}/${path}`;
  if (name.length > MAX_NAME) fail(`repository name is ${name.length} characters, at most ${MAX_NAME}`);

  if (tag === undefined && digest === undefined) tag = "latest";
  const canonical = name + (tag !== undefined ? `:${tag}` : "") + (digest !== undefined ? `@${digest}` : "");
  return { domain, path, ...(tag !== undefined ? { tag } : {}), ...(digest !== undefined ? { digest } : {}), canonical };
}

/** What to ask the registry for: the digest if pinned (a tag beside it is only a label), else the tag. */
export function manifestReference(ref: ImageReference): string {
  return ref.digest ?? ref.tag ?? "latest";
}

function checkDigest(d: string, fail: (why: string) => never): void {
  if (!DIGEST.test(d)) fail(`digest "${d}" is not of the form algorithm:hex`);
  const [alg, enc] = d.split(":") as [string, string];
  const want = DIGEST_ENCODING[alg];
  if (want === undefined) fail(`digest algorithm "${alg}" is not supported (sha256, sha512)`);
  else if (!want.test(enc)) fail(`${alg} digest must be ${alg === "sha256" ? 64 : 128} lowercase hex characters`);
}

function checkDomain(domain: string, fail: (why: string) => never): void {
  let host = domain;
  let port: string | undefined;
  if (host.startsWith("[")) {
    const end = host.indexOf("]");
    if (end < 0) fail(`registry host "${domain}" has an unclosed "["`);
    const v6 = host.slice(1, end);
    if (!/^[0-9a-fA-F:.]+$/.test(v6) || !v6.includes(":")) fail(`registry host "${domain}" is not a valid IPv6 address`);
    const after = host.slice(end + 1);
    if (after !== "") {
      if (!after.startsWith(":")) fail(`registry host "${domain}" has junk after "]"`);
      port = after.slice(1);
    }
  } else {
    const c = host.lastIndexOf(":");
    if (c >= 0) {
      port = host.slice(c + 1);
      host = host.slice(0, c);
    }
    for (const label of host.split(".")) {
      if (!DOMAIN_LABEL.test(label)) fail(`registry host "${domain}" is not a valid host name`);
    }
  }
  if (port !== undefined && (!PORT.test(port) || Number(port) > 65535)) fail(`registry port "${port}" is not a number from 0 to 65535`);
}
