// Session state as plain functions over the client (unit tested), used by the React provider.

import { api, ApiError, type Client } from "../api/client";
import { IAM } from "../api/paths";
import type { K8sObject } from "../api/watch";

/** The logged-in user as the console needs it. */
export interface SessionUser {
  name: string;
  lang?: string;
  globalRole?: string;
  mustChangePassword: boolean;
}

/** Why a login failed, for the page to word it. */
export type LoginFailure = "locked" | "invalid" | "other";

export class LoginError extends Error {
  constructor(public failure: LoginFailure, message: string) {
    super(message);
  }
}

export function toSessionUser(u: K8sObject): SessionUser {
  return {
    name: u.metadata.name,
    lang: u.spec?.lang,
    globalRole: u.metadata.annotations?.["iam.kubesphere.io/globalrole"],
    mustChangePassword: !!u.status?.passwordChangeRequired || u.metadata.annotations?.["iam.kubesphere.io/uninitialized"] === "true",
  };
}

/** The current session's user, or null when there is none. */
export async function loadSession(client: Client = api): Promise<SessionUser | null> {
  try {
    const s = await client.get<{ username: string }>("/console/session");
    const u = await client.get<K8sObject>(`${IAM}/users/${encodeURIComponent(s.username)}`);
    return toSessionUser(u);
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) return null;
    throw e;
  }
}

/** An identity provider as the login page may show it. */
export interface LoginProvider {
  name: string;
  type: string;
  displayName: string;
  /** Takes a password here (LDAP); otherwise people are sent to it. */
  password: boolean;
}

/** The providers the login page offers (enabled, not hidden). */
export async function loginProviders(client: Client = api): Promise<LoginProvider[]> {
  const c = await client.get<{ identityProviders?: LoginProvider[] }>("/kapis/config.kubesphere.io/v1alpha2/configs/oauth");
  return c.identityProviders ?? [];
}

/** Where a redirecting provider's login starts, returning to console page `ret`. */
export function providerLoginUrl(idp: string, ret: string): string {
  const q = new URLSearchParams({ idp, redirect_uri: ret.startsWith("/console") ? ret : "/console/" });
  return `/oauth/authorize?${q.toString()}`;
}

/**
 * The password just typed by a user who must change it, kept in this tab's memory only, so the
 * forced change does not ask for it a second time (gone on reload, or once used).
 */
let typed: { user: string; password: string } | null = null;

/** The password `user` just typed at login, if the page still has it. */
export function typedPassword(user: string | undefined): string | null {
  return typed && typed.user === user ? typed.password : null;
}

/** Logs in with a password (the server sets the session cookies); `provider`: an LDAP one. */
export async function login(username: string, password: string, client: Client = api, provider = ""): Promise<SessionUser> {
  try {
    await client.post("/console/session", provider ? { username, password, provider } : { username, password });
  } catch (e) {
    if (e instanceof ApiError) {
      const body = e.body as { locked?: boolean } | null;
      if (e.status === 429 || body?.locked) throw new LoginError("locked", e.message);
      if (e.status === 401 || e.status === 400) throw new LoginError("invalid", e.message);
    }
    throw new LoginError("other", (e as Error).message);
  }
  const user = await loadSession(client);
  if (!user) throw new LoginError("other", "no session after login");
  typed = user.mustChangePassword && !provider ? { user: user.name, password } : null;
  return user;
}

/** Changes the password, then logs in again (a password change revokes every session). */
export async function changePassword(user: string, current: string, next: string, client: Client = api): Promise<SessionUser> {
  await client.put(`${IAM}/users/${encodeURIComponent(user)}/password`, { currentPassword: current, password: next });
  return login(user, next, client);
}

/** Ends the session. */
export async function logout(client: Client = api): Promise<void> {
  await client.delete("/console/session").catch(() => undefined);
}

/** Saves the user's language in `spec.lang`. */
export async function saveLang(user: string, lang: string, client: Client = api): Promise<void> {
  await client.patch(`${IAM}/users/${encodeURIComponent(user)}`, { spec: { lang } });
}

/** A first login's details (the manual mapping method): what the provider said. */
export interface FirstLogin {
  provider: string;
  username: string;
  email?: string;
  displayName?: string;
}

export function firstLoginInfo(client: Client = api): Promise<FirstLogin> {
  return client.get<FirstLogin>("/oauth/first-login");
}

/** Chooses the username of a first login; the server starts the session. */
export async function completeFirstLogin(username: string, client: Client = api): Promise<{ user: SessionUser; redirect: string }> {
  const r = await client.post<{ username: string; redirect?: string }>("/oauth/first-login", { username });
  const user = await loadSession(client);
  if (!user) throw new LoginError("other", "no session after the first login");
  return { user, redirect: r.redirect ?? "/console/" };
}
