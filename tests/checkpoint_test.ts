import assert from "node:assert/strict";
import { join } from "node:path";
import fc from "fast-check";
import {
  checkCompatible,
  type CheckpointMeta,
  latestCheckpoint,
  loadCheckpoint,
  type NewCheckpointMeta,
  saveCheckpoint,
} from "../io/checkpoint.ts";
import { decodeSafetensors, encodeSafetensors } from "../io/safetensors.ts";
import type { ModelState } from "../core/backend.ts";
import type { NamedTensors, Tensor } from "../core/types.ts";

function tensor(shape: number[], values: (i: number) => number): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  return { shape, data: Float32Array.from({ length: n }, (_, i) => values(i)) };
}

function sampleState(step: number, withEma = true): ModelState {
  const params: NamedTensors = {
    "conv1/weights": tensor([3, 3, 3, 4], (i) => Math.sin(i) * 0.1),
    "bn1/beta": tensor([4], (i) => i - 1.5),
    "Bottleneck/weights": tensor([4, 8], (i) => (i % 7) * -0.25),
    "scalar": tensor([], () => Math.PI),
    "empty": tensor([0, 5], () => 0),
  };
  const stats: NamedTensors = {
    "bn1/moving_mean": tensor([4], (i) => i * 1e-30),
    "bn1/moving_variance": tensor([4], (i) => 1 + i),
  };
  const slot = (k: number): NamedTensors =>
    Object.fromEntries(
      Object.entries(params).map(([n, t]) => [n, tensor([...t.shape], (i) => k + i)]),
    );
  return {
    params,
    stats,
    optimizer: { name: "ADAM", slots: { m: slot(1), v: slot(2) }, iterations: step },
    ema: withEma ? slot(3) : null,
    step,
  };
}

function sampleMeta(epoch = 2): NewCheckpointMeta {
  return {
    model: "nano",
    embeddingSize: 8,
    epoch,
    rng: { key: [0xdeadbeef, 12345], counter: 987654321 },
    config: { peoplePerBatch: 45, alpha: 0.2, nested: { list: [1, "two", null, true] } },
    created: "2026-01-01T00:00:00.000Z",
  };
}

function assertTensorsBitExact(actual: NamedTensors, expected: NamedTensors): void {
  assert.deepEqual(Object.keys(actual).sort(), Object.keys(expected).sort());
  for (const [name, t] of Object.entries(expected)) {
    const a = actual[name] as Tensor;
    assert.deepEqual([...a.shape], [...t.shape], name);
    assert.deepEqual(
      new Uint32Array(a.data.buffer, a.data.byteOffset, a.data.length),
      new Uint32Array(t.data.buffer, t.data.byteOffset, t.data.length),
      name,
    );
  }
}

async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "ckpt_test_" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("encodeSafetensors() writes the documented layout: u64 header length, JSON header, data", () => {
  const bytes = encodeSafetensors({
    b: { shape: [2], data: new Float32Array([1, -2]) },
    a: { shape: [1, 1], data: new Float32Array([0.5]) },
  }, { k: "v" });
  const view = new DataView(bytes.buffer);
  const n = Number(view.getBigUint64(0, true));
  assert.equal(n % 8, 0);
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n)));
  assert.deepEqual(header, {
    __metadata__: { k: "v" },
    a: { dtype: "F32", shape: [1, 1], data_offsets: [0, 4] },
    b: { dtype: "F32", shape: [2], data_offsets: [4, 12] },
  });
  assert.equal(bytes.length, 8 + n + 12);
  assert.equal(view.getFloat32(8 + n, true), 0.5);
  assert.equal(view.getFloat32(8 + n + 4, true), 1);
  assert.equal(view.getFloat32(8 + n + 8, true), -2);
});

