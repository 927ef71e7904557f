import { createContext, useContext, useEffect, useMemo, useState, type ReactNode } from "react";
import { en, type MessageKey } from "./en";

/** A catalogue: every message of the console in one language (a missing key does not compile). */
export type Catalogue = Record<MessageKey, string>;

/** Languages the console ships, keyed by BCP 47 tag (as in a user's `spec.lang`). */
export type Lang = "en" | "zh-CN" | "zh-TW" | "es" | "fr" | "de" | "ja" | "ko";

/** The languages offered, each in its own name. */
export const languages: { lang: Lang; label: string }[] = [
  { lang: "en", label: "English" },
  { lang: "zh-CN", label: "简体中文" },
  { lang: "zh-TW", label: "繁體中文" },
  { lang: "es", label: "Español" },
  { lang: "fr", label: "Français" },
  { lang: "de", label: "Deutsch" },
  { lang: "ja", label: "日本語" },
  { lang: "ko", label: "한국어" },
];

/** English is in the initial bundle; the others are fetched when first chosen. */
const loaders: Record<Exclude<Lang, "en">, () => Promise<Catalogue>> = {
  "zh-CN": () => import("./zh").then((m) => m.zh),
  "zh-TW": () => import("./zhTW").then((m) => m.zhTW),
  es: () => import("./es").then((m) => m.es),
  fr: () => import("./fr").then((m) => m.fr),
  de: () => import("./de").then((m) => m.de),
  ja: () => import("./ja").then((m) => m.ja),
  ko: () => import("./ko").then((m) => m.ko),
};

const loaded: Partial<Record<Lang, Catalogue>> = { en };

/** Whether `lang`'s catalogue is here (English always is). */
export function isLoaded(lang: Lang): boolean {
  return lang in loaded;
}

/** Fetches `lang`'s catalogue once; later calls resolve at once. */
export async function loadCatalogue(lang: Lang): Promise<Catalogue> {
  const have = loaded[lang];
  if (have) return have;
  const c = await loaders[lang as Exclude<Lang, "en">]();
  loaded[lang] = c;
  return c;
}

/** Maps whatever a user's `spec.lang` or the browser says (zh, zh-Hant-HK, en-US, es-419, ko-KR…)
 * to a shipped language; English when none fits. */
export function normalizeLang(lang: string | undefined | null): Lang {
  const tag = (lang ?? "").trim().toLowerCase().replace(/_/g, "-");
  const [base, ...rest] = tag.split("-");
  if (base === "zh") {
    // Traditional script, or a region that writes it without saying so.
    const traditional = rest.includes("hant") || rest.some((s) => s === "tw" || s === "hk" || s === "mo");
    return traditional && !rest.includes("hans") ? "zh-TW" : "zh-CN";
  }
  const simple: Record<string, Lang> = { es: "es", fr: "fr", de: "de", ja: "ja", ko: "ko" };
  return simple[base] ?? "en";
}

/** Formats `key` in `lang`, replacing `{name}` placeholders from `vars`; English while `lang`'s
 * catalogue is not loaded yet. */
export function translate(lang: Lang, key: MessageKey, vars?: Record<string, string | number>): string {
  const text = (loaded[lang] ?? en)[key] ?? en[key] ?? key;
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

/** Provides `lang`; a catalogue not loaded yet is fetched and the tree rendered again with it. */
export function I18nProvider({ lang, children }: { lang: Lang; children: ReactNode }) {
  const [ready, setReady] = useState(0);
  useEffect(() => {
    if (isLoaded(lang)) return;
    let live = true;
    loadCatalogue(lang).then(
      () => live && setReady((n) => n + 1),
      () => undefined,
    );
    return () => {
      live = false;
    };
  }, [lang]);
  // `ready` changes when the catalogue arrives: a new value re-renders the readers.
  const value = useMemo(() => (ready >= 0 ? makeI18n(lang) : makeI18n("en")), [lang, ready]);
  return <I18nContext.Provider value={value}>{children}</I18nContext.Provider>;
}

export function useI18n(): I18n {
  return useContext(I18nContext);
}
