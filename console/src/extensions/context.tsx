// The scope an extension's page renders in (its name and messages), and the hooks the SDK gives
// extensions over it.

import { createContext, useCallback, useContext, useMemo, type ReactNode } from "react";
import { useI18n } from "../i18n";
import { en, type MessageKey } from "../i18n/en";
import { localize } from "./registry";

export interface ExtensionScopeValue {
  name: string;
  locales: Record<string, Record<string, string>>;
}

const Scope = createContext<ExtensionScopeValue>({ name: "", locales: {} });

/** Renders `children` as extension `name`'s, with its messages. */
export function ExtensionScope({ name, locales, children }: ExtensionScopeValue & { children: ReactNode }) {
  const value = useMemo(() => ({ name, locales }), [name, locales]);
  return <Scope.Provider value={value}>{children}</Scope.Provider>;
}

/** The extension whose page this is (`{name}`). */
export function useExtension(): { name: string } {
  return { name: useContext(Scope).name };
}

/** Translation for an extension: its own messages in the console's language, then English, then the console's. */
export function useT(): { t: (key: string, vars?: Record<string, string | number>) => string; lang: string } {
  const { locales } = useContext(Scope);
  const i18n = useI18n();
  const consoleText = useCallback((key: string) => (key in en ? i18n.t(key as MessageKey) : undefined), [i18n]);
  const t = useCallback((key: string, vars?: Record<string, string | number>) => localize(key, i18n.lang, locales, consoleText, vars), [i18n.lang, locales, consoleText]);
  return { t, lang: i18n.lang };
}
