import { randomValues } from "./bench/_fixtures.ts";
import { selectTripletsFast, gramMatrix } from "./core/select_triplets_fast.ts";
import { l2Normalize } from "./core/pure/distances.ts";
import { createRng } from "./core/pure/rng.ts";
const e = l2Normalize({ rows: 1800, cols: 128, data: randomValues(1800 * 128, 7) });
const g = gramMatrix(e);
for (let i = 0; i < 8; i++) {
const t = performance.now();
selectTripletsFast(e, new Array(45).fill(40), { alpha: 0.2, rng: createRng(1), gram: { data: g, accumulation: "float64" } });
console.log(performance.now() - t);
}