Deno.test("decodeSafetensors() inverts encodeSafetensors() bit for bit on arbitrary tensors", () => {
  fc.assert(
    fc.property(
      fc.dictionary(
        fc.string({ minLength: 1, maxLength: 12 }).filter((s) => s !== "__metadata__"),
        fc.array(fc.integer({ min: 0, max: 4 }), { maxLength: 3 }).chain((shape) =>
          fc.float32Array({
            minLength: shape.reduce((a, b) => a * b, 1),
            maxLength: shape.reduce((a, b) => a * b, 1),
            noDefaultInfinity: false,
          }).map((data) => ({ shape, data }))
        ),
        { maxKeys: 6 },
      ),
      fc.dictionary(fc.string({ maxLength: 8 }).filter((s) => s !== "__proto__"), fc.string()),
      (tensors, metadata) => {
        const back = decodeSafetensors(encodeSafetensors(tensors, metadata), "x.safetensors");
        // NaN payloads are not required to survive; canonicalize them before comparing bits.
        const canon = (ts: NamedTensors) =>
          Object.fromEntries(
            Object.entries(ts).map((
              [k, t],
            ) => [k, { shape: t.shape, data: t.data.map((v) => Number.isNaN(v) ? NaN : v) }]),
          );
        assertTensorsBitExact(canon(back.tensors), canon(tensors));
        assert.deepEqual({ ...back.metadata }, { ...metadata });
      },
    ),
    { numRuns: 100 },
  );
});

Deno.test("decodeSafetensors() names the file and the problem for malformed input", () => {
  const good = encodeSafetensors({ w: { shape: [4], data: new Float32Array(4) } });
  const n = Number(new DataView(good.buffer).getBigUint64(0, true));
  const cases: Array<[Uint8Array, RegExp]> = [
    [good.subarray(0, 5), /f\.st: 5 bytes/],
    [good.subarray(0, good.length - 4), /f\.st: .*truncated/],
    [good.subarray(0, 20), /f\.st: header length/],
  ];
  const badJson = good.slice();
  badJson[8] = "x".charCodeAt(0);
  cases.push([badJson, /f\.st: header is not valid JSON/]);
  const extra = new Uint8Array(good.length + 4);
  extra.set(good);
  cases.push([extra, /f\.st: tensors cover 16 data bytes but the file holds 20/]);
  const header = (h: unknown, dataBytes: number) => {
    const json = new TextEncoder().encode(JSON.stringify(h));
    const out = new Uint8Array(8 + json.length + dataBytes);
    new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
    out.set(json, 8);
    return out;
  };
  cases.push([
    header({ w: { dtype: "F16", shape: [2], data_offsets: [0, 4] } }, 4),
    /f\.st: tensor "w" has dtype "F16"/,
  ]);
  cases.push([
    header({ w: { dtype: "F32", shape: [3], data_offsets: [0, 8] } }, 8),
    /f\.st: tensor "w" has shape \[3\] \(12 bytes\) but data_offsets span 8 bytes/,
  ]);
  cases.push([
    header({
      w: { dtype: "F32", shape: [1], data_offsets: [0, 4] },
      v: { dtype: "F32", shape: [1], data_offsets: [8, 12] },
    }, 12),
    /f\.st: tensor "v" starts at byte 8 but the previous data ends at 4/,
  ]);
  cases.push([header([1, 2], 0), /f\.st: header is not a JSON object/]);
  assert.ok(n > 0);
  for (const [bytes, pattern] of cases) {
    assert.throws(() => decodeSafetensors(bytes, "f.st"), pattern);
  }
});

Deno.test("saveCheckpoint() and loadCheckpoint() round-trip a model state bit for bit", async () => {
  await withTempDir(async (dir) => {
    for (const withEma of [true, false]) {
      const state = sampleState(42, withEma);
      const meta = sampleMeta();
      const path = await saveCheckpoint(join(dir, String(withEma)), { state, meta });
      assert.equal(path, join(dir, String(withEma), "ckpt-42"));
      const loaded = await loadCheckpoint(path);
      assertTensorsBitExact(loaded.state.params, state.params);
      assertTensorsBitExact(loaded.state.stats, state.stats);
      assert.deepEqual(Object.keys(loaded.state.optimizer.slots).sort(), ["m", "v"]);
      for (const slot of ["m", "v"]) {
        assertTensorsBitExact(
          loaded.state.optimizer.slots[slot] as NamedTensors,
          state.optimizer.slots[slot] as NamedTensors,
        );
      }
      if (withEma) assertTensorsBitExact(loaded.state.ema as NamedTensors, state.ema!);
      else assert.equal(loaded.state.ema, null);
      assert.equal(loaded.state.step, 42);
      assert.equal(loaded.state.optimizer.name, "ADAM");
      assert.equal(loaded.state.optimizer.iterations, 42);
      const expectedMeta: CheckpointMeta = {
        format: 1,
        model: "nano",
        embeddingSize: 8,
        step: 42,
        epoch: 2,
        optimizer: { name: "ADAM", iterations: 42 },
        rng: { key: [0xdeadbeef, 12345], counter: 987654321 },
        config: meta.config,
        created: "2026-01-01T00:00:00.000Z",
      };
      const { tensorsSha256, ...rest } = loaded.meta;
      assert.match(tensorsSha256 ?? "", /^[0-9a-f]{64}$/);
      assert.deepEqual(rest, expectedMeta);
    }
  });
});

