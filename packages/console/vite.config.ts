import { defineConfig } from "vite";

// Preact through Oxc's automatic JSX runtime (Vite 8 transforms with Oxc, not esbuild): no plugin needed.
export default defineConfig({
  base: "/console/",
  oxc: { jsx: { runtime: "automatic", importSource: "preact" } },
  build: {
    outDir: "dist",
    emptyOutDir: true,
    // No inline script or style: the server's CSP allows only same-origin files.
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    sourcemap: false,
    target: "es2022",
  },
});
