import { defineConfig } from "vitest/config";
import react from "@vitejs/plugin-react";

// Served by the platform under /console/ (same origin as the API, so cookies and CSRF work).
export default defineConfig({
  base: "/console/",
  plugins: [react()],
  build: { outDir: "dist", sourcemap: false, chunkSizeWarningLimit: 600 },
  server: {
    proxy: Object.fromEntries(
      ["/api", "/apis", "/kapis", "/clusters", "/oauth", "/console/session"].map((p) => [
        p,
        { target: process.env.ORRERY_URL ?? "http://127.0.0.1:30880", changeOrigin: false },
      ]),
    ),
  },
  test: { environment: "jsdom", include: ["src/**/*.test.ts", "src/**/*.test.tsx"] },
});
