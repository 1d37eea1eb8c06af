import { backendConformance } from "./conformance.ts";
import { createPureBackend } from "../core/pure_backend.ts";

// The pure backend against the specifications it is assembled from: proves
// the backend's wiring (and the suite itself) at float32-exact agreement.
backendConformance("pure", () => Promise.resolve(createPureBackend()), {
  numRuns: 6,
  tolerance: {
    distances: { abs: 0, rel: 0 },
    loss: { abs: 0, rel: 0 },
    forward: { abs: 0, rel: 0 },
    params: { abs: 0, rel: 0 },
  },
});