Deno.test("saveCheckpoint() keeps empty optimizer slots and fills in the creation time", async () => {
  await withTempDir(async (dir) => {
    const state: ModelState = {
      params: { w: tensor([2], (i) => i) },
      stats: {},
      optimizer: { name: "ADAGRAD", slots: { accumulator: {} }, iterations: 0 },
      ema: {},
      step: 0,
    };
    const { created: _created, ...meta } = sampleMeta(0);
    const before = Date.now();
    await saveCheckpoint(dir, { state, meta });
    const loaded = await loadCheckpoint(dir);
    assert.deepEqual(loaded.state.optimizer.slots, { accumulator: {} });
    assert.deepEqual(loaded.state.ema, {});
    const created = Date.parse(loaded.meta.created);
    assert.ok(created >= before - 1000 && created <= Date.now() + 1000, loaded.meta.created);
  });
});

Deno.test("latestCheckpoint() picks the highest step and ignores leftover temporary directories", async () => {
  await withTempDir(async (dir) => {
    assert.equal(await latestCheckpoint(join(dir, "missing")), null);
    assert.equal(await latestCheckpoint(dir), null);
    await saveCheckpoint(dir, { state: sampleState(9), meta: sampleMeta() });
    await saveCheckpoint(dir, { state: sampleState(100), meta: sampleMeta() });
    await saveCheckpoint(dir, { state: sampleState(20), meta: sampleMeta() });
    // An interrupted save: a temporary directory with a half-written file, and a stray file.
    await Deno.mkdir(join(dir, ".tmp-ckpt-500-abc"));
    await Deno.writeFile(join(dir, ".tmp-ckpt-500-abc", "model.safetensors"), new Uint8Array(3));
    await Deno.writeTextFile(join(dir, "ckpt-900"), "not a directory");
    assert.equal(await latestCheckpoint(dir), join(dir, "ckpt-100"));
    const loaded = await loadCheckpoint(dir);
    assert.equal(loaded.meta.step, 100);
  });
});

Deno.test("saveCheckpoint() prunes the oldest checkpoints beyond keepLast and replaces a same-step one", async () => {
  await withTempDir(async (dir) => {
    for (const step of [1, 2, 3, 4, 5]) {
      await saveCheckpoint(dir, { state: sampleState(step), meta: sampleMeta() }, { keepLast: 2 });
    }
    const names = async () => {
      const out: string[] = [];
      for await (const e of Deno.readDir(dir)) out.push(e.name);
      return out.sort();
    };
    assert.deepEqual(await names(), ["ckpt-4", "ckpt-5"]);
    await saveCheckpoint(dir, { state: sampleState(5), meta: sampleMeta(9) }, { keepLast: 2 });
    assert.deepEqual(await names(), ["ckpt-4", "ckpt-5"]);
    assert.equal((await loadCheckpoint(dir)).meta.epoch, 9);
    for (let i = 6; i <= 8; i++) {
      await saveCheckpoint(dir, { state: sampleState(i), meta: sampleMeta() });
    }
    assert.deepEqual(await names(), ["ckpt-6", "ckpt-7", "ckpt-8"]);
    await assert.rejects(
      saveCheckpoint(dir, { state: sampleState(9), meta: sampleMeta() }, { keepLast: 0 }),
      RangeError,
    );
  });
});

