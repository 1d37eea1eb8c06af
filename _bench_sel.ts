import { clusteredEmbeddings, randomValues } from "./bench/_fixtures.ts";
import { selectTriplets } from "./core/pure/select_triplets.ts";
import { gramMatrix, selectTripletsFast } from "./core/select_triplets_fast.ts";
import { l2Normalize } from "./core/pure/distances.ts";
import { createRng } from "./core/pure/rng.ts";
const batches = {
  clustered: clusteredEmbeddings(45, 40, 128, 21),
  random: l2Normalize({ rows: 1800, cols: 128, data: randomValues(1800 * 128, 7) }),
};
const npc = new Array(45).fill(40);
const strategies = (Deno.args[0] ?? "vggface,facenet,hard").split(",") as ("vggface")[];
for (const [label, e] of Object.entries(batches)) {
  const g = gramMatrix(e);
  for (const strategy of strategies) {
    const o = { alpha: 0.2, rng: createRng(1), strategy };
    const exp = selectTriplets(e, npc, o);
    const ts: number[] = [];
    for (let i = 0; i < 7; i++) {
      const t = performance.now();
      const act = selectTripletsFast(e, npc, { ...o, gram: { data: g, accumulation: "float64" } });
      ts.push(performance.now() - t);
      if (JSON.stringify(act.triplets) !== JSON.stringify(exp.triplets)) throw new Error("differ " + label + strategy);
    }
    ts.sort((a, b) => a - b);
    console.log(label, strategy, "median", ts[3]!.toFixed(1), "min", ts[0]!.toFixed(1));
  }
}
