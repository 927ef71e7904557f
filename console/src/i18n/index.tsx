import { createContext, useContext, useMemo, type ReactNode } from "react";
import { en, type MessageKey } from "./en";
import { zh } from "./zh";

/** Languages the console ships, keyed by BCP 47 tag (as in a user's `spec.lang`). */
export const catalogues: Record<Lang, Record<MessageKey, string>> = { en, "zh-CN": zh };
export type Lang = "en" | "zh-CN";
export const languages: { lang: Lang; label: string }[] = [
  { lang: "en", label: "English" },
  { lang: "zh-CN", label: "简体中文" },
];

/** Maps whatever a user's `spec.lang` says (zh, zh-CN, en-US…) to a shipped language. */
export function normalizeLang(lang: string | undefined | null): Lang {
  return lang && lang.toLowerCase().startsWith("zh") ? "zh-CN" : "en";
}

/** Formats `key` in `lang`, replacing `{name}` placeholders from `vars`. */
export function translate(lang: Lang, key: MessageKey, vars?: Record<string, string | number>): string {
  const text = catalogues[lang][key] ?? en[key] ?? key;
  if (!vars) return text;
  return text.replace(/\{(\w+)\}/g, (m, name: string) => (name in vars ? String(vars[name]) : m));
}

/** The translation functions for one language. */
export interface I18n {
  lang: Lang;
  t: (key: MessageKey, vars?: Record<string, string | number>) => string;
  date: (iso: string | undefined) => string;
  number: (n: number) => string;
}

export function makeI18n(lang: Lang): I18n {
  const dtf = new Intl.DateTimeFormat(lang, { dateStyle: "medium", timeStyle: "short" });
  const nf = new Intl.NumberFormat(lang);
  return {
    lang,
    t: (key, vars) => translate(lang, key, vars),
    date: (iso) => (iso ? dtf.format(new Date(iso)) : "—"),
    number: (n) => nf.format(n),
  };
}

const I18nContext = createContext<I18n>(makeI18n("en"));

export function I18nProvider({ lang, children }: { lang: Lang; children: ReactNode }) {
  const value = useMemo(() => makeI18n(lang), [lang]);
  return <I18nContext.Provider value={value}>{children}</I18nContext.Provider>;
}

export function useI18n(): I18n {
  return useContext(I18nContext);
}