Deno.test("loadCheckpoint() refuses corrupt or missing files with a message naming the file", async () => {
  await withTempDir(async (dir) => {
    const path = await saveCheckpoint(dir, { state: sampleState(3), meta: sampleMeta() });
    const st = join(path, "model.safetensors");
    const js = join(path, "checkpoint.json");
    const original = await Deno.readFile(st);
    const originalJson = await Deno.readTextFile(js);
    const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

    await Deno.writeFile(st, original.subarray(0, original.length - 10));
    await assert.rejects(loadCheckpoint(path), new RegExp(`${escape(st)}.*truncated`));
    await Deno.writeFile(st, original.subarray(0, 4));
    await assert.rejects(loadCheckpoint(dir), new RegExp(escape(st)));
    const badHeader = original.slice();
    badHeader[9] = 0x7b; // '{' inside the header breaks the JSON
    badHeader[10] = 0x7b;
    await Deno.writeFile(st, badHeader);
    await assert.rejects(loadCheckpoint(path), new RegExp(`${escape(st)}.*not valid JSON`));
    await Deno.writeFile(st, original);

    await Deno.writeTextFile(js, originalJson.slice(0, 30));
    await assert.rejects(loadCheckpoint(path), new RegExp(`${escape(js)}.*not valid JSON`));
    await Deno.writeTextFile(
      js,
      originalJson.replace('"embeddingSize": 8', '"embeddingSize": "8"'),
    );
    await assert.rejects(loadCheckpoint(path), new RegExp(`${escape(js)}.*embeddingSize`));
    await Deno.writeTextFile(js, originalJson.replace('"format": 1', '"format": 2'));
    await assert.rejects(loadCheckpoint(path), new RegExp(`${escape(js)}.*format 2`));
    await Deno.writeTextFile(js, originalJson.replace('"step": 3', '"step": 4'));
    await assert.rejects(loadCheckpoint(path), /disagrees.*step 3 vs 4/);
    await Deno.remove(js);
    await assert.rejects(loadCheckpoint(path), new RegExp(`${escape(js)} is missing`));
    await assert.rejects(loadCheckpoint(join(dir, "nope")), /No checkpoint found/);
  });
});

Deno.test("checkCompatible() lists every difference between a checkpoint and the requested model", () => {
  const meta: CheckpointMeta = {
    format: 1,
    model: "inception-resnet-v1",
    embeddingSize: 128,
    step: 10,
    epoch: 1,
    optimizer: { name: "ADAGRAD", iterations: 10 },
    rng: { key: [1, 2], counter: 3 },
    config: {},
    created: "2026-01-01T00:00:00.000Z",
  };
  checkCompatible(meta, { model: "inception-resnet-v1", embeddingSize: 128, optimizer: "ADAGRAD" });
  checkCompatible(meta, {});
  assert.throws(
    () => checkCompatible(meta, { model: "nano", embeddingSize: 512 }),
    (e: Error) =>
      /model "inception-resnet-v1" \(checkpoint\) vs "nano" \(requested\)/.test(e.message) &&
      /embedding size 128 \(checkpoint\) vs 512 \(requested\)/.test(e.message),
  );
  assert.throws(() => checkCompatible(meta, { optimizer: "ADAM" }), /optimizer ADAGRAD.*ADAM/);
});

Deno.test("saveCheckpoint() validates its inputs before writing anything", async () => {
  await withTempDir(async (dir) => {
    await assert.rejects(
      saveCheckpoint(dir, { state: sampleState(1), meta: { ...sampleMeta(), embeddingSize: 0 } }),
      RangeError,
    );
    const state = sampleState(1);
    await assert.rejects(
      saveCheckpoint(dir, {
        state: { ...state, optimizer: { ...state.optimizer, slots: { "a/b": {} } } },
        meta: sampleMeta(),
      }),
      TypeError,
    );
    await assert.rejects(
      saveCheckpoint(dir, {
        state: { ...state, params: { w: { shape: [3], data: new Float32Array(2) } } },
        meta: sampleMeta(),
      }),
      /shape \[3\]/,
    );
    const left: string[] = [];
    for await (const e of Deno.readDir(dir)) left.push(e.name);
    assert.deepEqual(left, []);
  });
});
