import js from "@eslint/js";
import tseslint from "typescript-eslint";
import reactHooks from "eslint-plugin-react-hooks";
import globals from "globals";

export default tseslint.config(
  { ignores: ["dist", "node_modules", "e2e/screenshots"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ["src/**/*.{ts,tsx}"],
    languageOptions: { globals: globals.browser },
    plugins: { "react-hooks": reactHooks },
    rules: {
      "react-hooks/rules-of-hooks": "error",
      "react-hooks/exhaustive-deps": "warn",
    },
  },
  // e2e code runs in node but hands functions to the browser (page.evaluate).
  { files: ["e2e/**/*.{js,mjs,ts}", "scripts/**/*.{js,mjs}", "bench/**/*.{js,mjs}"], languageOptions: { globals: { ...globals.node, ...globals.browser } } },
);
