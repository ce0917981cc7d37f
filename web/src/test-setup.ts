import "@testing-library/jest-dom/vitest";
import { configure } from "@testing-library/react";

// A shared, busy machine renders slowly: findBy/waitFor wait up to 10 s (they return as soon as it shows).
configure({ asyncUtilTimeout: 10_000 });

// jsdom has no matchMedia; the app (and the chart library) ask it about the screen. Answer as
// a desktop screen in light mode would.
if (typeof window !== "undefined" && !window.matchMedia) {
  window.matchMedia = (query: string) =>
    ({ matches: false, media: query, onchange: null, addEventListener() {}, removeEventListener() {}, addListener() {}, removeListener() {}, dispatchEvent: () => false }) as MediaQueryList;
}
