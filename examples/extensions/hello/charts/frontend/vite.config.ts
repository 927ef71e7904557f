// Vite's library mode: one ES module, dist/index.js, with the libraries the console shares
// left as bare imports (its import map provides them).
import { defineConfig } from "vite";
import react from "@vitejs/plugin-react";

export default defineConfig({
  plugins: [react()],
  build: {
    lib: { entry: "src/index.tsx", formats: ["es"], fileName: () => "index.js" },
    target: "es2020",
    outDir: "dist",
    minify: false,
    rollupOptions: {
      external: ["react", "react/jsx-runtime", "react-dom", "react-router-dom", "@orrery/console"],
      output: { inlineDynamicImports: true },
    },
  },
});
