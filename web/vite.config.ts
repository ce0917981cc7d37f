/// <reference types="vitest/config" />
import { defineConfig } from "vite";
import react from "@vitejs/plugin-react";

// `npm run dev` proxies the API to a running gateway (COPYTRADE_HTTP, default the port scheme's B+6).
const gateway = process.env.COPYTRADE_HTTP ?? "http://127.0.0.1:15056";

export default defineConfig({
  plugins: [react()],
  server: { proxy: { "/v1": gateway, "/api": gateway } },
  build: { outDir: "dist", emptyOutDir: true, chunkSizeWarningLimit: 1000 },
  // A shared, busy machine renders slowly: generous per-test time, no loosened assertions.
  test: { environment: "jsdom", include: ["src/**/*.test.{ts,tsx}"], globals: false, setupFiles: ["src/test-setup.ts"], testTimeout: 30_000 },
});
