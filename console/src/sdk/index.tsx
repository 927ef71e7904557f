// `@orrery/console`, the SDK UI extensions import (through the console's import map, so they
// share the console's instances: one React, the same router, session and language). Its
// declarations for authors are console/sdk/orrery-console.d.ts (kept equal by a test); the
// contract is docs/extensions.md "UI extensions". Version 1: only add to it.

import { useI18n } from "../i18n";

export { api, ApiError, withQuery } from "../api/client";
export { useLoad, useLiveList, useCan } from "../api/hooks";
export { clusterPath } from "../api/paths";
export { PageHead, ErrorBox, Status, Dialog } from "../components/ui";
export { useT, useExtension } from "../extensions/context";

/** The SDK's major version. */
export const sdkVersion = 1;

/** "Loading…" in the console's words and look. */
export function Loading() {
  const { t } = useI18n();
  return <p className="muted">{t("app.loading")}</p>;
}
