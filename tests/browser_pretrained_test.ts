// The pretrained MobileFaceNet exported by `export --pretrained mobilefacenet` (TensorFlow.js graph
// model) loads and runs in a real browser: headless Chromium, stock tfjs bundled for the browser,
// tf.loadGraphModel over HTTP from 127.0.0.1; its embeddings equal the pure backend's.
import assert from "node:assert/strict";
import { join } from "node:path";
import { Browser, IGNORE_CHROMIUM } from "./_chromium.ts";
import { runCli, runDeno } from "./_cli.ts";
import { createPureBackend } from "../core/pure_backend.ts";
import { loadPretrained } from "../io/pretrained.ts";
import { mobileFaceNet } from "../core/models/mobilefacenet.ts";
import { randomFaces } from "./_mobilefacenet_fixtures.ts";

const CONFIG = new URL("../deno.json", import.meta.url).pathname;

// The page's script: stock tfjs, nothing of this project.
const PAGE = `
import * as tf from "@tensorflow/tfjs";
globalThis.embedWith = async (url, values, n) => {
  await tf.setBackend("cpu");
  const model = await tf.loadGraphModel(url);
  const x = tf.tensor4d(Float32Array.from(values), [n, 112, 112, 3]);
  return Array.from(await model.predict(x).data());
};
`;

Deno.test({
  name:
    "the exported pretrained MobileFaceNet runs in Chromium with stock tfjs like the pure backend",
  ignore: IGNORE_CHROMIUM,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "facenet_browser_pretrained_" });
    const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
      const path = new URL(req.url).pathname;
      if (path === "/") {
        return new Response(
          "<!DOCTYPE html><title>mobilefacenet</title><link rel=icon href=data:,>" +
            "<script type=module src=/page.js></script>",
          { headers: { "content-type": "text/html" } },
        );
      }
      const file = join(dir, path === "/page.js" ? "page.js" : join("web", path.slice(1)));
      try {
        const type = path.endsWith(".js") ? "text/javascript" : "application/octet-stream";
        return new Response(await Deno.readFile(file), { headers: { "content-type": type } });
      } catch {
        return new Response("not found", { status: 404 });
      }
    });
    const browser = await Browser.launch();
    try {
      const exported = await runCli([
        "export",
        "--pretrained",
        "mobilefacenet",
        "--out",
        join(dir, "web"),
      ]);
      assert.equal(exported.code, 0, exported.stderr);
      await Deno.writeTextFile(join(dir, "page.ts"), PAGE);
      const bundled = await runDeno([
        "bundle",
        "--config",
        CONFIG,
        "--platform",
        "browser",
        "--format",
        "esm",
        join(dir, "page.ts"),
        "-o",
        join(dir, "page.js"),
      ]);
      assert.equal(bundled.code, 0, bundled.stderr);

      const faces = randomFaces(2, 11);
      const { state } = await loadPretrained("mobilefacenet");
      const backend = createPureBackend();
      const model = await backend.createModel(mobileFaceNet(), state, {
        loss: { kind: "triplet", alpha: 0.2 },
        optimizer: { name: "SGD" },
        weightDecay: 0,
        movingAverageDecay: null,
      });
      const expected = await model.embed(
        { n: 2, height: 112, width: 112, channels: 3, data: faces.data },
        { training: false },
      );
      model.dispose();
      backend.dispose();

      const origin = `http://127.0.0.1:${server.addr.port}`;
      await browser.goto(`${origin}/`);
      const inPage = await browser.evaluate<number[]>(
        `embedWith("${origin}/model.json", ${JSON.stringify(Array.from(faces.data))}, 2)`,
      );
      assert.equal(inPage.length, 384);
      inPage.forEach((v, i) => {
        assert.ok(
          Math.abs(v - expected.data[i]!) <= 1e-4,
          `value ${i}: ${v} vs ${expected.data[i]}`,
        );
      });
      assert.deepEqual(browser.problems, []);
    } finally {
      await browser.close();
      await server.shutdown();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
