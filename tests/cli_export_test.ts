import assert from "node:assert/strict";
import { runDeno } from "./_cli.ts";
import { loadCheckpoint } from "../io/checkpoint.ts";
import { createPureBackend } from "../core/pure_backend.ts";
import { modelSpec } from "../core/models/registry.ts";
import { renderSyntheticRef } from "../core/synthetic/mod.ts";
import { fixedImageStandardization } from "../core/pure/preprocess.ts";
import { imageDataToInput, type ModelInputSpec } from "../core/pure/model_input.ts";

const CLI = new URL("../cli.ts", import.meta.url).pathname;
const CONFIG = new URL("../deno.json", import.meta.url).pathname;

const run = runDeno;

Deno.test({
  name: "export writes a checkpoint that stock tf.loadGraphModel embeds like the pure backend",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const dir = await Deno.makeTempDir();
    try {
      const train = await run([
        "run",
        "-A",
        CLI,
        "train",
        "--preset",
        "tiny",
        "--backend",
        "pure",
        "--quiet",
        "--epoch-size",
        "2",
        "--max-nrof-epochs",
        "1",
        "--out",
        `${dir}/run`,
      ]);
      assert.equal(train.code, 0, train.stderr);
      const exported = await run([
        "run",
        "-A",
        CLI,
        "export",
        "--checkpoint",
        `${dir}/run`,
        "--out",
        `${dir}/web`,
      ]);
      assert.equal(exported.code, 0, exported.stderr);
      assert.match(exported.stdout, /model\.json \(nano, 16-d, step \d+, moving-average weights\)/);

      // Expected: the checkpoint's moving-average embedding on the pure backend.
      const { state, meta } = await loadCheckpoint(`${dir}/run`);
      const size = (meta.config as { imageSize: number }).imageSize;
      const spec = modelSpec("nano", { embeddingSize: meta.embeddingSize, imageSize: size });
      const refs = ["syn:validation:0:0", "syn:validation:1:0", "syn:validation:2:3"];
      const data = Float32Array.from(
        refs.flatMap((r) => [...fixedImageStandardization(renderSyntheticRef(r, size, 7))]),
      );
      const backend = createPureBackend();
      const model = await backend.createModel(spec, state, {
        loss: { kind: "triplet", alpha: 0.2 },
        optimizer: { name: state.optimizer.name },
        weightDecay: 0,
        movingAverageDecay: 0.999,
      });
      const expected = await model.embed(
        { n: refs.length, height: size, width: size, channels: 3, data },
        { training: false, useMovingAverage: true },
      );
      // The model describes its input: a page turns RGBA ImageData into exactly these values.
      const metadata = JSON.parse(await Deno.readTextFile(`${dir}/web/model.json`))
        .userDefinedMetadata.facenet;
      const input: ModelInputSpec = metadata.input;
      assert.deepEqual(
        [input.height, input.width, input.channels, input.layout, input.standardization],
        [size, size, 3, "NHWC", "fixed"],
      );
      assert.equal(input.formula, "(x - 127.5) / 128");
      assert.equal(metadata.embeddingSize, meta.embeddingSize);
      const rgba = refs.map((r) => {
        const rgb = renderSyntheticRef(r, size, 7);
        const out = new Float32Array(size * size * 4).fill(255);
        for (let p = 0; p < size * size; p++) out.set(rgb.subarray(3 * p, 3 * p + 3), 4 * p);
        return { width: size, height: size, data: out };
      });
      assert.deepEqual(imageDataToInput(rgba, input).data, data);
      await Deno.writeFile(`${dir}/images.bin`, new Uint8Array(data.buffer));

      // Actual: stock tfjs in a fresh process that knows nothing of this project.
      const code = `
        import * as tf from "@tensorflow/tfjs";
        tf.env().set("PROD", true);
        await tf.setBackend("cpu");
        const model = await tf.loadGraphModel("file://${dir}/web/model.json", { fetchFunc: fetch });
        const x = tf.tensor4d(new Float32Array((await Deno.readFile("${dir}/images.bin")).buffer), [${refs.length}, ${size}, ${size}, 3]);
        console.log(JSON.stringify(Array.from(await model.predict(x).data())));
      `;
      const stock = await run(["eval", "--quiet", "--config", CONFIG, code]);
      assert.equal(stock.code, 0, stock.stderr);
      const actual: number[] = JSON.parse(stock.stdout.trim().split("\n").at(-1)!);
      assert.equal(actual.length, expected.data.length);
      actual.forEach((v, i) => {
        assert.ok(
          Math.abs(v - expected.data[i]!) <= 1e-4,
          `value ${i}: ${v} vs ${expected.data[i]}`,
        );
      });
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("export without --checkpoint or --out is a usage error (exit 2)", async () => {
  const { code, stderr } = await run(["run", "-A", CLI, "export", "--out", "x"]);
  assert.equal(code, 2);
  assert.match(stderr, /--checkpoint is required/);
});
