import assert from "node:assert/strict";
import fc from "fast-check";
import { imageDataToInput, modelInputSpec } from "../core/pure/model_input.ts";
import { cropOrPad, resize } from "../core/pure/image_ops.ts";
import { fixedImageStandardization, prewhiten } from "../core/pure/preprocess.ts";

const image = fc.record({
  width: fc.integer({ min: 1, max: 9 }),
  height: fc.integer({ min: 1, max: 9 }),
})
  .chain(({ width, height }) =>
    fc.uint8Array({ minLength: width * height * 4, maxLength: width * height * 4 }).map((
      bytes,
    ) => ({
      width,
      height,
      data: new Uint8ClampedArray(bytes),
    }))
  );

function rgbOf(img: { width: number; height: number; data: ArrayLike<number> }): Float32Array {
  const out = new Float32Array(img.width * img.height * 3);
  for (let p = 0; p < img.width * img.height; p++) {
    for (let c = 0; c < 3; c++) out[3 * p + c] = img.data[4 * p + c]!;
  }
  return out;
}

Deno.test("imageDataToInput() drops alpha and standardizes an image of the model's size as training does", () => {
  fc.assert(
    fc.property(
      image,
      fc.constantFrom("fixed", "prewhiten", "none") as fc.Arbitrary<
        "fixed" | "prewhiten" | "none"
      >,
      (img, standardization) => {
        const input = modelInputSpec({ height: img.height, width: img.width, standardization });
        const batch = imageDataToInput(img, input);
        const rgb = rgbOf(img);
        const expected = standardization === "fixed"
          ? fixedImageStandardization(rgb)
          : standardization === "prewhiten"
          ? prewhiten(rgb)
          : rgb;
        assert.deepEqual(batch.data, expected);
        assert.deepEqual([batch.n, batch.height, batch.width, batch.channels], [
          1,
          img.height,
          img.width,
          3,
        ]);
      },
    ),
  );
});

Deno.test("imageDataToInput() resizes (default) or crops other sizes to the model's, image after image", () => {
  fc.assert(
    fc.property(fc.array(image, { minLength: 1, maxLength: 3 }), (images) => {
      const input = modelInputSpec({ height: 5, width: 4 });
      const resized = imageDataToInput(images, input);
      const cropped = imageDataToInput(images, input, { fit: "crop" });
      assert.equal(resized.n, images.length);
      images.forEach((img, i) => {
        const rgb = { width: img.width, height: img.height, data: rgbOf(img) };
        const per = 5 * 4 * 3;
        assert.deepEqual(
          resized.data.subarray(i * per, (i + 1) * per),
          fixedImageStandardization(resize(rgb, { height: 5, width: 4 }).data),
        );
        assert.deepEqual(
          cropped.data.subarray(i * per, (i + 1) * per),
          fixedImageStandardization(cropOrPad(rgb, { height: 5, width: 4 }).data),
        );
      });
    }),
  );
});

Deno.test("imageDataToInput() and modelInputSpec() reject malformed images and descriptions", () => {
  const input = modelInputSpec({ height: 2, width: 2 });
  assert.throws(
    () => imageDataToInput({ width: 2, height: 2, data: new Uint8ClampedArray(12) }, input),
    /width \* height \* 4 RGBA values \(2x2\), got 12/,
  );
  assert.throws(() => imageDataToInput([], input), /No image/);
  assert.throws(
    () =>
      imageDataToInput(
        { width: 1, height: 1, data: [0, 0, 0, 0] },
        input,
        { fit: "stretch" as "crop" },
      ),
    /Fit must be/,
  );
  assert.throws(() => modelInputSpec({ height: 0, width: 2 }), /Height must be a positive integer/);
  assert.throws(
    () => modelInputSpec({ height: 2, width: 2, standardization: "mean" as "none" }),
    /Standardization must be/,
  );
  assert.throws(
    () =>
      imageDataToInput({ width: 1, height: 1, data: [0, 0, 0, 0] }, {
        ...input,
        channels: 1,
      }),
    /Only RGB NHWC/,
  );
});
