import { describe, expect, it } from "vitest";
import { en, type MessageKey } from "./en";
import { normalizeLocale } from "../extensions/registry";
import { isLoaded, languages, loadCatalogue, makeI18n, normalizeLang, translate, type Catalogue, type Lang } from "./index";

/** Messages that are rightly the same as English, so an untranslated string is caught and these
 * are not. Names the Kubernetes documentation keeps in English in every language (kinds, fields,
 * formats, products), then, per language, the few words it writes as English does. */
const technical = [
  "Orrery", "YAML", "URL", "CPU", "PromQL", "Kubeconfig", "Kubelet", "kube-system UID",
  "Pod", "Pods", "Pod IP", "Pod CIDR", "Service", "Services", "Secrets", "Namespace", "Endpoints", "Taints",
  "Deployments", "StatefulSets", "DaemonSets", "Jobs", "CronJobs",
];
/** Cluster, Labels, Token(s), Container, Workload: as the Kubernetes docs in these languages write them. */
const latinK8s = ["Cluster", "Clusters", "Labels", "Token", "Tokens"];
const sameAsEnglish: Record<Exclude<Lang, "en">, string[]> = {
  "zh-CN": technical,
  "zh-TW": technical,
  ja: technical,
  ko: technical,
  es: [...technical, ...latinK8s, "Roles", "Normal", "No", "Terminal"],
  fr: [
    ...technical, ...latinK8s, "Version", "Image", "Images", "Type", "Port", "Ports", "Message", "Description",
    "Actions", "Pages", "Menu", "Source", "Applications", "Configuration", "Documentation", "Installation",
    "Extensions", "Normal", "Terminal",
  ],
  de: [
    ...technical, ...latinK8s, "Container", "Workload", "Workloads", "Name", "Status", "Version", "Image",
    "Images", "Port", "Ports", "Region", "Zone", "Host", "Revision", "Normal", "Verb", "Details",
    "Installation", "App Store", "Terminal",
  ],
};

const others = languages.map((l) => l.lang).filter((l): l is Exclude<Lang, "en"> => l !== "en");
const keys = Object.keys(en) as MessageKey[];
const placeholders = (s: string) => (s.match(/\{\w+\}/g) ?? []).sort();

async function catalogue(lang: Lang): Promise<Catalogue> {
  return loadCatalogue(lang);
}

describe("catalogues", () => {
  it("offers eight languages, each named in itself", () => {
    expect(languages.map((l) => l.lang)).toEqual(["en", "zh-CN", "zh-TW", "es", "fr", "de", "ja", "ko"]);
    expect(new Set(languages.map((l) => l.label)).size).toBe(8);
  });

  it.each(others)("%s has exactly English's keys", async (lang) => {
    expect(Object.keys(await catalogue(lang)).sort()).toEqual([...keys].sort());
  });

  it.each(others)("%s translates every message and keeps its placeholders", async (lang) => {
    const c = await catalogue(lang);
    const untranslated: string[] = [];
    for (const key of keys) {
      expect(c[key].trim().length, `${lang} ${key} is empty`).toBeGreaterThan(0);
      expect(placeholders(c[key]), `${lang} ${key} placeholders`).toEqual(placeholders(en[key]));
      if (c[key] === en[key] && !sameAsEnglish[lang].includes(en[key])) untranslated.push(`${key}: ${en[key]}`);
    }
    expect(untranslated, `${lang}: messages still in English`).toEqual([]);
  });

  it("loads a catalogue on demand and translates with it", async () => {
    expect(isLoaded("en")).toBe(true);
    expect(translate("en", "list.total", { count: 3 })).toBe("3 items");
    await catalogue("zh-CN");
    expect(translate("zh-CN", "list.total", { count: 3 })).toBe("共 3 项");
    await catalogue("de");
    expect(isLoaded("de")).toBe(true);
    expect(translate("de", "list.total", { count: 3 })).not.toBe("3 items");
    expect(translate("de", "list.total", { count: 3 })).toContain("3");
  });

  it("maps browser and user languages to a shipped one", () => {
    const cases: [string | undefined | null, Lang][] = [
      ["zh", "zh-CN"],
      ["zh-CN", "zh-CN"],
      ["zh-Hans-SG", "zh-CN"],
      ["zh-TW", "zh-TW"],
      ["zh-HK", "zh-TW"],
      ["zh-Hant", "zh-TW"],
      ["zh_Hant_MO", "zh-TW"],
      ["es-419", "es"],
      ["es-ES", "es"],
      ["fr-CA", "fr"],
      ["de-AT", "de"],
      ["ja", "ja"],
      ["ja-JP", "ja"],
      ["ko-KR", "ko"],
      ["en-US", "en"],
      ["pt-BR", "en"],
      ["", "en"],
      [undefined, "en"],
      [null, "en"],
    ];
    for (const [tag, want] of cases) expect(normalizeLang(tag), String(tag)).toBe(want);
  });

  it("reads an extension's locale tags as the console's languages", () => {
    expect(normalizeLocale("zh")).toBe("zh-CN");
    expect(normalizeLocale("zh-Hant")).toBe("zh-TW");
    expect(normalizeLocale("fr-FR")).toBe("fr");
    expect(normalizeLocale("en-GB")).toBe("en");
    expect(normalizeLocale("pt-BR")).toBe("pt-BR");
  });

  it("formats dates and numbers in the chosen language", () => {
    expect(makeI18n("de").number(1234.5)).toBe("1.234,5");
    expect(makeI18n("fr").number(1234.5).replace(/\s/g, " ")).toBe("1 234,5");
    expect(makeI18n("en").number(1234.5)).toBe("1,234.5");
    const iso = "2026-03-04T05:06:07Z";
    const dates = new Set((["en", "de", "ja", "ko", "zh-TW"] as Lang[]).map((l) => makeI18n(l).date(iso)));
    expect(dates.size).toBe(5);
    expect(makeI18n("ja").date(iso)).toContain("2026");
  });
});
