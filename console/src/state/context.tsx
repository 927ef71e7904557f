import { createContext, useContext } from "react";
import type { SessionUser } from "./session";
import type { ClusterInfo } from "./clusters";
import type { Lang } from "../i18n";

export type Theme = "light" | "dark";

/** What every page can reach: the user, language, theme and clusters. */
export interface AppState {
  user: SessionUser | null;
  setUser: (u: SessionUser | null) => void;
  lang: Lang;
  setLang: (l: Lang) => void;
  theme: Theme;
  setTheme: (t: Theme) => void;
  clusters: ClusterInfo[];
  reloadClusters: () => void;
}

export const AppContext = createContext<AppState | null>(null);

export function useApp(): AppState {
  const s = useContext(AppContext);
  if (!s) throw new Error("useApp outside AppContext");
  return s;
}
