// TypeScript declarations of `@orrery/console` version 1, the SDK Orrery's console provides to
// UI extensions through its import map (docs/extensions.md "UI extensions"). Copy this file into
// an extension's frontend (the `orrery extension create` skeleton does); the bundle imports
// "@orrery/console" and leaves it external. A console test keeps it equal to what is exported.

declare module "@orrery/console" {
  import type { ReactNode, ReactElement } from "react";

  /** Any Kubernetes object, loosely typed. */
  export interface K8sObject {
    apiVersion?: string;
    kind?: string;
    metadata: {
      name: string;
      namespace?: string;
      uid?: string;
      resourceVersion?: string;
      creationTimestamp?: string;
      labels?: Record<string, string>;
      annotations?: Record<string, string>;
      [k: string]: unknown;
    };
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    spec?: any;
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    status?: any;
    [k: string]: unknown;
  }

  export interface RequestOptions {
    body?: unknown;
    contentType?: string;
    query?: Record<string, string | number | boolean | undefined>;
    signal?: AbortSignal;
  }

  /** A failed API call: HTTP status, the Status reason and the server's message. */
  export class ApiError extends Error {
    status: number;
    reason: string;
    body: unknown;
  }

  /** The console's API client: same origin, the user's session, CSRF handled, JSON in and out. */
  export const api: {
    raw(method: string, path: string, opts?: RequestOptions): Promise<Response>;
    json<T = unknown>(method: string, path: string, opts?: RequestOptions): Promise<T>;
    get<T = unknown>(path: string, opts?: RequestOptions): Promise<T>;
    post<T = unknown>(path: string, body: unknown, opts?: RequestOptions): Promise<T>;
    put<T = unknown>(path: string, body: unknown, opts?: RequestOptions): Promise<T>;
    patch<T = unknown>(path: string, body: unknown, contentType?: string): Promise<T>;
    delete<T = unknown>(path: string): Promise<T>;
  };

  /** `path?query`, leaving out undefined and empty values. */
  export function withQuery(path: string, query?: RequestOptions["query"]): string;

  /** Loads `path` (JSON) when it changes or `reload` is called. */
  export function useLoad<T>(path: string | null): { data: T | null; error: Error | null; reload: () => void; loading: boolean };

  /** A collection kept current by a watch (`/api…`, `/apis…`, `/clusters/{c}/…`). */
  export function useLiveList(path: string | null, opts?: { labelSelector?: string; fieldSelector?: string; limit?: number }): { items: K8sObject[]; error: Error | null; loaded: boolean };

  /** Whether the user may do `verb` on a resource: true, false, or null while asking. */
  export function useCan(cluster: string | undefined, attrs: { verb: string; group?: string; resource: string; namespace?: string; workspace?: string }): boolean | null;

  /** A native API path for `cluster` (the host directly, members under /clusters/{name}). */
  export function clusterPath(cluster: string | undefined, path: string): string;

  /** The extension's messages in the console's language (then English, then the console's own). */
  export function useT(): { t: (key: string, vars?: Record<string, string | number>) => string; lang: string };

  /** The extension whose page this is. */
  export function useExtension(): { name: string };

  /** A page heading (also the window's title) with a toolbar. */
  export function PageHead(props: { title: string; children?: ReactNode }): ReactElement;
  /** An API error in the user's language, the server's detail a click away (nothing for none). */
  export function ErrorBox(props: { error: unknown }): ReactElement | null;
  /** A coloured status word (Running, Ready, Failed…). */
  export function Status(props: { value: string | undefined }): ReactElement;
  /** A modal dialog. */
  export function Dialog(props: { open: boolean; onClose: () => void; title: string; children: ReactNode }): ReactElement;
  /** "Loading…". */
  export function Loading(): ReactElement;

  /** The SDK's major version (1). */
  export const sdkVersion: number;
}
