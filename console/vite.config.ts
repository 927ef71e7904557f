import { defineConfig } from "vitest/config";
import react from "@vitejs/plugin-react";
import { sharedLibraries } from "./scripts/shared-libs";

// Served by the platform under /console/ (same origin as the API, so cookies and CSRF work).
export default defineConfig({
  base: "/console/",
  // The libraries UI extensions share with the console: /console/shared/*.js and an import map.
  plugins: [react(), sharedLibraries("/console/")],
  build: { outDir: "dist", sourcemap: false, chunkSizeWarningLimit: 600 },
  server: {
    proxy: Object.fromEntries(
      ["/api", "/apis", "/kapis", "/clusters", "/oauth", "/console/session", "/dist", "/proxy"].map((p) => [
        p,
        { target: process.env.ORRERY_URL ?? "http://127.0.0.1:30880", changeOrigin: false },
      ]),
    ),
  },
  test: { environment: "jsdom", include: ["src/**/*.test.ts", "src/**/*.test.tsx"] },
});
