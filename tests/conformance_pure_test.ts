import assert from "node:assert/strict";
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

Deno.test("backendConformance() refuses a skip or only list naming an unknown test, and a skip without a reason", () => {
  const make = () => Promise.resolve(createPureBackend());
  assert.throws(
    () => backendConformance("typo", make, { skip: [{ reason: "r", tests: ["op:conv2D"] }] }),
    /unknown conformance test id "op:conv2D"/,
  );
  assert.throws(() => backendConformance("typo", make, { only: ["nanoo"] }), /"nanoo"/);
  assert.throws(
    () => backendConformance("typo", make, { skip: [{ reason: " ", tests: ["nano"] }] }),
    /needs a reason/,
  );
});
